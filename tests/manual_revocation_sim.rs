//! `revoke-certificate` in manual mode under the simulator: certificates signed by an outside
//! CA (the `openssl` command line, root and intermediate) and handed in with
//! `provide-certificate`, for the real Python modern requirer (charmlibs
//! `TLSCertificatesRequiresV4`) and the legacy requirer test charm. Revoking withdraws the
//! entry (modern: `revoked: true`, the library drops it; legacy: certificate and key leave the
//! relation data), the result says that the outside CA must revoke it in its own CRL, the
//! listings show it revoked, and `provide-certificate` refuses to answer that CSR again.
//!
//! Needs the built test charms: run `make test-charms` first.

mod common;

use base64::Engine;
use common::interop::{
    certificates, deploy_provider, entry_for, obj, provider_bag, requirer_dir, stored_certificates,
};
use common::outside_ca::OutsideCa;
use jujusim::{ActionResult, Model};
use openssl::x509::X509;
use serde_json::{json, Value};

const PROV: &str = "tls-provider";
const REQ: &str = "tls-requirer";
const LEG: &str = "etcd";

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s.as_bytes())
}

fn run(model: &mut Model, unit: &str, action: &str, params: Value) -> ActionResult {
    model
        .run_action(unit, action, obj(params))
        .unwrap_or_else(|e| panic!("run {action}: {e}"))
}

fn completed(model: &mut Model, unit: &str, action: &str, params: Value) -> ActionResult {
    let r = run(model, unit, action, params);
    assert_eq!(r.status, "completed", "{action}: {r:?}");
    r
}

fn list(r: &ActionResult, key: &str) -> Vec<Value> {
    serde_json::from_str(r.results[key].as_str().expect(key)).unwrap()
}

fn serial_of(pem: &str) -> String {
    let cert = X509::from_pem(pem.as_bytes()).unwrap();
    let hex = cert.serial_number().to_bn().unwrap().to_hex_str().unwrap();
    hex.to_string()
}

fn provide(model: &mut Model, leader: &str, ca: &OutsideCa, csr: &str) -> ActionResult {
    let cert = ca.sign(csr, false);
    let chain = format!("{}{}", ca.int_pem(), ca.root_pem());
    run(
        model,
        leader,
        "provide-certificate",
        json!({
            "certificate-signing-request": b64(csr),
            "certificate": b64(&cert),
            "ca-certificate": b64(&ca.int_pem()),
            "ca-chain": b64(&chain),
        }),
    )
}

fn outstanding(model: &mut Model, leader: &str) -> Vec<Value> {
    let r = completed(
        model,
        leader,
        "get-outstanding-certificate-requests",
        json!({}),
    );
    list(&r, "requests")
}

fn assert_names_the_outside_ca(r: &ActionResult) {
    let revoked = list(r, "revoked");
    assert_eq!(revoked.len(), 1, "{revoked:?}");
    assert_eq!(revoked[0]["in-our-crl"], json!(false));
    let msg = r.results["message"].as_str().unwrap();
    assert!(
        msg.contains("1 of them were signed outside this charm")
            && msg.contains("the CA that signed them must revoke them in its own CRL"),
        "{msg}"
    );
    assert!(r.results.get("crl").is_none(), "no CRL of ours: {r:?}");
}

#[test]
fn manual_mode_revocation_withdraws_and_names_the_outside_ca() {
    let mut m = Model::new().expect("start simulator");
    deploy_provider(&mut m, 2, json!({"mode": "manual"}));
    m.deploy(REQ, &requirer_dir(), 1, obj(json!({"mode": "unit"})))
        .expect("deploy tls-requirer");
    m.deploy(
        LEG,
        &common::legacy_requirer_charm_dir(),
        1,
        obj(json!({"common-name": "etcd.example.com"})),
    )
    .expect("deploy legacy requirer");
    m.settle().unwrap();
    let rel = m.relate(REQ, PROV).unwrap();
    let legacy_rel = m.relate(LEG, PROV).unwrap();
    m.settle().unwrap();
    let leader = m.leader(PROV).unwrap();

    // The operator signs every CSR with the outside CA.
    let ca = OutsideCa::new();
    let pending = outstanding(&mut m, &leader);
    assert_eq!(
        pending.len(),
        3,
        "modern, legacy server, shared client: {pending:?}"
    );
    for q in &pending {
        let r = provide(&mut m, &leader, &ca, q["csr"].as_str().unwrap());
        assert_eq!(r.status, "completed", "{r:?}");
    }
    m.settle().unwrap();
    assert!(outstanding(&mut m, &leader).is_empty());
    let modern_csr = pending
        .iter()
        .find(|q| q["legacy"] == json!(false))
        .unwrap()["csr"]
        .as_str()
        .unwrap()
        .to_string();
    let entry = entry_for(&certificates(&provider_bag(&m, rel)), &modern_csr)
        .expect("published")
        .clone();
    assert_eq!(stored_certificates(&m, "tls-requirer/0").len(), 1);
    let legacy_bag = m.relation_data(legacy_rel, &leader);
    let (legacy_cert, legacy_key) = (
        legacy_bag["etcd_0.server.cert"].clone(),
        legacy_bag["etcd_0.server.key"].clone(),
    );
    let client = legacy_bag["client.cert"].clone();

    // Modern: by serial. The entry is marked revoked, the library drops its certificate.
    let serial = serial_of(entry["certificate"].as_str().unwrap());
    let r = completed(
        &mut m,
        &leader,
        "revoke-certificate",
        json!({"serial": serial}),
    );
    assert_names_the_outside_ca(&r);
    m.settle().unwrap();
    let published = certificates(&provider_bag(&m, rel));
    assert_eq!(
        entry_for(&published, &modern_csr).unwrap()["revoked"],
        json!(true)
    );
    assert!(stored_certificates(&m, "tls-requirer/0").is_empty());

    // Legacy: by relation and unit. Certificate and key leave the relation data; the shared
    // client certificate (no relation of its own) stays.
    let r = completed(
        &mut m,
        &leader,
        "revoke-certificate",
        json!({"relation-id": legacy_rel, "unit": "etcd_0"}),
    );
    assert_names_the_outside_ca(&r);
    assert_eq!(list(&r, "revoked")[0]["legacy-kind"], json!("server"));
    m.settle().unwrap();
    let bag = m.relation_data(legacy_rel, &leader);
    assert!(!bag.contains_key("etcd_0.server.cert") && !bag.contains_key("etcd_0.server.key"));
    let body = legacy_key.lines().nth(1).unwrap();
    assert!(
        bag.values().all(|v| !v.contains(body)),
        "the key is still published"
    );
    assert!(bag.values().all(|v| !v.contains(legacy_cert.trim())));
    assert_eq!(bag["client.cert"], client);

    // Both are listed as revoked, and neither CSR is answered again.
    let listed = outstanding(&mut m, &leader);
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(
        listed.iter().all(|q| q["state"] == json!("revoked")),
        "{listed:?}"
    );
    let before = (provider_bag(&m, rel), m.relation_data(legacy_rel, &leader));
    for q in &listed {
        let r = provide(&mut m, &leader, &ca, q["csr"].as_str().unwrap());
        assert_eq!(r.status, "failed", "{r:?}");
        assert!(r.message.contains("was revoked"), "{r:?}");
    }
    m.update_status(PROV);
    m.settle().unwrap();
    assert_eq!(
        (provider_bag(&m, rel), m.relation_data(legacy_rel, &leader)),
        before
    );

    // Records are kept; the CRL is the outside CA's business.
    let r = run(&mut m, &leader, "get-crl", json!({}));
    assert_eq!(r.status, "failed", "{r:?}");
    assert!(r.message.contains("revoked by their own CA"), "{r:?}");
}
