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
            model
                .relation_endpoints(*id)
                .is_some_and(|ends| ends[0].0 != ends[1].0 && ends.iter().any(|e| e.0 == PROVIDER))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Checks on our published data

/// Checks the invariants of one provider app databag (`docs/protocol.md` §2, §3.2, §3.6; §5
/// cases 15 and 17): only known keys; every value JSON and never `null`; lists never empty (omitted
/// instead); every certificate entry has the 4 fields with a non-empty leaf-first chain
/// (`chain[0] == certificate`), `revoked` a bool when present, and every PEM parses; every error
/// entry is keyed `csr` with an int code in the protocol's set, a name and a non-empty message;
/// a CSR appears at most once and never in both lists; `capabilities` has the library's types.
/// Also the v2/v3 JSON schema (`certificates` required once anything is published).
pub fn check_provider_bag(bag: &Databag) {
    for (k, v) in bag {
        assert!(
            matches!(
                k.as_str(),
                "certificates" | "request_errors" | "capabilities"
            ),
            "unexpected key {k:?} in the provider app databag"
        );
        let parsed: Value =
            serde_json::from_str(v).unwrap_or_else(|e| panic!("{k} is not JSON ({e}): {v}"));
        assert!(!parsed.is_null(), "{k} is null");
        if k != "capabilities" {
            assert!(
                parsed.as_array().is_some_and(|a| !a.is_empty()),
                "{k} must be a non-empty list (empty lists are omitted): {v}"
            );
        }
    }
    for (k, v) in bag {
        assert!(!v.contains("PRIVATE KEY"), "a private key in {k}");
    }
    let mut seen = BTreeSet::new();
    for e in certificates(bag) {
        let o = e.as_object().expect("certificate entry is an object");
        for f in ["ca", "certificate_signing_request", "certificate"] {
            assert!(
                o.get(f).is_some_and(Value::is_string),
                "entry field {f}: {e}"
            );
        }
        let csr = e["certificate_signing_request"].as_str().unwrap();
        assert!(
            X509Req::from_pem(csr.as_bytes()).is_ok(),
            "an unparseable CSR was echoed into certificates: {csr:?}"
        );
        assert!(seen.insert(csr.to_string()), "CSR published twice: {csr}");
        let chain = e["chain"].as_array().expect("chain is a list (v3 schema)");
        assert!(!chain.is_empty(), "chain is empty");
        assert!(chain.iter().all(Value::is_string), "chain of strings");
        assert_eq!(chain[0], e["certificate"], "chain[0] == certificate");
        if let Some(r) = o.get("revoked") {
            assert!(r.is_boolean(), "revoked must be a bool: {r}");
        }
        for f in ["certificate", "ca"] {
            parse_cert(e[f].as_str().unwrap());
        }
        for c in chain {
            parse_cert(c.as_str().unwrap());
        }
    }
    for e in request_errors(bag) {
        let csr = e["csr"].as_str().expect("error entry keyed `csr`");
        assert!(
            e.get("certificate_signing_request").is_none(),
            "error entry must be keyed csr only"
        );
        assert!(
            seen.insert(csr.to_string()),
            "CSR both issued and refused, or refused twice"
        );
        let err = &e["error"];
        let code = err["code"].as_u64().expect("error.code int");
        assert!(
            [101, 102, 103, 201, 999].contains(&code),
            "unknown code {code}"
        );
        assert!(err["name"].is_string(), "error.name");
        assert!(
            err["message"]
                .as_str()
                .is_some_and(|m| !m.trim().is_empty()),
            "error.message must say something"
        );
        for f in ["reason", "provider", "endpoint"] {
            if let Some(x) = err.get(f) {
                assert!(x.is_string(), "error.{f} is a string when present");
            }
        }
    }
    if let Some(c) = capabilities(bag) {
        let o = c.as_object().expect("capabilities is an object");
        for (k, v) in o {
            match k.as_str() {
                "supports_ip_sans"
                | "supports_wildcard_dns"
                | "supports_subdomain"
                | "supports_ca_certificates" => assert!(v.is_boolean(), "{k} bool"),
                "allowed_domains" => assert!(
                    v.as_array().is_some_and(|a| a.iter().all(Value::is_string)),
                    "allowed_domains list of strings"
                ),
                "provider_type" => assert!(v.is_string()),
                _ => {}
            }
        }
    }
}

/// [`check_provider_bag`] on every tls-provider relation of the model, and no provider unit
/// databag carries modern keys.
/// Also runs `openssl verify -CAfile <published ca>` on every published certificate (each
/// distinct pair once per test process).
pub fn check_all_provider_bags(model: &Model) {
    static VERIFIED: std::sync::Mutex<BTreeSet<(String, String)>> =
        std::sync::Mutex::new(BTreeSet::new());
    for rel in provider_relations(model) {
        let bag = provider_bag(model, rel);
        check_provider_bag(&bag);
        for e in certificates(&bag) {
            let pair = (
                e["ca"].as_str().unwrap().to_string(),
                e["certificate"].as_str().unwrap().to_string(),
            );
            let new = VERIFIED
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(pair.clone());
            if new {
                openssl_verify(&pair.0, &pair.1);
            }
        }
        for u in model.units(PROVIDER) {
            let bag = model.relation_data(rel, &u);
            for k in ["certificates", "request_errors", "capabilities"] {
                assert!(!bag.contains_key(k), "{u} unit databag has {k}");
            }
        }
    }
}

pub fn parse_cert(pem: &str) -> X509 {
    X509::from_pem(pem.as_bytes())
        .unwrap_or_else(|e| panic!("not a PEM certificate ({e}): {pem:?}"))
}

pub fn cn_of(name: &openssl::x509::X509NameRef) -> Option<String> {
    name.entries_by_nid(Nid::COMMONNAME)
        .next()
        .map(|e| e.data().to_string().expect("utf-8"))
}

pub fn to_system(t: &openssl::asn1::Asn1TimeRef) -> SystemTime {
    let epoch = openssl::asn1::Asn1Time::from_unix(0).unwrap();
    let d = epoch.diff(t).expect("time diff");
    UNIX_EPOCH + Duration::from_secs(d.days as u64 * 86_400 + d.secs as u64)
}

/// `openssl verify -x509_strict -CAfile ca cert`, asserting `OK`.
pub fn openssl_verify(ca_pem: &str, cert_pem: &str) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), ca_pem).unwrap();
    std::fs::write(dir.path().join("cert.pem"), cert_pem).unwrap();
    let (ok, out) = openssl_cli(
        dir.path(),
        &["verify", "-x509_strict", "-CAfile", "ca.pem", "cert.pem"],
    );
    assert!(
        ok && out.contains("cert.pem: OK"),
        "openssl verify failed: {out}"
    );
}

/// `openssl <kind> -noout -text` of a PEM (`kind` = `x509` or `req`).
pub fn text_of(kind: &str, pem: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.pem"), pem).unwrap();
    let (ok, out) = openssl_cli(dir.path(), &[kind, "-in", "in.pem", "-noout", "-text"]);
    assert!(ok, "openssl {kind} -text: {out}");
    out
}

/// The SAN items (as `openssl -text` prints them) of a certificate or CSR text dump.
pub fn sans_in_text(text: &str) -> BTreeSet<String> {
    let mut lines = text.lines();
    while let Some(l) = lines.next() {
        if l.contains("X509v3 Subject Alternative Name") {
            let v = lines.next().unwrap_or("");
            return v
                .split(", ")
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
        }
    }
    BTreeSet::new()
}

/// Checks a published entry against the request it answers (`docs/protocol.md` §5 cases 15 and
/// 16): the echoed CSR is `csr` byte for byte; `openssl verify` against the published `ca`
/// passes; chain[0] == certificate and chain ends with the CA; public key = CSR key; subject
/// (DER) and SANs copied; BasicConstraints CA flag = `is_ca`; serverAuth+clientAuth on leaves;
/// validity inside the CA's; notBefore neither in the future nor back-dated by more than 10 min;
/// serial of at least 64 bits. Returns the certificate.
pub fn check_issued(entry: &Value, csr: &str, is_ca: bool) -> X509 {
    assert_eq!(
        entry["certificate_signing_request"].as_str(),
        Some(csr),
        "CSR echoed byte for byte"
    );
    assert_ne!(entry["revoked"], json!(true), "entry is revoked");
    let cert_pem = entry["certificate"].as_str().expect("certificate");
    let ca_pem = entry["ca"].as_str().expect("ca");
    let cert = parse_cert(cert_pem);
    let ca = parse_cert(ca_pem);
    openssl_verify(ca_pem, cert_pem);
    let chain = entry["chain"].as_array().expect("chain");
    assert_eq!(chain[0].as_str(), Some(cert_pem), "chain[0] == certificate");
    let last = parse_cert(chain.last().unwrap().as_str().unwrap());
    assert_eq!(
        last.to_der().unwrap(),
        ca.to_der().unwrap(),
        "chain ends with the published CA"
    );
    let req = X509Req::from_pem(csr.as_bytes()).expect("CSR parses");
    assert!(
        cert.public_key()
            .unwrap()
            .public_eq(&req.public_key().unwrap()),
        "certificate public key == CSR public key"
    );
    assert_eq!(
        cert.subject_name().to_der().unwrap(),
        req.subject_name().to_der().unwrap(),
        "subject copied from the CSR"
    );
    let cert_text = text_of("x509", cert_pem);
    let csr_text = text_of("req", csr);
    assert_eq!(
        sans_in_text(&cert_text),
        sans_in_text(&csr_text),
        "SANs copied from the CSR"
    );
    let want = if is_ca { "CA:TRUE" } else { "CA:FALSE" };
    assert!(
        cert_text.contains(want),
        "BasicConstraints {want} expected:\n{cert_text}"
    );
    if !is_ca {
        assert!(
            cert_text.contains("TLS Web Server Authentication")
                && cert_text.contains("TLS Web Client Authentication"),
            "EKU serverAuth+clientAuth on a leaf"
        );
    }
    let nb = to_system(cert.not_before());
    let na = to_system(cert.not_after());
    assert!(
        nb >= to_system(ca.not_before()),
        "notBefore inside the CA's validity"
    );
    assert!(
        na <= to_system(ca.not_after()),
        "a certificate never outlives its CA"
    );
    let now = SystemTime::now();
    assert!(
        nb <= now + Duration::from_secs(60),
        "notBefore in the future"
    );
    // Issued during this test run: notBefore is at most a small skew before issuance, which
    // was less than 30 minutes ago (a large back-date would trigger the requirer's renewal).
    assert!(
        now.duration_since(nb).unwrap_or_default() < Duration::from_secs(1800),
        "notBefore back-dated too far"
    );
    assert!(na > now, "already expired");
    let serial = cert.serial_number().to_bn().unwrap();
    assert!(serial.num_bits() >= 64, "serial of at least 64 bits");
    cert
}

/// The `ca` PEM of an entry, parsed.
pub fn entry_ca(entry: &Value) -> X509 {
    parse_cert(entry["ca"].as_str().expect("ca"))
}

/// DER of a PEM certificate.
pub fn der(pem: &str) -> Vec<u8> {
    parse_cert(pem).to_der().unwrap()
}

/// DER of a PEM CSR.
pub fn csr_der(pem: &str) -> Vec<u8> {
    X509Req::from_pem(pem.as_bytes()).unwrap().to_der().unwrap()
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
