//! The modern dialect's provider databag as the unit tests read it.

use juju_hook::Databag;
use tls_provider::protocol::modern::ProviderCertificate;

/// The `certificates` published in our application databag `bag`: none when the key is absent;
/// panics when it is not a list of provider certificates.
pub fn published_certificates(bag: &Databag) -> Vec<ProviderCertificate> {
    match bag.get("certificates") {
        None => Vec::new(),
        Some(v) => serde_json::from_str(v).unwrap(),
    }
}
