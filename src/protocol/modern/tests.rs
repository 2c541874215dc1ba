//! Tests of the modern protocol models.

use super::*;

const CSR: &str = "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----";

fn bag(v: &str) -> BTreeMap<String, String> {
    BTreeMap::from([(CSRS_KEY.to_string(), v.to_string())])
}

#[test]
fn quoted_requirer_text_is_capped() {
    let huge = "y".repeat(MAX_REQUIRER_VALUE_BYTES - 1000);
    let value = serde_json::json!([{"certificate_signing_request": CSR, "ca": huge}]);
    let r = parse_requirer_value(&value.to_string()).unwrap();
    let reason = &r.refused[0].reason;
    assert!(reason.len() < 300, "{} bytes", reason.len());
    assert!(
        reason.contains(&format!("{}…", "y".repeat(200))),
        "{reason}"
    );
    assert_eq!(
        parse_ca_flag(Some(&Value::String("maybe".into()))),
        Err("\"ca\" is \"maybe\", expected true or false".to_string())
    );
    // Multi-byte characters are cut on a character boundary.
    let wide = "é".repeat(500);
    assert_eq!(excerpt(&wide), format!("{}…", "é".repeat(200)));
    assert_eq!(excerpt(&"é".repeat(200)), "é".repeat(200));
}

#[test]
fn ca_flag_is_lenient() {
    let ok = |v: Value| parse_ca_flag(Some(&v));
    assert_eq!(parse_ca_flag(None), Ok(false));
    assert_eq!(ok(Value::Null), Ok(false));
    assert_eq!(ok(Value::Bool(true)), Ok(true));
    assert_eq!(ok(Value::String("false".into())), Ok(false));
    assert_eq!(ok(Value::String("False".into())), Ok(false));
    assert_eq!(ok(Value::String("true".into())), Ok(true));
    assert!(ok(Value::String("yes please".into())).is_err());
    assert!(ok(serde_json::json!([true])).is_err());
    assert!(ok(serde_json::json!(7)).is_err());
}

#[test]
fn requirer_entries_parse_and_refuse_individually() {
    let v = serde_json::json!([
        {"certificate_signing_request": CSR, "ca": false},
        {"certificate_signing_request": CSR},
        {"certificate_signing_request": CSR, "ca": null},
        {"certificate_signing_request": CSR, "ca": "False"},
        {"certificate_signing_request": CSR, "ca": "true"},
        {"certificate_signing_request": CSR, "ca": "junk"},
        {"certificate_signing_request": 5},
        {"ca": true},
    ])
    .to_string();
    let r = parse_requirer_databag(&bag(&v)).unwrap();
    let flags: Vec<bool> = r.requests.iter().map(|r| r.ca).collect();
    assert_eq!(flags, vec![false, false, false, false, true]);
    assert!(r
        .requests
        .iter()
        .all(|r| r.certificate_signing_request == CSR));
    let idx: Vec<usize> = r.refused.iter().map(|r| r.index).collect();
    assert_eq!(idx, vec![5, 6, 7]);
    assert_eq!(r.refused[0].csr.as_deref(), Some(CSR));
}

#[test]
fn hostile_databags_are_skipped_whole() {
    assert!(matches!(
        parse_requirer_databag(&bag("not json")),
        Err(DatabagError::NotJson(_))
    ));
    assert_eq!(
        parse_requirer_databag(&bag("{\"a\":1}")),
        Err(DatabagError::NotAList("an object"))
    );
    assert_eq!(
        parse_requirer_databag(&bag("[1, 2]")),
        Err(DatabagError::EntryNotObject {
            index: 0,
            found: "a number"
        })
    );
    let huge = format!("[\"{}\"]", "a".repeat(MAX_REQUIRER_VALUE_BYTES));
    assert!(matches!(
        parse_requirer_databag(&bag(&huge)),
        Err(DatabagError::TooLarge(_))
    ));
    let many = format!("[{}]", vec!["{}"; MAX_REQUIRER_ENTRIES + 1].join(","));
    assert_eq!(
        parse_requirer_databag(&bag(&many)),
        Err(DatabagError::TooMany(MAX_REQUIRER_ENTRIES + 1))
    );
    assert_eq!(
        parse_requirer_databag(&BTreeMap::new()),
        Ok(RequirerRequests::default())
    );
}

fn cert(csr: &str) -> ProviderCertificate {
    ProviderCertificate {
        ca: "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----".into(),
        certificate_signing_request: csr.into(),
        certificate: "-----BEGIN CERTIFICATE-----\nLEAF\n-----END CERTIFICATE-----".into(),
        chain: vec![
            "-----BEGIN CERTIFICATE-----\nLEAF\n-----END CERTIFICATE-----".into(),
            "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----".into(),
        ],
        revoked: false,
    }
}

#[test]
fn provider_serialisation_order_and_omissions() {
    let mut data = ProviderAppData {
        certificates: vec![cert(CSR)],
        ..Default::default()
    };
    let values = data.to_values();
    assert_eq!(
        values.len(),
        1,
        "empty errors and no capabilities are omitted"
    );
    let text = &values[CERTIFICATES_KEY];
    let keys_order: Vec<usize> = [
        "\"ca\"",
        "\"certificate_signing_request\"",
        "\"certificate\"",
        "\"chain\"",
    ]
    .iter()
    .map(|k| text.find(k).unwrap())
    .collect();
    assert!(keys_order.windows(2).all(|w| w[0] < w[1]), "{text}");
    assert!(!text.contains("revoked"));
    assert!(!text.contains("null"));

    data.certificates[0].revoked = true;
    assert!(data.to_values()[CERTIFICATES_KEY].contains("\"revoked\":true"));

    let err = RequestError {
        csr: CSR.into(),
        error: RequestErrorDetail {
            code: 101,
            name: "IP_NOT_ALLOWED".into(),
            message: "m".into(),
            reason: None,
            provider: None,
            endpoint: None,
        },
    };
    data.upsert_error(err);
    assert!(
        data.certificates.is_empty(),
        "error replaces the certificate"
    );
    let v = data.to_values();
    assert!(!v.contains_key(CERTIFICATES_KEY));
    assert!(v[REQUEST_ERRORS_KEY].starts_with("[{\"csr\":"));
    assert!(!v[REQUEST_ERRORS_KEY].contains("null"));
    data.upsert_certificate(cert(CSR));
    assert!(data.request_errors.is_empty());
    assert_eq!(data.certificates.len(), 1);

    data.capabilities = Some(Capabilities {
        provider_type: Some("self-signed".into()),
        ..Default::default()
    });
    assert_eq!(
        data.to_values()[CAPABILITIES_KEY],
        "{\"provider_type\":\"self-signed\"}"
    );
}

#[test]
fn changes_are_minimal_and_round_trip() {
    let data = ProviderAppData {
        certificates: vec![cert(CSR)],
        ..Default::default()
    };
    let mut current = BTreeMap::from([
        ("request_errors".to_string(), "[]".to_string()),
        ("other".to_string(), "kept".to_string()),
    ]);
    let changes = data.changes_from(&current);
    assert_eq!(changes.len(), 2);
    assert_eq!(changes["request_errors"], "");
    for (k, v) in &changes {
        if v.is_empty() {
            current.remove(k);
        } else {
            current.insert(k.clone(), v.clone());
        }
    }
    assert!(data.changes_from(&current).is_empty());
    let (back, notes) = ProviderAppData::from_databag(&current);
    assert!(notes.notes.is_empty());
    assert_eq!(back, data);
}

#[test]
fn own_bag_junk_is_dropped_with_notes() {
    let current = BTreeMap::from([
        ("certificates".to_string(), "[{\"x\":1}, 3]".to_string()),
        ("request_errors".to_string(), "null".to_string()),
        ("capabilities".to_string(), "[]".to_string()),
    ]);
    let (back, notes) = ProviderAppData::from_databag(&current);
    assert_eq!(back, ProviderAppData::default());
    assert_eq!(notes.notes.len(), 4, "{notes:?}");
}

fn error_for(csr: &str, message: &str) -> RequestError {
    RequestError {
        csr: csr.into(),
        error: RequestErrorDetail {
            code: 999,
            name: "OTHER".into(),
            message: message.into(),
            reason: None,
            provider: None,
            endpoint: None,
        },
    }
}

fn cert_with(csr: &str, leaf: &str) -> ProviderCertificate {
    ProviderCertificate {
        certificate: leaf.into(),
        ..cert(csr)
    }
}

/// The batch upserts do what the one-at-a-time ones did, one after the other: existing entries
/// and errors for the CSRs replaced, a later entry for the same CSR winning, canonical order,
/// duplicates already in the data (not upserted) kept in their order.
#[test]
fn batch_upserts_equal_one_upsert_after_the_other() {
    let start = ProviderAppData {
        certificates: vec![
            cert_with("d", "d1"),
            cert_with("b", "b1"),
            cert_with("z", "z1"),
            cert_with("z", "z2"),
        ],
        request_errors: vec![error_for("c", "c refused"), error_for("a", "a refused")],
        capabilities: None,
    };
    let batch = vec![
        cert_with("c", "c-new"),
        cert_with("b", "b-new"),
        cert_with("c", "c-newer"),
        cert_with("e", "e-new"),
    ];
    let mut one_by_one = start.clone();
    for e in batch.clone() {
        one_by_one.upsert_certificate(e);
    }
    let mut at_once = start.clone();
    at_once.upsert_certificates(batch);
    assert_eq!(at_once, one_by_one);
    let leaves: Vec<&str> = at_once
        .certificates
        .iter()
        .map(|c| c.certificate.as_str())
        .collect();
    assert_eq!(leaves, ["b-new", "c-newer", "d1", "e-new", "z1", "z2"]);
    assert_eq!(at_once.request_errors, vec![error_for("a", "a refused")]);

    let errors = vec![error_for("d", "d now refused"), error_for("a", "a again")];
    let mut one_by_one = start.clone();
    for e in errors.clone() {
        one_by_one.upsert_error(e);
    }
    let mut at_once = start;
    at_once.upsert_errors(errors);
    assert_eq!(at_once, one_by_one);
    assert_eq!(at_once.certificates.len(), 3);
}

/// Many entries upserted into many: one pass (it used to be a pass and a sort per entry).
#[test]
fn batch_upserts_scale_to_thousands() {
    let mut data = ProviderAppData {
        certificates: (0..5000).map(|i| cert(&format!("csr-{i:05}"))).collect(),
        ..ProviderAppData::default()
    };
    data.upsert_certificates((2500..7500).map(|i| cert_with(&format!("csr-{i:05}"), "new")));
    assert_eq!(data.certificates.len(), 7500);
    assert_eq!(
        data.certificates
            .iter()
            .filter(|c| c.certificate == "new")
            .count(),
        5000
    );
    assert!(data
        .certificates
        .windows(2)
        .all(|w| w[0].certificate_signing_request < w[1].certificate_signing_request));
}
