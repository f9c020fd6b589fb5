//! Passwords, tokens and secret values at rest.
//!
//! Passwords are stored as Argon2id PHC strings. Secret values are sealed with
//! ChaCha20-Poly1305 under a 32-byte key the manager keeps outside the database (in the data
//! directory, or wherever the operator points it), so a copy of the database alone does not
//! reveal them. Tokens are random and stored only as SHA-256 digests.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use sha2::{Digest, Sha256};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD_NO_PAD;

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // The OS RNG failing is not recoverable and not input-dependent.
    getrandom::fill(&mut bytes).expect("operating system random number generator");
    bytes
}

/// A random URL-safe string of `bytes` random bytes.
pub fn random_text(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    getrandom::fill(&mut buffer).expect("operating system random number generator");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buffer)
}

pub fn hash_password(password: &str) -> String {
    let salt_bytes = random_bytes::<16>();
    let salt = SaltString::encode_b64(&salt_bytes).expect("16 bytes is a valid salt");
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .expect("argon2 with default parameters")
}

pub fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|hash| {
            Argon2::default()
                .verify_password(password.as_bytes(), &hash)
                .is_ok()
        })
        .unwrap_or(false)
}

pub fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Seals secret values.
#[derive(Clone)]
pub struct SecretBox {
    cipher: ChaCha20Poly1305,
}

impl SecretBox {
    pub fn new(key: &[u8; 32]) -> Self {
        SecretBox {
            cipher: ChaCha20Poly1305::new(Key::from_slice(key)),
        }
    }

    /// `v1:` + base64(nonce ‖ ciphertext).
    pub fn seal(&self, plaintext: &str) -> String {
        let nonce_bytes = random_bytes::<12>();
        let nonce = Nonce::from_slice(&nonce_bytes);
        let sealed = self
            .cipher
            .encrypt(nonce, plaintext.as_bytes())
            .expect("chacha20poly1305 encryption of an in-memory buffer");
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&sealed);
        format!("v1:{}", B64.encode(out))
    }

    pub fn open(&self, sealed: &str) -> Option<String> {
        let bytes = B64.decode(sealed.strip_prefix("v1:")?).ok()?;
        if bytes.len() < 12 {
            return None;
        }
        let (nonce, ciphertext) = bytes.split_at(12);
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), ciphertext)
            .ok()?;
        String::from_utf8(plain).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_themselves() {
        let hash = hash_password("s3cret");
        assert!(verify_password("s3cret", &hash));
        assert!(!verify_password("s3cret ", &hash));
        assert!(!verify_password("s3cret", "not a hash"));
    }

    #[test]
    fn sealed_secrets_open_with_their_key_only() {
        let sealed = SecretBox::new(&[7; 32]).seal("value ü");
        assert!(!sealed.contains("value"));
        assert_eq!(
            SecretBox::new(&[7; 32]).open(&sealed).as_deref(),
            Some("value ü")
        );
        assert_eq!(SecretBox::new(&[8; 32]).open(&sealed), None);
        assert_eq!(SecretBox::new(&[7; 32]).open("v1:AAAA"), None);
    }
}
