//! The listing actions.
//!
//! - `get-issued-certificates [relation-id=N]`: `certificates` (a JSON list, one object per
//!   published certificate: `relation-id`, `requirer`, `requirer-type` (`unit`/`app`),
//!   `common-name`, `sans`, `serial`, `not-after` (RFC 3339), `is-ca`, `issuer`), and `count`.
//! - `get-outstanding-certificate-requests [relation-id=N]`: results `requests` (a JSON list, one
//!   object per CSR that has no certificate), `count`, and `message` (always; for an empty list
//!   `no outstanding certificate requests`), plus `unreadable-requests` (a JSON list of reasons)
//!   when some requirer data could not be read at all. Works in both modes: in self-signed mode
//!   it lists what the built-in CA refused (with the refusal in `error`) or has not signed yet.
//! - `get-certificate-request relation-id=N`: every CSR of that relation, the same objects plus
//!   `has-certificate` (and `not-after` when it has one); results `requests`, `count`,
//!   `outstanding`, `relation-id`, `application`, `message`.
//!
//! `list-certificates` ([`super::inventory`]) is built from the same gathering
//! ([`list_requests`]).
//!
//! Large lists are split (see [`super::results`]): `requests`, `requests-2`, ...,
//! `requests-parts=N` (likewise `certificates` and `unreadable-requests`), and the `message`
//! says so.
//!
//! Request objects: `relation-id`, `application`, `unit` (absent for app-level requests),
//! `app-level`, `common-name`, `dns-sans`, `ip-sans`, `oid-sans`, `is-ca`, `legacy`, `csr`, and
//! when relevant `error` (why the request was refused) and `kind` (legacy requests: `server`,
//! `client`, `application`, `intermediate`, `shared-client`). Legacy requests (whose key and CSR
//! this charm generated on the requirer's behalf) name the requirer unit as the requirer does
//! (`etcd_0`); the shared legacy client certificate has `relation-id` null.

use std::collections::{BTreeMap, HashMap};
use std::time::SystemTime;

use juju_hook::RelationId;
use openssl::x509::X509;
use serde_json::{json, Map, Value};

use super::params::relation_id_param;
use super::results::{set_json_list, split_note};
use super::{fail, ActionError};
use crate::charm::dialect::snapshot::{self, RelationSnapshot, RequestSource};
use crate::charm::hook::Hook;
use crate::charm::legacy;
use crate::charm::{clock, ENDPOINT};
use crate::pki::san::{self, San};
use crate::pki::{verify, ParsedCsr, MAX_CSR_PEM_BYTES};
use crate::protocol::modern::ProviderCertificate;

/// The `error` of a revoked legacy request.
pub const LEGACY_REVOKED: &str = "revoked: its certificate was revoked (revoke-certificate) and \
     its key and certificate withdrawn; this request is never served again: the legacy requirer \
     gets a new key and certificate when it changes the request (common name or SANs) or the \
     relation is made again";

/// The `message` of an empty outstanding list.
pub const NO_OUTSTANDING: &str = "no outstanding certificate requests";

/// One request as the listing actions show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedRequest {
    /// `None` for the shared legacy client certificate.
    pub relation_id: Option<RelationId>,
    pub application: String,
    /// The requirer unit; `None` for app-level requests.
    pub unit: Option<String>,
    pub common_name: String,
    pub sans: Vec<San>,
    pub is_ca: bool,
    pub legacy: bool,
    /// Legacy request kind.
    pub kind: Option<&'static str>,
    /// The CSR exactly as the requirer sent it (legacy: as we generated it).
    pub csr: String,
    pub has_certificate: bool,
    /// notAfter of the published certificate.
    pub not_after: Option<SystemTime>,
    /// Why the request is refused (bad CSR, policy denial in self-signed mode).
    pub error: Option<String>,
    /// Its certificate was revoked (`revoke-certificate`): it is never signed again.
    pub revoked: bool,
    /// The certificate published for this CSR (PEM, leaf first), whether or not it is still
    /// valid or revoked: what `list-certificates` describes.
    pub certificate: Option<String>,
}

impl ListedRequest {
    /// The JSON object of the action output.
    pub fn to_json(&self, with_has_certificate: bool) -> Value {
        let mut m = Map::new();
        m.insert(
            "relation-id".into(),
            self.relation_id.map_or(Value::Null, |r| json!(r.0)),
        );
        m.insert("application".into(), json!(self.application));
        if let Some(u) = &self.unit {
            m.insert("unit".into(), json!(u));
        }
        m.insert("app-level".into(), json!(self.unit.is_none()));
        // The names the manual how-to's scripts read.
        m.insert("application_name".into(), json!(self.application));
        if let Some(u) = &self.unit {
            m.insert("unit_name".into(), json!(u));
        }
        m.insert("common-name".into(), json!(self.common_name));
        let ips: Vec<String> = san::ip_addrs(&self.sans).map(|i| i.to_string()).collect();
        m.insert(
            "dns-sans".into(),
            json!(san::dns_names(&self.sans).collect::<Vec<_>>()),
        );
        m.insert("ip-sans".into(), json!(ips));
        m.insert(
            "oid-sans".into(),
            json!(san::oids(&self.sans).collect::<Vec<_>>()),
        );
        m.insert("is-ca".into(), json!(self.is_ca));
        m.insert("legacy".into(), json!(self.legacy));
        if let Some(k) = self.kind {
            m.insert("kind".into(), json!(k));
        }
        if with_has_certificate {
            m.insert("has-certificate".into(), json!(self.has_certificate));
            if let Some(t) = self.not_after {
                m.insert("not-after".into(), json!(clock::rfc3339(t)));
            }
        }
        if let Some(e) = &self.error {
            m.insert("error".into(), json!(e));
        }
        if self.revoked {
            m.insert("state".into(), json!("revoked"));
        }
        m.insert("csr".into(), json!(self.csr));
        Value::Object(m)
    }
}

/// What the listing actions found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Listing {
    pub requests: Vec<ListedRequest>,
    /// Requirer input that could not be read at all (skipped databags, refused entries).
    pub rejected: Vec<String>,
    /// Relations looked at: id → remote application.
    pub relations: BTreeMap<RelationId, String>,
}

/// Whether `entry` is a certificate that currently answers `csr` (not revoked, parses, valid now,
/// and for the CSR's key when the CSR parses). Returns its notAfter.
fn live_certificate(
    entry: &ProviderCertificate,
    csr: Option<&ParsedCsr>,
    now: SystemTime,
) -> Option<SystemTime> {
    if entry.revoked {
        return None;
    }
    let cert = X509::from_pem(entry.certificate.as_bytes()).ok()?;
    if !verify::valid_at(&cert, now) {
        return None;
    }
    if let Some(csr) = csr {
        if !verify::public_key_matches(&cert, csr) {
            return None;
        }
    }
    Some(verify::asn1_to_system(cert.not_after()))
}

fn modern_requests(snap: &RelationSnapshot, now: SystemTime, out: &mut Listing) {
    let requests = snap.requests();
    out.rejected
        .extend(requests.rejected.iter().map(|r| r.message.clone()));
    let (published, _) = snap.published();
    let certs: HashMap<&str, &ProviderCertificate> = published
        .certificates
        .iter()
        .map(|c| (c.certificate_signing_request.as_str(), c))
        .collect();
    let errors: HashMap<&str, &str> = published
        .request_errors
        .iter()
        .map(|e| (e.csr.as_str(), e.error.message.as_str()))
        .collect();
    for req in &requests.requests {
        let parsed = ParsedCsr::parse(&req.csr);
        let (unit, application) = match &req.source {
            RequestSource::Unit(u) => (Some(u.clone()), snap.remote_app.clone()),
            RequestSource::App(a) => (None, a.clone()),
        };
        let mut item = ListedRequest {
            relation_id: Some(snap.id),
            application,
            unit,
            common_name: String::new(),
            sans: Vec::new(),
            is_ca: req.is_ca,
            legacy: false,
            kind: None,
            csr: if req.csr.len() <= MAX_CSR_PEM_BYTES {
                req.csr.clone()
            } else {
                String::new()
            },
            has_certificate: false,
            not_after: None,
            error: None,
            revoked: false,
            certificate: None,
        };
        match &parsed {
            Ok(p) => {
                item.common_name = p.common_name.clone().unwrap_or_default();
                item.sans = p.sans.clone();
            }
            Err(e) => item.error = Some(format!("this charm cannot use the CSR: {e}")),
        }
        if let Some(entry) = certs.get(req.csr.as_str()) {
            item.certificate = Some(entry.certificate.clone());
            item.not_after = live_certificate(entry, parsed.as_ref().ok(), now);
            item.has_certificate = item.not_after.is_some();
            if entry.revoked {
                item.revoked = true;
                item.error = Some(
                    "revoked: its certificate was revoked (revoke-certificate) and this CSR is \
                     never signed again; the requirer must send a new CSR"
                        .into(),
                );
            }
        }
        if !item.has_certificate && item.error.is_none() {
            if let Some(msg) = errors.get(req.csr.as_str()) {
                item.error = Some(format!("refused: {msg}"));
            }
        }
        out.requests.push(item);
    }
}

/// Every request of the `certificates` relations (or only relation `only`), modern and legacy.
pub fn list_requests(hook: &Hook<'_>, only: Option<RelationId>) -> Result<Listing, ActionError> {
    let now = hook.now;
    let snaps = read_relations_for_action(hook, only)?;
    let mut out = Listing::default();
    let mut legacy_relations: BTreeMap<RelationId, String> = BTreeMap::new();
    for snap in &snaps {
        out.relations.insert(snap.id, snap.remote_app.clone());
        if legacy::speaks_legacy(&snap.units) {
            legacy_relations.insert(snap.id, snap.remote_app.clone());
        } else {
            modern_requests(snap, now, &mut out);
        }
    }
    if !legacy_relations.is_empty() {
        for c in legacy::manual::list_csrs(hook)? {
            let Some(application) = c.application(&legacy_relations) else {
                continue;
            };
            out.requests.push(ListedRequest {
                relation_id: c.relation_id,
                application,
                unit: c.requirer_unit.clone(),
                common_name: c.common_name.clone(),
                sans: c.sans.clone(),
                is_ca: c.is_ca,
                legacy: true,
                kind: Some(c.kind),
                csr: c.csr_pem.clone(),
                has_certificate: c.has_certificate,
                not_after: None,
                error: c.revoked.then(|| LEGACY_REVOKED.to_string()),
                revoked: c.revoked,
                certificate: c.certificate.clone(),
            });
        }
    }
    Ok(out)
}

/// Sets list result `key` (chunked when large, see [`set_json_list`]); returns the note for the
/// message when it was split.
fn set_request_list(
    results: &mut BTreeMap<String, String>,
    items: &[&ListedRequest],
    with_has_certificate: bool,
) -> Option<String> {
    let list: Vec<Value> = items
        .iter()
        .map(|r| r.to_json(with_has_certificate))
        .collect();
    let parts = set_json_list(results, "requests", &list);
    split_note("requests", parts)
}

fn provide_hint(app: &str) -> String {
    format!(
        "sign each CSR with your CA, then run: juju run {app}/leader provide-certificate \
         certificate-signing-request=\"$(base64 -w0 csr.pem)\" certificate=\"$(base64 -w0 cert.pem)\" \
         ca-certificate=\"$(base64 -w0 ca.pem)\" [ca-chain=\"$(base64 -w0 chain.pem)\"]"
    )
}

/// `get-outstanding-certificate-requests`.
pub fn get_outstanding_certificate_requests(hook: &Hook<'_>) -> Result<(), ActionError> {
    let only = relation_id_param(&hook.tools.action_get()?)?;
    let listing = list_requests(hook, only)?;
    let outstanding: Vec<&ListedRequest> = listing
        .requests
        .iter()
        .filter(|r| !r.has_certificate)
        .collect();
    let refused = outstanding.iter().filter(|r| r.error.is_some()).count();
    let mut results = BTreeMap::new();
    results.insert("count".to_string(), outstanding.len().to_string());
    let requests_note = set_request_list(&mut results, &outstanding, false);
    let scope = only.map_or(String::new(), |id| format!(" in relation {id}"));
    let message = if outstanding.is_empty() {
        let mut m = format!("{NO_OUTSTANDING}{scope}");
        if listing.relations.is_empty() && only.is_none() {
            m.push_str(&format!(
                " (no application is related yet: juju integrate {}:certificates <application>)",
                hook.app()
            ));
        }
        m
    } else {
        let mut m = format!(
            "{} outstanding certificate request{}{scope}",
            outstanding.len(),
            if outstanding.len() == 1 { "" } else { "s" }
        );
        if refused > 0 {
            m.push_str(&format!(
                " ({refused} refused by this charm, see their \"error\")"
            ));
        }
        m.push_str("; ");
        m.push_str(&provide_hint(hook.app()));
        m
    };
    let mut message = message;
    if let Some(note) = requests_note {
        message.push_str("; ");
        message.push_str(&note);
    }
    if !listing.rejected.is_empty() {
        let rejected: Vec<Value> = listing.rejected.iter().map(|r| json!(r)).collect();
        let parts = set_json_list(&mut results, "unreadable-requests", &rejected);
        if let Some(note) = split_note("unreadable-requests", parts) {
            message.push_str("; ");
            message.push_str(&note);
        }
    }
    results.insert("message".to_string(), message);
    hook.tools.action_set(&results)?;
    Ok(())
}

/// `get-certificate-request`.
pub fn get_certificate_request(hook: &Hook<'_>) -> Result<(), ActionError> {
    let Some(id) = relation_id_param(&hook.tools.action_get()?)? else {
        return Err(fail(format!(
            "missing parameter relation-id: run juju run {app}/leader get-certificate-request relation-id=<id>; \
             the ids are listed by juju run {app}/leader get-outstanding-certificate-requests",
            app = hook.app()
        )));
    };
    let listing = list_requests(hook, Some(id))?;
    let all: Vec<&ListedRequest> = listing.requests.iter().collect();
    let outstanding = all.iter().filter(|r| !r.has_certificate).count();
    let application = listing.relations.get(&id).cloned().unwrap_or_default();
    let mut results = BTreeMap::new();
    results.insert("relation-id".to_string(), id.to_string());
    results.insert("application".to_string(), application.clone());
    results.insert("count".to_string(), all.len().to_string());
    results.insert("outstanding".to_string(), outstanding.to_string());
    let requests_note = set_request_list(&mut results, &all, true);
    let mut message = if all.is_empty() {
        format!("relation {id} ({application}) has no certificate requests")
    } else {
        format!(
            "relation {id} ({application}): {} request(s), {outstanding} without a certificate",
            all.len()
        )
    };
    if let Some(note) = requests_note {
        message.push_str("; ");
        message.push_str(&note);
    }
    results.insert("message".to_string(), message);
    hook.tools.action_set(&results)?;
    Ok(())
}

/// Reads the relations an action looks at: all of them, or only `only` (which must exist).
pub fn read_relations_for_action(
    hook: &Hook<'_>,
    only: Option<RelationId>,
) -> Result<Vec<RelationSnapshot>, ActionError> {
    let ids = snapshot::relation_ids(hook, ENDPOINT)?;
    let wanted: Vec<RelationId> = match only {
        None => ids,
        Some(id) if ids.contains(&id) => vec![id],
        Some(id) => {
            let live: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
            return Err(fail(format!(
                "relation-id {id} is not a certificates relation of this application (live relations: {}); \
                 see `juju show-unit {}` or get-issued-certificates without relation-id",
                if live.is_empty() { "none".to_string() } else { live.join(", ") },
                hook.unit()
            )));
        }
    };
    Ok(snapshot::read_relations(hook, &wanted)?)
}

/// One published certificate as `get-issued-certificates` shows it.
fn describe_certificate(
    rel: RelationId,
    source: Option<&RequestSource>,
    remote_app: &str,
    cert: &X509,
    revoked: bool,
) -> Value {
    let info = verify::cert_info(cert);
    let sans = san::san_strings(&info.sans);
    let (requirer, kind) = match source {
        Some(RequestSource::Unit(u)) => (u.clone(), "unit"),
        Some(RequestSource::App(a)) => (a.clone(), "app"),
        None => (remote_app.to_string(), "unknown"),
    };
    let mut v = json!({
        "relation-id": rel.0,
        "requirer": requirer,
        "requirer-type": kind,
        "common-name": info.common_name.unwrap_or_default(),
        "sans": sans,
        "serial": info.serial_hex,
        "not-after": clock::rfc3339(info.not_after),
        "is-ca": info.is_ca,
        "issuer": info.issuer,
    });
    v["application_name"] = json!(remote_app);
    if let Some(RequestSource::Unit(u)) = source {
        v["unit_name"] = json!(u);
    }
    if revoked {
        v["revoked"] = Value::Bool(true);
    }
    v
}

/// `get-issued-certificates`.
pub fn get_issued_certificates(hook: &Hook<'_>) -> Result<(), ActionError> {
    let only = relation_id_param(&hook.tools.action_get()?)?;
    let snaps = read_relations_for_action(hook, only)?;
    let mut list = Vec::new();
    for snap in &snaps {
        let requests = snap.requests();
        let sources: HashMap<&str, &RequestSource> = requests
            .requests
            .iter()
            .map(|r| (r.csr.as_str(), &r.source))
            .collect();
        let (published, _) = snap.published();
        for entry in &published.certificates {
            let Ok(cert) = X509::from_pem(entry.certificate.as_bytes()) else {
                continue;
            };
            list.push(describe_certificate(
                snap.id,
                sources
                    .get(entry.certificate_signing_request.as_str())
                    .copied(),
                &snap.remote_app,
                &cert,
                entry.revoked,
            ));
        }
    }
    let mut results = BTreeMap::new();
    results.insert("count".to_string(), list.len().to_string());
    if list.is_empty() {
        results.insert(
            "message".to_string(),
            "no certificates are published (yet)".to_string(),
        );
    }
    let parts = set_json_list(&mut results, "certificates", &list);
    if let Some(note) = split_note("certificates", parts) {
        results.insert(
            "message".to_string(),
            format!("{} certificates are published; {note}", list.len()),
        );
    }
    hook.tools.action_set(&results)?;
    Ok(())
}
