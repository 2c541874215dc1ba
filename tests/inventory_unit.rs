//! `list-certificates` through the action path against the in-memory model
//! ([`common::world::World`]): every state (issued, expiring on a simulated clock, outstanding,
//! denied by policy, revoked with its recorded reason), unit and app scope, both dialects, the
//! filters and their refusals, and 1000 certificates split the way the other listings split.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use common::actions::join_list_parts;
use common::world::World;
use openssl::x509::X509;
use serde_json::{json, Value};
use tls_provider::charm::clock::rfc3339;
use tls_provider::charm::revocation::csr_fingerprint;
use tls_provider::pki::verify::cert_info;
use tls_provider::pki::{csr_to_pem, generate_csr, KeyAlgorithm};

const DAY: u64 = 86_400;
const PEER: u32 = 99;

fn new_csr(cn: &str, sans: &[&str]) -> String {
    let key = KeyAlgorithm::EcdsaP256.generate().unwrap();
    let sans: Vec<String> = sans.iter().map(|s| s.to_string()).collect();
    csr_to_pem(&generate_csr(&key, cn, &sans).unwrap()).unwrap()
}

/// Uppercase hex without leading zeros.
fn serial(pem: &str) -> String {
    let info = cert_info(&X509::from_pem(pem.as_bytes()).unwrap());
    info.serial_hex.trim_start_matches('0').to_uppercase()
}

/// The whole `certificates` list of an action's results, joined from its parts.
fn inventory(results: &BTreeMap<String, String>) -> (Vec<Value>, usize) {
    let parts: usize = results
        .get("certificates-parts")
        .map_or(1, |n| n.parse().unwrap());
    let all: Vec<Value> = if parts == 1 {
        serde_json::from_str(&results["certificates"]).unwrap()
    } else {
        join_list_parts(
            |k| results.get(k).map(String::as_str),
            "certificates",
            parts,
        )
    };
    assert_eq!(results["count"], all.len().to_string());
    juju_hook::process::action_set_batches(results).unwrap();
    (all, parts)
}

/// The entries of `list-certificates` with `params` at `now`.
fn list(w: &World, params: Value, now: SystemTime) -> Vec<Value> {
    let out = w.action_at("list-certificates", params, now);
    inventory(out.ok()).0
}

/// The entry of `rel` and `unit` (`None`: app scope).
fn find<'a>(entries: &'a [Value], rel: Value, unit: Option<&str>) -> &'a Value {
    let unit = unit.map_or(Value::Null, |u| json!(u));
    entries
        .iter()
        .find(|e| e["relation-id"] == rel && e["unit"] == unit)
        .unwrap_or_else(|| panic!("no entry {rel} {unit} in {entries:#?}"))
}

struct Fleet {
    w: World,
    web0: String,
    app_csr: String,
    now: SystemTime,
}

/// Self-signed, `allowed-domains=example.com`: web (3: web/0 issued, web/1 revoked as
/// superseded), api (4: one app-level request), evil (5: denied), etcd (7, legacy).
fn fleet() -> Fleet {
    let w = World::leader_in("self-signed");
    w.config("allowed-domains", json!("example.com"));
    w.tools
        .add_relation(PEER, "cluster", common::world::APP, &[]);
    w.relate(3, "web", &["web/0", "web/1"]);
    w.relate(4, "api", &["api/0"]);
    w.relate(5, "evil", &["evil/0"]);
    w.relate(7, "etcd", &["etcd/0"]);
    let web0 = new_csr("web0.example.com", &["web0.example.com", "10.1.2.3"]);
    let web1 = new_csr("web1.example.com", &["web1.example.com"]);
    let app_csr = new_csr("api.example.com", &["api.example.com"]);
    w.request(3, "web/0", &[(&web0, false)]);
    w.request(3, "web/1", &[(&web1, false)]);
    w.request(4, "api", &[(&app_csr, false)]);
    w.request(5, "evil/0", &[(&new_csr("evil.org", &["evil.org"]), false)]);
    w.set_unit_keys(
        7,
        "etcd/0",
        &[
            ("unit_name", "etcd_0"),
            ("common_name", "etcd0.example.com"),
            ("sans", r#"["10.0.0.10"]"#),
        ],
    );
    let now = SystemTime::now();
    w.reconcile_at(now);
    let out = w.action_at(
        "revoke-certificate",
        json!({"relation-id": 3, "unit": "web/1", "reason": "superseded"}),
        now,
    );
    out.ok();
    Fleet {
        w,
        web0,
        app_csr,
        now,
    }
}

#[test]
fn every_state_scope_and_dialect_with_exact_fields() {
    let f = fleet();
    let later = f.now + Duration::from_secs(1);
    let out = f.w.action_at("list-certificates", json!({}), later);
    let (all, parts) = inventory(out.ok());
    assert_eq!(parts, 1);
    let published = f.w.certificates(3);
    let cert = &published
        .iter()
        .find(|c| c.certificate_signing_request == f.web0)
        .unwrap()
        .certificate;
    let info = cert_info(&X509::from_pem(cert.as_bytes()).unwrap());
    let ca = cert_info(&X509::from_pem(f.w.ca_pem().as_bytes()).unwrap());
    assert_eq!(
        find(&all, json!(3), Some("web/0")),
        &json!({
            "relation-id": 3,
            "application": "web",
            "unit": "web/0",
            "scope": "unit",
            "dialect": "modern",
            "common-name": "web0.example.com",
            "sans": [
                {"type": "dns", "value": "web0.example.com"},
                {"type": "ip", "value": "10.1.2.3"}
            ],
            "is-ca": false,
            "serial": serial(cert),
            "csr-fingerprint": csr_fingerprint(&f.web0).unwrap(),
            "not-before": rfc3339(info.not_before),
            "not-after": rfc3339(info.not_after),
            "days-left": 89,
            "issuer": ca.subject,
            "state": "issued",
            "reason": null,
        })
    );
    let revoked = find(&all, json!(3), Some("web/1"));
    assert_eq!(revoked["state"], json!("revoked"));
    assert_eq!(revoked["reason"], json!("superseded"));
    let app = find(&all, json!(4), None);
    assert_eq!(app["scope"], json!("app"));
    assert_eq!(app["application"], json!("api"));
    assert_eq!(app["state"], json!("issued"));
    assert_eq!(app["csr-fingerprint"], json!(csr_fingerprint(&f.app_csr)));
    let denied = find(&all, json!(5), Some("evil/0"));
    assert_eq!(denied["state"], json!("denied"));
    let reason = denied["reason"].as_str().unwrap();
    assert!(reason.contains("evil.org"), "{reason}");
    for k in ["serial", "not-after", "days-left", "issuer"] {
        assert_eq!(denied[k], Value::Null, "{k}");
    }
    let server = find(&all, json!(7), Some("etcd_0"));
    assert_eq!(server["dialect"], json!("legacy"));
    assert_eq!(server["state"], json!("issued"));
    assert_eq!(server["common-name"], json!("etcd0.example.com"));
    let client = find(&all, Value::Null, None);
    assert_eq!(
        (&client["dialect"], &client["application"]),
        (&json!("legacy"), &json!("etcd"))
    );
    assert_eq!(all.len(), 6, "{all:#?}");
    assert_eq!(
        out.ok()["message"],
        "6 certificate requests: 4 issued, 1 denied, 1 revoked"
    );
}

fn names(entries: &[Value]) -> BTreeSet<String> {
    entries
        .iter()
        .map(|e| format!("{}:{}", e["relation-id"], e["unit"]))
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn expiring_on_a_simulated_clock_and_the_filters() {
    let f = fleet();
    let w = &f.w;
    let issued = set(&["3:\"web/0\"", "4:null", "7:\"etcd_0\"", "null:null"]);
    // certificate-validity 90d, expiry-warning 20%: the window opens 18 days before notAfter.
    assert!(list(
        w,
        json!({"state": "expiring"}),
        f.now + Duration::from_secs(70 * DAY)
    )
    .is_empty());
    let late = f.now + Duration::from_secs(80 * DAY);
    let expiring = list(w, json!({"state": "expiring"}), late);
    assert_eq!(names(&expiring), issued);
    assert!(
        expiring.iter().all(|e| e["days-left"] == json!(9)),
        "{expiring:#?}"
    );
    assert_eq!(names(&list(w, json!({"state": "issued"}), late)), issued);
    assert_eq!(names(&list(w, json!({"state": "issued"}), f.now)), issued);
    w.config("expiry-warning", json!("5d"));
    assert!(list(w, json!({"state": "expiring"}), late).is_empty());
    w.config("expiry-warning", json!("20%"));

    let out = w.action_at("list-certificates", json!({"state": "outstanding"}), f.now);
    assert_eq!(out.ok()["count"], "0");
    assert_eq!(
        out.ok()["message"],
        "0 certificate requests matching state=outstanding"
    );
    let only = |p: Value| names(&list(w, p, f.now));
    assert_eq!(only(json!({"relation-id": 4})), set(&["4:null"]));
    assert_eq!(
        only(json!({"application": "web"})),
        set(&["3:\"web/0\"", "3:\"web/1\""])
    );
    assert_eq!(
        only(json!({"application": "web", "state": "revoked"})),
        set(&["3:\"web/1\""])
    );
    assert_eq!(
        only(json!({"application": "etcd"})),
        set(&["7:\"etcd_0\"", "null:null"])
    );
    assert_eq!(only(json!({"relation-id": "7"})), set(&["7:\"etcd_0\""]));
    let out = w.action_at("list-certificates", json!({"application": "nope"}), f.now);
    assert_eq!(
        out.ok()["message"],
        "0 certificate requests matching application=nope \
         (related applications: api, etcd, evil, web)"
    );
    assert_eq!(out.list("certificates"), Vec::<Value>::new());
    assert_eq!(only(json!({"state": "denied"})), set(&["5:\"evil/0\""]));

    w.refuses(
        "list-certificates",
        json!({"state": "foo"}),
        &["state=\"foo\" is not a state; use one of issued, expiring, outstanding, denied, revoked"],
    );
    w.refuses(
        "list-certificates",
        json!({"relation-id": 42}),
        &["relation-id 42 is not a certificates relation of this application (live relations: 3, 4, 5, 7)"],
    );
}

#[test]
fn a_thousand_certificates_are_listed_in_parts() {
    let w = World::leader_in("self-signed");
    let units = ["fleet/0", "fleet/1", "fleet/2", "fleet/3"];
    w.relate(1, "fleet", &units);
    let csrs: Vec<String> = (0..1000)
        .map(|i| {
            let cn = format!("host-{i:04}.example.com");
            new_csr(&cn, &[&cn])
        })
        .collect();
    for (u, unit) in units.iter().enumerate() {
        let mine: Vec<(&str, bool)> = csrs
            .iter()
            .skip(u)
            .step_by(units.len())
            .map(|c| (c.as_str(), false))
            .collect();
        w.request(1, unit, &mine);
    }
    w.reconcile();
    assert_eq!(w.certificates(1).len(), 1000);
    let out = w.action("list-certificates", json!({}));
    let results = out.ok();
    assert_eq!(results["count"], "1000");
    let (all, parts) = inventory(results);
    assert!(parts >= 4, "{parts} parts");
    assert_eq!(results["certificates-parts"], parts.to_string());
    let serials: BTreeSet<&str> = all.iter().map(|e| e["serial"].as_str().unwrap()).collect();
    let want: BTreeSet<String> = w
        .certificates(1)
        .iter()
        .map(|c| serial(&c.certificate))
        .collect();
    assert_eq!(serials.len(), 1000, "no entry twice");
    assert_eq!(serials, want.iter().map(String::as_str).collect());
    assert!(all.iter().all(|e| e["state"] == json!("issued")));
    let message = &results["message"];
    assert!(
        message.starts_with(
            "1000 certificate requests: 1000 issued; the certificates list is too large"
        ),
        "{message}"
    );
    assert!(
        message.contains(&format!("certificates-parts={parts}")),
        "{message}"
    );
    let empty = World::leader_in("self-signed");
    let out = empty.action("list-certificates", json!({}));
    assert_eq!(
        out.ok()["message"],
        "0 certificate requests (no application is related yet: \
         juju integrate tls-provider:certificates <application>)"
    );
    // A filter that keeps few entries keeps one result.
    let out = w.action("list-certificates", json!({"state": "outstanding"}));
    assert!(!out.ok().contains_key("certificates-parts"));
    assert_eq!(out.list("certificates"), Vec::<Value>::new());
}
