//! Where the signing CA comes from, and the request for an intermediate CA that is out for
//! signing (to the `upstream-ca` provider, or to an offline ceremony).
//!
//! Precedence (also in `docs/design.md`): the CA in the secret signs until a valid replacement
//! is installed. The replacement comes from the `upstream-ca` relation while one exists; from
//! `set-ca-certificate` / `import-ca` when the operator runs them; otherwise, for a self-signed
//! root only, from a new self-signed root. An intermediate or imported CA is never replaced by a
//! self-signed root unless the operator asks (`rotate-private-key` without `upstream-ca`).

use std::time::SystemTime;

use juju_hook::Databag;
use openssl::pkey::{PKey, Private};
use openssl::x509::X509;

use crate::charm::clock;
use crate::charm::config::Config;
use crate::pki::keys::{private_key_from_pem, private_key_to_pem};
use crate::pki::{parse_certs, trust::pem_of};

pub const KEY_SOURCE: &str = "source";
pub const KEY_CA_CHAIN: &str = "ca-chain";
pub const KEY_CA_CSR: &str = "ca-csr";
pub const KEY_REQUESTED_FOR: &str = "requested-for";
pub const KEY_PENDING_PRIVATE_KEY: &str = "pending-private-key";
pub const KEY_PENDING_CSR: &str = "pending-csr";
pub const KEY_PENDING_FOR: &str = "pending-for";
pub const KEY_PENDING_SINCE: &str = "pending-since";
pub const KEY_PENDING_REASON: &str = "pending-reason";
pub const KEY_PENDING_REQUESTED_FOR: &str = "pending-requested-for";

/// The `upstream-ca` endpoint (a `tls-certificates` requirer, limit 1).
pub const UPSTREAM_ENDPOINT: &str = "upstream-ca";

/// Where the active (or next) CA came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CaSource {
    /// A root this charm generated.
    SelfSigned,
    /// An intermediate signed by the provider application on `upstream-ca`.
    Upstream { app: String },
    /// An intermediate signed offline (`get-ca-signing-request`, `set-ca-certificate`).
    Ceremony,
    /// A CA certificate and key the operator brought (`import-ca`).
    Imported,
}

impl CaSource {
    /// The secret's `source` value.
    pub fn encode(&self) -> String {
        match self {
            CaSource::SelfSigned => "self-signed".into(),
            CaSource::Upstream { app } => format!("upstream-ca:{app}"),
            CaSource::Ceremony => "offline-ceremony".into(),
            CaSource::Imported => "imported".into(),
        }
    }

    /// Reads a `source` value; absent or unknown means self-signed (older versions).
    pub fn decode(value: Option<&str>) -> CaSource {
        match value.unwrap_or("") {
            "offline-ceremony" => CaSource::Ceremony,
            "imported" => CaSource::Imported,
            v => match v.strip_prefix("upstream-ca:") {
                Some(app) => CaSource::Upstream { app: app.into() },
                None => CaSource::SelfSigned,
            },
        }
    }

    /// For status and action output: `self-signed root`, `upstream-ca (root-ca)`, ...
    pub fn describe(&self) -> String {
        match self {
            CaSource::SelfSigned => "self-signed root".into(),
            CaSource::Upstream { app } => format!("{UPSTREAM_ENDPOINT} ({app})"),
            CaSource::Ceremony => "offline signing ceremony (set-ca-certificate)".into(),
            CaSource::Imported => "imported (import-ca)".into(),
        }
    }
}

/// Who is asked to sign a pending request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PendingFor {
    Upstream,
    Ceremony,
}

impl PendingFor {
    fn encode(&self) -> &'static str {
        match self {
            PendingFor::Upstream => "upstream-ca",
            PendingFor::Ceremony => "offline-ceremony",
        }
    }
    fn decode(v: &str) -> Option<PendingFor> {
        match v {
            "upstream-ca" => Some(PendingFor::Upstream),
            "offline-ceremony" => Some(PendingFor::Ceremony),
            _ => None,
        }
    }
}

/// A key and CSR for a new intermediate CA, waiting for a signed certificate.
pub struct PendingCa {
    pub key: PKey<Private>,
    pub csr_pem: String,
    pub asked: PendingFor,
    pub since: SystemTime,
    pub reason: String,
    /// [`requested_for`] of the config the CSR was made with.
    pub requested_for: String,
}

/// The config an intermediate request depends on (subject and key algorithm), as one string:
/// when it changes, a new intermediate is asked for.
pub fn requested_for(config: &Config) -> String {
    let s = &config.ca_subject;
    let parts = [
        Some(config.ca_key_algorithm.as_str().to_string()),
        Some(s.common_name.clone()),
        s.organization.clone(),
        s.organizational_unit.clone(),
        s.email_address.clone(),
        s.country_name.clone(),
        s.state_or_province_name.clone(),
        s.locality_name.clone(),
    ];
    let parts: Vec<String> = parts.into_iter().map(Option::unwrap_or_default).collect();
    serde_json::to_string(&parts).unwrap_or_default()
}

/// The PEMs of `chain`, concatenated (the secret's `ca-chain`).
pub fn chain_text(chain: &[X509]) -> String {
    chain
        .iter()
        .map(|c| pem_of(c))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Reads a `ca-chain` value; unparseable text reads as no chain.
pub fn parse_chain(text: Option<&String>) -> Vec<X509> {
    text.filter(|t| !t.trim().is_empty())
        .and_then(|t| parse_certs(t).ok())
        .unwrap_or_default()
}

/// Reads the pending request, if the secret holds a usable one.
pub fn parse_pending(content: &Databag) -> Option<PendingCa> {
    let key = private_key_from_pem(content.get(KEY_PENDING_PRIVATE_KEY)?).ok()?;
    Some(PendingCa {
        key,
        csr_pem: content.get(KEY_PENDING_CSR)?.clone(),
        asked: PendingFor::decode(content.get(KEY_PENDING_FOR)?)?,
        since: content
            .get(KEY_PENDING_SINCE)
            .and_then(|t| clock::parse_rfc3339(t))?,
        reason: content.get(KEY_PENDING_REASON).cloned().unwrap_or_default(),
        requested_for: content
            .get(KEY_PENDING_REQUESTED_FOR)
            .cloned()
            .unwrap_or_default(),
    })
}

/// Writes the pending request's keys into `content`.
pub fn put_pending(content: &mut Databag, p: &PendingCa) {
    let key = private_key_to_pem(&p.key).unwrap_or_default();
    content.insert(KEY_PENDING_PRIVATE_KEY.into(), key);
    content.insert(KEY_PENDING_CSR.into(), p.csr_pem.clone());
    content.insert(KEY_PENDING_FOR.into(), p.asked.encode().into());
    content.insert(KEY_PENDING_SINCE.into(), clock::rfc3339(p.since));
    content.insert(KEY_PENDING_REASON.into(), p.reason.clone());
    content.insert(KEY_PENDING_REQUESTED_FOR.into(), p.requested_for.clone());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_round_trip_and_old_secrets_read_as_self_signed() {
        for s in [
            CaSource::SelfSigned,
            CaSource::Upstream {
                app: "root-ca".into(),
            },
            CaSource::Ceremony,
            CaSource::Imported,
        ] {
            assert_eq!(CaSource::decode(Some(&s.encode())), s);
        }
        assert_eq!(CaSource::decode(None), CaSource::SelfSigned);
        assert_eq!(CaSource::decode(Some("junk")), CaSource::SelfSigned);
        assert_eq!(
            CaSource::Upstream { app: "x".into() }.describe(),
            "upstream-ca (x)"
        );
    }

    #[test]
    fn a_pending_request_round_trips_and_a_partial_one_is_dropped() {
        let key = crate::pki::KeyAlgorithm::EcdsaP256.generate().unwrap();
        let p = PendingCa {
            key,
            csr_pem: "CSR".into(),
            asked: PendingFor::Ceremony,
            since: clock::parse_rfc3339("2026-11-30T10:00:00Z").unwrap(),
            reason: "why".into(),
            requested_for: "[]".into(),
        };
        let mut bag = Databag::new();
        put_pending(&mut bag, &p);
        let back = parse_pending(&bag).unwrap();
        assert_eq!(back.csr_pem, "CSR");
        assert_eq!(back.asked, PendingFor::Ceremony);
        assert_eq!(back.since, p.since);
        assert!(back.key.public_eq(&p.key));
        bag.remove(KEY_PENDING_CSR);
        assert!(parse_pending(&bag).is_none());
    }

    #[test]
    fn requested_for_changes_with_subject_and_algorithm_only() {
        let base = Config::from_map(&serde_json::Map::new()).unwrap();
        let mut m = serde_json::Map::new();
        m.insert("ca-organization".into(), "Org".into());
        let org = Config::from_map(&m).unwrap();
        let mut m = serde_json::Map::new();
        m.insert("ca-key-algorithm".into(), "ecdsa-p384".into());
        let alg = Config::from_map(&m).unwrap();
        let mut m = serde_json::Map::new();
        m.insert("certificate-validity".into(), "10d".into());
        let validity = Config::from_map(&m).unwrap();
        assert_ne!(requested_for(&base), requested_for(&org));
        assert_ne!(requested_for(&base), requested_for(&alg));
        assert_eq!(requested_for(&base), requested_for(&validity));
    }
}
