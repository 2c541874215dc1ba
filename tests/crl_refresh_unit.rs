//! The CRLs the leader keeps, driven by the hook clock on the in-memory model: signed again at
//! half of `crl-validity` (an idle `update-status` wakes for it, and only then), at once for a
//! new `crl-validity` and on a revocation; after a CA rotation the previous CA's CRL is kept
//! valid (refreshed too) while the previous CA is in the trust bundle, and dropped when it
//! leaves. Each CRL is checked with `openssl crl -verify` against its CA.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::interop::crafted_with_dns;
use common::pki::crl_verified_text;
use common::world::*;
use serde_json::{json, Value};
use tls_provider::charm::clock;
use tls_provider::charm::reconcile::scope::{Pass, Why};

const HOUR: u64 = 3_600;
const DAY: u64 = 86_400;
const PEER: u32 = 90;
const REL: u32 = 1;

fn later(t: SystemTime, secs: u64) -> SystemTime {
    t + Duration::from_secs(secs)
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// The leader with the peer relation and one requirer unit with two CSRs.
fn world(config: &[(&str, &str)]) -> World {
    let w = World::new(true);
    for (k, v) in config {
        w.config(k, json!(v));
    }
    w.tools.add_relation(PEER, "cluster", APP, &[]);
    w.relate(REL, "web", &["web/0"]);
    let a = crafted_with_dns("a.example.com");
    let b = crafted_with_dns("b.example.com");
    w.request(REL, "web/0", &[(&a.pem, false), (&b.pem, false)]);
    w
}

/// The serial (hex, as openssl prints it) of the first certificate published on [`REL`].
fn serial(w: &World) -> String {
    let pem = &w.certificates(REL)[0].certificate;
    let cert = openssl::x509::X509::from_pem(pem.as_bytes()).unwrap();
    let bn = cert.serial_number().to_bn().unwrap();
    bn.to_hex_str().unwrap().to_string()
}

fn crls(w: &World) -> Vec<Value> {
    let bag = w.tools.local_app_bag(PEER);
    serde_json::from_str(bag.get("crls").expect("crls stored")).unwrap()
}

fn field(crl: &Value, key: &str) -> u64 {
    crl[key].as_u64().unwrap()
}

/// `openssl crl -verify` of a stored CRL against `ca`: its text.
fn verified(ca: &str, crl: &Value) -> String {
    crl_verified_text(ca, crl["pem"].as_str().unwrap())
}

#[test]
fn the_crl_is_signed_again_at_half_of_its_validity_and_not_before() {
    let w = world(&[("crl-validity", "2d"), ("full-reconcile-interval", "30d")]);
    let t0 = SystemTime::now();
    w.reconcile_at(t0);
    let first = crls(&w);
    assert_eq!(first.len(), 1, "one CA, one CRL");
    assert_eq!(field(&first[0], "this-update"), unix(t0));
    assert_eq!(field(&first[0], "next-update"), unix(t0) + 2 * DAY);
    verified(&w.ca_pem(), &first[0]);

    // Before half-life an update-status does nothing at all.
    w.tools.reset_calls();
    let s = w.update_status_at(later(t0, DAY - 60));
    assert_eq!(s.pass, Some(Pass::Idle));
    assert_eq!(w.calls(), vec!["is-leader"]);

    // At half-life it wakes, signs a new CRL and stores it; nothing else is written.
    w.tools.reset_calls();
    let t1 = later(t0, DAY + 60);
    let s = w.update_status_at(t1);
    assert_eq!(s.pass, Some(Pass::Full(Why::Deadline)));
    let second = crls(&w);
    assert_eq!(field(&second[0], "this-update"), unix(t1));
    assert_eq!(field(&second[0], "next-update"), unix(t1) + 2 * DAY);
    assert!(field(&second[0], "number") > field(&first[0], "number"));
    verified(&w.ca_pem(), &second[0]);
    assert_eq!(w.tools.count("relation-set"), 1, "{:?}", w.calls());
    assert_eq!(w.update_status_at(later(t1, 60)).pass, Some(Pass::Idle));

    // get-crl returns the stored CRL while it is current.
    let out = w.action_at("get-crl", json!({}), later(t1, 120));
    assert_eq!(out.failed, None);
    assert_eq!(out.ok()["crl"], second[0]["pem"].as_str().unwrap());
    let next = UNIX_EPOCH + Duration::from_secs(unix(t1) + 2 * DAY);
    assert_eq!(out.ok()["next-update"], clock::rfc3339(next));

    // A new crl-validity signs again at once.
    w.config("crl-validity", json!("6h"));
    let t2 = later(t1, HOUR);
    w.reconcile_at(t2);
    let third = crls(&w);
    assert_eq!(field(&third[0], "next-update"), unix(t2) + 6 * HOUR);
    // And the next one is due at 3 hours.
    assert_eq!(
        w.update_status_at(later(t2, 3 * HOUR - 60)).pass,
        Some(Pass::Idle)
    );
    assert_eq!(
        w.update_status_at(later(t2, 3 * HOUR + 60)).pass,
        Some(Pass::Full(Why::Deadline))
    );
    assert_eq!(field(&crls(&w)[0], "this-update"), unix(t2) + 3 * HOUR + 60);
}

#[test]
fn a_revocation_signs_the_crl_at_once() {
    let w = world(&[]);
    let t0 = SystemTime::now();
    w.reconcile_at(t0);
    let before = crls(&w);
    assert_eq!(field(&before[0], "revoked"), 0);
    let serial = serial(&w);
    let out = w.action_at(
        "revoke-certificate",
        json!({"serial": serial}),
        later(t0, 60),
    );
    assert_eq!(out.failed, None);
    let after = crls(&w);
    assert_eq!(field(&after[0], "revoked"), 1);
    assert_eq!(out.ok()["crl"], after[0]["pem"].as_str().unwrap());
    let text = verified(&w.ca_pem(), &after[0]);
    assert!(text.contains(&serial), "{text}");
}

#[test]
fn the_previous_ca_keeps_a_fresh_crl_while_it_is_in_the_trust_bundle() {
    let config = [
        ("crl-validity", "2d"),
        ("certificate-validity", "5d"),
        ("full-reconcile-interval", "30d"),
    ];
    let w = world(&config);
    let t0 = SystemTime::now();
    w.reconcile_at(t0);
    let old_ca = w.ca_pem();
    let serial = serial(&w);
    let out = w.action_at("revoke-certificate", json!({"serial": serial}), t0);
    assert_eq!(out.failed, None);
    let t1 = later(t0, HOUR);
    let out = w.action_at("rotate-private-key", json!({"immediate": true}), t1);
    assert_eq!(out.failed, None, "{:?}", out.results);
    let new_ca = w.ca_pem();
    assert_ne!(new_ca, old_ca);
    w.reconcile_at(t1);
    let both = crls(&w);
    assert_eq!(both.len(), 2, "the active CA's and the previous CA's");
    verified(&new_ca, &both[0]);
    let text = verified(&old_ca, &both[1]);
    assert!(
        text.contains(&serial),
        "the previous CA's CRL lists its revocation: {text}"
    );
    let out = w.action_at("get-crl", json!({}), t1);
    assert_eq!(out.ok()["previous-crl"], both[1]["pem"].as_str().unwrap());
    assert_eq!(out.ok()["previous-revoked-count"], "1");
    assert_eq!(out.ok()["revoked-count"], "0");

    // Both are signed again at half-life, the previous one with its own key.
    let t2 = later(t1, DAY + 60);
    assert_eq!(w.update_status_at(t2).pass, Some(Pass::Full(Why::Deadline)));
    let again = crls(&w);
    assert_eq!(field(&again[1], "this-update"), unix(t2));
    let text = verified(&old_ca, &again[1]);
    assert!(text.contains(&serial), "{text}");

    // The previous CA leaves the trust bundle once every certificate it issued has expired
    // (certificate-validity after the switch); its CRL and its key go with it.
    let t3 = later(t1, 5 * DAY + HOUR);
    w.update_status_at(t3);
    let last = crls(&w);
    assert_eq!(last.len(), 1, "{last:?}");
    verified(&new_ca, &last[0]);
    let secret = w.ca_secret();
    assert!(
        !secret.contains_key("previous-private-key"),
        "{:?}",
        secret.keys()
    );
    let out = w.action_at("get-crl", json!({}), t3);
    assert!(!out.ok().contains_key("previous-crl"));
}

#[test]
fn a_unit_elected_again_reads_the_crls_another_leader_left() {
    let w = world(&[("full-reconcile-interval", "30d")]);
    let t0 = SystemTime::now();
    w.reconcile_at(t0);
    let serial = serial(&w);
    // Another leader, meanwhile, recorded a revocation (and its CRL), then lost leadership:
    // this unit's cache is from its earlier term.
    let out = w.action_at("revoke-certificate", json!({"serial": serial}), t0);
    assert_eq!(out.failed, None);
    let revoked = crls(&w);
    let mut stale = w.tools.local_app_bag(PEER);
    stale.insert("crls".into(), "[]".into());
    w.tools
        .state
        .borrow_mut()
        .relations
        .get_mut(&juju_hook::RelationId(PEER))
        .unwrap()
        .local_app_bag = stale;
    // Any other full pass trusts the cache of this term...
    w.reconcile_at(later(t0, 60));
    assert_eq!(w.tools.local_app_bag(PEER)["crls"], "[]");
    // ...but leader-elected reads and signs again what is missing.
    w.run_ctx(&w.ctx("leader-elected"), later(t0, 120), Default::default());
    let now = crls(&w);
    assert_eq!(now.len(), 1);
    assert_eq!(field(&now[0], "revoked"), 1, "{now:?} (was {revoked:?})");
    let text = verified(&w.ca_pem(), &now[0]);
    assert!(text.contains(&serial), "{text}");
}
