//! CAs made with this crate for the unit tests.

use tls_provider::pki::{Ca, CaSubject, KeyAlgorithm};

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
