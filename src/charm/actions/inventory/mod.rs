//! `list-certificates`: the certificate inventory, one entry per certificate request of the
//! `certificates` relations, both dialects, whatever its state.
//!
//! The requests are gathered exactly as the other listing actions gather them
//! ([`super::listing::list_requests`]); [`entry::build`] (pure) turns each into an
//! [`InventoryEntry`], and this module filters them and sets the results.
//!
//! Parameters (all optional, combined with AND):
//! - `state=`: `issued`, `outstanding`, `denied`, `revoked` or `expiring`. Every entry has
//!   exactly one state; `state=issued` also lists `expiring` entries (an expiring certificate is
//!   still issued), every other value lists only its own state. Another value fails the action,
//!   naming the valid ones.
//! - `relation-id=`: only that relation's entries (not the shared legacy client certificate);
//!   a relation id that is not a `certificates` relation fails the action as in
//!   `get-outstanding-certificate-requests`.
//! - `application=`: only the entries of that requirer application (the shared legacy client
//!   certificate matches each of its applications).
//!
//! Results: `certificates` (a JSON list of entries, split into `certificates`,
//! `certificates-2`, ..., `certificates-parts=N` when large, see [`super::results`]), `count`,
//! and `message` (the counts per state, the split when there is one, and a hint when nothing
//! is related or no application matches `application=`).
//!
//! Entry keys (all always present; `null` when they do not apply):
//! - `relation-id`: the relation (integer); `null` for the shared legacy client certificate.
//! - `application`: the requirer application (the shared legacy client certificate: every
//!   legacy application, comma-separated).
//! - `unit`: the requirer unit (legacy: as the requirer names itself, `etcd_0`); `null` for app
//!   scope. `scope`: `unit` or `app`.
//! - `dialect`: `modern` (tls-certificates v4) or `legacy` (reactive; this charm made the CSR).
//! - `common-name`, `sans`, `is-ca`: of the certificate when one is published, else of the
//!   request. `sans` is a list of `{"type": "dns"|"ip"|"oid", "value": "..."}`.
//! - `serial`: the certificate's serial, uppercase hex without leading zeros (as
//!   revoke-certificate compares them); `null` without a certificate.
//! - `csr-fingerprint`: SHA-256 of the CSR's DER, lowercase hex (revoke-certificate's
//!   `csr-fingerprint=`); `null` when the CSR does not parse.
//! - `not-before`, `not-after`: RFC 3339 UTC; `days-left`: whole days until `not-after`,
//!   rounded down, negative once expired; `issuer`: the certificate's issuer as one line
//!   (`CN=..., O=...`). All `null` without a certificate.
//! - `state`: `issued` (certificate published), `expiring` (published and within the
//!   `expiry-warning` window, or expired), `outstanding` (no certificate, nothing refused it),
//!   `denied` (refused: the CSR is unusable or the policy denied it), `revoked` (revoked with
//!   revoke-certificate; that CSR is never signed again).
//! - `reason`: for `denied` the refusal; for `revoked` the RFC 5280 reason recorded by
//!   revoke-certificate (`null` when no record is found); else `null`.

pub mod entry;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use juju_hook::RelationId;
use serde_json::Value;

pub use self::entry::{build, InventoryEntry, State};
use super::listing::{list_requests, Listing};
use super::params::{relation_id_param, Params};
use super::results::{set_json_list, split_note};
use super::{fail, ActionError};
use crate::charm::config::ExpiryWarning;
use crate::charm::hook::Hook;
use crate::charm::revocation;
use crate::protocol::json_type;

/// The list result key.
pub const KEY: &str = "certificates";

/// The `expiry-warning` when the configuration does not validate (its default, 20%).
const FALLBACK_WARNING: ExpiryWarning = ExpiryWarning::Percent(20);

/// The filters of `list-certificates`, combined with AND.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filters {
    pub state: Option<State>,
    pub relation_id: Option<RelationId>,
    pub application: Option<String>,
}

/// `state=`'s value list, for messages.
fn valid_states() -> String {
    State::ALL.map(State::as_str).join(", ")
}

/// An optional plain string parameter (blank counts as absent).
fn text_param(params: &Params, name: &str) -> Result<Option<String>, ActionError> {
    match params.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
        Some(other) => Err(fail(format!(
            "parameter {name} must be a string, not {}",
            json_type(other)
        ))),
    }
}

impl Filters {
    /// The filters of the action's parameters; a bad value fails naming the valid ones.
    pub fn from_params(params: &Params) -> Result<Filters, ActionError> {
        let state = match text_param(params, "state")? {
            None => None,
            Some(s) => Some(State::parse(&s).ok_or_else(|| {
                fail(format!(
                    "state={s:?} is not a state; use one of {} (issued also lists expiring)",
                    valid_states()
                ))
            })?),
        };
        Ok(Filters {
            state,
            relation_id: relation_id_param(params)?,
            application: text_param(params, "application")?,
        })
    }

    /// Whether `e` passes every filter.
    pub fn matches(&self, e: &InventoryEntry) -> bool {
        self.state.is_none_or(|s| s.selects(e.state))
            && self
                .relation_id
                .is_none_or(|id| e.relation_id == Some(id.0))
            && self
                .application
                .as_deref()
                .is_none_or(|a| e.application.split(',').any(|x| x == a))
    }

    /// The filters as given, e.g. ` matching state=issued application=web`; empty without any.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(s) = self.state {
            parts.push(format!("state={}", s.as_str()));
        }
        if let Some(id) = self.relation_id {
            parts.push(format!("relation-id={}", id.0));
        }
        if let Some(a) = &self.application {
            parts.push(format!("application={a}"));
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!(" matching {}", parts.join(" "))
        }
    }
}

/// `3 certificate requests: 2 issued, 1 expiring` (states with none are left out).
pub fn summary(entries: &[InventoryEntry], filters: &Filters) -> String {
    let n = entries.len();
    let plural = if n == 1 { "" } else { "s" };
    let head = format!("{n} certificate request{plural}{}", filters.describe());
    let counts: Vec<String> = State::ALL
        .into_iter()
        .map(|s| (s, entries.iter().filter(|e| e.state == s).count()))
        .filter(|(_, c)| *c > 0)
        .map(|(s, c)| format!("{c} {}", s.as_str()))
        .collect();
    if counts.is_empty() {
        head
    } else {
        format!("{head}: {}", counts.join(", "))
    }
}

/// The `expiry-warning` in force (its default when the configuration does not validate).
fn expiry_warning(hook: &Hook<'_>) -> Result<ExpiryWarning, ActionError> {
    Ok(hook
        .config()?
        .map_or(FALLBACK_WARNING, |c| c.expiry_warning))
}

/// Sets `certificates` (split when large), `count` and `message`.
pub fn set_results(
    results: &mut BTreeMap<String, String>,
    entries: &[InventoryEntry],
    filters: &Filters,
) {
    let list: Vec<Value> = entries
        .iter()
        .map(|e| serde_json::to_value(e).unwrap_or(Value::Null))
        .collect();
    results.insert("count".to_string(), entries.len().to_string());
    let parts = set_json_list(results, KEY, &list);
    let mut message = summary(entries, filters);
    if let Some(note) = split_note(KEY, parts) {
        message.push_str("; ");
        message.push_str(&note);
    }
    results.insert("message".to_string(), message);
}

/// `list-certificates`.
pub fn list_certificates(hook: &Hook<'_>) -> Result<(), ActionError> {
    let filters = Filters::from_params(&hook.tools.action_get()?)?;
    let listing = list_requests(hook, filters.relation_id)?;
    let records = revocation::Store::load(hook)?.records;
    let warning = expiry_warning(hook)?;
    let entries: Vec<InventoryEntry> = build(&listing.requests, &records, warning, hook.now)
        .into_iter()
        .filter(|e| filters.matches(e))
        .collect();
    let mut results = BTreeMap::new();
    set_results(&mut results, &entries, &filters);
    let hint = hint(hook, &listing, &entries, &filters);
    results
        .entry("message".to_string())
        .or_default()
        .push_str(&hint);
    hook.tools.action_set(&results)?;
    Ok(())
}

/// What to add to the message: why the list may be empty, and unreadable requirer data.
fn hint(hook: &Hook<'_>, listing: &Listing, entries: &[InventoryEntry], f: &Filters) -> String {
    let mut out = String::new();
    if listing.relations.is_empty() {
        out.push_str(&format!(
            " (no application is related yet: juju integrate {}:certificates <application>)",
            hook.app()
        ));
    } else if entries.is_empty() && f.application.is_some() {
        let apps: BTreeSet<&str> = listing.relations.values().map(String::as_str).collect();
        out.push_str(&format!(
            " (related applications: {})",
            apps.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    if !listing.rejected.is_empty() {
        out.push_str(&format!(
            "; {} requirer entries could not be read (get-outstanding-certificate-requests \
             lists them as unreadable-requests)",
            listing.rejected.len()
        ));
    }
    out
}
