//! Tests of the PKI layer against independent implementations: CSRs from the real Python
//! requirer library (fixtures in `tests/fixtures/csr/`), from `rcgen`, and from the `openssl`
//! command line; issued certificates checked with `openssl verify` and `openssl x509 -text`.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::{X509NameBuilder, X509Req, X509};

use super::*;

/// The integration tests' `openssl` command line helpers.
#[allow(dead_code)]
#[path = "../../tests/common/pki.rs"]
pub(super) mod cli;

use cli::{openssl_cli, openssl_req_p256};

// ---------------------------------------------------------------------------------------------
// helpers

fn dns_of(sans: &[San]) -> Vec<String> {
    san::dns_names(sans).map(String::from).collect()
}

fn oids_of(sans: &[San]) -> Vec<String> {
    san::oids(sans).map(String::from).collect()
}

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/csr")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn parse_fixture(name: &str) -> ParsedCsr {
    ParsedCsr::parse(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn subject() -> CaSubject {
    CaSubject {
        common_name: "Test Root CA".into(),
        organization: Some("Example Org".into()),
        organizational_unit: None,
        email_address: Some(String::new()),
        country_name: Some("GB".into()),
        state_or_province_name: None,
        locality_name: Some("London".into()),
    }
}

const DAY: u64 = 86_400;

fn ca(alg: KeyAlgorithm) -> Ca {
    Ca::generate(&subject(), alg, 365 * DAY).unwrap()
}

struct Tmp(tempfile::TempDir);

impl Tmp {
    fn new() -> Tmp {
        Tmp(tempfile::tempdir().unwrap())
    }
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

/// `openssl verify -CAfile root [-untrusted chain] [extra...] leaf`.
fn openssl_verify(root: &X509, untrusted: &[&X509], leaf: &X509, extra: &[&str]) -> (bool, String) {
    let tmp = Tmp::new();
    let root_p = tmp.write("root.pem", &cert_to_pem(root));
    let leaf_p = tmp.write("leaf.pem", &cert_to_pem(leaf));
    let mut args: Vec<String> = vec!["verify".into(), "-CAfile".into(), s(&root_p)];
    if !untrusted.is_empty() {
        let bundle: Vec<String> = untrusted.iter().map(|c| cert_to_pem(c)).collect();
        let p = tmp.write("untrusted.pem", &(bundle.join("\n") + "\n"));
        args.extend(["-untrusted".into(), s(&p)]);
    }
    args.extend(extra.iter().map(|a| a.to_string()));
    args.push(s(&leaf_p));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    openssl_cli(tmp.0.path(), &refs)
}

fn assert_verifies(root: &X509, untrusted: &[&X509], leaf: &X509, extra: &[&str]) {
    let (ok, out) = openssl_verify(root, untrusted, leaf, extra);
    assert!(ok && out.contains(": OK"), "openssl verify failed: {out}");
}

fn x509_text(cert: &X509) -> String {
    let tmp = Tmp::new();
    let p = tmp.write("c.pem", &cert_to_pem(cert));
    let (ok, out) = openssl_cli(tmp.0.path(), &["x509", "-noout", "-text", "-in", &s(&p)]);
    assert!(ok, "{out}");
    out
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// The lines of `openssl x509 -text` that follow the extension header `name`, up to the next
/// extension header, joined.
fn ext_block(text: &str, name: &str) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let i = lines
        .iter()
        .position(|l| l.trim_start().starts_with(name))?;
    let mut out = vec![lines[i].trim().to_string()];
    for l in &lines[i + 1..] {
        if l.starts_with("                ") && !l.trim_start().starts_with("X509v3") {
            out.push(l.trim().to_string());
        } else {
            break;
        }
    }
    Some(out.join(" | "))
}

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn issue_leaf(ca: &Ca, csr: &ParsedCsr) -> X509 {
    issue_at(ca, csr, false, 90 * DAY, SystemTime::now())
}

fn issue_at(ca: &Ca, csr: &ParsedCsr, is_ca: bool, validity_secs: u64, now: SystemTime) -> X509 {
    let req = IssueRequest {
        crl_url: None,
        csr,
        is_ca,
        validity_secs,
        now,
    };
    issue(ca, &req).unwrap()
}

fn rsa_key(bits: u32) -> PKey<Private> {
    PKey::from_rsa(Rsa::generate(bits).unwrap()).unwrap()
}

fn ec_key(nid: Nid) -> PKey<Private> {
    PKey::from_ec_key(EcKey::generate(&EcGroup::from_curve_name(nid).unwrap()).unwrap()).unwrap()
}

/// A CSR built with the openssl crate directly (no SANs), signed with `md`.
fn raw_csr(key: &PKey<Private>, cn: &str, md: MessageDigest) -> String {
    let mut b = X509Req::builder().unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_nid(Nid::COMMONNAME, cn).unwrap();
    b.set_subject_name(&name.build()).unwrap();
    b.set_pubkey(key).unwrap();
    b.sign(key, md).unwrap();
    String::from_utf8(b.build().to_pem().unwrap()).unwrap()
}

// ---------------------------------------------------------------------------------------------
// keys

#[test]
fn key_algorithm_spellings_round_trip() {
    for alg in KeyAlgorithm::ALL {
        assert_eq!(KeyAlgorithm::parse(alg.as_str()), Some(alg));
        assert_eq!(alg.to_string(), alg.as_str());
    }
    assert_eq!(KeyAlgorithm::parse("rsa-2048"), Some(KeyAlgorithm::Rsa2048));
    assert_eq!(
        KeyAlgorithm::parse("ecdsa-p384"),
        Some(KeyAlgorithm::EcdsaP384)
    );
    for bad in [
        "",
        "rsa",
        "RSA-2048",
        "rsa-1024",
        "ecdsa-p521",
        " rsa-2048",
        "ed25519",
    ] {
        assert_eq!(KeyAlgorithm::parse(bad), None, "{bad:?}");
    }
}

#[test]
fn generated_keys_have_their_algorithm_and_pem_round_trips() {
    for alg in KeyAlgorithm::ALL {
        let key = alg.generate().unwrap();
        assert_eq!(KeyAlgorithm::of_key(&key), Some(alg));
        let pem = private_key_to_pem(&key).unwrap();
        assert!(
            pem.starts_with("-----BEGIN PRIVATE KEY-----\n"),
            "{alg}: PKCS#8"
        );
        assert!(
            pem.ends_with("-----END PRIVATE KEY-----"),
            "{alg}: no trailing newline"
        );
        let back = private_key_from_pem(&pem.replace('\n', "\r\n")).unwrap();
        assert!(key_matches(&back, &key));
        assert_eq!(KeyAlgorithm::of_key(&back), Some(alg));
    }
    assert_eq!(KeyAlgorithm::of_key(&rsa_key(1024)), None);
    assert_eq!(KeyAlgorithm::of_key(&ec_key(Nid::SECP521R1)), None);
    let err = private_key_from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----")
        .unwrap_err();
    assert!(!err.to_string().contains("AAAA"));
    assert!(!key_matches(
        &KeyAlgorithm::EcdsaP256.generate().unwrap(),
        &KeyAlgorithm::EcdsaP256.generate().unwrap()
    ));
}

// ---------------------------------------------------------------------------------------------
// CA

#[test]
fn generated_ca_has_the_documented_extensions_and_digest() {
    for (alg, sig) in [
        (KeyAlgorithm::Rsa2048, "sha256WithRSAEncryption"),
        (KeyAlgorithm::EcdsaP256, "ecdsa-with-SHA256"),
        (KeyAlgorithm::EcdsaP384, "ecdsa-with-SHA384"),
    ] {
        let now = SystemTime::now();
        let ca = Ca::generate_at(&subject(), alg, 365 * DAY, now).unwrap();
        assert_eq!(ca.key_algorithm(), Some(alg));
        assert_eq!(unix(ca.not_before()), unix(now) - 60);
        assert_eq!(unix(ca.not_after()), unix(now) + 365 * DAY);
        assert_eq!(ca.validity_secs(), 365 * DAY + 60);
        assert_eq!(ca.requested_validity_secs(), 365 * DAY);
        assert!(is_ca(&ca.cert));
        assert_verifies(&ca.cert, &[], &ca.cert, &[]);

        let text = x509_text(&ca.cert);
        assert!(
            text.contains(&format!("Signature Algorithm: {sig}")),
            "{alg}: {text}"
        );
        assert!(
            text.contains("Subject: CN = Test Root CA, O = Example Org, C = GB, L = London"),
            "{text}"
        );
        assert!(text.contains("Issuer: CN = Test Root CA, O = Example Org, C = GB, L = London"));
        let bc = ext_block(&text, "X509v3 Basic Constraints").unwrap();
        assert_eq!(bc, "X509v3 Basic Constraints: critical | CA:TRUE");
        let ku = ext_block(&text, "X509v3 Key Usage").unwrap();
        assert_eq!(
            ku,
            "X509v3 Key Usage: critical | Certificate Sign, CRL Sign"
        );
        let ski = ext_block(&text, "X509v3 Subject Key Identifier").unwrap();
        let aki = ext_block(&text, "X509v3 Authority Key Identifier").unwrap();
        let ski_hex = ski.split(" | ").nth(1).unwrap().to_string();
        assert!(
            aki.contains(&ski_hex),
            "AKI {aki} should hold the SKI {ski_hex}"
        );
        // Our SKI is RFC 5280 method 1, the same as OpenSSL computes.
        let expected = ca.cert.subject_key_id().unwrap().as_slice().to_vec();
        assert_eq!(
            expected,
            sign::subject_key_id(&ca.cert.public_key().unwrap()).unwrap()
        );
        assert!(ca.cert.serial_number().to_bn().unwrap().num_bits() >= 64);
        assert!(!text.contains("Extended Key Usage"));
    }
}

#[test]
fn ca_subject_matching_is_exact() {
    let ca = ca(KeyAlgorithm::EcdsaP256);
    assert!(ca.subject_matches(&subject()));
    let mut same_with_empty = subject();
    same_with_empty.organizational_unit = Some(String::new());
    assert!(
        ca.subject_matches(&same_with_empty),
        "empty strings are unset"
    );
    let mut other = subject();
    other.common_name = "Other CA".into();
    assert!(!ca.subject_matches(&other));
    let mut extra = subject();
    extra.state_or_province_name = Some("Greater London".into());
    assert!(!ca.subject_matches(&extra), "an attribute the cert lacks");
    let mut fewer = subject();
    fewer.locality_name = None;
    assert!(!ca.subject_matches(&fewer), "an attribute the cert has");
    let mut moved = subject();
    moved.organization = Some("London".into());
    moved.locality_name = Some("Example Org".into());
    assert!(
        !ca.subject_matches(&moved),
        "values swapped between attributes"
    );
}

#[test]
fn ca_pem_round_trip_and_key_mismatch() {
    let ca1 = ca(KeyAlgorithm::EcdsaP256);
    let ca2 = ca(KeyAlgorithm::EcdsaP256);
    assert!(!ca1.cert_pem().ends_with('\n'));
    assert!(ca1.key_pem().starts_with("-----BEGIN PRIVATE KEY-----"));
    let back = Ca::from_pem(&ca1.cert_pem(), &ca1.key_pem()).unwrap();
    assert_eq!(back.cert.to_der().unwrap(), ca1.cert.to_der().unwrap());
    assert!(back.key.public_eq(&ca1.key));
    assert!(!format!("{back:?}").contains("PRIVATE"));
    // CRLF and trailing newlines are fine.
    let crlf = ca1.cert_pem().replace('\n', "\r\n") + "\r\n";
    assert!(Ca::from_pem(&crlf, &(ca1.key_pem() + "\n")).is_ok());

    let err = Ca::from_pem(&ca1.cert_pem(), &ca2.key_pem()).unwrap_err();
    assert!(err.to_string().contains("does not match"), "{err}");
    let err = Ca::from_pem("garbage", &ca1.key_pem()).unwrap_err();
    assert!(err.to_string().contains("CA certificate"), "{err}");
    let err = Ca::from_pem(&ca1.cert_pem(), "garbage").unwrap_err();
    assert!(err.to_string().contains("CA private key"), "{err}");
    let two = format!("{}\n{}", ca1.cert_pem(), ca2.cert_pem());
    assert!(Ca::from_pem(&two, &ca1.key_pem()).is_err());

    // A leaf with its key is not a CA.
    let key = KeyAlgorithm::EcdsaP256.generate().unwrap();
    let req = generate_csr(&key, "leaf.example.com", &[]).unwrap();
    let parsed = ParsedCsr::parse(&csr_to_pem(&req).unwrap()).unwrap();
    let leaf = issue_leaf(&ca1, &parsed);
    let err = Ca::from_pem(&cert_to_pem(&leaf), &private_key_to_pem(&key).unwrap()).unwrap_err();
    assert!(err.to_string().contains("CA:TRUE"), "{err}");
}

#[test]
fn ca_subject_errors_name_the_option() {
    let mut bad = subject();
    bad.country_name = Some("GBR".into());
    let err = Ca::generate(&bad, KeyAlgorithm::EcdsaP256, DAY).unwrap_err();
    assert!(err.to_string().contains("ca-country-name"), "{err}");
    let mut bad = subject();
    bad.common_name = String::new();
    let err = Ca::generate(&bad, KeyAlgorithm::EcdsaP256, DAY).unwrap_err();
    assert!(err.to_string().contains("ca-common-name"), "{err}");
    let mut bad = subject();
    bad.organizational_unit = Some("x".repeat(65));
    let err = Ca::generate(&bad, KeyAlgorithm::EcdsaP256, DAY).unwrap_err();
    assert!(err.to_string().contains("ca-organizational-unit"), "{err}");
    let mut bad = subject();
    bad.email_address = Some("é@example.com".into());
    let err = Ca::generate(&bad, KeyAlgorithm::EcdsaP256, DAY).unwrap_err();
    assert!(err.to_string().contains("ca-email-address"), "{err}");
    assert!(Ca::generate(&subject(), KeyAlgorithm::EcdsaP256, 0).is_err());

    // All attributes set, including a UTF-8 one.
    let full = CaSubject {
        common_name: "Ünïcode CA".into(),
        organization: Some("O".into()),
        organizational_unit: Some("OU".into()),
        email_address: Some("ca@example.com".into()),
        country_name: Some("DE".into()),
        state_or_province_name: Some("Berlin".into()),
        locality_name: Some("Berlin".into()),
    };
    let ca = Ca::generate(&full, KeyAlgorithm::EcdsaP256, DAY).unwrap();
    assert!(ca.subject_matches(&full));
}

// ---------------------------------------------------------------------------------------------
// CSR parsing: fixtures from the real requirer library

#[test]
fn python_csr_rsa2048_with_every_san_kind() {
    let csr = parse_fixture("rsa2048_full.pem");
    assert_eq!(csr.common_name.as_deref(), Some("app.example.com"));
    let mut dns = dns_of(&csr.sans);
    dns.sort();
    assert_eq!(dns, ["app-0.app-endpoints.example.com", "app.example.com"]);
    let mut ips: Vec<IpAddr> = san::ip_addrs(&csr.sans).collect();
    ips.sort();
    let want: Vec<IpAddr> = vec!["10.0.0.1".parse().unwrap(), "2001:db8::1".parse().unwrap()];
    assert_eq!(ips, want);
    assert_eq!(oids_of(&csr.sans), ["1.2.3.4.5"]);
    assert_eq!(csr.key_algorithm, KeyAlgorithm::Rsa2048);
    assert_eq!(csr.key_bits, 2048);
    // The library publishes the re-serialised PEM, so our canonical form is identical to it.
    assert_eq!(csr.canonical_pem(), fixture("rsa2048_full.pem"));
    assert_eq!(csr.san_strings().len(), 5);
}

#[test]
fn python_csr_variants_parse() {
    let c = parse_fixture("rsa4096.pem");
    assert_eq!((c.key_algorithm, c.key_bits), (KeyAlgorithm::Rsa4096, 4096));
    assert_eq!(dns_of(&c.sans), ["big.example.com"]);

    let c = parse_fixture("ec_p256_ip.pem");
    assert_eq!(
        (c.key_algorithm, c.key_bits),
        (KeyAlgorithm::EcdsaP256, 256)
    );
    let mut ips: Vec<String> = san::ip_addrs(&c.sans).map(|i| i.to_string()).collect();
    ips.sort();
    assert_eq!(ips, ["192.168.1.20", "fd00::20"]);

    let c = parse_fixture("ec_p384.pem");
    assert_eq!(
        (c.key_algorithm, c.key_bits),
        (KeyAlgorithm::EcdsaP384, 384)
    );
    assert_eq!(oids_of(&c.sans), ["1.3.6.1.4.1.99999.1"]);

    let c = parse_fixture("ec_no_cn.pem");
    assert_eq!(c.common_name, None);
    assert_eq!(dns_of(&c.sans), ["nocn.example.com"]);
    // the subject still holds the unique id
    assert_eq!(c.subject().entries().count(), 1);

    let c = parse_fixture("ec_ip_only_no_uid.pem");
    assert_eq!(c.common_name, None);
    assert_eq!(c.sans, [San::Ip("10.1.2.3".parse().unwrap())]);

    let c = parse_fixture("ec_wildcard.pem");
    assert_eq!(c.common_name.as_deref(), Some("*.example.com"));

    let c = parse_fixture("ec_ca_request.pem");
    assert_eq!(c.common_name.as_deref(), Some("Intermediate CA"));
    assert!(c.sans.is_empty());
}

#[test]
fn python_csr_with_unknown_critical_extension_is_refused_naming_the_oid() {
    let err = ParsedCsr::parse(&fixture("ec_critical_ext.pem"))
        .err()
        .unwrap();
    match &err {
        CsrError::BadExtension(m) => {
            assert!(m.contains("1.3.6.1.5.5.7.48.1.5"), "{m}");
            assert!(m.contains("critical"), "{m}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn tampered_signature_is_refused() {
    let err = ParsedCsr::parse(&fixture("rsa2048_tampered.pem"))
        .err()
        .unwrap();
    assert_eq!(err, CsrError::BadSignature);
}

#[test]
fn whitespace_and_surrounding_text_do_not_matter() {
    let plain = parse_fixture("rsa2048_full.pem");
    let crlf = parse_fixture("rsa2048_full_crlf.pem");
    assert_eq!(plain.der, crlf.der);
    let text = fixture("rsa2048_full.pem");
    let variants = [
        format!("{text}\n"),
        format!("\n\n  {text}  \n\n"),
        format!("some openssl text dump\nSubject: CN=x\n{text}\ntrailer"),
        text.replace('\n', "\r\n"),
        // rewrapped at 76 columns
        {
            let body: String = text
                .lines()
                .filter(|l| !l.starts_with("-----"))
                .collect::<Vec<_>>()
                .concat();
            let lines: Vec<String> = body
                .as_bytes()
                .chunks(76)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect();
            format!(
                "-----BEGIN CERTIFICATE REQUEST-----\n{}\n-----END CERTIFICATE REQUEST-----",
                lines.join("\n")
            )
        },
        text.replace("CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"),
    ];
    for v in variants {
        let c = ParsedCsr::parse(&v).unwrap_or_else(|e| panic!("{e}: {v:?}"));
        assert_eq!(c.der, plain.der);
    }
}

// ---------------------------------------------------------------------------------------------
// CSR parsing: rcgen (EC) and openssl (RSA)

fn rcgen_csr(
    alg: &'static rcgen::SignatureAlgorithm,
    cn: Option<&str>,
    sans: Vec<rcgen::SanType>,
    custom: Vec<rcgen::CustomExtension>,
) -> String {
    let key = rcgen::KeyPair::generate_for(alg).unwrap();
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    if let Some(cn) = cn {
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
    }
    params.subject_alt_names = sans;
    params.custom_extensions = custom;
    params.serialize_request(&key).unwrap().pem().unwrap()
}

fn dns(s: &str) -> rcgen::SanType {
    rcgen::SanType::DnsName(s.try_into().unwrap())
}

fn ip(s: &str) -> rcgen::SanType {
    rcgen::SanType::IpAddress(s.parse().unwrap())
}

#[test]
fn rcgen_ec_csrs_parse() {
    let pem = rcgen_csr(
        &rcgen::PKCS_ECDSA_P256_SHA256,
        Some("svc.example.com"),
        vec![dns("svc.example.com"), ip("10.9.8.7"), ip("::1")],
        vec![],
    );
    let c = ParsedCsr::parse(&pem).unwrap();
    assert_eq!(c.common_name.as_deref(), Some("svc.example.com"));
    assert_eq!(dns_of(&c.sans), ["svc.example.com"]);
    assert_eq!(san::ip_addrs(&c.sans).count(), 2);
    assert_eq!(c.key_algorithm, KeyAlgorithm::EcdsaP256);

    let pem = rcgen_csr(
        &rcgen::PKCS_ECDSA_P384_SHA384,
        None,
        vec![dns("only-san.example.com")],
        vec![],
    );
    let c = ParsedCsr::parse(&pem).unwrap();
    assert_eq!(c.common_name, None);
    assert_eq!(c.key_algorithm, KeyAlgorithm::EcdsaP384);
    assert_eq!(c.subject().entries().count(), 0);

    // No names at all.
    let pem = rcgen_csr(&rcgen::PKCS_ECDSA_P256_SHA256, None, vec![], vec![]);
    assert_eq!(ParsedCsr::parse(&pem).err(), Some(CsrError::NoNames));

    // Unknown critical extension (rcgen builds it) and an unknown non-critical one.
    let mut crit = rcgen::CustomExtension::from_oid_content(&[1, 2, 3, 4, 99], vec![0x05, 0x00]);
    crit.set_criticality(true);
    let pem = rcgen_csr(
        &rcgen::PKCS_ECDSA_P256_SHA256,
        Some("x.example.com"),
        vec![],
        vec![crit],
    );
    match ParsedCsr::parse(&pem).err() {
        Some(CsrError::BadExtension(m)) => assert!(m.contains("1.2.3.4.99"), "{m}"),
        other => panic!("{other:?}"),
    }
    let benign = rcgen::CustomExtension::from_oid_content(&[1, 2, 3, 4, 98], vec![0x05, 0x00]);
    let pem = rcgen_csr(
        &rcgen::PKCS_ECDSA_P256_SHA256,
        Some("x.example.com"),
        vec![],
        vec![benign],
    );
    assert!(ParsedCsr::parse(&pem).is_ok());
    // A critical keyUsage is accepted (and ignored: the signer sets its own).
    let mut ku =
        rcgen::CustomExtension::from_oid_content(&[2, 5, 29, 15], vec![0x03, 0x02, 0x05, 0xa0]);
    ku.set_criticality(true);
    let pem = rcgen_csr(
        &rcgen::PKCS_ECDSA_P256_SHA256,
        Some("x.example.com"),
        vec![],
        vec![ku],
    );
    assert!(ParsedCsr::parse(&pem).is_ok());
}

#[test]
fn openssl_cli_rsa_csrs_parse() {
    let tmp = Tmp::new();
    for (bits, alg) in [(2048, KeyAlgorithm::Rsa2048), (3072, KeyAlgorithm::Rsa3072)] {
        let csr_path = tmp.0.path().join(format!("{bits}.csr"));
        let key_path = tmp.0.path().join(format!("{bits}.key"));
        let (ok, out) = openssl_cli(
            tmp.0.path(),
            &[
                "req",
                "-new",
                "-newkey",
                &format!("rsa:{bits}"),
                "-nodes",
                "-keyout",
                &s(&key_path),
                "-out",
                &s(&csr_path),
                "-subj",
                "/CN=cli.example.com/O=CLI",
                "-addext",
                "subjectAltName=DNS:cli.example.com,IP:172.16.0.1,RID:1.2.840.1",
            ],
        );
        assert!(ok, "{out}");
        let pem = std::fs::read_to_string(&csr_path).unwrap();
        let c = ParsedCsr::parse(&pem).unwrap();
        assert_eq!(c.key_algorithm, alg);
        assert_eq!(c.key_bits, bits);
        assert_eq!(
            c.sans,
            [
                San::Dns("cli.example.com".into()),
                San::Ip("172.16.0.1".parse().unwrap()),
                San::Oid("1.2.840.1".into())
            ]
        );
    }
}

/// registeredID SANs with long arcs (`RID:1.2.18446744073709551615`, a 2.25 UUID
/// OID) are issued with the same RID; an arc beyond 128 bits is refused when the CSR is parsed.
#[test]
fn registered_ids_with_long_arcs_are_issued_or_refused_at_parse_time() {
    let tmp = Tmp::new();
    let ca = ca(KeyAlgorithm::EcdsaP256);
    let make = |oid: &str| {
        openssl_req_p256(
            tmp.0.path(),
            &["-new"],
            "rid.key",
            "rid.csr",
            "/CN=x",
            &["-addext", &format!("subjectAltName=RID:{oid}")],
        );
        std::fs::read_to_string(tmp.0.path().join("rid.csr")).unwrap()
    };
    for oid in [
        "1.2.18446744073709551615",
        "2.25.329800735698586629295641978511506172918",
    ] {
        let csr = ParsedCsr::parse(&make(oid)).unwrap_or_else(|e| panic!("{oid}: {e}"));
        assert_eq!(csr.sans, [San::Oid(oid.into())]);
        let cert = issue_leaf(&ca, &csr);
        assert!(
            x509_text(&cert).contains(&format!("Registered ID:{oid}")),
            "{}",
            x509_text(&cert)
        );
        assert_verifies(&ca.cert, &[], &cert, &[]);
    }
    let too_big = "1.2.340282366920938463463374607431768211456"; // 2^128
    match ParsedCsr::parse(&make(too_big)) {
        Err(CsrError::BadExtension(m)) => assert!(m.contains("128 bits"), "{m}"),
        other => panic!("{:?}", other.map(|c| c.sans)),
    }
}

#[test]
fn csr_asking_for_ca_in_its_own_extensions_still_gets_a_leaf() {
    // The CSR's basicConstraints / keyUsage / EKU are ignored: only the relation's `ca` flag
    // (IssueRequest::is_ca) decides.
    let tmp = Tmp::new();
    openssl_req_p256(
        tmp.0.path(),
        &["-new"],
        "ca.key",
        "ca.csr",
        "/CN=sneaky.example.com",
        &[
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign",
            "-addext",
            "extendedKeyUsage=codeSigning",
        ],
    );
    let csr_path = tmp.0.path().join("ca.csr");
    let csr = ParsedCsr::parse(&std::fs::read_to_string(&csr_path).unwrap()).unwrap();
    let ca = ca(KeyAlgorithm::EcdsaP256);
    let cert = issue_leaf(&ca, &csr);
    assert!(!is_ca(&cert));
    let text = x509_text(&cert);
    assert_eq!(
        ext_block(&text, "X509v3 Basic Constraints").unwrap(),
        "X509v3 Basic Constraints: critical | CA:FALSE"
    );
    assert!(!text.contains("Code Signing"), "{text}");
    assert!(!text.contains("Certificate Sign"), "{text}");
}

#[test]
fn keys_outside_the_accepted_set_are_refused() {
    for (key, what) in [
        (rsa_key(1024), "RSA 1024"),
        (ec_key(Nid::SECP521R1), "secp521r1"),
        (ec_key(Nid::SECP256K1), "secp256k1"),
    ] {
        let pem = raw_csr(&key, "k.example.com", MessageDigest::sha256());
        match ParsedCsr::parse(&pem).err() {
            Some(CsrError::UnsupportedKey(m)) => assert!(m.contains(what), "{m}"),
            other => panic!("{what}: {other:?}"),
        }
    }
    let ed = PKey::generate_ed25519().unwrap();
    let pem = raw_csr(&ed, "k.example.com", MessageDigest::null());
    assert!(matches!(
        ParsedCsr::parse(&pem),
        Err(CsrError::UnsupportedKey(_))
    ));
    // A large but accepted RSA key, and a SHA-1 signature (we verify, we do not judge digests).
    let c = ParsedCsr::parse(&raw_csr(
        &rsa_key(2048),
        "a.example.com",
        MessageDigest::sha1(),
    ));
    assert!(c.is_ok());
}

#[test]
fn generate_csr_helper_round_trips() {
    for alg in [KeyAlgorithm::Rsa2048, KeyAlgorithm::EcdsaP384] {
        let key = alg.generate().unwrap();
        let sans = vec![
            "legacy.example.com".to_string(),
            "10.0.0.5".to_string(),
            "fe80::1".to_string(),
        ];
        let req = generate_csr(&key, "legacy.example.com", &sans).unwrap();
        let pem = csr_to_pem(&req).unwrap();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE REQUEST-----\n"));
        assert!(pem.ends_with("-----END CERTIFICATE REQUEST-----"));
        let c = ParsedCsr::parse(&pem).unwrap();
        assert_eq!(c.common_name.as_deref(), Some("legacy.example.com"));
        assert_eq!(dns_of(&c.sans), ["legacy.example.com"]);
        assert_eq!(
            c.san_strings(),
            ["legacy.example.com", "10.0.0.5", "fe80::1"]
        );
        assert!(c.public_key().public_eq(&key));
        // openssl agrees it is well formed
        let tmp = Tmp::new();
        let p = tmp.write("r.csr", &pem);
        let (ok, out) = openssl_cli(
            tmp.0.path(),
            &["req", "-in", &s(&p), "-noout", "-verify", "-text"],
        );
        assert!(ok, "{out}");
        assert!(
            out.contains(
                "DNS:legacy.example.com, IP Address:10.0.0.5, IP Address:FE80:0:0:0:0:0:0:1"
            ),
            "{out}"
        );
        if alg == KeyAlgorithm::EcdsaP384 {
            assert!(out.contains("ecdsa-with-SHA384"), "{out}");
        }
    }
    let key = KeyAlgorithm::EcdsaP256.generate().unwrap();
    assert!(generate_csr(&key, &"a".repeat(65), &[]).is_err());
    assert!(generate_csr(&key, "x", &["bad name".into()]).is_err());
    let no_cn = generate_csr(&key, "", &["a.example.com".into()]).unwrap();
    assert_eq!(no_cn.subject_name().entries().count(), 0);
}

// ---------------------------------------------------------------------------------------------
// never panic

#[test]
fn hostile_csr_input_never_panics_and_is_refused() {
    let good = fixture("ec_p256_ip.pem");
    let cert_pem = ca(KeyAlgorithm::EcdsaP256).cert_pem();
    let body: String = good.lines().filter(|l| !l.starts_with("-----")).collect();
    let wrap = |b: &str| {
        format!("-----BEGIN CERTIFICATE REQUEST-----\n{b}\n-----END CERTIFICATE REQUEST-----")
    };
    let mut cases: Vec<(String, &str)> = vec![
        (String::new(), "the value is empty"),
        ("garbage".into(), "no -----BEGIN CERTIFICATE REQUEST-----"),
        ("\u{0}\u{1}\u{ffff}é漢字".into(), "line found"),
        (cert_pem.clone(), "CERTIFICATE"),
        (wrap("!!!!not base64!!!!"), "base64"),
        (wrap("AAAA"), "DER"),
        (wrap(""), "empty"),
        (good.replace("-----END CERTIFICATE REQUEST-----", ""), "END"),
        (format!("{good}\n{good}"), "more than one"),
        (wrap(&body[..body.len() / 2]), ""),
        (
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----".into(),
            "PRIVATE KEY",
        ),
        ("-----BEGIN ".into(), ""),
        ("-----BEGIN CERTIFICATE REQUEST-----".into(), "END"),
    ];
    // DER "bombs": deep nesting and absurd lengths, base64-encoded.
    use base64::Engine;
    let b64 = |d: &[u8]| base64::engine::general_purpose::STANDARD.encode(d);
    let mut nested = vec![0x05, 0x00];
    for _ in 0..2000 {
        nested = der::tlv(0x30, &nested);
        if nested.len() > 8000 {
            break;
        }
    }
    cases.push((wrap(&b64(&nested)), ""));
    cases.push((wrap(&b64(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x00])), ""));
    cases.push((wrap(&b64(&[0x30, 0x80, 0x00, 0x00])), ""));
    // Trailing data after a valid DER.
    let mut der_trailing = parse_fixture("ec_p256_ip.pem").der;
    der_trailing.extend_from_slice(&[0, 0]);
    cases.push((wrap(&b64(&der_trailing)), "one DER"));
    let mut wrong = Vec::new();
    for (input, needle) in &cases {
        match ParsedCsr::parse(input) {
            Ok(_) => wrong.push(format!("accepted {input:.80?}")),
            Err(e) if !e.to_string().contains(needle) => {
                wrong.push(format!("{input:.80?}: {e} should mention {needle:?}"))
            }
            Err(_) => {}
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");

    // Huge input.
    let huge = "A".repeat(10 * 1024 * 1024);
    assert_eq!(
        ParsedCsr::parse(&huge).err(),
        Some(CsrError::TooLarge(huge.len()))
    );
    assert!(matches!(
        ParsedCsr::parse(&format!("{good}{}", " ".repeat(MAX_CSR_PEM_BYTES))),
        Err(CsrError::TooLarge(_))
    ));

    // Every prefix of a real CSR.
    for i in 0..good.len() {
        if good.is_char_boundary(i) {
            let _ = ParsedCsr::parse(&good[..i]);
        }
    }
    // Every single-byte corruption of the DER: never accepted unless it still verifies (it
    // cannot, the signature covers everything but the signature itself and the outer header).
    let der_bytes = parse_fixture("ec_p256_ip.pem").der;
    let mut accepted = 0;
    for i in 0..der_bytes.len() {
        for x in [0x01u8, 0x80, 0xff] {
            let mut d = der_bytes.clone();
            d[i] ^= x;
            if ParsedCsr::from_der(&d).is_ok() {
                accepted += 1;
            }
            let _ = ParsedCsr::parse(&wrap(&b64(&d)));
        }
        let _ = ParsedCsr::from_der(&der_bytes[..i]);
    }
    assert_eq!(accepted, 0, "a corrupted CSR was accepted");
    // Pseudo-random byte soup, deterministic.
    let mut state: u64 = 0x9e3779b97f4a7c15;
    for _ in 0..2000 {
        let len = (state % 600) as usize;
        let mut v = Vec::with_capacity(len);
        for _ in 0..len {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            v.push(state as u8);
        }
        if let Some(b) = v.first_mut() {
            *b = 0x30;
        }
        assert!(ParsedCsr::from_der(&v).is_err());
        assert!(ParsedCsr::parse(&wrap(&b64(&v))).is_err());
        let _ = parse_certs(&format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----",
            b64(&v)
        ));
    }
}

#[test]
fn utf8_unique_identifier_and_control_characters_in_cn() {
    // x500UniqueIdentifier as UTF8String, as the requirer library writes it.
    let key = ec_key(Nid::X9_62_PRIME256V1);
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_nid(Nid::COMMONNAME, "u.example.com")
        .unwrap();
    name.append_entry_by_nid_with_type(
        Nid::X500UNIQUEIDENTIFIER,
        "5f1c9a56-1b2d-4c0e-9f10-2b7f9cbd0a11",
        openssl::asn1::Asn1Type::UTF8STRING,
    )
    .unwrap();
    let mut b = X509Req::builder().unwrap();
    b.set_subject_name(&name.build()).unwrap();
    b.set_pubkey(&key).unwrap();
    b.sign(&key, MessageDigest::sha256()).unwrap();
    let pem = String::from_utf8(b.build().to_pem().unwrap()).unwrap();
    let c = ParsedCsr::parse(&pem).unwrap();
    assert_eq!(c.common_name.as_deref(), Some("u.example.com"));

    // NUL in the CN: refused.
    let pem = raw_csr(
        &key,
        "good.example.com\u{0}.evil.org",
        MessageDigest::sha256(),
    );
    let err = ParsedCsr::parse(&pem).err().unwrap();
    assert!(matches!(err, CsrError::BadSubject(_)), "{err:?}");
    assert!(err.to_string().contains("control characters"), "{err}");
    assert!(
        err.to_string().contains(r"good.example.com\0.evil.org"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------------
// signing

#[test]
fn issued_leaf_for_python_csr_verifies_and_has_the_specified_extensions() {
    let ca = ca(KeyAlgorithm::Rsa2048);
    let csr = parse_fixture("rsa2048_full.pem");
    let now = SystemTime::now();
    let cert = issue_at(&ca, &csr, false, 90 * DAY, now);
    assert_verifies(&ca.cert, &[], &cert, &["-purpose", "sslserver"]);
    assert_verifies(&ca.cert, &[], &cert, &["-purpose", "sslclient"]);
    assert_verifies(
        &ca.cert,
        &[],
        &cert,
        &["-verify_hostname", "app.example.com"],
    );
    assert_verifies(&ca.cert, &[], &cert, &["-verify_ip", "2001:db8::1"]);
    let (ok, out) = openssl_verify(
        &ca.cert,
        &[],
        &cert,
        &["-verify_hostname", "other.example.com"],
    );
    assert!(!ok, "hostname outside the SANs must fail: {out}");

    // Subject copied byte for byte, issuer = CA subject, key = CSR key.
    assert_eq!(
        cert.subject_name().to_der().unwrap(),
        csr.subject().to_der().unwrap()
    );
    assert_eq!(
        cert.issuer_name().to_der().unwrap(),
        ca.cert.subject_name().to_der().unwrap()
    );
    assert!(public_key_matches(&cert, &csr));
    assert!(issued_by(&cert, &ca.cert));
    assert!(!is_ca(&cert));

    let text = x509_text(&cert);
    assert!(text.contains("Signature Algorithm: sha256WithRSAEncryption"));
    assert!(text.contains("x500UniqueIdentifier = "), "{text}");
    assert!(text.contains("emailAddress = ops@example.com"), "{text}");
    let san = ext_block(&text, "X509v3 Subject Alternative Name").unwrap();
    assert!(!san.contains("critical"), "{san}");
    for part in [
        "DNS:app.example.com",
        "DNS:app-0.app-endpoints.example.com",
        "IP Address:10.0.0.1",
        "IP Address:2001:DB8:0:0:0:0:0:1",
        "Registered ID:1.2.3.4.5",
    ] {
        assert!(san.contains(part), "{part} missing from {san}");
    }
    assert_eq!(
        ext_block(&text, "X509v3 Basic Constraints").unwrap(),
        "X509v3 Basic Constraints: critical | CA:FALSE"
    );
    assert_eq!(
        ext_block(&text, "X509v3 Key Usage").unwrap(),
        "X509v3 Key Usage: critical | Digital Signature, Key Encipherment"
    );
    assert_eq!(
        ext_block(&text, "X509v3 Extended Key Usage").unwrap(),
        "X509v3 Extended Key Usage: | TLS Web Server Authentication, TLS Web Client Authentication"
    );
    let ski = ext_block(&text, "X509v3 Subject Key Identifier").unwrap();
    let csr_ski = sign::subject_key_id(csr.public_key()).unwrap();
    assert_eq!(
        cert.subject_key_id().unwrap().as_slice(),
        csr_ski.as_slice()
    );
    assert!(!ski.is_empty());
    assert_eq!(
        cert.authority_key_id().unwrap().as_slice(),
        ca.cert.subject_key_id().unwrap().as_slice()
    );

    // Dates and serial.
    let info = cert_info(&cert);
    assert_eq!(unix(info.not_before), unix(now) - 60);
    assert_eq!(unix(info.not_after), unix(now) + 90 * DAY);
    let serial = cert.serial_number().to_bn().unwrap();
    assert!(serial.num_bits() >= 64 && !serial.is_negative());
    assert_eq!(info.common_name.as_deref(), Some("app.example.com"));
    assert_eq!(oids_of(&info.sans), ["1.2.3.4.5"]);
    assert_eq!(san::ip_addrs(&info.sans).count(), 2);
    assert!(!info.is_ca);
    let other = issue_leaf(&ca, &csr);
    assert_ne!(
        cert_info(&other).serial_hex,
        info.serial_hex,
        "serials are random"
    );
}

#[test]
fn every_python_fixture_is_signed_and_verifies_under_every_ca_kind() {
    let fixtures = [
        "rsa2048_full.pem",
        "rsa4096.pem",
        "ec_p256_ip.pem",
        "ec_p384.pem",
        "ec_no_cn.pem",
        "ec_ip_only_no_uid.pem",
        "ec_wildcard.pem",
        "rsa2048_full_crlf.pem",
    ];
    for (alg, sig) in [
        (KeyAlgorithm::Rsa2048, "sha256WithRSAEncryption"),
        (KeyAlgorithm::EcdsaP256, "ecdsa-with-SHA256"),
        (KeyAlgorithm::EcdsaP384, "ecdsa-with-SHA384"),
    ] {
        let ca = ca(alg);
        for f in fixtures {
            let csr = parse_fixture(f);
            let cert = issue_leaf(&ca, &csr);
            assert_verifies(&ca.cert, &[], &cert, &[]);
            let text = x509_text(&cert);
            assert!(
                text.contains(&format!("Signature Algorithm: {sig}")),
                "{alg} {f}"
            );
            let ku = ext_block(&text, "X509v3 Key Usage").unwrap();
            if csr.key_algorithm.is_rsa() {
                assert!(
                    ku.ends_with("Digital Signature, Key Encipherment"),
                    "{f}: {ku}"
                );
            } else {
                assert!(ku.ends_with("| Digital Signature"), "{f}: {ku}");
            }
            assert_eq!(
                cert.subject_name().to_der().unwrap(),
                csr.subject().to_der().unwrap()
            );
            let info = cert_info(&cert);
            // Copied grouped by kind (DNS, IP, OID), each kind in the CSR's order.
            assert_eq!(
                info.sans.iter().collect::<Vec<_>>(),
                san::grouped(&csr.sans),
                "{f}"
            );
            assert!(chain::check_order(&[cert.clone(), ca.cert.clone()]).is_ok());
            let chain = chain_pems(&cert, &ca);
            assert_eq!(chain.len(), 2);
            assert_eq!(chain[1], ca.cert_pem());
        }
    }
    // wildcard hostname verification
    let ca = ca(KeyAlgorithm::EcdsaP256);
    let cert = issue_leaf(&ca, &parse_fixture("ec_wildcard.pem"));
    assert_verifies(
        &ca.cert,
        &[],
        &cert,
        &["-verify_hostname", "foo.example.com"],
    );
}

#[test]
fn empty_subject_gets_a_critical_san() {
    let pem = rcgen_csr(
        &rcgen::PKCS_ECDSA_P256_SHA256,
        None,
        vec![dns("bare.example.com")],
        vec![],
    );
    let csr = ParsedCsr::parse(&pem).unwrap();
    let ca = ca(KeyAlgorithm::EcdsaP256);
    let cert = issue_leaf(&ca, &csr);
    let text = x509_text(&cert);
    let san = ext_block(&text, "X509v3 Subject Alternative Name").unwrap();
    assert_eq!(
        san,
        "X509v3 Subject Alternative Name: critical | DNS:bare.example.com"
    );
    assert_verifies(
        &ca.cert,
        &[],
        &cert,
        &["-verify_hostname", "bare.example.com"],
    );
}

#[test]
fn ca_request_gets_an_intermediate_that_can_sign() {
    let root = ca(KeyAlgorithm::EcdsaP384);
    let inter_key = KeyAlgorithm::EcdsaP256.generate().unwrap();
    let req = generate_csr(&inter_key, "Intermediate CA", &[]).unwrap();
    let csr = ParsedCsr::parse(&csr_to_pem(&req).unwrap()).unwrap();
    let inter_cert = issue_at(&root, &csr, true, 30 * DAY, SystemTime::now());
    assert!(is_ca(&inter_cert));
    assert_verifies(&root.cert, &[], &inter_cert, &[]);
    let text = x509_text(&inter_cert);
    assert_eq!(
        ext_block(&text, "X509v3 Basic Constraints").unwrap(),
        "X509v3 Basic Constraints: critical | CA:TRUE, pathlen:0"
    );
    assert_eq!(
        ext_block(&text, "X509v3 Key Usage").unwrap(),
        "X509v3 Key Usage: critical | Digital Signature, Certificate Sign, CRL Sign"
    );
    assert!(!text.contains("Extended Key Usage"));
    assert!(text.contains("ecdsa-with-SHA384"));
    assert_eq!(
        cert_info(&inter_cert).common_name.as_deref(),
        Some("Intermediate CA")
    );

    // The intermediate signs a leaf; openssl accepts root → intermediate → leaf.
    let inter = Ca::from_pem(
        &cert_to_pem(&inter_cert),
        &private_key_to_pem(&inter_key).unwrap(),
    )
    .unwrap();
    let leaf_csr = parse_fixture("ec_p256_ip.pem");
    let leaf = issue_leaf(&inter, &leaf_csr);
    assert_verifies(
        &root.cert,
        &[&inter_cert],
        &leaf,
        &["-verify_hostname", "db.example.com"],
    );
    // The leaf never outlives the intermediate.
    assert_eq!(unix(cert_info(&leaf).not_after), unix(inter.not_after()));
    // pathlen:0: a CA under the intermediate is refused by openssl.
    let sub_key = KeyAlgorithm::EcdsaP256.generate().unwrap();
    let sub_req = generate_csr(&sub_key, "Sub CA", &[]).unwrap();
    let sub_csr = ParsedCsr::parse(&csr_to_pem(&sub_req).unwrap()).unwrap();
    let sub = issue_at(&inter, &sub_csr, true, DAY, SystemTime::now());
    let sub_ca = Ca::from_pem(&cert_to_pem(&sub), &private_key_to_pem(&sub_key).unwrap()).unwrap();
    let leaf2 = issue_leaf(&sub_ca, &leaf_csr);
    let (ok, out) = openssl_verify(&root.cert, &[&inter_cert, &sub], &leaf2, &[]);
    assert!(!ok, "pathlen:0 must stop a second CA level: {out}");

    // chain order
    let ordered = [leaf.clone(), inter_cert.clone(), root.cert.clone()];
    assert!(chain::check_order(&ordered).is_ok());
    let err = chain::check_order(&[leaf.clone(), root.cert.clone(), inter_cert.clone()])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("certificate 1") && err.contains("certificate 2"),
        "{err}"
    );
    assert!(err.contains("leaf first"), "{err}");
    assert!(chain::check_order(&[]).is_err());
    assert!(chain::check_order(&[leaf]).is_ok());
}

/// An intermediate CA (CA:TRUE) named `cn`, issued by `root` at `now` for 30 days.
fn intermediate(root: &Ca, cn: &str, now: SystemTime) -> Ca {
    let key = KeyAlgorithm::EcdsaP256.generate().unwrap();
    let req = generate_csr(&key, cn, &[]).unwrap();
    let csr = ParsedCsr::parse(&csr_to_pem(&req).unwrap()).unwrap();
    let cert = issue_at(root, &csr, true, 30 * DAY, now);
    Ca { cert, key }
}

fn subjects(chain: &[X509]) -> Vec<String> {
    chain.iter().map(|c| verify::subject_string(c)).collect()
}

#[test]
fn chain_assembly_puts_the_ca_where_it_belongs() {
    let root = ca(KeyAlgorithm::EcdsaP256);
    let inter = intermediate(&root, "Intermediate CA", SystemTime::now());
    let leaf = issue_leaf(&inter, &parse_fixture("ec_p256_ip.pem"));
    let full = [leaf.clone(), inter.cert.clone(), root.cert.clone()];
    let chain = chain::assemble(&leaf, &inter.cert, None).unwrap();
    assert_eq!(subjects(&chain), subjects(&full[..2]));
    for (ca, given) in [
        (&inter.cert, full.to_vec()),
        (&inter.cert, full[1..].to_vec()),
        // the CA left out: inserted after the leaf (it signed the leaf)...
        (&inter.cert, vec![root.cert.clone()]),
        // ... or appended (it issued the last element)
        (&root.cert, vec![inter.cert.clone()]),
        (&root.cert, full[..2].to_vec()),
    ] {
        let chain = chain::assemble(&leaf, ca, Some(given)).unwrap();
        assert_eq!(subjects(&chain), subjects(&full));
    }

    match chain::assemble(&leaf, &root.cert, None) {
        Err(ChainError::NotSignedByCa {
            issuer,
            ca_subject,
            same_name: false,
        }) => {
            assert_eq!(issuer, "CN=Intermediate CA");
            assert!(ca_subject.contains("CN=Test Root CA"), "{ca_subject}");
        }
        other => panic!("{other:?}"),
    }
    // Same subject, other key.
    let other_root = ca(KeyAlgorithm::EcdsaP256);
    let err = chain::assemble(&inter.cert, &other_root.cert, None).unwrap_err();
    assert!(
        matches!(
            err,
            ChainError::NotSignedByCa {
                same_name: true,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().ends_with(chain::SAME_NAME_NOTE), "{err}");
    // The CA is in the chain, but not in order.
    let unordered = vec![root.cert.clone(), inter.cert.clone()];
    match chain::assemble(&leaf, &inter.cert, Some(unordered)) {
        Err(ChainError::Unordered {
            position: 1,
            subject,
            next_subject,
        }) => {
            assert!(subject.contains("CN=db.example.com"), "{subject}");
            assert!(next_subject.contains("CN=Test Root CA"), "{next_subject}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn chain_validity_names_the_first_certificate_out_of_its_dates() {
    let now = SystemTime::now();
    let root = ca(KeyAlgorithm::EcdsaP256);
    let inter = intermediate(&root, "Intermediate CA", now);
    let leaf = issue_leaf(&inter, &parse_fixture("ec_p256_ip.pem"));
    let chain =
        chain::verify_chain(&leaf, &inter.cert, Some(vec![root.cert.clone()]), now).unwrap();
    assert_eq!(chain.len(), 3);

    let later = now + Duration::from_secs(31 * DAY);
    match chain::check_validity(&leaf, &inter.cert, &chain, later) {
        Err(ChainError::Expired {
            which: CertRole::Leaf,
            not_after,
            now,
            ..
        }) => assert!(not_after < now),
        other => panic!("{other:?}"),
    }
    let earlier = now - Duration::from_secs(DAY);
    let err = chain::check_validity(&leaf, &inter.cert, &chain, earlier).unwrap_err();
    assert!(
        matches!(
            err,
            ChainError::NotYetValid {
                which: CertRole::Leaf,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("is not valid yet"), "{err}");
    // An expired root at the end of the chain is named by its position.
    let t0 = at(1_000_000_000);
    let old_root = Ca::generate_at(&subject(), KeyAlgorithm::EcdsaP256, DAY, t0).unwrap();
    let with_old = [leaf.clone(), inter.cert.clone(), old_root.cert.clone()];
    match chain::check_validity(&leaf, &inter.cert, &with_old, now) {
        Err(ChainError::Expired {
            which: CertRole::ChainMember { position: 3 },
            subject,
            ..
        }) => assert!(subject.contains("CN=Test Root CA"), "{subject}"),
        other => panic!("{other:?}"),
    }
    let err = chain::check_valid_at(&old_root.cert, CertRole::Ca, now).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("the CA certificate (CN=Test Root CA"),
        "{err}"
    );
    assert!(err.to_string().contains("has expired"), "{err}");
}

#[test]
fn validity_is_capped_by_the_ca_and_expired_ca_refuses() {
    let t0 = at(1_900_000_000);
    let ca = Ca::generate_at(&subject(), KeyAlgorithm::EcdsaP256, 10 * DAY, t0).unwrap();
    let csr = parse_fixture("ec_p256_ip.pem");
    let now = t0 + Duration::from_secs(3 * DAY);
    let cert = issue_at(&ca, &csr, false, 90 * DAY, now);
    let info = cert_info(&cert);
    assert_eq!(unix(info.not_before), unix(now) - 60);
    assert_eq!(info.not_after, ca.not_after());
    assert!(valid_at(&cert, now));
    assert!(!valid_at(&cert, now - Duration::from_secs(61)));
    assert!(valid_at(&cert, ca.not_after()));
    assert!(!valid_at(&cert, ca.not_after() + Duration::from_secs(1)));

    let err = issue(
        &ca,
        &IssueRequest {
            crl_url: None,
            csr: &csr,
            is_ca: false,
            validity_secs: DAY,
            now: t0 + Duration::from_secs(11 * DAY),
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("expired"), "{err}");
    assert!(issue(
        &ca,
        &IssueRequest {
            crl_url: None,
            csr: &csr,
            is_ca: false,
            validity_secs: 0,
            now,
        },
    )
    .is_err());
    // Dates past 2050 (GeneralizedTime) survive the round trip.
    let far = at(2_600_000_000);
    let ca = Ca::generate_at(&subject(), KeyAlgorithm::EcdsaP256, DAY, far).unwrap();
    assert_eq!(unix(ca.not_after()), 2_600_000_000 + DAY);
}

// ---------------------------------------------------------------------------------------------
// verify helpers

#[test]
fn parse_certs_handles_text_dumps_bundles_and_garbage() {
    let ca1 = ca(KeyAlgorithm::EcdsaP256);
    let leaf = issue_leaf(&ca1, &parse_fixture("ec_p256_ip.pem"));
    let dump = x509_text(&leaf);
    let text = format!(
        "{dump}{}\r\n\r\n{}\n",
        cert_to_pem(&leaf).replace('\n', "\r\n"),
        ca1.cert_pem()
    );
    let certs = parse_certs(&text).unwrap();
    assert_eq!(certs.len(), 2);
    assert_eq!(certs[0].to_der().unwrap(), leaf.to_der().unwrap());
    assert_eq!(certs[1].to_der().unwrap(), ca1.cert.to_der().unwrap());

    assert!(matches!(parse_certs(""), Err(CertError::NotPem(_))));
    let e = parse_certs(&fixture("ec_p256_ip.pem")).unwrap_err();
    assert!(e.to_string().contains("another type"), "{e}");
    let e = parse_certs("-----BEGIN CERTIFICATE-----\nAAAA").unwrap_err();
    assert!(e.to_string().contains("END"), "{e}");
    let e = parse_certs("-----BEGIN CERTIFICATE-----\n@@@\n-----END CERTIFICATE-----").unwrap_err();
    assert!(e.to_string().contains("base64"), "{e}");
    let e =
        parse_certs("-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----").unwrap_err();
    assert!(e.to_string().contains("X.509"), "{e}");
    let huge = "x".repeat(MAX_CERTS_PEM_BYTES + 1);
    assert!(parse_certs(&huge).is_err());
    // Truncations of a real bundle never panic.
    let pem = cert_to_pem(&leaf);
    for i in 0..pem.len() {
        let _ = parse_certs(&pem[..i]);
    }
}

#[test]
fn issued_by_public_key_matches_and_is_ca() {
    let ca1 = ca(KeyAlgorithm::EcdsaP256);
    let ca2 = Ca::generate(&subject(), KeyAlgorithm::EcdsaP256, DAY).unwrap(); // same name!
    let csr = parse_fixture("ec_p256_ip.pem");
    let leaf = issue_leaf(&ca1, &csr);
    assert!(issued_by(&leaf, &ca1.cert));
    assert!(!issued_by(&leaf, &ca2.cert), "same subject, other key");
    assert!(!issued_by(&ca1.cert, &leaf));
    assert!(issued_by(&ca1.cert, &ca1.cert));
    assert!(public_key_matches(&leaf, &csr));
    assert!(!public_key_matches(&leaf, &parse_fixture("ec_no_cn.pem")));
    assert!(is_ca(&ca1.cert));
    assert!(!is_ca(&leaf));
    let err = chain::check_order(&[leaf.clone(), ca2.cert.clone()])
        .unwrap_err()
        .to_string();
    assert!(err.contains("is not issued by"), "{err}");
    // cert_info of the CA
    let info = cert_info(&ca1.cert);
    assert!(info.is_ca);
    assert_eq!(info.subject, info.issuer);
    assert!(info.subject.contains("CN=Test Root CA"), "{}", info.subject);
    assert!(!info.serial_hex.is_empty());
}

// ---------------------------------------------------------------------------------------------
// policy

fn denial(r: Result<(), Denial>) -> Denial {
    r.expect_err("expected a denial")
}

#[test]
fn policy_default_allows_everything_but_ca() {
    let p = Policy::default();
    for f in [
        "rsa2048_full.pem",
        "ec_p256_ip.pem",
        "ec_wildcard.pem",
        "ec_no_cn.pem",
        "ec_ca_request.pem",
    ] {
        assert_eq!(p.check(&parse_fixture(f), false), Ok(()), "{f}");
    }
    let d = denial(p.check(&parse_fixture("ec_ca_request.pem"), true));
    assert_eq!(d.code, DenialCode::Other);
    assert_eq!(d.code.code(), 999);
    assert_eq!(d.code.name(), "OTHER");
    assert!(
        d.message.contains("allow-ca-requests=true"),
        "{}",
        d.message
    );
    let allow_ca = Policy {
        allow_ca_requests: true,
        ..Policy::default()
    };
    assert_eq!(
        allow_ca.check(&parse_fixture("ec_ca_request.pem"), true),
        Ok(())
    );
    assert_eq!(allow_ca.check_names("Intermediate", &[], true), Ok(()));
    assert_eq!(
        denial(p.check_names("etcd", &[], true)).code,
        DenialCode::Other
    );
}

#[test]
fn policy_ip_sans_101() {
    let p = Policy {
        allow_ip_sans: false,
        ..Policy::default()
    };
    let d = denial(p.check(&parse_fixture("ec_p256_ip.pem"), false));
    assert_eq!(
        (d.code, d.code.code(), d.code.name()),
        (DenialCode::IpNotAllowed, 101, "IP_NOT_ALLOWED")
    );
    assert!(
        d.message.contains("192.168.1.20") || d.message.contains("fd00::20"),
        "{}",
        d.message
    );
    assert!(d.message.contains("allow-ip-sans"), "{}", d.message);
    assert_eq!(p.check(&parse_fixture("ec_no_cn.pem"), false), Ok(()));
    let d = denial(p.check_names("db", &["db.example.com".into(), "10.0.0.1".into()], false));
    assert_eq!(d.code, DenialCode::IpNotAllowed);
    assert!(d.message.contains("10.0.0.1"));
    // An IP as the common name counts as an IP.
    let d = denial(p.check_names("10.1.1.1", &[], false));
    assert_eq!(d.code, DenialCode::IpNotAllowed);
}

#[test]
fn policy_domains_102() {
    let p = Policy {
        allowed_domains: vec!["Example.COM".into(), ".corp.net".into()],
        ..Policy::default()
    };
    for ok in [
        "example.com",
        "a.example.com",
        "A.B.EXAMPLE.com",
        "a.example.com.",
        "corp.net",
        "x.corp.net",
        "*.example.com",
    ] {
        assert_eq!(p.check_names("", &[ok.to_string()], false), Ok(()), "{ok}");
    }
    for bad in [
        "badexample.com",
        "example.com.evil.org",
        "other.org",
        "com",
        "*.com",
    ] {
        let d = denial(p.check_names("", &[bad.to_string()], false));
        assert_eq!(d.code, DenialCode::DomainNotAllowed, "{bad}");
        assert_eq!((d.code.code(), d.code.name()), (102, "DOMAIN_NOT_ALLOWED"));
        assert!(d.message.contains(bad), "{}", d.message);
        assert!(
            d.message.contains("allowed-domains=Example.COM,.corp.net"),
            "{}",
            d.message
        );
    }
    // The CN counts: as a DNS name when it looks like one; otherwise, with allowed-domains set,
    // it is not a name the policy allows.
    let d = denial(p.check_names("db.other.org", &["db.example.com".into()], false));
    assert!(d.message.contains("db.other.org"));
    for cn in ["etcd/0", "My Service"] {
        let d = denial(p.check_names(cn, &["db.example.com".into()], false));
        assert_eq!(d.code, DenialCode::DomainNotAllowed, "{cn}");
        assert!(d.message.contains(&format!("{cn:?}")), "{}", d.message);
    }
    // Without allowed-domains such a CN is not restricted.
    assert_eq!(
        Policy::default().check_names("etcd/0", &["db.example.com".into()], false),
        Ok(())
    );
    // Parsed CSRs: the python fixture with two example.com names passes, a narrower list fails.
    assert_eq!(p.check(&parse_fixture("rsa2048_full.pem"), false), Ok(()));
    let narrow = Policy {
        allowed_domains: vec!["db.example.com".into()],
        ..Policy::default()
    };
    assert_eq!(
        narrow.check(&parse_fixture("ec_p256_ip.pem"), false),
        Ok(())
    );
    let d = denial(narrow.check(&parse_fixture("rsa2048_full.pem"), false));
    assert!(d.message.contains("app.example.com"), "{}", d.message);
    // A wildcard one level above an allowed subdomain is refused.
    let d = denial(narrow.check(&parse_fixture("ec_wildcard.pem"), false));
    assert_eq!(d.code, DenialCode::DomainNotAllowed);
}

#[test]
fn policy_wildcards_103_and_malformed_names() {
    let p = Policy {
        allow_wildcard_dns: false,
        ..Policy::default()
    };
    let d = denial(p.check(&parse_fixture("ec_wildcard.pem"), false));
    assert_eq!(
        (d.code, d.code.code(), d.code.name()),
        (DenialCode::WildcardNotAllowed, 103, "WILDCARD_NOT_ALLOWED")
    );
    assert!(d.message.contains("*.example.com"));
    assert!(d.message.contains("allow-wildcard-dns"), "{}", d.message);
    assert_eq!(p.check(&parse_fixture("ec_p256_ip.pem"), false), Ok(()));

    let any = Policy::default();
    for bad in [
        "a.*.example.com",
        "foo*.example.com",
        "*",
        "*.",
        "**.example.com",
        "a..b",
        "-a.example.com",
        "a_b c.example.com",
        &"a".repeat(64),
    ] {
        let d = denial(any.check_names("", &[bad.to_string()], false));
        assert_eq!(d.code, DenialCode::DomainNotAllowed, "{bad}");
        assert!(d.message.contains("is not valid"), "{bad}: {}", d.message);
    }
    let d = denial(any.check_names("", &["foo*.example.com".to_string()], false));
    assert!(d.message.contains("leftmost label"), "{}", d.message);
    // A wildcard CN is checked like a SAN.
    let d = denial(p.check_names("*.example.com", &[], false));
    assert_eq!(d.code, DenialCode::WildcardNotAllowed);
}

#[test]
fn policy_checks_in_a_fixed_order() {
    let strict = Policy {
        allowed_domains: vec!["example.com".into()],
        allow_ip_sans: false,
        allow_wildcard_dns: false,
        allow_ca_requests: false,
        ..Policy::default()
    };
    // CA first, then names in order: CN, DNS SANs, IPs.
    assert_eq!(
        denial(strict.check(&parse_fixture("ec_wildcard.pem"), true)).code,
        DenialCode::Other
    );
    assert_eq!(
        denial(strict.check(&parse_fixture("ec_wildcard.pem"), false)).code,
        DenialCode::WildcardNotAllowed
    );
    assert_eq!(
        denial(strict.check(&parse_fixture("rsa2048_full.pem"), false)).code,
        DenialCode::IpNotAllowed
    );
}

#[test]
fn wildcards_directly_under_a_public_suffix_are_refused_with_103() {
    let p = Policy::default();
    for bad in ["*.com", "*.co.uk", "*.github.io", "*.COM."] {
        let d = denial(p.check_names("", &[bad.to_string()], false));
        assert_eq!(d.code, DenialCode::WildcardNotAllowed, "{bad}");
        assert!(d.message.contains("public suffix"), "{}", d.message);
    }
    for ok in [
        "*.example.com",
        "*.example.co.uk",
        "*.lan",
        "*.svc.internal",
        "com.example.com",
    ] {
        assert_eq!(p.check_names("", &[ok.to_string()], false), Ok(()), "{ok}");
    }
    // In a CSR's common name too.
    let d = denial(p.check_names("*.co.uk", &[], false));
    assert_eq!(d.code, DenialCode::WildcardNotAllowed);
}

// ---------------------------------------------------------------------------------------------
// The fast CSR path and the certificate: the same bytes as through OpenSSL's request parser

/// The TLV at `index` of the SEQUENCE `der_bytes`, with its header.
fn nth_raw(der_bytes: &[u8], index: usize) -> Vec<u8> {
    let top = der::read_single(der_bytes).unwrap();
    let mut rest = top.content;
    for _ in 0..index {
        rest = der::read_tlv(rest).unwrap().1;
    }
    let after = der::read_tlv(rest).unwrap().1;
    rest[..rest.len() - after.len()].to_vec()
}

/// The certificate holds the CSR's SubjectPublicKeyInfo and subject byte for byte, and the key
/// identifier of that key, as when the key came from OpenSSL's request parser (the keys the
/// fast path builds from their components encode the same).
#[test]
fn issued_certificates_carry_the_csr_key_and_subject_byte_for_byte() {
    let ca = Ca::generate(&subject(), KeyAlgorithm::EcdsaP256, 365 * DAY).unwrap();
    let keys = [
        KeyAlgorithm::EcdsaP256.generate().unwrap(),
        KeyAlgorithm::EcdsaP384.generate().unwrap(),
        KeyAlgorithm::Rsa2048.generate().unwrap(),
    ];
    for key in &keys {
        let req = generate_csr(key, "bytes.example.com", &["bytes.example.com".into()]).unwrap();
        let csr_der = req.to_der().unwrap();
        let csr = ParsedCsr::from_der(&csr_der).unwrap();
        let cert = issue(
            &ca,
            &IssueRequest {
                crl_url: None,
                csr: &csr,
                is_ca: false,
                validity_secs: DAY,
                now: SystemTime::now(),
            },
        )
        .unwrap();
        let cert_der = cert.to_der().unwrap();
        let tbs = nth_raw(&cert_der, 0);
        let info = nth_raw(&csr_der, 0);
        // TBSCertificate: [0] version, serial, signature, issuer, validity, subject, spki.
        let (cert_subject, cert_spki) = (nth_raw(&tbs, 5), nth_raw(&tbs, 6));
        // CertificationRequestInfo: version, subject, spki.
        assert_eq!(cert_subject, nth_raw(&info, 1));
        assert_eq!(cert_spki, nth_raw(&info, 2));
        let openssl_key = X509Req::from_der(&csr_der).unwrap().public_key().unwrap();
        assert_eq!(cert_spki, openssl_key.public_key_to_der().unwrap());
        assert_eq!(
            cert.subject_key_id().unwrap().as_slice(),
            sign::subject_key_id(&openssl_key).unwrap().as_slice()
        );
    }
}
