//! Modern: responses (`docs/protocol.md` §5 cases 15-20): what the provider publishes is complete,
//! matches the requests, stays loadable by the library, and follows the policy.

use serde_json::json;

use crate::common::interop::*;
use crate::*;

#[test]
fn case15_entries_complete_leaf_first_ca_parses_v3_schema_and_library_load() {
    let f = fleet();
    let m = &f.model;
    let mut bags = Vec::new();
    for app in f.rels.keys() {
        let bag = f.bag(app);
        check_provider_bag(&bag); // 4 fields, chain[0] == certificate, PEMs, v3 types
        assert!(
            bag.contains_key("certificates"),
            "v3 schema: certificates required ({app})"
        );
        for e in certificates(&bag) {
            let ca = entry_ca(&e);
            assert!(
                text_of("x509", e["ca"].as_str().unwrap()).contains("CA:TRUE"),
                "ca is a CA certificate"
            );
            assert_eq!(
                ca.subject_name().to_der().unwrap(),
                ca.issuer_name().to_der().unwrap()
            );
        }
        bags.push(bag);
    }
    // The requirer library's own model loads every bag and converts every entry.
    let views = library_view(&bags);
    for (bag, view) in bags.iter().zip(&views) {
        assert_eq!(view["certificates"], json!(certificates(bag).len()));
    }
    let _ = m;
}

#[test]
fn case16_certificate_matches_csr_and_no_safety_net_renewal_through_two_reconciles() {
    let mut f = fleet();
    let apps: Vec<&str> = f.rels.keys().copied().collect();
    for app in &apps {
        let rel = f.rel(app);
        let entries = f.certs(app);
        let mut owners = vec![app.to_string()];
        owners.extend(f.model.units(app));
        for o in owners {
            for c in requirer_csrs(&f.model, rel, &o) {
                let e = entry_for(&entries, &c.pem).expect("issued");
                check_issued(e, &c.pem, c.ca == json!(true));
            }
        }
    }
    let before_req: Vec<_> = apps
        .iter()
        .map(|a| requirer_side_csrs(&f.model, f.rel(a), a))
        .collect();
    let before = all_bags(&f.model);
    for _ in 0..2 {
        for app in &apps {
            f.model.update_status(app);
        }
        settle(&mut f.model);
    }
    let after_req: Vec<_> = apps
        .iter()
        .map(|a| requirer_side_csrs(&f.model, f.rel(a), a))
        .collect();
    assert_eq!(
        before_req, after_req,
        "no requirer renewed a fresh certificate"
    );
    assert_eq!(before, all_bags(&f.model), "nothing changed");
}

#[test]
fn case17_never_null_never_bad_pem_never_malformed_capabilities() {
    // Hostile input next to good input; the provider's databag must stay loadable by the
    // requirer library (one bad value would break every requirer on the relation).
    let (mut m, rel) = puppet(3, json!({}));
    let good = crafted("ok.example.com");
    m.set_relation_data(
        rel,
        "crafted/0",
        raw_bag(&format!(
            r#"[{{"certificate_signing_request": "", "ca": false}}, {{"certificate_signing_request": null}}, {{"certificate_signing_request": "{}", "ca": 7}}]"#,
            "x".repeat(100_000)
        )),
    )
    .unwrap();
    m.set_relation_data(rel, "crafted/1", raw_bag("null"))
        .unwrap();
    request_leaf(&mut m, rel, "crafted/2", &good.pem);
    settle(&mut m);
    assert_provider_hooks_ok(&m);
    let bag = provider_bag(&m, rel);
    check_provider_bag(&bag);
    for (k, v) in &bag {
        assert_ne!(v.trim(), "null", "{k} is null");
        assert!(!v.contains("xxxxxxxx"), "hostile value echoed in {k}");
    }
    let view = library_view(std::slice::from_ref(&bag)).remove(0);
    assert_eq!(view["certificates"], json!(1));
    assert!(view["capabilities"].is_object());
    check_issued(&certificates(&bag)[0], &good.pem, false);
}

#[test]
fn case18_refusal_is_denied_with_code_and_sibling_still_accepted() {
    let (m, rel) = single(
        "req",
        2,
        json!({"common-name": "{unit}.example.com"}),
        1,
        json!({"allowed-domains": "req-0.example.com"}),
    );
    let ok = requirer_csrs(&m, rel, "req/0").remove(0);
    let denied = requirer_csrs(&m, rel, "req/1").remove(0);
    assert_eq!(denied.cn().as_deref(), Some("req-1.example.com"));
    let bag = provider_bag(&m, rel);
    let errors = request_errors(&bag);
    assert_eq!(errors.len(), 1);
    let err = error_for(&errors, &denied.pem).expect("error keyed by the exact CSR");
    assert_eq!(err["error"]["code"], json!(102));
    assert!(err["error"]["name"].is_string());
    assert!(err["error"]["message"]
        .as_str()
        .unwrap()
        .contains("allowed-domains"));
    let published = certificates(&bag);
    assert!(
        entry_for(&published, &denied.pem).is_none(),
        "refused CSR not issued"
    );
    let (st, msg) = status_of(&m, "req/1");
    assert_eq!(st, "blocked");
    assert!(msg.starts_with("1 request(s) denied: 102"), "{msg}");
    assert!(stored_certificates(&m, "req/1").is_empty());
    // The sibling in the same provider databag is accepted.
    let e = entry_for(&published, &ok.pem).expect("sibling issued");
    check_issued(e, &ok.pem, false);
    assert_accepted(&m, "req/0", e);
    assert_eq!(status_of(&m, "req/0").1, "1/1 certificates received");
    let view = library_view(&[bag]).remove(0);
    assert_eq!(view["errors"][0]["code"], json!(102));
}

#[test]
fn case19_error_then_success_and_success_then_error() {
    let (mut m, rel) = puppet(1, json!({"allowed-domains": "other.org"}));
    let c = crafted_with_dns("a.example.com");
    request_leaf(&mut m, rel, "crafted/0", &c.pem);
    settle(&mut m);
    let bag = provider_bag(&m, rel);
    assert!(certificates(&bag).is_empty());
    assert_eq!(request_errors(&bag)[0]["error"]["code"], json!(102));

    set_config(&mut m, PROVIDER, json!({"allowed-domains": "example.com"}));
    settle(&mut m);
    let bag = provider_bag(&m, rel);
    assert!(!bag.contains_key("request_errors"), "error removed");
    check_issued(&certificates(&bag)[0], &c.pem, false);

    set_config(&mut m, PROVIDER, json!({"allowed-domains": "other.org"}));
    settle(&mut m);
    let bag = provider_bag(&m, rel);
    assert!(!bag.contains_key("certificates"), "certificate removed");
    let errors = request_errors(&bag);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["csr"].as_str(), Some(c.pem.as_str()));
    assert_eq!(errors[0]["error"]["code"], json!(102));
}

#[test]
fn case20_capabilities_advertised_follow_policy_and_delivery_unaffected() {
    let (mut m, rel) = puppet(1, json!({}));
    let c = crafted("caps.example.com");
    request_leaf(&mut m, rel, "crafted/0", &c.pem);
    settle(&mut m);
    let bag = provider_bag(&m, rel);
    let view = library_view(std::slice::from_ref(&bag)).remove(0);
    assert_eq!(
        view["capabilities"],
        json!({"supports_ip_sans": true, "supports_wildcard_dns": true,
               "supports_subdomain": null, "supports_ca_certificates": false,
               "allowed_domains": null, "provider_type": "self-signed"})
    );
    assert_eq!(view["certificates"], json!(1));

    set_config(
        &mut m,
        PROVIDER,
        json!({"allowed-domains": "example.com,lan", "allow-ip-sans": false,
               "allow-wildcard-dns": false, "allow-ca-requests": true}),
    );
    settle(&mut m);
    let bag2 = provider_bag(&m, rel);
    let view = library_view(std::slice::from_ref(&bag2)).remove(0);
    assert_eq!(
        view["capabilities"],
        json!({"supports_ip_sans": false, "supports_wildcard_dns": false,
               "supports_subdomain": null, "supports_ca_certificates": true,
               "allowed_domains": ["example.com", "lan"], "provider_type": "self-signed"})
    );
    assert_eq!(view["certificates"], json!(1), "delivery unaffected");
    assert_eq!(
        bag2.get("certificates"),
        bag.get("certificates"),
        "certificate kept"
    );
}
