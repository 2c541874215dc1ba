//! Key algorithms and key generation.

use openssl::pkey::{PKey, Private};

use super::PkiError;

/// Key algorithms we generate (CA keys, legacy requirer keys).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyAlgorithm {
    Rsa2048,
    Rsa3072,
    Rsa4096,
    EcdsaP256,
    EcdsaP384,
}

impl KeyAlgorithm {
    /// The config spelling: `rsa-2048`, `rsa-3072`, `rsa-4096`, `ecdsa-p256`, `ecdsa-p384`.
    pub fn parse(s: &str) -> Option<KeyAlgorithm> {
        todo!("{s}")
    }
    pub fn as_str(self) -> &'static str {
        todo!()
    }
    /// Generates a fresh private key.
    pub fn generate(self) -> Result<PKey<Private>, PkiError> {
        todo!()
    }
    /// The algorithm of an existing key, if it is one we know.
    pub fn of_key<T: openssl::pkey::HasPublic>(
        key: &openssl::pkey::PKeyRef<T>,
    ) -> Option<KeyAlgorithm> {
        let _ = key;
        todo!()
    }
}
