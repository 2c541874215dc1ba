//! CRLs and the CRL Distribution Point checked with the `openssl` command line: `openssl crl
//! -verify` against the CA, `openssl verify -crl_check` refusing the revoked certificate and
//! accepting another, and `openssl x509 -text` showing the URL.

use std::path::Path;
use std::time::{Duration, SystemTime};

use openssl::x509::{X509Crl, X509};

use super::*;

use super::tests::cli::openssl_cli;

const DAY: u64 = 86_400;
const URL: &str = "http://crl.example.com/tls-provider.crl";

fn csr(name: &str) -> ParsedCsr {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/csr")
        .join(name);
    ParsedCsr::parse(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn ca(alg: KeyAlgorithm) -> Ca {
    let subject = CaSubject {
        common_name: "crl-test-ca".into(),
        ..CaSubject::default()
    };
    Ca::generate(&subject, alg, 365 * DAY).unwrap()
}

fn leaf(ca: &Ca, csr: &ParsedCsr, url: Option<&str>) -> X509 {
    let req = IssueRequest {
        csr,
        is_ca: false,
        validity_secs: 30 * DAY,
        now: SystemTime::now(),
        crl_url: url,
    };
    issue(ca, &req).unwrap()
}

fn serial(cert: &X509) -> String {
    cert.serial_number()
        .to_bn()
        .unwrap()
        .to_hex_str()
        .unwrap()
        .to_string()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, format!("{text}\n")).unwrap();
    p.to_string_lossy().into_owned()
}

fn crl_for(ca: &Ca, revoked: &[RevokedEntry], number: u64) -> Crl {
    let now = SystemTime::now();
    build_crl(
        ca,
        &CrlRequest {
            revoked,
            this_update: now,
            next_update: now + Duration::from_secs(7 * DAY),
            number,
        },
    )
    .unwrap()
}

#[test]
fn crl_verifies_and_revokes_exactly_the_listed_serial_under_every_ca_kind() {
    for alg in [
        KeyAlgorithm::Rsa2048,
        KeyAlgorithm::EcdsaP256,
        KeyAlgorithm::EcdsaP384,
    ] {
        let ca = ca(alg);
        let revoked = leaf(&ca, &csr("rsa2048_full.pem"), Some(URL));
        let kept = leaf(&ca, &csr("ec_p256_ip.pem"), Some(URL));
        let entries = [RevokedEntry {
            serial_hex: serial(&revoked),
            revoked_at: SystemTime::now(),
            reason: RevocationReason::KeyCompromise,
        }];
        let crl = crl_for(&ca, &entries, 7);
        let parsed = X509Crl::from_der(&crl.der).unwrap();
        assert!(parsed.verify(&ca.key).unwrap(), "{alg}");

        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let ca_p = write(dir, "ca.pem", &ca.cert_pem());
        let crl_p = write(dir, "crl.pem", &crl.pem);
        let (ok, out) = openssl_cli(
            dir,
            &[
                "crl", "-in", &crl_p, "-CAfile", &ca_p, "-noout", "-verify", "-text",
            ],
        );
        assert!(ok && out.contains("verify OK"), "{alg}: {out}");
        assert!(out.contains(&serial(&revoked)), "{alg}: {out}");
        assert!(!out.contains(&serial(&kept)), "{alg}: {out}");
        assert!(out.contains("Key Compromise"), "{alg}: {out}");
        assert!(
            out.contains("X509v3 CRL Number") && out.contains("7"),
            "{out}"
        );
        assert!(out.contains("X509v3 Authority Key Identifier"), "{out}");

        let check = |cert: &X509, name: &str| {
            let p = write(dir, name, &cert_to_pem(cert));
            openssl_cli(
                dir,
                &[
                    "verify",
                    "-crl_check",
                    "-CAfile",
                    &ca_p,
                    "-CRLfile",
                    &crl_p,
                    &p,
                ],
            )
        };
        let (ok, out) = check(&revoked, "revoked.pem");
        assert!(!ok && out.contains("certificate revoked"), "{alg}: {out}");
        let (ok, out) = check(&kept, "kept.pem");
        assert!(ok && out.contains(": OK"), "{alg}: {out}");
    }
}

#[test]
fn empty_crl_verifies_and_unspecified_reason_is_omitted() {
    let ca = ca(KeyAlgorithm::EcdsaP256);
    let empty = crl_for(&ca, &[], 1);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let ca_p = write(dir, "ca.pem", &ca.cert_pem());
    let crl_p = write(dir, "crl.pem", &empty.pem);
    let (ok, out) = openssl_cli(
        dir,
        &[
            "crl", "-in", &crl_p, "-CAfile", &ca_p, "-noout", "-verify", "-text",
        ],
    );
    assert!(ok && out.contains("No Revoked Certificates"), "{out}");

    let entries = [
        RevokedEntry {
            serial_hex: "0x80".into(),
            revoked_at: SystemTime::now(),
            reason: RevocationReason::Unspecified,
        },
        RevokedEntry {
            serial_hex: "80".into(),
            revoked_at: SystemTime::now(),
            reason: RevocationReason::Superseded,
        },
    ];
    let crl = crl_for(&ca, &entries, 2);
    let crl_p = write(dir, "crl2.pem", &crl.pem);
    let (ok, out) = openssl_cli(dir, &["crl", "-in", &crl_p, "-noout", "-text"]);
    assert!(ok, "{out}");
    assert_eq!(
        out.matches("Serial Number:").count(),
        1,
        "duplicates dropped: {out}"
    );
    assert!(!out.contains("CRL Reason Code"), "{out}");
}

#[test]
fn issued_certificate_carries_the_distribution_point_only_when_asked() {
    let ca = ca(KeyAlgorithm::EcdsaP256);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let with = write(
        dir,
        "with.pem",
        &cert_to_pem(&leaf(&ca, &csr("ec_p256_ip.pem"), Some(URL))),
    );
    let without = write(
        dir,
        "without.pem",
        &cert_to_pem(&leaf(&ca, &csr("ec_p256_ip.pem"), None)),
    );
    let (ok, out) = openssl_cli(dir, &["x509", "-noout", "-text", "-in", &with]);
    assert!(ok, "{out}");
    assert!(out.contains("X509v3 CRL Distribution Points"), "{out}");
    assert!(out.contains(&format!("URI:{URL}")), "{out}");
    let (ok, out) = openssl_cli(dir, &["x509", "-noout", "-text", "-in", &without]);
    assert!(ok && !out.contains("CRL Distribution Points"), "{out}");
}

#[test]
fn bad_serial_and_inverted_times_are_errors() {
    let ca = ca(KeyAlgorithm::EcdsaP256);
    let now = SystemTime::now();
    let bad = [RevokedEntry {
        serial_hex: "zz".into(),
        revoked_at: now,
        reason: RevocationReason::Unspecified,
    }];
    let req = CrlRequest {
        revoked: &bad,
        this_update: now,
        next_update: now + Duration::from_secs(DAY),
        number: 1,
    };
    assert!(matches!(build_crl(&ca, &req), Err(PkiError::BadSerial(_))));
    let req = CrlRequest {
        revoked: &[],
        this_update: now,
        next_update: now,
        number: 1,
    };
    assert!(matches!(
        build_crl(&ca, &req),
        Err(PkiError::ValidityInverted)
    ));
}
