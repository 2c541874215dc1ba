//! The built-in CA: generation, (de)serialisation to PEM, and the checks that decide rotation.

use std::time::SystemTime;

use openssl::pkey::{PKey, Private};
use openssl::x509::X509;

use super::{KeyAlgorithm, PkiError};

/// The CA's subject, from config. Empty strings are treated as unset.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CaSubject {
    pub common_name: String,
    pub organization: Option<String>,
    pub organizational_unit: Option<String>,
    pub email_address: Option<String>,
    pub country_name: Option<String>,
    pub state_or_province_name: Option<String>,
    pub locality_name: Option<String>,
}

/// A CA certificate with its private key.
pub struct Ca {
    pub cert: X509,
    pub key: PKey<Private>,
}

impl Ca {
    /// A new self-signed root: BasicConstraints CA:TRUE (critical), KeyUsage keyCertSign+cRLSign
    /// (critical), SKI, AKI; random serial; notBefore a minute back; notAfter now + `validity_secs`.
    pub fn generate(
        subject: &CaSubject,
        alg: KeyAlgorithm,
        validity_secs: u64,
    ) -> Result<Ca, PkiError> {
        let _ = (subject, alg, validity_secs);
        todo!()
    }

    /// Loads a CA from PEM certificate and PEM private key (checks that they match).
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Ca, PkiError> {
        let _ = (cert_pem, key_pem);
        todo!()
    }

    /// The certificate as PEM, without a trailing newline.
    pub fn cert_pem(&self) -> String {
        todo!()
    }

    /// The private key as PKCS#8 PEM. Only ever goes into a Juju secret.
    pub fn key_pem(&self) -> String {
        todo!()
    }

    /// Whether the certificate's subject equals `subject` (same attributes, same values).
    pub fn subject_matches(&self, subject: &CaSubject) -> bool {
        let _ = subject;
        todo!()
    }

    pub fn key_algorithm(&self) -> Option<KeyAlgorithm> {
        todo!()
    }

    /// notAfter − notBefore in seconds.
    pub fn validity_secs(&self) -> u64 {
        todo!()
    }

    pub fn not_before(&self) -> SystemTime {
        todo!()
    }

    pub fn not_after(&self) -> SystemTime {
        todo!()
    }
}
