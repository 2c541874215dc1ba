//! Issuing a certificate for a CSR under the CA.

use std::time::SystemTime;

use openssl::x509::X509;

use super::{Ca, ParsedCsr, PkiError};

/// What to issue.
pub struct IssueRequest<'a> {
    pub csr: &'a ParsedCsr,
    pub is_ca: bool,
    /// Requested lifetime; the certificate never outlives the CA (notAfter is capped at the CA's).
    pub validity_secs: u64,
    /// "Now" (injectable for tests).
    pub now: SystemTime,
}

/// Signs: subject and SANs copied from the CSR, the CSR's public key, random 64+ bit serial,
/// notBefore = now − 60 s, BasicConstraints critical (CA:TRUE pathlen:0 only when `is_ca`),
/// KeyUsage (digitalSignature+keyEncipherment for RSA leaves, digitalSignature for EC leaves,
/// keyCertSign+cRLSign for CA), EKU serverAuth+clientAuth for leaves, SKI, AKI. Other CSR
/// extensions: non-critical ones are dropped; critical ones are refused earlier by ParsedCsr.
pub fn issue(ca: &Ca, req: &IssueRequest<'_>) -> Result<X509, PkiError> {
    let _ = (ca, req);
    todo!()
}

/// A certificate as PEM without a trailing newline.
pub fn cert_to_pem(cert: &X509) -> String {
    let _ = cert;
    todo!()
}
