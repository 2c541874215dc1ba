//! Manual mode actions (issue 5): operators answer certificate requests by hand.
//!
//! `actions.rs` dispatches the three actions here after its leadership check (a non-leader fails
//! with `run this action on the leader unit: juju run <app>/leader <action>`).
//!
//! - `get-outstanding-certificate-requests [relation-id=N]`: results `requests` (a JSON list, one
//!   object per CSR that has no certificate), `count`, and `message` (always; for an empty list
//!   `no outstanding certificate requests`), plus `unreadable-requests` (a JSON list of reasons)
//!   when some requirer data could not be read at all. Works in both modes: in self-signed mode it lists what
//!   the built-in CA refused (with the refusal in `error`) or has not signed yet.
//! - `get-certificate-request relation-id=N`: every CSR of that relation, the same objects plus
//!   `has-certificate` (and `not-after` when it has one); results `requests`, `count`,
//!   `outstanding`, `relation-id`, `application`, `message`.
//! - `provide-certificate`: checks what the operator hands in and publishes it exactly as the
//!   built-in CA would (one `certificates` entry: `ca`, the requirer's CSR string echoed byte for
//!   byte, `certificate`, leaf-first `chain`) with one `relation-set --app`. Results `result`,
//!   `relation-id`, `application`, `unit` or `app-level`, `common-name`, `legacy`, and `note`
//!   when the same certificate was already published (nothing written).
//!
//! Large lists are split (see `actions::set_json_list`): `requests`, `requests-2`, ...,
//! `requests-parts=N` (likewise `unreadable-requests`), and the `message` says so.
//!
//! Request objects: `relation-id`, `application`, `unit` (absent for app-level requests),
//! `app-level`, `common-name`, `dns-sans`, `ip-sans`, `oid-sans`, `is-ca`, `legacy`, `csr`, and
//! when relevant `error` (why the request was refused) and `kind` (legacy requests: `server`,
//! `client`, `application`, `intermediate`, `shared-client`). Legacy requests (whose key and CSR
//! this charm generated on the requirer's behalf) name the requirer unit as the requirer does
//! (`etcd_0`); the shared legacy client certificate has `relation-id` null.
//!
//! `provide-certificate` rules:
//! - PEM parameters may be plain PEM or base64 of the PEM file (`base64 -w0 file.pem`; line-wrapped
//!   base64 and missing padding are accepted).
//! - The CSR is matched by its DER (whitespace, CRLF and line wrapping do not matter), and the
//!   entry echoes the requirer's exact string.
//! - Chain: without `ca-chain`, `[certificate, ca-certificate]`. With `ca-chain`, the chain is
//!   `ca-chain` when it starts with the leaf, else the leaf followed by `ca-chain` (so both
//!   `[leaf, intermediate..., root]` and `[intermediate..., root]` are accepted). When
//!   `ca-certificate` is not in it, it is inserted after the leaf if it signed the leaf (and was
//!   issued by the next element, if any), or appended if it issued the last element. The chain
//!   must then be leaf-first with each certificate issued by the next.
//! - `ca-certificate` must have issued `certificate`, or (with `ca-chain`) be one of the chain's
//!   CAs above the leaf (e.g. the root when an intermediate signed the leaf). It is published as
//!   `ca`.
//! - The certificate, `ca-certificate` and every chain element must be valid now; the certificate's
//!   public key must be the CSR's; its BasicConstraints CA flag must equal the request's `ca`.
//! - Nothing is written unless every check passes; success is reported only after the entry was
//!   read back from the relation. A reconcile then refreshes the leader's status (it writes no
//!   relation data: the entry is what it would keep).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::SystemTime;

use juju_hook::{HookContext, HookTools, LogLevel, Member, RelationId};
use openssl::x509::X509;
use serde_json::{json, Map, Value};

use super::actions::{read_relations_for_action, relation_id_param, set_json_list, split_note};
use super::config::{Config, Mode};
use super::reconcile::{self, ReconcileOptions};
use super::snapshot::{RelationSnapshot, RequestSource};
use super::{clock, legacy, publish, status, CharmError};
use crate::pki::chain::{self, CertRole, ChainError};
use crate::pki::sign::cert_to_pem;
use crate::pki::{
    csr_der, san, verify, CsrError, ParsedCsr, PkiError, San, MAX_CERTS_PEM_BYTES,
    MAX_CSR_PEM_BYTES,
};
use crate::protocol::json_type;
use crate::protocol::modern::{ProviderAppData, ProviderCertificate};

/// The `message` of an empty outstanding list.
pub const NO_OUTSTANDING: &str = "no outstanding certificate requests";

fn failed(msg: impl Into<String>) -> CharmError {
    CharmError::ActionFailed(msg.into())
}

// ---------------------------------------------------------------------------------------------
// Listing requests
// ---------------------------------------------------------------------------------------------

/// One request as the listing actions show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedRequest {
    /// `None` for the shared legacy client certificate.
    pub relation_id: Option<RelationId>,
    pub application: String,
    /// The requirer unit; `None` for app-level requests.
    pub unit: Option<String>,
    pub common_name: String,
    pub dns_sans: Vec<String>,
    pub ip_sans: Vec<String>,
    pub oid_sans: Vec<String>,
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
        m.insert("common-name".into(), json!(self.common_name));
        m.insert("dns-sans".into(), json!(self.dns_sans));
        m.insert("ip-sans".into(), json!(self.ip_sans));
        m.insert("oid-sans".into(), json!(self.oid_sans));
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

fn split_sans(sans: &[String]) -> (Vec<String>, Vec<String>) {
    let (ips, dns): (Vec<&String>, Vec<&String>) = sans
        .iter()
        .partition(|s| matches!(San::from_name(s), San::Ip(_)));
    (
        dns.into_iter().cloned().collect(),
        ips.into_iter().cloned().collect(),
    )
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
        if !verify::public_key_matches(&cert, &csr.req) {
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
            dns_sans: Vec::new(),
            ip_sans: Vec::new(),
            oid_sans: Vec::new(),
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
        };
        match &parsed {
            Ok(p) => {
                item.common_name = p.common_name.clone().unwrap_or_default();
                item.dns_sans = san::dns_names(&p.sans).map(String::from).collect();
                item.ip_sans = san::ip_addrs(&p.sans).map(|i| i.to_string()).collect();
                item.oid_sans = san::oids(&p.sans).map(String::from).collect();
            }
            Err(e) => item.error = Some(format!("this charm cannot use the CSR: {e}")),
        }
        if let Some(entry) = certs.get(req.csr.as_str()) {
            item.not_after = live_certificate(entry, parsed.as_ref().ok(), now);
            item.has_certificate = item.not_after.is_some();
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
pub fn list_requests(
    ctx: &HookContext,
    tools: &dyn HookTools,
    only: Option<RelationId>,
    now: SystemTime,
) -> Result<Listing, CharmError> {
    let snaps = read_relations_for_action(ctx, tools, only)?;
    let mut out = Listing::default();
    let mut legacy_relations: BTreeMap<RelationId, String> = BTreeMap::new();
    for snap in &snaps {
        out.relations.insert(snap.id, snap.remote_app.clone());
        if legacy::needs_legacy(&snap.units, None) {
            legacy_relations.insert(snap.id, snap.remote_app.clone());
        } else {
            modern_requests(snap, now, &mut out);
        }
    }
    if !legacy_relations.is_empty() {
        for c in legacy::list_csrs(tools)? {
            let application = match c.relation_id {
                Some(id) => match legacy_relations.get(&id) {
                    Some(app) => app.clone(),
                    None => continue,
                },
                // The shared client certificate is published on every legacy relation.
                None => legacy_relations
                    .values()
                    .cloned()
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect::<Vec<_>>()
                    .join(","),
            };
            let (dns_sans, ip_sans) = split_sans(&c.sans);
            out.requests.push(ListedRequest {
                relation_id: c.relation_id,
                application,
                unit: c.requirer_unit.clone(),
                common_name: c.common_name.clone(),
                dns_sans,
                ip_sans,
                oid_sans: Vec::new(),
                is_ca: c.is_ca,
                legacy: true,
                kind: Some(c.kind),
                csr: c.csr_pem.clone(),
                has_certificate: c.has_certificate,
                not_after: None,
                error: None,
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
pub fn get_outstanding_certificate_requests(
    ctx: &HookContext,
    tools: &dyn HookTools,
) -> Result<(), CharmError> {
    let params = tools.action_get()?;
    let only = relation_id_param(&params)?;
    let listing = list_requests(ctx, tools, only, SystemTime::now())?;
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
                ctx.app_name
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
        m.push_str(&provide_hint(&ctx.app_name));
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
    tools.action_set(&results)?;
    Ok(())
}

/// `get-certificate-request`.
pub fn get_certificate_request(ctx: &HookContext, tools: &dyn HookTools) -> Result<(), CharmError> {
    let params = tools.action_get()?;
    let Some(id) = relation_id_param(&params)? else {
        return Err(failed(format!(
            "missing parameter relation-id: run juju run {app}/leader get-certificate-request relation-id=<id>; \
             the ids are listed by juju run {app}/leader get-outstanding-certificate-requests",
            app = ctx.app_name
        )));
    };
    let listing = list_requests(ctx, tools, Some(id), SystemTime::now())?;
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
    tools.action_set(&results)?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// provide-certificate
// ---------------------------------------------------------------------------------------------

const P_CSR: &str = "certificate-signing-request";
const P_CERT: &str = "certificate";
const P_CA: &str = "ca-certificate";
const P_CHAIN: &str = "ca-chain";
const P_UNIT: &str = "unit-name";

fn usage(app: &str) -> String {
    format!(
        "juju run {app}/leader provide-certificate certificate-signing-request=\"$(base64 -w0 csr.pem)\" \
         certificate=\"$(base64 -w0 certificate.pem)\" ca-certificate=\"$(base64 -w0 ca.pem)\" \
         [ca-chain=\"$(base64 -w0 chain.pem)\"] [relation-id=<id>] [unit-name=<unit>]"
    )
}

/// The string parameters `names`: `Ok(None)` when absent, null or blank.
fn string_param(params: &Map<String, Value>, name: &str) -> Result<Option<String>, CharmError> {
    match params.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(failed(format!(
            "parameter {name} must be a string (PEM, or base64-encoded PEM), not {}; \
             quote it: {name}=\"$(base64 -w0 file.pem)\"",
            json_type(other)
        ))),
    }
}

/// Plain PEM or base64 of a PEM file → the PEM text. `what` names the PEM type expected.
pub fn decode_pem_param(name: &str, value: &str) -> Result<String, CharmError> {
    use base64::Engine;
    let limit = MAX_CERTS_PEM_BYTES;
    if value.len() > limit {
        return Err(failed(format!(
            "parameter {name} is {} bytes, more than the {limit} accepted",
            value.len()
        )));
    }
    if value.contains("-----BEGIN ") {
        return Ok(value.to_string());
    }
    let hint = format!("pass the PEM file base64-encoded: {name}=\"$(base64 -w0 file.pem)\"");
    let compact: String = value.chars().filter(|c| !c.is_whitespace()).collect();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(&compact)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(&compact))
        .map_err(|e| {
            failed(format!(
                "parameter {name} cannot be decoded: it is not PEM (no -----BEGIN line) and not valid base64 ({e}); {hint}"
            ))
        })?;
    let text = String::from_utf8(decoded).map_err(|_| {
        failed(format!(
            "parameter {name} cannot be decoded: its base64 decodes to binary data, not PEM text \
             (DER? convert it first with: openssl x509 -inform der -in file.der -out file.pem); {hint}"
        ))
    })?;
    if !text.contains("-----BEGIN ") {
        return Err(failed(format!(
            "parameter {name} cannot be decoded: its base64 decodes to text without a -----BEGIN line, not PEM; {hint}"
        )));
    }
    Ok(text)
}

/// The operator's message for a chain that `provide-certificate` cannot use.
fn chain_failure(e: ChainError) -> CharmError {
    let what = |which: CertRole, subject: &str| match which {
        CertRole::Leaf => P_CERT.to_string(),
        CertRole::Ca => format!("{P_CA} ({subject})"),
        CertRole::ChainMember { position } => {
            format!("certificate {position} of the chain ({subject})")
        }
    };
    match e {
        ChainError::NotSignedByCa {
            issuer,
            ca_subject,
            same_name,
        } => failed(format!(
            "{P_CERT} is not signed by {P_CA}: the certificate's issuer is \"{issuer}\" and \
             {P_CA} is \"{ca_subject}\"{}; pass the CA that signed the certificate as {P_CA} \
             (with an intermediate CA: the intermediate, or the root together with {P_CHAIN} \
             holding the intermediate)",
            if same_name { chain::SAME_NAME_NOTE } else { "" }
        )),
        e @ (ChainError::Unordered { .. } | ChainError::Empty) => failed(format!(
            "{P_CHAIN} is not in order: {e}. The chain is used leaf first (the leaf may be \
             left out of {P_CHAIN}: it is put in front), each certificate followed by the \
             one that issued it, e.g. {P_CHAIN}=\"$(cat intermediate.pem root.pem | base64 -w0)\""
        )),
        ChainError::Expired {
            which,
            subject,
            not_after,
            now,
        } => failed(format!(
            "{} has expired: it was valid until {} (now {}); get a new one from your CA",
            what(which, &subject),
            clock::rfc3339(not_after),
            clock::rfc3339(now)
        )),
        ChainError::NotYetValid {
            which,
            subject,
            not_before,
            now,
        } => failed(format!(
            "{} is not valid yet: it is valid from {} (now {}); check the CA's clock, or wait \
             until then",
            what(which, &subject),
            clock::rfc3339(not_before),
            clock::rfc3339(now)
        )),
        ChainError::OpenSsl(e) => PkiError::from(e).into(),
    }
}

/// Where a CSR was found.
#[derive(Clone, Debug)]
struct Location {
    relation_id: Option<RelationId>,
    application: String,
    /// Modern: requirer unit (`None` = app-level). Legacy: the unit as it names itself.
    unit: Option<String>,
    is_ca: bool,
    /// The CSR string exactly as the requirer wrote it.
    csr_exact: String,
    legacy: bool,
    common_name: String,
}

impl Location {
    fn describe(&self) -> String {
        let rel = self
            .relation_id
            .map_or("no relation (shared legacy client)".to_string(), |r| {
                format!("relation {r}")
            });
        match &self.unit {
            Some(u) => format!("{rel} (unit {u} of {})", self.application),
            None => format!("{rel} (app-level request of {})", self.application),
        }
    }
}

/// `unit-name` matches `unit` (also in the legacy `app_0` spelling).
fn unit_matches(given: &str, unit: &str) -> bool {
    let norm = |s: &str| s.trim().replace('/', "_");
    norm(given) == norm(unit)
}

/// `provide-certificate`.
pub fn provide_certificate(ctx: &HookContext, tools: &dyn HookTools) -> Result<(), CharmError> {
    provide_certificate_at(ctx, tools, SystemTime::now())
}

/// [`provide_certificate`] at an explicit "now" (validity checks).
pub fn provide_certificate_at(
    ctx: &HookContext,
    tools: &dyn HookTools,
    now: SystemTime,
) -> Result<(), CharmError> {
    let app = ctx.app_name.as_str();
    let params = tools.action_get()?;

    // 1. Parameters present.
    let mut missing = Vec::new();
    let mut get = |name: &'static str| -> Result<Option<String>, CharmError> {
        let v = string_param(&params, name)?;
        if v.is_none() {
            missing.push(name);
        }
        Ok(v)
    };
    let csr_raw = get(P_CSR)?;
    let cert_raw = get(P_CERT)?;
    let ca_raw = get(P_CA)?;
    if !missing.is_empty() {
        return Err(failed(format!(
            "missing parameter{} {}: run {}",
            if missing.len() == 1 { "" } else { "s" },
            missing.join(", "),
            usage(app)
        )));
    }
    let (csr_raw, cert_raw, ca_raw) = (
        csr_raw.expect("checked"),
        cert_raw.expect("checked"),
        ca_raw.expect("checked"),
    );
    let chain_raw = string_param(&params, P_CHAIN)?;
    let unit_name = string_param(&params, P_UNIT)?;
    let relation = relation_id_param(&params)?;

    // 2. Decode (base64 or PEM).
    let csr_text = decode_pem_param(P_CSR, &csr_raw)?;
    let cert_text = decode_pem_param(P_CERT, &cert_raw)?;
    let ca_text = decode_pem_param(P_CA, &ca_raw)?;
    let chain_text = chain_raw
        .as_deref()
        .map(|c| decode_pem_param(P_CHAIN, c))
        .transpose()?;

    // 3. Parse.
    let csr = ParsedCsr::parse(&csr_text).map_err(|e| match e {
        CsrError::NotPem(_) | CsrError::TooLarge(_) => failed(format!(
            "{P_CSR} is not a certificate signing request: {e}; pass the CSR exactly as \
             get-outstanding-certificate-requests lists it"
        )),
        other => failed(format!(
            "{P_CSR} cannot be answered: {other}; this charm refuses such a request, so a \
             certificate for it would not be kept (the requirer must send a new CSR)"
        )),
    })?;
    let leaf = match verify::parse_certs(&cert_text) {
        Ok(mut v) if v.len() == 1 => v.remove(0),
        Ok(v) => {
            return Err(failed(format!(
                "{P_CERT} holds {} certificates; pass only the certificate issued for the CSR in \
                 {P_CERT}, the CA that signed it in {P_CA}, and the rest of the chain in {P_CHAIN}",
                v.len()
            )))
        }
        Err(e) => {
            return Err(failed(format!(
            "{P_CERT} is not a certificate: {e}; pass the signed certificate (PEM, or base64 of \
                 the PEM file)"
        )))
        }
    };
    let ca = match verify::parse_certs(&ca_text) {
        Ok(mut v) if v.len() == 1 => v.remove(0),
        Ok(v) => {
            return Err(failed(format!(
                "{P_CA} holds {} certificates; pass only the CA certificate that signed {P_CERT} \
                 in {P_CA}, and the chain (intermediates, root) in {P_CHAIN}",
                v.len()
            )))
        }
        Err(e) => {
            return Err(failed(format!(
                "{P_CA} is not a certificate: {e}; pass the CA certificate (PEM, or base64 of the \
                 PEM file)"
            )))
        }
    };
    let given_chain = match &chain_text {
        None => None,
        Some(t) => Some(verify::parse_certs(t).map_err(|e| {
            failed(format!(
                "{P_CHAIN} is not a list of certificates: {e}; pass the PEM certificates of the \
                 chain concatenated (leaf first, or starting with the leaf's issuer)"
            ))
        })?),
    };

    // 4. The certificate is for the CSR's key.
    if !verify::public_key_matches(&leaf, &csr.req) {
        return Err(failed(format!(
            "the public key of {P_CERT} ({}) is not the public key of the CSR: it was not issued \
             for this certificate signing request; sign exactly the CSR you pass as {P_CSR}",
            verify::subject_string(&leaf)
        )));
    }

    // 5. Signed by ca-certificate, and the chain. 6. Validity now.
    let chain = chain::verify_chain(&leaf, &ca, given_chain, now).map_err(chain_failure)?;

    // 7. Where the CSR is.
    let want = csr.der.clone();
    let snaps = read_relations_for_action(ctx, tools, None)?;
    let mut found: Vec<Location> = Vec::new();
    let mut legacy_relations: BTreeMap<RelationId, String> = BTreeMap::new();
    let mut by_id: HashMap<RelationId, &RelationSnapshot> = HashMap::new();
    for snap in &snaps {
        by_id.insert(snap.id, snap);
        if legacy::needs_legacy(&snap.units, None) {
            legacy_relations.insert(snap.id, snap.remote_app.clone());
            continue;
        }
        for req in snap.requests().requests {
            let same = req.csr == csr_text || csr_der(&req.csr).as_deref() == Some(want.as_slice());
            if !same {
                continue;
            }
            let (unit, application) = match &req.source {
                RequestSource::Unit(u) => (Some(u.clone()), snap.remote_app.clone()),
                RequestSource::App(a) => (None, a.clone()),
            };
            found.push(Location {
                relation_id: Some(snap.id),
                application,
                unit,
                is_ca: req.is_ca,
                csr_exact: req.csr.clone(),
                legacy: false,
                common_name: csr.common_name.clone().unwrap_or_default(),
            });
        }
    }
    if !legacy_relations.is_empty() {
        for c in legacy::list_csrs(tools)? {
            if csr_der(&c.csr_pem).as_deref() != Some(want.as_slice()) {
                continue;
            }
            let application = match c.relation_id {
                Some(id) => match legacy_relations.get(&id) {
                    Some(a) => a.clone(),
                    None => continue,
                },
                None => legacy_relations
                    .values()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(","),
            };
            found.push(Location {
                relation_id: c.relation_id,
                application,
                unit: c.requirer_unit.clone(),
                is_ca: c.is_ca,
                csr_exact: c.csr_pem.clone(),
                legacy: true,
                common_name: c.common_name.clone(),
            });
        }
    }
    let list_hint = format!("juju run {app}/leader get-outstanding-certificate-requests");
    if found.is_empty() {
        return Err(failed(match relation {
            None => format!(
                "{P_CSR} was not found in any relation: no requirer asks for it now (it may have \
                 been replaced by a renewal or a configuration change); list the current requests \
                 with `{list_hint}` and sign one of those"
            ),
            Some(id) => format!(
                "{P_CSR} was not found in relation {id}{} nor in any other relation: no requirer \
                 asks for it now (it may have been replaced by a renewal or a configuration \
                 change); list the current requests with `{list_hint}` and sign one of those",
                if by_id.contains_key(&id) {
                    ""
                } else {
                    " (which is not a certificates relation of this application)"
                }
            ),
        }));
    }
    let describe_all = |locs: &[&Location]| {
        locs.iter()
            .map(|l| l.describe())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut candidates: Vec<&Location> = found.iter().collect();
    if let Some(id) = relation {
        let in_rel: Vec<&Location> = candidates
            .iter()
            .copied()
            // The shared legacy client CSR belongs to every legacy relation.
            .filter(|l| {
                l.relation_id == Some(id)
                    || (l.relation_id.is_none() && legacy_relations.contains_key(&id))
            })
            .collect();
        if in_rel.is_empty() {
            return Err(failed(format!(
                "relation-id {id} does not match: {P_CSR} is not in relation {id}, it is in {}; \
                 run again with relation-id set to that relation (or without relation-id)",
                describe_all(&candidates)
            )));
        }
        candidates = in_rel;
    } else {
        let relations: BTreeSet<Option<RelationId>> =
            candidates.iter().map(|l| l.relation_id).collect();
        if relations.len() > 1 {
            let ids: Vec<String> = relations.iter().flatten().map(|r| r.to_string()).collect();
            return Err(failed(format!(
                "{P_CSR} is in several relations: {}; run again with relation-id=<one of {}> to \
                 say which one receives the certificate",
                describe_all(&candidates),
                ids.join(", ")
            )));
        }
    }
    if let Some(u) = &unit_name {
        let matching: Vec<&Location> = candidates
            .iter()
            .copied()
            .filter(|l| l.unit.as_deref().is_some_and(|x| unit_matches(u, x)))
            .collect();
        if matching.is_empty() {
            let what = if candidates.iter().all(|l| l.unit.is_none()) {
                format!(
                    "{P_CSR} is an app-level request, not a unit's: {}; run again without unit-name",
                    describe_all(&candidates)
                )
            } else {
                format!(
                    "{P_CSR} comes from {}; run again with unit-name set to that unit (or without \
                     unit-name)",
                    describe_all(&candidates)
                )
            };
            return Err(failed(format!("unit-name {u} does not match: {what}")));
        }
        candidates = matching;
    }

    // 8. The CA flag agrees with the request.
    let cert_is_ca = verify::is_ca(&leaf);
    for l in &candidates {
        if l.is_ca && !cert_is_ca {
            return Err(failed(format!(
                "the request asks for a CA certificate (ca: true) but {P_CERT} is not a CA \
                 certificate (no basicConstraints CA:TRUE), so the requirer would ignore it; sign \
                 the CSR as a CA (openssl: -extfile with basicConstraints=critical,CA:TRUE and \
                 keyUsage=critical,keyCertSign,cRLSign)"
            )));
        }
        if !l.is_ca && cert_is_ca {
            return Err(failed(format!(
                "the request is for a non-CA certificate (ca: false) but {P_CERT} is a CA \
                 certificate (basicConstraints CA:TRUE), so the requirer would ignore it; sign it \
                 as an end-entity certificate (basicConstraints=CA:FALSE)"
            )));
        }
    }

    // 9. Publish.
    let leaf_pem = cert_to_pem(&leaf);
    let ca_pem = cert_to_pem(&ca);
    let chain_pems: Vec<String> = chain.iter().map(cert_to_pem).collect();
    let target = candidates[0].clone();
    let mut results = BTreeMap::new();
    if target.legacy {
        publish_legacy(
            tools,
            ctx,
            &target,
            relation,
            &leaf_pem,
            &chain_pems,
            &ca_pem,
            now,
        )?;
    } else {
        let id = target.relation_id.expect("modern requests have a relation");
        let snap = by_id.get(&id).copied().expect("read above");
        let (mut data, _) = snap.published();
        let exact: BTreeSet<&str> = candidates
            .iter()
            .filter(|l| l.relation_id == Some(id) && !l.legacy)
            .map(|l| l.csr_exact.as_str())
            .collect();
        for csr_exact in &exact {
            data.upsert_certificate(ProviderCertificate {
                ca: ca_pem.clone(),
                certificate_signing_request: csr_exact.to_string(),
                certificate: leaf_pem.clone(),
                chain: chain_pems.clone(),
                revoked: false,
            });
        }
        let (wrote, _) = publish::write(tools, snap, &mut data)?;
        // Never report success without the entry being there: read it back.
        let bag = tools.relation_get(id, &Member::App(ctx.app_name.clone()))?;
        let (back, _) = ProviderAppData::from_databag(&bag);
        let present = exact.iter().all(|c| {
            back.certificates.iter().any(|e| {
                e.certificate_signing_request == *c && e.certificate == leaf_pem && !e.revoked
            })
        });
        if !present {
            return Err(failed(format!(
                "the certificate could not be published on relation {id}: it is not in the relation \
                 data after writing; check `juju debug-log` and retry"
            )));
        }
        if !wrote {
            results.insert(
                "note".to_string(),
                "this certificate was already published for this request; nothing changed"
                    .to_string(),
            );
        }
    }
    let who = match &target.unit {
        Some(u) => format!("unit {u}"),
        None => format!("application {} (app-level request)", target.application),
    };
    let rel_text = target
        .relation_id
        .map_or("every legacy relation".to_string(), |r| {
            format!("relation {r}")
        });
    results.insert(
        "result".to_string(),
        format!(
            "certificate for {} published on {rel_text} for {who} (application {})",
            if target.common_name.is_empty() {
                verify::subject_string(&leaf)
            } else {
                format!("CN={}", target.common_name)
            },
            target.application
        ),
    );
    results.insert(
        "relation-id".to_string(),
        target.relation_id.map_or(String::new(), |r| r.to_string()),
    );
    results.insert("application".to_string(), target.application.clone());
    match &target.unit {
        Some(u) => {
            results.insert("unit".to_string(), u.clone());
        }
        None => {
            results.insert("app-level".to_string(), "true".to_string());
        }
    }
    results.insert("common-name".to_string(), target.common_name.clone());
    results.insert("legacy".to_string(), target.legacy.to_string());
    results.retain(|_, v| !v.is_empty());
    // Refresh the leader's status (the outstanding count) now rather than at the next hook. The
    // published data is already what the reconcile wants, so it writes no relation data.
    if let Err(e) = reconcile::reconcile_at(ctx, tools, now, ReconcileOptions::default()) {
        status::log(
            tools,
            LogLevel::Warning,
            &format!("provide-certificate: status not refreshed: {e}"),
        );
    }
    tools.action_set(&results)?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn publish_legacy(
    tools: &dyn HookTools,
    ctx: &HookContext,
    target: &Location,
    relation: Option<RelationId>,
    leaf_pem: &str,
    chain_pems: &[String],
    ca_pem: &str,
    now: SystemTime,
) -> Result<(), CharmError> {
    let config = Config::from_map(&tools.config_get()?).map_err(|e| {
        failed(format!(
            "cannot provide a certificate for a legacy request while the configuration is \
             invalid ({}); fix it with `juju config {}`",
            e.summary(),
            ctx.app_name
        ))
    })?;
    if config.mode != Mode::Manual {
        return Err(failed(format!(
            "this CSR belongs to a legacy requirer, whose certificates the built-in CA signs in \
             self-signed mode; to provide them yourself set `juju config {} mode=manual` first",
            ctx.app_name
        )));
    }
    let env = legacy::LegacyEnv {
        own_unit: &ctx.unit_name,
        is_leader: true,
        signer: legacy::Signer::Manual,
        policy: &config.policy,
        now,
    };
    let chain_text = chain_pems.join("\n");
    let done = legacy::complete_csr(
        tools,
        &env,
        &target.csr_exact,
        relation.or(target.relation_id),
        leaf_pem,
        Some(&chain_text),
        ca_pem,
    )?;
    if done.is_none() {
        return Err(failed(format!(
            "{P_CSR} was not found in any relation: the legacy request was replaced while this \
             action ran; list the current requests with `juju run {}/leader \
             get-outstanding-certificate-requests`",
            ctx.app_name
        )));
    }
    Ok(())
}
