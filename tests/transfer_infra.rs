//! The test infrastructure of the certificate_transfer (`send-ca-cert`) tests, checked on its own
//! (no tls-provider involved): the in-process TLS handshake.

mod common;

use common::handshake::handshake;
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
