//! Parsing and checking a requirer's CSR. Input here is untrusted.

use std::net::IpAddr;

use openssl::x509::X509Req;

use super::KeyAlgorithm;

/// Hard cap on a CSR's PEM text; anything larger is refused before parsing.
pub const MAX_CSR_PEM_BYTES: usize = 16 * 1024;

/// Why a CSR is refused. The message is meant for a human reading relation data or logs.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum CsrError {
    #[error("CSR is {0} bytes, more than the {MAX_CSR_PEM_BYTES} allowed")]
    TooLarge(usize),
    #[error("CSR is not a PEM certificate request: {0}")]
    NotPem(String),
    #[error("CSR signature does not verify against its own public key")]
    BadSignature,
    #[error("CSR key is not accepted: {0} (accepted: RSA 2048-8192 bits, ECDSA P-256 or P-384)")]
    UnsupportedKey(String),
    #[error("CSR has no common name and no subject alternative name")]
    NoNames,
    #[error("CSR extension is not accepted: {0}")]
    BadExtension(String),
}

/// A CSR that parsed, whose signature verified, and whose key we accept.
pub struct ParsedCsr {
    pub req: X509Req,
    /// The canonical DER (for comparing CSRs regardless of whitespace / line endings).
    pub der: Vec<u8>,
    pub common_name: Option<String>,
    pub dns_sans: Vec<String>,
    pub ip_sans: Vec<IpAddr>,
    /// Registered-ID SANs as dotted OIDs.
    pub oid_sans: Vec<String>,
    pub key_algorithm: KeyAlgorithm,
    /// RSA modulus bits or EC curve bits.
    pub key_bits: u32,
}

impl ParsedCsr {
    /// Parses (tolerating CRLF, surrounding whitespace and text around the PEM block), verifies the
    /// signature, and checks the key (RSA 2048-8192, ECDSA P-256/P-384).
    pub fn parse(pem: &str) -> Result<ParsedCsr, CsrError> {
        let _ = pem;
        todo!()
    }
}
