//! The provider's CA: rotation by config (`docs/protocol.md` §5 case 23), by action and near
//! expiry, each reissuing the same CSRs under the new CA; and the CA key never leaving its secret.

use std::collections::BTreeMap;
use std::time::Duration;

use openssl::pkey::Id;
use serde_json::json;

use crate::common::interop::*;
use crate::*;

#[test]
fn case23_ca_rotation_by_config_reissues_same_csrs_under_new_ca() {
    let (mut m, rel) = single(
        "rot",
        1,
        json!({"mode": "app-and-unit", "common-name": "rot.example.com"}),
        1,
        json!({}),
    );
    let before_csrs = requirer_side_csrs(&m, rel, "rot");
    assert_eq!(before_csrs.len(), 2);
    let before = certificates(&provider_bag(&m, rel));
    let old_ca = before[0]["ca"].as_str().unwrap().to_string();
    assert_all_under(&m, rel, "rot", &old_ca);

    let secrets_before = requirer_certificate_secrets(&m);
    assert_eq!(secrets_before.len(), 2);

    // Without an overlap (today's behaviour; the overlap is in tests/transfer_sim.rs).
    set_config(
        &mut m,
        PROVIDER,
        json!({"ca-common-name": "Rotated CA", "ca-rotation-overlap": "0"}),
    );
    settle(&mut m);
    assert_eq!(requirer_side_csrs(&m, rel, "rot"), before_csrs, "same CSRs");
    // No window without a certificate: the requirer updated its certificate secrets in place
    // (same secrets, new revision) instead of deleting them on a revocation first.
    let secrets_after = requirer_certificate_secrets(&m);
    assert_eq!(
        secrets_after.keys().collect::<Vec<_>>(),
        secrets_before.keys().collect::<Vec<_>>(),
        "same certificate secrets"
    );
    for (id, revs) in &secrets_after {
        assert!(*revs > secrets_before[id], "secret {id} got a new revision");
    }
    let after = certificates(&provider_bag(&m, rel));
    let new_ca = after[0]["ca"].as_str().unwrap().to_string();
    assert_ne!(der(&new_ca), der(&old_ca), "new CA");
    assert_eq!(
        cn_of(parse_cert(&new_ca).subject_name()).as_deref(),
        Some("Rotated CA")
    );
    assert_all_under(&m, rel, "rot", &new_ca);
    for e in &after {
        assert!(
            before.iter().all(|b| b["certificate"] != e["certificate"]),
            "reissued"
        );
        assert_ne!(e["revoked"], json!(true));
    }
    let secret = ca_secret(&m);
    assert_eq!(der(&secret["ca-certificate"]), der(&new_ca));
    assert_eq!(
        der(&secret["previous-ca-certificate"]),
        der(&old_ca),
        "previous CA certificate kept"
    );
    assert_eq!(status_of(&m, "rot/0").1, "2/2 certificates received");

    // A change of CA key algorithm: another new CA (EC P-384), everything reissued again.
    set_config(&mut m, PROVIDER, json!({"ca-key-algorithm": "ecdsa-p384"}));
    settle(&mut m);
    let ec_ca = published_ca(&m, rel);
    let key = parse_cert(&ec_ca).public_key().unwrap();
    assert_eq!((key.id(), key.bits()), (Id::EC, 384));
    assert_all_under(&m, rel, "rot", &ec_ca);
    assert_eq!(der(&ca_secret(&m)["previous-ca-certificate"]), der(&new_ca));
    assert_eq!(status_of(&m, "rot/0").1, "2/2 certificates received");
}

/// The `ca` of the first certificate published on `rel`.
fn published_ca(model: &Model, rel: u32) -> String {
    certificates(&provider_bag(model, rel))[0]["ca"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Requirer-owned certificate secrets of the model: id -> number of revisions.
fn requirer_certificate_secrets(model: &Model) -> BTreeMap<String, usize> {
    secrets_labelled(model, &format!("{LIBID}-certificate"))
        .into_iter()
        .map(|s| (s.id, s.revisions.len()))
        .collect()
}

#[test]
fn ca_rotation_by_action_and_near_expiry_via_secret_expired() {
    // Without an overlap (today's behaviour; the overlap is in tests/transfer_sim.rs).
    let (mut m, rel) = single("rot2", 1, json!({}), 2, json!({"ca-rotation-overlap": "0"}));
    let leader = m.leader(PROVIDER).unwrap();
    let other = other_unit(&m, PROVIDER, &leader);
    let ca0 = published_ca(&m, rel);

    // On a non-leader the action fails and says where to run it.
    let r = m
        .run_action(
            &other,
            "rotate-private-key",
            obj(json!({"immediate": true})),
        )
        .unwrap();
    assert_eq!(r.status, "failed");
    assert!(r.message.contains("leader"), "{}", r.message);

    // rotate-private-key on the leader.
    let csr = requirer_csrs(&m, rel, "rot2/0").remove(0);
    let r = m
        .run_action(
            &leader,
            "rotate-private-key",
            obj(json!({"immediate": true})),
        )
        .unwrap();
    assert_eq!(r.status, "completed", "{r:?}");
    assert_eq!(r.results["reissued"], json!("1"));
    let text = serde_json::to_string(&r.results).unwrap();
    assert!(!text.contains("PRIVATE KEY"), "no key in action output");
    settle(&mut m);
    let ca1 = published_ca(&m, rel);
    assert_ne!(der(&ca1), der(&ca0));
    assert_eq!(
        der(r.results["ca-certificate"].as_str().unwrap()),
        der(&ca1)
    );
    assert_eq!(requirer_csrs(&m, rel, "rot2/0")[0].pem, csr.pem, "same CSR");
    assert_all_under(&m, rel, "rot2", &ca1);
    assert_eq!(der(&ca_secret(&m)["previous-ca-certificate"]), der(&ca0));

    // The CA secret expires at its next deadline. First the previous CA's end of trust: every
    // certificate it issued has expired certificate-validity (90d) after the switch.
    let s = ca_secret_view(&m);
    let expire = s.expire.expect("the CA secret has an expiry");
    let ca1_start = to_system(parse_cert(&ca1).not_before());
    let gap = expire.duration_since(ca1_start).unwrap().as_secs();
    assert!(
        gap.abs_diff(90 * 86_400) < 300,
        "expiry = switch + certificate-validity (90d), got {gap}s"
    );
    let by = expire.duration_since(m.now()).unwrap_or_default() + Duration::from_secs(60);
    m.advance_clock(by);
    settle(&mut m);
    assert!(
        !ca_secret(&m).contains_key("previous-ca-certificate"),
        "the previous CA is gone"
    );
    assert_eq!(published_ca(&m, rel), ca1, "no rotation yet");

    // Then near expiry: notAfter - certificate-validity (no overlap configured here).
    let s = ca_secret_view(&m);
    let expire = s.expire.expect("the CA secret has an expiry");
    let ca1_cert = parse_cert(&ca1);
    let not_after = to_system(ca1_cert.not_after());
    let gap = not_after.duration_since(expire).unwrap().as_secs();
    assert!(
        gap.abs_diff(90 * 86_400) < 120,
        "expiry = notAfter - certificate-validity (90d), got {gap}s"
    );
    let by = expire.duration_since(m.now()).unwrap_or_default() + Duration::from_secs(60);
    m.advance_clock(by);
    settle(&mut m);
    assert!(
        m.logs(&leader)
            .iter()
            .any(|l| l.contains("new CA (the CA has less life left than certificate-validity)")),
        "rotation logged with its reason"
    );
    let ca2 = published_ca(&m, rel);
    assert_ne!(der(&ca2), der(&ca1));
    assert_all_under(&m, rel, "rot2", &ca2);
    assert_eq!(der(&ca_secret(&m)["previous-ca-certificate"]), der(&ca1));
    assert_provider_hooks_ok(&m);
}

#[test]
fn ca_private_key_never_leaves_its_secret() {
    let f = fleet();
    let m = &f.model;
    let key = ca_secret(m)["private-key"].clone();
    assert!(key.contains("PRIVATE KEY"));
    // A chunk of the key's base64 body.
    let body: String = key.lines().filter(|l| !l.starts_with("-----")).collect();
    let chunk = &body[body.len() / 2..body.len() / 2 + 32];
    let leaks = |what: &str, text: &str| {
        assert!(!text.contains(chunk), "CA key material in {what}");
        assert!(!text.contains("PRIVATE KEY"), "a private key in {what}");
    };
    for u in m.units(PROVIDER) {
        leaks(&format!("{u} logs"), &m.logs(&u).join("\n"));
        leaks(&format!("{u} status"), &m.unit_status(&u).message);
        for r in m.hook_runs().iter().filter(|r| r.unit == u) {
            // Secret content goes through files or stdin, never argv (not even secret-add's).
            for c in &r.tool_calls {
                leaks(&format!("{u} {} argv", c.tool), &c.args.join(" "));
            }
        }
    }
    for (rel, owner, bag) in all_bags(m) {
        leaks(&format!("relation {rel} {owner}"), &format!("{bag:?}"));
    }
    // The CA secret is the only secret the provider owns, and nobody was granted it.
    let provider_secrets: Vec<_> = m
        .secrets()
        .into_iter()
        .filter(|s| s.owner == PROVIDER || s.owner.starts_with("tls-provider/"))
        .collect();
    assert_eq!(provider_secrets.len(), 1);
    assert!(m.secret_grants(&provider_secrets[0].id).is_empty());
}
