//! Bringing a CA signed outside Juju, end to end in the simulator: the offline signing ceremony
//! (`get-ca-signing-request`, then `set-ca-certificate` with what the organisation's CA signed,
//! here the `openssl` command line) and `import-ca` (a CA certificate and key from a Juju user
//! secret).
//!
//! - Ceremony: the CSR asks for a CA and is the same until `new=true`; once the signed
//!   intermediate is set, every leaf of the real Python requirer is reissued under it and
//!   chains to the outside root (`openssl verify -x509_strict`, a handshake trusting the root
//!   alone); `get-ca-certificate` and status name the source.
//! - Every refusal of `set-ca-certificate` (nothing outstanding, not PEM, another key, a leaf,
//!   no keyCertSign, no root, out of order, too short, expired, ...) names its check and
//!   changes neither the CA secret nor a published certificate; manual mode refuses the actions.
//! - `import-ca`: an intermediate with its chain, announced first (`ca-rotation-overlap`), then
//!   signing; its private key is in the charm's CA secret and nowhere else (relation data, logs,
//!   status, unit state, hook-tool arguments, action output).
//! - `import-ca` refusals: a secret not granted or not found, keys missing, a key that does not
//!   match, a non-CA certificate, no chain to a root, and `upstream-ca` related.
//!
//! Needs `make test-charms` and `cargo build -p jujusim`.

mod common;

use std::time::{Duration, SystemTime};

use base64::Engine;
use common::interop::*;
use common::outside_ca::{OutsideCa, Signer, CA_EXT, LEAF_EXT};
use common::pki::openssl_req_p256;
use common::upstream::*;
use jujusim::{ActionResult, Databag, Model};
use openssl::x509::X509Req;
use serde_json::{json, Map, Value};
use tls_provider::pki::{issue, Ca, IssueRequest, ParsedCsr};

const WEB: &str = "web";
const HOST: &str = "web.example.com";
/// The puppet requirer of the error tests, and its one request.
const PUPPET: &str = "crafted";
const PUPPET_HOST: &str = "crafted.example.com";
const CA_LABEL: &str = "tls-provider-ca";
const DAY: u64 = 86_400;
const CEREMONY_SOURCE: &str = "offline signing ceremony (set-ca-certificate)";
const IMPORTED_SOURCE: &str = "imported (import-ca)";

// ---------------------------------------------------------------------------------------------
// Helpers

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s.as_bytes())
}

/// Runs `name` on the provider's leader.
fn run(m: &mut Model, name: &str, params: Value) -> ActionResult {
    let leader = m.leader(PROVIDER).expect("a leader");
    m.run_action(&leader, name, obj(params))
        .unwrap_or_else(|e| panic!("run {name}: {e}"))
}

fn completed(r: &ActionResult) -> &Map<String, Value> {
    assert_eq!(r.status, "completed", "{r:?}");
    r.results.as_object().unwrap()
}

fn result<'a>(r: &'a ActionResult, key: &str) -> &'a str {
    completed(r)[key]
        .as_str()
        .unwrap_or_else(|| panic!("no string {key}: {r:?}"))
}

/// Asserts that `r` failed with a message containing `want`.
fn assert_failed(r: &ActionResult, want: &str) {
    assert_eq!(
        r.status, "failed",
        "expected a failure naming {want:?}: {r:?}"
    );
    assert!(
        r.message.contains(want),
        "message does not say {want:?}: {}",
        r.message
    );
}

/// Deploys our provider (`units` units) and the web requirer (2 units); returns the relation.
fn deploy_with_web(m: &mut Model, units: usize, config: Value) -> u32 {
    deploy_provider(m, units, config);
    deploy_requirer(m, WEB, 2, json!({"common-name": HOST, "sans-dns": HOST}))
}

/// Deploys our provider (one unit) and a puppet requirer with one leaf request; settles.
fn deploy_with_puppet(m: &mut Model, config: Value) -> u32 {
    deploy_provider(m, 1, config);
    let rel = deploy_puppet(m, PUPPET, 1);
    request_leaf(
        m,
        rel,
        &format!("{PUPPET}/0"),
        &crafted_with_dns(PUPPET_HOST).pem,
    );
    settle(m);
    assert_eq!(published_pairs(m, rel).len(), 1, "the puppet is served");
    rel
}

/// A new P-256 key and a CSR for `cn`, made with the `openssl` command line: (key, csr).
fn openssl_key_and_csr(dir: &std::path::Path, cn: &str) -> (String, String) {
    let (key, csr) = (format!("{cn}.key"), format!("{cn}.csr"));
    openssl_req_p256(dir, &["-new"], &key, &csr, &format!("/CN={cn}"), &[]);
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    (read(&key), read(&csr))
}

/// Signs `csr` as a CA with the crate, by the outside root, as of `now` for `days` days (for
/// certificates the `openssl` command line cannot backdate: an expired one).
fn signed_by_root_at(org: &OutsideCa, csr: &str, now: SystemTime, days: u64) -> String {
    let root = Ca::from_pem(&org.root_pem(), &org.root_key_pem()).expect("the outside root");
    let parsed = ParsedCsr::parse(csr).expect("CSR");
    let req = IssueRequest {
        crl_url: None,
        csr: &parsed,
        is_ca: true,
        validity_secs: days * DAY,
        now,
    };
    tls_provider::pki::cert_to_pem(&issue(&root, &req).expect("issue"))
}

fn pems(certs: &[String]) -> String {
    certs
        .iter()
        .map(|c| c.trim())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The CA secret: (number of revisions, latest content).
fn ca_secret_state(m: &Model) -> (usize, Databag) {
    let s = secrets_labelled(m, CA_LABEL)
        .into_iter()
        .find(|s| s.owner == PROVIDER)
        .expect("the CA secret");
    (
        s.revisions.len(),
        s.revisions.last().cloned().unwrap_or_default(),
    )
}

/// The CA secret and every certificate published on `rels`, to show a refusal changed nothing.
struct Snapshot {
    ca: (usize, Databag),
    published: Vec<(u32, Vec<(String, String)>)>,
}

impl Snapshot {
    fn of(m: &Model, rels: &[u32]) -> Snapshot {
        Snapshot {
            ca: ca_secret_state(m),
            published: rels.iter().map(|&r| (r, published_pairs(m, r))).collect(),
        }
    }

    /// Asserts that nothing changed since; names the changed secret keys, never their values.
    fn assert_same(&self, m: &Model, rels: &[u32], after: &str) {
        let now = Snapshot::of(m, rels);
        let ((revs, old), (new_revs, new)) = (&self.ca, &now.ca);
        let changed: Vec<&String> = old
            .keys()
            .chain(new.keys().filter(|k| !old.contains_key(*k)))
            .filter(|k| old.get(*k) != new.get(*k))
            .collect();
        assert!(
            revs == new_revs && changed.is_empty(),
            "{after} changed the CA secret: {revs} -> {new_revs} revisions, keys {changed:?}"
        );
        assert_eq!(
            self.published, now.published,
            "{after} changed a published certificate"
        );
    }
}

/// The base64 lines of a PEM's body, at least 16 characters long (so none matches by chance).
fn pem_lines(pem: &str) -> Vec<String> {
    let lines: Vec<String> = pem
        .lines()
        .map(str::trim)
        .filter(|l| l.len() >= 16 && !l.starts_with("-----"))
        .map(str::to_string)
        .collect();
    assert!(!lines.is_empty(), "not a PEM: {pem}");
    lines
}

/// What a leaked key would show, however it was wrapped: each line of its PEM body
/// ([`pem_lines`]), the whole body on one line, and the base64 of the whole PEM.
fn pem_needles(pem: &str) -> Vec<String> {
    let mut out = pem_lines(pem);
    out.push(out.concat());
    out.push(b64(pem));
    out
}

/// Fails when `text` contains any of `needles`, naming `what` and the line, not the key.
fn assert_free_of(what: &str, text: &str, needles: &[String]) {
    for (n, line) in text.lines().enumerate() {
        if let Some(at) = needles.iter().find_map(|k| line.find(k.as_str())) {
            let before: String = line[..at].chars().rev().take(160).collect();
            let before: String = before.chars().rev().collect();
            panic!(
                "the CA private key appears in {what}, line {}, after: {before:?}",
                n + 1
            );
        }
    }
}

/// The key (`needles`, see [`pem_needles`]) is in no relation databag, unit log, status, unit
/// state, hook-tool argument, action result (`actions`) or secret, except the charm's own CA
/// secret and the operator's user secrets (owned by the model).
fn assert_key_nowhere(m: &Model, needles: &[String], actions: &[ActionResult]) {
    for rel in m.relation_ids() {
        let ends = m.relation_endpoints(rel).expect("endpoints");
        let mut apps: Vec<&String> = ends.iter().map(|(a, _)| a).collect();
        apps.dedup();
        for app in apps {
            let mut owners = vec![app.clone()];
            owners.extend(m.units(app));
            for owner in owners {
                let bag = m.relation_data(rel, &owner);
                assert_free_of(
                    &format!("{owner}'s bag on {rel}"),
                    &format!("{bag:?}"),
                    needles,
                );
            }
        }
    }
    for app in m.apps() {
        let (st, msg) = m.app_status(&app);
        assert_free_of(&format!("{app}'s status"), &format!("{st} {msg}"), needles);
        for unit in m.units(&app) {
            assert_free_of(
                &format!("{unit}'s logs"),
                &m.logs(&unit).join("\n"),
                needles,
            );
            let s = m.unit_status(&unit);
            assert_free_of(&format!("{unit}'s status"), &format!("{s:?}"), needles);
            let state = m.unit_state(&unit);
            assert_free_of(&format!("{unit}'s state"), &format!("{state:?}"), needles);
        }
    }
    assert_free_of("the status table", &m.status_table(), needles);
    for r in m.hook_runs() {
        let args = format!("{:?}", r.tool_calls);
        assert_free_of(&format!("{} {} tool calls", r.unit, r.hook), &args, needles);
    }
    for (i, a) in actions.iter().enumerate() {
        let text = format!(
            "{}\n{}\n{}\n{}\n{}",
            a.message,
            a.results,
            a.logs.join("\n"),
            a.stdout,
            a.stderr
        );
        assert_free_of(&format!("action result #{i}"), &text, needles);
    }
    for s in m.secrets() {
        let ours = s.owner == PROVIDER && s.label.as_deref() == Some(CA_LABEL);
        if ours || s.owner == "model" {
            continue;
        }
        let text = format!("{:?}", s.revisions);
        assert_free_of(
            &format!("secret {:?} of {}", s.label, s.owner),
            &text,
            needles,
        );
    }
}

/// Every web unit's library accepted the certificate published for each of its CSRs.
fn assert_web_accepted(m: &Model, rel: u32) {
    let entries = certificates(&provider_bag(m, rel));
    for unit in m.units(WEB) {
        for csr in requirer_csrs(m, rel, &unit) {
            let e = entry_for(&entries, &csr.pem).expect("published for the CSR");
            assert_accepted(m, &unit, e);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The offline ceremony

#[test]
fn offline_ceremony_signs_every_leaf_under_the_outside_root() {
    let mut m = new_model();
    let rel = deploy_with_web(
        &mut m,
        2,
        json!({"certificate-validity": "7d", "ca-rotation-overlap": "0"}),
    );
    settle(&mut m);
    assert_eq!(certificates(&provider_bag(&m, rel)).len(), 2);

    // Step 1: the CSR, for a CA; its key stays in the CA secret.
    let first = run(&mut m, "get-ca-signing-request", json!({}));
    let csr = result(&first, "csr").to_string();
    assert_eq!(
        result(&first, "result"),
        "new private key (kept in the CA secret) and CSR made"
    );
    let next = result(&first, "next-step");
    assert!(
        next.contains("sign it as a CA (basicConstraints CA:TRUE, keyUsage keyCertSign)")
            && next.contains("set-ca-certificate"),
        "{next}"
    );
    let req = X509Req::from_pem(csr.as_bytes()).expect("a PEM CSR");
    let text = String::from_utf8(req.to_text().unwrap()).unwrap();
    assert!(text.contains("CA:TRUE"), "{text}");
    assert!(text.contains("Certificate Sign"), "{text}");
    let (_, secret) = ca_secret_state(&m);
    assert_eq!(secret.get("pending-csr"), Some(&csr));
    let pending_key =
        tls_provider::pki::private_key_from_pem(&secret["pending-private-key"]).unwrap();
    assert!(req.public_key().unwrap().public_eq(&pending_key));
    let (_, msg) = leader_status(&m, PROVIDER);
    assert!(
        msg.contains("CA signing request from get-ca-signing-request outstanding since"),
        "{msg}"
    );

    // Asked again: the same request.
    let again = run(&mut m, "get-ca-signing-request", json!({}));
    assert_eq!(result(&again, "csr"), csr);
    assert_eq!(
        result(&again, "result"),
        "the outstanding request (run with new=true for a new key)"
    );

    // Step 2: the organisation's intermediate signs it as a CA; both PEMs base64-encoded.
    let org = OutsideCa::new();
    let cert = org.sign(&csr, true);
    let chain = pems(&[org.int_pem(), org.root_pem()]);
    let done = run(
        &mut m,
        "set-ca-certificate",
        json!({"certificate": b64(&cert), "ca-chain": b64(&chain)}),
    );
    let said = result(&done, "result");
    assert!(
        said.starts_with("installed: it signs now;") && said.contains("reissued under it"),
        "{said}"
    );
    assert_eq!(der_of(result(&done, "ca-certificate")), der_of(&cert));
    settle(&mut m);
    let mut actions = vec![first, again, done];

    assert_eq!(assert_chains_to(&m, rel, WEB, HOST, &org.root_pem()), 2);
    for e in certificates(&provider_bag(&m, rel)) {
        let chain = e["chain"].as_array().unwrap();
        assert_eq!(chain.len(), 4, "leaf, ours, the org intermediate, root");
        assert_eq!(der_of(chain[1].as_str().unwrap()), der_of(&cert));
        assert_eq!(der_of(chain[2].as_str().unwrap()), der_of(&org.int_pem()));
    }
    assert_web_accepted(&m, rel);

    let ca = run(&mut m, "get-ca-certificate", json!({}));
    assert_eq!(result(&ca, "source"), CEREMONY_SOURCE);
    assert_eq!(der_of(result(&ca, "ca-certificate")), der_of(&cert));
    assert_eq!(
        der_of(result(&ca, "root-ca-certificate")),
        der_of(&org.root_pem())
    );
    let listed = tls_provider::pki::parse_certs(result(&ca, "ca-chain")).unwrap();
    assert_eq!(listed.len(), 3, "ours, the org intermediate, root");
    actions.push(ca);
    let (st, msg) = leader_status(&m, PROVIDER);
    assert_eq!(st, "active", "{msg}");
    assert!(
        msg.contains("signing as intermediate") && msg.contains(&format!("from {CEREMONY_SOURCE}")),
        "{msg}"
    );
    assert!(
        msg.contains("under \"Outside Root CA\""),
        "the root is named: {msg}"
    );
    let (_, secret) = ca_secret_state(&m);
    assert_eq!(
        secret.get("source").map(String::as_str),
        Some("offline-ceremony")
    );
    assert!(
        !secret.keys().any(|k| k.starts_with("pending-")),
        "the request is done: {:?}",
        secret.keys().collect::<Vec<_>>()
    );
    // The key made for the CSR now signs; it is in the CA secret and nowhere else.
    let key = secret.get("private-key").expect("the CA key");
    let signing = tls_provider::pki::private_key_from_pem(key).unwrap();
    assert!(signing.public_eq(&pending_key), "the key of the CSR signs");
    assert_key_nowhere(&m, &pem_needles(key), &actions);
    assert_provider_hooks_ok(&m);
}

#[test]
fn ceremony_refusals_name_the_check_and_change_nothing() {
    let mut m = new_model();
    let rel = deploy_with_puppet(
        &mut m,
        json!({"certificate-validity": "7d", "ca-rotation-overlap": "0"}),
    );
    let rels = [rel];
    let org = OutsideCa::new();
    let chain = pems(&[org.int_pem(), org.root_pem()]);

    // Nothing asked yet.
    let before = Snapshot::of(&m, &rels);
    let (_, stranger_csr) = openssl_key_and_csr(org.dir(), "stranger");
    let stranger = org.sign_with(&stranger_csr, Signer::Intermediate, 30, CA_EXT);
    let r = run(
        &mut m,
        "set-ca-certificate",
        json!({"certificate": stranger, "ca-chain": chain}),
    );
    assert_failed(
        &r,
        "no CA signing request is outstanding: run get-ca-signing-request, have its CSR signed, \
         then run set-ca-certificate with the signed certificate",
    );
    before.assert_same(&m, &rels, "set-ca-certificate without a request");

    let asked = run(&mut m, "get-ca-signing-request", json!({}));
    let csr = result(&asked, "csr").to_string();
    let before = Snapshot::of(&m, &rels);

    let good = org.sign_with(&csr, Signer::Intermediate, 30, CA_EXT);
    let leaf = org.sign_with(&csr, Signer::Intermediate, 30, LEAF_EXT);
    let no_cert_sign = org.sign_with(
        &csr,
        Signer::Intermediate,
        30,
        "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,digitalSignature\n",
    );
    let short = org.sign_with(&csr, Signer::Intermediate, 5, CA_EXT);
    let expired = signed_by_root_at(
        &org,
        &csr,
        SystemTime::now() - Duration::from_secs(100 * DAY),
        30,
    );
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "not PEM nor base64",
            json!({"certificate": "not a certificate!", "ca-chain": chain}),
            "parameter certificate cannot be decoded: it is not PEM (no -----BEGIN line) and not \
             valid base64",
        ),
        (
            "base64 of text that is not PEM",
            json!({"certificate": b64("hello, world"), "ca-chain": chain}),
            "parameter certificate cannot be decoded: its base64 decodes to text without a \
             -----BEGIN line, not PEM",
        ),
        (
            "the CSR instead of a certificate",
            json!({"certificate": csr, "ca-chain": chain}),
            "certificate is not PEM certificates: not a PEM certificate: found a PEM block of \
             another type, expected -----BEGIN CERTIFICATE-----",
        ),
        (
            "ca-chain that is not PEM",
            json!({"certificate": good, "ca-chain": b64("no chain here")}),
            "parameter ca-chain cannot be decoded",
        ),
        (
            "the certificate and its chain in one parameter",
            json!({"certificate": pems(&[good.clone(), org.int_pem()]), "ca-chain": chain}),
            "certificate holds 2 certificates; give only the CA certificate there, and the \
             certificates above it in ca-chain",
        ),
        (
            "a certificate for another key",
            json!({"certificate": stranger, "ca-chain": chain}),
            "certificate cannot be installed: its public key is not the key of the CSR from \
             get-ca-signing-request; nothing was changed",
        ),
        (
            "a leaf (CA:FALSE) for our CSR",
            json!({"certificate": leaf, "ca-chain": chain}),
            "certificate cannot be installed: it is not a CA certificate (no basicConstraints \
             CA:TRUE): a leaf cannot sign certificates; nothing was changed",
        ),
        (
            "a CA without keyCertSign",
            json!({"certificate": no_cert_sign, "ca-chain": chain}),
            "certificate cannot be installed: it may not sign certificates (keyUsage without \
             keyCertSign); nothing was changed",
        ),
        (
            "a chain without its root",
            json!({"certificate": good, "ca-chain": org.int_pem()}),
            "certificate cannot be installed: the chain does not end with a root: its last \
             certificate (CN=Outside Intermediate CA, O=Example) is issued by CN=Outside Root \
             CA, O=Example; give the chain up to the self-signed root; nothing was changed",
        ),
        (
            "a chain root first",
            json!({"certificate": good, "ca-chain": pems(&[org.root_pem(), org.int_pem()])}),
            "certificate cannot be installed: the chain is not leaf-first",
        ),
        (
            "a chain under another root",
            json!({"certificate": good, "ca-chain": OutsideCa::new().root_pem()}),
            "certificate cannot be installed: the chain is not leaf-first",
        ),
        (
            "5 days, less than certificate-validity",
            json!({"certificate": short, "ca-chain": chain}),
            "certificate cannot be installed: it has 4 day(s) left, less than \
             certificate-validity (7 day(s)): it could not sign full-length certificates; \
             nothing was changed",
        ),
        (
            "expired",
            json!({"certificate": expired, "ca-chain": org.root_pem()}),
            "certificate cannot be installed: the CA certificate (",
        ),
    ];
    for (what, params, want) in cases {
        let r = run(&mut m, "set-ca-certificate", params);
        assert_failed(&r, want);
        if what == "expired" {
            assert!(
                r.message.contains(") has expired: it was valid until "),
                "{}",
                r.message
            );
        }
        before.assert_same(&m, &rels, what);
    }

    // The request is still the outstanding one.
    let still = run(&mut m, "get-ca-signing-request", json!({}));
    assert_eq!(result(&still, "csr"), csr);
    settle(&mut m);
    before.assert_same(&m, &rels, "settling after the refusals");

    // new=true replaces the key: the certificate for the old CSR no longer fits, one for the
    // new CSR installs, and the puppet's certificate is reissued under it.
    let renewed = run(&mut m, "get-ca-signing-request", json!({"new": true}));
    let new_csr = result(&renewed, "csr").to_string();
    assert_ne!(new_csr, csr);
    let r = run(
        &mut m,
        "set-ca-certificate",
        json!({"certificate": good, "ca-chain": chain}),
    );
    assert_failed(
        &r,
        "its public key is not the key of the CSR from get-ca-signing-request",
    );
    let signed = org.sign_with(&new_csr, Signer::Intermediate, 30, CA_EXT);
    let r = run(
        &mut m,
        "set-ca-certificate",
        json!({"certificate": signed, "ca-chain": chain}),
    );
    assert!(result(&r, "result").starts_with("installed: it signs now;"));
    settle(&mut m);
    let published = published_pairs(&m, rel);
    assert_ne!(published, before.published[0].1, "reissued");
    org.verify(&published[0].1, &pems(&[signed.clone(), org.int_pem()]));

    // Manual mode: the built-in CA signs nothing, so neither action runs.
    m.set_config(PROVIDER, obj(json!({"mode": "manual"})))
        .unwrap();
    settle(&mut m);
    for action in ["get-ca-signing-request", "set-ca-certificate"] {
        let params = match action {
            "set-ca-certificate" => json!({"certificate": good, "ca-chain": chain}),
            _ => json!({}),
        };
        let r = run(&mut m, action, params);
        assert_failed(
            &r,
            &format!(
                "cannot run {action}: mode is manual, so the built-in CA signs nothing; set \
                 `juju config {PROVIDER} mode=self-signed` first"
            ),
        );
    }
    assert_provider_hooks_ok(&m);
}

// ---------------------------------------------------------------------------------------------
// import-ca

/// A user secret with `content` (key, value pairs), granted to the provider unless `grant` is
/// false; returns its URI.
fn user_secret(m: &mut Model, name: &str, content: &[(&str, &str)], grant: bool) -> String {
    let bag: Databag = content
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let uri = m
        .add_user_secret(name, bag)
        .unwrap_or_else(|e| panic!("add secret {name}: {e}"));
    if grant {
        m.grant_user_secret(&uri, PROVIDER).unwrap();
    }
    uri
}

#[test]
fn import_ca_installs_an_intermediate_and_its_key_appears_nowhere_else() {
    let mut m = new_model();
    // The default ca-rotation-overlap (24h): a CA under another root is announced first.
    let rel = deploy_with_web(&mut m, 2, json!({"certificate-validity": "7d"}));
    settle(&mut m);
    let mut actions = Vec::new();

    let org = OutsideCa::new();
    let key = org.int_key_pem();
    let uri = user_secret(
        &mut m,
        "my-ca",
        &[
            ("certificate", &org.int_pem()),
            ("private-key", &key),
            ("ca-chain", &org.root_pem()),
        ],
        true,
    );
    let r = run(&mut m, "import-ca", json!({"secret-id": uri}));
    let said = result(&r, "result");
    assert!(
        said.starts_with(
            "installed and announced: its root \"Outside Root CA\" joins the trust bundle now"
        ) && said.contains("after ca-rotation-overlap (1d)"),
        "{said}"
    );
    assert_eq!(der_of(result(&r, "ca-certificate")), der_of(&org.int_pem()));
    actions.push(r);
    settle(&mut m);
    let (_, msg) = leader_status(&m, PROVIDER);
    assert!(msg.contains("CA rotation announced"), "{msg}");
    let bundle = run(&mut m, "get-trust-bundle", json!({}));
    assert!(
        result(&bundle, "bundle").contains(org.root_pem().trim()),
        "the root is trusted before it is used"
    );
    actions.push(bundle);

    advance_until(&mut m, 3, |m| {
        ca_secret_state(m).1.get("source").map(String::as_str) == Some("imported")
    });
    assert_eq!(assert_chains_to(&m, rel, WEB, HOST, &org.root_pem()), 2);
    for e in certificates(&provider_bag(&m, rel)) {
        let chain = e["chain"].as_array().unwrap();
        assert_eq!(chain.len(), 3, "leaf, the imported intermediate, root");
        assert_eq!(der_of(chain[1].as_str().unwrap()), der_of(&org.int_pem()));
    }
    assert_web_accepted(&m, rel);

    let ca = run(&mut m, "get-ca-certificate", json!({}));
    assert_eq!(result(&ca, "source"), IMPORTED_SOURCE);
    assert_eq!(
        der_of(result(&ca, "ca-certificate")),
        der_of(&org.int_pem())
    );
    assert_eq!(
        der_of(result(&ca, "root-ca-certificate")),
        der_of(&org.root_pem())
    );
    actions.push(ca);
    let (st, msg) = leader_status(&m, PROVIDER);
    assert_eq!(st, "active", "{msg}");
    assert!(
        msg.contains(&format!(
            "signing as intermediate \"Outside Intermediate CA\" under \"Outside Root CA\" from \
             {IMPORTED_SOURCE}"
        )),
        "{msg}"
    );
    for name in ["get-issued-certificates", "get-trust-bundle"] {
        let r = run(&mut m, name, json!({}));
        completed(&r);
        actions.push(r);
    }

    // The key: in the charm's CA secret (that is where CA keys live), nowhere else.
    let (_, secret) = ca_secret_state(&m);
    let stored = secret.get("private-key").expect("the CA key");
    let stored_key = tls_provider::pki::private_key_from_pem(stored).unwrap();
    let imported = tls_provider::pki::private_key_from_pem(&key).unwrap();
    assert!(
        stored_key.public_eq(&imported),
        "the CA secret holds the imported key"
    );
    let mut needles = pem_needles(&key);
    needles.extend(pem_needles(stored));
    let bare_id = uri.strip_prefix("secret:").unwrap_or(&uri);
    // The search finds the key where it is (so it would find it anywhere else).
    let in_ca_secret = format!("{secret:?}");
    assert!(pem_lines(stored)
        .iter()
        .all(|n| in_ca_secret.contains(n.as_str())));
    let operator = m.secrets().into_iter().find(|s| s.id == bare_id).unwrap();
    let in_user_secret = format!("{:?}", operator.revisions);
    assert!(pem_lines(&key)
        .iter()
        .all(|n| in_user_secret.contains(n.as_str())));
    assert_key_nowhere(&m, &needles, &actions);
    assert_provider_hooks_ok(&m);
}

#[test]
fn import_ca_refusals_name_the_problem_and_change_nothing() {
    let mut m = new_model();
    let rel = deploy_with_puppet(&mut m, json!({"certificate-validity": "7d"}));
    let rels = [rel];
    let org = OutsideCa::new();
    let (int, key, root) = (org.int_pem(), org.int_key_pem(), org.root_pem());
    let (leaf_key, leaf_csr) = openssl_key_and_csr(org.dir(), "leaf.example.com");
    let leaf = org.sign_with(&leaf_csr, Signer::Intermediate, 30, LEAF_EXT);
    let mut needles = pem_needles(&key);
    needles.extend(pem_needles(&leaf_key));
    let before = Snapshot::of(&m, &rels);
    let mut actions = Vec::new();
    let mut refused = |m: &mut Model, uri: &str, want: &str, what: &str| {
        let r = run(m, "import-ca", json!({"secret-id": uri}));
        assert_failed(&r, want);
        before.assert_same(m, &rels, what);
        actions.push(r);
    };

    // Not granted.
    let uri = user_secret(
        &mut m,
        "not-granted",
        &[
            ("certificate", &int),
            ("private-key", &key),
            ("ca-chain", &root),
        ],
        false,
    );
    refused(
        &mut m,
        &uri,
        &format!(
            "secret {uri} is not granted to {PROVIDER}: run juju grant-secret {uri} {PROVIDER}, \
             then retry"
        ),
        "a secret not granted",
    );

    // Not found (removed).
    let gone = user_secret(&mut m, "gone", &[("certificate", &int)], true);
    m.remove_user_secret(&gone).unwrap();
    refused(
        &mut m,
        &gone,
        &format!(
            "secret {gone} was not found, or is not granted to {PROVIDER}; create a secret with \
             the CA: juju add-secret my-ca certificate#file=ca.pem private-key#file=ca.key"
        ),
        "a secret not found",
    );

    // The key under another name: the keys are listed, never the values.
    let uri = user_secret(
        &mut m,
        "wrong-keys",
        &[("certificate", &int), ("key", &key)],
        true,
    );
    refused(
        &mut m,
        &uri,
        &format!("secret {uri} has no private-key (its keys: [\"certificate\", \"key\"]); create"),
        "a secret without private-key",
    );
    let uri = user_secret(&mut m, "key-only", &[("private-key", &key)], true);
    refused(
        &mut m,
        &uri,
        &format!("secret {uri} has no certificate (its keys: [\"private-key\"])"),
        "a secret without certificate",
    );
    let uri = user_secret(
        &mut m,
        "key-not-pem",
        &[("certificate", &int), ("private-key", "hunter2, really")],
        true,
    );
    refused(
        &mut m,
        &uri,
        &format!(
            "the private-key in secret {uri} is not a PEM private key (PKCS#8, PKCS#1 or SEC1)"
        ),
        "a private-key that is not PEM",
    );

    // The certificate checks.
    let uri = user_secret(
        &mut m,
        "mismatch",
        &[
            ("certificate", &int),
            ("private-key", &leaf_key),
            ("ca-chain", &root),
        ],
        true,
    );
    refused(
        &mut m,
        &uri,
        "the certificate in the secret cannot be installed: its public key is not the key of the \
         secret's private-key; nothing was changed",
        "a key that does not match",
    );
    let uri = user_secret(
        &mut m,
        "a-leaf",
        &[
            ("certificate", &leaf),
            ("private-key", &leaf_key),
            ("ca-chain", &pems(&[int.clone(), root.clone()])),
        ],
        true,
    );
    refused(
        &mut m,
        &uri,
        "the certificate in the secret cannot be installed: it is not a CA certificate (no \
         basicConstraints CA:TRUE): a leaf cannot sign certificates; nothing was changed",
        "a leaf certificate",
    );
    let uri = user_secret(
        &mut m,
        "no-chain",
        &[("certificate", &int), ("private-key", &key)],
        true,
    );
    refused(
        &mut m,
        &uri,
        "the certificate in the secret cannot be installed: the chain does not end with a root: \
         its last certificate (CN=Outside Intermediate CA, O=Example) is issued by CN=Outside \
         Root CA, O=Example; give the chain up to the self-signed root; nothing was changed",
        "an intermediate without its chain",
    );
    let uri = user_secret(
        &mut m,
        "chain-not-pem",
        &[
            ("certificate", &int),
            ("private-key", &key),
            ("ca-chain", "root.pem"),
        ],
        true,
    );
    refused(
        &mut m,
        &uri,
        "the ca-chain in the secret is not PEM certificates: not a PEM certificate: no \
         -----BEGIN CERTIFICATE----- block found",
        "a ca-chain that is not PEM",
    );

    // upstream-ca related: the intermediate comes from there, so none of the three runs.
    let good = user_secret(
        &mut m,
        "good",
        &[
            ("certificate", &int),
            ("private-key", &key),
            ("ca-chain", &root),
        ],
        true,
    );
    m.deploy_puppet(
        "org-ca",
        "name: org-ca\nprovides:\n  certificates:\n    interface: tls-certificates\n",
        1,
    )
    .unwrap();
    let up = relate_upstream(&mut m, "org-ca");
    settle(&mut m);
    let (_, msg) = leader_status(&m, PROVIDER);
    assert!(
        msg.contains("asked upstream-ca (org-ca) for an intermediate CA"),
        "{msg}"
    );
    let related = Snapshot::of(&m, &rels);
    for (action, params) in [
        ("import-ca", json!({"secret-id": good})),
        ("get-ca-signing-request", json!({})),
        (
            "set-ca-certificate",
            json!({"certificate": int, "ca-chain": root}),
        ),
    ] {
        let r = run(&mut m, action, params);
        assert_failed(
            &r,
            &format!(
                "cannot run {action}: upstream-ca is related, so the intermediate CA comes from \
                 that provider (and would replace what {action} installs); remove the relation \
                 first: juju remove-relation {PROVIDER}:upstream-ca <provider>"
            ),
        );
        related.assert_same(&m, &rels, action);
        actions.push(r);
    }

    // Without the relation, the same secret imports.
    m.unrelate(up).unwrap();
    settle(&mut m);
    let r = run(&mut m, "import-ca", json!({"secret-id": good}));
    assert!(
        result(&r, "result").starts_with("installed and announced:"),
        "{r:?}"
    );
    actions.push(r);

    // No refusal showed or logged a key.
    assert_key_nowhere(&m, &needles, &actions);
    assert_provider_hooks_ok(&m);
}
