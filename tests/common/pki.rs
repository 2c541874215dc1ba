//! The `openssl` command line for the tests: running it, `openssl verify` of a certificate
//! against a CA, comparing a key's public half with a certificate's, and new P-256 keys with a CSR
//! or a self-signed certificate.
//!
//! Uses only std and `tempfile`, so the lib's own tests (`src/pki/tests.rs`) include it too.

use std::path::Path;
use std::process::{Command, Output};

/// A finished command's (success, stdout+stderr).
pub fn cli_result(out: &Output) -> (bool, String) {
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Runs `openssl <args>` in `dir`; returns (success, stdout+stderr).
pub fn openssl_cli(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    cli_result(&out)
}

/// Runs `openssl <args>` in `dir`, asserting that it succeeds; returns stdout+stderr.
pub fn openssl_ok(dir: &Path, args: &[&str]) -> String {
    let (ok, text) = openssl_cli(dir, args);
    assert!(ok, "openssl {args:?} failed: {text}");
    text
}

/// `openssl req <mode> -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout <key_file>
/// -out <out_file> -subj <subj> <extra>` in `dir`: a new P-256 key and a CSR (`mode` `-new` or
/// none) or a self-signed certificate (`mode` `-x509`). Asserts that it succeeds.
pub fn openssl_req_p256(
    dir: &Path,
    mode: &[&str],
    key_file: &str,
    out_file: &str,
    subj: &str,
    extra: &[&str],
) {
    let mut args = vec!["req"];
    args.extend_from_slice(mode);
    args.extend_from_slice(&[
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        key_file,
        "-out",
        out_file,
        "-subj",
        subj,
    ]);
    args.extend_from_slice(extra);
    openssl_ok(dir, &args);
}

/// Asserts that the public half of the private key in `key_file` is the public key of the
/// certificate in `cert_file` (both PEM files in `dir`).
pub fn assert_key_matches_cert(dir: &Path, cert_file: &str, key_file: &str) {
    let (ok1, cert_pub) = openssl_cli(dir, &["x509", "-in", cert_file, "-noout", "-pubkey"]);
    let (ok2, key_pub) = openssl_cli(dir, &["pkey", "-in", key_file, "-pubout"]);
    assert!(
        ok1 && ok2 && key_pub.contains("BEGIN PUBLIC KEY"),
        "{cert_pub}{key_pub}"
    );
    assert_eq!(cert_pub, key_pub, "the key does not match the certificate");
}

/// `openssl verify -CAfile <ca> -purpose any <cert>` passes and, given `key`, the key's public
/// half is the certificate's. Returns `openssl x509 -text` of the certificate.
pub fn verify_cert_and_key(ca: &str, cert: &str, key: Option<&str>) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), format!("{ca}\n")).unwrap();
    std::fs::write(dir.path().join("cert.pem"), format!("{cert}\n")).unwrap();
    let (ok, text) = openssl_cli(
        dir.path(),
        &["verify", "-CAfile", "ca.pem", "-purpose", "any", "cert.pem"],
    );
    assert!(
        ok && text.contains("cert.pem: OK"),
        "openssl verify: {text}"
    );
    if let Some(key) = key {
        std::fs::write(dir.path().join("key.pem"), format!("{key}\n")).unwrap();
        assert_key_matches_cert(dir.path(), "cert.pem", "key.pem");
    }
    let (ok, text) = openssl_cli(dir.path(), &["x509", "-in", "cert.pem", "-noout", "-text"]);
    assert!(ok, "{text}");
    text
}

/// `openssl crl -verify -text` of `crl` (PEM) against `ca` (PEM), asserting `verify OK`: the
/// CRL as text (serials, reasons, dates).
pub fn crl_verified_text(ca: &str, crl: &str) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("ca.pem"), format!("{ca}\n")).unwrap();
    std::fs::write(dir.join("crl.pem"), format!("{crl}\n")).unwrap();
    let args = [
        "crl", "-in", "crl.pem", "-CAfile", "ca.pem", "-noout", "-verify", "-text",
    ];
    let text = openssl_ok(dir, &args);
    assert!(text.contains("verify OK"), "{text}");
    text
}

/// `openssl verify -crl_check` of `leaf` against `ca` with `crl` (all PEM): (ok, output).
pub fn crl_check(ca: &str, crl: &str, leaf: &str) -> (bool, String) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    for (name, text) in [("ca.pem", ca), ("crl.pem", crl), ("leaf.pem", leaf)] {
        std::fs::write(dir.join(name), format!("{text}\n")).unwrap();
    }
    let args = [
        "verify",
        "-crl_check",
        "-CAfile",
        "ca.pem",
        "-CRLfile",
        "crl.pem",
        "leaf.pem",
    ];
    openssl_cli(dir, &args)
}
