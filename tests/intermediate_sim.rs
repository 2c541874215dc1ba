//! Signing under an outside root, end to end in the simulator: our charm on `upstream-ca`
//! asks a provider for one intermediate CA and then signs every request under it.
//!
//! - A root tls-provider (`allow-ca-requests=true`) as the upstream; real Python requirers on
//!   the intermediate: every leaf verifies with `openssl verify -x509_strict` against the root
//!   alone and a client trusting only the root completes a TLS handshake; the trust bundle
//!   carries the root; renewal of the intermediate driven by the simulated clock.
//! - The real Python provider library (`test-provider`, `TLSCertificatesProvidesV4`) as upstream.
//! - A manual-mode tls-provider as upstream, the `openssl` command line as the organisation's
//!   CA: the request shows in `get-outstanding-certificate-requests` and completes through
//!   `provide-certificate`.
//!
//! Needs `make test-charms` and `cargo build -p jujusim`.

mod common;

use std::time::{Duration, SystemTime};

use common::interop::*;
use common::outside_ca::OutsideCa;
use common::upstream::*;
use jujusim::Model;
use openssl::x509::X509;
use serde_json::json;
use tls_provider::pki::sign::{issue, IssueRequest};
use tls_provider::pki::trust::pem_of;
use tls_provider::pki::{Ca, ParsedCsr};

const ROOT_APP: &str = "root-ca";
const WEB: &str = "web";
const HOST: &str = "web.example.com";

/// A root tls-provider that signs CA requests (365 d), and `ca-rotation-overlap` on ours.
fn deploy_root(m: &mut Model) {
    m.deploy(
        ROOT_APP,
        &common::provider_charm_dir(),
        1,
        obj(json!({
            "allow-ca-requests": true,
            "certificate-validity": "365d",
            "root-ca-validity": "3650d",
            "ca-common-name": "Org Root CA",
        })),
    )
    .expect("deploy the root");
}

/// Our provider (2 units) with `config`, the web requirer (2 units) on it.
fn deploy_ours(m: &mut Model, config: serde_json::Value) -> u32 {
    deploy_provider(m, 2, config);
    deploy_requirer(m, WEB, 2, json!({"common-name": HOST, "sans-dns": HOST}))
}

fn root_pem(m: &mut Model, app: &str) -> String {
    let leader = m.leader(app).unwrap();
    let r = m
        .run_action(&leader, "get-ca-certificate", obj(json!({})))
        .unwrap();
    assert_eq!(r.status, "completed", "{}", r.message);
    r.results["ca-certificate"].as_str().unwrap().to_string()
}

fn action(
    m: &mut Model,
    app: &str,
    name: &str,
    params: serde_json::Value,
) -> jujusim::ActionResult {
    let leader = m.leader(app).unwrap();
    m.run_action(&leader, name, obj(params)).unwrap()
}

fn active_intermediate(m: &Model) -> Option<String> {
    let s = ca_secret(m, PROVIDER);
    s.get("ca-chain").and(s.get("ca-certificate")).cloned()
}

/// A legacy (reactive) requirer on our provider gets `ca` = the root and server certificates
/// whose text is the leaf followed by the intermediate, verifying against the root alone.
fn assert_legacy_chains_to(m: &mut Model, root: &str) {
    m.deploy(
        "etcd",
        &common::legacy_requirer_charm_dir(),
        1,
        obj(json!({"common-name": "etcd.example.com", "sans": "etcd.internal"})),
    )
    .expect("deploy the legacy requirer");
    m.relate("etcd", PROVIDER).expect("relate etcd");
    settle(m);
    let r = m
        .run_action("etcd/0", "get-certificates", obj(json!({})))
        .unwrap();
    assert_eq!(r.status, "completed", "{}", r.message);
    let doc: serde_json::Value =
        serde_json::from_str(r.results["certificates"].as_str().unwrap()).unwrap();
    assert_eq!(
        der_of(doc["ca"].as_str().unwrap()),
        der_of(root),
        "legacy ca is the root"
    );
    let servers = doc["server-certs"].as_array().unwrap();
    assert!(!servers.is_empty(), "{doc}");
    for c in servers {
        let certs = tls_provider::pki::parse_certs(c["cert"].as_str().unwrap()).unwrap();
        assert_eq!(certs.len(), 2, "leaf then the intermediate");
        let above = vec![pem_of(&certs[1])];
        let (ok, out) = strict_verify(&pem_of(&certs[0]), &above, root);
        assert!(ok, "legacy leaf: {out}");
    }
}

#[test]
fn a_root_tls_provider_signs_our_intermediate_and_leaves_chain_to_its_root() {
    let mut m = new_model();
    deploy_root(&mut m);
    let rel = deploy_ours(
        &mut m,
        json!({"certificate-validity": "30d", "ca-common-name": "Team Intermediate"}),
    );
    settle(&mut m);
    let self_signed = certificates(&provider_bag(&m, rel));
    assert_eq!(self_signed.len(), 2, "served by the self-signed root first");

    let up = relate_upstream(&mut m, ROOT_APP);
    settle(&mut m);
    let csr = our_ca_request(&m, up);
    assert!(csr.contains("BEGIN CERTIFICATE REQUEST"));
    // The upstream answered; the intermediate is under another root than the self-signed one,
    // so it is announced first (ca-rotation-overlap, 24h by default).
    let (st, msg) = leader_status(&m, PROVIDER);
    assert_eq!(st, "active", "{msg}");
    assert!(msg.contains("CA rotation announced"), "{msg}");
    let root = root_pem(&mut m, ROOT_APP);
    let bundle = action(&mut m, PROVIDER, "get-trust-bundle", json!({}));
    let pems = bundle.results["bundle"].as_str().unwrap();
    assert!(
        pems.contains(root.trim()),
        "the next root is in the bundle before it is used"
    );

    advance_until(&mut m, 3, |m| active_intermediate(m).is_some());
    let n = assert_chains_to(&m, rel, WEB, HOST, &root);
    assert_eq!(n, 2);
    let (st, msg) = leader_status(&m, PROVIDER);
    assert_eq!(st, "active", "{msg}");
    assert!(
        msg.contains("signing as intermediate \"Team Intermediate\" under \"Org Root CA\" from upstream-ca (root-ca), renews in"),
        "{msg}"
    );
    let ca = action(&mut m, PROVIDER, "get-ca-certificate", json!({}));
    assert_eq!(ca.results["source"], "upstream-ca (root-ca)");
    assert_eq!(
        der_of(ca.results["root-ca-certificate"].as_str().unwrap()),
        der_of(&root)
    );
    let bundle = action(&mut m, PROVIDER, "get-trust-bundle", json!({}));
    assert!(bundle.results["bundle"]
        .as_str()
        .unwrap()
        .contains(root.trim()));

    // Renewal: the simulated clock reaches the renewal point; a new CSR (new key), answered by
    // the same root, signs at once; every leaf is reissued and still chains to the root.
    let first = active_intermediate(&m).unwrap();
    advance_until(&mut m, 4, |m| {
        active_intermediate(m).is_some_and(|i| i != first)
    });
    assert_ne!(our_ca_request(&m, up), csr, "a renewal asks with a new CSR");
    let second = active_intermediate(&m).unwrap();
    assert_ne!(
        x509(&first)
            .public_key()
            .unwrap()
            .public_key_to_der()
            .unwrap(),
        x509(&second)
            .public_key()
            .unwrap()
            .public_key_to_der()
            .unwrap(),
        "a renewal has a new key"
    );
    assert_chains_to(&m, rel, WEB, HOST, &root);
    assert_quiet_update_status(&mut m, PROVIDER);
    assert_quiet_update_status(&mut m, ROOT_APP);
    assert_legacy_chains_to(&mut m, &root);
    for e in certificates(&provider_bag(&m, rel)) {
        assert_eq!(
            der_of(e["chain"][1].as_str().unwrap()),
            der_of(&second),
            "reissued under the new one"
        );
    }

    // A new CA subject asks for a new intermediate with it; installed under the same root.
    m.set_config(
        PROVIDER,
        obj(json!({"ca-common-name": "Team Intermediate 2"})),
    )
    .unwrap();
    settle(&mut m);
    let third = active_intermediate(&m).unwrap();
    assert_ne!(third, second);
    assert!(
        tls_provider::pki::verify::subject_string(&x509(&third)).contains("CN=Team Intermediate 2"),
        "{}",
        tls_provider::pki::verify::subject_string(&x509(&third))
    );
    assert_chains_to(&m, rel, WEB, HOST, &root);
    assert_provider_hooks_ok(&m);
}

#[test]
fn the_python_provider_library_as_upstream() {
    let mut m = new_model();
    m.deploy(
        "org-ca",
        &common::with_venv(common::test_provider_charm_dir()),
        1,
        obj(json!({"validity-days": 200})),
    )
    .expect("deploy test-provider");
    let rel = deploy_ours(
        &mut m,
        json!({"certificate-validity": "30d", "ca-rotation-overlap": "0"}),
    );
    relate_upstream(&mut m, "org-ca");
    settle(&mut m);
    let leader = m.leader("org-ca").unwrap();
    let r = m.run_action(&leader, "get-ca", obj(json!({}))).unwrap();
    let root = r.results["ca"].as_str().unwrap().to_string();
    assert_chains_to(&m, rel, WEB, HOST, &root);
    let (st, msg) = leader_status(&m, PROVIDER);
    assert_eq!(st, "active", "{msg}");
    assert!(msg.contains("from upstream-ca (org-ca)"), "{msg}");
}

#[test]
fn a_manual_tls_provider_upstream_answered_with_the_openssl_cli() {
    let mut m = new_model();
    m.deploy(
        ROOT_APP,
        &common::provider_charm_dir(),
        1,
        obj(json!({"mode": "manual"})),
    )
    .expect("deploy the manual upstream");
    let rel = deploy_ours(
        &mut m,
        json!({"certificate-validity": "7d", "ca-rotation-overlap": "0"}),
    );
    let up = relate_upstream(&mut m, ROOT_APP);
    settle(&mut m);
    let csr = our_ca_request(&m, up);
    let (_, msg) = leader_status(&m, PROVIDER);
    assert!(
        msg.contains("asked upstream-ca (root-ca) for an intermediate CA"),
        "{msg}"
    );

    let out = action(
        &mut m,
        ROOT_APP,
        "get-outstanding-certificate-requests",
        json!({}),
    );
    assert_eq!(out.status, "completed", "{}", out.message);
    let requests: serde_json::Value =
        serde_json::from_str(out.results["requests"].as_str().unwrap()).unwrap();
    let ours = requests
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["csr"].as_str().map(str::trim) == Some(csr.trim()))
        .unwrap_or_else(|| panic!("our request is outstanding: {requests}"));
    assert_eq!(ours["is-ca"], json!(true), "{ours}");

    let org = OutsideCa::new();
    let cert = org.sign(&csr, true);
    let done = action(
        &mut m,
        ROOT_APP,
        "provide-certificate",
        json!({
            "certificate-signing-request": csr,
            "certificate": cert,
            "ca-certificate": org.root_pem(),
            "ca-chain": format!("{}\n{}", cert.trim(), org.int_pem().trim()),
        }),
    );
    assert_eq!(done.status, "completed", "{}", done.message);
    settle(&mut m);
    assert_chains_to(&m, rel, WEB, HOST, &org.root_pem());
    let e = &certificates(&provider_bag(&m, rel))[0];
    assert_eq!(
        e["chain"].as_array().unwrap().len(),
        4,
        "leaf, ours, the org intermediate, root"
    );
    assert_provider_hooks_ok(&m);
}

/// A puppet provider on our `upstream-ca`: the test writes its answers.
fn deploy_puppet_upstream(m: &mut Model, app: &str) -> u32 {
    let meta =
        format!("name: {app}\nprovides:\n  certificates:\n    interface: tls-certificates\n");
    m.deploy_puppet(app, &meta, 1)
        .expect("deploy the puppet upstream");
    relate_upstream(m, app)
}

/// The puppet's answer: one `certificates` entry for `csr`.
fn answer(csr: &str, cert: &X509, root: &X509, revoked: bool) -> jujusim::Databag {
    let (cert, root) = (pem_of(cert), pem_of(root));
    let mut entry = json!({
        "ca": root, "certificate_signing_request": csr, "certificate": cert,
        "chain": [cert, root],
    });
    if revoked {
        entry["revoked"] = json!(true);
    }
    jujusim::Databag::from([("certificates".to_string(), json!([entry]).to_string())])
}

/// `csr` signed by `ca` at `now` for `days`, as a CA or a leaf.
fn signed(ca: &Ca, csr: &str, is_ca: bool, now: SystemTime, days: u64) -> X509 {
    let parsed = ParsedCsr::parse(csr).unwrap();
    issue(
        ca,
        &IssueRequest {
            crl_url: None,
            csr: &parsed,
            is_ca,
            validity_secs: days * 86_400,
            now,
        },
    )
    .unwrap()
}

#[test]
fn bad_upstream_answers_block_naming_the_check_and_change_nothing() {
    let mut m = new_model();
    let rel = deploy_ours(
        &mut m,
        json!({"certificate-validity": "30d", "ca-rotation-overlap": "0"}),
    );
    settle(&mut m);
    let up = deploy_puppet_upstream(&mut m, "bad-ca");
    settle(&mut m);
    let csr = our_ca_request(&m, up);
    let (st, msg) = leader_status(&m, PROVIDER);
    assert_eq!(st, "active", "{msg}");
    assert!(
        msg.contains("asked upstream-ca (bad-ca) for an intermediate CA"),
        "{msg}"
    );
    let before = published_pairs(&m, rel);
    let ca_before = ca_secret(&m, PROVIDER)["ca-certificate"].clone();
    let root = common::ca::ec_ca("Bad Root");
    let now = SystemTime::now();
    let other_key = tls_provider::pki::KeyAlgorithm::EcdsaP256
        .generate()
        .unwrap();
    let subject = tls_provider::pki::CaSubject {
        common_name: "someone else".into(),
        ..Default::default()
    };
    let other_csr = tls_provider::pki::intermediate::ca_request(&subject, &other_key).unwrap();
    let other_csr = String::from_utf8(other_csr.to_pem().unwrap()).unwrap();

    let cases: Vec<(&str, jujusim::Databag, &str)> = vec![
        (
            "a leaf",
            answer(&csr, &signed(&root, &csr, false, now, 365), &root.cert, false),
            "it is not a CA certificate",
        ),
        (
            "another key",
            // Our CSR echoed, with a certificate for someone else's key.
            answer(&csr, &signed(&root, &other_csr, true, now, 365), &root.cert, false),
            "its public key is not the key we asked with",
        ),
        (
            "too short",
            answer(&csr, &signed(&root, &csr, true, now, 10), &root.cert, false),
            "less than certificate-validity",
        ),
        (
            "expired",
            answer(
                &csr,
                &signed(&root, &csr, true, now - Duration::from_secs(200 * 86_400), 100),
                &root.cert,
                false,
            ),
            "expired",
        ),
        (
            "revoked",
            answer(&csr, &signed(&root, &csr, true, now, 365), &root.cert, true),
            "marked revoked",
        ),
        (
            "a request error",
            jujusim::Databag::from([(
                "request_errors".to_string(),
                json!([{"csr": csr, "error": {"code": 104, "name": "CA_NOT_ALLOWED",
                    "message": "CA certificates are not allowed here"}}])
                .to_string(),
            )]),
            "refused our intermediate CA request: CA_NOT_ALLOWED (code 104): CA certificates are not allowed here",
        ),
    ];
    // A hook loop (a write on every hook) fails fast instead of running 2000 hooks.
    m.set_max_hooks(60);
    for (what, bag, check) in cases {
        m.set_relation_data(up, "bad-ca", bag).unwrap();
        settle(&mut m);
        let (st, msg) = leader_status(&m, PROVIDER);
        assert_eq!(st, "blocked", "{what}: {msg}");
        assert!(msg.starts_with("upstream-ca (bad-ca) "), "{what}: {msg}");
        assert!(msg.contains(check), "{what}: {msg}");
        assert!(
            msg.contains("still signing as self-signed root"),
            "{what}: {msg}"
        );
        assert_eq!(
            published_pairs(&m, rel),
            before,
            "{what}: certificates untouched"
        );
        assert_eq!(
            ca_secret(&m, PROVIDER)["ca-certificate"],
            ca_before,
            "{what}"
        );
        assert_eq!(our_ca_request(&m, up), csr, "{what}: the request stays");
        assert_quiet_update_status(&mut m, PROVIDER);
    }
    // Junk instead of JSON: skipped, the hook exits 0, we keep waiting.
    let junk = jujusim::Databag::from([("certificates".to_string(), "{not json".to_string())]);
    m.set_relation_data(up, "bad-ca", junk).unwrap();
    settle(&mut m);
    let (_, msg) = leader_status(&m, PROVIDER);
    assert!(
        msg.contains("asked upstream-ca (bad-ca) for an intermediate CA"),
        "{msg}"
    );
    assert_eq!(published_pairs(&m, rel), before);

    // A good answer at last: installed (overlap 0), every leaf reissued under it.
    let good = signed(&root, &csr, true, now, 365);
    m.set_relation_data(up, "bad-ca", answer(&csr, &good, &root.cert, false))
        .unwrap();
    settle(&mut m);
    assert_chains_to(&m, rel, WEB, HOST, &pem_of(&root.cert));
    let (st, msg) = leader_status(&m, PROVIDER);
    assert_eq!(st, "active", "{msg}");

    // Revoked later: a new request (new key) goes out; the revoked one keeps signing meanwhile.
    let signing = published_pairs(&m, rel);
    m.set_relation_data(up, "bad-ca", answer(&csr, &good, &root.cert, true))
        .unwrap();
    settle(&mut m);
    let renewal = our_ca_request(&m, up);
    assert_ne!(renewal, csr, "a new request after revocation");
    assert_eq!(published_pairs(&m, rel), signing);
    let (_, msg) = leader_status(&m, PROVIDER);
    assert!(msg.contains("renewal asked"), "{msg}");
    assert_quiet_update_status(&mut m, PROVIDER);
    assert_provider_hooks_ok(&m);
}
