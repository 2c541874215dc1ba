//! Revoked certificates: the record the leader keeps of every revocation ([`Store`]), and the
//! CRLs made from it ([`crl`]).
//!
//! The records live in the peer application databag (`cluster`, key `revocations`, a JSON
//! list), not in the CA secret: nothing in them is secret (serials and CSR fingerprints are
//! public), every unit can read them, they survive a change of leader, and a revocation does
//! not make a new revision of the secret that holds the CA key. The modern dialect's own
//! record is the published entry itself (`revoked: true` stays published, and the plan never
//! signs that CSR again), so the reconcile reads no extra data for revocations; the legacy
//! dialect's is the revoked entry in its key store ([`crate::charm::legacy::store::Entry::revoked`]).

pub mod crl;

use juju_hook::{Databag, RelationId};
use openssl::hash::{hash, MessageDigest};
use serde::{Deserialize, Serialize};

use super::hook::Hook;
use super::peers;
use super::CharmError;
use crate::pki::csr_der;

/// Peer application databag key holding the records.
pub const REVOCATIONS_KEY: &str = "revocations";

/// One revoked certificate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Revocation {
    /// Hex, as `openssl x509 -serial` prints it.
    pub serial: String,
    pub csr_fingerprint: String,
    pub relation_id: u32,
    pub application: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_name: Option<String>,
    /// SHA-256 fingerprint of the CA that issued it; `None` for a certificate signed outside
    /// the charm (manual mode), which only that CA can revoke.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer_fingerprint: Option<String>,
    /// RFC 3339.
    pub revoked_at: String,
    /// RFC 5280 name.
    pub reason: String,
    /// Legacy dialect: the request kind (`server`, `client`, `application`, `intermediate`, or
    /// `shared-client`, whose certificate belongs to no one relation: its `relation_id` is 0 and
    /// `application` names every legacy application). Absent for the modern dialect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legacy_kind: Option<String>,
}

/// The records, and the peer relation they live on (`None` before it exists).
pub struct Store {
    pub relation: Option<RelationId>,
    pub records: Vec<Revocation>,
    /// The peer application databag as read (the CRLs live there too).
    pub bag: Databag,
}

impl Store {
    /// Reads the records. A value that does not parse (our own data, so a bug or a hand edit)
    /// is logged and read as empty rather than failing the hook.
    pub fn load(hook: &Hook<'_>) -> Result<Store, CharmError> {
        let Some(id) = peers::peer_relation(hook)? else {
            return Ok(Store {
                relation: None,
                records: Vec::new(),
                bag: Databag::new(),
            });
        };
        let bag = peers::bag_of_app(hook, id)?.unwrap_or_default();
        let records = match bag.get(REVOCATIONS_KEY) {
            None => Vec::new(),
            Some(text) => serde_json::from_str(text).unwrap_or_else(|e| {
                hook.log(
                    juju_hook::LogLevel::Warning,
                    &format!("the peer record {REVOCATIONS_KEY} does not parse, ignoring it: {e}"),
                );
                Vec::new()
            }),
        };
        Ok(Store {
            relation: Some(id),
            records,
            bag,
        })
    }

    /// Writes the records (leader only). Errors when the peer relation does not exist yet.
    pub fn save(&self, hook: &Hook<'_>) -> Result<bool, CharmError> {
        let Some(id) = self.relation else {
            return Ok(false);
        };
        let text = serde_json::to_string(&self.records).map_err(CharmError::Encode)?;
        let changes = Databag::from([(REVOCATIONS_KEY.to_string(), text)]);
        hook.tools.relation_set(id, true, &changes)?;
        Ok(true)
    }

    /// Whether `serial` (hex, any case) is recorded.
    pub fn has_serial(&self, serial: &str) -> bool {
        self.records
            .iter()
            .any(|r| r.serial.eq_ignore_ascii_case(serial))
    }
}

/// The SHA-256 of a CSR's DER, lowercase hex without separators (what the listings show as
/// the CSR's fingerprint); `None` when the PEM does not parse.
pub fn csr_fingerprint(csr_pem: &str) -> Option<String> {
    let der = csr_der(csr_pem)?;
    let digest = hash(MessageDigest::sha256(), &der).ok()?;
    Some(digest.iter().map(|b| format!("{b:02x}")).collect())
}
