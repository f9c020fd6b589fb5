//! The `sshkeyshare` plugin's `generate`: a new SSH keypair as runtime properties `public`
//! (the OpenSSH public key line) and `base64private` (base64 of the OpenSSH private key
//! file, no line breaks), which a pgaas cluster takes as its key.
//!
//! The plugin ran `ssh-keygen -t rsa -b 2048`; this generates Ed25519 in process (no
//! external command, instant). Consumers see the same shapes: a one-line public key with the
//! plugin's comment and the base64 of an `OPENSSH PRIVATE KEY` file.

use base64::Engine as _;
use ssh_key::{rand_core::OsRng, Algorithm, LineEnding, PrivateKey};

use crate::Error;

/// The comment the plugin's keys carry.
pub const COMMENT: &str = "hadoop@cdapcluster";

/// A generated keypair in the plugin's runtime-property shapes.
pub struct KeyPair {
    pub public: String,
    pub base64private: String,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPair")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

pub fn generate() -> Result<KeyPair, Error> {
    let mut key = PrivateKey::random(&mut OsRng, Algorithm::Ed25519)
        .map_err(|e| Error::Io(format!("generate an SSH key: {e}")))?;
    key.set_comment(COMMENT);
    let private = key
        .to_openssh(LineEnding::LF)
        .map_err(|e| Error::Io(format!("encode the SSH private key: {e}")))?;
    let public = key
        .public_key()
        .to_openssh()
        .map_err(|e| Error::Io(format!("encode the SSH public key: {e}")))?;
    Ok(KeyPair {
        public: public.trim().to_string(),
        base64private: base64::engine::general_purpose::STANDARD.encode(private.as_bytes()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_have_the_plugins_shapes_and_differ() {
        let one = generate().unwrap();
        let two = generate().unwrap();
        assert!(one.public.starts_with("ssh-ed25519 AAAA"), "{}", one.public);
        assert!(one.public.ends_with(" hadoop@cdapcluster"));
        assert!(!one.public.contains('\n'));
        assert_ne!(one.public, two.public);
        let private = base64::engine::general_purpose::STANDARD
            .decode(&one.base64private)
            .unwrap();
        let text = String::from_utf8(private).unwrap();
        assert!(text.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----\n"));
        assert!(text.ends_with("-----END OPENSSH PRIVATE KEY-----\n"));
        let parsed = PrivateKey::from_openssh(&text).unwrap();
        assert_eq!(parsed.public_key().to_openssh().unwrap(), one.public);
        assert!(!format!("{one:?}").contains(&one.base64private));
    }
}
