//! The CRLs the leader keeps signed: one per CA of ours still in the trust bundle (the active
//! CA and, after a switch, the previous one while certificates it issued may be in use).
//!
//! They live in the peer application databag (key [`CRLS_KEY`], a JSON list of [`SignedCrl`]):
//! public data every unit can read, kept across a change of leader. A CRL is signed again when
//! a revocation of its CA is recorded, when `crl-validity` changed, and at half of its validity
//! (its [`SignedCrl::refresh_at`]); the earliest of those times is the reconcile's CRL deadline,
//! so even an idle `update-status` wakes up for it. A CA that left the trust bundle loses its
//! CRL. The CRLNumber is the Unix time of signing, and always more than the last one.

use std::time::{Duration, SystemTime};

use juju_hook::Databag;
use serde::{Deserialize, Serialize};

use super::{Revocation, Store};
use crate::charm::ca::StoredCa;
use crate::charm::clock;
use crate::charm::hook::Hook;
use crate::charm::reconcile::cache::unix;
use crate::charm::CharmError;
use crate::pki::trust::fingerprint;
use crate::pki::{build_crl, Ca, CrlRequest, PkiError, RevocationReason, RevokedEntry};

/// Peer application databag key holding the CRLs.
pub const CRLS_KEY: &str = "crls";

/// One CA's current CRL.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct SignedCrl {
    /// SHA-256 fingerprint of the CA that signed it.
    pub issuer: String,
    /// thisUpdate and nextUpdate, Unix seconds.
    pub this_update: u64,
    pub next_update: u64,
    /// Its CRLNumber.
    pub number: u64,
    /// How many serials it lists.
    pub revoked: usize,
    pub pem: String,
}

impl SignedCrl {
    /// When it is signed again: at half of its validity.
    pub fn refresh_at(&self) -> u64 {
        self.this_update + self.next_update.saturating_sub(self.this_update) / 2
    }
}

/// The CAs of ours that sign CRLs now: the active one, then the previous one when its key is
/// kept.
pub fn signing_cas(stored: &StoredCa) -> Vec<Ca> {
    let active = Ca {
        cert: stored.ca.cert.clone(),
        key: stored.ca.key.clone(),
    };
    std::iter::once(active)
        .chain(stored.previous_ca())
        .collect()
}

/// The CRLs after [`refresh`], whether they changed, and when they are next due.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refreshed {
    /// In [`signing_cas`] order: the active CA's first.
    pub crls: Vec<SignedCrl>,
    pub changed: bool,
    /// The earliest [`SignedCrl::refresh_at`] (Unix seconds).
    pub due: Option<u64>,
}

/// What a CRL is signed from.
pub struct Inputs<'a> {
    pub cas: &'a [Ca],
    pub records: &'a [Revocation],
    /// `crl-validity`, seconds.
    pub validity: u64,
    pub now: SystemTime,
}

/// Keeps each CA's CRL from `current` while it is good, and signs a new one when it is missing,
/// lists another number of serials than the records, was made for another validity, or is at
/// half of its life. Pure: reads and writes nothing.
pub fn refresh(current: &[SignedCrl], inputs: &Inputs<'_>) -> Result<Refreshed, PkiError> {
    let now = unix(inputs.now);
    let mut crls = Vec::with_capacity(inputs.cas.len());
    for ca in inputs.cas {
        let issuer = fingerprint(&ca.cert);
        let entries = entries_of(&issuer, inputs.records, inputs.now);
        let kept = current.iter().find(|c| c.issuer == issuer);
        let good = kept.filter(|c| {
            c.revoked == entries.len()
                && c.next_update.saturating_sub(c.this_update) == inputs.validity
                && now < c.refresh_at()
        });
        crls.push(match good {
            Some(c) => c.clone(),
            None => sign(ca, &issuer, &entries, inputs, kept.map(|c| c.number))?,
        });
    }
    let changed = crls.as_slice() != current;
    let due = crls.iter().map(SignedCrl::refresh_at).min();
    Ok(Refreshed { crls, changed, due })
}

/// The records of CA `issuer` as CRL entries.
fn entries_of(issuer: &str, records: &[Revocation], now: SystemTime) -> Vec<RevokedEntry> {
    records
        .iter()
        .filter(|r| r.issuer_fingerprint.as_deref() == Some(issuer))
        .map(|r| RevokedEntry {
            serial_hex: r.serial.clone(),
            revoked_at: clock::parse_rfc3339(&r.revoked_at).unwrap_or(now),
            reason: RevocationReason::parse(&r.reason).unwrap_or(RevocationReason::Unspecified),
        })
        .collect()
}

fn sign(
    ca: &Ca,
    issuer: &str,
    entries: &[RevokedEntry],
    inputs: &Inputs<'_>,
    last_number: Option<u64>,
) -> Result<SignedCrl, PkiError> {
    let this_update = unix(inputs.now);
    let number = this_update.max(last_number.map_or(1, |n| n + 1));
    let crl = build_crl(
        ca,
        &CrlRequest {
            revoked: entries,
            this_update: inputs.now,
            next_update: inputs.now + Duration::from_secs(inputs.validity),
            number,
        },
    )?;
    Ok(SignedCrl {
        issuer: issuer.to_string(),
        this_update,
        next_update: this_update + inputs.validity,
        number,
        revoked: entries.len(),
        pem: crl.pem,
    })
}

/// The CRLs stored in the peer application databag `bag` (a value that does not parse reads
/// as none: they are signed again).
pub fn stored(bag: &Databag) -> Vec<SignedCrl> {
    bag.get(CRLS_KEY)
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or_default()
}

/// Loads the records and CRLs (one peer read), refreshes the CRLs of `ca`'s CAs and writes them
/// when they changed (leader). Without the peer relation nothing is stored (there is nothing
/// revoked either: a revocation needs it); `get-crl` signs them on demand.
pub fn maintain(hook: &Hook<'_>, ca: &StoredCa, validity: u64) -> Result<Refreshed, CharmError> {
    let store = Store::load(hook)?;
    maintain_with(hook, ca, validity, &store)
}

/// [`maintain`] with the records in hand.
pub fn maintain_with(
    hook: &Hook<'_>,
    ca: &StoredCa,
    validity: u64,
    store: &Store,
) -> Result<Refreshed, CharmError> {
    let cas = signing_cas(ca);
    let inputs = Inputs {
        cas: &cas,
        records: &store.records,
        validity,
        now: hook.now,
    };
    let out = refresh(&stored(&store.bag), &inputs)?;
    let Some(id) = store.relation else {
        return Ok(out);
    };
    if out.changed {
        let text = serde_json::to_string(&out.crls).map_err(CharmError::Encode)?;
        let changes = Databag::from([(CRLS_KEY.to_string(), text)]);
        hook.tools.relation_set(id, true, &changes)?;
    }
    Ok(out)
}
