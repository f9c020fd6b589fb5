//! The names blueprints give: `writerfqdn` / `readerfqdn` (`host[:port]`, the host a dotted
//! DNS name or IPv4 address, or a bracketed IPv6 address) and database names.
//!
//! Stricter than the plugin where the plugin was wrong: its `host:port` regex matched only a
//! prefix (`[::1]:5432` gave host `[`), and its database-name check anchored only the start,
//! letting through names that then broke the unquoted SQL. Here a name either is exactly
//! valid or is refused, and every name reaching SQL or a file path has passed these checks.

use std::net::Ipv6Addr;

use crate::Error;

/// PostgreSQL's port when a host names none (the plugin's default).
pub const DEFAULT_PORT: u16 = 5432;

/// The host and port of a `host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPort {
    /// Without brackets for IPv6.
    pub host: String,
    pub port: u16,
}

impl HostPort {
    /// Splits `host[:port]` or `[ipv6][:port]`; the port, when present, is 1–65535.
    pub fn parse(text: &str) -> Result<HostPort, Error> {
        let invalid = || Error::Invalid(format!("invalid host[:port]: {text:?}"));
        let (host, rest) = if let Some(inner) = text.strip_prefix('[') {
            let (address, rest) = inner.split_once(']').ok_or_else(invalid)?;
            address.parse::<Ipv6Addr>().map_err(|_| invalid())?;
            (address, rest)
        } else {
            match text.find(':') {
                Some(at) => (&text[..at], &text[at..]),
                None => (text, ""),
            }
        };
        if host.is_empty() || host.contains(['[', ']', '/']) {
            return Err(invalid());
        }
        let port = match rest {
            "" => DEFAULT_PORT,
            _ => {
                let digits = rest.strip_prefix(':').ok_or_else(invalid)?;
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(invalid());
                }
                match digits.parse::<u16>() {
                    Ok(port) if port > 0 => port,
                    _ => return Err(invalid()),
                }
            }
        };
        Ok(HostPort {
            host: host.to_string(),
            port,
        })
    }

    /// Whether the host is an IPv6 address (written in brackets).
    pub fn is_ipv6(&self) -> bool {
        self.host.contains(':')
    }
}

fn is_label(label: &str) -> bool {
    !label.is_empty()
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The plugin's `chkfqdn`: a host of at least two dot-separated labels of letters, digits,
/// `_` and `-` (so dotted IPv4 addresses too), or a bracketed IPv6 address, with an optional
/// port. `what` names the property in the error ("admin/read-write access").
pub fn check_fqdn(fqdn: &str, what: &str) -> Result<HostPort, Error> {
    let refused = || Error::Invalid(format!("Invalid FQDN specified for {what}, fqdn={fqdn:?}"));
    let host_port = HostPort::parse(fqdn).map_err(|_| refused())?;
    let dotted = || {
        let mut labels = host_port.host.split('.');
        labels.clone().count() >= 2 && labels.all(is_label)
    };
    if host_port.is_ipv6() || dotted() {
        Ok(host_port)
    } else {
        Err(refused())
    }
}

/// Longest database name: `<name>_common_viewer_role` must fit PostgreSQL's 63 bytes.
pub const MAX_DBNAME: usize = 44;

/// The plugin's `chkdbname`, anchored at both ends: a letter, then letters, digits or `_`,
/// at most 44 in all, and not one of the server's own databases.
pub fn check_dbname(name: &str) -> Result<(), Error> {
    let mut bytes = name.bytes();
    let valid = matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && name.len() <= MAX_DBNAME
        && !["postgres", "template0", "template1"].contains(&name.to_ascii_lowercase().as_str());
    if valid {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "Unacceptable or missing database name: {name:?} (a letter, then up to {} letters, digits or underscores; not postgres, template0 or template1)",
            MAX_DBNAME - 1
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hp(host: &str, port: u16) -> HostPort {
        HostPort {
            host: host.into(),
            port,
        }
    }

    #[test]
    fn host_port_splits_names_ipv4_and_bracketed_ipv6() {
        assert_eq!(
            HostPort::parse("pg.onap").unwrap(),
            hp("pg.onap", DEFAULT_PORT)
        );
        assert_eq!(
            HostPort::parse("pg.onap:5433").unwrap(),
            hp("pg.onap", 5433)
        );
        assert_eq!(
            HostPort::parse("127.0.0.1:20001").unwrap(),
            hp("127.0.0.1", 20001)
        );
        assert_eq!(HostPort::parse("[::1]").unwrap(), hp("::1", DEFAULT_PORT));
        assert_eq!(
            HostPort::parse("[fd00::2:1]:6432").unwrap(),
            hp("fd00::2:1", 6432)
        );
        assert!(HostPort::parse("[::1]:5432").unwrap().is_ipv6());
        for bad in [
            "",
            ":5432",
            "pg.onap:",
            "pg.onap:0",
            "pg.onap:65536",
            "pg.onap:54x",
            "pg.onap:5432:1",
            "[::1",
            "[nothex]:5432",
            "[::1]5432",
            "::1",
            "a/b.c",
        ] {
            assert!(HostPort::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn fqdn_check_wants_a_dotted_host_or_ipv6() {
        for good in [
            "dcae-pg-primary.onap",
            "dcae_pg.onap.svc:5432",
            "127.0.0.1:20001",
            "[::1]:5432",
        ] {
            check_fqdn(good, "admin/read-write access").unwrap();
        }
        for bad in [
            "pghelm",
            "pg..onap",
            ".onap",
            "pg.onap.",
            "pg.on ap",
            "pg.onap:x",
            "../etc",
        ] {
            let error = check_fqdn(bad, "admin/read-write access").unwrap_err();
            assert!(
                error
                    .to_string()
                    .starts_with("Invalid FQDN specified for admin/read-write access, fqdn="),
                "{error}"
            );
            assert!(!error.recoverable());
        }
    }

    #[test]
    fn dbname_check_is_anchored_and_bounded() {
        for good in ["holmes", "h", "Holmes2", "my_db", &"a".repeat(MAX_DBNAME)] {
            check_dbname(good).unwrap();
        }
        for bad in [
            "",
            "2db",
            "_db",
            "holmes-rules",
            "holmes;drop",
            "holmes rules",
            "hölmes",
            "postgres",
            "Template1",
            &"a".repeat(MAX_DBNAME + 1),
        ] {
            assert!(check_dbname(bad).is_err(), "{bad:?}");
        }
    }
}
