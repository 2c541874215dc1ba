//! Checks on certificates handed to us (manual mode) and on certificates we publish.

use std::time::SystemTime;

use openssl::x509::X509;

/// Why a certificate or chain is not acceptable.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum CertError {
    #[error("not a PEM certificate: {0}")]
    NotPem(String),
    #[error("{0}")]
    Invalid(String),
}

/// Parses every PEM certificate in `text` (tolerating text around the blocks), in order.
pub fn parse_certs(text: &str) -> Result<Vec<X509>, CertError> {
    let _ = text;
    todo!()
}

/// Whether `cert` was signed by `issuer` (issuer name matches and the signature verifies).
pub fn issued_by(cert: &X509, issuer: &X509) -> bool {
    let _ = (cert, issuer);
    todo!()
}

/// Whether `cert` is valid at `now`.
pub fn valid_at(cert: &X509, now: SystemTime) -> bool {
    let _ = (cert, now);
    todo!()
}

/// Whether the certificate's BasicConstraints says CA:TRUE.
pub fn is_ca(cert: &X509) -> bool {
    let _ = cert;
    todo!()
}
