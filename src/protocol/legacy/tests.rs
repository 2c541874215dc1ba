//! Tests of the legacy protocol models.

use std::collections::BTreeMap;

use serde_json::Value;

use super::*;
use crate::protocol::Bag;

fn bag(pairs: &[(&str, &str)]) -> Bag {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn detects_legacy_by_any_requirer_key() {
    assert!(!is_legacy_bag(&bag(&[("ingress-address", "10.0.0.1")])));
    assert!(!is_legacy_bag(&bag(&[(
        "certificate_signing_requests",
        "[]"
    )])));
    for k in REQUIRER_KEYS {
        assert!(is_legacy_bag(&bag(&[(k, "x")])), "{k}");
    }
    let bags = [bag(&[]), bag(&[("unit_name", "etcd_0")])];
    assert!(is_legacy(bags.iter()));
    assert!(!is_legacy([bag(&[])].iter()));
}

#[test]
fn unit_key_prefers_unit_name_and_falls_back() {
    assert_eq!(unit_key("etcd/0", &bag(&[])).0, "etcd_0");
    assert_eq!(
        unit_key("remote-abc/3", &bag(&[("unit_name", "etcd_3")])).0,
        "etcd_3"
    );
    let (k, why) = unit_key("etcd/1", &bag(&[("unit_name", "a.b/../c")]));
    assert_eq!(k, "etcd_1");
    assert!(why.unwrap().contains("characters"));
    let long = "x".repeat(300);
    let (k, why) = unit_key("etcd/2", &bag(&[("unit_name", &long)]));
    assert_eq!(k, "etcd_2");
    assert!(why.is_some());
}

#[test]
fn parses_every_request_kind() {
    let b = bag(&[
        ("unit_name", "etcd_0"),
        ("common_name", "etcd0.example.com"),
        ("sans", r#"["b.example.com", "10.0.0.1", "b.example.com"]"#),
        (
            "cert_requests",
            r#"{"x.example.com": {"sans": ["y.example.com"]}, "z.example.com": {"sans": []}}"#,
        ),
        ("client_cert_requests", r#"{"admin": {"sans": null}}"#),
        (
            "application_cert_requests",
            r#"{"app.example.com": {"sans": ["10.0.0.9"]}}"#,
        ),
        (
            "intermediate_cert_requests",
            r#"{"My Sub CA": {"sans": []}}"#,
        ),
    ]);
    let r = parse_unit("etcd/0", &b);
    assert!(r.skipped.is_empty(), "{:?}", r.skipped);
    assert_eq!(r.unit_key, "etcd_0");
    let kinds: Vec<_> = r
        .requests
        .iter()
        .map(|q| (q.kind, q.common_name.as_str(), q.sans.clone()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (
                RequestKind::TopLevelServer,
                "etcd0.example.com",
                vec!["10.0.0.1".to_string(), "b.example.com".to_string()]
            ),
            (
                RequestKind::Server,
                "x.example.com",
                vec!["y.example.com".to_string()]
            ),
            (RequestKind::Server, "z.example.com", vec![]),
            (RequestKind::Client, "admin", vec![]),
            (
                RequestKind::Application,
                "app.example.com",
                vec!["10.0.0.9".to_string()]
            ),
            (RequestKind::Intermediate, "My Sub CA", vec![]),
        ]
    );
}

#[test]
fn reordered_sans_are_equal() {
    let a = parse_unit(
        "u/0",
        &bag(&[("common_name", "a"), ("sans", r#"["x","y"]"#)]),
    );
    let b = parse_unit(
        "u/0",
        &bag(&[("common_name", "a"), ("sans", r#"["y","x","y"]"#)]),
    );
    assert_eq!(a.requests, b.requests);
}

#[test]
fn top_level_sans_missing_or_null_is_empty() {
    let r = parse_unit("u/0", &bag(&[("common_name", "a.example")]));
    assert_eq!(r.requests[0].sans, Vec::<String>::new());
    let r = parse_unit(
        "u/0",
        &bag(&[("common_name", "a.example"), ("sans", "null")]),
    );
    assert!(r.skipped.is_empty());
    assert_eq!(r.requests.len(), 1);
}

#[test]
fn malformed_values_are_skipped_with_reasons() {
    let huge = format!("{{\"a\": {{\"sans\": [\"{}\"]}}}}", "x".repeat(70_000));
    let many: BTreeMap<String, Value> = (0..101)
        .map(|i| (format!("h{i}.example"), serde_json::json!({"sans": []})))
        .collect();
    let many = serde_json::to_string(&many).unwrap();
    let b = bag(&[
        ("common_name", ""),
        ("cert_requests", "{not json"),
        ("client_cert_requests", &huge),
        ("application_cert_requests", &many),
        ("intermediate_cert_requests", "[1, 2]"),
    ]);
    let r = parse_unit("bad/0", &b);
    assert!(r.requests.is_empty());
    let reasons: Vec<String> = r.skipped.iter().map(|s| s.to_string()).collect();
    assert_eq!(reasons.len(), 5, "{reasons:#?}");
    assert!(
        reasons[0].contains("common name is empty"),
        "{}",
        reasons[0]
    );
    assert!(reasons[1].contains("not valid JSON"), "{}", reasons[1]);
    assert!(reasons[2].contains("more than the 65536"), "{}", reasons[2]);
    assert!(reasons[3].contains("101 requests"), "{}", reasons[3]);
    assert!(reasons[4].contains("found a list"), "{}", reasons[4]);
}

#[test]
fn top_level_sans_too_large_or_not_json_are_skipped_naming_sans() {
    let huge = format!("[\"{}\"]", "x".repeat(70_000));
    for (sans, want) in [
        ("{not json", "sans is not valid JSON".to_string()),
        (
            huge.as_str(),
            format!("sans is {} bytes, more than the 65536 allowed", huge.len()),
        ),
    ] {
        let r = parse_unit("u/0", &bag(&[("common_name", "a.example"), ("sans", sans)]));
        assert!(r.requests.is_empty());
        assert_eq!(r.skipped.len(), 1);
        let reason = r.skipped[0].to_string();
        assert!(reason.contains(&want), "{reason}");
    }
}

#[test]
fn bad_items_skip_only_themselves() {
    let long_cn = "c".repeat(65);
    let long_san = "s".repeat(254);
    let v = serde_json::json!({
        "": {"sans": []},
        "ok.example": {"sans": ["a.example"]},
        "num.example": {"sans": [1]},
        "str.example": {"sans": "a.example"},
        "empty.example": {"sans": [""]},
        "space.example": {"sans": ["a b"]},
        "long.example": {"sans": [long_san]},
        long_cn: {"sans": []},
        "weird.example": 7,
        "bare.example": ["b.example"],
        "nosans.example": {},
    });
    let b = bag(&[("cert_requests", &v.to_string())]);
    let r = parse_unit("u/0", &b);
    let cns: Vec<&str> = r.requests.iter().map(|q| q.common_name.as_str()).collect();
    assert_eq!(cns, vec!["bare.example", "nosans.example", "ok.example"]);
    assert_eq!(r.skipped.len(), 8, "{:#?}", r.skipped);
    assert!(r.skipped.iter().all(|s| s.key == CERT_REQUESTS_KEY));
}

#[test]
fn colliding_unit_names_fall_back() {
    let units = vec![
        (
            "a/0".to_string(),
            bag(&[("unit_name", "x_0"), ("common_name", "a")]),
        ),
        (
            "b/0".to_string(),
            bag(&[("unit_name", "x_0"), ("common_name", "b")]),
        ),
        ("x/0".to_string(), bag(&[("common_name", "c")])),
    ];
    let r = parse_relation(&units);
    assert_eq!(r[0].unit_key, "x_0");
    assert_eq!(r[1].unit_key, "b_0");
    assert_eq!(r[1].requests.len(), 1);
    // x/0 has no unit_name; its own name x_0 is taken and so is its fallback (itself).
    assert_eq!(r[2].requests.len(), 0);
    assert_eq!(r[2].skipped.len(), 1);
    assert_eq!(
        r[1].skipped[0].reason,
        "unit_name \"x_0\" is already used by another unit of this relation; \
         answering under \"b_0\" instead"
    );
    assert_eq!(
        r[2].skipped[0].reason,
        "unit_name \"x_0\" is already used by another unit of this relation; \
         all of this unit's requests are skipped"
    );
}

#[test]
fn provider_keys_are_recognised() {
    for k in [
        "ca",
        "chain",
        "client.cert",
        "client.key",
        "etcd_0.server.cert",
        "etcd_0.server.key",
        "etcd_0.processed_requests",
        "etcd_0.processed_client_requests",
        "etcd_0.processed_application_requests",
        "etcd_0.processed_intermediate_requests",
    ] {
        assert!(is_provider_key(k), "{k}");
    }
    for k in [
        "ingress-address",
        "private-address",
        "egress-subnets",
        ".server.cert",
    ] {
        assert!(!is_provider_key(k), "{k}");
    }
}

#[test]
fn python_json_format() {
    let mut m = BTreeMap::new();
    m.insert(
        "b".to_string(),
        CertKey {
            cert: "C\nD".into(),
            key: "K".into(),
        },
    );
    m.insert(
        "a\u{e9}".to_string(),
        CertKey {
            cert: "x".into(),
            key: "y".into(),
        },
    );
    assert_eq!(
        py_json(&m),
        r#"{"a\u00e9": {"cert": "x", "key": "y"}, "b": {"cert": "C\nD", "key": "K"}}"#
    );
    assert_eq!(py_json(&vec!["a", "b"]), r#"["a", "b"]"#);
}

#[test]
fn provider_databag_layout() {
    let ck = |s: &str| CertKey {
        cert: format!("{s}-cert"),
        key: format!("{s}-key"),
    };
    let mut unit = UnitAnswer {
        server: Some(ck("top")),
        application: Some(ck("app")),
        ..UnitAnswer::default()
    };
    unit.processed.insert("p.example".into(), ck("p"));
    unit.client.insert("admin".into(), ck("c"));
    unit.intermediate.insert("Sub CA".into(), ck("i"));
    let data = ProviderData {
        ca: Some("CA".into()),
        chain: Some("CA".into()),
        client: Some(ck("shared")),
        units: [("etcd_0".to_string(), unit)].into_iter().collect(),
    };
    let b = data.to_databag();
    assert_eq!(b["ca"], "CA");
    assert_eq!(b["client.key"], "shared-key");
    assert_eq!(b["etcd_0.server.cert"], "top-cert");
    assert_eq!(b["etcd_0.server.key"], "top-key");
    assert_eq!(
        b["etcd_0.processed_requests"],
        r#"{"p.example": {"cert": "p-cert", "key": "p-key"}}"#
    );
    assert_eq!(
        b["etcd_0.processed_application_requests"],
        r#"{"app_data": {"cert": "app-cert", "key": "app-key"}}"#
    );
    assert_eq!(
        b["etcd_0.processed_intermediate_requests"],
        r#"{"Sub CA": {"cert": "i-cert", "key": "i-key"}, "app_data": {"cert": "i-cert", "key": "i-key"}}"#
    );
    assert!(b.keys().all(|k| is_provider_key(k)));
    assert_eq!(b.len(), 10);
    assert!(ProviderData::default().to_databag().is_empty());
}
