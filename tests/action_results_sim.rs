//! Big action results through the REAL binary and real `action-set` processes in the simulator.
//! Juju's `action-set` takes results only on argv, where Linux refuses one argument over 128 KiB
//! (and the whole argv + environment over ~2 MiB). 400 outstanding requests (~320 KB of JSON) and
//! 400 issued certificates (~180 KB) used to fail their listing actions with a spawn error; now each
//! list comes back in parts (`requests`, `requests-2`, ..., `requests-parts`), each a JSON list
//! under the chunk limit, that together are exactly the full list.
//!
//! The requirer is a puppet app (no code): the test writes each unit's
//! `certificate_signing_requests` itself, with distinct CSRs made here (fresh EC P-256 keys).
//!
//! Needs `cargo build -p jujusim` first (`make test` builds every binary).

mod common;

use std::collections::BTreeSet;

use common::actions::join_list_parts;
use common::interop::*;
use jujusim::{ActionResult, Model};
use serde_json::{json, Map, Value};

const UNITS: usize = 4;
const PER_UNIT: usize = 100;

fn run(model: &mut Model, unit: &str, action: &str, params: Value) -> Map<String, Value> {
    let r: ActionResult = model
        .run_action(unit, action, obj(params))
        .unwrap_or_else(|e| panic!("run {action} on {unit}: {e}"));
    assert_eq!(
        r.status, "completed",
        "{action}: {} {:?}",
        r.message, r.stderr
    );
    r.results.as_object().unwrap().clone()
}

fn text<'a>(results: &'a Map<String, Value>, key: &str) -> &'a str {
    results[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key}: {:?}", results.get(key)))
}

/// List `key` joined from its parts; every part a non-empty JSON list within the chunk limit.
fn joined(results: &Map<String, Value>, key: &str) -> (Vec<Value>, usize) {
    let parts: usize = text(results, &format!("{key}-parts")).parse().unwrap();
    let get = |k: &str| results.contains_key(k).then(|| text(results, k));
    (join_list_parts(get, key, parts), parts)
}

#[test]
fn four_hundred_requests_and_certificates_are_listed_through_real_action_set() {
    let mut m = new_model();
    deploy_provider(&mut m, 1, json!({"mode": "manual"}));
    let rel = deploy_puppet(&mut m, "fleet", UNITS);
    m.settle().expect("settle");
    let leader = m.leader(PROVIDER).expect("leader");

    let mut csrs = BTreeSet::new();
    for unit in m.units("fleet") {
        let entries: Vec<Value> = (0..PER_UNIT)
            .map(|i| {
                let cn = format!("{}-{i:03}.example.com", unit.replace('/', "-"));
                let c = crafted_with_dns(&cn);
                csrs.insert(c.pem.clone());
                json!({"certificate_signing_request": c.pem, "ca": false})
            })
            .collect();
        add_requests(&mut m, rel, &unit, json!(entries));
    }
    assert_eq!(csrs.len(), UNITS * PER_UNIT);
    m.settle().expect("settle after the requests");

    // Manual mode: every request is outstanding.
    let r = run(
        &mut m,
        &leader,
        "get-outstanding-certificate-requests",
        json!({}),
    );
    assert_eq!(text(&r, "count"), "400");
    let (list, parts) = joined(&r, "requests");
    assert!(parts >= 3, "{parts} parts for ~320 KB");
    let listed: Vec<String> = list
        .iter()
        .map(|e| e["csr"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(listed.len(), 400, "no entry twice");
    assert_eq!(listed.into_iter().collect::<BTreeSet<_>>(), csrs);
    let message = text(&r, "message");
    assert!(
        message.contains(&format!("requests-parts={parts}")),
        "{message}"
    );

    // Self-signed: the built-in CA signs all 400, and the issued listing is split too.
    m.set_config(PROVIDER, obj(json!({"mode": "self-signed"})))
        .unwrap();
    m.settle().expect("settle after the mode switch");
    assert_eq!(certificates(&provider_bag(&m, rel)).len(), 400);
    let r = run(&mut m, &leader, "get-issued-certificates", json!({}));
    assert_eq!(text(&r, "count"), "400");
    let (list, parts) = joined(&r, "certificates");
    assert!(parts >= 2, "{parts}");
    let names: BTreeSet<&str> = list
        .iter()
        .map(|c| c["common-name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 400);
    assert!(text(&r, "message").contains("certificates-parts="));

    let r = run(
        &mut m,
        &leader,
        "get-certificate-request",
        json!({"relation-id": rel}),
    );
    let (list, _) = joined(&r, "requests");
    assert_eq!(list.len(), 400);
    assert!(list.iter().all(|e| e["has-certificate"] == json!(true)));
}
