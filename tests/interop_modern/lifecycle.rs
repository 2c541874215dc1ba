//! Modern: lifecycle (`docs/protocol.md` §5 cases 21, 22 and 24-27): requirers change, renew,
//! depart and switch modes; the provider changes leader; nothing is rewritten without a change.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::common::interop::*;
use crate::*;

#[test]
fn case21_requirer_changes_cn_old_entry_removed_new_issued() {
    let (mut m, rel) = single("chg", 1, json!({}), 1, json!({}));
    let old = requirer_csrs(&m, rel, "chg/0").remove(0);
    assert!(entry_for(&certificates(&provider_bag(&m, rel)), &old.pem).is_some());
    set_config(&mut m, "chg", json!({"common-name": "renamed.example.com"}));
    settle(&mut m);
    let csrs = requirer_csrs(&m, rel, "chg/0");
    assert_eq!(csrs.len(), 1);
    let new = &csrs[0];
    assert_eq!(new.cn().as_deref(), Some("renamed.example.com"));
    let published = certificates(&provider_bag(&m, rel));
    assert_eq!(published.len(), 1, "old entry removed");
    assert!(entry_for(&published, &old.pem).is_none());
    let e = entry_for(&published, &new.pem).expect("new CSR issued");
    check_issued(e, &new.pem, false);
    assert_accepted(&m, "chg/0", e);
    assert_eq!(status_of(&m, "chg/0").1, "1/1 certificates received");
}

#[test]
fn case22_renewal_on_secret_expiry_new_csr_same_key_issued_old_entry_gone() {
    let (mut m, rel) = single("ren", 1, json!({}), 1, json!({}));
    let old = requirer_csrs(&m, rel, "ren/0").remove(0);
    let stored = stored_certificates(&m, "ren/0");
    assert_eq!(stored.len(), 1);
    let expire = stored[0]
        .expire
        .expect("the certificate secret has an expiry");
    let by = expire.duration_since(m.now()).unwrap_or_default() + Duration::from_secs(60);
    m.advance_clock(by);
    settle(&mut m);
    let csrs = requirer_csrs(&m, rel, "ren/0");
    assert_eq!(csrs.len(), 1);
    let new = &csrs[0];
    assert_ne!(new.pem, old.pem, "the requirer renewed");
    assert!(new.key().public_eq(&old.key()), "same key");
    assert_eq!(new.cn(), old.cn());
    let published = certificates(&provider_bag(&m, rel));
    assert_eq!(published.len(), 1, "old entry gone");
    let e = entry_for(&published, &new.pem).expect("new CSR issued");
    check_issued(e, &new.pem, false);
    assert_accepted(&m, "ren/0", e);
    let stored = stored_certificates(&m, "ren/0");
    assert_eq!(stored.len(), 1, "the requirer holds the new secret only");
    assert!(
        stored[0]
            .label
            .starts_with(&format!("{LIBID}-certificate-0-certificates-")),
        "a new unit-scope certificate secret: {}",
        stored[0].label
    );
    assert_eq!(csr_der(&stored[0].csr), csr_der(&new.pem));
}

#[test]
fn case24_unit_departure_and_relation_removal_leave_nothing_behind() {
    let mut m = new_model();
    deploy_provider(&mut m, 1, json!({}));
    let rel = deploy_requirer(&mut m, "dep", 2, json!({}));
    let other = deploy_puppet(&mut m, "keep", 1);
    let kc = crafted("keep.example.com");
    request_leaf(&mut m, other, "keep/0", &kc.pem);
    settle(&mut m);
    let keep_bag = provider_bag(&m, other);
    assert_eq!(certificates(&keep_bag).len(), 1);
    let gone = requirer_csrs(&m, rel, "dep/1").remove(0);
    let stay = requirer_csrs(&m, rel, "dep/0").remove(0);
    let before = certificates(&provider_bag(&m, rel));
    assert_eq!(before.len(), 2);

    m.remove_unit("dep/1").unwrap();
    settle(&mut m);
    let after = certificates(&provider_bag(&m, rel));
    assert_eq!(after.len(), 1, "the departed unit's entry is removed");
    assert!(entry_for(&after, &gone.pem).is_none());
    assert_eq!(
        entry_for(&after, &stay.pem),
        entry_for(&before, &stay.pem),
        "the remaining unit's entry is untouched"
    );

    m.unrelate(rel).unwrap();
    settle(&mut m);
    assert!(!provider_relations(&m).contains(&rel));
    assert!(provider_bag(&m, rel).is_empty());
    assert_eq!(
        provider_bag(&m, other),
        keep_bag,
        "other relation untouched"
    );
    let leader = m.leader(PROVIDER).unwrap();
    let r = m
        .run_action(&leader, "get-issued-certificates", Map::new())
        .unwrap();
    assert_eq!(r.status, "completed");
    assert_eq!(r.results["count"], json!("1"), "{r:?}");
    let listed: Value = serde_json::from_str(r.results["certificates"].as_str().unwrap()).unwrap();
    assert!(
        !serde_json::to_string(&listed).unwrap().contains("dep"),
        "nothing listed for the removed relation: {listed}"
    );
    let msg = leader_status(&m).1;
    assert!(
        msg.contains("issued 1") && msg.contains("across 1 relation"),
        "{msg}"
    );
    // The requirer library cleaned its secrets up on relation-broken.
    assert!(stored_certificates(&m, "dep/0").is_empty());
    assert_provider_hooks_ok(&m);
}

#[test]
fn case25_leader_change_continues_without_duplicates_or_reissue() {
    let (mut m, rel) = single("ldr", 1, json!({}), 2, json!({}));
    let old_leader = m.leader(PROVIDER).unwrap();
    let new_leader = other_unit(&m, PROVIDER, &old_leader);
    let writes = provider_relation_sets(m.hook_runs());
    assert!(!writes.is_empty(), "the leader wrote");
    assert!(
        writes.iter().all(|(u, _, _)| *u != new_leader),
        "a non-leader never writes: {writes:?}"
    );
    assert_eq!(
        status_of(&m, &new_leader),
        (
            "active".into(),
            "standby: the leader issues certificates".into()
        )
    );
    let bag = provider_bag(&m, rel);
    assert_eq!(certificates(&bag).len(), 1);

    let from = m.hook_runs().len();
    let switched = from;
    m.set_leader(&new_leader).unwrap();
    m.update_status(PROVIDER);
    settle(&mut m);
    assert_eq!(provider_bag(&m, rel), bag, "no duplicate, no reissue");
    assert!(
        provider_relation_sets(&m.hook_runs()[from..]).is_empty(),
        "nothing to write after the leader change"
    );
    assert!(m.hook_runs()[from..]
        .iter()
        .any(|r| r.unit == new_leader && r.hook == "leader-elected"));

    // A new request is served by the new leader under the same CA; the old one stays quiet.
    let from = m.hook_runs().len();
    set_config(&mut m, "ldr", json!({"requests-per-unit": 2}));
    settle(&mut m);
    let published = certificates(&provider_bag(&m, rel));
    assert_eq!(published.len(), 2);
    let ca = certificates(&bag)[0]["ca"].clone();
    assert!(
        published.iter().all(|e| e["ca"] == ca),
        "continues from the CA secret"
    );
    let writes = provider_relation_sets(&m.hook_runs()[from..]);
    assert!(!writes.is_empty());
    assert!(
        writes.iter().all(|(u, _, _)| *u == new_leader),
        "only the new leader writes: {writes:?}"
    );
    assert_eq!(status_of(&m, "ldr/0").1, "2/2 certificates received");
    // Over the whole run, no unit wrote anything while it was not the leader.
    for (i, r) in m.hook_runs().iter().enumerate() {
        let leader_then = if i < switched {
            &old_leader
        } else {
            &new_leader
        };
        if r.unit.starts_with("tls-provider/") && r.unit != *leader_then {
            assert!(
                r.tool_calls.iter().all(|c| !matches!(
                    c.tool.as_str(),
                    "relation-set" | "secret-add" | "secret-set"
                )),
                "non-leader {} wrote in {}",
                r.unit,
                r.hook
            );
        }
    }
    assert_eq!(
        status_of(&m, &old_leader),
        (
            "active".into(),
            "standby: the leader issues certificates".into()
        )
    );

    // The leader unit is removed: the remaining unit is elected and continues as is.
    let bag = provider_bag(&m, rel);
    let from = m.hook_runs().len();
    m.remove_unit(&new_leader).unwrap();
    settle(&mut m);
    assert_eq!(m.leader(PROVIDER).as_deref(), Some(old_leader.as_str()));
    assert_eq!(provider_bag(&m, rel), bag, "nothing reissued or duplicated");
    assert!(provider_relation_sets(&m.hook_runs()[from..]).is_empty());
    let (st, msg) = status_of(&m, &old_leader);
    assert_eq!(st, "active");
    assert!(msg.starts_with("issued 2"), "{msg}");
    assert_eq!(status_of(&m, "ldr/0").1, "2/2 certificates received");

    // The leader that did not create the CA secret can still rotate it (found by its label).
    let r = m
        .run_action(
            &old_leader,
            "rotate-private-key",
            obj(json!({"immediate": true})),
        )
        .unwrap();
    assert_eq!(r.status, "completed", "{r:?}");
    assert_eq!(r.results["reissued"], json!("2"));
    settle(&mut m);
    let new_ca = r.results["ca-certificate"].as_str().unwrap().to_string();
    assert_ne!(der(&new_ca), der(ca.as_str().unwrap()));
    assert_all_under(&m, rel, "ldr", &new_ca);
    assert_eq!(status_of(&m, "ldr/0").1, "2/2 certificates received");
}

#[test]
fn case26_idempotence_update_status_and_config_changed_write_nothing() {
    let mut f = fleet();
    let before = all_bags(&f.model);
    let from = f.model.hook_runs().len();
    f.model.update_status(PROVIDER);
    settle(&mut f.model);
    for u in f.model.units(PROVIDER) {
        f.model.queue_hook(&u, "config-changed");
        f.model.queue_hook(&u, "upgrade-charm");
    }
    f.model.update_status(PROVIDER);
    settle(&mut f.model);
    let runs = &f.model.hook_runs()[from..];
    assert!(runs.len() >= 3, "the hooks ran");
    assert!(
        relation_sets(runs).is_empty(),
        "no relation-set: {:?}",
        relation_sets(runs)
    );
    assert!(
        runs.iter().all(|r| !r.unit.starts_with("tls-provider/")
            || r.tool_calls
                .iter()
                .all(|c| c.tool != "secret-set" && c.tool != "secret-add")),
        "the CA is not touched"
    );
    assert_eq!(before, all_bags(&f.model), "every databag byte-identical");
}

#[test]
fn case27_multiple_requirer_apps_each_relation_holds_only_its_own() {
    let f = fleet();
    let m = &f.model;
    let mut all = BTreeSet::new();
    let mut cas = BTreeSet::new();
    for (app, rel) in &f.rels {
        let published = certificates(&f.bag(app));
        let mine = requirer_side_csrs(m, *rel, app);
        assert!(!mine.is_empty());
        // Every published entry answers a CSR of this relation's requirer, and vice versa.
        assert_eq!(csr_set(&published), mine, "{app}");
        for c in &mine {
            assert!(all.insert(c.clone()), "a CSR appears on two relations");
        }
        for e in &published {
            cas.insert(der(e["ca"].as_str().unwrap()));
        }
    }
    assert_eq!(cas.len(), 1, "one CA for every relation");
    assert_eq!(f.rels.len(), 6);
}

/// The CSRs `entries` echo.
fn csr_set(entries: &[Value]) -> BTreeSet<String> {
    entries
        .iter()
        .map(|e| {
            e["certificate_signing_request"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

#[test]
fn app_scope_request_survives_requirer_unit_churn() {
    let (mut m, rel) = puppet(2, json!({}));
    let app = crafted("app.example.com");
    request_leaf(&mut m, rel, "crafted", &app.pem);
    settle(&mut m);
    let bag = provider_bag(&m, rel);
    check_issued(&certificates(&bag)[0], &app.pem, false);
    // Both requirer units go (the relation stays): the app's request is still there.
    m.remove_unit("crafted/0").unwrap();
    settle(&mut m);
    m.remove_unit("crafted/1").unwrap();
    settle(&mut m);
    m.update_status(PROVIDER);
    settle(&mut m);
    assert_provider_hooks_ok(&m);
    assert_eq!(provider_bag(&m, rel), bag, "app-scope certificate kept");
    // A new unit arrives and the app changes its request: old entry replaced.
    m.add_unit("crafted").unwrap();
    settle(&mut m);
    let app2 = crafted("app2.example.com");
    m.set_relation_data(
        rel,
        "crafted",
        csr_bag(json!([{"certificate_signing_request": app2.pem, "ca": false}])),
    )
    .unwrap();
    settle(&mut m);
    let published = certificates(&provider_bag(&m, rel));
    assert_eq!(published.len(), 1);
    check_issued(&published[0], &app2.pem, false);
}

#[test]
fn requirer_key_regeneration_and_mode_switch_replace_entries() {
    let (mut m, rel) = single("sw", 1, json!({}), 1, json!({}));
    let first = requirer_csrs(&m, rel, "sw/0").remove(0);
    let r = m.run_action("sw/0", "regenerate-key", Map::new()).unwrap();
    assert_eq!(r.status, "completed", "{r:?}");
    settle(&mut m);
    let second = requirer_csrs(&m, rel, "sw/0").remove(0);
    assert!(!second.key().public_eq(&first.key()), "new key");
    let published = certificates(&provider_bag(&m, rel));
    assert_eq!(published.len(), 1, "old key's entry removed");
    let e = entry_for(&published, &second.pem).expect("issued for the new key");
    check_issued(e, &second.pem, false);
    assert_accepted(&m, "sw/0", e);

    set_config(&mut m, "sw", json!({"mode": "app"}));
    settle(&mut m);
    assert!(requirer_csrs(&m, rel, "sw/0").is_empty());
    let app = requirer_csrs(&m, rel, "sw").remove(0);
    let published = certificates(&provider_bag(&m, rel));
    assert_eq!(published.len(), 1, "unit entry removed, app entry issued");
    let e = entry_for(&published, &app.pem).expect("app CSR issued");
    check_issued(e, &app.pem, false);
    assert_accepted(&m, "sw", e);
    assert_eq!(status_of(&m, "sw/0").1, "1/1 certificates received");
}
