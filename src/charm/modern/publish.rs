//! What the modern dialect publishes in our application databag: `capabilities`,
//! `request_errors` entries, and the changes to write (validated, canonical order, only the
//! changed keys).

use std::collections::HashSet;

use juju_hook::Databag;
use openssl::x509::X509;

use crate::charm::config::{Config, Mode};
use crate::charm::dialect::snapshot::RelationSnapshot;
use crate::pki::DenialCode;
use crate::protocol::modern::{
    Capabilities, ProviderAppData, ProviderCertificate, RequestError, RequestErrorDetail,
};

/// What we advertise in `capabilities` for this config.
/// Self-signed: the policy (`allowed_domains` omitted when any domain is allowed). Manual: only
/// `provider_type`, since the operator decides what to sign.
pub fn capabilities(config: &Config) -> Capabilities {
    match config.mode {
        Mode::SelfSigned => Capabilities {
            supports_ip_sans: Some(config.policy.allow_ip_sans),
            supports_wildcard_dns: Some(config.policy.allow_wildcard_dns),
            supports_subdomain: None,
            supports_ca_certificates: Some(config.policy.allow_ca_requests),
            allowed_domains: (!config.policy.allowed_domains.is_empty())
                .then(|| config.policy.allowed_domains.clone()),
            provider_type: Some("self-signed".to_string()),
        },
        Mode::Manual => Capabilities {
            provider_type: Some("manual".to_string()),
            ..Capabilities::default()
        },
    }
}

/// A `request_errors` entry for `csr`.
pub fn request_error(csr: &str, code: DenialCode, message: impl Into<String>) -> RequestError {
    RequestError {
        csr: csr.to_string(),
        error: RequestErrorDetail {
            code: code.code(),
            name: code.name().to_string(),
            message: message.into(),
            reason: None,
            provider: None,
            endpoint: None,
        },
    }
}

/// Whether every PEM in the entry parses as a certificate (the requirer library crashes on one
/// bad entry, so nothing unparseable is ever written).
pub fn entry_is_valid(entry: &ProviderCertificate) -> bool {
    let cert_ok = |pem: &str| X509::from_pem(pem.as_bytes()).is_ok();
    entry.looks_publishable()
        && cert_ok(&entry.certificate)
        && cert_ok(&entry.ca)
        && entry.chain.iter().all(|c| cert_ok(c))
}

fn entry_is_valid_memo(
    entry: &ProviderCertificate,
    known_good: &HashSet<String>,
    good: &mut HashSet<String>,
) -> bool {
    if !entry.looks_publishable() {
        return false;
    }
    let pems = std::iter::once(&entry.certificate)
        .chain(std::iter::once(&entry.ca))
        .chain(entry.chain.iter());
    for pem in pems {
        if known_good.contains(pem.as_str()) || good.contains(pem.as_str()) {
            continue;
        }
        if X509::from_pem(pem.as_bytes()).is_err() {
            return false;
        }
        good.insert(pem.clone());
    }
    true
}

/// The changes that make our app databag on `snapshot`'s relation hold `desired`: sorts it, and
/// when anything changed drops (and reports) entries that would not parse, then keeps only the
/// keys whose text changed (empty value = delete). Returns the changes (empty when equal) and
/// descriptions of dropped entries.
pub fn changes(
    snapshot: &RelationSnapshot,
    desired: &mut ProviderAppData,
) -> (Databag, Vec<String>) {
    changes_trusting(snapshot, desired, &HashSet::new())
}

/// [`changes`], where `known_good` are PEMs known to parse (the certificates this hook just
/// signed, our CA's): they are not parsed again.
pub fn changes_trusting(
    snapshot: &RelationSnapshot,
    desired: &mut ProviderAppData,
    known_good: &HashSet<String>,
) -> (Databag, Vec<String>) {
    let mut dropped = Vec::new();
    desired.sort();
    let changes = desired.changes_from(&snapshot.own_app_bag);
    if changes.is_empty() {
        return (changes, dropped);
    }
    // Validate only when writing: the steady state costs nothing here. The CA (in every entry)
    // and the leaf (also chain[0]) are parsed once each.
    let before = desired.certificates.len();
    let mut good: HashSet<String> = HashSet::new();
    desired
        .certificates
        .retain(|e| entry_is_valid_memo(e, known_good, &mut good));
    if desired.certificates.len() == before {
        return (changes, dropped);
    }
    dropped.push(format!(
        "relation {}: not publishing {} entr(y/ies) whose certificate, ca or chain does not parse",
        snapshot.id,
        before - desired.certificates.len()
    ));
    (desired.changes_from(&snapshot.own_app_bag), dropped)
}
