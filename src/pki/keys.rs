//! Key algorithms and key generation.

use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{HasPublic, Id, PKey, PKeyRef, Private};
use openssl::rsa::Rsa;

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
    /// Every algorithm, in config order.
    pub const ALL: [KeyAlgorithm; 5] = [
        KeyAlgorithm::Rsa2048,
        KeyAlgorithm::Rsa3072,
        KeyAlgorithm::Rsa4096,
        KeyAlgorithm::EcdsaP256,
        KeyAlgorithm::EcdsaP384,
    ];

    /// The config spelling: `rsa-2048`, `rsa-3072`, `rsa-4096`, `ecdsa-p256`, `ecdsa-p384`.
    /// Exact match (no trimming, lowercase only).
    pub fn parse(s: &str) -> Option<KeyAlgorithm> {
        KeyAlgorithm::ALL.into_iter().find(|a| a.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            KeyAlgorithm::Rsa2048 => "rsa-2048",
            KeyAlgorithm::Rsa3072 => "rsa-3072",
            KeyAlgorithm::Rsa4096 => "rsa-4096",
            KeyAlgorithm::EcdsaP256 => "ecdsa-p256",
            KeyAlgorithm::EcdsaP384 => "ecdsa-p384",
        }
    }

    /// Whether this is an RSA algorithm.
    pub fn is_rsa(self) -> bool {
        matches!(
            self,
            KeyAlgorithm::Rsa2048 | KeyAlgorithm::Rsa3072 | KeyAlgorithm::Rsa4096
        )
    }

    /// The digest we sign with when the signing key has this algorithm: SHA-384 for P-384,
    /// SHA-256 otherwise (same rule as the reference requirer library).
    pub fn digest(self) -> MessageDigest {
        match self {
            KeyAlgorithm::EcdsaP384 => MessageDigest::sha384(),
            _ => MessageDigest::sha256(),
        }
    }

    /// Generates a fresh private key.
    pub fn generate(self) -> Result<PKey<Private>, PkiError> {
        let key = match self {
            KeyAlgorithm::Rsa2048 => PKey::from_rsa(Rsa::generate(2048)?)?,
            KeyAlgorithm::Rsa3072 => PKey::from_rsa(Rsa::generate(3072)?)?,
            KeyAlgorithm::Rsa4096 => PKey::from_rsa(Rsa::generate(4096)?)?,
            KeyAlgorithm::EcdsaP256 => {
                let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
                PKey::from_ec_key(EcKey::generate(&group)?)?
            }
            KeyAlgorithm::EcdsaP384 => {
                let group = EcGroup::from_curve_name(Nid::SECP384R1)?;
                PKey::from_ec_key(EcKey::generate(&group)?)?
            }
        };
        Ok(key)
    }

    /// The algorithm of an existing key, if it is one we know (RSA of exactly 2048/3072/4096
    /// bits, or EC on P-256/P-384).
    pub fn of_key<T: HasPublic>(key: &PKeyRef<T>) -> Option<KeyAlgorithm> {
        match key.id() {
            Id::RSA => match key.bits() {
                2048 => Some(KeyAlgorithm::Rsa2048),
                3072 => Some(KeyAlgorithm::Rsa3072),
                4096 => Some(KeyAlgorithm::Rsa4096),
                _ => None,
            },
            Id::EC => match key.ec_key().ok()?.group().curve_name()? {
                Nid::X9_62_PRIME256V1 => Some(KeyAlgorithm::EcdsaP256),
                Nid::SECP384R1 => Some(KeyAlgorithm::EcdsaP384),
                _ => None,
            },
            _ => None,
        }
    }
}

impl std::fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The digest to sign with for this key: SHA-384 for EC P-384 keys, SHA-256 for everything else.
pub fn digest_for_key<T: HasPublic>(key: &PKeyRef<T>) -> MessageDigest {
    match KeyAlgorithm::of_key(key) {
        Some(a) => a.digest(),
        None => MessageDigest::sha256(),
    }
}

/// A private key as unencrypted PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), without a trailing
/// newline. Secret material: only for Juju secrets and legacy relation data.
pub fn private_key_to_pem(key: &PKeyRef<Private>) -> Result<String, PkiError> {
    let pem = key.private_key_to_pem_pkcs8()?;
    let s = String::from_utf8(pem).map_err(|_| PkiError::KeyPemNotUtf8)?;
    Ok(s.trim_end().to_string())
}

/// Loads a private key from PEM (PKCS#8, or traditional RSA/EC PEM). CRLF and surrounding
/// whitespace are tolerated. The error never contains key material.
pub fn private_key_from_pem(pem: &str) -> Result<PKey<Private>, PkiError> {
    let normalised = pem.replace("\r\n", "\n");
    PKey::private_key_from_pem(normalised.trim().as_bytes()).map_err(|_| PkiError::KeyNotPem)
}

/// Whether `key` is the private half of `public`.
pub fn key_matches<T: HasPublic>(key: &PKeyRef<Private>, public: &PKeyRef<T>) -> bool {
    key.public_eq(public)
}
