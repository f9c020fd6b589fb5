//! Cluster information files and password derivation.
//!
//! A cluster taken under control is one file, `<dir>/<writerfqdn lowercased>`, holding the
//! plugin's JSON `{"ro": READERFQDN, "pubkey": PUBLIC KEY, "data": BASE64 PRIVATE KEY,
//! "hash": "sha256"}`. Passwords are never stored: a role's password is
//! `hex(sha256(role ‖ seed ‖ base64decode(data)))`, where the seed is the last line (with its
//! newline) of `<dir>/<writerfqdn>:<dbname>` (both lowercased) when that file exists — the
//! plugin's `update_db_passwd` workflow appends to it to change passwords.
//!
//! Files are written whole (a sibling temporary file, synced, renamed, the directory synced),
//! 0600 in a 0700 directory; names reach a path only after `names::check_fqdn`.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::Error;

/// What a cluster file holds, and the writer FQDN it was read for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterInfo {
    /// The writer FQDN as the node gave it (not lowercased): `host[:port]` for admin access.
    pub rw: String,
    /// The reader FQDN: `host[:port]` for the viewer.
    pub ro: String,
    pub pubkey: String,
    /// The private key, base64: the secret every password is derived from.
    pub data: String,
}

/// The directory of cluster files (`<data-dir>/pgaas` in Stratus,
/// `/opt/manager/resources/pgaas` in the original manager).
#[derive(Debug, Clone)]
pub struct ClusterDir {
    path: PathBuf,
}

/// The plugin's password: `hex(sha256(ident ‖ seed ‖ key))`.
pub fn derive_password(ident: &str, seed: &[u8], key: &[u8]) -> String {
    let mut hash = Sha256::new();
    hash.update(ident.as_bytes());
    hash.update(seed);
    hash.update(key);
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The last line of a text file with its line end, as Python's text-mode iteration gives it
/// (`\r\n` and `\r` read as `\n`); empty for an empty file.
pub fn last_line(bytes: &[u8]) -> Vec<u8> {
    let mut text = Vec::with_capacity(bytes.len());
    let mut iter = bytes.iter().peekable();
    while let Some(&b) = iter.next() {
        if b == b'\r' {
            if iter.peek() == Some(&&b'\n') {
                iter.next();
            }
            text.push(b'\n');
        } else {
            text.push(b);
        }
    }
    let body = text.strip_suffix(b"\n").unwrap_or(&text);
    let start = body
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |at| at + 1);
    text[start..].to_vec()
}

/// Python's lenient `base64.b64decode`: characters outside the alphabet (line breaks) are
/// skipped.
pub fn decode_key(data: &str) -> Result<Vec<u8>, Error> {
    let kept: String = data
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '='))
        .collect();
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    engine
        .decode(kept.trim_end_matches('='))
        .map_err(|e| Error::Cluster(format!("the cluster's private key is not base64: {e}")))
}

impl ClusterDir {
    pub fn new(path: impl Into<PathBuf>) -> ClusterDir {
        ClusterDir { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `<dir>/<name lowercased>`; `name` has passed `check_fqdn` (no `/`, no leading dot),
    /// checked again here so no caller can make a path outside the directory.
    fn file(&self, name: &str) -> Result<PathBuf, Error> {
        let name = name.to_lowercase();
        if name.is_empty() || name.starts_with('.') || name.contains(['/', '\0']) {
            return Err(Error::Invalid(format!("invalid cluster name {name:?}")));
        }
        Ok(self.path.join(name))
    }

    /// The cluster file of `writerfqdn`, as the plugin's `get_existing_clusterinfo`: when it
    /// is missing or invalid the error lists the clusters this manager knows.
    pub fn read(&self, writerfqdn: &str) -> Result<ClusterInfo, Error> {
        let path = self.file(writerfqdn)?;
        let parsed = std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|bytes| parse(&bytes));
        match parsed {
            Ok((ro, pubkey, data)) => Ok(ClusterInfo {
                rw: writerfqdn.to_string(),
                ro,
                pubkey,
                data,
            }),
            Err(reason) => Err(Error::Cluster(format!(
                "Cluster must be deployed when using an existing cluster.\nCheck your domain name: fqdn={writerfqdn:?}\nerr={}: {reason}{}",
                path.display(),
                self.known_clusters_note()
            ))),
        }
    }

    /// Writes the cluster file of `info.rw` whole, 0600, creating the directory 0700.
    pub fn write(&self, info: &ClusterInfo) -> Result<(), Error> {
        let path = self.file(&info.rw)?;
        let body =
            json!({"ro": info.ro, "pubkey": info.pubkey, "data": info.data, "hash": "sha256"});
        let failed = |e: std::io::Error| {
            Error::Io(format!(
                "Cannot write cluster information to {}: fqdn={:?}, err={e}",
                self.path.display(),
                info.rw
            ))
        };
        self.create_dir().map_err(failed)?;
        write_private(&path, body.to_string().as_bytes()).map_err(failed)
    }

    fn create_dir(&self) -> std::io::Result<()> {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder.create(&self.path)
    }

    /// Removes the cluster file of `writerfqdn`; `false` when there was none.
    pub fn remove(&self, writerfqdn: &str) -> Result<bool, Error> {
        let path = self.file(writerfqdn)?;
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Error::Io(format!("remove {}: {e}", path.display()))),
        }
    }

    /// Names of the valid cluster files (JSON with a `pubkey`), sorted.
    pub fn known_clusters(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.path) else {
            return Vec::new();
        };
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let name = entry.file_name().into_string().ok()?;
                if name.starts_with('.') {
                    return None;
                }
                let bytes = std::fs::read(entry.path()).ok()?;
                let value: Value = serde_json::from_slice(&bytes).ok()?;
                value.get("pubkey").map(|_| name)
            })
            .collect();
        names.sort();
        names
    }

    fn known_clusters_note(&self) -> String {
        if !self.path.is_dir() {
            return format!(
                "\nThe directory {} does not exist. No PostgreSQL clusters have been deployed on this manager.",
                self.path.display()
            );
        }
        let known = self.known_clusters();
        if known.is_empty() {
            "\nNo valid PostgreSQL cluster information was found".into()
        } else {
            let mut note = String::from(
                "\nThese are the valid PostgreSQL cluster domains found on this manager:",
            );
            for name in known {
                note.push_str(&format!("\n\t{name:?}"));
            }
            note
        }
    }

    /// The password of role `ident` for database `dbname` on the cluster `hostport`.
    pub fn password(
        &self,
        info: &ClusterInfo,
        ident: &str,
        hostport: &str,
        dbname: &str,
    ) -> Result<String, Error> {
        let seed_path = self.file(&format!("{hostport}:{dbname}"))?;
        let seed = match std::fs::read(&seed_path) {
            Ok(bytes) => last_line(&bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => {
                return Err(Error::Cluster(format!(
                    "read the password seed {}: {e}",
                    seed_path.display()
                )))
            }
        };
        Ok(derive_password(ident, &seed, &decode_key(&info.data)?))
    }
}

/// `ro`, `pubkey` and `data` of a cluster file.
fn parse(bytes: &[u8]) -> Result<(String, String, String), String> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    let field = |key: &str| {
        value
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| format!("no string `{key}`"))
    };
    Ok((field("ro")?, field("pubkey")?, field("data")?))
}

/// Writes `bytes` to `path` atomically with mode 0600.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let directory = path.parent().unwrap_or(Path::new("."));
    let mut name = std::ffi::OsString::from(".");
    name.push(path.file_name().unwrap_or_default());
    name.push(".tmp");
    let tmp = directory.join(name);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let result = (|| {
        let mut file = options.open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(directory)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    /// base64 of "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----\n".
    const KEY: &str = "LS0tLS1CRUdJTiBPUEVOU1NIIFBSSVZBVEUgS0VZLS0tLS0KYWJjCi0tLS0tRU5EIE9QRU5TU0ggUFJJVkFURSBLRVktLS0tLQo=";

    fn info(rw: &str) -> ClusterInfo {
        ClusterInfo {
            rw: rw.into(),
            ro: rw.into(),
            pubkey: "ssh-ed25519 AAAA test".into(),
            data: KEY.into(),
        }
    }

    // The expected values were computed with Python's hashlib and base64 exactly as
    // pgaas_plugin.getpass does: sha256(ident.encode() + lastLine.encode() + b64decode(data)).
    #[test]
    fn derivation_equals_the_plugins() {
        let key = decode_key(KEY).unwrap();
        assert_eq!(
            derive_password("postgres", b"", &key),
            "ccd80c2482920e7b9491e36d551767c1d82ee68d9e64583634de61f195aaf96d"
        );
        assert_eq!(
            derive_password("holmes_admin", b"", &key),
            "b9eec2e2817f25ce9634eb17ba1b9650c2a2ab097336351e8c5956243ac0e07c"
        );
        assert_eq!(
            derive_password("holmes_admin", b"0123456789abcdef0123456789abcdef\n", &key),
            "0b71500d9bcf622c9e67666ca31fa6bc1685532f0ba55f6de95f51a2be90d6a3"
        );
        // Python's b64decode skips a line break inside the data.
        let wrapped = format!("{}\n{}", &KEY[..20], &KEY[20..]);
        assert_eq!(
            derive_password("x", b"", &decode_key(&wrapped).unwrap()),
            "20ee847d0d8bbd09644e8018f4305baf2fb759d94001a2444a7bdf818bd58537"
        );
    }

    #[test]
    fn seed_files_mix_in_their_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let clusters = ClusterDir::new(dir.path().join("pgaas"));
        let cluster = info("PG.onap:5432");
        clusters.write(&cluster).unwrap();
        let no_seed = clusters
            .password(&cluster, "holmes_admin", "PG.onap:5432", "holmes")
            .unwrap();
        assert_eq!(
            no_seed,
            "b9eec2e2817f25ce9634eb17ba1b9650c2a2ab097336351e8c5956243ac0e07c"
        );
        // Both names are lowercased for the seed file's name.
        let seed = dir.path().join("pgaas/pg.onap:5432:holmes");
        std::fs::write(&seed, "aaaa\nbbbb\n").unwrap();
        assert_eq!(
            clusters
                .password(&cluster, "holmes_user", "PG.onap:5432", "Holmes")
                .unwrap(),
            "951bc7d05eea2a87a424e043544a1d76525edaa80bcc5cee5b8b647cf27a104b"
        );
        std::fs::write(&seed, "aaaa\r\nbbbb\r\n").unwrap();
        assert_eq!(
            clusters
                .password(&cluster, "holmes_user", "pg.onap:5432", "holmes")
                .unwrap(),
            "951bc7d05eea2a87a424e043544a1d76525edaa80bcc5cee5b8b647cf27a104b"
        );
        std::fs::write(&seed, "cccc").unwrap();
        assert_eq!(
            clusters
                .password(&cluster, "holmes_viewer", "pg.onap:5432", "holmes")
                .unwrap(),
            "27fae322978e587c1dea5eba006cee4187c6c6cc8c79481b64db27aa7bf0aadd"
        );
        std::fs::write(&seed, "").unwrap();
        assert_eq!(
            clusters
                .password(&cluster, "holmes_admin", "pg.onap:5432", "holmes")
                .unwrap(),
            no_seed
        );
    }

    #[test]
    fn last_line_is_pythons() {
        assert_eq!(last_line(b""), b"");
        assert_eq!(last_line(b"one"), b"one");
        assert_eq!(last_line(b"one\n"), b"one\n");
        assert_eq!(last_line(b"one\ntwo"), b"two");
        assert_eq!(last_line(b"one\ntwo\n"), b"two\n");
        assert_eq!(last_line(b"one\n\n"), b"\n");
        assert_eq!(last_line(b"one\rtwo\r"), b"two\n");
    }

    #[test]
    fn cluster_files_are_private_whole_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let clusters = ClusterDir::new(dir.path().join("pgaas"));
        clusters.write(&info("Dcae-PG.onap")).unwrap();
        let path = dir.path().join("pgaas/dcae-pg.onap");
        let stored: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(
            stored,
            json!({"ro": "Dcae-PG.onap", "pubkey": "ssh-ed25519 AAAA test", "data": KEY, "hash": "sha256"})
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(&dir.path().join("pgaas")), 0o700);
        }
        let names: Vec<_> = std::fs::read_dir(dir.path().join("pgaas"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["dcae-pg.onap"], "no temporary file left");
        let read = clusters.read("DCAE-pg.onap").unwrap();
        assert_eq!(read.rw, "DCAE-pg.onap");
        assert_eq!(read.ro, "Dcae-PG.onap");
        assert_eq!(read.data, KEY);
        assert_eq!(clusters.known_clusters(), ["dcae-pg.onap"]);
        assert!(clusters.remove("DCAE-PG.onap").unwrap());
        assert!(!clusters.remove("dcae-pg.onap").unwrap());
    }

    #[test]
    fn missing_and_invalid_cluster_files_say_what_is_known() {
        let dir = tempfile::tempdir().unwrap();
        let clusters = ClusterDir::new(dir.path().join("pgaas"));
        let error = clusters.read("pg.onap").unwrap_err();
        assert!(!error.recoverable());
        assert!(
            error
                .to_string()
                .contains("does not exist. No PostgreSQL clusters"),
            "{error}"
        );
        std::fs::create_dir(clusters.path()).unwrap();
        let error = clusters.read("pg.onap").unwrap_err().to_string();
        assert!(
            error.contains("No valid PostgreSQL cluster information was found"),
            "{error}"
        );
        clusters.write(&info("good.onap")).unwrap();
        std::fs::write(clusters.path().join("bad.onap"), "{not json").unwrap();
        std::fs::write(clusters.path().join("nokey.onap"), r#"{"ro": "x"}"#).unwrap();
        std::fs::write(clusters.path().join("good.onap:holmes"), "0123\n").unwrap();
        for name in ["bad.onap", "nokey.onap", "other.onap"] {
            let error = clusters.read(name).unwrap_err().to_string();
            assert!(error.starts_with("Cluster must be deployed"), "{error}");
            assert!(
                error.ends_with("found on this manager:\n\t\"good.onap\""),
                "{error}"
            );
        }
        let bad_key = ClusterInfo {
            data: "a".into(),
            ..info("good.onap")
        };
        assert!(clusters
            .password(&bad_key, "x", "good.onap", "holmes")
            .is_err());
        assert!(clusters.file("../x").is_err());
        assert!(clusters.file(".hidden").is_err());
    }
}
