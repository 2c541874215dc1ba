//! The `send-ca-cert` endpoint and CA rotation phases, state-in/state-out on the in-memory model
//! (`tests/common/world.rs`): what v0 and v1 requirers get, the call budget and idempotency,
//! hostile requirer data, `trusted-certificates`, non-leaders, and the announce / switch / retire
//! phases of a rotation with the clock moved by hand. End to end with the real requirer library:
//! `tests/transfer_sim.rs`.

mod common;

use std::time::{Duration, SystemTime};

use common::interop::crafted_with_dns;
use common::outside_ca::OutsideCa;
use common::world::{World, APP};
use juju_hook::{Databag, RelationId, StatusName};
use openssl::x509::X509;
use serde_json::{json, Value};
use tls_provider::charm::reconcile::scope::{Pass, Why};
use tls_provider::charm::reconcile::ReconcileOptions;
use tls_provider::pki::trust::pem_of;

const PEER: u32 = 9;
const CERTS: u32 = 1;

fn bag(pairs: &[(&str, &str)]) -> Databag {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A leader with the peer relation, one modern requirer with one certificate, and `send-ca-cert`
/// relations: one per entry of `versions` (`Some(v)`: the requirer app's `version`).
fn world(versions: &[Option<&str>]) -> World {
    let w = World::new(true);
    w.tools.add_relation(PEER, "cluster", APP, &[]);
    w.relate(CERTS, "req", &["req/0"]);
    w.request(
        CERTS,
        "req/0",
        &[(&crafted_with_dns("a.example.com").pem, false)],
    );
    for (i, v) in versions.iter().enumerate() {
        let id = 20 + i as u32;
        let app = format!("client{i}");
        w.tools
            .add_relation(id, "send-ca-cert", &app, &[&format!("{app}/0")]);
        if let Some(v) = v {
            w.tools.set_remote_app_bag(id, bag(&[("version", v)]));
        }
    }
    w
}

fn norm(pem: &str) -> String {
    pem_of(&X509::from_pem(pem.as_bytes()).unwrap())
}

fn certificates_of(w: &World, id: u32) -> Vec<String> {
    let b = w.own_bag(id);
    serde_json::from_str(&b["certificates"]).unwrap()
}

fn peer_bag(w: &World) -> Databag {
    w.own_bag(PEER)
}

#[test]
fn v1_gets_the_app_databag_v0_also_the_unit_databag_with_the_active_ca() {
    let w = world(&[Some("1"), None]);
    w.reconcile();
    let ca = norm(&w.ca_pem());
    // v1: certificates (the bundle) and version 1 in the application databag; no unit keys.
    let v1 = w.own_bag(20);
    assert_eq!(v1["version"], "1");
    assert_eq!(certificates_of(&w, 20), vec![ca.clone()]);
    assert!(w.own_unit_bag(20).is_empty(), "{:?}", w.own_unit_bag(20));
    // v0: the same application databag, and ca/certificate/chain/version in the unit databag,
    // JSON-encoded the way the library dumps them.
    assert_eq!(w.own_bag(21), v1);
    let unit = w.own_unit_bag(21);
    let ca_json = Value::from(ca.as_str()).to_string();
    assert_eq!(unit["ca"], ca_json);
    assert_eq!(unit["certificate"], ca_json);
    assert_eq!(unit["chain"], format!("[{ca_json}]"));
    assert_eq!(unit["version"], "0");
    // The peer databag tells the other units the bundle, and records what went where.
    let peer = peer_bag(&w);
    let shared: Value = serde_json::from_str(&peer["trust-bundle"]).unwrap();
    assert_eq!(shared[0]["certificate"], json!(ca));
    assert_eq!(shared[0]["role"], json!("active"));
    let records: Value = serde_json::from_str(&peer["trust-relations"]).unwrap();
    assert_eq!(records["20"]["app"], json!("client0"));
    assert_eq!(records["21"]["by"], json!(format!("{APP}/0")));
    let (st, msg) = w.unit_status();
    assert_eq!(st, StatusName::Active);
    assert!(
        msg.contains("trust bundle of 1 certificate sent on 2 relations"),
        "{msg}"
    );
    // A v0 requirer that upgrades to v1: the unit keys go.
    w.tools.set_remote_app_bag(21, bag(&[("version", "1")]));
    w.reconcile();
    assert!(w.own_unit_bag(21).is_empty());
}

/// A steady full pass (`config-changed`): one read per `send-ca-cert` relation. A relation
/// hook of `certificates` reads none of them, one of `send-ca-cert` only its own
/// (`tests/scope_unit.rs`).
#[test]
fn steady_full_pass_reads_one_databag_per_relation_and_writes_nothing() {
    let w = world(&[Some("1"), None, Some("1")]);
    w.reconcile();
    w.tools.reset_calls();
    let s = w.reconcile();
    assert_eq!(s.pass, Some(Pass::Full(Why::Event)));
    assert_eq!(w.relation_sets(), 0, "{:#?}", w.calls());
    let calls = w.calls();
    let mut expected = vec![
        "is-leader".to_string(),
        "config-get".to_string(),
        // Whether an upstream provider signs our CA.
        "relation-ids upstream-ca".to_string(),
        "secret-get Label(\"tls-provider-ca\")".to_string(),
        "relation-ids certificates".to_string(),
        "relation-ids send-ca-cert".to_string(),
        format!("relation-list -r {CERTS}"),
        format!("relation-get -r {CERTS} - req/0"),
        format!("relation-get -r {CERTS} --app - req"),
        format!("relation-get -r {CERTS} --app - {APP}"),
        // send-ca-cert: the peer record once, then one read per relation.
        "relation-ids cluster".to_string(),
        format!("relation-get -r {PEER} --app - {APP}"),
    ];
    for (id, app) in [(20, "client0"), (21, "client1"), (22, "client2")] {
        expected.push(format!("relation-get -r {id} --app - {app}"));
    }
    assert_eq!(calls, expected);
    // The same with no send-ca-cert relation costs only the relation-ids call.
    let w = world(&[]);
    w.reconcile();
    w.tools.reset_calls();
    w.reconcile();
    let calls = w.calls();
    assert_eq!(calls.len(), 10, "{calls:#?}");
    assert_eq!(calls[5], "relation-ids send-ca-cert");
    // The certificates relation's own hook: no send-ca-cert relation is read.
    let w = world(&[Some("1"), None, Some("1")]);
    w.reconcile();
    w.tools.reset_calls();
    let s = w.relation_changed(CERTS, "req");
    assert!(matches!(s.pass, Some(Pass::Scoped { .. })));
    // An application-level change: the unit's bag is the cached one.
    assert_eq!(w.calls().len(), 9, "{:#?}", w.calls());
    assert!(s
        .status
        .unwrap()
        .1
        .contains("trust bundle of 1 certificate sent on 3 relations"));
}

#[test]
fn hostile_version_values_are_answered_in_v0_and_never_fail_the_hook() {
    let huge = "9".repeat(200_000);
    let values = ["{not json", "[1]", "\"1\"", "null", huge.as_str(), "1\u{0}"];
    let versions: Vec<Option<&str>> = values.iter().map(|v| Some(*v)).collect();
    let w = world(&versions);
    let s = w.reconcile();
    assert_eq!(s.status.as_ref().unwrap().0, StatusName::Active);
    let ca = norm(&w.ca_pem());
    for i in 0..values.len() as u32 {
        let unit = w.own_unit_bag(20 + i);
        assert_eq!(unit["version"], "0", "{i}");
        assert_eq!(certificates_of(&w, 20 + i), vec![ca.clone()]);
    }
    let notes: Vec<&String> = s
        .notes
        .iter()
        .filter(|n| n.contains("answering in v0"))
        .collect();
    assert_eq!(notes.len(), values.len(), "{:?}", s.notes);
    assert!(notes.iter().all(|n| n.len() < 300), "notes are bounded");
}

#[test]
fn trusted_certificates_join_the_bundle_and_bad_values_block_naming_the_option() {
    let w = world(&[Some("1")]);
    let outside = OutsideCa::new();
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(outside.root_pem());
    w.config("trusted-certificates", json!(b64));
    w.reconcile();
    let got = certificates_of(&w, 20);
    assert!(got.contains(&norm(&outside.root_pem())), "{got:?}");
    assert!(got.contains(&norm(&w.ca_pem())));
    assert_eq!(got.len(), 2);
    for (bad, why) in [
        ("not a certificate", "neither PEM certificates nor base64"),
        (
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            "contains a private key",
        ),
    ] {
        w.config("trusted-certificates", json!(bad));
        let s = w.reconcile();
        let (st, msg) = s.status.unwrap();
        assert_eq!(st, StatusName::Blocked);
        assert!(msg.contains("trusted-certificates:"), "{msg}");
        assert!(msg.contains(why), "{msg}");
    }
    // Blocked, the bundle already published stays as it was.
    assert_eq!(certificates_of(&w, 20), got);
}

#[test]
fn a_non_leader_publishes_the_leaders_v0_data_from_the_peer_databag() {
    let leader = world(&[None]);
    leader.reconcile();
    let peer = peer_bag(&leader);
    let expected = leader.own_unit_bag(20);
    let w = World::new(false);
    w.tools.add_relation(PEER, "cluster", APP, &[]);
    w.tools
        .state
        .borrow_mut()
        .relations
        .get_mut(&RelationId(PEER))
        .unwrap()
        .local_app_bag = peer;
    w.tools
        .add_relation(20, "send-ca-cert", "client0", &["client0/0"]);
    w.reconcile();
    assert_eq!(w.own_unit_bag(20), expected);
    w.tools.reset_calls();
    w.reconcile();
    assert_eq!(w.relation_sets(), 0, "idempotent");
}

/// `ca-rotation-overlap=1h`, `certificate-validity=2d`: the new CA is announced (bundle: old and
/// new, certificates still under the old), signs an hour later (everything reissued, bundle: new
/// and previous), and the previous CA leaves the bundle when its last certificate has expired.
#[test]
fn rotation_announces_then_switches_then_retires_the_previous_ca() {
    let w = world(&[Some("1")]);
    w.config("root-ca-validity", json!("30d"));
    w.config("certificate-validity", json!("2d"));
    w.config("ca-rotation-overlap", json!("1h"));
    let t0 = SystemTime::now();
    w.reconcile_at(t0);
    let old = norm(&w.ca_pem());
    let leaf0 = w.certificates(CERTS)[0].certificate.clone();

    let r = w.action_at("rotate-private-key", json!({}), t0);
    let r = r.ok();
    assert_eq!(r["reissued"], "0");
    assert!(r["result"].contains("new CA announced"), "{r:?}");
    let next = norm(&r["next-ca-certificate"]);
    assert!(r["phase"].contains("CA rotation announced"), "{r:?}");
    let announced = certificates_of(&w, 20);
    assert_eq!(announced.len(), 2);
    assert!(announced.contains(&old) && announced.contains(&next));
    assert_eq!(
        w.certificates(CERTS)[0].certificate,
        leaf0,
        "nothing reissued yet"
    );
    let (_, msg) = w.unit_status();
    assert!(
        msg.contains("CA rotation announced: new CA signs from"),
        "{msg}"
    );
    // Asking again during the overlap says so.
    let again = w.action_at(
        "rotate-private-key",
        json!({}),
        t0 + Duration::from_secs(60),
    );
    assert!(again.failed.unwrap().contains("already announced"));

    // 59 minutes in: still announced.
    let s = w.reconcile_at(t0 + Duration::from_secs(59 * 60));
    assert!(s.ca_rotated.is_none());
    // After the overlap: the next CA signs, everything is reissued under it.
    let t1 = t0 + Duration::from_secs(3600 + 30);
    let s = w.reconcile_at(t1);
    assert!(s.ca_rotated.is_some(), "{s:?}");
    assert_eq!(norm(&w.ca_pem()), next);
    assert_ne!(w.certificates(CERTS)[0].certificate, leaf0);
    assert_eq!(norm(&w.certificates(CERTS)[0].ca), next);
    let switched = certificates_of(&w, 20);
    assert_eq!(switched, announced, "old (previous) and new, same set");
    let (_, msg) = w.unit_status();
    assert!(msg.contains("previous CA trusted until"), "{msg}");
    // The secret expires at the next deadline: the end of the previous CA's trust.
    let content = w.ca_secret();
    assert!(content.contains_key("previous-trusted-until"));
    assert!(!content.contains_key("next-ca-certificate"));

    // Two days after the switch every certificate the old CA issued has expired: it leaves.
    let t2 = t1 + Duration::from_secs(2 * 86_400 + 60);
    w.reconcile_at(t2);
    assert_eq!(certificates_of(&w, 20), vec![next.clone()]);
    assert!(!w.ca_secret().contains_key("previous-ca-certificate"));
    let (_, msg) = w.unit_status();
    assert!(!msg.contains("CA rotation"), "{msg}");
    // And it stays so.
    w.tools.reset_calls();
    w.reconcile_at(t2 + Duration::from_secs(60));
    assert_eq!(w.relation_sets(), 0);
    assert_eq!(w.tools.count("secret-set"), 0);
}

#[test]
fn immediate_rotation_switches_at_once_even_during_an_overlap() {
    let w = world(&[Some("1")]);
    w.config("ca-rotation-overlap", json!("1h"));
    w.reconcile();
    let old = norm(&w.ca_pem());
    w.action("rotate-private-key", json!({})).ok();
    let next = norm(&w.ca_secret()["next-ca-certificate"]);
    let r = w.action("rotate-private-key", json!({"immediate": true}));
    assert_eq!(r.ok()["reissued"], "1");
    assert_eq!(norm(&w.ca_pem()), next, "the announced CA takes over");
    let got = certificates_of(&w, 20);
    assert!(got.contains(&old) && got.contains(&next));
    let bad = w.action("rotate-private-key", json!({"immediate": "yes"}));
    assert!(bad
        .failed
        .unwrap()
        .contains("immediate must be true or false"));
}

#[test]
fn get_trust_bundle_shows_each_certificate_and_why() {
    let w = world(&[Some("1")]);
    w.config("ca-rotation-overlap", json!("1h"));
    w.reconcile();
    w.action("rotate-private-key", json!({})).ok();
    let out = w.action("get-trust-bundle", json!({}));
    let list = out.list("certificates");
    assert_eq!(out.ok()["count"], "2");
    let roles: Vec<&str> = list.iter().map(|e| e["role"].as_str().unwrap()).collect();
    assert!(
        roles.contains(&"active") && roles.contains(&"next"),
        "{roles:?}"
    );
    for e in &list {
        assert!(e["fingerprint-sha256"].as_str().unwrap().len() == 95);
        assert!(e["subject"].as_str().unwrap().contains("tls-provider"));
        assert!(e["not-after"].as_str().unwrap().ends_with('Z'));
        assert!(!e["why"].as_str().unwrap().is_empty());
    }
    assert!(out.ok()["phase"].contains("CA rotation announced"));
    assert!(out.ok()["bundle"].matches("BEGIN CERTIFICATE").count() == 2);
    assert!(!out.ok().values().any(|v| v.contains("PRIVATE KEY")));
    let _ = ReconcileOptions::default();
}
