//! Reading the rpm database directly: `/var/lib/rpm/rpmdb.sqlite` (rpm ≥ 4.16).
//!
//! Two small, read-only parsers, so the agent needs neither `rpm -qa` nor an SQLite
//! library: [`sqlite`] walks one table's B-tree in an SQLite file (following overflow
//! pages), and [`header`] reads the tags Vigo needs from an rpm header blob. Anything
//! malformed is an error, never a panic.

use std::collections::BTreeMap;

use crate::ctx::TraitError;

/// Installed packages (name → `[epoch:]version-release`) of an rpmdb.sqlite file.
pub fn installed(db: &[u8]) -> Result<BTreeMap<String, String>, TraitError> {
    let mut out = BTreeMap::new();
    for row in sqlite::table_rows(db, "Packages")? {
        let Some(blob) = row.get(1).and_then(|v| v.as_deref()) else {
            continue;
        };
        let h = header::parse(blob)?;
        let (Some(name), Some(version), Some(release)) = (
            h.string(header::NAME),
            h.string(header::VERSION),
            h.string(header::RELEASE),
        ) else {
            continue;
        };
        if name == "gpg-pubkey" {
            continue;
        }
        // As `rpm -q` prints it: an epoch tag, even 0, shows.
        let evr = match h.int32(header::EPOCH) {
            Some(e) => format!("{e}:{version}-{release}"),
            None => format!("{version}-{release}"),
        };
        out.insert(name, evr);
    }
    Ok(out)
}

/// A read-only walk of one table of an SQLite database file.
pub mod sqlite {
    use crate::ctx::TraitError;

    fn err(msg: &str) -> TraitError {
        TraitError(format!("rpmdb.sqlite: {msg}"))
    }

    /// A column value: `None` for NULL, else its bytes (integers as big-endian bytes).
    pub type Value = Option<Vec<u8>>;

    struct Db<'a> {
        data: &'a [u8],
        page_size: usize,
        usable: usize,
        /// Pages a walk may still visit: a cyclic (hostile) B-tree ends with an error.
        budget: std::cell::Cell<usize>,
    }

    fn varint(b: &[u8], mut i: usize) -> Result<(u64, usize), TraitError> {
        let mut v: u64 = 0;
        for n in 0..9 {
            let byte = *b.get(i).ok_or_else(|| err("truncated varint"))?;
            i += 1;
            if n == 8 {
                return Ok(((v << 8) | u64::from(byte), i));
            }
            v = (v << 7) | u64::from(byte & 0x7f);
            if byte & 0x80 == 0 {
                return Ok((v, i));
            }
        }
        Ok((v, i))
    }

    impl<'a> Db<'a> {
        fn page(&self, n: u32) -> Result<&'a [u8], TraitError> {
            let start = (n as usize).checked_sub(1).ok_or_else(|| err("page 0"))? * self.page_size;
            self.data
                .get(start..start + self.page_size)
                .ok_or_else(|| err("page out of range"))
        }

        /// Every record payload of the table B-tree rooted at `root`, in rowid order.
        fn walk(&self, root: u32, out: &mut Vec<Vec<u8>>, depth: usize) -> Result<(), TraitError> {
            if depth > 32 {
                return Err(err("B-tree too deep"));
            }
            let left = self
                .budget
                .get()
                .checked_sub(1)
                .ok_or_else(|| err("B-tree visits a page twice"))?;
            self.budget.set(left);
            let page = self.page(root)?;
            let hdr = if root == 1 { 100 } else { 0 };
            let kind = *page.get(hdr).ok_or_else(|| err("short page"))?;
            let cells = usize::from(u16::from_be_bytes([page[hdr + 3], page[hdr + 4]]));
            let ptrs = hdr + if kind == 0x05 { 12 } else { 8 };
            for c in 0..cells {
                let at = ptrs + 2 * c;
                let off = usize::from(u16::from_be_bytes([
                    *page.get(at).ok_or_else(|| err("bad cell"))?,
                    *page.get(at + 1).ok_or_else(|| err("bad cell"))?,
                ]));
                match kind {
                    0x05 => {
                        let child = u32::from_be_bytes(
                            page.get(off..off + 4)
                                .ok_or_else(|| err("bad cell"))?
                                .try_into()
                                .map_err(|_| err("bad cell"))?,
                        );
                        self.walk(child, out, depth + 1)?;
                    }
                    0x0D => out.push(self.payload(page, off)?),
                    _ => return Err(err("not a table B-tree page")),
                }
            }
            if kind == 0x05 {
                let right = u32::from_be_bytes(
                    page[hdr + 8..hdr + 12]
                        .try_into()
                        .map_err(|_| err("bad page"))?,
                );
                self.walk(right, out, depth + 1)?;
            }
            Ok(())
        }

        /// The full payload of a leaf cell, following its overflow pages.
        fn payload(&self, page: &[u8], off: usize) -> Result<Vec<u8>, TraitError> {
            let (size, i) = varint(page, off)?;
            let (_rowid, i) = varint(page, i)?;
            let size = usize::try_from(size).map_err(|_| err("huge payload"))?;
            let u = self.usable;
            let x = u - 35;
            let local = if size <= x {
                size
            } else {
                let m = ((u - 12) * 32 / 255) - 23;
                let k = m + ((size - m) % (u - 4));
                if k <= x { k } else { m }
            };
            let mut out = page
                .get(i..i + local)
                .ok_or_else(|| err("cell past page end"))?
                .to_vec();
            if local < size {
                let mut next = u32::from_be_bytes(
                    page.get(i + local..i + local + 4)
                        .ok_or_else(|| err("no overflow pointer"))?
                        .try_into()
                        .map_err(|_| err("bad overflow"))?,
                );
                let mut hops = 0;
                while out.len() < size {
                    hops += 1;
                    if next == 0 || hops > 1_000_000 {
                        return Err(err("broken overflow chain"));
                    }
                    let p = self.page(next)?;
                    next = u32::from_be_bytes(p[0..4].try_into().map_err(|_| err("bad overflow"))?);
                    let take = (size - out.len()).min(u - 4);
                    out.extend_from_slice(
                        p.get(4..4 + take)
                            .ok_or_else(|| err("overflow page too short"))?,
                    );
                }
            }
            Ok(out)
        }
    }

    /// Decodes a record into its column values.
    fn record(p: &[u8]) -> Result<Vec<Value>, TraitError> {
        let (hlen, mut i) = varint(p, 0)?;
        let hlen = usize::try_from(hlen).map_err(|_| err("bad record"))?;
        let mut types = Vec::new();
        while i < hlen {
            let (t, n) = varint(p, i)?;
            types.push(t);
            i = n;
        }
        let mut at = hlen;
        let mut values = Vec::with_capacity(types.len());
        for t in types {
            let len = match t {
                0 | 8 | 9 => 0,
                1..=4 => t as usize,
                5 => 6,
                6 | 7 => 8,
                n if n >= 12 => usize::try_from((n - 12) / 2).map_err(|_| err("bad record"))?,
                _ => return Err(err("reserved serial type")),
            };
            let bytes = p
                .get(at..at + len)
                .ok_or_else(|| err("record past payload"))?;
            values.push(match t {
                0 => None,
                8 => Some(vec![0]),
                9 => Some(vec![1]),
                _ => Some(bytes.to_vec()),
            });
            at += len;
        }
        Ok(values)
    }

    /// The rows of table `name` as column values.
    pub fn table_rows(data: &[u8], name: &str) -> Result<Vec<Vec<Value>>, TraitError> {
        if data.len() < 100 || &data[..16] != b"SQLite format 3\0" {
            return Err(err("not an SQLite 3 database"));
        }
        let page_size = match u16::from_be_bytes([data[16], data[17]]) {
            1 => 65_536,
            n => usize::from(n),
        };
        if page_size < 512 {
            return Err(err("bad page size"));
        }
        let usable = page_size - usize::from(data[20]);
        let pages = data.len() / page_size;
        let db = Db {
            data,
            page_size,
            usable,
            budget: std::cell::Cell::new(2 * pages + 2),
        };
        let mut schema = Vec::new();
        db.walk(1, &mut schema, 0)?;
        let root = schema
            .iter()
            .filter_map(|p| record(p).ok())
            .find(|r| {
                r.first().and_then(|v| v.as_deref()) == Some(b"table")
                    && r.get(1).and_then(|v| v.as_deref()) == Some(name.as_bytes())
            })
            .and_then(|r| r.get(3).cloned().flatten())
            .ok_or_else(|| err(&format!("no table {name}")))?;
        let root = root.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b));
        let mut payloads = Vec::new();
        db.walk(root, &mut payloads, 0)?;
        payloads.iter().map(|p| record(p)).collect()
    }
}

/// Reads an rpm header blob as stored in the database (index count, data length, index
/// entries, data store — all big-endian).
pub mod header {
    use crate::ctx::TraitError;

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
            .ok_or_else(|| TraitError::new("rpm header truncated"))
    }

    /// Parses a header blob.
    pub fn parse(blob: &[u8]) -> Result<Header<'_>, TraitError> {
        let il = be(blob, 0)? as usize;
        let dl = be(blob, 4)? as usize;
        let index_end = 8usize
            .checked_add(
                il.checked_mul(16)
                    .ok_or_else(|| TraitError::new("rpm header too large"))?,
            )
            .ok_or_else(|| TraitError::new("rpm header too large"))?;
        let data = blob
            .get(index_end..index_end + dl)
            .ok_or_else(|| TraitError::new("rpm header truncated"))?;
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
        assert!(installed(b"").is_err());
        assert!(installed(&[0u8; 4096]).is_err());
        let mut fake = b"SQLite format 3\0".to_vec();
        fake.extend(vec![0xffu8; 200]);
        assert!(installed(&fake).is_err());
        assert!(header::parse(&[0, 0, 0, 9, 0, 0, 0, 9]).is_err());
    }

    proptest::proptest! {
        #[test]
        fn hostile_databases_never_panic(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..9000), page_exp in 9u32..13) {
            let mut db = b"SQLite format 3\0".to_vec();
            db.extend((1u16 << page_exp).to_be_bytes());
            db.extend(body);
            let _ = installed(&db);
            let _ = header::parse(&db[16..]);
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
