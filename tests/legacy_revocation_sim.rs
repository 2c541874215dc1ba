//! `revoke-certificate` for legacy requirers under the simulator, with the Python legacy
//! requirer test charm (`tests/charms/legacy-requirer`): revoke by serial, by CSR fingerprint,
//! and by relation (with and without a unit). The certificate and the key we generated leave the
//! relation data, the record lands in the CRL of `get-crl` (checked with `openssl crl -verify`
//! and `openssl verify -crl_check`), other requirers keep theirs, later hooks neither re-issue
//! nor rewrite anything for the unchanged request, and a changed request (or the relation made
//! again) gets a new key and certificate with a new serial.
//!
//! Needs the built test charms: run `make test-charms` first.

mod common;

use common::interop::{deploy_provider, obj, other_unit, secrets_labelled};
use common::pki::{crl_check, crl_verified_text, openssl_ok, verify_cert_and_key};
use jujusim::{ActionResult, Model};
use openssl::x509::X509;
use serde_json::{json, Value};

const PROV: &str = "tls-provider";
const LEG: &str = "etcd";
const KV: &str = "kv";

use common::deploy_legacy;

fn peer_request() -> &'static str {
    r#"{"peer.example.com": {"sans": []}}"#
}

/// The provider (`prov_units`) and `etcd` (`units`, a top-level server certificate and one
/// processed server request per unit), related and settled.
fn legacy_model(prov_units: usize, units: usize) -> (Model, u32) {
    let mut model = Model::new().expect("start simulator");
    deploy_provider(&mut model, prov_units, json!({}));
    deploy_legacy(
        &mut model,
        LEG,
        units,
        json!({"common-name": "etcd.example.com", "cert-requests": peer_request()}),
    );
    model.settle().expect("settle after deploy");
    let rel = model.relate(LEG, PROV).expect("relate");
    model.settle().expect("settle after relate");
    (model, rel)
}

fn run(model: &mut Model, unit: &str, action: &str, params: Value) -> ActionResult {
    let r = model
        .run_action(unit, action, obj(params))
        .unwrap_or_else(|e| panic!("run {action}: {e}"));
    assert_eq!(r.status, "completed", "{action}: {r:?}");
    r
}

fn list(r: &ActionResult, key: &str) -> Vec<Value> {
    serde_json::from_str(r.results[key].as_str().expect(key)).unwrap()
}

/// `get-certificates` of a legacy requirer unit.
fn report(model: &mut Model, unit: &str) -> Value {
    let r = run(model, unit, "get-certificates", json!({}));
    serde_json::from_str(r.results["certificates"].as_str().unwrap()).unwrap()
}

fn server_cns(doc: &Value) -> Vec<String> {
    doc["server-certs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["cn"].as_str().unwrap().to_string())
        .collect()
}

fn serial_of(pem: &str) -> String {
    let cert = X509::from_pem(pem.as_bytes()).unwrap();
    let hex = cert.serial_number().to_bn().unwrap().to_hex_str().unwrap();
    hex.to_string()
}

/// The `cert` and `key` of request `cn` in a `processed_requests` value, if present.
fn processed(bag: &jujusim::Databag, unit_key: &str, cn: &str) -> Option<(String, String)> {
    let v: Value =
        serde_json::from_str(bag.get(&format!("{unit_key}.processed_requests"))?).ok()?;
    let e = v.get(cn)?;
    Some((
        e["cert"].as_str()?.to_string(),
        e["key"].as_str()?.to_string(),
    ))
}

/// No provider databag of `rel` (app or any unit) holds `cert` or `key` any more.
fn assert_withdrawn(model: &Model, rel: u32, cert: &str, key: &str) {
    let mut owners = model.units(PROV);
    owners.push(PROV.to_string());
    for owner in owners {
        for (k, v) in model.relation_data(rel, &owner) {
            let body = cert.lines().nth(1).unwrap();
            assert!(
                !v.contains(body),
                "{owner}: {k} still holds the certificate"
            );
            let key_body = key.lines().nth(1).unwrap();
            assert!(!v.contains(key_body), "{owner}: {k} still holds the key");
        }
    }
}

/// Every provider databag of the relations `rels`, to compare before and after hooks.
fn provider_bags(model: &Model, rels: &[u32]) -> Vec<jujusim::Databag> {
    let mut owners = model.units(PROV);
    owners.push(PROV.to_string());
    rels.iter()
        .flat_map(|r| owners.iter().map(move |o| (*r, o.clone())))
        .map(|(r, o)| model.relation_data(r, &o))
        .collect()
}

/// Runs `config-changed` and `update-status` on every provider unit: the revoked request is not
/// re-issued and no relation data changes.
fn assert_hooks_change_nothing(model: &mut Model, rels: &[u32]) {
    let store_revisions = |model: &Model| -> Vec<usize> {
        secrets_labelled(model, "tls-provider-legacy")
            .iter()
            .map(|s| s.revisions.len())
            .collect()
    };
    let before = (provider_bags(model, rels), store_revisions(model));
    assert!(!before.1.is_empty(), "no legacy key store");
    for u in model.units(PROV) {
        model.queue_hook(&u, "config-changed");
    }
    model.update_status(PROV);
    model.settle().unwrap();
    let after = (provider_bags(model, rels), store_revisions(model));
    assert_eq!(
        after, before,
        "hooks rewrote relation data or the key store"
    );
}

/// The CRL of `get-crl` verifies against `ca`, lists every serial, and makes `openssl verify
/// -crl_check` refuse `leaf`.
fn assert_in_crl(model: &mut Model, leader: &str, ca: &str, leaf: &str, serials: &[&str]) {
    let r = run(model, leader, "get-crl", json!({}));
    assert_eq!(r.results["revoked-count"], json!(serials.len().to_string()));
    let crl = r.results["crl"].as_str().unwrap();
    let text = crl_verified_text(ca, crl);
    for s in serials {
        assert!(text.contains(&s.to_uppercase()), "{s} not in {text}");
    }
    let (ok, out) = crl_check(ca, crl, leaf);
    assert!(!ok && out.contains("certificate revoked"), "{out}");
}

/// SHA-256 of the DER of a CSR, computed with the openssl command line.
fn csr_fingerprint_cli(csr: &str) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("r.pem"), format!("{csr}\n")).unwrap();
    openssl_ok(
        dir,
        &["req", "-in", "r.pem", "-outform", "DER", "-out", "r.der"],
    );
    let bytes = std::fs::read(dir.join("r.der")).unwrap();
    openssl::sha::sha256(&bytes)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

#[test]
fn legacy_revoke_by_serial_withdraws_certificate_and_key_until_the_request_changes() {
    let (mut m, rel) = legacy_model(2, 2);
    let leader = m.leader(PROV).unwrap();
    let bag = m.relation_data(rel, &leader);
    let (cert0, key0) = (
        bag["etcd_0.server.cert"].clone(),
        bag["etcd_0.server.key"].clone(),
    );
    let (ca, client, cert1) = (
        bag["ca"].clone(),
        bag["client.cert"].clone(),
        bag["etcd_1.server.cert"].clone(),
    );
    let peer0 = processed(&bag, "etcd_0", "peer.example.com").expect("peer certificate");
    let serial = serial_of(&cert0);
    assert_eq!(server_cns(&report(&mut m, "etcd/0")).len(), 2);

    let r = run(
        &mut m,
        &leader,
        "revoke-certificate",
        json!({"serial": serial, "reason": "keyCompromise"}),
    );
    let revoked = list(&r, "revoked");
    assert_eq!(revoked.len(), 1, "{revoked:?}");
    let e = &revoked[0];
    assert_eq!(e["relation-id"], json!(rel));
    assert_eq!(e["unit"], json!("etcd_0"));
    assert_eq!(e["legacy-kind"], json!("server"));
    assert_eq!(e["common-name"], json!("etcd.example.com"));
    assert_eq!(e["in-our-crl"], json!(true));
    assert!(e["serial"].as_str().unwrap().eq_ignore_ascii_case(&serial));
    let msg = r.results["message"].as_str().unwrap();
    assert!(
        msg.contains("for legacy requirers: their certificate and key are withdrawn")
            && msg.contains(
                "when it changes the request (common name or SANs) or the relation is made again"
            ),
        "{msg}"
    );
    m.settle().unwrap();

    // Certificate and key are gone; the unit's other certificate, the other unit's, and the
    // shared client certificate stay.
    assert_withdrawn(&m, rel, &cert0, &key0);
    let bag = m.relation_data(rel, &leader);
    assert!(!bag.contains_key("etcd_0.server.cert") && !bag.contains_key("etcd_0.server.key"));
    assert_eq!(bag["etcd_1.server.cert"], cert1);
    assert_eq!(bag["client.cert"], client);
    assert_eq!(processed(&bag, "etcd_0", "peer.example.com"), Some(peer0));
    let doc = report(&mut m, "etcd/0");
    assert_eq!(server_cns(&doc), vec!["peer.example.com"]);
    assert_eq!(doc["views-agree"], true);
    assert_eq!(server_cns(&report(&mut m, "etcd/1")).len(), 2);

    assert_in_crl(&mut m, &leader, &ca, &cert0, &[&serial]);

    // The listings show the request as revoked.
    let r = run(
        &mut m,
        &leader,
        "get-certificate-request",
        json!({"relation-id": rel}),
    );
    let requests = list(&r, "requests");
    let mine: Vec<&Value> = requests
        .iter()
        .filter(|q| q["state"] == json!("revoked"))
        .collect();
    assert_eq!(mine.len(), 1, "{requests:?}");
    assert_eq!(mine[0]["unit"], json!("etcd_0"));
    assert_eq!(mine[0]["kind"], json!("server"));
    assert_eq!(mine[0]["common-name"], json!("etcd.example.com"));
    assert_eq!(mine[0]["legacy"], json!(true));
    assert_eq!(mine[0]["has-certificate"], json!(false));
    let r = run(
        &mut m,
        &leader,
        "get-outstanding-certificate-requests",
        json!({}),
    );
    let out = list(&r, "requests");
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0]["state"], json!("revoked"));
    assert!(out[0]["error"]
        .as_str()
        .unwrap()
        .contains("never served again"));

    // Later hooks, and a new leader, neither re-issue nor rewrite anything.
    assert_hooks_change_nothing(&mut m, &[rel]);
    let new_leader = other_unit(&m, PROV, &leader);
    m.set_leader(&new_leader).unwrap();
    m.settle().unwrap();
    m.update_status(PROV);
    m.settle().unwrap();
    let bag = m.relation_data(rel, &new_leader);
    assert!(
        !bag.contains_key("etcd_0.server.cert"),
        "re-issued by the new leader"
    );
    assert_eq!(bag["etcd_1.server.cert"], cert1);
    assert_withdrawn(&m, rel, &cert0, &key0);
    assert_hooks_change_nothing(&mut m, &[rel]);

    // A changed request gets a new key and certificate, with a new serial.
    m.set_config(LEG, obj(json!({"sans": "etcd.internal"})))
        .unwrap();
    m.settle().unwrap();
    let bag = m.relation_data(rel, &new_leader);
    let (cert, key) = (&bag["etcd_0.server.cert"], &bag["etcd_0.server.key"]);
    assert_ne!(serial_of(cert), serial);
    assert_ne!(key, &key0);
    let text = verify_cert_and_key(&ca, cert, Some(key));
    assert!(text.contains("DNS:etcd.internal"), "{text}");
    assert_eq!(server_cns(&report(&mut m, "etcd/0")).len(), 2);
}

#[test]
fn legacy_revoke_by_csr_fingerprint_and_by_relation_with_and_without_unit() {
    let (mut m, rel) = legacy_model(1, 2);
    deploy_legacy(&mut m, KV, 1, json!({"common-name": "kv.example.com"}));
    m.settle().unwrap();
    let rel2 = m.relate(KV, PROV).unwrap();
    m.settle().unwrap();
    let leader = m.leader(PROV).unwrap();
    let bag = m.relation_data(rel, &leader);
    let ca = bag["ca"].clone();
    let top0 = bag["etcd_0.server.cert"].clone();
    let (peer0, peer0_key) = processed(&bag, "etcd_0", "peer.example.com").unwrap();
    let kv_bag = m.relation_data(rel2, &leader);
    let kv_cert = kv_bag["kv_0.server.cert"].clone();

    // By CSR fingerprint, as computed from the CSR the listing shows.
    let r = run(
        &mut m,
        &leader,
        "get-certificate-request",
        json!({"relation-id": rel}),
    );
    let csr = list(&r, "requests")
        .into_iter()
        .find(|q| q["unit"] == json!("etcd_0") && q["common-name"] == json!("peer.example.com"))
        .expect("listed")["csr"]
        .as_str()
        .unwrap()
        .to_string();
    let fp = csr_fingerprint_cli(&csr);
    let r = run(
        &mut m,
        &leader,
        "revoke-certificate",
        json!({"csr-fingerprint": fp}),
    );
    let revoked = list(&r, "revoked");
    assert_eq!(revoked.len(), 1, "{revoked:?}");
    assert_eq!(revoked[0]["common-name"], json!("peer.example.com"));
    assert_eq!(revoked[0]["csr-fingerprint"], json!(fp.to_lowercase()));
    m.settle().unwrap();
    assert_withdrawn(&m, rel, &peer0, &peer0_key);
    let bag = m.relation_data(rel, &leader);
    assert_eq!(
        bag["etcd_0.server.cert"], top0,
        "the unit's other certificate stays"
    );
    assert_eq!(
        server_cns(&report(&mut m, "etcd/0")),
        vec!["etcd.example.com"]
    );

    // By relation and unit (Juju's unit name): every certificate of etcd/1, nothing else.
    let etcd1 = m.relation_data(rel, &leader);
    let top1 = (
        etcd1["etcd_1.server.cert"].clone(),
        etcd1["etcd_1.server.key"].clone(),
    );
    let peer1 = processed(&etcd1, "etcd_1", "peer.example.com").unwrap();
    let kv_before = provider_bags(&m, &[rel2]);
    let r = run(
        &mut m,
        &leader,
        "revoke-certificate",
        json!({"relation-id": rel, "unit": "etcd/1", "reason": "superseded"}),
    );
    let revoked = list(&r, "revoked");
    assert_eq!(revoked.len(), 2, "{revoked:?}");
    assert!(revoked.iter().all(|e| e["unit"] == json!("etcd_1")));
    m.settle().unwrap();
    assert_withdrawn(&m, rel, &top1.0, &top1.1);
    assert_withdrawn(&m, rel, &peer1.0, &peer1.1);
    assert!(server_cns(&report(&mut m, "etcd/1")).is_empty());
    assert_eq!(m.relation_data(rel, &leader)["etcd_0.server.cert"], top0);
    assert_eq!(
        provider_bags(&m, &[rel2]),
        kv_before,
        "the other requirer keeps its own"
    );

    // By relation: every certificate of kv; etcd's relation is left alone.
    let etcd_before = provider_bags(&m, &[rel]);
    let kv_key = kv_bag["kv_0.server.key"].clone();
    let r = run(
        &mut m,
        &leader,
        "revoke-certificate",
        json!({"relation-id": rel2}),
    );
    let revoked = list(&r, "revoked");
    assert_eq!(revoked.len(), 1, "{revoked:?}");
    assert_eq!(revoked[0]["application"], json!(KV));
    m.settle().unwrap();
    assert_withdrawn(&m, rel2, &kv_cert, &kv_key);
    assert_eq!(provider_bags(&m, &[rel]), etcd_before);
    assert!(server_cns(&report(&mut m, "kv/0")).is_empty());
    let kv_serial = serial_of(&kv_cert);
    let serials = [
        serial_of(&peer0),
        serial_of(&top1.0),
        serial_of(&peer1.0),
        kv_serial.clone(),
    ];
    let serials: Vec<&str> = serials.iter().map(String::as_str).collect();
    assert_in_crl(&mut m, &leader, &ca, &kv_cert, &serials);

    // Nothing is re-issued by later hooks; a revoked certificate is not revoked twice.
    assert_hooks_change_nothing(&mut m, &[rel, rel2]);
    let r = m
        .run_action(
            &leader,
            "revoke-certificate",
            obj(json!({"serial": kv_serial})),
        )
        .unwrap();
    assert_eq!(r.status, "failed", "{r:?}");
    assert!(
        r.message.contains("no published certificate matches"),
        "{r:?}"
    );

    // The relation made again: a new key and certificate.
    m.unrelate(rel2).unwrap();
    m.settle().unwrap();
    let rel3 = m.relate(KV, PROV).unwrap();
    m.settle().unwrap();
    let bag = m.relation_data(rel3, &leader);
    let (cert, key) = (&bag["kv_0.server.cert"], &bag["kv_0.server.key"]);
    assert!(!serials
        .iter()
        .any(|s| s.eq_ignore_ascii_case(&serial_of(cert))));
    assert_ne!(key, &kv_key);
    verify_cert_and_key(&ca, cert, Some(key));
    assert_eq!(server_cns(&report(&mut m, "kv/0")), vec!["kv.example.com"]);
}

#[test]
fn the_shared_legacy_client_certificate_is_replaced_when_revoked() {
    let (mut m, rel) = legacy_model(1, 1);
    let leader = m.leader(PROV).unwrap();
    let bag = m.relation_data(rel, &leader);
    let (client, client_key, ca) = (
        bag["client.cert"].clone(),
        bag["client.key"].clone(),
        bag["ca"].clone(),
    );
    let serial = serial_of(&client);
    let r = run(
        &mut m,
        &leader,
        "revoke-certificate",
        json!({"serial": serial}),
    );
    let revoked = list(&r, "revoked");
    assert_eq!(revoked[0]["legacy-kind"], json!("shared-client"));
    assert_eq!(revoked[0]["relation-id"], Value::Null);
    assert!(
        r.results["message"]
            .as_str()
            .unwrap()
            .contains("a new key and certificate replace it"),
        "{r:?}"
    );
    m.settle().unwrap();
    assert_withdrawn(&m, rel, &client, &client_key);
    let bag = m.relation_data(rel, &leader);
    assert_ne!(serial_of(&bag["client.cert"]), serial);
    verify_cert_and_key(&ca, &bag["client.cert"], Some(&bag["client.key"]));
    let doc = report(&mut m, "etcd/0");
    assert_eq!(doc["ready"], true);
    assert_in_crl(&mut m, &leader, &ca, &client, &[&serial]);
    assert_hooks_change_nothing(&mut m, &[rel]);
}
