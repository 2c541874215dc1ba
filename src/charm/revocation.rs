//! Revoked certificates: the record the leader keeps of every revocation, and the CRL made
//! from it.
//!
//! The records live in the peer application databag (`cluster`, key `revocations`, a JSON
//! list), not in the CA secret: nothing in them is secret (serials and CSR fingerprints are
//! public), every unit can read them, they survive a change of leader, and a revocation does
//! not make a new revision of the secret that holds the CA key. The modern dialect's own
//! record is the published entry itself (`revoked: true` stays published, and the plan never
//! signs that CSR again), so the reconcile reads no extra data for revocations; the legacy
//! dialect's is the revoked entry in its key store ([`crate::charm::legacy::store::Entry::revoked`]).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use juju_hook::{Databag, RelationId};
use openssl::hash::{hash, MessageDigest};
use serde::{Deserialize, Serialize};

use super::ca::StoredCa;
use super::clock;
use super::hook::Hook;
use super::peers;
use super::CharmError;
use crate::pki::trust::fingerprint;
use crate::pki::{build_crl, csr_der, Crl, CrlRequest, PkiError, RevocationReason, RevokedEntry};

/// Peer application databag key holding the records.
pub const REVOCATIONS_KEY: &str = "revocations";

/// How long a CRL is valid (its nextUpdate after thisUpdate).
pub const CRL_VALIDITY_SECS: u64 = 7 * 86_400;

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
}

impl Store {
    /// Reads the records. A value that does not parse (our own data, so a bug or a hand edit)
    /// is logged and read as empty rather than failing the hook.
    pub fn load(hook: &Hook<'_>) -> Result<Store, CharmError> {
        let Some((id, bag)) = peers::app_bag(hook)? else {
            return Ok(Store {
                relation: peers::peer_relation(hook)?,
                records: Vec::new(),
            });
        };
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

/// The CRL of the active CA: every record it issued, thisUpdate `now`, nextUpdate
/// `now + CRL_VALIDITY_SECS`, CRLNumber the Unix time of `now` (so a later CRL always has a
/// larger number without keeping a counter).
pub fn crl_of(stored: &StoredCa, records: &[Revocation], now: SystemTime) -> Result<Crl, PkiError> {
    let issuer = fingerprint(&stored.ca.cert);
    let entries: Vec<RevokedEntry> = records
        .iter()
        .filter(|r| r.issuer_fingerprint.as_deref() == Some(issuer.as_str()))
        .map(|r| RevokedEntry {
            serial_hex: r.serial.clone(),
            revoked_at: clock::parse_rfc3339(&r.revoked_at).unwrap_or(now),
            reason: RevocationReason::parse(&r.reason).unwrap_or(RevocationReason::Unspecified),
        })
        .collect();
    build_crl(
        &stored.ca,
        &CrlRequest {
            revoked: &entries,
            this_update: now,
            next_update: now + Duration::from_secs(CRL_VALIDITY_SECS),
            number: now
                .duration_since(UNIX_EPOCH)
                .map_or(1, |d| d.as_secs().max(1)),
        },
    )
}

/// The SHA-256 of a CSR's DER, lowercase hex without separators (what the listings show as
/// the CSR's fingerprint); `None` when the PEM does not parse.
pub fn csr_fingerprint(csr_pem: &str) -> Option<String> {
    let der = csr_der(csr_pem)?;
    let digest = hash(MessageDigest::sha256(), &der).ok()?;
    Some(digest.iter().map(|b| format!("{b:02x}")).collect())
}
