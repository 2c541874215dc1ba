//! The test infrastructure of the certificate_transfer (`send-ca-cert`) tests, checked on its own
//! (no tls-provider involved): the in-process TLS handshake, the library's parse and dump of
//! databags (`tests/charms/tools/parse_transfer.py`), and the ca-client test charm against a
//! puppet provider whose databags the test writes as the library's provider would.
//!
//! Needs `make test-charms` and `cargo build -p jujusim`.

mod common;

use common::handshake::handshake;
use common::interop::new_model;
use common::transfer::*;
use jujusim::Databag;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair, SanType,
};

// ---------------------------------------------------------------------------------------------
// Certificates for the tests

/// A certificate with its key, and what signs with it.
struct Issued {
    cert: rcgen::Certificate,
    key: KeyPair,
}

impl Issued {
    fn pem(&self) -> String {
        self.cert.pem()
    }
    fn key_pem(&self) -> String {
        self.key.serialize_pem()
    }
}

fn params(cn: &str, sans: Vec<SanType>) -> CertificateParams {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    p.distinguished_name = dn;
    p.subject_alt_names = sans;
    p
}

fn ca_params(cn: &str) -> CertificateParams {
    let mut p = params(cn, vec![]);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p
}

/// A self-signed CA.
fn root(cn: &str) -> Issued {
    let key = KeyPair::generate().unwrap();
    let cert = ca_params(cn).self_signed(&key).unwrap();
    Issued { cert, key }
}

/// A certificate made from `p`, signed by `issuer`.
fn signed(p: CertificateParams, issuer: &Issued) -> Issued {
    let key = KeyPair::generate().unwrap();
    let cert = p.signed_by(&key, &issuer.cert, &issuer.key).unwrap();
    Issued { cert, key }
}

/// A server certificate for `svc.example.com` and 10.0.0.7, signed by `issuer`.
fn leaf(issuer: &Issued) -> Issued {
    signed(
        params(
            "svc.example.com",
            vec![
                SanType::DnsName("svc.example.com".try_into().unwrap()),
                SanType::IpAddress("10.0.0.7".parse().unwrap()),
            ],
        ),
        issuer,
    )
}

fn v(pems: &[&Issued]) -> Vec<String> {
    pems.iter().map(|c| c.pem()).collect()
}

// ---------------------------------------------------------------------------------------------
// The handshake helper

#[test]
fn handshake_succeeds_against_the_issuing_ca() {
    let ca = root("ca-1");
    let srv = leaf(&ca);
    handshake(
        &srv.pem(),
        &srv.key_pem(),
        &[],
        &v(&[&ca]),
        "svc.example.com",
    )
    .unwrap();
    // An IP SAN, and a leaf-first chain passed as it is.
    handshake(
        &srv.pem(),
        &srv.key_pem(),
        &v(&[&srv, &ca]),
        &v(&[&ca]),
        "10.0.0.7",
    )
    .unwrap();
}

#[test]
fn handshake_fails_trusting_an_unrelated_ca() {
    let ca = root("ca-1");
    let srv = leaf(&ca);
    let other = root("ca-2");
    let err = handshake(
        &srv.pem(),
        &srv.key_pem(),
        &[],
        &v(&[&other]),
        "svc.example.com",
    )
    .unwrap_err();
    assert_eq!(err, "unable to get local issuer certificate");
    // A CA of the same name with another key: found by name, refused by signature.
    let impostor = root("ca-1");
    let err = handshake(
        &srv.pem(),
        &srv.key_pem(),
        &[],
        &v(&[&impostor]),
        "svc.example.com",
    )
    .unwrap_err();
    assert_eq!(err, "certificate signature failure");
    let err = handshake(&srv.pem(), &srv.key_pem(), &[], &[], "svc.example.com").unwrap_err();
    assert_eq!(err, "unable to get local issuer certificate");
}

#[test]
fn handshake_fails_on_a_wrong_hostname() {
    let ca = root("ca-1");
    let srv = leaf(&ca);
    for name in ["other.example.com", "10.0.0.8"] {
        let err = handshake(&srv.pem(), &srv.key_pem(), &[], &v(&[&ca]), name).unwrap_err();
        assert!(
            err.contains("hostname mismatch") || err.contains("IP address mismatch"),
            "{name}: {err}"
        );
    }
}

#[test]
fn handshake_during_a_ca_overlap() {
    let old = root("ca-old");
    let new = root("ca-new");
    let (old_srv, new_srv) = (leaf(&old), leaf(&new));
    let both = v(&[&old, &new]);
    for srv in [&old_srv, &new_srv] {
        handshake(&srv.pem(), &srv.key_pem(), &[], &both, "svc.example.com").unwrap();
    }
    let err = handshake(
        &old_srv.pem(),
        &old_srv.key_pem(),
        &[],
        &v(&[&new]),
        "svc.example.com",
    )
    .unwrap_err();
    assert!(
        err.contains("unable to get local issuer certificate"),
        "{err}"
    );
}

#[test]
fn handshake_with_an_intermediate_needs_the_chain_and_a_trusted_root() {
    let ca = root("root");
    let int = signed(ca_params("intermediate"), &ca);
    let srv = leaf(&int);
    handshake(
        &srv.pem(),
        &srv.key_pem(),
        &v(&[&int]),
        &v(&[&ca]),
        "svc.example.com",
    )
    .unwrap();
    // Without the intermediate the client cannot build the path.
    let err = handshake(
        &srv.pem(),
        &srv.key_pem(),
        &[],
        &v(&[&ca]),
        "svc.example.com",
    )
    .unwrap_err();
    assert!(
        err.contains("unable to get local issuer certificate"),
        "{err}"
    );
    // Trusting only the intermediate is not enough (no partial chains).
    let err = handshake(
        &srv.pem(),
        &srv.key_pem(),
        &v(&[&int]),
        &v(&[&int]),
        "svc.example.com",
    )
    .unwrap_err();
    assert!(err.contains("unable to get issuer certificate"), "{err}");
}

#[test]
fn handshake_fails_on_an_expired_certificate_and_a_wrong_key() {
    let ca = root("ca-1");
    let mut p = params(
        "svc.example.com",
        vec![SanType::DnsName("svc.example.com".try_into().unwrap())],
    );
    p.not_before = rcgen::date_time_ymd(2020, 1, 1);
    p.not_after = rcgen::date_time_ymd(2021, 1, 1);
    let expired = signed(p, &ca);
    let err = handshake(
        &expired.pem(),
        &expired.key_pem(),
        &[],
        &v(&[&ca]),
        "svc.example.com",
    )
    .unwrap_err();
    assert!(err.contains("certificate has expired"), "{err}");

    let srv = leaf(&ca);
    let err = handshake(
        &srv.pem(),
        &ca.key_pem(),
        &[],
        &v(&[&ca]),
        "svc.example.com",
    )
    .unwrap_err();
    assert!(err.contains("does not match"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// The library's parse and dump

fn bag(pairs: &[(&str, &str)]) -> Databag {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A JSON list as Python's `json.dumps` writes it (`", "` between items).
fn py_list(pems: &[String]) -> String {
    let items: Vec<String> = pems
        .iter()
        .map(|p| serde_json::to_string(p).unwrap())
        .collect();
    format!("[{}]", items.join(", "))
}

#[test]
fn library_encodings_are_json_dumps_of_the_sorted_set() {
    let (a, b) = (root("a"), root("b"));
    let mut sorted = v(&[&a, &b]);
    sorted.sort();
    let given = vec![sorted[1].clone(), sorted[0].clone(), sorted[1].clone()];

    let v1 = library_dump_v1(&given);
    assert_eq!(
        v1,
        bag(&[("certificates", &py_list(&sorted)), ("version", "1")])
    );
    assert_ne!(
        v1["certificates"],
        serde_json::to_string(&sorted).unwrap(),
        "not serde_json's compact form"
    );
    assert_eq!(
        parse_v1(&v1).unwrap(),
        V1Data {
            certificates: sorted.clone(),
            version: 1
        }
    );

    let v0 = library_dump_v0(&given).unwrap();
    let first = serde_json::to_string(&sorted[0]).unwrap();
    assert_eq!(
        v0,
        bag(&[
            ("ca", &first),
            ("certificate", &first),
            ("chain", &py_list(&sorted)),
            ("version", "0"),
        ])
    );
    assert_eq!(
        parse_v0(&v0).unwrap(),
        V0Data {
            ca: sorted[0].clone(),
            certificate: sorted[0].clone(),
            chain: Some(sorted.clone()),
            version: 0
        }
    );
    assert_eq!(
        library_dump_v0(&[]),
        None,
        "an empty set leaves the unit bag"
    );
    assert_eq!(
        library_dump_v1(&[]),
        bag(&[("certificates", "[]"), ("version", "1")])
    );
}

#[test]
fn library_parse_rejects_what_the_requirer_rejects() {
    let ca = root("a").pem();
    let quoted = serde_json::to_string(&ca).unwrap();
    // v0: raw PEM (not JSON), missing fields, wrong types.
    let err = parse_v0(&bag(&[("ca", &ca), ("certificate", &quoted)])).unwrap_err();
    assert!(err.contains("expecting json"), "{err}");
    let err = parse_v0(&bag(&[("ca", &quoted)])).unwrap_err();
    assert!(
        err.contains("certificate") && err.contains("Field required"),
        "{err}"
    );
    let err = parse_v0(&bag(&[
        ("ca", &quoted),
        ("certificate", &quoted),
        ("chain", "[1]"),
    ]))
    .unwrap_err();
    assert!(err.contains("chain.0"), "{err}");
    // Extra keys (the simulator's addresses) are ignored; chain and version are optional.
    let ok = parse_v0(&bag(&[
        ("ca", &quoted),
        ("certificate", &quoted),
        ("private-address", "10.0.0.1"),
    ]))
    .unwrap();
    assert_eq!((ok.chain, ok.version), (None, 0));
    // v1: an empty bag is valid (no certificates, version 1); wrong types are not.
    assert_eq!(
        parse_v1(&Databag::new()).unwrap(),
        V1Data {
            certificates: vec![],
            version: 1
        }
    );
    assert!(parse_v1(&bag(&[("certificates", &quoted)])).is_err());
    assert!(parse_v1(&bag(&[("certificates", "[]"), ("version", "\"x\"")])).is_err());
}

#[test]
fn requirer_view_falls_back_to_v0_only_without_app_certificates_and_version() {
    let (a, b) = (root("a"), root("b"));
    let v0 = library_dump_v0(&v(&[&a])).unwrap();
    let v1 = library_dump_v1(&v(&[&b]));
    let unit = |bag: &Databag| vec![("src/0".to_string(), bag.clone())];
    assert_eq!(requirer_view(&Databag::new(), &unit(&v0)), v(&[&a]));
    assert_eq!(requirer_view(&v1, &unit(&v0)), v(&[&b]));
    // version "1" with no certificates: no fallback.
    let empty_v1 = library_dump_v1(&[]);
    assert_eq!(requirer_view(&empty_v1, &unit(&v0)), Vec::<String>::new());
    // Only the first unit is read.
    let units = vec![
        ("src/1".to_string(), Databag::new()),
        ("src/0".to_string(), v0.clone()),
    ];
    assert_eq!(requirer_view(&Databag::new(), &units), Vec::<String>::new());
}

// ---------------------------------------------------------------------------------------------
// The ca-client charm

#[test]
fn ca_client_follows_a_v1_provider() {
    let mut m = new_model();
    deploy_puppet_provider(&mut m, "src", 1);
    deploy_ca_client(&mut m, "client", 2);
    let rel = relate_ca_client(&mut m, "client", "src");
    m.settle().unwrap();
    // The library's leader announced version 1; non-leaders cannot write the app bag.
    assert_eq!(
        m.relation_data(rel, "client")
            .get("version")
            .map(String::as_str),
        Some("1")
    );
    for u in ["client/0", "client/1"] {
        let (record, current) = client_report(&mut m, u);
        // The first -relation-changed emits certificate_set_updated even for an empty set.
        assert_eq!((record.bundle.len(), record.updates), (0, 1), "{u}");
        assert!(current.is_empty());
        let st = m.unit_status(u);
        assert_eq!(
            (st.workload.as_str(), st.message.as_str()),
            ("waiting", "trusting 0 certificate(s)")
        );
    }

    let (old, new) = (root("ca-old"), root("ca-new"));
    let (old_srv, new_srv) = (leaf(&old), leaf(&new));
    let mut overlap = v(&[&old, &new]);
    overlap.sort();
    // (bundle published, updates so far, accepts old_srv, accepts new_srv)
    let steps: [(Vec<String>, usize, bool, bool); 3] = [
        (v(&[&old]), 2, true, false),
        (overlap.clone(), 3, true, true),
        (v(&[&new]), 4, false, true),
    ];
    for (pems, updates, trusts_old, trusts_new) in steps {
        m.set_relation_data(rel, "src", library_dump_v1(&pems))
            .unwrap();
        // After every hook, the file record and the status agree with each other.
        m.settle_observing(|model, run| {
            if run.unit.starts_with("client/") {
                let r = client_record(model, &run.unit);
                let st = model.unit_status(&run.unit);
                let want = format!("trusting {} certificate(s)", r.bundle.len());
                if st.message != want {
                    return Err(format!("{}: {:?} but record {r:?}", run.unit, st));
                }
            }
            Ok(())
        })
        .unwrap();
        for u in ["client/0", "client/1"] {
            let (record, current) = client_report(&mut m, u);
            assert_eq!(record.bundle, pems, "{u}");
            assert_eq!(record.updates, updates, "{u}");
            assert_eq!(record.relations, [(rel, pems.clone())].into(), "{u}");
            assert_eq!(current, pems);
            assert_eq!(client_record(&m, u), record, "bundle.json = get-bundle");
            for (srv, trusted) in [(&old_srv, trusts_old), (&new_srv, trusts_new)] {
                let r = client_accepts(&m, u, &srv.pem(), &srv.key_pem(), &[], "svc.example.com");
                assert_eq!(r.is_ok(), trusted, "{u}: {r:?}");
            }
        }
    }
    assert_eq!(m.unit_status("client/0").workload, "active");
    assert_eq!(client_bundle(&mut m, "client/1"), v(&[&new]));
    assert_eq!(client_updates(&mut m, "client/1"), 4);

    // A change that leaves the set alone is no update.
    let mut same = library_dump_v1(&v(&[&new]));
    same.insert("unrelated".into(), "x".into());
    m.set_relation_data(rel, "src", same).unwrap();
    let ran = m.settle().unwrap();
    assert!(
        ran.runs.iter().any(|r| r.unit == "client/0"),
        "a -changed ran"
    );
    assert_eq!(client_updates(&mut m, "client/0"), 4);

    m.unrelate(rel).unwrap();
    m.settle().unwrap();
    let (record, _) = client_report(&mut m, "client/0");
    assert_eq!(
        (record.bundle.len(), record.updates, record.removals),
        (0, 4, 1)
    );
    assert!(record.relations.is_empty());
    let st = m.unit_status("client/0");
    assert_eq!(
        (st.workload.as_str(), st.message.as_str()),
        ("blocked", "missing receive-ca-cert relation")
    );
}

#[test]
fn ca_client_falls_back_to_a_v0_unit_databag() {
    let mut m = new_model();
    deploy_puppet_provider(&mut m, "src", 1);
    deploy_ca_client(&mut m, "client", 1);
    let rel = relate_ca_client(&mut m, "client", "src");
    m.settle().unwrap();
    let ca = root("ca-v0");
    let mut unit_bag = m.relation_data(rel, "src/0");
    unit_bag.extend(library_dump_v0(&v(&[&ca])).unwrap());
    m.set_relation_data(rel, "src/0", unit_bag).unwrap();
    m.settle().unwrap();
    let (record, current) = client_report(&mut m, "client/0");
    assert_eq!(record.bundle, v(&[&ca]));
    assert_eq!(current, v(&[&ca]));
    assert_eq!(record.updates, 2);
    // Certificates in the app bag take over from the unit bag.
    let ca2 = root("ca-v1");
    m.set_relation_data(rel, "src", library_dump_v1(&v(&[&ca2])))
        .unwrap();
    m.settle().unwrap();
    assert_eq!(client_bundle(&mut m, "client/0"), v(&[&ca2]));
}
