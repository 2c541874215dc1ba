//! Manual mode in the simulator, the operator's flow end to end (README, "Manual mode: certificates
//! from your own CA"). The tls-provider charm (test build, packed as `make charm` packs it; two
//! units, so one is not the leader) serves the real Python requirer (`ops` + charmlibs
//! `TLSCertificatesRequiresV4`). The test lists the outstanding requests, signs each CSR with the
//! `openssl` command line acting as an outside CA with an intermediate, hands the certificates back
//! base64-encoded with `provide-certificate`, and checks that each requirer unit reports its
//! certificate and that `openssl verify` passes with the outside root.
//!
//! Needs the built test charms: run `make test-charms` first (a missing build fails the test with
//! that instruction).

mod common;

use base64::Engine;
use common::interop::{
    all_bags, deploy_provider, get_certificates, obj, other_unit, requirer_dir, status_of,
};
use common::outside_ca::OutsideCa;
use jujusim::{ActionResult, Model};
use serde_json::{json, Map, Value};

const PROV: &str = "tls-provider";
const REQ: &str = "tls-requirer";

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s.as_bytes())
}

fn run(model: &mut Model, unit: &str, action: &str, params: Value) -> ActionResult {
    model
        .run_action(unit, action, obj(params))
        .unwrap_or_else(|e| panic!("run {action} on {unit}: {e}"))
}

fn completed(r: &ActionResult) -> &Map<String, Value> {
    assert_eq!(r.status, "completed", "{r:?}");
    r.results.as_object().unwrap()
}

fn result_str<'a>(r: &'a ActionResult, key: &str) -> &'a str {
    completed(r)[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is not a string: {r:?}"))
}

fn outstanding(model: &mut Model, leader: &str) -> (usize, Vec<Value>, String) {
    let r = run(
        model,
        leader,
        "get-outstanding-certificate-requests",
        json!({}),
    );
    let list: Vec<Value> = serde_json::from_str(result_str(&r, "requests")).unwrap();
    let count: usize = result_str(&r, "count").parse().unwrap();
    assert_eq!(count, list.len());
    (count, list, result_str(&r, "message").to_string())
}

/// `provide-certificate` parameters, each PEM base64-encoded.
fn provide_params(csr: &str, cert: &str, ca: &str, chain: &str) -> Value {
    json!({
        "certificate-signing-request": b64(csr),
        "certificate": b64(cert),
        "ca-certificate": b64(ca),
        "ca-chain": b64(chain),
    })
}

fn deploy(requirer_config: Value, requirer_units: usize) -> (Model, u32, String, String) {
    let mut model = Model::new().expect("start simulator");
    deploy_provider(&mut model, 2, json!({"mode": "manual"}));
    model
        .deploy(REQ, &requirer_dir(), requirer_units, obj(requirer_config))
        .expect("deploy tls-requirer");
    model.settle().expect("settle after deploy");
    let rel = model.relate(REQ, PROV).expect("relate");
    model.settle().expect("settle after relate");
    let leader = model.leader(PROV).expect("a provider leader");
    let other = other_unit(&model, PROV, &leader);
    (model, rel, leader, other)
}

#[test]
fn manual_flow_three_units_signed_by_an_outside_ca_with_an_intermediate() {
    let (mut model, rel, leader, non_leader) = deploy(json!({"mode": "unit"}), 3);
    let units = model.units(REQ);
    assert_eq!(units.len(), 3);

    // Manual mode signs nothing; the leader's status says how many wait and how to list them.
    assert!(!model.relation_data(rel, PROV).contains_key("certificates"));
    let status = model.unit_status(&leader);
    assert_eq!(status.workload, "active", "{status:?}");
    assert!(
        status.message.contains("3 requests outstanding"),
        "{status:?}"
    );
    assert!(
        status.message.contains(&format!(
            "juju run {PROV}/leader get-outstanding-certificate-requests"
        )),
        "{status:?}"
    );
    for unit in &units {
        let s = model.unit_status(unit);
        assert_eq!(s.workload, "waiting", "{unit}: {s:?}");
    }

    // 1. Retrieve the CSRs.
    let (count, list, message) = outstanding(&mut model, &leader);
    assert_eq!(count, 3, "{list:?}");
    assert!(
        message.starts_with("3 outstanding certificate requests"),
        "{message}"
    );
    let mut listed_units: Vec<String> = list
        .iter()
        .map(|r| r["unit"].as_str().unwrap().to_string())
        .collect();
    listed_units.sort();
    assert_eq!(listed_units, units);
    for r in &list {
        assert_eq!(r["relation-id"], json!(rel));
        assert_eq!(r["application"], json!(REQ));
        assert_eq!(r["app-level"], json!(false));
        assert_eq!(r["common-name"], json!("tls-requirer.example.com"));
        assert_eq!(r["is-ca"], json!(false));
        assert_eq!(r["legacy"], json!(false));
        // The CSR is exactly what the unit wrote in its databag.
        let unit = r["unit"].as_str().unwrap();
        let bag = model.relation_data(rel, unit);
        let written: Value = serde_json::from_str(&bag["certificate_signing_requests"]).unwrap();
        assert_eq!(written[0]["certificate_signing_request"], r["csr"]);
    }
    let per_relation = run(
        &mut model,
        &leader,
        "get-certificate-request",
        json!({"relation-id": rel}),
    );
    assert_eq!(result_str(&per_relation, "count"), "3");
    assert_eq!(result_str(&per_relation, "outstanding"), "3");

    let ca = OutsideCa::new();
    let chain = format!("{}{}", ca.int_pem(), ca.root_pem());

    // A non-leader refuses, pointing at the leader.
    let before = all_bags(&model);
    let first_csr = list[0]["csr"].as_str().unwrap().to_string();
    let first_cert = ca.sign(&first_csr, false);
    for (action, params) in [
        ("get-outstanding-certificate-requests", json!({})),
        (
            "provide-certificate",
            provide_params(&first_csr, &first_cert, &ca.int_pem(), &chain),
        ),
    ] {
        let r = run(&mut model, &non_leader, action, params);
        assert_eq!(r.status, "failed", "{r:?}");
        assert_eq!(
            r.message,
            format!("run this action on the leader unit: juju run {PROV}/leader {action}")
        );
    }
    // On the leader, a certificate the requirer would ignore (a CA certificate for a non-CA
    // request) is refused with its reason, and nothing is published.
    let wrong = ca.sign(&first_csr, true);
    let r = run(
        &mut model,
        &leader,
        "provide-certificate",
        provide_params(&first_csr, &wrong, &ca.int_pem(), &chain),
    );
    assert_eq!(r.status, "failed", "{r:?}");
    assert!(
        r.message
            .contains("the request is for a non-CA certificate (ca: false)"),
        "{r:?}"
    );
    model.settle().unwrap();
    assert_eq!(
        all_bags(&model),
        before,
        "refused actions and non-leaders change nothing"
    );

    // 2. Provide each certificate, base64-encoded, with the chain (intermediate, root).
    let mut provided = Vec::new();
    for r in &list {
        let csr = r["csr"].as_str().unwrap();
        let unit = r["unit"].as_str().unwrap();
        let cert = ca.sign(csr, false);
        let mut params = provide_params(csr, &cert, &ca.int_pem(), &chain);
        params["relation-id"] = json!(rel);
        params["unit-name"] = json!(unit);
        let out = run(&mut model, &leader, "provide-certificate", params);
        assert_eq!(result_str(&out, "unit"), unit);
        assert_eq!(result_str(&out, "relation-id"), rel.to_string());
        assert!(
            result_str(&out, "result").contains(&format!("relation {rel} for unit {unit}")),
            "{out:?}"
        );
        provided.push((unit.to_string(), csr.to_string(), cert));
    }
    model.settle().expect("settle after provide");

    // Each requirer unit reports its own certificate, and it verifies against the outside root.
    for (unit, csr, cert) in &provided {
        assert_eq!(
            status_of(&model, unit),
            ("active".into(), "1/1 certificates received".into()),
            "{unit}"
        );
        let entries = get_certificates(&mut model, unit);
        assert_eq!(entries.len(), 1, "{unit}: {entries:?}");
        let e = &entries[0];
        assert_eq!(e["csr"].as_str(), Some(csr.as_str()));
        let got = e["certificate"].as_str().expect("certificate reported");
        assert_eq!(got.trim(), cert.trim(), "{unit}");
        assert_eq!(e["ca"].as_str().unwrap().trim(), ca.int_pem().trim());
        let chain: Vec<&str> = e["chain"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        assert_eq!(chain.len(), 3, "leaf, intermediate, root");
        assert_eq!(chain[0].trim(), cert.trim(), "leaf first");
        assert_eq!(chain[1].trim(), ca.int_pem().trim());
        assert_eq!(chain[2].trim(), ca.root_pem().trim());
        let verified = ca.verify(got, chain[1]);
        assert!(verified.contains(": OK"), "{verified}");
    }

    // The outstanding list is now empty: a success with a clear message.
    let (count, list, message) = outstanding(&mut model, &leader);
    assert_eq!((count, list.len()), (0, 0));
    assert_eq!(message, "no outstanding certificate requests");
    let status = model.unit_status(&leader);
    assert!(
        status.message.contains("no outstanding requests"),
        "{status:?}"
    );
    let per_relation = run(
        &mut model,
        &leader,
        "get-certificate-request",
        json!({"relation-id": rel}),
    );
    let all: Vec<Value> = serde_json::from_str(result_str(&per_relation, "requests")).unwrap();
    assert_eq!(all.len(), 3);
    assert!(all.iter().all(|r| r["has-certificate"] == json!(true)));

    // Hooks keep the provided certificates (nothing rewritten while the CSRs stay).
    let published = model.relation_data(rel, PROV);
    model.update_status(PROV);
    model.settle().unwrap();
    assert_eq!(model.relation_data(rel, PROV), published);
}

#[test]
fn app_level_csr_is_listed_and_provided() {
    let (mut model, rel, leader, _) = deploy(
        json!({"mode": "app", "key-algorithm": "ecdsa", "common-name": "svc.example.com"}),
        2,
    );
    let (count, list, _) = outstanding(&mut model, &leader);
    assert_eq!(count, 1, "one app-level request: {list:?}");
    let r = &list[0];
    assert_eq!(r["app-level"], json!(true));
    assert!(r.get("unit").is_none(), "{r:?}");
    assert_eq!(r["application"], json!(REQ));
    assert_eq!(r["common-name"], json!("svc.example.com"));
    let csr = r["csr"].as_str().unwrap().to_string();
    let app_bag = model.relation_data(rel, REQ);
    assert!(app_bag["certificate_signing_requests"].contains(&csr.replace('\n', "\\n")));

    let ca = OutsideCa::new();
    let cert = ca.sign(&csr, false);
    // Root as ca-certificate with the intermediate alone in ca-chain: the root is appended.
    let out = run(
        &mut model,
        &leader,
        "provide-certificate",
        provide_params(&csr, &cert, &ca.root_pem(), &ca.int_pem()),
    );
    assert_eq!(result_str(&out, "app-level"), "true");
    assert!(result_str(&out, "result").contains("app-level request"));
    model.settle().unwrap();

    let req_leader = model.leader(REQ).unwrap();
    let entries = get_certificates(&mut model, &req_leader);
    let app_entry = entries
        .iter()
        .find(|e| e["scope"] == json!("app"))
        .expect("app-scope entry");
    let got = app_entry["certificate"].as_str().expect("certificate");
    assert_eq!(got.trim(), cert.trim());
    assert_eq!(
        app_entry["ca"].as_str().unwrap().trim(),
        ca.root_pem().trim()
    );
    let chain = app_entry["chain"].as_array().unwrap();
    assert_eq!(chain.len(), 3);
    let verified = ca.verify(got, chain[1].as_str().unwrap());
    assert!(verified.contains(": OK"), "{verified}");
    let (count, _, _) = outstanding(&mut model, &leader);
    assert_eq!(count, 0);
}
