//! The legacy reactive dialect in the simulator. The tls-provider charm (the test build of the
//! binary, packed as `make charm` packs it) serves the Python legacy requirer test charm
//! (`tests/charms/legacy-requirer`, our own implementation of the reactive interface of
//! `docs/protocol.md` §4), next to the modern requirer charm (charmlibs
//! `TLSCertificatesRequiresV4`). The interop cases 28-37 of `docs/protocol.md` §5, both dialects
//! at once, CA rotation, leader change and malformed input.
//!
//! Two provider units: only the leader publishes; the non-leader publishes no legacy key. The
//! requirer's merged view (reactive: lowest unit name wins per key, a missing key does not erase)
//! therefore always equals the leader's data, and `views-agree` holds.
//!
//! Needs the built test charms: run `make test-charms` first (a missing build fails the test with
//! that instruction).

mod common;

use common::interop::{
    deploy_provider, get_certificates, obj, other_unit, requirer_dir, secrets_labelled,
};
use common::pki::verify_cert_and_key;
use jujusim::Model;
use serde_json::{json, Map, Value};

const PROV: &str = "tls-provider";
const LEG: &str = "etcd";
const MOD: &str = "webapp";

use common::deploy_legacy;

/// A model with the provider (`prov_units`, `prov_config`) and the legacy requirer `etcd`
/// (`units`, `config`), related and settled; returns it and the relation id.
fn legacy_model(
    prov_units: usize,
    prov_config: Value,
    units: usize,
    config: Value,
) -> (Model, u32) {
    let mut model = Model::new().expect("start simulator");
    deploy_provider(&mut model, prov_units, prov_config);
    deploy_legacy(&mut model, LEG, units, config);
    model.settle().expect("settle after deploy");
    let rel = model.relate(LEG, PROV).expect("relate");
    model.settle().expect("settle after relate");
    (model, rel)
}

/// `get-certificates` of a legacy requirer unit, as a JSON document.
fn report(model: &mut Model, unit: &str) -> Value {
    let r = model
        .run_action(unit, "get-certificates", Map::new())
        .expect("run get-certificates");
    assert_eq!(r.status, "completed", "{r:?}");
    serde_json::from_str(r.results["certificates"].as_str().expect("certificates")).unwrap()
}

/// Every certificate a legacy requirer unit received verifies against its `ca`, with its key.
/// Returns how many were checked (the shared client certificate included).
fn verify_report(doc: &Value) -> usize {
    let ca = doc["ca"].as_str().expect("ca");
    verify_cert_and_key(
        ca,
        doc["client-cert"].as_str().unwrap(),
        doc["client-key"].as_str(),
    );
    let mut n = 1;
    for list in [
        "server-certs",
        "client-certs",
        "application-certs",
        "intermediate-certs",
    ] {
        for c in doc[list].as_array().unwrap() {
            verify_cert_and_key(ca, c["cert"].as_str().unwrap(), c["key"].as_str());
            n += 1;
        }
    }
    n
}

/// Legacy keys in a provider unit's databag (Juju's own keys left out).
fn legacy_keys(model: &Model, rel: u32, unit: &str) -> Vec<String> {
    model
        .relation_data(rel, unit)
        .into_keys()
        .filter(|k| {
            matches!(k.as_str(), "ca" | "chain" | "client.cert" | "client.key")
                || k.contains(".server.")
                || k.contains(".processed_")
        })
        .collect()
}

fn full_config() -> Value {
    json!({
        "common-name": "etcd.example.com",
        "sans": "10.0.0.1,etcd.internal",
        "cert-requests": r#"{"peer.example.com": {"sans": ["10.0.0.2"]}, "metrics.example.com": {"sans": []}}"#,
        "client-cert-requests": r#"{"system:etcd-client": {"sans": null}}"#,
        "application-cert-requests": r#"{"cluster.example.com": {"sans": ["10.0.0.100"]}}"#,
        "intermediate-cert-requests": r#"{"Etcd Intermediate CA": {"sans": []}}"#,
    })
}

#[test]
fn every_request_kind_with_two_provider_units() {
    // Cases 28-33 and 36.
    let (mut model, rel) = legacy_model(2, json!({"allow-ca-requests": true}), 3, full_config());

    let leader = model.leader(PROV).expect("provider leader");
    let follower = other_unit(&model, PROV, &leader);
    assert!(!legacy_keys(&model, rel, &leader).is_empty());
    assert_eq!(
        legacy_keys(&model, rel, &follower),
        Vec::<String>::new(),
        "the non-leader published legacy keys"
    );
    let leader_bag = model.relation_data(rel, &leader);
    // Raw PEM for the top-level request, JSON with sorted keys for the maps.
    assert!(leader_bag["etcd_0.server.cert"].starts_with("-----BEGIN CERTIFICATE-----"));
    assert!(leader_bag["etcd_0.processed_requests"]
        .starts_with(r#"{"metrics.example.com": {"cert": "-----BEGIN CERTIFICATE-----"#));

    let mut app_cert = None;
    for unit in model.units(LEG) {
        let status = model.unit_status(&unit);
        assert_eq!(
            (status.workload.as_str(), status.message.as_str()),
            (
                "active",
                "ready: server 3/3, client 1/1, application 1/1, intermediate 1/1"
            ),
            "{unit}"
        );
        let doc = report(&mut model, &unit);
        assert_eq!(doc["ready"], true, "{unit}: ops requirer not ready");
        assert_eq!(
            doc["views-agree"], true,
            "{unit}: {:?}",
            doc["disagreeing-keys"]
        );
        assert_eq!(doc["errors"], json!([]));
        assert_eq!(doc["unit-name"], unit.replace('/', "_"));
        // 3 server (top-level + 2), 1 client, 1 application, 1 intermediate, shared client.
        assert_eq!(verify_report(&doc), 7, "{unit}");
        let server = doc["server-certs"].as_array().unwrap();
        let cns: Vec<&str> = server.iter().map(|c| c["cn"].as_str().unwrap()).collect();
        assert_eq!(
            cns,
            vec![
                "etcd.example.com",
                "metrics.example.com",
                "peer.example.com"
            ]
        );
        let text = verify_cert_and_key(
            doc["ca"].as_str().unwrap(),
            server[0]["cert"].as_str().unwrap(),
            None,
        );
        for n in [
            "DNS:etcd.example.com",
            "DNS:etcd.internal",
            "IP Address:10.0.0.1",
        ] {
            assert!(text.contains(n), "{n} not in {text}");
        }
        // Intermediate: CA:TRUE, found by CN (ops) and under app_data (reactive).
        let by_cn = &doc["intermediate-certs"][0];
        assert_eq!(by_cn["cn"], "Etcd Intermediate CA");
        assert_eq!(doc["intermediate-app-data"]["cert"], by_cn["cert"]);
        assert_eq!(doc["intermediate-app-data"]["key"], by_cn["key"]);
        let text = verify_cert_and_key(
            doc["ca"].as_str().unwrap(),
            by_cn["cert"].as_str().unwrap(),
            None,
        );
        assert!(text.contains("CA:TRUE"), "{text}");
        // One application certificate for every unit.
        let app = doc["application-certs"][0].clone();
        if let Some(prev) = &app_cert {
            assert_eq!(prev, &app, "{unit} got another application certificate");
        }
        app_cert = Some(app);
    }
    let app = app_cert.unwrap();
    let text = verify_cert_and_key(
        model.relation_data(rel, &leader)["ca"].as_str(),
        app["cert"].as_str().unwrap(),
        None,
    );
    assert!(text.contains("DNS:cluster.example.com") && text.contains("IP Address:10.0.0.100"));

    // The provider's status mentions the legacy relation.
    let st = model.unit_status(&leader);
    assert_eq!(st.workload, "active", "{st:?}");

    // Settled means idempotent: another round of hooks writes nothing.
    let before = model.relation_data(rel, &leader);
    model.update_status(PROV);
    model.settle().unwrap();
    assert_eq!(model.relation_data(rel, &leader), before);
}

#[test]
fn no_requests_still_gets_ca_and_client_certificate() {
    // Case 28.
    let (mut model, rel) = legacy_model(1, json!({}), 1, json!({}));
    let unit = format!("{LEG}/0");
    assert_eq!(
        model.unit_status(&unit).message,
        "ready: server 0/0, client 0/0, application 0/0, intermediate 0/0"
    );
    let doc = report(&mut model, &unit);
    assert_eq!(doc["ready"], true);
    assert_eq!(verify_report(&doc), 1);
    let mut keys = legacy_keys(&model, rel, &format!("{PROV}/0"));
    keys.sort();
    assert_eq!(keys, vec!["ca", "chain", "client.cert", "client.key"]);
}

#[test]
fn san_changes_reissue_only_that_certificate() {
    // Cases 34 and 35.
    let config = json!({
        "common-name": "etcd.example.com",
        "sans": "a.example.com,b.example.com",
        "cert-requests": r#"{"peer.example.com": {"sans": []}}"#,
        "unit-name-override": "etcd_remote_7",
    });
    let (mut model, rel) = legacy_model(1, json!({}), 1, config);
    let unit = format!("{LEG}/0");
    let prov = format!("{PROV}/0");
    let keys = legacy_keys(&model, rel, &prov);
    // Case 35: the keys follow unit_name, not the Juju unit name.
    assert!(
        keys.contains(&"etcd_remote_7.server.cert".to_string()),
        "{keys:?}"
    );
    assert!(!keys.iter().any(|k| k.starts_with("etcd_0.")), "{keys:?}");
    let first = report(&mut model, &unit);
    assert_eq!(first["unit-name"], "etcd_remote_7");
    verify_report(&first);
    let before = model.relation_data(rel, &prov);

    // Reordered SANs: nothing changes.
    model
        .set_config(
            LEG,
            obj(json!({"sans": "b.example.com,a.example.com,a.example.com"})),
        )
        .unwrap();
    model.settle().unwrap();
    assert_eq!(model.relation_data(rel, &prov), before);
    let doc = report(&mut model, &unit);
    assert_eq!(doc["changes"], first["changes"]);

    // A SAN added: only the top-level server certificate changes, and the requirer sees it.
    model
        .set_config(
            LEG,
            obj(json!({"sans": "a.example.com,b.example.com,c.example.com"})),
        )
        .unwrap();
    model.settle().unwrap();
    let after = model.relation_data(rel, &prov);
    let changed: Vec<&String> = after
        .keys()
        .filter(|k| before.get(*k) != after.get(*k))
        .collect();
    assert_eq!(
        changed,
        vec!["etcd_remote_7.server.cert", "etcd_remote_7.server.key"]
    );
    let doc = report(&mut model, &unit);
    assert_eq!(
        doc["changes"]["server"].as_i64().unwrap(),
        first["changes"]["server"].as_i64().unwrap() + 1
    );
    assert_eq!(doc["changes"]["ca"], first["changes"]["ca"]);
    assert_eq!(doc["changes"]["client"], first["changes"]["client"]);
    let text = verify_cert_and_key(
        doc["ca"].as_str().unwrap(),
        doc["server-certs"][0]["cert"].as_str().unwrap(),
        doc["server-certs"][0]["key"].as_str(),
    );
    assert!(text.contains("DNS:c.example.com"), "{text}");
}

#[test]
fn departed_unit_keys_are_removed() {
    // Case 37.
    let config = json!({
        "common-name": "etcd.example.com",
        "application-cert-requests": r#"{"cluster.example.com": {"sans": []}}"#,
    });
    let (mut model, rel) = legacy_model(1, json!({}), 3, config);
    let prov = format!("{PROV}/0");
    let keys = legacy_keys(&model, rel, &prov);
    assert!(keys.iter().any(|k| k.starts_with("etcd_2.")), "{keys:?}");
    model.remove_unit(&format!("{LEG}/2")).unwrap();
    model.settle().unwrap();
    let keys = legacy_keys(&model, rel, &prov);
    assert!(!keys.iter().any(|k| k.starts_with("etcd_2.")), "{keys:?}");
    assert!(keys.iter().any(|k| k.starts_with("etcd_1.")), "{keys:?}");
    for unit in [format!("{LEG}/0"), format!("{LEG}/1")] {
        verify_report(&report(&mut model, &unit));
    }

    // The relation goes: nothing is left in the legacy store for it (the shared client stays).
    let stored = |model: &Model| -> String {
        secrets_labelled(model, "tls-provider-legacy")
            .into_iter()
            .filter_map(|s| s.revisions.last().cloned())
            .flat_map(|bag| bag.into_values())
            .collect()
    };
    assert!(stored(&model).contains("etcd_1"));
    model.unrelate(rel).unwrap();
    model.settle().unwrap();
    let left = stored(&model);
    assert!(
        !left.contains("etcd_"),
        "stored legacy material of a removed relation"
    );
    assert!(left.contains("shared") || left.contains("client"), "{left}");
}

/// The modern requirer's certificates: (certificate, ca) per entry, all present.
fn modern_certs(model: &mut Model, unit: &str) -> Vec<(String, String)> {
    get_certificates(model, unit)
        .iter()
        .map(|c| {
            (
                c["certificate"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{unit}: no certificate: {c}"))
                    .to_string(),
                c["ca"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn both_dialects_at_once_and_ca_rotation_reissues_both() {
    let mut model = Model::new().expect("start simulator");
    deploy_provider(&mut model, 1, json!({}));
    deploy_legacy(
        &mut model,
        LEG,
        2,
        json!({"common-name": "etcd.example.com", "client-cert-requests": r#"{"admin": {"sans": null}}"#}),
    );
    model
        .deploy(
            MOD,
            &requirer_dir(),
            2,
            obj(json!({"common-name": "{unit}.webapp.example.com"})),
        )
        .expect("deploy modern requirer");
    model.settle().unwrap();
    let legacy_rel = model.relate(LEG, PROV).unwrap();
    let modern_rel = model.relate(MOD, PROV).unwrap();
    model.settle().unwrap();
    let prov = format!("{PROV}/0");

    let snapshot = |model: &mut Model| {
        let mut legacy = Vec::new();
        for unit in model.units(LEG) {
            let doc = report(model, &unit);
            assert_eq!(doc["ready"], true);
            assert_eq!(verify_report(&doc), 3, "{unit}");
            legacy.push(doc);
        }
        let mut modern = Vec::new();
        for unit in model.units(MOD) {
            let certs = modern_certs(model, &unit);
            assert_eq!(certs.len(), 1, "{unit}");
            for (cert, ca) in &certs {
                verify_cert_and_key(ca, cert, None);
            }
            modern.extend(certs);
        }
        (legacy, modern)
    };
    let (legacy1, modern1) = snapshot(&mut model);
    let ca1 = legacy1[0]["ca"].as_str().unwrap().to_string();
    assert_eq!(modern1[0].1.trim(), ca1.trim(), "one CA for both dialects");
    // The dialects stay apart: no legacy key in the app databag, no modern key in the unit one.
    let app_bag = model.relation_data(legacy_rel, PROV);
    assert!(app_bag.is_empty(), "{app_bag:?}");
    assert_eq!(legacy_keys(&model, modern_rel, &prov), Vec::<String>::new());

    // CA rotation by action.
    let r = model
        .run_action(&prov, "rotate-private-key", obj(json!({"immediate": true})))
        .unwrap();
    assert_eq!(r.status, "completed", "{r:?}");
    model.settle().unwrap();
    let (legacy2, modern2) = snapshot(&mut model);
    let ca2 = legacy2[0]["ca"].as_str().unwrap().to_string();
    assert_ne!(ca1, ca2);
    assert_eq!(modern2[0].1.trim(), ca2.trim());
    for (a, b) in legacy1.iter().zip(&legacy2) {
        assert_ne!(a["server-certs"][0]["cert"], b["server-certs"][0]["cert"]);
        assert_ne!(a["client-certs"][0]["cert"], b["client-certs"][0]["cert"]);
        assert_ne!(a["client-cert"], b["client-cert"]);
        assert!(b["changes"]["ca"].as_i64() > a["changes"]["ca"].as_i64());
    }
    for (a, b) in modern1.iter().zip(&modern2) {
        assert_ne!(a.0, b.0, "modern certificate not reissued");
    }

    // CA rotation by config (a new CA subject).
    model
        .set_config(
            PROV,
            obj(json!({"ca-common-name": "Rotated CA", "ca-rotation-overlap": "0"})),
        )
        .unwrap();
    model.settle().unwrap();
    let (legacy3, modern3) = snapshot(&mut model);
    let ca3 = legacy3[0]["ca"].as_str().unwrap();
    assert_ne!(ca3, ca2);
    let text = verify_cert_and_key(ca3, ca3, None);
    assert!(text.contains("Rotated CA"), "{text}");
    assert_eq!(modern3[0].1.trim(), ca3.trim());
}

#[test]
fn leader_change_republishes_the_same_material() {
    let config = json!({
        "common-name": "etcd.example.com",
        "cert-requests": r#"{"peer.example.com": {"sans": []}}"#,
    });
    let (mut model, rel) = legacy_model(2, json!({}), 1, config);
    let unit = format!("{LEG}/0");
    let before = report(&mut model, &unit);
    let old_leader = model.leader(PROV).unwrap();
    let new_leader = other_unit(&model, PROV, &old_leader);
    let published = model.relation_data(rel, &old_leader);
    let published_keys = legacy_keys(&model, rel, &old_leader);

    model.set_leader(&new_leader).unwrap();
    model.settle().unwrap();
    // The old leader runs a hook (as it would on update-status) and clears its keys.
    model.update_status(PROV);
    model.settle().unwrap();
    assert_eq!(legacy_keys(&model, rel, &old_leader), Vec::<String>::new());
    let new_bag = model.relation_data(rel, &new_leader);
    assert_eq!(legacy_keys(&model, rel, &new_leader), published_keys);
    for k in &published_keys {
        assert_eq!(
            new_bag[k], published[k],
            "{k} differs after the leader change"
        );
    }
    let after = report(&mut model, &unit);
    assert_eq!(after["server-certs"], before["server-certs"]);
    assert_eq!(after["client-cert"], before["client-cert"]);
    assert_eq!(after["views-agree"], true);
    assert_eq!(
        after["changes"], before["changes"],
        "the requirer saw a change"
    );
}

#[test]
fn malformed_legacy_requests_are_skipped_and_hooks_succeed() {
    let huge = format!(
        r#"{{"a.example.com": {{"sans": ["{}"]}}}}"#,
        "x".repeat(70_000)
    );
    let raw = json!({
        "cert_requests": "{not json",
        "client_cert_requests": huge,
        "intermediate_cert_requests": r#"{"": {"sans": []}}"#,
        "application_cert_requests": r#"{"ok.example.com": {"sans": [1]}}"#,
    });
    let config = json!({"common-name": "good.example.com", "raw-data": raw.to_string()});
    // legacy_model's settle() fails if any hook fails: every hook exits 0.
    let (mut model, rel) = legacy_model(1, json!({}), 1, config);
    let prov = format!("{PROV}/0");
    let logs = model.logs(&prov).join("\n");
    for needle in [
        "not valid JSON",
        "more than the 65536 allowed",
        "common name is empty",
        "every SAN must be a string",
    ] {
        assert!(logs.contains(needle), "no log line with {needle:?}");
    }
    assert!(
        !logs.contains("PRIVATE KEY"),
        "a private key reached the log"
    );
    // The good request is still served.
    let keys = legacy_keys(&model, rel, &prov);
    assert!(keys.contains(&"etcd_0.server.cert".to_string()), "{keys:?}");
    assert!(!keys.iter().any(|k| k.contains("processed_")), "{keys:?}");
    let doc = report(&mut model, &format!("{LEG}/0"));
    assert_eq!(doc["server-certs"].as_array().unwrap().len(), 1);
    verify_report(&doc);
}

/// Forty server certificates with their generated keys are more than one secret holds under the
/// strictest limits the charm supports (the simulator's default Juju 3.1: 5 KiB per value, 64 KiB
/// per secret): the key store is paged over several secrets, every hook exits 0, and the
/// requirer receives every certificate with its key.
#[test]
fn forty_server_certificates_fit_the_strictest_secret_limits() {
    let requests: Map<String, Value> = (0..40)
        .map(|i| {
            (
                format!("s{i}.example.com"),
                json!({"sans": [format!("10.1.0.{i}")]}),
            )
        })
        .collect();
    let config = json!({"cert-requests": Value::Object(requests).to_string()});
    let (mut model, _rel) = legacy_model(1, json!({}), 1, config);
    assert_eq!(model.juju_version(), jujusim::DEFAULT_JUJU_VERSION);
    let doc = report(&mut model, &format!("{LEG}/0"));
    assert_eq!(doc["server-certs"].as_array().unwrap().len(), 40, "{doc}");
    assert_eq!(
        verify_report(&doc),
        41,
        "40 server certificates and the client one"
    );
    let pages = secrets_labelled(&model, "tls-provider-legacy");
    assert!(pages.len() >= 2, "the store is paged: {}", pages.len());
    for unit in model.units(PROV) {
        let st = model.unit_status(&unit);
        assert_eq!(st.agent, "idle", "{unit}: {st:?}");
    }
}

/// A deposed leader stops serving its legacy answers as soon as the new leader has published,
/// with no other hook on it: the new leader names itself the publisher on the peer relation in
/// the hook that publishes, and the old leader withdraws in the `cluster-relation-changed` that
/// gives it. A CA rotation right after the leader change reaches the reactive requirer, whose
/// merged view takes the lowest unit name first (the old leader's, were it still there).
#[test]
fn a_deposed_leader_withdraws_once_the_new_leader_has_published() {
    let config = json!({"common-name": "etcd.example.com"});
    let (mut model, rel) = legacy_model(2, json!({}), 1, config);
    let unit = format!("{LEG}/0");
    let old_leader = model.leader(PROV).unwrap();
    assert_eq!(
        old_leader,
        format!("{PROV}/0"),
        "the lowest unit name leads first"
    );
    let new_leader = other_unit(&model, PROV, &old_leader);
    let before = report(&mut model, &unit);

    model.set_leader(&new_leader).unwrap();
    model.settle().unwrap();
    assert_eq!(legacy_keys(&model, rel, &old_leader), Vec::<String>::new());
    let after = report(&mut model, &unit);
    assert_eq!(
        after["server-certs"], before["server-certs"],
        "same material"
    );
    assert_eq!(
        after["changes"], before["changes"],
        "the requirer saw no change"
    );

    let r = model
        .run_action(
            &new_leader,
            "rotate-private-key",
            obj(json!({"immediate": true})),
        )
        .unwrap();
    assert_eq!(r.status, "completed", "{r:?}");
    model.settle().unwrap();
    let rotated = report(&mut model, &unit);
    assert_eq!(
        rotated["ca"].as_str(),
        r.results["ca-certificate"].as_str(),
        "the requirer sees the new CA"
    );
    assert_ne!(rotated["ca"], before["ca"]);
    assert_eq!(verify_report(&rotated), 2);
}
