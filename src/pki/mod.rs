//! Keys, CSRs, the CA and signing, with OpenSSL. Nothing here knows about Juju.

pub mod ca;
pub mod csr;
pub mod keys;
pub mod policy;
pub mod sign;
pub mod verify;

pub use ca::{Ca, CaSubject};
pub use csr::{CsrError, ParsedCsr};
pub use keys::KeyAlgorithm;
pub use policy::{Denial, DenialCode, Policy};

/// Errors from the PKI layer that are our fault or OpenSSL's (not the requirer's input).
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("openssl: {0}")]
    OpenSsl(#[from] openssl::error::ErrorStack),
    #[error("{0}")]
    Invalid(String),
}
