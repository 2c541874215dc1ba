//! Helpers for the simulator-based tests (`tests/interop_modern/`, `tests/*_sim.rs`,
//! `tests/tls_handshake.rs`): deploying the provider and the real Python requirer, reading both
//! sides' databags, checking every published entry (shape, PEM, `openssl verify`, key, subject,
//! SANs, validity), finding what the requirer library accepted (its certificate secrets), the
//! library's own parse of our databag, and CSRs crafted in Rust for the cases the library cannot
//! produce.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jujusim::{Databag, HookRun, Model, SecretView};
use openssl::asn1::{Asn1Object, Asn1OctetString};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private, Public};
use openssl::stack::Stack;
use openssl::x509::extension::SubjectAlternativeName;
use openssl::x509::{X509Extension, X509Name, X509Req, X509ReqBuilder, X509};
use serde_json::{json, Map, Value};

pub use super::pki::openssl_cli;

/// Checks on our published data.
mod checks;
pub use checks::*;

/// The provider application name used by the tests.
pub const PROVIDER: &str = "tls-provider";
/// The requirer databag key.
pub const CSRS: &str = "certificate_signing_requests";
/// charmlibs tls_certificates LIBID (used in the requirer's secret labels).
pub const LIBID: &str = "afd8c2bccf834997afce12c2706d2ede";
/// metadata.yaml of a puppet requirer (no code; bags written by the test).
pub const PUPPET_META: &str =
    "name: crafted\nrequires:\n  certificates:\n    interface: tls-certificates\n";

/// A JSON object literal as a config map.
pub fn obj(v: Value) -> Map<String, Value> {
    v.as_object().expect("a JSON object").clone()
}

/// The Python requirer charm dir; fails (never skips) with the build instruction when missing.
pub fn requirer_dir() -> PathBuf {
    super::with_venv(super::requirer_charm_dir())
}

/// A new simulated model with a bounded hook timeout.
pub fn new_model() -> Model {
    let mut m = Model::new().expect("start simulator (run `cargo build -p jujusim` first)");
    m.set_hook_timeout(Duration::from_secs(120));
    m
}

/// Deploys the tls-provider charm (`units` units) with `config`.
pub fn deploy_provider(model: &mut Model, units: usize, config: Value) {
    model
        .deploy(PROVIDER, &super::provider_charm_dir(), units, obj(config))
        .expect("deploy tls-provider");
}

/// Deploys the Python requirer as `app` and relates it to the provider; returns the relation id.
pub fn deploy_requirer(model: &mut Model, app: &str, units: usize, config: Value) -> u32 {
    model
        .deploy(app, &requirer_dir(), units, obj(config))
        .unwrap_or_else(|e| panic!("deploy {app}: {e}"));
    model
        .relate(&format!("{app}:certificates"), PROVIDER)
        .unwrap_or_else(|e| panic!("relate {app}: {e}"))
}

/// Deploys a puppet requirer `app` and relates it; returns the relation id.
pub fn deploy_puppet(model: &mut Model, app: &str, units: usize) -> u32 {
    let meta = PUPPET_META.replace("name: crafted", &format!("name: {app}"));
    model
        .deploy_puppet(app, &meta, units)
        .expect("deploy puppet");
    model
        .relate(&format!("{app}:certificates"), PROVIDER)
        .expect("relate puppet")
}

/// Settles the model and checks every provider databag (see [`check_provider_bag`]).
pub fn settle(model: &mut Model) -> jujusim::SettleReport {
    let report = model.settle().unwrap_or_else(|e| panic!("settle: {e}"));
    check_all_provider_bags(model);
    report
}

// ---------------------------------------------------------------------------------------------
// Reading databags

/// One requirer CSR entry.
pub struct ReqEntry {
    pub pem: String,
    /// The `ca` value as written (bool for the real library).
    pub ca: Value,
    pub req: X509Req,
}

impl ReqEntry {
    pub fn key(&self) -> PKey<Public> {
        self.req.public_key().expect("CSR key")
    }
    pub fn cn(&self) -> Option<String> {
        cn_of(self.req.subject_name())
    }
}

/// The CSR entries in `owner`'s bag on `rel` (`"app/0"` or `"app"`), parsed strictly (the bag is
/// the real library's).
pub fn requirer_csrs(model: &Model, rel: u32, owner: &str) -> Vec<ReqEntry> {
    let bag = model.relation_data(rel, owner);
    let Some(raw) = bag.get(CSRS) else {
        return Vec::new();
    };
    let list: Value = serde_json::from_str(raw).expect("requirer CSR list is JSON");
    list.as_array()
        .expect("requirer CSR list is an array")
        .iter()
        .map(|e| {
            let pem = e["certificate_signing_request"]
                .as_str()
                .expect("CSR string")
                .to_string();
            let req = X509Req::from_pem(pem.as_bytes()).expect("requirer CSR parses");
            ReqEntry {
                pem,
                ca: e["ca"].clone(),
                req,
            }
        })
        .collect()
}

/// The provider's app databag on `rel`.
pub fn provider_bag(model: &Model, rel: u32) -> Databag {
    model.relation_data(rel, PROVIDER)
}

fn json_list(bag: &Databag, key: &str) -> Vec<Value> {
    match bag.get(key) {
        None => Vec::new(),
        Some(raw) => serde_json::from_str::<Value>(raw)
            .unwrap_or_else(|e| panic!("{key} is not JSON: {e}: {raw}"))
            .as_array()
            .unwrap_or_else(|| panic!("{key} is not a list"))
            .clone(),
    }
}

/// The `certificates` entries of a provider bag.
pub fn certificates(bag: &Databag) -> Vec<Value> {
    json_list(bag, "certificates")
}

/// The `request_errors` entries of a provider bag.
pub fn request_errors(bag: &Databag) -> Vec<Value> {
    json_list(bag, "request_errors")
}

/// The `capabilities` object of a provider bag, if any.
pub fn capabilities(bag: &Databag) -> Option<Value> {
    bag.get("capabilities")
        .map(|raw| serde_json::from_str(raw).expect("capabilities JSON"))
}

/// The certificate entry echoing `csr` exactly.
pub fn entry_for<'a>(entries: &'a [Value], csr: &str) -> Option<&'a Value> {
    entries
        .iter()
        .find(|e| e["certificate_signing_request"].as_str() == Some(csr))
}

/// The request error for `csr` (exact string).
pub fn error_for<'a>(errors: &'a [Value], csr: &str) -> Option<&'a Value> {
    errors.iter().find(|e| e["csr"].as_str() == Some(csr))
}

/// The non-peer relation ids whose provider end is tls-provider.
pub fn provider_relations(model: &Model) -> Vec<u32> {
    model
        .relation_ids()
        .into_iter()
        .filter(|id| {
            model.relation_endpoints(*id).is_some_and(|ends| {
                ends[0].0 != ends[1].0
                    && ends
                        .iter()
                        .any(|e| e.0 == PROVIDER && e.1 == "certificates")
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// What the requirer accepted

/// One certificate the requirer library stored (it does so only after all its checks: CSR
/// match, attributes still wanted, CA flag, private key match, not revoked).
#[derive(Clone, Debug)]
pub struct Stored {
    pub label: String,
    pub owner: String,
    pub certificate: String,
    pub csr: String,
    pub expire: Option<SystemTime>,
}

/// The model's secrets whose label starts with `prefix`.
pub fn secrets_labelled(model: &Model, prefix: &str) -> Vec<SecretView> {
    model
        .secrets()
        .into_iter()
        .filter(|s| s.label.as_deref().is_some_and(|l| l.starts_with(prefix)))
        .collect()
}

/// The certificate secrets `owner` (`"app/0"` unit-owned, `"app"` app-owned) holds.
pub fn stored_certificates(model: &Model, owner: &str) -> Vec<Stored> {
    secrets_labelled(model, &format!("{LIBID}-certificate"))
        .into_iter()
        .filter(|s| s.owner == owner)
        .filter_map(|s| {
            let latest = s.revisions.last()?.clone();
            Some(Stored {
                label: s.label.clone().unwrap(),
                owner: s.owner.clone(),
                certificate: latest.get("certificate")?.clone(),
                csr: latest.get("csr")?.clone(),
                expire: s.expire,
            })
        })
        .collect()
}

/// The certificate `owner`'s library accepted for `csr` (compared as DER), if any.
pub fn accepted(model: &Model, owner: &str, csr: &str) -> Option<X509> {
    let want = csr_der(csr);
    stored_certificates(model, owner)
        .into_iter()
        .find(|s| csr_der(&s.csr) == want)
        .map(|s| parse_cert(&s.certificate))
}

/// Asserts the requirer `owner` accepted exactly the certificate of `entry`.
pub fn assert_accepted(model: &Model, owner: &str, entry: &Value) {
    let csr = entry["certificate_signing_request"].as_str().unwrap();
    let got = accepted(model, owner, csr)
        .unwrap_or_else(|| panic!("{owner} did not accept the certificate for its CSR"));
    assert_eq!(
        got.to_der().unwrap(),
        der(entry["certificate"].as_str().unwrap()),
        "{owner} holds the published certificate"
    );
}

/// The requirer's private key (from its private-key secret): unit scope for `"app/0"`, app scope
/// for `"app"`.
pub fn requirer_private_key(model: &Model, owner: &str) -> String {
    let label = match owner.split_once('/') {
        Some((_, n)) => format!("{LIBID}-private-key-{n}-certificates"),
        None => format!("{LIBID}-private-key-app-certificates"),
    };
    let s = model
        .secrets()
        .into_iter()
        .find(|s| s.owner == owner && s.label.as_deref() == Some(label.as_str()))
        .unwrap_or_else(|| panic!("no private key secret {label} owned by {owner}"));
    s.revisions
        .last()
        .and_then(|r| r.get("private-key").cloned())
        .expect("private-key content")
}

/// The requirer unit's status message.
pub fn status_of(model: &Model, unit: &str) -> (String, String) {
    let s = model.unit_status(unit);
    (s.workload, s.message)
}

/// A unit of `app` other than `unit` (with two units: the other one).
pub fn other_unit(model: &Model, app: &str, unit: &str) -> String {
    model
        .units(app)
        .into_iter()
        .find(|u| u != unit)
        .unwrap_or_else(|| panic!("{app} has no unit other than {unit}"))
}

/// The modern requirer's `get-certificates` action on `unit`: its list of certificate entries.
pub fn get_certificates(model: &mut Model, unit: &str) -> Vec<Value> {
    let result = model
        .run_action(unit, "get-certificates", Map::new())
        .expect("run action");
    assert_eq!(
        result.status, "completed",
        "get-certificates on {unit}: {result:?}"
    );
    let raw = result.results["certificates"]
        .as_str()
        .expect("certificates result is a string");
    serde_json::from_str::<Value>(raw)
        .expect("certificates result is JSON")
        .as_array()
        .unwrap()
        .clone()
}

// ---------------------------------------------------------------------------------------------
// The real library's view of our databag

const LIBRARY_VIEW_PY: &str = r#"
import json, sys
from charmlibs.interfaces.tls_certificates import _tls_certificates as t
out = []
for bag in json.load(sys.stdin):
    data = t._ProviderApplicationData.load(bag)
    certs = [c.to_provider_certificate(relation_id=0) for c in data.certificates]
    errors = []
    for e in data.request_errors:
        t.CertificateSigningRequest.from_string(e.csr)
        errors.append({"csr": e.csr, "code": int(e.error.code), "name": e.error.name})
    caps = data.capabilities.model_dump() if data.capabilities is not None else None
    out.append({"certificates": len(certs),
                "csrs": [str(c.certificate_signing_request) for c in certs],
                "errors": errors, "capabilities": caps})
print(json.dumps(out))
"#;

/// Loads each bag with the requirer library's own model (`_ProviderApplicationData.load`) and
/// converts every entry as the requirer does (a bad PEM raises there). Returns per bag
/// `{certificates, csrs, errors, capabilities}`; panics when the library rejects a bag.
pub fn library_view(bags: &[Databag]) -> Vec<Value> {
    let py = super::repo_root().join(".venv/bin/python3");
    let mut child = Command::new(py)
        .args(["-c", LIBRARY_VIEW_PY])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run .venv python");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(bags).unwrap().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the requirer library rejects our databag: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

// ---------------------------------------------------------------------------------------------
// Hook runs

/// The `relation-set` calls in `runs` as (unit, hook, args).
pub fn relation_sets(runs: &[HookRun]) -> Vec<(String, String, Vec<String>)> {
    runs.iter()
        .flat_map(|r| {
            r.tool_calls
                .iter()
                .filter(|c| c.tool == "relation-set")
                .map(|c| (r.unit.clone(), r.hook.clone(), c.args.clone()))
        })
        .collect()
}

/// The `relation-set` calls of tls-provider units in `runs`.
pub fn provider_relation_sets(runs: &[HookRun]) -> Vec<(String, String, Vec<String>)> {
    relation_sets(runs)
        .into_iter()
        .filter(|(u, _, _)| u.starts_with(&format!("{PROVIDER}/")))
        .collect()
}

/// Every hook run of the provider so far exited 0.
pub fn assert_provider_hooks_ok(model: &Model) {
    for r in model.hook_runs() {
        if r.unit.starts_with(&format!("{PROVIDER}/")) {
            assert_eq!(r.exit_code, 0, "{} {} failed", r.unit, r.hook);
        }
    }
}

/// Snapshot of every databag of every provider relation (for byte-identity checks).
pub fn all_bags(model: &Model) -> Vec<(u32, String, Databag)> {
    let mut out = Vec::new();
    for rel in provider_relations(model) {
        let ends = model.relation_endpoints(rel).unwrap();
        for (app, _) in ends.iter() {
            out.push((rel, app.clone(), model.relation_data(rel, app)));
            for u in model.units(app) {
                out.push((rel, u.clone(), model.relation_data(rel, &u)));
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Crafted CSRs

/// A CSR made in the test (EC P-256), with its key.
pub struct Crafted {
    pub key: PKey<Private>,
    pub pem: String,
}

/// Options for [`craft_csr`].
#[derive(Default)]
pub struct CraftOpts<'a> {
    pub cn: Option<&'a str>,
    pub dns: &'a [&'a str],
    /// Add a critical extension with an OID the provider cannot know.
    pub critical_unknown: bool,
}

/// A CSR signed by a fresh EC P-256 key.
pub fn craft_csr(o: &CraftOpts<'_>) -> Crafted {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
    let mut b = X509ReqBuilder::new().unwrap();
    b.set_version(0).unwrap();
    let mut name = X509Name::builder().unwrap();
    if let Some(cn) = o.cn {
        name.append_entry_by_nid(Nid::COMMONNAME, cn).unwrap();
    }
    b.set_subject_name(&name.build()).unwrap();
    b.set_pubkey(&key).unwrap();
    let mut exts = Stack::<X509Extension>::new().unwrap();
    if !o.dns.is_empty() {
        let mut san = SubjectAlternativeName::new();
        for d in o.dns {
            san.dns(d);
        }
        exts.push(san.build(&b.x509v3_context(None)).unwrap())
            .unwrap();
    }
    if o.critical_unknown {
        let oid = Asn1Object::from_str("1.3.6.1.4.1.55555.7.1").unwrap();
        // DER NULL as the extension value.
        let value = Asn1OctetString::new_from_bytes(&[0x05, 0x00]).unwrap();
        exts.push(X509Extension::new_from_der(&oid, true, &value).unwrap())
            .unwrap();
    }
    if !exts.is_empty() {
        b.add_extensions(&exts).unwrap();
    }
    b.sign(&key, MessageDigest::sha256()).unwrap();
    let pem = String::from_utf8(b.build().to_pem().unwrap()).unwrap();
    Crafted {
        key,
        pem: pem.trim_end().to_string(),
    }
}

/// A crafted CSR with common name `cn` and no SAN.
pub fn crafted(cn: &str) -> Crafted {
    craft_csr(&CraftOpts {
        cn: Some(cn),
        ..Default::default()
    })
}

/// A crafted CSR with common name `cn` and `cn` as its one DNS SAN.
pub fn crafted_with_dns(cn: &str) -> Crafted {
    craft_csr(&CraftOpts {
        cn: Some(cn),
        dns: &[cn],
        ..Default::default()
    })
}

/// A requirer databag with one `certificate_signing_requests` value given as raw JSON.
pub fn raw_bag(csrs_json: &str) -> Databag {
    Databag::from([(CSRS.to_string(), csrs_json.to_string())])
}

/// A requirer databag with the given entries (serialised as the library would).
pub fn csr_bag(entries: Value) -> Databag {
    raw_bag(&serde_json::to_string(&entries).unwrap())
}

/// Sets `owner`'s requests in relation `rel` to the one non-CA request `csr`.
pub fn request_leaf(model: &mut Model, rel: u32, owner: &str, csr: &str) {
    model
        .set_relation_data(
            rel,
            owner,
            csr_bag(json!([{"certificate_signing_request": csr, "ca": false}])),
        )
        .unwrap();
}

/// Adds `entries` as `owner`'s requests in relation `rel`, keeping what the bag already holds
/// (the addresses the simulator pre-fills).
pub fn add_requests(model: &mut Model, rel: u32, owner: &str, entries: Value) {
    let mut bag = model.relation_data(rel, owner);
    bag.extend(csr_bag(entries));
    model
        .set_relation_data(rel, owner, bag)
        .unwrap_or_else(|e| panic!("write {owner}'s bag: {e}"));
}
