//! Helpers for the intermediate CA tests: an upstream provider on `upstream-ca`, what our leader
//! asked it, and checks that a published certificate leads to the upstream root (`openssl
//! verify -x509_strict`, a TLS handshake trusting the root alone).

use std::time::Duration;

use jujusim::Model;
use openssl::x509::X509;
use serde_json::{json, Value};

use super::handshake::handshake;
use super::interop::*;
use super::pki::openssl_cli;

/// Our endpoint that asks for the intermediate.
pub const UPSTREAM: &str = "upstream-ca";

/// Relates our provider's `upstream-ca` to `app:certificates`; returns the relation id.
pub fn relate_upstream(m: &mut Model, app: &str) -> u32 {
    m.relate(
        &format!("{PROVIDER}:{UPSTREAM}"),
        &format!("{app}:certificates"),
    )
    .unwrap_or_else(|e| panic!("relate upstream-ca to {app}: {e}"))
}

/// The CSR our leader put in its app databag on the upstream relation (exactly one, `ca: true`).
pub fn our_ca_request(m: &Model, rel: u32) -> String {
    let bag = m.relation_data(rel, PROVIDER);
    let raw = bag
        .get("certificate_signing_requests")
        .unwrap_or_else(|| panic!("no CA request in {PROVIDER}'s bag on {rel}: {bag:?}"));
    let list: Value = serde_json::from_str(raw).unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1, "{raw}");
    assert_eq!(list[0]["ca"], json!(true), "{raw}");
    list[0]["certificate_signing_request"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The leader's status message of `app`.
pub fn leader_status(m: &Model, app: &str) -> (String, String) {
    let s = m.unit_status(&m.leader(app).unwrap());
    (s.workload, s.message)
}

/// The content of `app`'s CA secret (latest revision).
pub fn ca_secret(m: &Model, app: &str) -> jujusim::Databag {
    let s = secrets_labelled(m, "tls-provider-ca")
        .into_iter()
        .find(|s| s.owner == app)
        .unwrap_or_else(|| panic!("no CA secret owned by {app}"));
    s.revisions.last().cloned().unwrap_or_default()
}

/// Moves the simulated clock just past `app`'s CA secret expiry (its next CA deadline).
pub fn advance_to_ca_deadline(m: &mut Model, app: &str) {
    let view = secrets_labelled(m, "tls-provider-ca")
        .into_iter()
        .find(|s| s.owner == app)
        .expect("CA secret");
    let expire = view.expire.expect("the CA secret expires");
    let by = expire.duration_since(m.now()).unwrap_or_default();
    m.advance_clock(by + Duration::from_secs(60));
}

/// Settles, then moves the clock to our CA's deadlines until `done` holds (at most `max`).
pub fn advance_until(m: &mut Model, max: usize, done: impl Fn(&Model) -> bool) {
    for _ in 0..max {
        if done(m) {
            return;
        }
        advance_to_ca_deadline(m, PROVIDER);
        settle(m);
    }
    assert!(
        done(m),
        "not reached after {max} deadlines: {:?}",
        leader_status(m, PROVIDER)
    );
}

pub fn x509(pem: &str) -> X509 {
    X509::from_pem(pem.as_bytes()).unwrap_or_else(|e| panic!("not PEM ({e}): {pem}"))
}

pub fn der_of(pem: &str) -> Vec<u8> {
    x509(pem).to_der().unwrap()
}

/// `openssl verify -x509_strict -CAfile <root> -untrusted <chain[1..]> <leaf>`.
pub fn strict_verify(leaf: &str, chain_above: &[String], root: &str) -> (bool, String) {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("root.pem"), root).unwrap();
    std::fs::write(d.path().join("leaf.pem"), leaf).unwrap();
    std::fs::write(d.path().join("untrusted.pem"), chain_above.join("\n")).unwrap();
    openssl_cli(
        d.path(),
        &[
            "verify",
            "-x509_strict",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "untrusted.pem",
            "leaf.pem",
        ],
    )
}

/// Every certificate published on `rel` leads to `root` alone: chain is
/// [leaf, intermediate(s)..., root], `ca` is the root, `openssl verify -x509_strict` passes with
/// the chain as untrusted certificates, a leaf never outlives an intermediate above it, and a
/// TLS handshake with a client trusting only `root` succeeds for each requirer unit's
/// certificate. Returns how many entries were checked.
pub fn assert_chains_to(m: &Model, rel: u32, requirer: &str, host: &str, root: &str) -> usize {
    let entries = certificates(&provider_bag(m, rel));
    assert!(!entries.is_empty(), "nothing published on {rel}");
    for e in &entries {
        let chain = chain_of(e);
        let leaf = e["certificate"].as_str().unwrap();
        assert!(chain.len() >= 3, "leaf, intermediate, root: {chain:?}");
        assert_eq!(der_of(&chain[0]), der_of(leaf));
        assert_eq!(
            der_of(e["ca"].as_str().unwrap()),
            der_of(root),
            "ca is the root"
        );
        assert_eq!(
            der_of(chain.last().unwrap()),
            der_of(root),
            "chain ends at the root"
        );
        let (ok, out) = strict_verify(leaf, &chain[1..], root);
        assert!(ok, "openssl verify -x509_strict: {out}");
        let leaf_end = tls_provider::pki::verify::asn1_to_system(x509(leaf).not_after());
        for ca in &chain[1..] {
            let ca_end = tls_provider::pki::verify::asn1_to_system(x509(ca).not_after());
            assert!(
                leaf_end <= ca_end,
                "a leaf outlives a CA above it: {leaf_end:?} > {ca_end:?}"
            );
        }
    }
    for unit in m.units(requirer) {
        let key = requirer_private_key(m, &unit);
        for csr in requirer_csrs(m, rel, &unit) {
            let e = entry_for(&entries, &csr.pem).expect("published for the unit's CSR");
            let chain = chain_of(e);
            handshake(
                e["certificate"].as_str().unwrap(),
                &key,
                &chain,
                &[root.to_string()],
                host,
            )
            .unwrap_or_else(|err| panic!("handshake for {unit} trusting the root only: {err}"));
        }
    }
    entries.len()
}

/// A published entry's `chain`, as PEM strings.
pub fn chain_of(e: &Value) -> Vec<String> {
    e["chain"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect()
}

/// The certificates published on `rel`, as (csr, certificate) pairs, for "untouched" checks.
pub fn published_pairs(m: &Model, rel: u32) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = certificates(&provider_bag(m, rel))
        .iter()
        .map(|e| {
            (
                e["certificate_signing_request"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                e["certificate"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

/// Runs `update-status` on every unit of `app` and asserts that no hook wrote anything
/// (`relation-set`, `secret-set`, `secret-add`, `status-set`): a settled reconcile changes
/// nothing the second time.
pub fn assert_quiet_update_status(m: &mut Model, app: &str) {
    let start = m.hook_runs().len();
    m.update_status(app);
    m.settle().expect("settle");
    let writes: Vec<String> = m.hook_runs()[start..]
        .iter()
        .flat_map(|r| {
            r.tool_calls
                .iter()
                .filter(|c| {
                    ["relation-set", "secret-set", "secret-add", "status-set"]
                        .contains(&c.tool.as_str())
                })
                .map(move |c| format!("{} {}: {} {:?}", r.unit, r.hook, c.tool, c.args))
        })
        .collect();
    assert!(writes.is_empty(), "update-status wrote: {writes:#?}");
}
