//! Value types of `server.yaml` that check themselves while they are read: durations
//! (`"30s"`, `"5m"`, `"1h30m"`), listen addresses (`":1530"`, `"127.0.0.1:8443"`) and
//! host names for certificates. A bad value fails inside the YAML reader, so the error
//! carries the line of the value.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use zeroize::Zeroizing;

/// A duration written like Go's `time.ParseDuration`: one or more `<integer><unit>`
/// parts with units `ms`, `s`, `m`, `h` and (a Vigo addition) `d`, e.g. `"30s"`,
/// `"5m"`, `"1h30m"`, `"720h"`. A bare integer is seconds (`0` is zero).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ConfigDuration(std::time::Duration);

/// What a duration must look like, for error messages.
pub const DURATION_EXPECTED: &str = vigo_core::duration::EXPECTED;

impl ConfigDuration {
    /// A duration of `secs` seconds.
    pub const fn from_secs(secs: u64) -> Self {
        ConfigDuration(std::time::Duration::from_secs(secs))
    }

    /// The standard-library duration.
    pub const fn get(self) -> std::time::Duration {
        self.0
    }

    /// Whole seconds (milliseconds are dropped).
    pub const fn as_secs(self) -> u64 {
        self.0.as_secs()
    }

    /// True for a zero duration (for `bundle_max_age`, "never expires").
    pub const fn is_zero(self) -> bool {
        self.0.is_zero()
    }
}

impl fmt::Debug for ConfigDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConfigDuration({self})")
    }
}

impl fmt::Display for ConfigDuration {
    /// The shortest exact spelling: `0s`, `90s` → `1m30s`, `24h`, `1500ms` → `1s500ms`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", vigo_core::duration::display(self.0))
    }
}

impl FromStr for ConfigDuration {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        vigo_core::duration::parse(text)
            .map(ConfigDuration)
            .map_err(|e| e.to_string())
    }
}

impl<'de> Deserialize<'de> for ConfigDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ConfigDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(DURATION_EXPECTED)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ConfigDuration, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ConfigDuration, E> {
                Ok(ConfigDuration::from_secs(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ConfigDuration, E> {
                u64::try_from(v)
                    .map(ConfigDuration::from_secs)
                    .map_err(|_| E::custom(format!("invalid duration {v}: must not be negative")))
            }
        }
        d.deserialize_any(V)
    }
}

/// A listen address in Go's form: `":1530"` (every interface), `"0.0.0.0:1530"`,
/// `"[::1]:8443"` or `"localhost:8443"`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ListenAddr {
    /// The address to bind; `None` = every interface.
    pub ip: Option<IpAddr>,
    /// The TCP port.
    pub port: u16,
}

impl ListenAddr {
    /// Every interface on `port`.
    pub const fn any(port: u16) -> Self {
        ListenAddr { ip: None, port }
    }

    /// The socket address to bind. Every interface is `[::]`, which on Linux accepts
    /// IPv4 as well (write `0.0.0.0:PORT` on a host without IPv6).
    pub fn socket_addr(&self) -> SocketAddr {
        SocketAddr::new(
            self.ip.unwrap_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED)),
            self.port,
        )
    }
}

impl fmt::Debug for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ListenAddr({self})")
    }
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ip {
            None => write!(f, ":{}", self.port),
            Some(ip @ IpAddr::V4(_)) => write!(f, "{ip}:{}", self.port),
            Some(ip @ IpAddr::V6(_)) => write!(f, "[{ip}]:{}", self.port),
        }
    }
}

impl FromStr for ListenAddr {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "invalid listen address {text:?}: expected \":PORT\", \"IP:PORT\" or \"[IPv6]:PORT\""
            )
        };
        let (host, port) = text.trim().rsplit_once(':').ok_or_else(bad)?;
        let port: u16 = port.parse().map_err(|_| bad())?;
        let ip = match host {
            "" => None,
            "localhost" => Some(IpAddr::from([127, 0, 0, 1])),
            h => {
                let h = h
                    .strip_prefix('[')
                    .and_then(|h| h.strip_suffix(']'))
                    .unwrap_or(h);
                Some(h.parse::<IpAddr>().map_err(|_| bad())?)
            }
        };
        Ok(ListenAddr { ip, port })
    }
}

impl<'de> Deserialize<'de> for ListenAddr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(de::Error::custom)
    }
}

/// A name that may go into a certificate's subject alternative names: an IP address or
/// a DNS name (letters, digits, `-`, dots; a leading `*.` wildcard is allowed).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SanName(String);

impl SanName {
    /// The name as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The IP address, when the name is one.
    pub fn ip(&self) -> Option<IpAddr> {
        self.0.parse().ok()
    }
}

impl fmt::Display for SanName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for SanName {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let t = text.trim();
        if t.parse::<IpAddr>().is_ok() {
            return Ok(SanName(t.to_owned()));
        }
        if is_dns_name(t.strip_prefix("*.").unwrap_or(t)) {
            return Ok(SanName(t.to_ascii_lowercase()));
        }
        Err(format!(
            "invalid name {text:?}: expected an IP address or a DNS name (letters, digits, '-', '.')"
        ))
    }
}

impl<'de> Deserialize<'de> for SanName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(de::Error::custom)
    }
}

/// True for a DNS name: dot-separated labels of 1-63 letters, digits and inner `-`,
/// at most 253 characters.
pub fn is_dns_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// A value that may be secret: `secret:<path>` as written, or a password, token or
/// connection string, given directly or resolved from the secrets backend. `Debug` shows
/// a `secret:` reference and nothing else (`<redacted>`); the buffer is zeroed on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretText(Zeroizing<String>);

impl SecretText {
    /// Wraps a value.
    pub fn new(value: String) -> Self {
        SecretText(Zeroizing::new(value))
    }

    /// The value itself (or the reference, before resolution).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The secret path when the value is a `secret:<path>` reference.
    pub fn reference(&self) -> Option<&str> {
        self.0.strip_prefix(super::SECRET_PREFIX)
    }
}

impl fmt::Debug for SecretText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.reference() {
            Some(_) => write!(f, "SecretText({:?})", self.0.as_str()),
            None => f.write_str("SecretText(<redacted>)"),
        }
    }
}

impl<'de> Deserialize<'de> for SecretText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(SecretText::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_vigo_cores_grammar() {
        // The grammar itself is tested in vigo_core::duration; this pins the delegation.
        let d: ConfigDuration = "1h30m".parse().unwrap();
        assert_eq!(d.get(), std::time::Duration::from_secs(5_400));
        assert_eq!(d.to_string(), "1h30m");
        assert_eq!(
            "5x".parse::<ConfigDuration>().unwrap_err(),
            vigo_core::duration::parse("5x").unwrap_err().to_string()
        );
    }

    #[test]
    fn listen_addresses() {
        let any: ListenAddr = ":1530".parse().unwrap();
        assert_eq!(any, ListenAddr::any(1530));
        assert_eq!(any.socket_addr().to_string(), "[::]:1530");
        assert_eq!(any.to_string(), ":1530");
        let v6: ListenAddr = "[::1]:8443".parse().unwrap();
        assert_eq!(v6.socket_addr().to_string(), "[::1]:8443");
        assert_eq!(v6.to_string(), "[::1]:8443");
        let lh: ListenAddr = "localhost:80".parse().unwrap();
        assert_eq!(lh.socket_addr().to_string(), "127.0.0.1:80");
        for bad in ["1530", ":99999", "host.example:1", ":", "[::1]"] {
            assert!(bad.parse::<ListenAddr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn secret_text_never_prints_a_value() {
        let reference = SecretText::new("secret:vigo/db/dsn".into());
        assert_eq!(reference.reference(), Some("vigo/db/dsn"));
        assert_eq!(
            format!("{reference:?}"),
            "SecretText(\"secret:vigo/db/dsn\")"
        );
        let value = SecretText::new("postgres://vigo:hunter2@db/vigo".into());
        assert_eq!(value.reference(), None);
        assert_eq!(format!("{value:?}"), "SecretText(<redacted>)");
        assert_eq!(value.expose(), "postgres://vigo:hunter2@db/vigo");
    }

    #[test]
    fn san_names() {
        assert_eq!(
            "10.0.0.5".parse::<SanName>().unwrap().ip(),
            Some([10, 0, 0, 5].into())
        );
        assert_eq!(
            "Cfg.Example.NET".parse::<SanName>().unwrap().as_str(),
            "cfg.example.net"
        );
        assert!("*.lab.example".parse::<SanName>().is_ok());
        for bad in ["", "a b", "-x.example", "x..y", "under_score.example", "*"] {
            assert!(bad.parse::<SanName>().is_err(), "{bad}");
        }
    }
}
