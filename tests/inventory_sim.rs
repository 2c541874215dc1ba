//! `list-certificates` through the REAL binary and real `action-set` processes in the simulator:
//! 1000 certificates (~500 KB of JSON) come back split into `certificates`, `certificates-2`,
//! ..., `certificates-parts`, each within the chunk limit, together exactly the inventory; a
//! filter that matches nothing keeps one empty result; a bad `state=` fails the action naming
//! the valid values.
//!
//! The requirer is a puppet app (no code): the test writes each unit's
//! `certificate_signing_requests` itself. Needs `cargo build -p jujusim` first.

mod common;

use std::collections::BTreeSet;

use common::actions::join_list_parts;
use common::interop::*;
use jujusim::{ActionResult, Model};
use serde_json::{json, Map, Value};

const UNITS: usize = 4;
const PER_UNIT: usize = 250;

fn run(model: &mut Model, unit: &str, params: Value) -> ActionResult {
    model
        .run_action(unit, "list-certificates", obj(params))
        .unwrap_or_else(|e| panic!("run list-certificates on {unit}: {e}"))
}

fn text<'a>(results: &'a Map<String, Value>, key: &str) -> &'a str {
    results[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key}: {:?}", results.get(key)))
}

#[test]
fn a_thousand_certificates_are_listed_in_parts_through_real_action_set() {
    let mut m = new_model();
    deploy_provider(&mut m, 1, json!({}));
    let rel = deploy_puppet(&mut m, "fleet", UNITS);
    m.settle().expect("settle");
    let leader = m.leader(PROVIDER).expect("leader");
    let mut names = BTreeSet::new();
    for unit in m.units("fleet") {
        let entries: Vec<Value> = (0..PER_UNIT)
            .map(|i| {
                let cn = format!("{}-{i:03}.example.com", unit.replace('/', "-"));
                names.insert(cn.clone());
                json!({"certificate_signing_request": crafted_with_dns(&cn).pem, "ca": false})
            })
            .collect();
        add_requests(&mut m, rel, &unit, json!(entries));
    }
    m.settle().expect("settle after the requests");
    assert_eq!(certificates(&provider_bag(&m, rel)).len(), 1000);

    let r = run(&mut m, &leader, json!({"state": "issued"}));
    assert_eq!(r.status, "completed", "{} {:?}", r.message, r.stderr);
    let results = r.results.as_object().unwrap();
    assert_eq!(text(results, "count"), "1000");
    let parts: usize = text(results, "certificates-parts").parse().unwrap();
    assert!(parts >= 4, "{parts} parts for ~500 KB");
    let get = |k: &str| results.contains_key(k).then(|| text(results, k));
    let list = join_list_parts(get, "certificates", parts);
    let listed: BTreeSet<String> = list
        .iter()
        .map(|e| e["common-name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(list.len(), 1000, "no entry twice");
    assert_eq!(listed, names);
    assert!(list
        .iter()
        .all(|e| e["state"] == json!("issued") && e["relation-id"] == json!(rel)));
    let message = text(results, "message");
    assert!(
        message.starts_with("1000 certificate requests matching state=issued: 1000 issued;"),
        "{message}"
    );
    assert!(
        message.contains(&format!("certificates-parts={parts}")),
        "{message}"
    );

    let r = run(&mut m, &leader, json!({"state": "revoked"}));
    assert_eq!(r.status, "completed", "{r:?}");
    let results = r.results.as_object().unwrap();
    assert_eq!(text(results, "certificates"), "[]");
    assert!(!results.contains_key("certificates-parts"));

    let r = run(&mut m, &leader, json!({"state": "foo"}));
    assert_eq!(r.status, "failed", "{r:?}");
    assert!(
        r.message
            .contains("use one of issued, expiring, outstanding, denied, revoked"),
        "{r:?}"
    );
}
