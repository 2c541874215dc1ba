//! The `get-issued-certificates` action over the shared fleet: every certificate, with its
//! requirer, and the filter by relation.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::common::interop::*;
use crate::*;

#[test]
fn get_issued_certificates_lists_every_certificate_with_its_requirer() {
    let mut f = fleet();
    let leader = f.model.leader(PROVIDER).unwrap();
    let mut want = BTreeMap::new(); // serial (upper hex) -> (relation, requirer, kind, cn, is_ca)
    let rels: Vec<(&str, u32)> = f.rels.iter().map(|(a, r)| (*a, *r)).collect();
    for (app, rel) in &rels {
        let published = f.certs(app);
        let mut owners = vec![(app.to_string(), "app")];
        owners.extend(f.model.units(app).into_iter().map(|u| (u, "unit")));
        for (owner, kind) in owners {
            for c in requirer_csrs(&f.model, *rel, &owner) {
                let e = entry_for(&published, &c.pem).unwrap();
                let cert = parse_cert(e["certificate"].as_str().unwrap());
                let serial = cert.serial_number().to_bn().unwrap().to_hex_str().unwrap();
                want.insert(
                    serial.to_uppercase(),
                    (
                        *rel,
                        owner.clone(),
                        kind,
                        c.cn().unwrap_or_default(),
                        c.ca == json!(true),
                    ),
                );
            }
        }
    }
    assert_eq!(want.len(), 11);
    let (st, msg) = status_of(&f.model, &leader);
    assert_eq!(
        (st.as_str(), msg.as_str()),
        (
            "active",
            "issued 11, denied 0, rejected 0 across 6 relations; next expiry in 90 d"
        )
    );

    let r = f
        .model
        .run_action(&leader, "get-issued-certificates", Map::new())
        .unwrap();
    assert_eq!(r.status, "completed", "{r:?}");
    assert_eq!(r.results["count"], json!("11"));
    let text = r.results["certificates"].as_str().unwrap();
    assert!(!text.contains("PRIVATE KEY"));
    let listed: Vec<Value> = serde_json::from_str(text).unwrap();
    assert_eq!(listed.len(), 11);
    for l in &listed {
        let serial = l["serial"]
            .as_str()
            .unwrap()
            .replace(':', "")
            .to_uppercase();
        let serial = serial.trim_start_matches('0');
        let (rel, owner, kind, cn, is_ca) = want
            .get(serial)
            .unwrap_or_else(|| panic!("unknown serial listed: {l}"));
        assert_eq!(l["relation-id"], json!(rel), "{l}");
        assert_eq!(l["requirer"], json!(owner), "{l}");
        assert_eq!(l["requirer-type"], json!(kind), "{l}");
        assert_eq!(l["common-name"], json!(cn), "{l}");
        assert_eq!(l["is-ca"], json!(is_ca), "{l}");
        assert!(l["not-after"].as_str().unwrap().ends_with('Z'));
    }
    let sans = listed
        .iter()
        .find(|l| l["requirer"] == json!("sans/0"))
        .unwrap();
    assert_eq!(sans["sans"].as_array().unwrap().len(), 5, "{sans}");

    // Filtered by relation.
    let rel = f.rel("unit3");
    let r = f
        .model
        .run_action(
            &leader,
            "get-issued-certificates",
            obj(json!({"relation-id": rel})),
        )
        .unwrap();
    assert_eq!(r.results["count"], json!("3"), "{r:?}");
}
