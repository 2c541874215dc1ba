//! Manual mode against the in-memory `FakeTools` model ([`common::world::World`]): the
//! three actions, every `provide-certificate` refusal (a table: each row asserts its message,
//! that the action failed and that no databag or secret changed), and successful provisioning
//! checked with real certificates (OpenSSL-signed here, CSRs from the real requirer library in
//! tests/fixtures/csr) and the `openssl verify` command line.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use base64::Engine;
use common::actions::join_list_parts;
use common::ca::{ec_ca, sign_with};
use common::pki::openssl_cli;
use common::world::World;
use openssl::x509::X509;
use serde_json::{json, Map, Value};
use tempfile::TempDir;

use tls_provider::charm::actions::listing::NO_OUTSTANDING;
use tls_provider::pki::sign::cert_to_pem;
use tls_provider::pki::{csr_to_pem, generate_csr, san, Ca, KeyAlgorithm, ParsedCsr};

const DAY: u64 = 86_400;
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/csr");

// ------------------------------------------------------------------------------------------
// PKI helpers: an outside root CA, an intermediate, leaves
// ------------------------------------------------------------------------------------------

fn intermediate(root: &Ca, name: &str) -> Ca {
    let key = KeyAlgorithm::EcdsaP256.generate().unwrap();
    let req = generate_csr(&key, name, &[]).unwrap();
    let parsed = ParsedCsr::parse(&csr_to_pem(&req).unwrap()).unwrap();
    let cert = sign_with(root, &parsed, true, SystemTime::now());
    Ca { cert, key }
}

/// A fresh CSR (EC P-256) for `cn`, PEM without trailing newline (as the requirer writes it).
fn new_csr(cn: &str) -> String {
    let key = KeyAlgorithm::EcdsaP256.generate().unwrap();
    csr_to_pem(&generate_csr(&key, cn, &[cn.to_string(), "10.1.2.3".into()]).unwrap()).unwrap()
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURES}/{name}")).unwrap()
}

/// The outside PKI: root → intermediate → leaves.
struct Outside {
    root: Ca,
    int: Ca,
}

impl Outside {
    fn new() -> Outside {
        let root = ec_ca("Outside Root CA");
        let int = intermediate(&root, "Outside Intermediate CA");
        Outside { root, int }
    }
    fn leaf(&self, csr: &str) -> String {
        let parsed = ParsedCsr::parse(csr).unwrap();
        cert_to_pem(&sign_with(&self.int, &parsed, false, SystemTime::now()))
    }
    fn leaf_ca(&self, csr: &str) -> String {
        let parsed = ParsedCsr::parse(csr).unwrap();
        cert_to_pem(&sign_with(&self.int, &parsed, true, SystemTime::now()))
    }
    fn int_pem(&self) -> String {
        self.int.cert_pem()
    }
    fn root_pem(&self) -> String {
        self.root.cert_pem()
    }
    /// `[intermediate, root]` concatenated.
    fn chain_pem(&self) -> String {
        format!("{}\n{}\n", self.int_pem(), self.root_pem())
    }
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s.as_bytes())
}

// ------------------------------------------------------------------------------------------
// The model: common::world::World, and the worlds and parameters these tests start from
// ------------------------------------------------------------------------------------------

/// A manual-mode world with relation 1 (`req`, units req/0 and req/1, one CSR each), reconciled.
fn manual_world() -> (World, String, String) {
    let w = World::leader_in("manual");
    w.relate(1, "req", &["req/0", "req/1"]);
    let a = new_csr("a.example.com");
    let b = new_csr("b.example.com");
    w.request(1, "req/0", &[(&a, false)]);
    w.request(1, "req/1", &[(&b, false)]);
    w.reconcile();
    (w, a, b)
}

fn provide_params(csr: &str, cert: &str, ca: &str) -> Map<String, Value> {
    json!({
        "certificate-signing-request": b64(csr),
        "certificate": b64(cert),
        "ca-certificate": b64(ca),
    })
    .as_object()
    .unwrap()
    .clone()
}

fn with(mut p: Map<String, Value>, k: &str, v: Value) -> Value {
    p.insert(k.into(), v);
    Value::Object(p)
}

fn without(mut p: Map<String, Value>, keys: &[&str]) -> Value {
    for k in keys {
        p.remove(*k);
    }
    Value::Object(p)
}

fn openssl_verify(root: &str, untrusted: Option<&str>, leaf: &str) -> (bool, String) {
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("root.pem"), root).unwrap();
    std::fs::write(dir.path().join("leaf.pem"), leaf).unwrap();
    let mut args = vec!["verify", "-CAfile", "root.pem"];
    if let Some(u) = untrusted {
        std::fs::write(dir.path().join("untrusted.pem"), u).unwrap();
        args.extend(["-untrusted", "untrusted.pem"]);
    }
    args.push("leaf.pem");
    openssl_cli(dir.path(), &args)
}

// ------------------------------------------------------------------------------------------
// Listing
// ------------------------------------------------------------------------------------------

#[test]
fn outstanding_list_shows_every_field_for_unit_and_app_level_requests() {
    let w = World::leader_in("manual");
    w.relate(3, "req", &["req/0"]);
    let unit_csr = fixture("rsa2048_full.pem");
    let app_csr = fixture("ec_ca_request.pem");
    w.request(3, "req/0", &[(&unit_csr, false)]);
    w.request(3, "req", &[(&app_csr, true)]);
    w.reconcile();
    let out = w.action("get-outstanding-certificate-requests", json!({}));
    assert_eq!(out.ok()["count"], "2");
    assert!(out.ok()["message"].starts_with("2 outstanding certificate requests"));
    assert!(out.ok()["message"].contains("provide-certificate"));
    let list = out.list("requests");
    let unit = list.iter().find(|r| r.get("unit").is_some()).unwrap();
    let parsed = ParsedCsr::parse(&unit_csr).unwrap();
    assert_eq!(unit["relation-id"], json!(3));
    assert_eq!(unit["application"], json!("req"));
    assert_eq!(unit["unit"], json!("req/0"));
    assert_eq!(unit["app-level"], json!(false));
    assert_eq!(
        unit["common-name"],
        json!(parsed.common_name.clone().unwrap())
    );
    let dns: Vec<&str> = san::dns_names(&parsed.sans).collect();
    assert_eq!(unit["dns-sans"], json!(dns));
    let ips: Vec<String> = san::ip_addrs(&parsed.sans).map(|i| i.to_string()).collect();
    assert_eq!(unit["ip-sans"], json!(ips));
    assert_eq!(unit["is-ca"], json!(false));
    assert_eq!(unit["legacy"], json!(false));
    assert_eq!(unit["csr"], json!(unit_csr), "the requirer's exact string");
    assert!(unit.get("has-certificate").is_none());
    let app = list.iter().find(|r| r.get("unit").is_none()).unwrap();
    assert_eq!(app["app-level"], json!(true));
    assert_eq!(app["application"], json!("req"));
    assert_eq!(app["is-ca"], json!(true));
    assert_eq!(app["csr"], json!(app_csr));
    assert_eq!(w.relation_sets(), 1, "only the reconcile wrote");
}

#[test]
fn empty_outstanding_list_is_a_success_with_a_message() {
    let w = World::leader_in("manual");
    let out = w.action("get-outstanding-certificate-requests", json!({}));
    assert_eq!(out.ok()["count"], "0");
    assert_eq!(out.list("requests"), Vec::<Value>::new());
    assert!(out.ok()["message"].starts_with(NO_OUTSTANDING));
    assert!(out.ok()["message"].contains("juju integrate"));
    w.relate(1, "req", &["req/0"]);
    let out = w.action(
        "get-outstanding-certificate-requests",
        json!({"relation-id": 1}),
    );
    assert_eq!(
        out.ok()["message"],
        format!("{} in relation 1", NO_OUTSTANDING)
    );
}

#[test]
fn outstanding_list_filters_by_relation() {
    let (w, _, _) = manual_world();
    w.relate(2, "other", &["other/0"]);
    let c = new_csr("c.example.com");
    w.request(2, "other/0", &[(&c, false)]);
    assert_eq!(
        w.action("get-outstanding-certificate-requests", json!({}))
            .ok()["count"],
        "3"
    );
    let only = w.action(
        "get-outstanding-certificate-requests",
        json!({"relation-id": 2}),
    );
    assert_eq!(only.ok()["count"], "1");
    assert_eq!(only.list("requests")[0]["csr"], json!(c));
}

#[test]
fn self_signed_mode_lists_refused_and_pending_requests() {
    let w = World::leader_in("self-signed");
    w.relate(1, "req", &["req/0"]);
    let ok = new_csr("ok.example.com");
    let ca_req = fixture("ec_ca_request.pem");
    w.request(1, "req/0", &[(&ok, false), (&ca_req, true)]);
    w.reconcile();
    assert_eq!(w.certificates(1).len(), 1);
    let out = w.action("get-outstanding-certificate-requests", json!({}));
    let list = out.list("requests");
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["csr"], json!(ca_req));
    assert!(
        list[0]["error"].as_str().unwrap().starts_with("refused: "),
        "{list:?}"
    );
    assert!(out.ok()["message"].contains("1 refused"));

    // Pending: a new CSR the leader has not signed yet.
    let new = new_csr("new.example.com");
    w.request(1, "req/0", &[(&ok, false), (&ca_req, true), (&new, false)]);
    let list = w
        .action("get-outstanding-certificate-requests", json!({}))
        .list("requests");
    let pending = list.iter().find(|r| r["csr"] == json!(new)).unwrap();
    assert!(pending.get("error").is_none());
}

#[test]
fn get_certificate_request_lists_every_csr_with_has_certificate() {
    let (w, a, b) = manual_world();
    let o = Outside::new();
    w.action(
        "provide-certificate",
        Value::Object(provide_params(&a, &o.leaf(&a), &o.int_pem())),
    )
    .ok();
    let out = w.action("get-certificate-request", json!({"relation-id": 1}));
    assert_eq!(out.ok()["count"], "2");
    assert_eq!(out.ok()["outstanding"], "1");
    assert_eq!(out.ok()["application"], "req");
    let list = out.list("requests");
    let ra = list.iter().find(|r| r["csr"] == json!(a)).unwrap();
    let rb = list.iter().find(|r| r["csr"] == json!(b)).unwrap();
    assert_eq!(ra["has-certificate"], json!(true));
    assert!(ra["not-after"].as_str().unwrap().ends_with('Z'));
    assert_eq!(ra["unit"], json!("req/0"));
    assert_eq!(rb["has-certificate"], json!(false));
    assert_eq!(rb["common-name"], json!("b.example.com"));
    assert_eq!(rb["ip-sans"], json!(["10.1.2.3"]));
}

// ------------------------------------------------------------------------------------------
// Large listings: split into results that each fit one action-set argument
// ------------------------------------------------------------------------------------------

/// The whole list `key` of an action's results, joined from its parts (`key`, `key-2`, ...), with
/// every part checked to be a JSON list within the chunk limit. Returns (entries, parts).
fn joined_list(results: &BTreeMap<String, String>, key: &str) -> (Vec<Value>, usize) {
    let parts: usize = results
        .get(&format!("{key}-parts"))
        .map_or(1, |n| n.parse().unwrap());
    let all = join_list_parts(|k| results.get(k).map(String::as_str), key, parts);
    // Every action-set argument fits the argv limits (the real tool would refuse otherwise).
    let batches = juju_hook::process::action_set_batches(results).unwrap();
    assert!(batches
        .iter()
        .flatten()
        .all(|a| a.len() <= juju_hook::MAX_ACTION_VALUE_BYTES));
    (all, parts)
}

/// `n` distinct CSRs (fresh EC keys) spread over units `req/0..req/2` of relation 1.
fn many_requests(w: &World, n: usize) -> Vec<String> {
    w.relate(1, "req", &["req/0", "req/1", "req/2"]);
    let csrs: Vec<String> = (0..n)
        .map(|i| new_csr(&format!("host-{i:03}.example.com")))
        .collect();
    for u in 0..3 {
        let mine: Vec<(&str, bool)> = csrs
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 3 == u)
            .map(|(_, c)| (c.as_str(), false))
            .collect();
        w.request(1, &format!("req/{u}"), &mine);
    }
    csrs
}

#[test]
fn three_hundred_outstanding_requests_are_listed_in_parts() {
    let w = World::leader_in("manual");
    let csrs = many_requests(&w, 300);
    let out = w.action("get-outstanding-certificate-requests", json!({}));
    let results = out.ok();
    assert_eq!(results["count"], "300");
    let (list, parts) = joined_list(results, "requests");
    assert!(parts >= 2, "{parts} part(s) for ~200 KB of requests");
    assert_eq!(results["requests-parts"], parts.to_string());
    let listed: Vec<&str> = list.iter().map(|r| r["csr"].as_str().unwrap()).collect();
    let mut want: Vec<&str> = csrs.iter().map(String::as_str).collect();
    let mut got = listed.clone();
    want.sort();
    got.sort();
    assert_eq!(got, want, "the parts together are exactly the requests");
    assert_eq!(listed.len(), 300, "no request twice");
    let message = &results["message"];
    assert!(
        message.starts_with("300 outstanding certificate requests"),
        "{message}"
    );
    assert!(
        message.contains(&format!(
            "split into {parts} JSON lists (requests-parts={parts})"
        )),
        "{message}"
    );

    // get-certificate-request on the same relation: the same split, with has-certificate.
    let out = w.action("get-certificate-request", json!({"relation-id": 1}));
    let (list, parts2) = joined_list(out.ok(), "requests");
    assert_eq!(list.len(), 300);
    assert!(parts2 >= 2);
    assert!(list.iter().all(|r| r["has-certificate"] == json!(false)));
    assert!(out.ok()["message"].contains("requests-parts="));

    // A small listing keeps the single `requests` result and no `requests-parts`.
    let w = World::leader_in("manual");
    many_requests(&w, 3);
    let out = w.action("get-outstanding-certificate-requests", json!({}));
    assert_eq!(out.list("requests").len(), 3);
    assert!(!out.ok().contains_key("requests-parts"));
    assert!(!out.ok()["message"].contains("split"));
}

#[test]
fn four_hundred_issued_certificates_are_listed_in_parts() {
    let w = World::leader_in("self-signed");
    many_requests(&w, 400);
    w.reconcile();
    assert_eq!(w.certificates(1).len(), 400);
    let out = w.action("get-issued-certificates", json!({}));
    let results = out.ok();
    assert_eq!(results["count"], "400");
    let (list, parts) = joined_list(results, "certificates");
    assert!(parts >= 2, "{parts}");
    let mut serials: Vec<&str> = list.iter().map(|c| c["serial"].as_str().unwrap()).collect();
    let mut want: Vec<String> = w
        .certificates(1)
        .iter()
        .map(|c| {
            let cert = X509::from_pem(c.certificate.as_bytes()).unwrap();
            let hex = cert.serial_number().to_bn().unwrap().to_hex_str().unwrap();
            hex.to_string()
        })
        .collect();
    serials.sort();
    want.sort();
    let got: Vec<String> = serials
        .iter()
        .map(|s| s.to_uppercase().replace(':', ""))
        .collect();
    let want: Vec<String> = want.iter().map(|s| s.to_uppercase()).collect();
    assert_eq!(got, want);
    assert!(
        results["message"].contains("certificates-parts="),
        "{}",
        results["message"]
    );
}

// ------------------------------------------------------------------------------------------
// provide-certificate: success
// ------------------------------------------------------------------------------------------

#[test]
fn provide_with_intermediate_publishes_like_the_built_in_ca_in_one_relation_set() {
    let (w, a, b) = manual_world();
    let o = Outside::new();
    let leaf = o.leaf(&a);
    w.tools.reset_calls();
    // ca-chain without the leaf: [intermediate, root]; ca-certificate = the intermediate.
    let params = with(
        provide_params(&a, &leaf, &o.int_pem()),
        "ca-chain",
        json!(b64(&o.chain_pem())),
    );
    let out = w.action("provide-certificate", params);
    let r = out.ok();
    assert_eq!(r["relation-id"], "1");
    assert_eq!(r["unit"], "req/0");
    assert_eq!(r["application"], "req");
    assert_eq!(r["legacy"], "false");
    assert!(r["result"].contains("relation 1"), "{r:?}");
    assert!(r["result"].contains("unit req/0"), "{r:?}");
    assert_eq!(w.relation_sets(), 1, "one relation-set");
    let status = w.unit_status();
    assert!(
        status.1.contains("1 request outstanding"),
        "status refreshed by the action: {status:?}"
    );

    let certs = w.certificates(1);
    assert_eq!(certs.len(), 1);
    let e = &certs[0];
    assert_eq!(e.certificate_signing_request, a, "CSR echoed exactly");
    assert_eq!(e.certificate, leaf);
    assert_eq!(e.ca, o.int_pem());
    assert_eq!(e.chain, vec![leaf.clone(), o.int_pem(), o.root_pem()]);
    assert!(!e.revoked);
    assert!(
        !w.own_bag(1)["certificates"].contains("\\n\""),
        "no trailing newlines"
    );
    let (ok, text) = openssl_verify(&o.root_pem(), Some(&o.int_pem()), &e.certificate);
    assert!(ok, "{text}");

    // The reconcile keeps it as is and it is no longer outstanding.
    w.tools.reset_calls();
    let s = w.reconcile();
    assert_eq!(w.relation_sets(), 0);
    assert_eq!(s.totals.outstanding, 1);
    let list = w
        .action("get-outstanding-certificate-requests", json!({}))
        .list("requests");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["csr"], json!(b));

    // Providing the same again changes nothing and says so.
    w.tools.reset_calls();
    let again = w.action(
        "provide-certificate",
        with(
            provide_params(&a, &leaf, &o.int_pem()),
            "ca-chain",
            json!(b64(&o.chain_pem())),
        ),
    );
    assert!(again.ok()["note"].contains("already published"));
    assert_eq!(w.relation_sets(), 0);

    // When the CSR goes, the entry goes.
    w.request(1, "req/0", &[]);
    w.reconcile();
    assert!(w.certificates(1).is_empty());
}

#[test]
fn provide_accepts_leaf_first_chain_plain_pem_and_crlf_csr() {
    let w = World::leader_in("manual");
    w.relate(1, "req", &["req/0"]);
    let crlf = fixture("rsa2048_full_crlf.pem");
    assert!(crlf.contains("\r\n"));
    w.request(1, "req/0", &[(&crlf, false)]);
    w.reconcile();
    let o = Outside::new();
    let leaf = o.leaf(&crlf);
    // The operator's CSR copy is the canonical (LF) form; plain PEM values, leaf-first chain.
    let lf = fixture("rsa2048_full.pem");
    let out = w.action(
        "provide-certificate",
        json!({
            "certificate-signing-request": lf,
            "certificate": format!("{leaf}\n"),
            "ca-certificate": o.int_pem(),
            "ca-chain": format!("{leaf}\n{}", o.chain_pem()),
            "unit-name": "req/0",
            "relation-id": 1,
        }),
    );
    out.ok();
    let e = &w.certificates(1)[0];
    assert_eq!(
        e.certificate_signing_request, crlf,
        "the requirer's exact string"
    );
    assert_eq!(e.chain.len(), 3);
    assert_eq!(e.chain[0], leaf);
}

#[test]
fn provide_accepts_root_as_ca_certificate_with_the_intermediate_in_the_chain() {
    let (w, a, _) = manual_world();
    let o = Outside::new();
    let leaf = o.leaf(&a);
    // ca-certificate = root, ca-chain = [intermediate]: the root is appended.
    let out = w.action(
        "provide-certificate",
        with(
            provide_params(&a, &leaf, &o.root_pem()),
            "ca-chain",
            json!(b64(&o.int_pem())),
        ),
    );
    out.ok();
    let e = &w.certificates(1)[0];
    assert_eq!(e.ca, o.root_pem());
    assert_eq!(e.chain, vec![leaf, o.int_pem(), o.root_pem()]);
}

#[test]
fn provide_without_chain_defaults_to_certificate_and_ca() {
    let (w, _, b) = manual_world();
    let o = Outside::new();
    let leaf = o.leaf(&b);
    w.action(
        "provide-certificate",
        Value::Object(provide_params(&b, &leaf, &o.int_pem())),
    )
    .ok();
    assert_eq!(w.certificates(1)[0].chain, vec![leaf, o.int_pem()]);
}

#[test]
fn provide_answers_app_level_and_ca_requests() {
    let w = World::leader_in("manual");
    w.relate(4, "req", &["req/0"]);
    let app_csr = fixture("ec_ca_request.pem");
    w.request(4, "req", &[(&app_csr, true)]);
    w.reconcile();
    let o = Outside::new();
    let leaf = o.leaf_ca(&app_csr);
    let out = w.action(
        "provide-certificate",
        Value::Object(provide_params(&app_csr, &leaf, &o.int_pem())),
    );
    assert_eq!(out.ok()["app-level"], "true");
    assert!(out.ok().get("unit").is_none());
    assert!(out.ok()["result"].contains("application req (app-level request)"));
    assert_eq!(w.certificates(4)[0].certificate, leaf);
    w.tools.reset_calls();
    w.reconcile();
    assert_eq!(w.relation_sets(), 0, "kept by the reconcile");
}

#[test]
fn provided_certificates_survive_a_switch_to_self_signed() {
    let (w, a, b) = manual_world();
    let o = Outside::new();
    let leaf = o.leaf(&a);
    w.action(
        "provide-certificate",
        Value::Object(provide_params(&a, &leaf, &o.int_pem())),
    )
    .ok();
    w.config("mode", json!("self-signed"));
    w.reconcile();
    let certs = w.certificates(1);
    assert_eq!(certs.len(), 2);
    let ea = certs
        .iter()
        .find(|c| c.certificate_signing_request == a)
        .unwrap();
    assert_eq!(ea.certificate, leaf, "the provided certificate is kept");
    let eb = certs
        .iter()
        .find(|c| c.certificate_signing_request == b)
        .unwrap();
    assert_ne!(
        eb.ca,
        o.int_pem(),
        "the other one is signed by the built-in CA"
    );
}

// ------------------------------------------------------------------------------------------
// Refusals: one table row per refusal
// ------------------------------------------------------------------------------------------

/// The world a refusal row starts from.
#[derive(Clone, Copy, Debug)]
enum Setup {
    /// [`manual_world`]: relation 1, `req/0` asks for `a`, `req/1` for `b`.
    TwoUnits,
    /// Relation 1 (`req`, unit `req/0`), `a` an app-level request of `req`.
    AppLevel,
    /// Relation 1 (`req`, unit `req/0`), `req/0` asks for `a` as a CA (`ca: true`).
    CaRequest,
}

/// What a refusal row runs against: the world, the outside PKI, the request `a` the row answers
/// and (in [`Setup::TwoUnits`]) `b`, another unit's request.
struct Fx {
    w: World,
    o: Outside,
    a: String,
    b: String,
}

impl Fx {
    fn new(setup: Setup) -> Fx {
        let o = Outside::new();
        match setup {
            Setup::TwoUnits => {
                let (w, a, b) = manual_world();
                Fx { w, o, a, b }
            }
            Setup::AppLevel => {
                let w = World::leader_in("manual");
                w.relate(1, "req", &["req/0"]);
                let a = new_csr("app.example.com");
                w.request(1, "req", &[(&a, false)]);
                w.reconcile();
                Fx {
                    w,
                    o,
                    a,
                    b: String::new(),
                }
            }
            Setup::CaRequest => {
                let w = World::leader_in("manual");
                w.relate(1, "req", &["req/0"]);
                let a = fixture("ec_ca_request.pem");
                w.request(1, "req/0", &[(&a, true)]);
                w.reconcile();
                Fx {
                    w,
                    o,
                    a,
                    b: String::new(),
                }
            }
        }
    }

    /// The right answer to `a`: its leaf signed by the intermediate, which is `ca-certificate`.
    fn good(&self) -> Map<String, Value> {
        provide_params(&self.a, &self.o.leaf(&self.a), &self.o.int_pem())
    }
}

/// An action run that must be refused.
struct Attempt {
    action: &'static str,
    params: Value,
    /// When the action runs (default now).
    at: Option<SystemTime>,
}

fn provide(params: Value) -> Attempt {
    Attempt {
        action: "provide-certificate",
        params,
        at: None,
    }
}

fn provide_at(params: Value, at: SystemTime) -> Attempt {
    Attempt {
        at: Some(at),
        ..provide(params)
    }
}

fn action(action: &'static str, params: Value) -> Attempt {
    Attempt {
        action,
        params,
        at: None,
    }
}

/// (case, world, the attempt (which may add to the world first), fragments of the message).
type Row = (
    &'static str,
    Setup,
    fn(&Fx) -> Attempt,
    &'static [&'static str],
);

/// Runs every row in a fresh world: each must fail with a message holding all its fragments,
/// with no results and no databag or secret changed. Reports every failing row by name.
fn assert_refusals(rows: &[Row]) {
    let mut names: Vec<&str> = rows.iter().map(|r| r.0).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), rows.len(), "case names are unique");
    let mut failures = Vec::new();
    for (name, setup, attempt, expected) in rows {
        eprintln!("case: {name}");
        let f = Fx::new(*setup);
        let t = attempt(&f);
        let now = t.at.unwrap_or_else(SystemTime::now);
        if let Err(e) = f.w.refusal_at(t.action, t.params, now, expected) {
            failures.push(format!("{name}: {e}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

#[test]
fn listing_refusals_name_the_problem_and_change_nothing() {
    let rows: &[Row] = &[
        (
            "outstanding: relation-id of no certificates relation",
            Setup::TwoUnits,
            |f| {
                f.w.relate(2, "other", &["other/0"]);
                f.w.request(2, "other/0", &[(&new_csr("c.example.com"), false)]);
                action(
                    "get-outstanding-certificate-requests",
                    json!({"relation-id": 9}),
                )
            },
            &["relation-id 9 is not a certificates relation", "1, 2"],
        ),
        (
            "get-certificate-request: missing relation-id",
            Setup::TwoUnits,
            |_| action("get-certificate-request", json!({})),
            &[
                "missing parameter relation-id",
                "juju run tls-provider/leader get-certificate-request relation-id=<id>",
            ],
        ),
        (
            "get-certificate-request: relation-id of no certificates relation",
            Setup::TwoUnits,
            |_| action("get-certificate-request", json!({"relation-id": 5})),
            &["relation-id 5 is not a certificates relation"],
        ),
    ];
    assert_refusals(rows);
}

#[test]
fn provide_certificate_refusals_name_the_problem_and_change_nothing() {
    let rows: &[Row] = &[
        // Parameters
        (
            "missing certificate and ca-certificate",
            Setup::TwoUnits,
            |f| provide(without(f.good(), &["certificate", "ca-certificate"])),
            &[
                "missing parameters certificate, ca-certificate",
                "juju run tls-provider/leader provide-certificate",
                "base64 -w0",
            ],
        ),
        (
            "blank certificate-signing-request",
            Setup::TwoUnits,
            |f| provide(with(f.good(), "certificate-signing-request", json!("  "))),
            &["missing parameter certificate-signing-request:"],
        ),
        (
            "certificate is a number",
            Setup::TwoUnits,
            |f| provide(with(f.good(), "certificate", json!(42))),
            &["parameter certificate must be a string", "not a number"],
        ),
        // Decoding
        (
            "ca-certificate is not base64",
            Setup::TwoUnits,
            |f| provide(with(f.good(), "ca-certificate", json!("not base64 at all!"))),
            &[
                "parameter ca-certificate cannot be decoded",
                "not valid base64",
                "ca-certificate=\"$(base64 -w0 file.pem)\"",
            ],
        ),
        (
            "certificate is base64 of DER, not of PEM",
            Setup::TwoUnits,
            |f| {
                let der = X509::from_pem(f.o.int_pem().as_bytes())
                    .unwrap()
                    .to_der()
                    .unwrap();
                let der_b64 = base64::engine::general_purpose::STANDARD.encode(der);
                provide(with(f.good(), "certificate", json!(der_b64)))
            },
            &[
                "parameter certificate cannot be decoded",
                "binary data",
                "openssl x509 -inform der",
            ],
        ),
        (
            "ca-chain is base64 of text without PEM",
            Setup::TwoUnits,
            |f| provide(with(f.good(), "ca-chain", json!(b64("just some text")))),
            &[
                "parameter ca-chain cannot be decoded",
                "without a -----BEGIN line",
            ],
        ),
        // What each parameter holds
        (
            "certificate-signing-request is a certificate",
            Setup::TwoUnits,
            |f| {
                let leaf = f.o.leaf(&f.a);
                provide(Value::Object(provide_params(&leaf, &leaf, &f.o.int_pem())))
            },
            &[
                "certificate-signing-request is not a certificate signing request",
                "found a CERTIFICATE where a CERTIFICATE REQUEST was expected",
            ],
        ),
        (
            "certificate-signing-request this charm would not keep (tampered)",
            Setup::TwoUnits,
            |f| {
                let tampered = fixture("rsa2048_tampered.pem");
                provide(Value::Object(provide_params(
                    &tampered,
                    &f.o.int_pem(),
                    &f.o.root_pem(),
                )))
            },
            &[
                "certificate-signing-request cannot be answered",
                "signature",
            ],
        ),
        (
            "certificate is a CSR",
            Setup::TwoUnits,
            |f| provide(Value::Object(provide_params(&f.a, &f.a, &f.o.int_pem()))),
            &[
                "certificate is not a certificate",
                "-----BEGIN CERTIFICATE-----",
            ],
        ),
        (
            "ca-certificate is a CSR",
            Setup::TwoUnits,
            |f| {
                provide(Value::Object(provide_params(
                    &f.a,
                    &f.o.leaf(&f.a),
                    &f.a,
                )))
            },
            &["ca-certificate is not a certificate"],
        ),
        (
            "certificate is a bundle",
            Setup::TwoUnits,
            |f| {
                let leaf = f.o.leaf(&f.a);
                provide(Value::Object(provide_params(
                    &f.a,
                    &format!("{leaf}\n{}", f.o.int_pem()),
                    &f.o.int_pem(),
                )))
            },
            &["certificate holds 2 certificates", "ca-chain"],
        ),
        (
            "ca-certificate is a bundle",
            Setup::TwoUnits,
            |f| {
                provide(Value::Object(provide_params(
                    &f.a,
                    &f.o.leaf(&f.a),
                    &f.o.chain_pem(),
                )))
            },
            &["ca-certificate holds 2 certificates", "ca-chain"],
        ),
        (
            "ca-chain is a CSR",
            Setup::TwoUnits,
            |f| provide(with(f.good(), "ca-chain", json!(b64(&f.a)))),
            &["ca-chain is not a list of certificates"],
        ),
        // How the certificates fit together
        (
            "certificate for another CSR's key",
            Setup::TwoUnits,
            |f| {
                provide(Value::Object(provide_params(
                    &f.a,
                    &f.o.leaf(&f.b),
                    &f.o.int_pem(),
                )))
            },
            &[
                "the public key of certificate",
                "is not the public key of the CSR",
                "CN=b.example.com",
            ],
        ),
        (
            "certificate not signed by ca-certificate (another CA)",
            Setup::TwoUnits,
            |f| {
                let other = ec_ca("Some Other CA");
                provide(Value::Object(provide_params(
                    &f.a,
                    &f.o.leaf(&f.a),
                    &other.cert_pem(),
                )))
            },
            &[
                "certificate is not signed by ca-certificate",
                "CN=Outside Intermediate CA",
                "CN=Some Other CA",
            ],
        ),
        (
            "certificate not signed by ca-certificate (the root, without ca-chain)",
            Setup::TwoUnits,
            |f| {
                provide(Value::Object(provide_params(
                    &f.a,
                    &f.o.leaf(&f.a),
                    &f.o.root_pem(),
                )))
            },
            &["certificate is not signed by ca-certificate"],
        ),
        (
            "certificate not signed by ca-certificate (a ca-chain without ca-certificate)",
            Setup::TwoUnits,
            |f| {
                let other = ec_ca("Some Other CA");
                provide(with(
                    provide_params(&f.a, &f.o.leaf(&f.a), &other.cert_pem()),
                    "ca-chain",
                    json!(b64(&f.o.chain_pem())),
                ))
            },
            &["certificate is not signed by ca-certificate"],
        ),
        (
            "ca-chain out of order (root before intermediate)",
            Setup::TwoUnits,
            |f| {
                let chain = format!("{}\n{}", f.o.root_pem(), f.o.int_pem());
                provide(with(f.good(), "ca-chain", json!(b64(&chain))))
            },
            &[
                "ca-chain is not in order",
                "leaf first",
                "each certificate followed by the one that issued it",
            ],
        ),
        // Validity
        (
            "certificate expired (31 days later)",
            Setup::TwoUnits,
            |f| {
                let later = SystemTime::now() + Duration::from_secs(31 * DAY);
                provide_at(Value::Object(f.good()), later)
            },
            &["certificate has expired", "valid until"],
        ),
        (
            "certificate not valid yet (a day earlier)",
            Setup::TwoUnits,
            |f| {
                let earlier = SystemTime::now() - Duration::from_secs(DAY);
                provide_at(Value::Object(f.good()), earlier)
            },
            &["certificate is not valid yet", "valid from"],
        ),
        // Where the request is
        (
            "CSR in no relation",
            Setup::TwoUnits,
            |f| {
                let gone = new_csr("gone.example.com");
                provide(Value::Object(provide_params(
                    &gone,
                    &f.o.leaf(&gone),
                    &f.o.int_pem(),
                )))
            },
            &[
                "certificate-signing-request was not found in any relation",
                "get-outstanding-certificate-requests",
            ],
        ),
        (
            "CSR neither in the given relation-id nor elsewhere",
            Setup::TwoUnits,
            |f| {
                let gone = new_csr("gone.example.com");
                provide(with(
                    provide_params(&gone, &f.o.leaf(&gone), &f.o.int_pem()),
                    "relation-id",
                    json!(1),
                ))
            },
            &["was not found in relation 1 nor in any other relation"],
        ),
        (
            "CSR not found with relation-id of no certificates relation",
            Setup::TwoUnits,
            |f| {
                let gone = new_csr("gone.example.com");
                provide(with(
                    provide_params(&gone, &f.o.leaf(&gone), &f.o.int_pem()),
                    "relation-id",
                    json!(8),
                ))
            },
            &["not found in relation 8 (which is not a certificates relation of this application)"],
        ),
        (
            "CSR in several relations without relation-id",
            Setup::TwoUnits,
            |f| {
                f.w.relate(2, "twin", &["twin/0"]);
                f.w.request(2, "twin/0", &[(&f.a, false)]);
                f.w.reconcile();
                provide(Value::Object(f.good()))
            },
            &[
                "is in several relations",
                "relation 1 (unit req/0 of req)",
                "relation 2 (unit twin/0 of twin)",
                "relation-id=<one of 1, 2>",
            ],
        ),
        (
            "relation-id of another relation",
            Setup::TwoUnits,
            |f| {
                f.w.relate(2, "other", &["other/0"]);
                provide(with(f.good(), "relation-id", json!(2)))
            },
            &[
                "relation-id 2 does not match",
                "it is in relation 1 (unit req/0 of req)",
            ],
        ),
        (
            "unit-name of another unit",
            Setup::TwoUnits,
            |f| provide(with(f.good(), "unit-name", json!("req/1"))),
            &[
                "unit-name req/1 does not match",
                "comes from relation 1 (unit req/0 of req)",
            ],
        ),
        (
            "unit-name for an app-level request",
            Setup::AppLevel,
            |f| provide(with(f.good(), "unit-name", json!("req/0"))),
            &[
                "unit-name req/0 does not match",
                "is an app-level request",
                "without unit-name",
            ],
        ),
        // The CA flag
        (
            "non-CA certificate for a CA request",
            Setup::CaRequest,
            |f| provide(Value::Object(f.good())),
            &[
                "asks for a CA certificate (ca: true)",
                "is not a CA certificate",
            ],
        ),
        (
            "CA certificate for a non-CA request",
            Setup::TwoUnits,
            |f| {
                provide(Value::Object(provide_params(
                    &f.a,
                    &f.o.leaf_ca(&f.a),
                    &f.o.int_pem(),
                )))
            },
            &[
                "request is for a non-CA certificate (ca: false)",
                "is a CA certificate",
            ],
        ),
    ];
    assert_refusals(rows);
}

#[test]
fn a_csr_in_several_relations_goes_to_the_given_relation_id_only() {
    let (w, a, _) = manual_world();
    w.relate(2, "twin", &["twin/0"]);
    w.request(2, "twin/0", &[(&a, false)]);
    w.reconcile();
    let o = Outside::new();
    let p = provide_params(&a, &o.leaf(&a), &o.int_pem());
    // Without relation-id: refused (a row of the table above).
    w.refuses(
        "provide-certificate",
        Value::Object(p.clone()),
        &["is in several relations"],
    );
    let out = w.action("provide-certificate", with(p, "relation-id", json!(2)));
    assert_eq!(out.ok()["relation-id"], "2");
    assert_eq!(w.certificates(2).len(), 1);
    assert!(w.certificates(1).is_empty());
}

#[test]
fn every_action_fails_on_a_non_leader_and_changes_nothing() {
    let (w, a, _) = manual_world();
    let o = Outside::new();
    w.tools.state.borrow_mut().leader = false;
    for (name, params) in [
        ("get-outstanding-certificate-requests", json!({})),
        ("get-certificate-request", json!({"relation-id": 1})),
        (
            "provide-certificate",
            Value::Object(provide_params(&a, &o.leaf(&a), &o.int_pem())),
        ),
    ] {
        let msg = w.refuses(name, params, &[]);
        assert_eq!(
            msg,
            format!("run this action on the leader unit: juju run tls-provider/leader {name}")
        );
        assert_eq!(w.tools.count("relation-get"), 0, "not even read");
    }
    assert!(w.certificates(1).is_empty());
}

// ------------------------------------------------------------------------------------------
// Legacy requests in manual mode
// ------------------------------------------------------------------------------------------

#[test]
fn legacy_requests_are_listed_and_provided_through_the_legacy_store() {
    let w = World::leader_in("manual");
    w.relate(5, "etcd", &["etcd/0"]);
    w.set_unit_keys(
        5,
        "etcd/0",
        &[
            ("unit_name", "etcd_0"),
            ("common_name", "etcd0.example.com"),
        ],
    );
    w.reconcile();
    let list = w
        .action("get-outstanding-certificate-requests", json!({}))
        .list("requests");
    assert!(list.iter().all(|r| r["legacy"] == json!(true)), "{list:?}");
    let server = list
        .iter()
        .find(|r| r["kind"] == json!("server"))
        .unwrap_or_else(|| panic!("{list:?}"));
    assert_eq!(server["unit"], json!("etcd_0"));
    assert_eq!(server["relation-id"], json!(5));
    assert_eq!(server["application"], json!("etcd"));
    assert_eq!(server["common-name"], json!("etcd0.example.com"));
    let csr = server["csr"].as_str().unwrap().to_string();

    let o = Outside::new();
    let leaf = o.leaf(&csr);
    let out = w.action(
        "provide-certificate",
        with(
            provide_params(&csr, &leaf, &o.int_pem()),
            "unit-name",
            json!("etcd/0"),
        ),
    );
    assert_eq!(out.ok()["legacy"], "true");
    assert_eq!(out.ok()["unit"], "etcd_0");
    let own = w.own_unit_bag(5);
    assert!(
        own.values()
            .any(|v| v.contains(leaf.lines().nth(1).unwrap())),
        "the certificate is published in our unit databag: {own:?}"
    );
    let left = w
        .action("get-outstanding-certificate-requests", json!({}))
        .list("requests");
    assert!(left.iter().all(|r| r["csr"] != json!(csr)));
}

#[test]
fn switching_to_manual_keeps_built_in_certificates_and_signs_nothing_new() {
    let w = World::leader_in("self-signed");
    w.relate(1, "req", &["req/0"]);
    let a = new_csr("a.example.com");
    w.request(1, "req/0", &[(&a, false)]);
    w.reconcile();
    let issued = w.certificates(1);
    assert_eq!(issued.len(), 1);
    w.config("mode", json!("manual"));
    let b = new_csr("b.example.com");
    w.request(1, "req/0", &[(&a, false), (&b, false)]);
    let s = w.reconcile();
    assert_eq!(s.totals.outstanding, 1);
    assert_eq!(
        w.certificates(1),
        issued,
        "the built-in CA's certificate stays"
    );
    let list = w
        .action("get-outstanding-certificate-requests", json!({}))
        .list("requests");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["csr"], json!(b));
}
