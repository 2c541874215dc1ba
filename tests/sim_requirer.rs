//! The Python requirer test charm (`ops` + charmlibs `TLSCertificatesRequiresV4`) runs in the
//! simulator with 3 units against the Python test provider (charmlibs `TLSCertificatesProvidesV4`).
//! Its CSRs (RSA and ECDSA) appear in its unit and app databags as the mode says, and the
//! certificates the provider writes are picked up and reported by the requirer's `get-certificates`
//! action.
//!
//! Needs the built test charms: run `make test-charms` first. A missing build fails the test with
//! that instruction (it is never skipped).

mod common;

use common::interop::{
    certificates, cn_of, get_certificates, obj, requirer_csrs, requirer_dir, status_of, CSRS,
};
use jujusim::Model;
use openssl::pkey::{Id, PKey, Public};
use openssl::x509::X509;
use serde_json::{json, Map, Value};

const REQ: &str = "tls-requirer";
const PROV: &str = "test-provider";

/// One `certificate_signing_requests` entry, parsed and signature-checked.
struct Csr {
    pem: String,
    ca: bool,
    key: PKey<Public>,
    cn: String,
}

fn csrs(model: &Model, rel: u32, owner: &str) -> Vec<Csr> {
    requirer_csrs(model, rel, owner)
        .into_iter()
        .map(|entry| {
            let key = entry.key();
            assert!(
                entry.req.verify(&key).expect("verify CSR"),
                "CSR self-signature of {owner}"
            );
            Csr {
                ca: entry.ca.as_bool().expect("ca is a bool"),
                cn: entry.cn().unwrap_or_default(),
                pem: entry.pem,
                key,
            }
        })
        .collect()
}

/// Deploy the requirer (`units` units, `config`) and the provider, relate them, settle.
fn deploy_and_relate(config: Value, units: usize) -> (Model, u32) {
    let requirer = requirer_dir();
    let provider = common::with_venv(common::test_provider_charm_dir());
    let mut model = Model::new().expect("start simulator");
    model
        .deploy(REQ, &requirer, units, obj(config))
        .expect("deploy requirer");
    model
        .deploy(PROV, &provider, 1, Map::new())
        .expect("deploy provider");
    model.settle().expect("settle after deploy");
    let rel = model.relate(REQ, PROV).expect("relate");
    model.settle().expect("settle after relate");
    (model, rel)
}

/// The test provider's `certificates` entries.
fn issued(model: &Model, rel: u32) -> Vec<Value> {
    certificates(&model.relation_data(rel, PROV))
}

fn key_kind(key: &PKey<Public>) -> (&'static str, u32) {
    match key.id() {
        Id::RSA => ("rsa", key.bits()),
        Id::EC => ("ecdsa", key.bits()),
        other => panic!("unexpected key type {other:?}"),
    }
}

/// `entry` (a get-certificates element) holds the certificate the provider issued for `csr`,
/// signed by the reported CA, for the CSR's key.
fn assert_received(entry: &Value, csr: &Csr, issued: &[Value]) {
    assert_eq!(
        entry["csr"].as_str(),
        Some(csr.pem.as_str()),
        "reported CSR"
    );
    let sent = issued
        .iter()
        .find(|c| c["certificate_signing_request"].as_str() == Some(csr.pem.as_str()))
        .unwrap_or_else(|| panic!("provider issued nothing for CSR CN={}", csr.cn));
    assert_eq!(
        entry["certificate"], sent["certificate"],
        "reported certificate"
    );
    assert_eq!(entry["ca"], sent["ca"], "reported CA");
    assert_eq!(entry["chain"], sent["chain"], "reported chain");
    assert_eq!(entry["revoked"], json!(false));
    assert_eq!(entry["denial"], Value::Null);
    let cert = X509::from_pem(entry["certificate"].as_str().unwrap().as_bytes()).expect("cert PEM");
    let ca = X509::from_pem(entry["ca"].as_str().unwrap().as_bytes()).expect("CA PEM");
    assert!(
        cert.verify(&ca.public_key().unwrap()).unwrap(),
        "certificate signed by the CA"
    );
    assert!(
        cert.public_key().unwrap().public_eq(&csr.key),
        "certificate key is the CSR key"
    );
    assert_eq!(cn_of(cert.subject_name()).unwrap_or_default(), csr.cn);
}

#[test]
fn unit_mode_rsa_three_units_each_get_their_own_certificate() {
    let (mut model, rel) = deploy_and_relate(json!({"mode": "unit"}), 3);
    let units = model.units(REQ);
    assert_eq!(units.len(), 3);

    // CSRs: one per unit, in the unit bag, RSA 2048, distinct keys; nothing in the app bag.
    assert!(
        !model.relation_data(rel, REQ).contains_key(CSRS),
        "no app-scope CSR in unit mode"
    );
    let mut per_unit = Vec::new();
    for unit in &units {
        let mut list = csrs(&model, rel, unit);
        assert_eq!(list.len(), 1, "{unit}: one CSR");
        let csr = list.remove(0);
        assert_eq!(key_kind(&csr.key), ("rsa", 2048), "{unit}");
        assert!(!csr.ca);
        assert_eq!(csr.cn, "tls-requirer.example.com");
        per_unit.push((unit.clone(), csr));
    }
    for (i, (_, a)) in per_unit.iter().enumerate() {
        for (_, b) in &per_unit[i + 1..] {
            assert!(!a.key.public_eq(&b.key), "units share a key");
        }
    }

    // The provider answered all three; each unit reports exactly its own certificate.
    let issued = issued(&model, rel);
    assert_eq!(issued.len(), 3);
    for (unit, csr) in &per_unit {
        assert_eq!(
            status_of(&model, unit),
            ("active".into(), "1/1 certificates received".into()),
            "{unit}"
        );
        let entries = get_certificates(&mut model, unit);
        assert_eq!(entries.len(), 1, "{unit}");
        assert_eq!(entries[0]["scope"], "unit");
        assert_eq!(entries[0]["key-algorithm"], "rsa");
        assert_received(&entries[0], csr, &issued);
    }

    // A second request per unit, the provider refusing it: reported as a denial, the first
    // certificate is kept.
    model
        .set_config(
            PROV,
            obj(json!({"deny-common-names": "r1.tls-requirer.example.com"})),
        )
        .unwrap();
    model
        .set_config(REQ, obj(json!({"mode": "unit", "requests-per-unit": 2})))
        .unwrap();
    model.settle().expect("settle after config change");
    for unit in &units {
        assert_eq!(csrs(&model, rel, unit).len(), 2, "{unit}: two CSRs");
        assert_eq!(
            status_of(&model, unit),
            (
                "blocked".into(),
                "1 request(s) denied: 102 DOMAIN_NOT_ALLOWED; 1/2 certificates received".into()
            ),
            "{unit}"
        );
        let entries = get_certificates(&mut model, unit);
        let denied: Vec<_> = entries.iter().filter(|e| !e["denial"].is_null()).collect();
        assert_eq!(denied.len(), 1);
        assert_eq!(denied[0]["common-name"], "r1.tls-requirer.example.com");
        assert_eq!(denied[0]["denial"]["code"], 102);
        assert!(denied[0]["certificate"].is_null());
    }
}

#[test]
fn app_and_unit_mode_ecdsa_app_csr_from_leader_unit_csrs_from_all() {
    let config =
        json!({"mode": "app-and-unit", "key-algorithm": "ecdsa", "common-name": "svc.example.com"});
    let (mut model, rel) = deploy_and_relate(config, 3);
    let leader = model.leader(REQ).expect("requirer leader");
    let units = model.units(REQ);

    let app = csrs(&model, rel, REQ);
    assert_eq!(app.len(), 1, "one app-scope CSR");
    assert_eq!(key_kind(&app[0].key), ("ecdsa", 256));
    assert_eq!(app[0].cn, "svc.example.com");
    let issued = issued(&model, rel);
    assert_eq!(issued.len(), 4, "app CSR + 3 unit CSRs issued");

    for unit in &units {
        let list = csrs(&model, rel, unit);
        assert_eq!(list.len(), 1, "{unit}: one unit-scope CSR");
        assert_eq!(key_kind(&list[0].key), ("ecdsa", 256));
        assert_eq!(
            list[0].cn,
            format!("{}.svc.example.com", unit.replace('/', "-"))
        );
        assert!(
            !list[0].key.public_eq(&app[0].key),
            "unit and app keys differ"
        );

        let entries = get_certificates(&mut model, unit);
        let unit_entry = entries
            .iter()
            .find(|e| e["scope"] == "unit")
            .expect("unit entry");
        assert_received(unit_entry, &list[0], &issued);
        let app_entry = entries
            .iter()
            .find(|e| e["scope"] == "app")
            .expect("app entry");
        let status = model.unit_status(unit);
        if *unit == leader {
            assert_received(app_entry, &app[0], &issued);
            assert_eq!(status.message, "2/2 certificates received");
        } else {
            assert_eq!(
                app_entry["visible"], false,
                "{unit}: app scope is the leader's"
            );
            assert!(app_entry["certificate"].is_null());
            assert_eq!(
                status.message,
                "1/1 certificates received (app-scope requests are handled by the leader)"
            );
        }
        assert_eq!(status.workload, "active", "{unit}");
    }
}

#[test]
fn app_mode_ecdsa_p384_only_the_leader_requests_and_receives() {
    let config = json!({"mode": "app", "key-algorithm": "ecdsa", "key-size": 384, "is-ca": true});
    let (mut model, rel) = deploy_and_relate(config, 2);
    let leader = model.leader(REQ).expect("requirer leader");

    let app = csrs(&model, rel, REQ);
    assert_eq!(app.len(), 1);
    assert_eq!(key_kind(&app[0].key), ("ecdsa", 384));
    assert!(app[0].ca, "is-ca request");
    let issued = issued(&model, rel);
    assert_eq!(issued.len(), 1);

    for unit in model.units(REQ) {
        assert!(
            csrs(&model, rel, &unit).is_empty(),
            "{unit}: no unit-scope CSR in app mode"
        );
        let entries = get_certificates(&mut model, &unit);
        assert_eq!(entries.len(), 1);
        if unit == leader {
            assert_received(&entries[0], &app[0], &issued);
            assert_eq!(entries[0]["is-ca"], true);
            let cert =
                X509::from_pem(entries[0]["certificate"].as_str().unwrap().as_bytes()).unwrap();
            let text = String::from_utf8(cert.to_text().unwrap()).unwrap();
            assert!(
                text.contains("CA:TRUE"),
                "CA certificate for an is-ca request"
            );
        } else {
            assert_eq!(entries[0]["visible"], false);
            assert!(entries[0]["certificate"].is_null());
        }
    }
}

/// The legacy test charm under the simulator, against a hand-driven provider (a charm-less
/// application whose unit bags the test writes): it publishes the reactive keys, reads the merged
/// view of both provider units and reports a disagreement between them.
#[test]
fn legacy_requirer_publishes_reactive_keys_and_reads_merged_provider_data() {
    let dir = common::with_venv(common::legacy_requirer_charm_dir());
    let mut model = Model::new().expect("start simulator");
    let config = json!({
        "common-name": "etcd.example.com",
        "sans": "10.0.0.1,etcd",
        "client-cert-requests": r#"{"client1": {"sans": null}}"#,
    });
    model
        .deploy("etcd", &dir, 2, obj(config))
        .expect("deploy legacy requirer");
    let provider_meta =
        "name: easyrsa\nprovides:\n  certificates:\n    interface: tls-certificates\n";
    model
        .deploy_puppet("easyrsa", provider_meta, 2)
        .expect("deploy provider stand-in");
    model.settle().expect("settle after deploy");
    let rel = model.relate("etcd", "easyrsa").expect("relate");
    model.settle().expect("settle after relate");

    let units = model.units("etcd");
    for unit in &units {
        let bag = model.relation_data(rel, unit);
        assert_eq!(bag["unit_name"], unit.replace('/', "_"));
        assert_eq!(bag["common_name"], "etcd.example.com");
        assert_eq!(bag["sans"], r#"["10.0.0.1", "etcd"]"#);
        assert_eq!(
            bag["client_cert_requests"],
            r#"{"client1": {"sans": null}}"#
        );
        assert_eq!(bag["certificate_name"].len(), 36, "UUID4 certificate_name");
        let status = model.unit_status(unit);
        assert_eq!(
            status.message, "waiting for ca and client certificate",
            "{unit}"
        );
    }

    let provider_bag = |ca: &str| {
        let mut bag = jujusim::Databag::new();
        bag.insert("ca".into(), ca.into());
        bag.insert("client.cert".into(), "GLOBAL-CERT".into());
        bag.insert("client.key".into(), "GLOBAL-KEY".into());
        for unit in &units {
            let name = unit.replace('/', "_");
            bag.insert(format!("{name}.server.cert"), format!("SERVER-CERT-{name}"));
            bag.insert(format!("{name}.server.key"), format!("SERVER-KEY-{name}"));
            let client = json!({"client1": {"cert": format!("CLIENT-CERT-{name}"), "key": "K"}});
            bag.insert(
                format!("{name}.processed_client_requests"),
                client.to_string(),
            );
        }
        bag
    };
    model
        .set_relation_data(rel, "easyrsa/0", provider_bag("CA-A"))
        .unwrap();
    model
        .set_relation_data(rel, "easyrsa/1", provider_bag("CA-A"))
        .unwrap();
    model.settle().expect("settle after provider data");
    for unit in &units {
        assert_eq!(
            status_of(&model, unit),
            (
                "active".into(),
                "ready: server 1/1, client 1/1, application 0/0, intermediate 0/0".into()
            ),
            "{unit}"
        );
        let result = model
            .run_action(unit, "get-certificates", Map::new())
            .unwrap();
        assert_eq!(result.status, "completed", "{result:?}");
        assert_eq!(result.results["ready"], "true");
        assert_eq!(result.results["views-agree"], "true");
        let doc: Value =
            serde_json::from_str(result.results["certificates"].as_str().unwrap()).unwrap();
        let name = unit.replace('/', "_");
        assert_eq!(doc["ca"], "CA-A");
        assert_eq!(doc["provider-units"], json!(["easyrsa/0", "easyrsa/1"]));
        assert_eq!(
            doc["server-certs"],
            json!([{"cn": "etcd.example.com", "cert": format!("SERVER-CERT-{name}"), "key": format!("SERVER-KEY-{name}")}])
        );
        assert_eq!(
            doc["client-certs"][0]["cert"],
            format!("CLIENT-CERT-{name}")
        );
    }

    // The provider units disagree: the merged view takes the lowest unit name's value.
    model
        .set_relation_data(rel, "easyrsa/1", provider_bag("CA-B"))
        .unwrap();
    model.settle().expect("settle after disagreement");
    for unit in &units {
        assert_eq!(
            model.unit_status(unit).message,
            "provider units disagree on: ca"
        );
        let result = model
            .run_action(unit, "get-certificates", Map::new())
            .unwrap();
        assert_eq!(result.results["views-agree"], "false");
        let doc: Value =
            serde_json::from_str(result.results["certificates"].as_str().unwrap()).unwrap();
        assert_eq!(doc["ca"], "CA-A");
        assert_eq!(doc["changes"]["ca"], 1, "the merged ca did not change");
    }
}
