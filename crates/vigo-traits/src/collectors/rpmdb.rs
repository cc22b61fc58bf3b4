//! Reading the rpm database, `/var/lib/rpm/rpmdb.sqlite` (rpm ≥ 4.16), without `rpm -qa`.
//!
//! The database is opened with SQLite itself (read-only), so what a recent transaction
//! left in the write-ahead log (`-wal`, not yet checkpointed) is seen as `rpm` sees it.
//! Nothing is written next to the database: SQLite creates the `-wal` and `-shm` files
//! when a reader opens a WAL database that lacks them (and cannot open it at all in a
//! read-only directory without its `-shm`), so in that case the database and its log are
//! read from a private copy in a temporary directory. `immutable` is never used: it would
//! ignore the log. [`header`] reads the tags Vigo needs from an rpm header blob; anything
//! malformed is an error, never a panic.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use crate::error::TraitError;

/// Installed packages (name → `[epoch:]version-release`) of the rpm database at `path`.
pub fn installed(path: &Path) -> Result<BTreeMap<String, String>, TraitError> {
    let shown = path.display().to_string();
    let sql = |source| TraitError::Rpmdb {
        path: shown.clone(),
        source,
    };
    let (conn, _copy) = open(path)?;
    let mut stmt = conn.prepare("SELECT blob FROM Packages").map_err(sql)?;
    let mut rows = stmt.query([]).map_err(sql)?;
    let mut out = BTreeMap::new();
    while let Some(row) = rows.next().map_err(sql)? {
        let blob: Vec<u8> = row.get(0).map_err(sql)?;
        if let Some((name, evr)) = package(&blob)? {
            out.insert(name, evr);
        }
    }
    Ok(out)
}

/// The name and `[epoch:]version-release` of one header; `None` for the keys rpm keeps
/// as pseudo-packages (`gpg-pubkey`) and headers without a name, version or release.
pub fn package(blob: &[u8]) -> Result<Option<(String, String)>, TraitError> {
    let h = header::parse(blob)?;
    let (Some(name), Some(version), Some(release)) = (
        h.string(header::NAME),
        h.string(header::VERSION),
        h.string(header::RELEASE),
    ) else {
        return Ok(None);
    };
    if name == "gpg-pubkey" {
        return Ok(None);
    }
    // As `rpm -q` prints it: an epoch tag, even 0, shows.
    let evr = match h.int32(header::EPOCH) {
        Some(e) => format!("{e}:{version}-{release}"),
        None => format!("{version}-{release}"),
    };
    Ok(Some((name, evr)))
}

/// `path` with `suffix` appended to its file name (`rpmdb.sqlite-wal`).
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Whether the file's header says WAL mode (read and write versions 2).
fn is_wal(path: &Path) -> Result<bool, TraitError> {
    use std::io::Read;
    let mut head = [0u8; 20];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .map_err(|e| TraitError::read(path.display().to_string(), e))?;
    Ok(head[18] == 2 || head[19] == 2)
}

/// A read-only connection to the database, in place when that writes nothing (not WAL,
/// or its `-wal` and `-shm` are there), else to a private copy (kept alive by the
/// returned directory).
fn open(path: &Path) -> Result<(Connection, Option<tempfile::TempDir>), TraitError> {
    let shown = path.display().to_string();
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let (wal, shm) = (sibling(path, "-wal"), sibling(path, "-shm"));
    let in_place = !is_wal(path)? || (wal.exists() && shm.exists());
    if in_place {
        let conn =
            Connection::open_with_flags(path, flags).map_err(|source| TraitError::Rpmdb {
                path: shown,
                source,
            })?;
        return Ok((conn, None));
    }
    let dir = tempfile::Builder::new()
        .prefix("vigo-rpmdb-")
        .tempdir()
        .map_err(|e| {
            TraitError::system("creating a directory for a copy of the rpm database", e)
        })?;
    let copy = dir.path().join("rpmdb.sqlite");
    std::fs::copy(path, &copy).map_err(|e| TraitError::read(shown.clone(), e))?;
    if wal.exists() {
        std::fs::copy(&wal, sibling(&copy, "-wal"))
            .map_err(|e| TraitError::read(wal.display().to_string(), e))?;
    }
    let conn = Connection::open_with_flags(&copy, flags).map_err(|source| TraitError::Rpmdb {
        path: shown,
        source,
    })?;
    Ok((conn, Some(dir)))
}

/// Reads an rpm header blob as stored in the database (index count, data length, index
/// entries, data store — all big-endian).
pub mod header {
    use crate::error::TraitError;

    /// `RPMTAG_NAME`.
    pub const NAME: u32 = 1000;
    /// `RPMTAG_VERSION`.
    pub const VERSION: u32 = 1001;
    /// `RPMTAG_RELEASE`.
    pub const RELEASE: u32 = 1002;
    /// `RPMTAG_EPOCH`.
    pub const EPOCH: u32 = 1003;

    /// A parsed header: its index and data store.
    #[derive(Debug)]
    pub struct Header<'a> {
        entries: Vec<(u32, u32, usize, u32)>,
        data: &'a [u8],
    }

    fn be(b: &[u8], at: usize) -> Result<u32, TraitError> {
        b.get(at..at + 4)
            .and_then(|s| s.try_into().ok())
            .map(u32::from_be_bytes)
            .ok_or_else(|| TraitError::malformed("rpm header truncated"))
    }

    /// Parses a header blob.
    pub fn parse(blob: &[u8]) -> Result<Header<'_>, TraitError> {
        let il = be(blob, 0)? as usize;
        let dl = be(blob, 4)? as usize;
        let index_end = 8usize
            .checked_add(
                il.checked_mul(16)
                    .ok_or_else(|| TraitError::malformed("rpm header too large"))?,
            )
            .ok_or_else(|| TraitError::malformed("rpm header too large"))?;
        let data = blob
            .get(index_end..index_end + dl)
            .ok_or_else(|| TraitError::malformed("rpm header truncated"))?;
        let mut entries = Vec::with_capacity(il);
        for e in 0..il {
            let at = 8 + e * 16;
            entries.push((
                be(blob, at)?,
                be(blob, at + 4)?,
                be(blob, at + 8)? as usize,
                be(blob, at + 12)?,
            ));
        }
        Ok(Header { entries, data })
    }

    impl Header<'_> {
        /// A STRING (type 6) or first I18NSTRING (type 9) tag.
        pub fn string(&self, tag: u32) -> Option<String> {
            let (_, ty, off, _) = self.entries.iter().find(|e| e.0 == tag)?;
            if *ty != 6 && *ty != 9 && *ty != 8 {
                return None;
            }
            let rest = self.data.get(*off..)?;
            let end = rest.iter().position(|b| *b == 0)?;
            Some(String::from_utf8_lossy(&rest[..end]).into_owned())
        }

        /// An INT32 (type 4) tag.
        pub fn int32(&self, tag: u32) -> Option<u32> {
            let (_, ty, off, _) = self.entries.iter().find(|e| e.0 == tag)?;
            (*ty == 4).then(|| be(self.data, *off).ok()).flatten()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::header::{EPOCH, NAME};
    use super::*;

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("rpmdb.sqlite");
        std::fs::write(&p, b"").unwrap();
        assert!(installed(&p).is_err());
        std::fs::write(&p, [0u8; 4096]).unwrap();
        assert!(installed(&p).is_err());
        let mut fake = b"SQLite format 3\0".to_vec();
        fake.extend(vec![0xffu8; 200]);
        std::fs::write(&p, fake).unwrap();
        let e = installed(&p).unwrap_err();
        assert!(matches!(e, TraitError::Rpmdb { .. }), "{e:?}");
        assert!(header::parse(&[0, 0, 0, 9, 0, 0, 0, 9]).is_err());
    }

    proptest::proptest! {
        #[test]
        fn hostile_headers_never_panic(blob in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..4096)) {
            let _ = package(&blob);
        }
    }

    #[test]
    fn header_tags() {
        // il=2, dl=12: NAME string at 0 ("vim\0"), EPOCH int32 at 8 (= 2).
        let mut blob = vec![0, 0, 0, 2, 0, 0, 0, 12];
        for (tag, ty, off) in [(NAME, 6u32, 0u32), (EPOCH, 4, 8)] {
            blob.extend(tag.to_be_bytes());
            blob.extend(ty.to_be_bytes());
            blob.extend(off.to_be_bytes());
            blob.extend(1u32.to_be_bytes());
        }
        blob.extend(b"vim\0\0\0\0\0");
        blob.extend(2u32.to_be_bytes());
        let h = header::parse(&blob).unwrap();
        assert_eq!(h.string(NAME).as_deref(), Some("vim"));
        assert_eq!(h.int32(EPOCH), Some(2));
        assert_eq!(h.string(header::VERSION), None);
    }
}
