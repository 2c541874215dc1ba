//! CAs made with this crate for the unit tests, and certificates they sign.

use std::time::SystemTime;

use openssl::x509::X509;
use tls_provider::pki::sign::{issue, IssueRequest};
use tls_provider::pki::{Ca, CaSubject, KeyAlgorithm, ParsedCsr};

/// A self-signed EC P-256 CA named `name`, valid for 365 days.
pub fn ec_ca(name: &str) -> Ca {
    Ca::generate(
        &CaSubject {
            common_name: name.into(),
            ..CaSubject::default()
        },
        KeyAlgorithm::EcdsaP256,
        365 * 86_400,
    )
    .expect("generate a CA")
}

/// `csr` signed by `ca` as a leaf (or, with `is_ca`, a CA) valid for 30 days from `now`.
pub fn sign_with(ca: &Ca, csr: &ParsedCsr, is_ca: bool, now: SystemTime) -> X509 {
    issue(
        ca,
        &IssueRequest {
            crl_url: None,
            csr,
            is_ca,
            validity_secs: 30 * 86_400,
            now,
        },
    )
    .expect("sign the CSR")
}
