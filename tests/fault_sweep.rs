//! Fault sweep (issue "Reliability", safety net 8): every hook-tool call of four provider steps is
//! made to fail, once as a tool error (`ERROR connection is shut down`) and once as a crash
//! (SIGKILL of the hook), each followed by `resolve` with and without retry; the model must then
//! converge to what the fault-free step gives, and no requirer may ever lose a valid certificate.
//!
//! Steps, each with modern and with legacy requirers (puppet apps whose bags the test writes, so
//! the only charm code running is the provider's):
//!
//! - `CaChange`: `config-changed` after a `ca-common-name` change, the hook that makes a new CA
//!   and reissues the certificates of every relation (two relations);
//! - `Rotate`: the `rotate-private-key` action (new CA key, every certificate reissued);
//! - `LeaderChange`: a leader change (two provider units), fault in the new leader's first hook;
//! - `Provide`: `provide-certificate` in manual mode, for a request made in this iteration.
//!
//! The number of tool calls N of the faulted run is counted from a fault-free run of the same step
//! on the same model (`HookRun::tool_calls`), and the sweep covers 1..=N. All iterations of one
//! (step, dialect) run on one model, one after the other, so one model is built per test.
//!
//! "Resolve" for a failed hook is `Model::resolve(unit, retry)` (automatic retries are off; the
//! clock never moves); for a failed action it is running the action again (retry) or not. After a
//! resolve without retry the skipped hook's trigger is lost, so when the model has not converged
//! yet the test runs `update-status` (Juju runs it every 5 minutes) and requires convergence then.
//!
//! After every settle: every request that had a valid certificate (matching key, issued by the CA
//! published with it, in its validity period) still has one. At the end of each iteration: every
//! request answered under the expected CA (the CA secret's, or the outside CA in manual mode), the
//! CA secret grew by as many revisions as in the fault-free step, and no unit is in error.
//! Findings are collected and reported together.
//!
//! Needs `cargo build -p jujusim`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Instant, SystemTime};

use base64::Engine;
use common::interop::{crafted_with_dns, deploy_provider, new_model, obj, CSRS, PROVIDER};
use jujusim::{Databag, Fault, FaultKind, HookRun, Model};
use openssl::pkey::PKey;
use openssl::x509::{X509Req, X509};
use serde_json::{json, Value};
use tls_provider::pki::{Ca, ParsedCsr};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dialect {
    Modern,
    Legacy,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    CaChange,
    Rotate,
    LeaderChange,
    Provide,
}

/// Requirer apps (one unit each, two relations).
const APPS: [&str; 2] = ["ra", "rb"];

struct World {
    m: Model,
    d: Dialect,
    step: Step,
    /// (relation id, requirer app).
    rels: Vec<(u32, String)>,
    /// The outside CA of manual mode.
    outside: Option<Ca>,
    /// Requests that had a valid certificate at the last check.
    had: BTreeSet<String>,
    findings: Vec<String>,
    /// What is being done now (for findings).
    doing: String,
    /// A counter for new request names.
    serial: usize,
    /// Extra requests per requirer unit (Provide step): modern CSR PEM / legacy CN.
    extra: BTreeMap<String, String>,
    /// Fault-free runs needed an update-status after a resolve without retry.
    needed_update_status: usize,
    faults: usize,
}

fn ca_der(pem: &str) -> Vec<u8> {
    X509::from_pem(pem.as_bytes())
        .expect("CA PEM")
        .to_der()
        .unwrap()
}

/// Whether `cert` is valid: issued by `ca` (signature), in its validity period, and (when given)
/// for `key`'s public key.
fn cert_ok(cert: &str, ca: &str, key: Option<&PKey<openssl::pkey::Public>>) -> bool {
    let (Ok(cert), Ok(ca)) = (
        X509::from_pem(cert.as_bytes()),
        X509::from_pem(ca.as_bytes()),
    ) else {
        return false;
    };
    let signed = ca
        .public_key()
        .and_then(|k| cert.verify(&k))
        .unwrap_or(false);
    let now = openssl::asn1::Asn1Time::days_from_now(0).unwrap();
    let in_time = cert.not_before() <= now && cert.not_after() > now;
    let key_ok = key.is_none_or(|k| cert.public_key().is_ok_and(|p| p.public_eq(k)));
    signed && in_time && key_ok
}

/// The public half of a PEM private key.
fn public_of(key_pem: &str) -> Option<PKey<openssl::pkey::Public>> {
    let k = PKey::private_key_from_pem(key_pem.as_bytes()).ok()?;
    PKey::public_key_from_der(&k.public_key_to_der().ok()?).ok()
}

impl World {
    fn new(d: Dialect, step: Step) -> World {
        let mut m = new_model();
        let manual = step == Step::Provide;
        let units = if step == Step::LeaderChange { 2 } else { 1 };
        // An EC CA: an RSA key takes most of a hook's time in this sweep.
        let config = if manual {
            json!({"mode": "manual"})
        } else {
            // No rotation overlap: `CaChange` reissues in the hook it faults.
            json!({"ca-key-algorithm": "ecdsa-p256", "ca-rotation-overlap": "0"})
        };
        deploy_provider(&mut m, units, config);
        let mut w = World {
            m,
            d,
            step,
            rels: Vec::new(),
            outside: manual.then(|| common::ca::ec_ca("Outside CA")),
            had: BTreeSet::new(),
            findings: Vec::new(),
            doing: "setup".into(),
            serial: 0,
            extra: BTreeMap::new(),
            needed_update_status: 0,
            faults: 0,
        };
        // Several relations only where the step is about them; one keeps the others fast.
        let apps = if step == Step::CaChange {
            &APPS[..]
        } else {
            &APPS[..1]
        };
        for app in apps {
            let meta =
                common::interop::PUPPET_META.replace("name: crafted", &format!("name: {app}"));
            w.m.deploy_puppet(app, &meta, 1).expect("deploy puppet");
            let rel =
                w.m.relate(&format!("{app}:certificates"), PROVIDER)
                    .unwrap();
            w.rels.push((rel, app.to_string()));
        }
        w.m.settle().expect("settle after deploy");
        for (rel, app) in w.rels.clone() {
            let unit = format!("{app}/0");
            let mut bag = w.m.relation_data(rel, &unit);
            match d {
                Dialect::Modern => {
                    let csrs: Vec<Value> = (0..2)
                        .map(|i| {
                            let c = crafted_with_dns(&format!("s{i}.{app}.example.com"));
                            json!({"certificate_signing_request": c.pem, "ca": false})
                        })
                        .collect();
                    bag.insert(CSRS.into(), serde_json::to_string(&csrs).unwrap());
                }
                Dialect::Legacy => {
                    let cn = format!("{app}.example.com");
                    bag.insert("unit_name".into(), format!("{app}_0"));
                    bag.insert("common_name".into(), cn.clone());
                    bag.insert("sans".into(), json!([cn]).to_string());
                    bag.insert(
                        "cert_requests".into(),
                        json!({format!("peer.{cn}"): {"sans": []}}).to_string(),
                    );
                }
            }
            w.m.set_relation_data(rel, &unit, bag).unwrap();
        }
        w.settle(false);
        if manual {
            w.provide_all_outstanding();
        }
        w.converged(true);
        assert!(
            w.findings.is_empty(),
            "setup did not converge: {:#?}",
            w.findings
        );
        w
    }

    fn leader(&self) -> String {
        self.m.leader(PROVIDER).expect("provider leader")
    }

    fn finding(&mut self, what: String) {
        let f = format!("{:?}/{:?} {}: {what}", self.step, self.d, self.doing);
        eprintln!("FINDING {f}");
        self.findings.push(f);
    }

    /// The CA secret's revision count (0 when there is none, as in manual mode).
    fn ca_revisions(&self) -> usize {
        self.m
            .secrets()
            .into_iter()
            .find(|s| s.label.as_deref() == Some("tls-provider-ca"))
            .map_or(0, |s| s.revisions.len())
    }

    /// The CA every certificate should be under now.
    fn expected_ca(&self) -> String {
        if let Some(ca) = &self.outside {
            return ca.cert_pem();
        }
        self.m
            .secrets()
            .into_iter()
            .find(|s| s.label.as_deref() == Some("tls-provider-ca"))
            .and_then(|s| s.revisions.last()?.get("ca-certificate").cloned())
            .expect("CA secret with a ca-certificate")
    }

    /// Every current request: id -> (valid, CA it is published with).
    fn answers(&self) -> BTreeMap<String, (bool, Option<String>)> {
        let mut out = BTreeMap::new();
        for (rel, app) in &self.rels {
            let unit = format!("{app}/0");
            let bag = self.m.relation_data(*rel, &unit);
            match self.d {
                Dialect::Modern => {
                    let pb = self.m.relation_data(*rel, PROVIDER);
                    let published: Vec<Value> = pb
                        .get("certificates")
                        .map(|r| serde_json::from_str(r).expect("certificates JSON"))
                        .unwrap_or_default();
                    let list: Vec<Value> = bag
                        .get(CSRS)
                        .map(|r| serde_json::from_str(r).unwrap())
                        .unwrap_or_default();
                    for e in list {
                        let csr = e["certificate_signing_request"].as_str().unwrap();
                        let req = X509Req::from_pem(csr.as_bytes()).unwrap();
                        let key = req.public_key().unwrap();
                        let id = format!("{rel}/{unit}/{}", short(csr));
                        let entry = published
                            .iter()
                            .find(|p| p["certificate_signing_request"].as_str() == Some(csr));
                        let ans = match entry {
                            None => (false, None),
                            Some(p) => {
                                let ca = p["ca"].as_str().unwrap_or_default().to_string();
                                let cert = p["certificate"].as_str().unwrap_or_default();
                                (cert_ok(cert, &ca, Some(&key)), Some(ca))
                            }
                        };
                        out.insert(id, ans);
                    }
                }
                Dialect::Legacy => {
                    let view = self.legacy_view(*rel);
                    let ca = view.get("ca").cloned();
                    let u = bag["unit_name"].clone();
                    let pair = |cert: Option<&str>, key: Option<&str>| -> (bool, Option<String>) {
                        match (cert, key, &ca) {
                            (Some(c), Some(k), Some(ca)) => {
                                let pk = public_of(k);
                                (
                                    pk.is_some() && cert_ok(c, ca, pk.as_ref()),
                                    Some(ca.clone()),
                                )
                            }
                            _ => (false, ca.clone()),
                        }
                    };
                    let id = |what: String| format!("{rel}/{unit}/{what}");
                    out.insert(
                        id("shared-client".into()),
                        pair(
                            view.get("client.cert").map(String::as_str),
                            view.get("client.key").map(String::as_str),
                        ),
                    );
                    out.insert(
                        id(format!("server:{}", bag["common_name"])),
                        pair(
                            view.get(&format!("{u}.server.cert")).map(String::as_str),
                            view.get(&format!("{u}.server.key")).map(String::as_str),
                        ),
                    );
                    for (key, processed) in [
                        ("cert_requests", "processed_requests"),
                        ("client_cert_requests", "processed_client_requests"),
                    ] {
                        let wanted: BTreeMap<String, Value> = bag
                            .get(key)
                            .map(|r| serde_json::from_str(r).unwrap())
                            .unwrap_or_default();
                        let got: BTreeMap<String, Value> = view
                            .get(&format!("{u}.{processed}"))
                            .and_then(|r| serde_json::from_str(r).ok())
                            .unwrap_or_default();
                        for cn in wanted.keys() {
                            let g = got.get(cn);
                            out.insert(
                                id(format!("{processed}:{cn}")),
                                pair(
                                    g.and_then(|v| v["cert"].as_str()),
                                    g.and_then(|v| v["key"].as_str()),
                                ),
                            );
                        }
                    }
                }
            }
        }
        out
    }

    /// The reactive requirer's merged view of the provider units' bags on `rel`: units by name
    /// as strings, the lowest having a key wins (docs/protocol.md §4.1).
    fn legacy_view(&self, rel: u32) -> Databag {
        let mut units = self.m.units(PROVIDER);
        units.sort();
        let mut view = Databag::new();
        for u in units {
            for (k, v) in self.m.relation_data(rel, &u) {
                view.entry(k).or_insert(v);
            }
        }
        view
    }

    /// Settle (errors allowed), then check that no request lost its valid certificate.
    /// Returns the units left in error.
    fn settle(&mut self, allow_errors: bool) -> Vec<(String, String)> {
        let r = match self.m.settle_allow_errors() {
            Ok(r) => r,
            Err(e) => {
                self.finding(format!("settle: {e}"));
                return Vec::new();
            }
        };
        if !allow_errors {
            for (u, h) in &r.errors {
                self.finding(format!("{u} in error after {h:?}"));
            }
        }
        self.check_no_loss();
        r.errors
    }

    fn check_no_loss(&mut self) {
        let answers = self.answers();
        let lost: Vec<String> = self
            .had
            .iter()
            .filter(|id| answers.get(*id).is_some_and(|a| !a.0))
            .cloned()
            .collect();
        for id in lost {
            self.finding(format!("lost its valid certificate: {id}"));
        }
        self.had = answers
            .into_iter()
            .filter(|(_, a)| a.0)
            .map(|(id, _)| id)
            .collect();
    }

    /// Whether every request is answered under the expected CA, the CA has the configured
    /// common name, and no unit is in error; `report` makes each gap a finding.
    fn converged(&mut self, report: bool) -> bool {
        let ca_pem = self.expected_ca();
        let ca = ca_der(&ca_pem);
        let mut gaps = Vec::new();
        if self.step == Step::CaChange && self.serial > 0 {
            let want = format!("ca-{}", self.serial);
            let x = X509::from_pem(ca_pem.as_bytes()).unwrap();
            let cn = x
                .subject_name()
                .entries_by_nid(openssl::nid::Nid::COMMONNAME)
                .next()
                .and_then(|e| e.data().to_string().ok());
            if cn.as_deref() != Some(want.as_str()) {
                gaps.push(format!(
                    "the CA's common name is {cn:?}, configured {want:?}"
                ));
            }
        }
        for (id, (valid, pub_ca)) in self.answers() {
            if !valid {
                gaps.push(format!("not answered with a valid certificate: {id}"));
            } else if pub_ca.as_deref().map(ca_der) != Some(ca.clone()) {
                gaps.push(format!("answered under another CA than expected: {id}"));
            }
        }
        let leader = self.leader();
        let st = self.m.unit_status(&leader);
        if st.message.starts_with("standby") {
            gaps.push(format!(
                "the leader {leader} has not reconciled: {:?}",
                st.message
            ));
        }
        if self.d == Dialect::Legacy {
            for (rel, _) in &self.rels {
                if !self.m.relation_data(*rel, &leader).contains_key("ca") {
                    gaps.push(format!(
                        "the leader {leader} publishes nothing on relation {rel}"
                    ));
                }
            }
        }
        for u in self.m.units(PROVIDER) {
            let st = self.m.unit_status(&u);
            if st.agent == "error" {
                gaps.push(format!("{u} in error: {}", st.agent_message));
            }
        }
        if report {
            for g in &gaps {
                self.finding(g.clone());
            }
        }
        gaps.is_empty()
    }

    /// Manual mode: sign and provide every outstanding request (fault-free).
    fn provide_all_outstanding(&mut self) {
        for csr in self.outstanding() {
            let r = self.provide(&csr, None);
            assert_eq!(r.0, "completed", "provide-certificate: {}", r.1);
            self.settle(false);
        }
    }

    /// The CSRs `get-outstanding-certificate-requests` lists.
    fn outstanding(&mut self) -> Vec<String> {
        let leader = self.leader();
        let r = self
            .m
            .run_action(
                &leader,
                "get-outstanding-certificate-requests",
                obj(json!({})),
            )
            .unwrap();
        assert_eq!(r.status, "completed", "{r:?}");
        let list: Vec<Value> =
            serde_json::from_str(r.results["requests"].as_str().expect("requests")).unwrap();
        list.iter()
            .map(|e| e["csr"].as_str().expect("csr").to_string())
            .collect()
    }

    /// Runs `provide-certificate` for `csr` signed by the outside CA, with `fault`; returns the
    /// action's status and message.
    fn provide(&mut self, csr: &str, fault: Option<Fault>) -> (String, String) {
        let ca = self.outside.as_ref().expect("manual mode");
        let parsed = ParsedCsr::parse(csr).expect("outstanding CSR parses");
        let cert = common::ca::sign_with(ca, &parsed, false, SystemTime::now());
        let b64 = |s: &[u8]| base64::engine::general_purpose::STANDARD.encode(s);
        let params = json!({
            "certificate-signing-request": b64(csr.as_bytes()),
            "certificate": b64(&cert.to_pem().unwrap()),
            "ca-certificate": b64(ca.cert_pem().as_bytes()),
        });
        let leader = self.leader();
        if let Some(f) = fault {
            self.m.inject_fault(&leader, f).unwrap();
        }
        let r = self
            .m
            .run_action(&leader, "provide-certificate", obj(params))
            .unwrap();
        (r.status, r.message)
    }

    /// Provide step, before the action: a new request replaces the previous extra one of each
    /// requirer unit; settle. Returns the new outstanding CSRs.
    fn new_requests(&mut self) -> Vec<String> {
        self.serial += 1;
        let n = self.serial;
        for (rel, app) in self.rels.clone() {
            let unit = format!("{app}/0");
            let mut bag = self.m.relation_data(rel, &unit);
            match self.d {
                Dialect::Modern => {
                    let mut list: Vec<Value> = serde_json::from_str(&bag[CSRS]).unwrap();
                    if let Some(old) = self.extra.get(&unit) {
                        list.retain(|e| e["certificate_signing_request"].as_str() != Some(old));
                    }
                    let c = crafted_with_dns(&format!("x{n}.{app}.example.com"));
                    list.push(json!({"certificate_signing_request": c.pem, "ca": false}));
                    self.extra.insert(unit.clone(), c.pem);
                    bag.insert(CSRS.into(), serde_json::to_string(&list).unwrap());
                }
                Dialect::Legacy => {
                    let cn = format!("{app}.example.com");
                    bag.insert(
                        "cert_requests".into(),
                        json!({format!("peer.{cn}"): {"sans": []}, format!("x{n}.{cn}"): {"sans": []}})
                            .to_string(),
                    );
                }
            }
            self.m.set_relation_data(rel, &unit, bag).unwrap();
        }
        self.settle(false);
        self.outstanding()
    }

    /// Runs the step once with `fault` (none for the baseline), resolves as `retry` says, and
    /// brings the model to where the fault-free step would (see the module doc).
    fn run_step(&mut self, fault: Option<Fault>, retry: bool) -> Outcome {
        self.m.set_automatically_retry_hooks(retry);
        let leader = self.leader();
        let target = match self.step {
            Step::LeaderChange => self
                .m
                .units(PROVIDER)
                .into_iter()
                .find(|u| *u != leader)
                .unwrap(),
            _ => leader,
        };
        // The status text may or may not change from one step to the next (a deposed leader
        // may run no hook and keep its status cache; after a CA rotation the status names when
        // the previous CA stops being trusted, to the second, so two rotations in the same second
        // show the same text), and an unchanged text makes no status-set. Without the cache the
        // step always makes one, so its count of calls is the same every time.
        let _ = std::fs::remove_file(self.m.charm_dir(&target).join(".tls-provider-status"));
        let csrs = if self.step == Step::Provide {
            self.new_requests()
        } else {
            Vec::new()
        };
        let ca_before = self.ca_revisions();
        let from = self.m.hook_runs().len();
        if let Some(f) = fault {
            self.m.inject_fault(&target, f).unwrap();
        }
        // Whether the step's action completed (hook steps: true).
        let mut done = true;
        match self.step {
            Step::CaChange => {
                self.serial += 1;
                let name = format!("ca-{}", self.serial);
                self.m
                    .set_config(PROVIDER, obj(json!({"ca-common-name": name})))
                    .unwrap();
            }
            Step::Rotate => done = self.action(&target, "rotate-private-key", fault.is_none()),
            Step::LeaderChange => self.m.set_leader(&target).unwrap(),
            Step::Provide => {
                let (status, message) = self.provide(&csrs[0], None);
                done = status == "completed";
                if !done && fault.is_none() {
                    self.finding(format!("fault-free provide-certificate failed: {message}"));
                }
            }
        }
        let errors = self.settle(true);
        let target_run = self.m.hook_runs()[from..]
            .iter()
            .find(|r| r.unit == target)
            .cloned();
        if fault.is_none() && !errors.is_empty() {
            self.finding(format!("fault-free step left units in error: {errors:?}"));
        }
        for (u, _) in &errors {
            if let Err(e) = self.m.resolve(u, retry) {
                self.finding(format!("resolve {u}: {e}"));
            }
        }
        if !errors.is_empty() {
            self.settle(false);
        }
        if !done {
            // A failed action: the operator runs it again (retry), or (no retry) not for a
            // rotation, and for a certificate to provide only later, after the checks above.
            if retry || self.step == Step::Provide {
                done = match self.step {
                    Step::Rotate => self.action(&target, "rotate-private-key", true),
                    _ => self.provide(&csrs[0], None).0 == "completed",
                };
                if !done {
                    self.finding("the action failed again without a fault".into());
                }
                self.settle(false);
            }
        }
        if !retry && !errors.is_empty() && !self.converged(false) {
            // The skipped hook's trigger is lost until the next hook: update-status, whose timer
            // runs per unit, so one unit after the other (no loss in between either).
            self.needed_update_status += 1;
            for u in self.m.units(PROVIDER) {
                self.m.queue_hook(&u, "update-status");
                self.settle(false);
            }
        }
        Outcome {
            target_run,
            ca_delta: self.ca_revisions() - ca_before,
            done,
        }
    }

    /// Runs `name` on `unit`; whether it completed (a failure is a finding when `must`).
    fn action(&mut self, unit: &str, name: &str, must: bool) -> bool {
        let params = match name {
            "rotate-private-key" => json!({"immediate": true}),
            _ => json!({}),
        };
        let r = self.m.run_action(unit, name, obj(params)).unwrap();
        if r.status != "completed" && must {
            self.finding(format!("{name} failed without a fault: {}", r.message));
        }
        r.status == "completed"
    }
}

/// What one step did.
struct Outcome {
    /// The first run of the faulted unit in the step (the one the fault was aimed at).
    target_run: Option<HookRun>,
    /// New revisions of the CA secret.
    ca_delta: usize,
    /// Whether the step's action completed in the end (always for hook steps).
    done: bool,
}

/// Sweeps every tool call of `step` with `d` requirers; panics listing the findings.
fn sweep(d: Dialect, step: Step) {
    let started = Instant::now();
    let mut w = World::new(d, step);
    let setup = started.elapsed();
    // Fault-free, twice: the first time can differ (a unit's first leadership reads more), the
    // second is what every later step does; its run is the one counted.
    w.doing = "fault-free step".into();
    w.run_step(None, true);
    w.converged(true);
    let base = w.run_step(None, true);
    w.converged(true);
    let run = base.target_run.expect("the fault-free step ran the target");
    // A failed action leaves no unit in error: "resolve" is running it again, so the action
    // steps are swept once, except a rotation, which is also left undone.
    let modes: &[bool] = if step == Step::Provide {
        &[true]
    } else {
        &[true, false]
    };
    let calls: Vec<String> = run.tool_calls.iter().map(|c| c.tool.clone()).collect();
    assert!(!calls.is_empty(), "the target run made no tool call");
    for (n, tool) in calls.iter().enumerate() {
        let n = n + 1;
        for kind in [FaultKind::ToolError, FaultKind::Kill] {
            for &retry in modes {
                w.doing = format!(
                    "{kind:?} at call {n} ({tool}), resolve {}",
                    if retry { "with retry" } else { "without retry" }
                );
                w.faults += 1;
                let out = w.run_step(Some(Fault { at_call: n, kind }), retry);
                match &out.target_run {
                    None => w.finding("the faulted unit ran nothing".into()),
                    Some(r) if r.fault.is_none() => w.finding(format!(
                        "the fault did not fire: {} {} made {} calls",
                        r.unit,
                        r.hook,
                        r.tool_calls.len()
                    )),
                    Some(_) => {}
                }
                w.converged(true);
                let want = if out.done { base.ca_delta } else { 0 };
                if out.ca_delta != want {
                    w.finding(format!(
                        "CA secret grew by {} revisions, expected {want}",
                        out.ca_delta
                    ));
                }
            }
        }
    }
    eprintln!(
        "fault sweep {step:?}/{d:?}: target {} ({} tool calls: {}), {} faults, {} needed \
         update-status after resolve without retry; setup {setup:?}, total {:?}",
        run.hook,
        calls.len(),
        calls.join(" "),
        w.faults,
        w.needed_update_status,
        started.elapsed()
    );
    assert!(
        w.findings.is_empty(),
        "{} findings:\n{}",
        w.findings.len(),
        w.findings.join("\n")
    );
}

#[test]
fn ca_change_modern() {
    sweep(Dialect::Modern, Step::CaChange);
}

#[test]
fn ca_change_legacy() {
    sweep(Dialect::Legacy, Step::CaChange);
}

#[test]
fn rotate_modern() {
    sweep(Dialect::Modern, Step::Rotate);
}

#[test]
fn rotate_legacy() {
    sweep(Dialect::Legacy, Step::Rotate);
}

#[test]
fn leader_change_modern() {
    sweep(Dialect::Modern, Step::LeaderChange);
}

#[test]
fn leader_change_legacy() {
    sweep(Dialect::Legacy, Step::LeaderChange);
}

#[test]
fn provide_modern() {
    sweep(Dialect::Modern, Step::Provide);
}

#[test]
fn provide_legacy() {
    sweep(Dialect::Legacy, Step::Provide);
}

/// A short stable name for a CSR in findings.
fn short(pem: &str) -> String {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    body.chars().rev().take(12).collect()
}
