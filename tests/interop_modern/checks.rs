//! The checks themselves: the helpers the other modules build on (`check_issued`,
//! `check_provider_bag`, `openssl_verify`, the library's view, `accepted`) reject wrong provider
//! answers, so the tests built on them can fail.

use serde_json::json;

use crate::common::interop::*;
use crate::foreign_ca::foreign_certificate;
use crate::*;

fn fails(f: impl FnOnce()) -> bool {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).is_err()
}

/// The checks the other modules use reject wrong answers (so the tests built on them can fail).
#[test]
fn checks_reject_wrong_provider_answers() {
    let (mut m, rel) = puppet(1, json!({}));
    let c = crafted_with_dns("self.example.com");
    let other = crafted_with_dns("self.example.com");
    request_leaf(&mut m, rel, "crafted/0", &c.pem);
    settle(&mut m);
    let bag = provider_bag(&m, rel);
    let entry = certificates(&bag).remove(0);
    check_issued(&entry, &c.pem, false);

    // Wrong CSR echo, wrong key, wrong CA flag.
    assert!(fails(|| {
        check_issued(&entry, &other.pem, false);
    }));
    let mut swapped = entry.clone();
    swapped["certificate_signing_request"] = json!(other.pem);
    assert!(fails(|| {
        check_issued(&swapped, &other.pem, false);
    }));
    assert!(fails(|| {
        check_issued(&entry, &c.pem, true);
    }));
    // A certificate from another CA does not verify against the published one.
    let (foreign, foreign_ca) = foreign_certificate(&c.pem, false);
    assert!(fails(|| openssl_verify(
        entry["ca"].as_str().unwrap(),
        &foreign
    )));
    let mut wrong_ca = entry.clone();
    wrong_ca["ca"] = json!(foreign_ca);
    assert!(fails(|| {
        check_issued(&wrong_ca, &c.pem, false);
    }));
    // Bag invariants: null, reversed chain, wrong error key, garbage PEM, empty list.
    let with = |k: &str, v: String| {
        let mut b = bag.clone();
        b.insert(k.to_string(), v);
        b
    };
    let mut reversed = entry.clone();
    let mut chain = reversed["chain"].as_array().unwrap().clone();
    chain.reverse();
    reversed["chain"] = json!(chain);
    let mut garbage = entry.clone();
    garbage["ca"] = json!("garbage");
    let bad_bags = [
        with("certificates", "null".into()),
        with("request_errors", "[]".into()),
        with("certificates", json!([reversed]).to_string()),
        with("certificates", json!([garbage]).to_string()),
        with("certificates", json!([entry, entry]).to_string()),
        with(
            "request_errors",
            json!([{"certificate_signing_request": other.pem,
                    "error": {"code": 102, "name": "DOMAIN_NOT_ALLOWED", "message": "no"}}])
            .to_string(),
        ),
        with(
            "capabilities",
            json!({"supports_ip_sans": "yes"}).to_string(),
        ),
    ];
    for b in &bad_bags {
        assert!(fails(|| check_provider_bag(b)), "accepted: {b:?}");
    }
    // The requirer library rejects a databag with a null list or a bad PEM.
    assert!(fails(|| {
        library_view(&[with("request_errors", "null".into())]);
    }));
    assert!(fails(|| {
        library_view(&[bad_bags[3].clone()]);
    }));
    // Nothing was accepted by a requirer that holds no secret.
    assert!(accepted(&m, "crafted/0", &c.pem).is_none());
}
