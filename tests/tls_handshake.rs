//! The modern dialect end to end: a certificate issued by tls-provider to the real Python requirer
//! works in a real TLS handshake. The requirer's private key (its unit-owned secret in the
//! simulator) and the issued certificate serve `openssl s_server` on 127.0.0.1 (ephemeral port);
//! `openssl s_client` with hostname verification against the published CA succeeds for each DNS SAN
//! and fails for a name not in the certificate. Every issued certificate also passes `openssl
//! verify`.
//!
//! Needs `make test-charms` and `cargo build -p jujusim`.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::interop::*;
use common::pki::{assert_key_matches_cert, cli_result, openssl_req_p256};
use serde_json::json;

/// Kills the server when dropped (also on a failed assertion).
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `openssl s_server` on 127.0.0.1 with an ephemeral port; returns it and the port.
fn start_server(dir: &Path) -> (Server, u16) {
    let mut child = Command::new("openssl")
        .args([
            "s_server",
            "-accept",
            "127.0.0.1:0",
            "-cert",
            "cert.pem",
            "-key",
            "key.pem",
            "-cert_chain",
            "ca.pem",
        ])
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start openssl s_server");
    let stdout = child.stdout.take().unwrap();
    let server = Server(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(addr) = line.strip_prefix("ACCEPT ") {
                let _ = tx.send(addr.to_string());
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("s_server did not report its port");
    let port = addr.rsplit(':').next().unwrap().parse().expect("port");
    (server, port)
}

/// `openssl s_client` to the port, verifying `name` against ca.pem; returns (success, output).
fn client(dir: &Path, port: u16, name: &str) -> (bool, String) {
    let mut child = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{port}"),
            "-servername",
            name,
            "-verify_hostname",
            name,
            "-verify_return_error",
            "-CAfile",
            "ca.pem",
            "-brief",
        ])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start openssl s_client");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match child.try_wait().unwrap() {
            Some(_) => break,
            None if Instant::now() > deadline => {
                let _ = child.kill();
                break;
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    cli_result(&child.wait_with_output().unwrap())
}

#[test]
fn issued_certificate_serves_tls_with_hostname_verification() {
    let mut m = new_model();
    deploy_provider(&mut m, 1, json!({}));
    let rel = deploy_requirer(
        &mut m,
        "web",
        1,
        json!({"common-name": "web.example.com", "sans-dns": "web.example.com,alt.example.com",
               "key-algorithm": "ecdsa"}),
    );
    settle(&mut m);
    let csr = requirer_csrs(&m, rel, "web/0").remove(0);
    let published = certificates(&provider_bag(&m, rel));
    let entry = entry_for(&published, &csr.pem).expect("issued");
    check_issued(entry, &csr.pem, false); // includes openssl verify -CAfile <published ca>
    assert_accepted(&m, "web/0", entry);

    let dir = tempfile::tempdir().unwrap();
    let key = requirer_private_key(&m, "web/0");
    std::fs::write(dir.path().join("key.pem"), &key).unwrap();
    std::fs::write(
        dir.path().join("cert.pem"),
        entry["certificate"].as_str().unwrap(),
    )
    .unwrap();
    std::fs::write(dir.path().join("ca.pem"), entry["ca"].as_str().unwrap()).unwrap();
    // The requirer's key really is the certificate's.
    assert_key_matches_cert(dir.path(), "cert.pem", "key.pem");

    let (_server, port) = start_server(dir.path());
    for name in ["web.example.com", "alt.example.com"] {
        let (ok, out) = client(dir.path(), port, name);
        assert!(ok, "handshake verifying {name} failed:\n{out}");
        assert!(out.contains("Verification: OK"), "{out}");
    }
    let (ok, out) = client(dir.path(), port, "evil.example.org");
    assert!(!ok, "a name not in the certificate must fail:\n{out}");
    assert!(
        out.contains("hostname mismatch") || out.contains("verify error"),
        "{out}"
    );
    // And an untrusted CA fails too.
    let other = tempfile::tempdir().unwrap();
    for f in ["key.pem", "cert.pem"] {
        std::fs::copy(dir.path().join(f), other.path().join(f)).unwrap();
    }
    openssl_req_p256(
        other.path(),
        &["-x509"],
        "otherkey.pem",
        "ca.pem",
        "/CN=other",
        &["-days", "1"],
    );
    let (ok, out) = client(other.path(), port, "web.example.com");
    assert!(!ok, "a client trusting another CA must fail:\n{out}");
}
