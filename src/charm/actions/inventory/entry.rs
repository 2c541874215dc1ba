//! The inventory entry and the pure builder: one [`InventoryEntry`] per gathered request
//! ([`ListedRequest`], both dialects), from its published certificate (if any), the peer
//! revocation records, the `expiry-warning` option and the hook's time. No hook tools here.

use std::time::SystemTime;

use openssl::x509::X509;
use serde::Serialize;

use super::super::listing::ListedRequest;
use crate::charm::clock;
use crate::charm::config::ExpiryWarning;
use crate::charm::revocation::{csr_fingerprint, Revocation};
use crate::pki::verify::{cert_info, CertInfo};
use crate::pki::San;

const DAY_SECS: i64 = 86_400;

/// Whether the request is for one unit or for the whole application.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Unit,
    App,
}

/// The requirer's dialect: `modern` (tls-certificates v4, the requirer sends CSRs) or `legacy`
/// (the reactive `tls-certificates` interface: this charm made the key and CSR).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    Modern,
    Legacy,
}

/// Where a request stands. Every entry has exactly one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// A certificate is published, outside its expiry-warning window.
    Issued,
    /// No certificate yet, and nothing refused it.
    Outstanding,
    /// Refused: the CSR is unusable, or the policy (self-signed mode) denied it.
    Denied,
    /// Its certificate was revoked (revoke-certificate); the CSR is never signed again.
    Revoked,
    /// A certificate is published and within the `expiry-warning` window, or already expired.
    Expiring,
}

impl State {
    /// Every state, in the order the message counts them.
    pub const ALL: [State; 5] = [
        State::Issued,
        State::Expiring,
        State::Outstanding,
        State::Denied,
        State::Revoked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Issued => "issued",
            State::Outstanding => "outstanding",
            State::Denied => "denied",
            State::Revoked => "revoked",
            State::Expiring => "expiring",
        }
    }

    /// The state named `text` (as `state=` takes it).
    pub fn parse(text: &str) -> Option<State> {
        State::ALL.into_iter().find(|s| s.as_str() == text.trim())
    }

    /// Whether filter `state=<self>` takes an entry in `state`: exact, except that `issued`
    /// also takes `expiring` (an expiring certificate is still an issued one).
    pub fn selects(self, state: State) -> bool {
        self == state || (self == State::Issued && state == State::Expiring)
    }
}

/// One subject alternative name, typed: `{"type": "dns"|"ip"|"oid", "value": "..."}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TypedSan {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub value: String,
}

impl From<&San> for TypedSan {
    fn from(san: &San) -> TypedSan {
        TypedSan {
            kind: san.kind(),
            value: san.to_string(),
        }
    }
}

/// One request of the inventory, as `list-certificates` prints it (kebab-case keys, every key
/// always present, `null` when it does not apply). See the module documentation of
/// [`super`] for the meaning of each field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct InventoryEntry {
    pub relation_id: Option<u32>,
    pub application: String,
    pub unit: Option<String>,
    pub scope: Scope,
    pub dialect: Dialect,
    pub common_name: String,
    pub sans: Vec<TypedSan>,
    pub is_ca: bool,
    pub serial: Option<String>,
    pub csr_fingerprint: Option<String>,
    pub not_before: Option<String>,
    pub not_after: Option<String>,
    pub days_left: Option<i64>,
    pub issuer: Option<String>,
    pub state: State,
    pub reason: Option<String>,
}

/// A serial in hex as revoke-certificate compares them: uppercase, no `0x`, colons or leading
/// zeros.
pub fn normalise_serial(hex: &str) -> String {
    crate::charm::actions::revoke::normalise_hex(hex)
}

/// The first certificate of a published PEM text (leaf first), described.
fn published_info(pem: Option<&str>) -> Option<CertInfo> {
    let cert = X509::from_pem(pem?.as_bytes()).ok()?;
    Some(cert_info(&cert))
}

/// The revocation record of this certificate (same serial) or CSR (same fingerprint).
fn record_for<'r>(
    records: &'r [Revocation],
    serial: Option<&str>,
    fingerprint: Option<&str>,
) -> Option<&'r Revocation> {
    records.iter().find(|r| {
        serial.is_some_and(|s| normalise_serial(&r.serial) == s)
            || fingerprint.is_some_and(|f| r.csr_fingerprint.eq_ignore_ascii_case(f))
    })
}

/// The state and its reason. Revoked first (published as revoked, or recorded), then a
/// published certificate (expiring or issued), then a refusal, else outstanding.
fn state_of(
    req: &ListedRequest,
    info: Option<&CertInfo>,
    record: Option<&Revocation>,
    warning: ExpiryWarning,
    now: SystemTime,
) -> (State, Option<String>) {
    if req.revoked || record.is_some() {
        return (State::Revoked, record.map(|r| r.reason.clone()));
    }
    if let Some(info) = info {
        let due = warning.is_due(info.not_before, info.not_after, now) || now > info.not_after;
        return (if due { State::Expiring } else { State::Issued }, None);
    }
    match &req.error {
        Some(why) => (State::Denied, Some(why.clone())),
        None => (State::Outstanding, None),
    }
}

/// Whole days from `now` to `not_after`, rounded down (negative once expired).
pub fn days_left(not_after: SystemTime, now: SystemTime) -> i64 {
    clock::secs_between(now, not_after).div_euclid(DAY_SECS)
}

/// The inventory entry of `req` at `now`.
pub fn build_entry(
    req: &ListedRequest,
    records: &[Revocation],
    warning: ExpiryWarning,
    now: SystemTime,
) -> InventoryEntry {
    let info = published_info(req.certificate.as_deref());
    let serial = info.as_ref().map(|i| normalise_serial(&i.serial_hex));
    let fingerprint = csr_fingerprint(&req.csr);
    let record = record_for(records, serial.as_deref(), fingerprint.as_deref());
    let (state, reason) = state_of(req, info.as_ref(), record, warning, now);
    let sans = info.as_ref().map_or(&req.sans, |i| &i.sans);
    InventoryEntry {
        relation_id: req.relation_id.map(|r| r.0),
        application: req.application.clone(),
        unit: req.unit.clone(),
        scope: if req.unit.is_some() {
            Scope::Unit
        } else {
            Scope::App
        },
        dialect: if req.legacy {
            Dialect::Legacy
        } else {
            Dialect::Modern
        },
        common_name: info
            .as_ref()
            .and_then(|i| i.common_name.clone())
            .unwrap_or_else(|| req.common_name.clone()),
        sans: sans.iter().map(TypedSan::from).collect(),
        is_ca: info.as_ref().map_or(req.is_ca, |i| i.is_ca),
        serial,
        csr_fingerprint: fingerprint,
        not_before: info.as_ref().map(|i| clock::rfc3339(i.not_before)),
        not_after: info.as_ref().map(|i| clock::rfc3339(i.not_after)),
        days_left: info.as_ref().map(|i| days_left(i.not_after, now)),
        issuer: info.map(|i| i.issuer),
        state,
        reason,
    }
}

/// The inventory of `requests`, in their order.
pub fn build(
    requests: &[ListedRequest],
    records: &[Revocation],
    warning: ExpiryWarning,
    now: SystemTime,
) -> Vec<InventoryEntry> {
    requests
        .iter()
        .map(|r| build_entry(r, records, warning, now))
        .collect()
}
