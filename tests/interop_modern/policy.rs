//! Policy: denials by SAN kind and domain reported by the requirer, the per-relation certificate
//! limit, refused keys and signatures, and invalid config that blocks without touching anything.

use jujusim::Databag;
use openssl::hash::MessageDigest;
use openssl::x509::{X509NameBuilder, X509Req};
use serde_json::{json, Value};

use crate::common::interop::*;
use crate::*;

#[test]
fn policy_denials_ip_wildcard_domain_reported_by_the_requirer() {
    let (mut m, rel) = single(
        "pol",
        1,
        json!({"common-name": "pol.example.com", "sans-dns": "pol.example.com,*.pol.example.com",
               "sans-ip": "10.9.8.7"}),
        1,
        json!({}),
    );
    let csr = requirer_csrs(&m, rel, "pol/0").remove(0);
    check_issued(&certificates(&provider_bag(&m, rel))[0], &csr.pem, false);
    let steps = [
        (json!({"allow-ip-sans": false}), 101, "supports_ip_sans"),
        (
            json!({"allow-ip-sans": null, "allow-wildcard-dns": false}),
            103,
            "supports_wildcard_dns",
        ),
        (
            json!({"allow-wildcard-dns": null, "allowed-domains": "example.org"}),
            102,
            "allowed_domains",
        ),
    ];
    for (config, code, cap) in steps {
        set_config(&mut m, PROVIDER, config);
        settle(&mut m);
        let bag = provider_bag(&m, rel);
        assert!(!bag.contains_key("certificates"), "code {code}: not issued");
        let errors = request_errors(&bag);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0]["csr"].as_str(), Some(csr.pem.as_str()));
        assert_eq!(errors[0]["error"]["code"], json!(code));
        let caps = capabilities(&bag).unwrap();
        if cap == "allowed_domains" {
            assert_eq!(caps[cap], json!(["example.org"]));
        } else {
            assert_eq!(caps[cap], json!(false));
        }
        let (st, msg) = status_of(&m, "pol/0");
        assert_eq!(st, "blocked");
        assert!(
            msg.starts_with(&format!("1 request(s) denied: {code} ")),
            "requirer reports {code}: {msg}"
        );
    }
    set_config(&mut m, PROVIDER, json!({"allowed-domains": null}));
    settle(&mut m);
    let published = certificates(&provider_bag(&m, rel));
    let e = entry_for(&published, &csr.pem).expect("issued again");
    check_issued(e, &csr.pem, false);
    assert_accepted(&m, "pol/0", e);
    assert_eq!(
        status_of(&m, "pol/0"),
        ("active".into(), "1/1 certificates received".into())
    );
}

#[test]
fn certificate_limit_per_relation_refuses_extra_requests_with_999() {
    let mut m = new_model();
    deploy_provider(&mut m, 1, json!({"certificate-limit": 2}));
    let rel = deploy_puppet(&mut m, "crafted", 1);
    let rel2 = deploy_puppet(&mut m, "second", 1);
    let csrs: Vec<Crafted> = (0..3)
        .map(|i| crafted(&format!("l{i}.example.com")))
        .collect();
    let entries: Vec<Value> = csrs
        .iter()
        .map(|c| json!({"certificate_signing_request": c.pem, "ca": false}))
        .collect();
    m.set_relation_data(rel, "crafted/0", csr_bag(json!(entries)))
        .unwrap();
    m.set_relation_data(rel2, "second/0", csr_bag(json!(entries[..2])))
        .unwrap();
    settle(&mut m);
    let bag = provider_bag(&m, rel);
    assert_eq!(certificates(&bag).len(), 2, "limit 2");
    let errors = request_errors(&bag);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["error"]["code"], json!(999));
    assert!(errors[0]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("certificate-limit"));
    assert_eq!(
        certificates(&provider_bag(&m, rel2)).len(),
        2,
        "per relation"
    );
    let issued_before = bag["certificates"].clone();

    set_config(&mut m, PROVIDER, json!({"certificate-limit": 0}));
    settle(&mut m);
    let bag = provider_bag(&m, rel);
    assert!(!bag.contains_key("request_errors"));
    let published = certificates(&bag);
    assert_eq!(published.len(), 3);
    for c in &csrs {
        check_issued(entry_for(&published, &c.pem).unwrap(), &c.pem, false);
    }
    // The two already issued were kept, not reissued.
    for e in certificates(&Databag::from([("certificates".into(), issued_before)])) {
        assert!(published.contains(&e));
    }
}

#[test]
fn invalid_config_blocks_naming_options_and_keeps_published_data() {
    let (mut m, rel) = puppet(1, json!({}));
    let c = crafted("cfg.example.com");
    request_leaf(&mut m, rel, "crafted/0", &c.pem);
    settle(&mut m);
    let bag = provider_bag(&m, rel);
    check_issued(&certificates(&bag)[0], &c.pem, false);
    let ca_before = ca_secret(&m);

    let from = m.hook_runs().len();
    set_config(
        &mut m,
        PROVIDER,
        json!({"certificate-validity": "0d", "ca-key-algorithm": "dsa-1024"}),
    );
    settle(&mut m);
    let (st, msg) = leader_status(&m);
    assert_eq!(st, "blocked");
    for option in ["certificate-validity", "ca-key-algorithm"] {
        assert!(msg.contains(option), "status names {option}: {msg}");
    }
    assert_eq!(
        provider_bag(&m, rel),
        bag,
        "published data kept while blocked"
    );
    assert!(provider_relation_sets(&m.hook_runs()[from..]).is_empty());
    assert_eq!(ca_secret(&m), ca_before, "the CA is not touched");

    // Fixed, with a shorter certificate validity: the CA stays; its rotation time moves to
    // notAfter - certificate-validity; the existing certificate is kept.
    set_config(
        &mut m,
        PROVIDER,
        json!({"certificate-validity": "30d", "ca-key-algorithm": null}),
    );
    settle(&mut m);
    assert_eq!(leader_status(&m).0, "active");
    assert_eq!(provider_bag(&m, rel), bag);
    let s = ca_secret_view(&m);
    let ca = parse_cert(&s.revisions.last().unwrap()["ca-certificate"]);
    assert_eq!(
        der(&ca_before["ca-certificate"]),
        ca.to_der().unwrap(),
        "same CA"
    );
    let gap = to_system(ca.not_after())
        .duration_since(s.expire.expect("expiry"))
        .unwrap()
        .as_secs();
    // notAfter - certificate-validity (30d) - ca-rotation-overlap (24h).
    assert!(
        gap.abs_diff(31 * 86_400) < 120,
        "rotation time moved: {gap}s"
    );
}

/// A CSR for `key` with CN `cn`, as PEM.
fn csr_for_key(key: &openssl::pkey::PKeyRef<openssl::pkey::Private>, cn: &str) -> String {
    let mut b = openssl::x509::X509ReqBuilder::new().unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", cn).unwrap();
    b.set_subject_name(&name.build()).unwrap();
    b.set_pubkey(key).unwrap();
    b.sign(key, MessageDigest::sha256()).unwrap();
    String::from_utf8(b.build().to_pem().unwrap()).unwrap()
}

#[test]
fn weak_keys_unsupported_curves_and_bad_signatures_refused_per_entry() {
    use openssl::ec::{EcGroup, EcKey};
    use openssl::nid::Nid;
    use openssl::pkey::PKey;
    use openssl::rsa::Rsa;

    let (mut m, rel) = puppet(1, json!({}));
    let rsa1024 = csr_for_key(
        &PKey::from_rsa(Rsa::generate(1024).unwrap()).unwrap(),
        "weak.example.com",
    );
    let p521 = csr_for_key(
        &PKey::from_ec_key(
            EcKey::generate(&EcGroup::from_curve_name(Nid::SECP521R1).unwrap()).unwrap(),
        )
        .unwrap(),
        "p521.example.com",
    );
    // Valid structure, signature no longer matches the content.
    let good_rsa = csr_for_key(
        &PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap(),
        "tampered.example.com",
    );
    let mut der = X509Req::from_pem(good_rsa.as_bytes())
        .unwrap()
        .to_der()
        .unwrap();
    let last = der.len() - 1;
    der[last] ^= 0x01;
    let tampered = String::from_utf8(X509Req::from_der(&der).unwrap().to_pem().unwrap()).unwrap();
    let fine = crafted("fine.example.com");
    let list: Vec<Value> = [&rsa1024, &p521, &tampered, &fine.pem]
        .iter()
        .map(|c| json!({"certificate_signing_request": c, "ca": false}))
        .collect();
    m.set_relation_data(rel, "crafted/0", csr_bag(json!(list)))
        .unwrap();
    settle(&mut m);
    assert_provider_hooks_ok(&m);
    let bag = provider_bag(&m, rel);
    let errors = request_errors(&bag);
    for (csr, what, says) in [
        (&rsa1024, "RSA 1024", "RSA 1024 bits"),
        (&p521, "P-521", "secp521r1"),
        (&tampered, "bad signature", "signature"),
    ] {
        let e = error_for(&errors, csr).unwrap_or_else(|| panic!("{what}: no error entry"));
        assert_eq!(e["error"]["code"], json!(999), "{what}");
        let msg = e["error"]["message"].as_str().unwrap();
        assert!(msg.contains(says), "{what}: {msg}");
    }
    let published = certificates(&bag);
    assert_eq!(published.len(), 1, "only the good CSR is signed");
    check_issued(&published[0], &fine.pem, false);
}
