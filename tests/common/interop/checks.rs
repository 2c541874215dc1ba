//! Checks on our published data: the invariants of a provider databag, a published entry
//! against the request it answers, and the `openssl` views (verify, text, SANs) they use.

use super::*;

/// Checks the invariants of one provider app databag (`docs/protocol.md` §2, §3.2, §3.6; §5
/// cases 15 and 17): only known keys; every value JSON and never `null`; lists never empty (omitted
/// instead); every certificate entry has the 4 fields with a non-empty leaf-first chain
/// (`chain[0] == certificate`), `revoked` a bool when present, and every PEM parses; every error
/// entry is keyed `csr` with an int code in the protocol's set, a name and a non-empty message;
/// a CSR appears at most once and never in both lists; `capabilities` has the library's types.
/// Also the v2/v3 JSON schema (`certificates` required once anything is published).
pub fn check_provider_bag(bag: &Databag) {
    for (k, v) in bag {
        assert!(
            matches!(
                k.as_str(),
                "certificates" | "request_errors" | "capabilities"
            ),
            "unexpected key {k:?} in the provider app databag"
        );
        let parsed: Value =
            serde_json::from_str(v).unwrap_or_else(|e| panic!("{k} is not JSON ({e}): {v}"));
        assert!(!parsed.is_null(), "{k} is null");
        if k != "capabilities" {
            assert!(
                parsed.as_array().is_some_and(|a| !a.is_empty()),
                "{k} must be a non-empty list (empty lists are omitted): {v}"
            );
        }
    }
    for (k, v) in bag {
        assert!(!v.contains("PRIVATE KEY"), "a private key in {k}");
    }
    let mut seen = BTreeSet::new();
    for e in certificates(bag) {
        let o = e.as_object().expect("certificate entry is an object");
        for f in ["ca", "certificate_signing_request", "certificate"] {
            assert!(
                o.get(f).is_some_and(Value::is_string),
                "entry field {f}: {e}"
            );
        }
        let csr = e["certificate_signing_request"].as_str().unwrap();
        assert!(
            X509Req::from_pem(csr.as_bytes()).is_ok(),
            "an unparseable CSR was echoed into certificates: {csr:?}"
        );
        assert!(seen.insert(csr.to_string()), "CSR published twice: {csr}");
        let chain = e["chain"].as_array().expect("chain is a list (v3 schema)");
        assert!(!chain.is_empty(), "chain is empty");
        assert!(chain.iter().all(Value::is_string), "chain of strings");
        assert_eq!(chain[0], e["certificate"], "chain[0] == certificate");
        if let Some(r) = o.get("revoked") {
            assert!(r.is_boolean(), "revoked must be a bool: {r}");
        }
        for f in ["certificate", "ca"] {
            parse_cert(e[f].as_str().unwrap());
        }
        for c in chain {
            parse_cert(c.as_str().unwrap());
        }
    }
    for e in request_errors(bag) {
        let csr = e["csr"].as_str().expect("error entry keyed `csr`");
        assert!(
            e.get("certificate_signing_request").is_none(),
            "error entry must be keyed csr only"
        );
        assert!(
            seen.insert(csr.to_string()),
            "CSR both issued and refused, or refused twice"
        );
        let err = &e["error"];
        let code = err["code"].as_u64().expect("error.code int");
        assert!(
            [101, 102, 103, 201, 999].contains(&code),
            "unknown code {code}"
        );
        assert!(err["name"].is_string(), "error.name");
        assert!(
            err["message"]
                .as_str()
                .is_some_and(|m| !m.trim().is_empty()),
            "error.message must say something"
        );
        for f in ["reason", "provider", "endpoint"] {
            if let Some(x) = err.get(f) {
                assert!(x.is_string(), "error.{f} is a string when present");
            }
        }
    }
    if let Some(c) = capabilities(bag) {
        let o = c.as_object().expect("capabilities is an object");
        for (k, v) in o {
            match k.as_str() {
                "supports_ip_sans"
                | "supports_wildcard_dns"
                | "supports_subdomain"
                | "supports_ca_certificates" => assert!(v.is_boolean(), "{k} bool"),
                "allowed_domains" => assert!(
                    v.as_array().is_some_and(|a| a.iter().all(Value::is_string)),
                    "allowed_domains list of strings"
                ),
                "provider_type" => assert!(v.is_string()),
                _ => {}
            }
        }
    }
}

/// [`check_provider_bag`] on every tls-provider relation of the model, and no provider unit
/// databag carries modern keys.
/// Also runs `openssl verify -CAfile <published ca>` on every published certificate (each
/// distinct pair once per test process).
pub fn check_all_provider_bags(model: &Model) {
    static VERIFIED: std::sync::Mutex<BTreeSet<(String, String)>> =
        std::sync::Mutex::new(BTreeSet::new());
    for rel in provider_relations(model) {
        let bag = provider_bag(model, rel);
        check_provider_bag(&bag);
        for e in certificates(&bag) {
            let pair = (
                e["ca"].as_str().unwrap().to_string(),
                e["certificate"].as_str().unwrap().to_string(),
            );
            let new = VERIFIED
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(pair.clone());
            if new {
                // The chain between the leaf and the root (an intermediate CA) is untrusted.
                let above: Vec<&str> = e["chain"]
                    .as_array()
                    .map(|c| c.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let middle = above.get(1..above.len().saturating_sub(1)).unwrap_or(&[]);
                openssl_verify_via(&pair.0, &pair.1, &middle.join("\n"));
            }
        }
        for u in model.units(PROVIDER) {
            let bag = model.relation_data(rel, &u);
            for k in ["certificates", "request_errors", "capabilities"] {
                assert!(!bag.contains_key(k), "{u} unit databag has {k}");
            }
        }
    }
}

pub fn parse_cert(pem: &str) -> X509 {
    X509::from_pem(pem.as_bytes())
        .unwrap_or_else(|e| panic!("not a PEM certificate ({e}): {pem:?}"))
}

pub fn cn_of(name: &openssl::x509::X509NameRef) -> Option<String> {
    name.entries_by_nid(Nid::COMMONNAME)
        .next()
        .map(|e| e.data().to_string().expect("utf-8"))
}

pub fn to_system(t: &openssl::asn1::Asn1TimeRef) -> SystemTime {
    let epoch = openssl::asn1::Asn1Time::from_unix(0).unwrap();
    let d = epoch.diff(t).expect("time diff");
    UNIX_EPOCH + Duration::from_secs(d.days as u64 * 86_400 + d.secs as u64)
}

/// `openssl verify -x509_strict -CAfile ca cert`, asserting `OK`.
pub fn openssl_verify(ca_pem: &str, cert_pem: &str) {
    openssl_verify_via(ca_pem, cert_pem, "")
}

/// [`openssl_verify`] with `untrusted` (PEMs, may be empty) as `-untrusted` intermediates.
pub fn openssl_verify_via(ca_pem: &str, cert_pem: &str, untrusted: &str) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), ca_pem).unwrap();
    std::fs::write(dir.path().join("cert.pem"), cert_pem).unwrap();
    let mut args = vec!["verify", "-x509_strict", "-CAfile", "ca.pem"];
    if !untrusted.trim().is_empty() {
        std::fs::write(dir.path().join("untrusted.pem"), untrusted).unwrap();
        args.extend(["-untrusted", "untrusted.pem"]);
    }
    args.push("cert.pem");
    let (ok, out) = openssl_cli(dir.path(), &args);
    assert!(
        ok && out.contains("cert.pem: OK"),
        "openssl verify failed: {out}"
    );
}

/// `openssl <kind> -noout -text` of a PEM (`kind` = `x509` or `req`).
pub fn text_of(kind: &str, pem: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.pem"), pem).unwrap();
    let (ok, out) = openssl_cli(dir.path(), &[kind, "-in", "in.pem", "-noout", "-text"]);
    assert!(ok, "openssl {kind} -text: {out}");
    out
}

/// The SAN items (as `openssl -text` prints them) of a certificate or CSR text dump.
pub fn sans_in_text(text: &str) -> BTreeSet<String> {
    let mut lines = text.lines();
    while let Some(l) = lines.next() {
        if l.contains("X509v3 Subject Alternative Name") {
            let v = lines.next().unwrap_or("");
            return v
                .split(", ")
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
        }
    }
    BTreeSet::new()
}

/// Checks a published entry against the request it answers (`docs/protocol.md` §5 cases 15 and
/// 16): the echoed CSR is `csr` byte for byte; `openssl verify` against the published `ca`
/// passes; chain[0] == certificate and chain ends with the CA; public key = CSR key; subject
/// (DER) and SANs copied; BasicConstraints CA flag = `is_ca`; serverAuth+clientAuth on leaves;
/// validity inside the CA's; notBefore neither in the future nor back-dated by more than 10 min;
/// serial of at least 64 bits. Returns the certificate.
pub fn check_issued(entry: &Value, csr: &str, is_ca: bool) -> X509 {
    assert_eq!(
        entry["certificate_signing_request"].as_str(),
        Some(csr),
        "CSR echoed byte for byte"
    );
    assert_ne!(entry["revoked"], json!(true), "entry is revoked");
    let cert_pem = entry["certificate"].as_str().expect("certificate");
    let ca_pem = entry["ca"].as_str().expect("ca");
    let cert = parse_cert(cert_pem);
    let ca = parse_cert(ca_pem);
    openssl_verify(ca_pem, cert_pem);
    let chain = entry["chain"].as_array().expect("chain");
    assert_eq!(chain[0].as_str(), Some(cert_pem), "chain[0] == certificate");
    let last = parse_cert(chain.last().unwrap().as_str().unwrap());
    assert_eq!(
        last.to_der().unwrap(),
        ca.to_der().unwrap(),
        "chain ends with the published CA"
    );
    let req = X509Req::from_pem(csr.as_bytes()).expect("CSR parses");
    assert!(
        cert.public_key()
            .unwrap()
            .public_eq(&req.public_key().unwrap()),
        "certificate public key == CSR public key"
    );
    assert_eq!(
        cert.subject_name().to_der().unwrap(),
        req.subject_name().to_der().unwrap(),
        "subject copied from the CSR"
    );
    let cert_text = text_of("x509", cert_pem);
    let csr_text = text_of("req", csr);
    assert_eq!(
        sans_in_text(&cert_text),
        sans_in_text(&csr_text),
        "SANs copied from the CSR"
    );
    let want = if is_ca { "CA:TRUE" } else { "CA:FALSE" };
    assert!(
        cert_text.contains(want),
        "BasicConstraints {want} expected:\n{cert_text}"
    );
    if !is_ca {
        assert!(
            cert_text.contains("TLS Web Server Authentication")
                && cert_text.contains("TLS Web Client Authentication"),
            "EKU serverAuth+clientAuth on a leaf"
        );
    }
    let nb = to_system(cert.not_before());
    let na = to_system(cert.not_after());
    assert!(
        nb >= to_system(ca.not_before()),
        "notBefore inside the CA's validity"
    );
    assert!(
        na <= to_system(ca.not_after()),
        "a certificate never outlives its CA"
    );
    let now = SystemTime::now();
    assert!(
        nb <= now + Duration::from_secs(60),
        "notBefore in the future"
    );
    // Issued during this test run: notBefore is at most a small skew before issuance, which
    // was less than 30 minutes ago (a large back-date would trigger the requirer's renewal).
    assert!(
        now.duration_since(nb).unwrap_or_default() < Duration::from_secs(1800),
        "notBefore back-dated too far"
    );
    assert!(na > now, "already expired");
    let serial = cert.serial_number().to_bn().unwrap();
    assert!(serial.num_bits() >= 64, "serial of at least 64 bits");
    cert
}

/// The `ca` PEM of an entry, parsed.
pub fn entry_ca(entry: &Value) -> X509 {
    parse_cert(entry["ca"].as_str().expect("ca"))
}

/// DER of a PEM certificate.
pub fn der(pem: &str) -> Vec<u8> {
    parse_cert(pem).to_der().unwrap()
}

/// DER of a PEM CSR.
pub fn csr_der(pem: &str) -> Vec<u8> {
    X509Req::from_pem(pem.as_bytes()).unwrap().to_der().unwrap()
}
