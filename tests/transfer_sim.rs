//! `send-ca-cert` end to end in the simulator, with the real Python libraries: the ca-client
//! test charm (`CertificateTransferRequires`, v1) and the tls-requirer (`TLSCertificatesRequiresV4`)
//! as servers.
//!
//! - v1 client gets the bundle and `certificate_set_updated` fires; a v0 puppet requirer reads
//!   any provider unit's databag and it parses with the library's `ProviderUnitDataV0`.
//! - Rotation, for each way one starts (action, config change, CA near its end): after every
//!   hook of every settle, each client trusting exactly the bundle it last received completes a
//!   TLS handshake with every server certificate then published; the old CA leaves the bundle
//!   once its last certificate has expired.
//! - Manual mode: the outside root and intermediate of `provide-certificate` are in the bundle.
//! - Hostile requirer data on `send-ca-cert` never fails a hook.
//!
//! Needs `make test-charms` and `cargo build -p jujusim`.

mod common;

use std::time::Duration;

use common::interop::*;
use common::outside_ca::OutsideCa;
use common::transfer::*;
use jujusim::Model;
use openssl::x509::X509;
use serde_json::json;
use tls_provider::pki::trust::pem_of;

const WEB: &str = "web";
const CLIENT: &str = "client";
const HOST: &str = "web.example.com";

fn norm(pem: &str) -> String {
    pem_of(&X509::from_pem(pem.as_bytes()).unwrap())
}

/// A v0 requirer: a puppet with no `version` in its application databag.
const PUPPET_V0_META: &str =
    "name: legacy-client\nrequires:\n  receive-ca-cert:\n    interface: certificate_transfer\n";

fn deploy_v0_puppet(m: &mut Model, app: &str) -> u32 {
    let meta = PUPPET_V0_META.replace("legacy-client", app);
    m.deploy_puppet(app, &meta, 1).unwrap();
    m.relate(
        &format!("{app}:receive-ca-cert"),
        &format!("{PROVIDER}:{SEND_CA_CERT}"),
    )
    .unwrap()
}

/// Provider, a server app (`web`, 2 units, one certificate each for `web.example.com`) and a
/// v1 client app (2 units), related and settled.
fn deploy(prov_units: usize, prov_config: serde_json::Value) -> (Model, u32, u32) {
    let mut m = new_model();
    deploy_provider(&mut m, prov_units, prov_config);
    let rel = deploy_requirer(
        &mut m,
        WEB,
        2,
        json!({"common-name": HOST, "sans-dns": HOST}),
    );
    deploy_ca_client(&mut m, CLIENT, 2);
    let send_rel = relate_ca_client(&mut m, CLIENT, PROVIDER);
    settle(&mut m);
    (m, rel, send_rel)
}

/// Every server certificate now: each one published on `rel` for a unit's current CSR, and each
/// one the unit's requirer library holds (what it presents while a renewal is pending), with the
/// unit's key: (cert, key, chain).
fn servers(m: &Model, rel: u32) -> Vec<(String, String, Vec<String>)> {
    let published = certificates(&provider_bag(m, rel));
    let mut out = Vec::new();
    for unit in m.units(WEB) {
        let key = requirer_private_key(m, &unit);
        for csr in requirer_csrs(m, rel, &unit) {
            if let Some(e) = entry_for(&published, &csr.pem) {
                let chain = e["chain"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c.as_str().unwrap().to_string())
                    .collect();
                out.push((
                    e["certificate"].as_str().unwrap().to_string(),
                    key.clone(),
                    chain,
                ));
            }
        }
        for held in stored_certificates(m, &unit) {
            out.push((held.certificate, key.clone(), Vec::new()));
        }
    }
    out
}

/// The invariant: every client unit accepts every server certificate there is now. Returns the
/// number of handshakes (none while no server holds a certificate, e.g. between a requirer
/// dropping its expired certificate and receiving the renewed one).
fn every_client_accepts_every_server(m: &Model, rel: u32) -> Result<usize, String> {
    let servers = servers(m, rel);
    let mut n = 0;
    for client in m.units(CLIENT) {
        for (cert, key, chain) in &servers {
            client_accepts(m, &client, cert, key, chain, HOST)?;
            n += 1;
        }
    }
    Ok(n)
}

/// Settles, checking the invariant after every hook; returns the handshakes done.
fn settle_checked(m: &mut Model, rel: u32) -> usize {
    let mut handshakes = 0;
    m.settle_observing(|m, run| {
        handshakes += every_client_accepts_every_server(m, rel)
            .map_err(|e| format!("after {} {}: {e}", run.unit, run.hook))?;
        Ok(())
    })
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(handshakes > 0, "the settle checked something");
    handshakes
}

/// Moves the simulated clock a minute past the CA secret's expiry: the rotation's next deadline
/// (the charm computes it on the real clock, which the simulator's does not follow).
fn advance_to_ca_deadline(m: &mut Model) {
    let view = secrets_labelled(m, "tls-provider-ca").remove(0);
    let expire = view.expire.expect("the CA secret expires");
    let by = expire.duration_since(m.now()).unwrap_or_default();
    m.advance_clock(by + Duration::from_secs(60));
}

fn provider_ca(m: &Model, rel: u32) -> String {
    norm(
        certificates(&provider_bag(m, rel))[0]["ca"]
            .as_str()
            .unwrap(),
    )
}

fn client_bundle_now(m: &Model) -> Vec<String> {
    client_record(m, &format!("{CLIENT}/0")).bundle
}

fn leader_status(m: &Model) -> String {
    m.unit_status(&m.leader(PROVIDER).unwrap()).message
}

#[test]
fn v1_client_gets_the_bundle_and_v0_reads_any_provider_unit() {
    let (mut m, rel, send_rel) = deploy(2, json!({}));
    let ca = provider_ca(&m, rel);
    for client in m.units(CLIENT) {
        let (record, current) = client_report(&mut m, &client);
        assert_eq!(record.bundle, vec![ca.clone()], "{client}");
        assert!(
            record.updates >= 1,
            "certificate_set_updated fired: {record:?}"
        );
        assert_eq!(current, vec![ca.clone()]);
    }
    assert!(every_client_accepts_every_server(&m, rel).unwrap() > 0);
    let v1 = parse_v1(&m.relation_data(send_rel, PROVIDER)).unwrap();
    assert_eq!(v1.certificates, vec![ca.clone()]);

    // A v0 requirer: every provider unit publishes the v0 data, and the library parses it.
    let v0_rel = deploy_v0_puppet(&mut m, "legacy-client");
    settle(&mut m);
    for unit in m.units(PROVIDER) {
        let v0 =
            parse_v0(&m.relation_data(v0_rel, &unit)).unwrap_or_else(|e| panic!("{unit}: {e}"));
        assert_eq!(norm(&v0.ca), ca, "{unit}: the active CA");
        assert_eq!(norm(&v0.certificate), ca);
        assert_eq!(v0.chain.unwrap(), vec![ca.clone()]);
        assert_eq!(v0.version, 0);
    }
    assert!(leader_status(&m).contains("trust bundle of 1 certificate sent on 2 relations"));
    // Idempotent: another round of hooks writes nothing on send-ca-cert.
    let before = all_bags(&m);
    m.update_status(PROVIDER);
    settle(&mut m);
    assert_eq!(all_bags(&m), before);
    assert_provider_hooks_ok(&m);
}

#[test]
fn hostile_requirer_data_on_send_ca_cert_never_fails_a_hook() {
    let (mut m, rel, _) = deploy(1, json!({}));
    let ca = provider_ca(&m, rel);
    let huge = "x".repeat(300_000);
    for (i, version) in ["{{{ not json", "[1, 2]", huge.as_str(), "\"1\""]
        .iter()
        .enumerate()
    {
        let app = format!("junk{i}");
        let r = deploy_v0_puppet(&mut m, &app);
        m.set_relation_data(
            r,
            &app,
            [("version", *version), ("certificates", "[[[")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
        .unwrap();
        settle(&mut m);
        let v0 = parse_v0(&m.relation_data(r, &m.leader(PROVIDER).unwrap())).unwrap();
        assert_eq!(norm(&v0.ca), ca, "{app}: answered in v0");
    }
    assert_provider_hooks_ok(&m);
    let leader = m.leader(PROVIDER).unwrap();
    assert!(
        m.logs(&leader)
            .iter()
            .any(|l| l.contains("answering in v0")),
        "the odd version is logged"
    );
    assert!(every_client_accepts_every_server(&m, rel).unwrap() > 0);
}

/// One rotation with `ca-rotation-overlap=1h` and `certificate-validity=2d`, started by `start`;
/// the invariant is checked after every hook throughout.
fn rotation_round(m: &mut Model, rel: u32, start: impl FnOnce(&mut Model)) {
    let old = provider_ca(m, rel);
    start(m);
    settle_checked(m, rel);
    // Announced: the clients trust both, the servers still present the old CA's certificates.
    assert!(
        leader_status(m).contains("CA rotation announced"),
        "{}",
        leader_status(m)
    );
    let bundle = client_bundle_now(m);
    assert_eq!(bundle.len(), 2, "old and next CA");
    assert!(bundle.contains(&old));
    assert_eq!(provider_ca(m, rel), old, "not switched yet");
    let next = bundle.iter().find(|c| **c != old).unwrap().clone();

    // The overlap ends: the CA secret expires, the next CA signs, everything is reissued.
    advance_to_ca_deadline(m);
    settle_checked(m, rel);
    let logs: Vec<String> = m
        .logs(&m.leader(PROVIDER).unwrap())
        .into_iter()
        .filter(|l| l.contains("CA"))
        .collect();
    assert_eq!(provider_ca(m, rel), next, "switched: {logs:#?}");
    let published: Vec<_> = servers(m, rel)
        .into_iter()
        .filter(|s| !s.2.is_empty())
        .collect();
    assert_eq!(published.len(), 2, "one per web unit");
    for (cert, _, chain) in published {
        assert_eq!(norm(chain.last().unwrap()), next, "reissued: {cert}");
    }
    let bundle = client_bundle_now(m);
    assert!(
        bundle.contains(&old) && bundle.contains(&next),
        "previous CA still trusted"
    );
    assert!(leader_status(m).contains("previous CA trusted until"));

    // Every certificate the old CA issued has expired two days after the switch: it leaves.
    advance_to_ca_deadline(m);
    settle_checked(m, rel);
    assert_eq!(client_bundle_now(m), vec![next.clone()], "old CA gone");
    assert!(!leader_status(m).contains("CA rotation"));
    assert_provider_hooks_ok(m);
}

#[test]
fn rotation_that_no_client_notices_by_action_config_and_near_expiry() {
    let config = json!({
        "ca-key-algorithm": "ecdsa-p256",
        "root-ca-validity": "10d",
        "certificate-validity": "2d",
        "ca-rotation-overlap": "1h",
    });
    let (mut m, rel, _) = deploy(1, config);
    assert!(every_client_accepts_every_server(&m, rel).unwrap() > 0);
    // 1. rotate-private-key.
    rotation_round(&mut m, rel, |m| {
        let leader = m.leader(PROVIDER).unwrap();
        let r = m
            .run_action(&leader, "rotate-private-key", obj(json!({})))
            .unwrap();
        assert_eq!(r.status, "completed", "{r:?}");
        assert_eq!(r.results["reissued"], json!("0"));
    });
    // 2. A change of the CA subject.
    rotation_round(&mut m, rel, |m| {
        m.set_config(PROVIDER, obj(json!({"ca-common-name": "Rotated CA"})))
            .unwrap();
    });
    // 3. The CA nearing its end: its secret expires when the rotation must be announced
    //    (notAfter - certificate-validity - overlap).
    rotation_round(&mut m, rel, |m| {
        advance_to_ca_deadline(m);
    });
}

#[test]
fn manual_mode_bundle_holds_the_outside_chain_and_trusted_certificates() {
    let mut m = new_model();
    deploy_provider(&mut m, 1, json!({"mode": "manual"}));
    let rel = deploy_requirer(
        &mut m,
        WEB,
        1,
        json!({"common-name": HOST, "sans-dns": HOST}),
    );
    deploy_ca_client(&mut m, CLIENT, 1);
    relate_ca_client(&mut m, CLIENT, PROVIDER);
    settle(&mut m);
    // No CA, nothing provided yet: nothing is published.
    assert_eq!(client_bundle_now(&m), Vec::<String>::new());

    let outside = OutsideCa::new();
    let leader = m.leader(PROVIDER).unwrap();
    let unit = format!("{WEB}/0");
    let csr = requirer_csrs(&m, rel, &unit).remove(0).pem;
    let cert = outside.sign(&csr, false);
    // From here `m.settle()`: the interop `settle` checks each certificate against its `ca`
    // alone, and here `ca` is the outside intermediate.
    let chain = format!("{}{}", outside.int_pem(), outside.root_pem());
    let r = m
        .run_action(
            &leader,
            "provide-certificate",
            obj(json!({
                "certificate-signing-request": csr,
                "certificate": cert,
                "ca-certificate": outside.int_pem(),
                "ca-chain": chain,
            })),
        )
        .unwrap();
    assert_eq!(r.status, "completed", "{r:?}");
    m.settle().unwrap();
    let bundle = client_bundle_now(&m);
    assert!(
        bundle.contains(&norm(&outside.root_pem())),
        "the outside root"
    );
    assert!(
        bundle.contains(&norm(&outside.int_pem())),
        "the ca-certificate"
    );
    assert!(every_client_accepts_every_server(&m, rel).unwrap() > 0);

    // trusted-certificates adds to it; a bad value blocks, naming the option.
    let extra = OutsideCa::new();
    m.set_config(
        PROVIDER,
        obj(json!({"trusted-certificates": extra.root_pem()})),
    )
    .unwrap();
    m.settle().unwrap();
    assert!(client_bundle_now(&m).contains(&norm(&extra.root_pem())));
    m.set_config(PROVIDER, obj(json!({"trusted-certificates": "garbage"})))
        .unwrap();
    m.settle().unwrap();
    let st = m.unit_status(&leader);
    assert_eq!(st.workload, "blocked");
    assert!(st.message.contains("trusted-certificates:"), "{st:?}");
    assert_provider_hooks_ok(&m);
}
