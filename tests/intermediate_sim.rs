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

use common::interop::*;
use common::outside_ca::OutsideCa;
use common::upstream::*;
use jujusim::Model;
use serde_json::json;

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

/// Settles, then moves the clock to our CA's deadlines until `done` holds (at most `max` steps).
fn advance_until(m: &mut Model, max: usize, done: impl Fn(&Model) -> bool) {
    for _ in 0..max {
        if done(m) {
            return;
        }
        advance_to_ca_deadline(m, PROVIDER);
        settle(m);
    }
    assert!(
        done(m),
        "not reached after {max} deadlines: {:?}",
        leader_status(m, PROVIDER)
    );
}

fn active_intermediate(m: &Model) -> Option<String> {
    let s = ca_secret(m, PROVIDER);
    s.get("ca-chain").and(s.get("ca-certificate")).cloned()
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
    for e in certificates(&provider_bag(&m, rel)) {
        assert_eq!(
            der_of(e["chain"][1].as_str().unwrap()),
            der_of(&second),
            "reissued under the new one"
        );
    }
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
