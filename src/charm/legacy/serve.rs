//! One legacy relation's plan: every request becomes a job; each job reuses, re-signs or makes a
//! key and certificate in the store; the answers go into our unit databag.

use std::collections::{BTreeMap, BTreeSet};
use std::time::SystemTime;

use juju_hook::{Databag, RelationId};

use super::store::{Entry, Store};
use super::{LEGACY_KEY_ALGORITHM, MAX_NEW_KEYS_PER_RUN, SHARED_CLIENT_CN};
use crate::charm::ca::StoredCa;
use crate::charm::dialect::changes_over;
use crate::charm::dialect::{Counts, Plan};
use crate::charm::expiry;
use crate::charm::renewal::legacy_renew_at;
use crate::pki::csr::{csr_to_pem, generate_csr};
use crate::pki::keys::{private_key_from_pem, private_key_to_pem};
use crate::pki::sign::{cert_to_pem, issue, IssueRequest};
use crate::pki::verify::{asn1_to_system, issued_by, parse_certs};
use crate::pki::{Ca, ParsedCsr, Policy, San};
use crate::protocol::legacy::{self as proto, LegacyRequest, RequestKind};

/// Who signs legacy certificates.
#[derive(Clone, Copy, Debug)]
pub enum Signer<'a> {
    /// The built-in CA, with the configured `certificate-validity` in seconds.
    /// `stored.ca` signs; `ca` is its root and `chain` the CA chain above the leaf.
    BuiltIn {
        stored: &'a StoredCa,
        validity_secs: u64,
        /// `crl-distribution-url`.
        crl_url: Option<&'a str>,
    },
    /// Manual mode: nothing is signed here; certificates come from `provide-certificate`.
    Manual,
}

impl Signer<'_> {
    pub fn is_manual(&self) -> bool {
        matches!(self, Signer::Manual)
    }
}

/// What serving needs from the leader, and the per-hook key budget.
pub struct Serving<'a> {
    pub signer: Signer<'a>,
    pub policy: &'a Policy,
    /// The requirer application (for `application-domains`).
    pub app: &'a str,
    /// `certificate-limit` (0 = unlimited; the shared client certificate does not count).
    pub certificate_limit: usize,
    pub now: SystemTime,
    /// Keys generated so far in this hook (at most [`MAX_NEW_KEYS_PER_RUN`]).
    pub generated: usize,
    /// The earliest renewal point of the certificates served so far.
    pub due: Option<SystemTime>,
}

/// Why an entry could not be made.
enum EntryError {
    /// No key generated: [`MAX_NEW_KEYS_PER_RUN`] reached.
    Deferred,
    /// The request cannot be served (shown as a refusal).
    Failed(String),
}

impl From<String> for EntryError {
    fn from(s: String) -> Self {
        EntryError::Failed(s)
    }
}

/// One certificate a relation asks for.
struct Job<'p> {
    who: &'p str,
    id: String,
    unit: Option<&'p str>,
    kind: RequestKind,
    cn: String,
    sans: Vec<String>,
}

const APP_ENTRY_ID: &str = "application";

/// The store key of a unit's request (the kind as serialised, so `top-level-server` and
/// `server` entries with the same CN stay apart).
fn entry_id(unit: &str, kind: RequestKind, cn: &str) -> String {
    let kind = serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    format!("{unit}|{kind}|{cn}")
}

/// Whether `s` looks like a DNS name (letters, digits, `-`, `_`, `.`, `*`).
fn dns_like(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'*'))
}

/// The SANs that go in the certificate: the requested ones, plus the CN for server and
/// application certificates when it is an IP address or looks like a DNS name.
pub fn effective_sans(kind: Option<RequestKind>, cn: &str, sans: &[String]) -> Vec<String> {
    let mut set: BTreeSet<String> = sans.iter().cloned().collect();
    let with_cn = matches!(
        kind,
        Some(RequestKind::TopLevelServer | RequestKind::Server | RequestKind::Application)
    );
    if with_cn && (matches!(San::from_name(cn), San::Ip(_)) || dns_like(cn)) {
        set.insert(cn.to_string());
    }
    set.into_iter().collect()
}

/// Every request of the relation, in a stable order: units by name with their requests in
/// order, then the one application certificate (CN = the lowest requested application CN, SANs
/// = the union of every unit's application CNs and SANs).
fn jobs(parsed: &[proto::UnitRequests]) -> Vec<Job<'_>> {
    let mut jobs = Vec::new();
    let mut app_requests: Vec<&LegacyRequest> = Vec::new();
    for u in parsed {
        for r in &u.requests {
            if r.kind == RequestKind::Application {
                app_requests.push(r);
                continue;
            }
            jobs.push(Job {
                who: &u.remote_unit,
                id: entry_id(&u.unit_key, r.kind, &r.common_name),
                unit: Some(&u.unit_key),
                kind: r.kind,
                cn: r.common_name.clone(),
                sans: r.sans.clone(),
            });
        }
    }
    if let Some(cn) = app_requests.iter().map(|r| r.common_name.as_str()).min() {
        let mut names = BTreeSet::new();
        for r in &app_requests {
            names.insert(r.common_name.clone());
            names.extend(r.sans.iter().cloned());
        }
        jobs.push(Job {
            who: "the application",
            id: APP_ENTRY_ID.into(),
            unit: None,
            kind: RequestKind::Application,
            cn: cn.to_string(),
            sans: names.into_iter().collect(),
        });
    }
    jobs
}

impl Serving<'_> {
    /// The plan of one legacy relation: the shared client certificate, then every job; our unit
    /// databag answers them all (`own` is that databag as read).
    pub fn plan(
        &mut self,
        store: &mut Store,
        id: RelationId,
        parsed: &[proto::UnitRequests],
        own: &Databag,
    ) -> Plan {
        let mut plan = Plan::new(id);
        plan.counts.relations = 1;
        self.ensure_client(store, &mut plan);
        let old = store.doc.relations.remove(&id.0).unwrap_or_default();
        let mut new: BTreeMap<String, Entry> = BTreeMap::new();
        for job in jobs(parsed) {
            self.serve_job(&job, old.get(&job.id), &mut new, &mut plan);
        }
        let data = answers(self.signer, store, &new, parsed);
        if self.signer.is_manual() {
            let waiting = new.values().filter(|e| e.cert.is_none() && !e.revoked);
            plan.counts.outstanding += waiting.count();
        }
        plan.counts.published += new.values().filter(|e| e.cert.is_some()).count();
        plan.anchors = anchors(&data, store.doc.client.iter().chain(new.values()));
        let certs = new.values().map(|e| (e.unit.as_deref(), e.cert.as_deref()));
        plan.watched = expiry::of_legacy(self.app, certs);
        store.doc.relations.insert(id.0, new);
        plan.unit_changes = changes_over(own, &data.to_databag(), proto::is_provider_key);
        plan.due = self.due;
        plan
    }

    /// The shared client certificate, once per application.
    fn ensure_client(&mut self, store: &mut Store, plan: &mut Plan) {
        let old = store.doc.client.as_ref();
        match self.ensure_entry(old, None, None, SHARED_CLIENT_CN, &[], &mut plan.counts) {
            Ok(e) => store.doc.client = Some(e),
            Err(EntryError::Deferred) => plan.counts.deferred += 1,
            Err(EntryError::Failed(why)) => plan.notes.push(format!(
                "cannot make the shared legacy client certificate: {why}"
            )),
        }
    }

    fn serve_job(
        &mut self,
        job: &Job<'_>,
        old: Option<&Entry>,
        new: &mut BTreeMap<String, Entry>,
        plan: &mut Plan,
    ) {
        if let Err(why) = self.admit(job, new.len()) {
            return refuse(plan, job, &why);
        }
        let made = self.ensure_entry(
            old,
            job.unit,
            Some(job.kind),
            &job.cn,
            &job.sans,
            &mut plan.counts,
        );
        match made {
            Ok(e) => {
                new.insert(job.id.clone(), e);
            }
            Err(EntryError::Deferred) => {
                plan.counts.deferred += 1;
                // Keep serving what was there (for the previous SAN set) until then.
                if let Some(e) = old {
                    new.insert(job.id.clone(), e.clone());
                }
            }
            Err(EntryError::Failed(why)) => refuse(plan, job, &why),
        }
    }

    /// The policy and `certificate-limit` checks of one job (`served` = certificates so far).
    fn admit(&self, job: &Job<'_>, served: usize) -> Result<(), String> {
        if job.kind == RequestKind::Intermediate && !self.policy.allow_ca_requests {
            return Err(
                "intermediate (CA) certificates are not issued while allow-ca-requests \
                        is false; ask the operator to set allow-ca-requests=true"
                    .into(),
            );
        }
        let eff = effective_sans(Some(job.kind), &job.cn, &job.sans);
        self.policy
            .check_names_app(self.app, &job.cn, &eff, job.kind.is_ca())
            .map_err(|d| d.message)?;
        let limit = self.certificate_limit;
        if limit > 0 && served >= limit {
            return Err(format!(
                "certificate-limit reached: this relation already has {served} certificates \
                 (limit {limit}); remove unused requests, or ask the operator to raise \
                 certificate-limit (0 = unlimited)"
            ));
        }
        Ok(())
    }

    /// Reuses `old` when it answers the same request (same kind, unit, CN and SAN set), re-signing
    /// when needed; otherwise generates a new key and CSR (and, with the built-in CA, signs).
    /// Errors are per request (shown as a refusal), never hook failures.
    fn ensure_entry(
        &mut self,
        old: Option<&Entry>,
        unit: Option<&str>,
        kind: Option<RequestKind>,
        cn: &str,
        sans: &[String],
        counts: &mut Counts,
    ) -> Result<Entry, EntryError> {
        let same = old.filter(|e| {
            e.kind == kind && e.unit.as_deref() == unit && e.cn == cn && e.sans.as_slice() == sans
        });
        let mut entry = match same {
            // Revoked: kept as it is (no key, no certificate) until the request changes.
            Some(e) if e.revoked => return Ok(e.clone()),
            Some(e) => e.clone(),
            None => self.new_entry(unit, kind, cn, sans)?,
        };
        if let Signer::BuiltIn {
            stored,
            validity_secs,
            crl_url,
        } = self.signer
        {
            let mut renew_at = renewal_point(&entry, &stored.ca, validity_secs);
            if renew_at.is_none_or(|t| self.now >= t) {
                let had_cert = entry.cert.is_some();
                sign_entry(&mut entry, stored, (validity_secs, crl_url), self.now)?;
                counts.signed += 1;
                if had_cert {
                    counts.replaced += 1;
                }
                renew_at = renewal_point(&entry, &stored.ca, validity_secs);
            }
            if let Some(t) = renew_at {
                self.due = Some(self.due.map_or(t, |d| d.min(t)));
            }
        }
        Ok(entry)
    }

    /// A new key and CSR for a request (within this hook's key budget).
    fn new_entry(
        &mut self,
        unit: Option<&str>,
        kind: Option<RequestKind>,
        cn: &str,
        sans: &[String],
    ) -> Result<Entry, EntryError> {
        if self.generated >= MAX_NEW_KEYS_PER_RUN {
            return Err(EntryError::Deferred);
        }
        self.generated += 1;
        let key = LEGACY_KEY_ALGORITHM
            .generate()
            .map_err(|e| format!("cannot generate a key: {e}"))?;
        let eff = effective_sans(kind, cn, sans);
        let req = generate_csr(&key, cn, &eff).map_err(|e| format!("{e}"))?;
        Ok(Entry {
            kind,
            unit: unit.map(str::to_string),
            cn: cn.to_string(),
            sans: sans.to_vec(),
            key: private_key_to_pem(&key).map_err(|e| format!("{e}"))?,
            csr: csr_to_pem(&req).map_err(|e| format!("{e}"))?,
            cert: None,
            ca: None,
            chain: None,
            revoked: false,
        })
    }
}

fn refuse(plan: &mut Plan, job: &Job<'_>, why: &str) {
    plan.counts.denied += 1;
    plan.notes.push(format!(
        "relation {}: legacy {} certificate {:?} for {} refused: {why}",
        plan.relation,
        job.kind.as_str(),
        proto::shorten(&job.cn),
        job.who
    ));
}

fn sign_entry(
    entry: &mut Entry,
    stored: &StoredCa,
    (validity_secs, crl_url): (u64, Option<&str>),
    now: SystemTime,
) -> Result<(), String> {
    let ca = &stored.ca;
    let parsed = ParsedCsr::parse(&entry.csr).map_err(|e| format!("{e}"))?;
    let cert = issue(
        ca,
        &IssueRequest {
            crl_url,
            csr: &parsed,
            is_ca: entry.kind.is_some_and(RequestKind::is_ca),
            validity_secs,
            now,
        },
    )
    .map_err(|e| format!("{e}"))?;
    // The leaf followed by the intermediates (not the root), as for provided certificates.
    let mut text = cert_to_pem(&cert);
    if stored.is_intermediate() {
        let pems = stored.chain_pems();
        for p in &pems[..pems.len() - 1] {
            text.push('\n');
            text.push_str(p);
        }
    }
    entry.cert = Some(text);
    entry.ca = Some(stored.root_pem());
    entry.chain = None;
    Ok(())
}

/// With the built-in CA: when the entry's certificate must be renewed by the legacy rule, if it
/// has one issued by `ca` for the entry's key (`None`: it must be signed now).
fn renewal_point(e: &Entry, ca: &Ca, validity_secs: u64) -> Option<SystemTime> {
    let leaf = parse_certs(e.cert.as_ref()?).ok()?.into_iter().next()?;
    if !issued_by(&leaf, &ca.cert) {
        return None;
    }
    match (private_key_from_pem(&e.key), leaf.public_key()) {
        (Ok(k), Ok(p)) if k.public_eq(&p) => {}
        _ => return None,
    }
    Some(legacy_renew_at(
        asn1_to_system(leaf.not_after()),
        ca.not_after(),
        validity_secs,
    ))
}

/// The CAs that what we publish on a relation chains to: its `ca`, and for each certificate its
/// issuing CA and the root of the chain an operator provided (manual mode).
fn anchors<'e>(
    data: &proto::ProviderData,
    entries: impl Iterator<Item = &'e Entry>,
) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = data.ca.iter().cloned().collect();
    for e in entries.filter(|e| e.cert.is_some()) {
        out.extend(e.ca.iter().cloned());
        let root = e
            .chain
            .as_deref()
            .and_then(|c| crate::pki::parse_certs(c).ok())
            .and_then(|certs| certs.last().map(|r| crate::pki::trust::pem_of(r)));
        out.extend(root);
    }
    out
}

/// What our unit databag says on this relation: `ca`/`chain`, the shared client certificate, and
/// each unit's answers.
fn answers(
    signer: Signer<'_>,
    store: &Store,
    new: &BTreeMap<String, Entry>,
    parsed: &[proto::UnitRequests],
) -> proto::ProviderData {
    let mut data = proto::ProviderData::default();
    match signer {
        Signer::BuiltIn { stored, .. } => {
            data.ca = Some(stored.root_pem());
            data.chain = Some(stored.chain_pems().join("\n"));
        }
        Signer::Manual => {
            let source = store
                .doc
                .client
                .iter()
                .chain(new.values())
                .find(|e| e.cert.is_some() && e.ca.is_some());
            if let Some(e) = source {
                data.ca = e.ca.clone();
                data.chain = e.chain.clone().or_else(|| e.ca.clone());
            }
        }
    }
    data.client = store.doc.client.as_ref().and_then(Entry::cert_key);
    let app = new.get(APP_ENTRY_ID).and_then(Entry::cert_key);
    let by_unit = entries_by_unit(new);
    for u in parsed {
        let mine = by_unit
            .get(u.unit_key.as_str())
            .map_or(&[][..], Vec::as_slice);
        data.units
            .insert(u.unit_key.clone(), unit_answer(mine, app.clone()));
    }
    data
}

/// The entries of each requirer unit, in store order: one pass over the entries, instead of one
/// per unit (which made a relation with many units quadratic).
fn entries_by_unit(new: &BTreeMap<String, Entry>) -> BTreeMap<&str, Vec<&Entry>> {
    let mut by_unit: BTreeMap<&str, Vec<&Entry>> = BTreeMap::new();
    for e in new.values() {
        if let Some(unit) = e.unit.as_deref() {
            by_unit.entry(unit).or_default().push(e);
        }
    }
    by_unit
}

/// A unit's answer from its entries (`mine`, in store order).
fn unit_answer(mine: &[&Entry], application: Option<proto::CertKey>) -> proto::UnitAnswer {
    let mut a = proto::UnitAnswer {
        application,
        ..Default::default()
    };
    for e in mine {
        let Some(ck) = e.cert_key() else { continue };
        match e.kind {
            Some(RequestKind::TopLevelServer) => a.server = Some(ck),
            Some(RequestKind::Server) => {
                a.processed.insert(e.cn.clone(), ck);
            }
            Some(RequestKind::Client) => {
                a.client.insert(e.cn.clone(), ck);
            }
            Some(RequestKind::Intermediate) => {
                a.intermediate.insert(e.cn.clone(), ck);
            }
            Some(RequestKind::Application) | None => {}
        }
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(unit: Option<&str>, kind: RequestKind, cn: &str) -> Entry {
        Entry {
            kind: Some(kind),
            unit: unit.map(str::to_string),
            cn: cn.into(),
            sans: vec![],
            key: format!("key of {cn}"),
            csr: String::new(),
            cert: Some(format!("cert of {cn}")),
            ca: None,
            chain: None,
            revoked: false,
        }
    }

    fn store_of(entries: Vec<Entry>) -> BTreeMap<String, Entry> {
        entries
            .into_iter()
            .map(|e| {
                let id = match e.unit.as_deref() {
                    Some(u) => entry_id(u, e.kind.unwrap(), &e.cn),
                    None => APP_ENTRY_ID.to_string(),
                };
                (id, e)
            })
            .collect()
    }

    /// Each unit's answer from the index is the answer from scanning every entry (what this did
    /// before, once per unit).
    #[test]
    fn unit_answers_from_the_index_equal_a_scan_of_every_entry() {
        let new = store_of(vec![
            entry(Some("a_0"), RequestKind::TopLevelServer, "a0.example.com"),
            entry(Some("a_0"), RequestKind::Server, "s1.example.com"),
            entry(Some("a_0"), RequestKind::Server, "s2.example.com"),
            entry(Some("a_0"), RequestKind::Client, "c1"),
            entry(Some("a_1"), RequestKind::Intermediate, "int"),
            entry(Some("a_1"), RequestKind::Server, "s1.example.com"),
            entry(Some("a_2"), RequestKind::TopLevelServer, "a2.example.com"),
            entry(None, RequestKind::Application, "app.example.com"),
        ]);
        let app = new.get(APP_ENTRY_ID).and_then(Entry::cert_key);
        let by_unit = entries_by_unit(&new);
        for unit in ["a_0", "a_1", "a_2", "a_3"] {
            let scanned: Vec<&Entry> = new
                .values()
                .filter(|e| e.unit.as_deref() == Some(unit))
                .collect();
            let indexed = by_unit.get(unit).map_or(&[][..], Vec::as_slice);
            assert_eq!(indexed, scanned.as_slice(), "{unit}");
            let a = unit_answer(indexed, app.clone());
            assert_eq!(a, unit_answer(&scanned, app.clone()), "{unit}");
            assert_eq!(a.application, app);
        }
        let a0 = unit_answer(&by_unit["a_0"], None);
        assert_eq!(a0.server.unwrap().cert, "cert of a0.example.com");
        assert_eq!(a0.processed.len(), 2);
        assert_eq!(a0.client.len(), 1);
        assert_eq!(by_unit["a_1"].len(), 2);
    }

    /// A relation with thousands of units: one pass over the entries, not one per unit.
    #[test]
    fn thousands_of_units_are_answered_in_one_pass() {
        let units: Vec<String> = (0..5000).map(|i| format!("u_{i}")).collect();
        let new = store_of(
            units
                .iter()
                .flat_map(|u| {
                    [
                        entry(
                            Some(u),
                            RequestKind::TopLevelServer,
                            &format!("{u}.example"),
                        ),
                        entry(Some(u), RequestKind::Client, "client"),
                    ]
                })
                .collect(),
        );
        let by_unit = entries_by_unit(&new);
        assert_eq!(by_unit.len(), 5000);
        for u in &units {
            let a = unit_answer(&by_unit[u.as_str()], None);
            assert_eq!(a.server.unwrap().cert, format!("cert of {u}.example"));
            assert_eq!(a.client.len(), 1);
        }
    }
}
