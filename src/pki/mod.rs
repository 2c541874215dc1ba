//! Keys, CSRs, the CA and signing, with OpenSSL. Nothing here knows about Juju.

pub mod ca;
pub mod chain;
pub mod civil;
pub mod crl;
pub mod csr;
mod csr_fast;
pub(crate) mod der;
mod error;
pub mod intermediate;
pub mod keys;
pub mod policy;
pub mod san;
pub mod sign;
pub mod trust;
pub mod verify;

#[cfg(test)]
mod crl_tests;
#[cfg(test)]
mod tests;

pub use ca::{Ca, CaSubject};
pub use chain::{CertRole, ChainError};
pub use crl::{build_crl, Crl, CrlRequest, RevocationReason, RevokedEntry};
pub use csr::{csr_der, csr_to_pem, generate_csr, CsrError, ParsedCsr, MAX_CSR_PEM_BYTES};
pub use error::{CaSubjectError, PkiError};
pub use keys::{key_matches, private_key_from_pem, private_key_to_pem, KeyAlgorithm};
pub use policy::{Denial, DenialCode, Policy};
pub use san::San;
pub use sign::{cert_to_pem, chain_pems, issue, IssueRequest};
pub use verify::{
    cert_info, is_ca, issued_by, parse_certs, public_key_matches, valid_at, CertError, CertInfo,
    MAX_CERTS_PEM_BYTES,
};
