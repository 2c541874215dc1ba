//! `make demo`: tls-provider at work in the local Juju simulator (`jujusim`), told as a story.
//!
//! The packed charm (`dist/tls-provider.charm`, from `make charm`) is deployed with two units next
//! to the real Python requirers built by `make test-charms` (`build/charms/`): a modern requirer
//! with three units (one RSA CSR each), one in app mode (ECDSA P-384) and a legacy reactive
//! requirer. The demo then shows, checking each claim as it goes (exit 1 when one fails):
//!
//! 1. the deployment, one status line per application, and the CA the leader publishes
//!    (`get-ca-certificate`);
//! 2. what each modern requirer unit holds (its `get-certificates` action): subject, SANs,
//!    issuer, not-after, and `openssl verify` against the published CA;
//! 3. the legacy requirer's certificates and the key pairs the provider made for it (each key
//!    checked against its certificate; keys are never printed);
//! 4. a requirer outside `allowed-domains` refused with its code and message;
//! 5. a CA rotation as no client notices it: `rotate-private-key` announces the new CA in the trust
//!    bundle a load balancer gets on `send-ca-cert` (the real `CertificateTransferRequires`),
//!    24 hours of simulated time pass (`ca-rotation-overlap`), the new CA signs and every
//!    certificate is reissued, and the old CA stays trusted while certificates it issued may still
//!    be in use: old and new CA fingerprints, the bundle at each phase, every certificate reissued;
//! 6. revocation: `revoke-certificate` takes web/0's certificate back, its requirer library
//!    drops it, the CRL from `get-crl` lists the serial (`openssl crl -verify`, and
//!    `openssl verify -crl_check` refusing it while accepting web/1's), and web/0's new CSR is
//!    signed;
//! 7. manual mode: a new unit's request listed by `get-outstanding-certificate-requests`, signed
//!    by an outside CA made with the `openssl` command line, handed back with
//!    `provide-certificate`, and the unit then holding a certificate that verifies against the
//!    outside root.
//!
//! Full PEMs (certificates only, never keys), `juju status`-like tables and every hook run are
//! printed with `--verbose`.
//!
//! Run: `make demo` (builds everything first), or after `make charm test-charms` and
//! `cargo build -p jujusim`: `cargo run --example demo -- [--verbose]`.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::time::Instant;

use base64::Engine;
use jujusim::{ActionResult, Model};
use openssl::hash::MessageDigest;
use openssl::x509::{X509NameRef, X509};
use serde_json::{json, Map, Value};
use tls_provider::charm::clock::rfc3339;
use tls_provider::pki::keys::{key_matches, private_key_from_pem, KeyAlgorithm};
use tls_provider::pki::verify::asn1_to_system;

/// The `openssl` command line helpers the tests use.
#[allow(dead_code)]
#[path = "../tests/common/pki.rs"]
mod pki;

/// The outside CA of the manual-mode test (`tests/manual_sim.rs`).
#[allow(dead_code)]
#[path = "../tests/common/outside_ca.rs"]
mod outside_ca;

use outside_ca::OutsideCa;

/// Section 6: revocation and the CRL.
#[path = "demo/revoke.rs"]
mod revoke;

type Res<T> = Result<T, Box<dyn Error>>;

const PROVIDER: &str = "tls-provider";
const LEADER: &str = "tls-provider/0";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn main() {
    let mut verbose = false;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--verbose" | "-v" => verbose = true,
            "-h" | "--help" => {
                println!("usage: demo [--verbose]   (full PEMs, status tables and hook runs)");
                return;
            }
            other => {
                eprintln!("demo: unknown argument {other:?} (try --help)");
                std::process::exit(2);
            }
        }
    }
    match run(verbose) {
        Ok(0) => {}
        Ok(_) => std::process::exit(1),
        Err(e) => {
            eprintln!("\ndemo: error: {e}");
            std::process::exit(1);
        }
    }
}

/// The whole story; returns the number of failed checks.
fn run(verbose: bool) -> Res<usize> {
    let charm = repo().join("dist/tls-provider.charm");
    let requirer = repo().join("build/charms/tls-requirer");
    let legacy = repo().join("build/charms/legacy-requirer");
    let ca_client = repo().join("build/charms/ca-client");
    for needed in [&charm, &requirer.join("dispatch"), &legacy.join("dispatch")] {
        if !needed.exists() {
            return Err(format!(
                "{} is missing: run `make demo` (or `make charm test-charms`) first",
                needed.display()
            )
            .into());
        }
    }
    let mut d = Demo::new(verbose)?;
    println!("tls-provider demo: the charm in the local Juju simulator (jujusim), no Juju needed.");
    println!(
        "Every claim below is checked as it is printed{}.",
        if verbose {
            ""
        } else {
            "; add --verbose for full PEMs, status tables and hook runs"
        }
    );

    d.section("1. Deploy tls-provider and three requirers");
    d.deploy(
        PROVIDER,
        &charm,
        2,
        json!({"ca-common-name": "demo-ca", "allowed-domains": "example.com,internal"}),
        "dist/tls-provider.charm; built-in CA demo-ca; allowed-domains example.com,internal",
    )?;
    d.deploy(
        "web",
        &requirer,
        3,
        json!({"common-name": "{unit}.web.example.com", "sans-dns": "web.example.com", "sans-ip": "10.0.0.7"}),
        "modern requirer (charmlibs TLSCertificatesRequiresV4), one RSA 2048 CSR per unit",
    )?;
    d.deploy(
        "api",
        &requirer,
        2,
        json!({"mode": "app", "key-algorithm": "ecdsa", "key-size": 384, "common-name": "api.internal"}),
        "modern requirer in app mode: one ECDSA P-384 CSR for the application",
    )?;
    d.deploy(
        "etcd",
        &legacy,
        2,
        json!({
            "common-name": "etcd.internal",
            "sans": "etcd.internal,10.0.0.20",
            "client-cert-requests": r#"{"etcd-client.internal": {"sans": null}}"#,
        }),
        "legacy reactive requirer: names only, the provider makes the keys",
    )?;
    d.deploy(
        "lb",
        &ca_client,
        1,
        json!({}),
        "a load balancer that only trusts: CertificateTransferRequires (certificate_transfer v1)",
    )?;
    for app in ["web", "api", "etcd"] {
        let id = d.model.relate(&format!("{app}:certificates"), PROVIDER)?;
        println!("  relate {PROVIDER}:certificates {app}:certificates  (relation {id})");
    }
    let id = d
        .model
        .relate("lb:receive-ca-cert", &format!("{PROVIDER}:send-ca-cert"))?;
    println!("  relate {PROVIDER}:send-ca-cert lb:receive-ca-cert  (relation {id})");
    d.settle()?;
    d.status(&[PROVIDER, "web", "api", "etcd", "lb"]);

    let ca = d.action_str(LEADER, "get-ca-certificate", json!({}), "ca-certificate")?;
    let ca_cert = parse(&ca)?;
    println!("\nThe CA the leader publishes (juju run {PROVIDER}/leader get-ca-certificate):");
    println!("  subject    {}", name_text(ca_cert.subject_name()));
    println!("  not after  {}", not_after(&ca_cert));
    println!("  sha256     {}", fingerprint(&ca_cert)?);
    d.pem("CA certificate", &ca);
    let ca_file = d.write("ca.pem", &ca)?;

    d.section("2. What each modern requirer unit holds (juju run <unit> get-certificates)");
    let modern = d.modern_holdings()?;
    for h in &modern {
        println!("{}", h.who);
        d.show_cert(&h.cert)?;
        d.check(h.ca.trim() == ca.trim(), "its CA is the published CA");
        d.verify(&ca_file, &h.cert, "ca.pem")?;
        println!();
    }
    println!("api/1 holds no certificate of its own: the app-mode certificate is the leader's.");

    d.section("3. The legacy requirer (etcd): certificates and the key pairs made for it");
    println!(
        "Legacy requirers send names; tls-provider generates each private key and publishes it"
    );
    println!("with the certificate (the protocol needs it). Keys are checked, never printed.\n");
    let legacy_before = d.legacy_holdings()?;
    for (i, h) in legacy_before.iter().enumerate() {
        if i > 0 {
            println!();
        }
        println!("{}", h.who);
        d.show_cert(&h.cert)?;
        d.check(h.ca.trim() == ca.trim(), "its CA is the published CA");
        d.verify(&ca_file, &h.cert, "ca.pem")?;
        d.key_pair(&h.cert, h.key.as_deref())?;
    }

    d.section("4. Policy: a requirer outside allowed-domains");
    d.deploy(
        "rogue",
        &requirer,
        1,
        json!({"common-name": "rogue.example.org"}),
        "asks for rogue.example.org, which is not under example.com or internal",
    )?;
    let rogue_rel = d.model.relate("rogue:certificates", PROVIDER)?;
    println!("  relate {PROVIDER}:certificates rogue:certificates  (relation {rogue_rel})");
    d.settle()?;
    let bag = d.model.relation_data(rogue_rel, PROVIDER);
    let errors = json_list(bag.get("request_errors"))?;
    d.check(
        !bag.contains_key("certificates"),
        "nothing is issued to rogue",
    );
    println!("tls-provider's answer in the relation (request_errors):");
    for e in &errors {
        let csr = e["csr"].as_str().unwrap_or_default();
        let cn = openssl::x509::X509Req::from_pem(csr.as_bytes())
            .map(|r| name_text(r.subject_name()))
            .unwrap_or_default();
        let err = &e["error"];
        println!("  request    {cn}");
        println!("  code       {} {}", err["code"], str_of(&err["name"]));
        println!("  message    {}", str_of(&err["message"]));
        d.check(err["code"] == json!(102), "refused with code 102");
    }
    d.check(errors.len() == 1, "one refusal");
    let s = d.model.unit_status("rogue/0");
    println!("rogue/0 status: {} \"{}\"", s.workload, s.message);
    d.check(
        s.workload == "blocked" && s.message.contains("102"),
        "the requirer reports the denial",
    );

    d.section(
        "5. Rotating the CA so that no client notices (rotate-private-key, ca-rotation-overlap)",
    );
    let before: Vec<Holding> = modern.iter().chain(&legacy_before).cloned().collect();
    let trusted = d.lb_bundle()?;
    println!("lb trusts (from send-ca-cert): {}", fingerprints(&trusted)?);
    d.check(
        trusted.len() == 1 && parse(&trusted[0])?.to_der()? == ca_cert.to_der()?,
        "lb trusts exactly the published CA",
    );
    let r = d.action(LEADER, "rotate-private-key", json!({}))?;
    println!("result: {}", result_str(&r, "result")?);
    let new_ca = result_str(&r, "next-ca-certificate")?;
    d.settle()?;
    let new_ca_cert = parse(&new_ca)?;
    println!("  phase          {}", result_str(&r, "phase")?);
    println!("  old CA sha256  {}", fingerprint(&ca_cert)?);
    println!("  new CA sha256  {}", fingerprint(&new_ca_cert)?);
    let trusted = d.lb_bundle()?;
    println!("lb now trusts: {}", fingerprints(&trusted)?);
    d.check(
        trusted.len() == 2 && trusted.iter().any(|t| t.trim() == new_ca.trim()),
        "announced: lb trusts the old and the new CA before any certificate uses the new one",
    );
    let unchanged = d.modern_holdings()?;
    d.check(
        unchanged
            .iter()
            .all(|h| before.iter().any(|b| b.cert.trim() == h.cert.trim())),
        "announced: no certificate reissued yet",
    );
    println!(
        "\n24 hours pass (ca-rotation-overlap=24h): the CA secret expires, the leader switches."
    );
    d.advance_to_ca_deadline()?;
    d.settle()?;
    let published = d.action_str(LEADER, "get-ca-certificate", json!({}), "ca-certificate")?;
    d.check(new_ca.trim() != ca.trim(), "a new CA");
    d.check(
        published.trim() == new_ca.trim(),
        "the new CA is the one published",
    );
    let tb = d.action(LEADER, "get-trust-bundle", json!({}))?;
    println!("juju run {PROVIDER}/leader get-trust-bundle:");
    println!("  phase  {}", result_str(&tb, "phase")?);
    for e in json_list(result_str(&tb, "certificates").ok().as_ref())? {
        println!(
            "  {:<9} {}  {}",
            str_of(&e["role"]),
            &str_of(&e["fingerprint-sha256"])[..23],
            str_of(&e["why"])
        );
    }
    let trusted = d.lb_bundle()?;
    d.check(
        trusted.len() == 2,
        "switched: lb still trusts the previous CA while its certificates may be in use",
    );
    d.pem("new CA certificate", &new_ca);
    let new_ca_file = d.write("new-ca.pem", &new_ca)?;
    let after: Vec<Holding> = d
        .modern_holdings()?
        .into_iter()
        .chain(d.legacy_holdings()?)
        .collect();
    println!("\nEvery certificate the requirers hold, before and after (serials):");
    for h in &after {
        let old = before.iter().find(|b| b.who == h.who);
        let old_serial = match old {
            Some(b) => serial(&parse(&b.cert)?)?,
            None => "-".into(),
        };
        let cert = parse(&h.cert)?;
        println!("  {:<34} {old_serial} -> {}", h.who, serial(&cert)?);
        d.check(
            old.is_some_and(|b| b.cert.trim() != h.cert.trim()),
            &format!("{} reissued", h.who),
        );
        d.verify(&new_ca_file, &h.cert, "new-ca.pem")?;
        d.key_pair(&h.cert, h.key.as_deref())?;
    }

    revoke::section(&mut d)?;

    d.section("7. Manual mode: an outside CA signs through provide-certificate");
    println!("  juju config {PROVIDER} mode=manual; juju add-unit web (a new unit, a new request)");
    d.model
        .set_config(PROVIDER, obj(json!({"mode": "manual"}))?)?;
    let new_unit = d.model.add_unit("web")?;
    d.settle()?;
    let s = d.model.unit_status(LEADER);
    println!("{LEADER} status: \"{}\"", s.message);
    let r = d.action(LEADER, "get-outstanding-certificate-requests", json!({}))?;
    let requests: Vec<Value> = serde_json::from_str(&result_str(&r, "requests")?)?;
    println!("juju run {PROVIDER}/leader get-outstanding-certificate-requests:");
    for q in &requests {
        println!(
            "  relation {}  {:<8} CN={}  DNS {}  IP {}  legacy {}",
            q["relation-id"],
            q["unit"].as_str().unwrap_or("(app)"),
            str_of(&q["common-name"]),
            list_text(&q["dns-sans"]),
            list_text(&q["ip-sans"]),
            q["legacy"],
        );
        d.pem("  its CSR", str_of(&q["csr"]));
    }
    let Some(request) = requests
        .iter()
        .find(|q| q["unit"].as_str() == Some(new_unit.as_str()))
    else {
        d.check(false, &format!("{new_unit}'s request is listed"));
        return Ok(d.finish());
    };
    d.check(true, &format!("{new_unit}'s request is listed"));
    println!(
        "The operator signs {new_unit}'s request and leaves rogue/0's (rogue.example.org) unsigned."
    );

    let outside = OutsideCa::new();
    let root = parse(&outside.root_pem())?;
    let int_pem = outside.int_pem();
    let int = parse(&int_pem)?;
    println!("\nAn outside CA, made with the openssl command line:");
    println!(
        "  root          {}  sha256 {}",
        name_text(root.subject_name()),
        fingerprint(&root)?
    );
    println!(
        "  intermediate  {}  (signed by the root)",
        name_text(int.subject_name())
    );
    let csr = str_of(&request["csr"]).to_string();
    let cert = outside.sign(&csr, false);
    println!(
        "  openssl x509 -req -in csr.pem -CA int.pem -CAkey int.key -copy_extensions copyall ..."
    );
    let chain = format!("{int_pem}{}", outside.root_pem());
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s.as_bytes());
    let r = d.action(
        LEADER,
        "provide-certificate",
        json!({
            "certificate-signing-request": b64(&csr),
            "certificate": b64(&cert),
            "ca-certificate": b64(&int_pem),
            "ca-chain": b64(&chain),
            "relation-id": request["relation-id"],
            "unit-name": new_unit,
        }),
    )?;
    println!("juju run {PROVIDER}/leader provide-certificate certificate-signing-request=... certificate=... ca-certificate=... ca-chain=...");
    println!("  {}", result_str(&r, "result")?);
    d.settle()?;

    println!("\n{new_unit} (get-certificates)");
    let held = d
        .modern_unit(&new_unit)?
        .ok_or(format!("{new_unit} holds no certificate"))?;
    d.check(
        held.cert.trim() == cert.trim(),
        "it holds the certificate the outside CA signed",
    );
    d.show_cert(&held.cert)?;
    let (ok, out) = outside.verify_cli(&held.cert, &int_pem);
    let ok = ok && out.contains(": OK");
    d.check(
        ok,
        &format!(
            "openssl verify -CAfile outside-root.pem -untrusted intermediate.pem: {}",
            verify_word(ok, &out)
        ),
    );
    let s = d.model.unit_status(&new_unit);
    println!("{new_unit} status: {} \"{}\"", s.workload, s.message);
    let r = d.action(LEADER, "get-outstanding-certificate-requests", json!({}))?;
    let left: Vec<Value> = serde_json::from_str(&result_str(&r, "requests")?)?;
    let left_units: Vec<&str> = left.iter().filter_map(|q| q["unit"].as_str()).collect();
    println!("still outstanding: {left_units:?}");
    d.check(
        !left_units.contains(&new_unit.as_str()),
        &format!("{new_unit} is no longer outstanding"),
    );
    d.status(&[PROVIDER, "web", "api", "etcd", "rogue"]);
    Ok(d.finish())
}

/// A certificate a requirer holds.
#[derive(Clone)]
struct Holding {
    /// e.g. `web/0`, `api (app, held by api/0)`, `etcd/0 server etcd.internal`.
    who: String,
    cert: String,
    /// The CA the requirer was given with it.
    ca: String,
    /// The private key, for legacy requirers (the provider made it).
    key: Option<String>,
}

/// The demo's checks and output: counted checks, PEMs with `--verbose`, a scratch dir for
/// `openssl verify`.
struct Checks {
    verbose: bool,
    dir: tempfile::TempDir,
    count: usize,
    failures: Vec<String>,
}

/// The simulated model, and the checks (`Demo` derefs to [`Checks`]).
struct Demo {
    model: Model,
    checks: Checks,
    start: Instant,
    hooks: usize,
    actions: usize,
}

impl std::ops::Deref for Demo {
    type Target = Checks;
    fn deref(&self) -> &Checks {
        &self.checks
    }
}

impl std::ops::DerefMut for Demo {
    fn deref_mut(&mut self) -> &mut Checks {
        &mut self.checks
    }
}

impl Demo {
    fn new(verbose: bool) -> Res<Demo> {
        let model = Model::new().map_err(|e| {
            format!("{e} (the simulator binary: `cargo build -p jujusim`, or run `make demo`)")
        })?;
        Ok(Demo {
            model,
            checks: Checks::new(verbose)?,
            start: Instant::now(),
            hooks: 0,
            actions: 0,
        })
    }

    fn section(&self, title: &str) {
        println!("\n== {title}\n");
    }

    fn deploy(
        &mut self,
        app: &str,
        charm: &Path,
        units: usize,
        config: Value,
        what: &str,
    ) -> Res<()> {
        self.model.deploy(app, charm, units, obj(config)?)?;
        println!("  deploy {app:<13} {units} unit(s)  {what}");
        Ok(())
    }

    fn settle(&mut self) -> Res<()> {
        let t = Instant::now();
        let report = self.model.settle()?;
        self.hooks += report.runs.len();
        if self.verbose {
            for run in &report.runs {
                println!(
                    "    ran {:<15} {:<42} exit={} tool calls={} {:?}",
                    run.unit,
                    run.hook,
                    run.exit_code,
                    run.tool_calls.len(),
                    run.duration
                );
            }
        }
        println!(
            "  (simulator: {} hooks ran in {:.1} s)",
            report.runs.len(),
            t.elapsed().as_secs_f64()
        );
        Ok(())
    }

    /// One status line per application (`--verbose`: the whole `juju status`-like table).
    fn status(&self, apps: &[&str]) {
        println!("\njuju status:");
        if self.verbose {
            print!("{}", self.model.status_table());
            return;
        }
        for app in apps {
            let (workload, message) = self.model.app_status(app);
            let units = self.model.units(app).len();
            println!("  {app:<13} {workload:<8} {units} unit(s)  {message}");
        }
    }

    fn action(&mut self, unit: &str, name: &str, params: Value) -> Res<ActionResult> {
        let r = self.model.run_action(unit, name, obj(params)?)?;
        self.actions += 1;
        if r.status != "completed" {
            return Err(format!("{name} on {unit} failed: {}", r.message).into());
        }
        Ok(r)
    }

    fn action_str(&mut self, unit: &str, name: &str, params: Value, key: &str) -> Res<String> {
        let r = self.action(unit, name, params)?;
        result_str(&r, key)
    }

    /// The certificate each modern requirer unit holds (web units; api's app-mode one on its
    /// leader), from the requirer's own `get-certificates` action.
    /// Moves the simulated clock a minute past the CA secret's expiry (the rotation's next step).
    fn advance_to_ca_deadline(&mut self) -> Res<()> {
        let expire = self
            .model
            .secrets()
            .into_iter()
            .find(|s| s.label.as_deref() == Some("tls-provider-ca"))
            .and_then(|s| s.expire)
            .ok_or("the CA secret has no expiry")?;
        let by = expire.duration_since(self.model.now()).unwrap_or_default()
            + std::time::Duration::from_secs(60);
        self.model.advance_clock(by);
        Ok(())
    }

    /// The CA certificates the `lb` unit trusts (its `get-bundle` action).
    fn lb_bundle(&mut self) -> Res<Vec<String>> {
        let text = self.action_str("lb/0", "get-bundle", json!({}), "bundle")?;
        Ok(serde_json::from_str(&text)?)
    }

    fn modern_holdings(&mut self) -> Res<Vec<Holding>> {
        let mut out = Vec::new();
        for unit in self.model.units("web") {
            out.extend(self.modern_unit(&unit)?);
        }
        let api_leader = self.model.leader("api").ok_or("api has no leader")?;
        if let Some(mut h) = self.modern_unit(&api_leader)? {
            h.who = format!("api (app mode, held by {api_leader})");
            out.push(h);
        }
        Ok(out)
    }

    /// The certificate `unit` (a modern requirer) reports, if any.
    fn modern_unit(&mut self, unit: &str) -> Res<Option<Holding>> {
        let raw = self.action_str(unit, "get-certificates", json!({}), "certificates")?;
        let entries: Vec<Value> = serde_json::from_str(&raw)?;
        Ok(entries.iter().find_map(|e| {
            Some(Holding {
                who: unit.to_string(),
                cert: e["certificate"].as_str()?.to_string(),
                ca: e["ca"].as_str().unwrap_or_default().to_string(),
                key: None,
            })
        }))
    }

    /// Every certificate and key each etcd unit received, from its `get-certificates` action.
    /// The shared client certificate is listed once, under the first unit.
    fn legacy_holdings(&mut self) -> Res<Vec<Holding>> {
        let mut out: Vec<Holding> = Vec::new();
        for unit in self.model.units("etcd") {
            let raw = self.action_str(&unit, "get-certificates", json!({}), "certificates")?;
            let doc: Value = serde_json::from_str(&raw)?;
            let ca = str_of(&doc["ca"]).to_string();
            let mut add = |who: String, cert: &Value, key: &Value| {
                if let Some(cert) = cert.as_str() {
                    if !out.iter().any(|h| h.cert == cert) {
                        out.push(Holding {
                            who,
                            cert: cert.to_string(),
                            ca: ca.clone(),
                            key: key.as_str().map(String::from),
                        });
                    }
                }
            };
            for (list, kind) in [("server-certs", "server"), ("client-certs", "client")] {
                for c in doc[list].as_array().into_iter().flatten() {
                    add(
                        format!("{unit} {kind} {}", str_of(&c["cn"])),
                        &c["cert"],
                        &c["key"],
                    );
                }
            }
            add(
                "etcd shared client (client.cert)".into(),
                &doc["client-cert"],
                &doc["client-key"],
            );
        }
        Ok(out)
    }

    /// Prints the outcome; returns the number of failed checks.
    fn finish(&self) -> usize {
        println!(
            "\n== {} checks, {} failed; the simulator ran {} hooks and {} actions; {:.1} s",
            self.count,
            self.failures.len(),
            self.hooks,
            self.actions,
            self.start.elapsed().as_secs_f64()
        );
        for f in &self.failures {
            println!("  FAILED: {f}");
        }
        self.failures.len()
    }
}

impl Checks {
    fn new(verbose: bool) -> Res<Checks> {
        Ok(Checks {
            verbose,
            dir: tempfile::tempdir()?,
            count: 0,
            failures: Vec::new(),
        })
    }

    /// Records one check and prints it.
    fn check(&mut self, ok: bool, what: &str) {
        self.count += 1;
        if ok {
            println!("  ok    {what}");
        } else {
            println!("  FAIL  {what}");
            self.failures.push(what.to_string());
        }
    }

    /// A PEM, with `--verbose` only.
    fn pem(&self, what: &str, pem: &str) {
        if self.verbose {
            println!("{what}:\n{}", pem.trim_end());
        }
    }

    /// Writes `text` into the demo's scratch dir; returns the file name.
    fn write(&self, name: &str, text: &str) -> Res<String> {
        std::fs::write(self.dir.path().join(name), format!("{}\n", text.trim_end()))?;
        Ok(name.to_string())
    }

    /// Subject, SANs, issuer and not-after of a certificate (and the PEM with `--verbose`).
    fn show_cert(&self, pem: &str) -> Res<()> {
        let cert = parse(pem)?;
        println!("  subject    {}", name_text(cert.subject_name()));
        println!("  SANs       {}", sans_text(&cert));
        println!("  issuer     {}", name_text(cert.issuer_name()));
        println!("  not after  {}", not_after(&cert));
        self.pem("  certificate", pem);
        Ok(())
    }

    /// `openssl verify -CAfile <ca_file> cert.pem` in the scratch dir, as a check.
    fn verify(&mut self, ca_file: &str, cert: &str, label: &str) -> Res<()> {
        let cert_file = self.write("cert.pem", cert)?;
        let (ok, out) =
            pki::openssl_cli(self.dir.path(), &["verify", "-CAfile", ca_file, &cert_file]);
        let ok = ok && out.contains(": OK");
        self.check(
            ok,
            &format!("openssl verify -CAfile {label}: {}", verify_word(ok, &out)),
        );
        Ok(())
    }

    /// Checks that `key` (never printed) is the private half of `cert`'s public key.
    fn key_pair(&mut self, cert: &str, key: Option<&str>) -> Res<()> {
        let Some(key) = key else {
            return Ok(());
        };
        let cert = parse(cert)?;
        let public = cert.public_key()?;
        let ok = private_key_from_pem(key).is_ok_and(|k| key_matches(&k, &public));
        let alg = KeyAlgorithm::of_key(&public).map_or("unknown", KeyAlgorithm::as_str);
        self.check(
            ok,
            &format!("private key ({alg}) matches the certificate (key not shown)"),
        );
        Ok(())
    }
}

fn obj(v: Value) -> Res<Map<String, Value>> {
    v.as_object()
        .cloned()
        .ok_or_else(|| "not a JSON object".into())
}

fn str_of(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

fn list_text(v: &Value) -> String {
    let items: Vec<&str> = v
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if items.is_empty() {
        "-".into()
    } else {
        items.join(",")
    }
}

fn json_list(raw: Option<&String>) -> Res<Vec<Value>> {
    match raw {
        None => Ok(Vec::new()),
        Some(raw) => Ok(serde_json::from_str(raw)?),
    }
}

fn result_str(r: &ActionResult, key: &str) -> Res<String> {
    r.results[key]
        .as_str()
        .map(String::from)
        .ok_or_else(|| format!("the action result has no {key:?}: {:?}", r.results).into())
}

fn parse(pem: &str) -> Res<X509> {
    Ok(X509::from_pem(pem.as_bytes())?)
}

/// `CN=web-0.web.example.com, O=Example`: each entry as short name = value.
fn name_text(name: &X509NameRef) -> String {
    name.entries()
        .map(|e| {
            let key = e.object().nid().short_name().unwrap_or("?");
            let value = e.data().to_string().unwrap_or_default();
            format!("{key}={value}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `DNS:a, IP:10.0.0.7`, or `-`.
fn sans_text(cert: &X509) -> String {
    let Some(names) = cert.subject_alt_names() else {
        return "-".into();
    };
    let items: Vec<String> = names
        .iter()
        .map(|n| {
            if let Some(dns) = n.dnsname() {
                format!("DNS:{dns}")
            } else if let Some(ip) = n.ipaddress() {
                match ip.len() {
                    4 => format!("IP:{}", std::net::Ipv4Addr::new(ip[0], ip[1], ip[2], ip[3])),
                    16 => {
                        let b: [u8; 16] = ip.try_into().unwrap_or([0; 16]);
                        format!("IP:{}", std::net::Ipv6Addr::from(b))
                    }
                    _ => "IP:?".into(),
                }
            } else {
                "other".into()
            }
        })
        .collect();
    items.join(", ")
}

fn not_after(cert: &X509) -> String {
    rfc3339(asn1_to_system(cert.not_after()))
}

/// SHA-256 fingerprint, colon-separated hex.
fn fingerprint(cert: &X509) -> Res<String> {
    Ok(hex(&cert.digest(MessageDigest::sha256())?, ":"))
}

/// The short fingerprints of PEM certificates, for one line.
fn fingerprints(pems: &[String]) -> Res<String> {
    let mut out = Vec::new();
    for p in pems {
        out.push(fingerprint(&parse(p)?)?[..23].to_string());
    }
    Ok(out.join(", "))
}

/// The serial number, hex (first 8 bytes, then `..`).
fn serial(cert: &X509) -> Res<String> {
    let bytes = cert.serial_number().to_bn()?.to_vec();
    let shown = hex(&bytes[..bytes.len().min(8)], "");
    Ok(if bytes.len() > 8 {
        format!("{shown}..")
    } else {
        shown
    })
}

fn hex(bytes: &[u8], sep: &str) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(sep)
}

/// `OK`, or openssl's error line.
fn verify_word(ok: bool, out: &str) -> String {
    if ok && out.contains(": OK") {
        "OK".into()
    } else {
        out.lines()
            .find(|l| l.contains("error"))
            .unwrap_or(out.trim())
            .to_string()
    }
}

/// The demo's pieces without the simulator: describing, verifying and key-checking certificates
/// signed by an outside CA (`cargo test --example demo`; `cargo test` runs them too).
#[cfg(test)]
mod tests {
    use super::*;

    /// A P-256 CSR for `www.example.com` (SANs DNS www.example.com, IP 10.0.0.9) and its key.
    fn csr() -> (String, String) {
        let dir = tempfile::tempdir().unwrap();
        pki::openssl_req_p256(
            dir.path(),
            &["-new"],
            "key.pem",
            "csr.pem",
            "/CN=www.example.com",
            &["-addext", "subjectAltName=DNS:www.example.com,IP:10.0.0.9"],
        );
        let read = |f: &str| std::fs::read_to_string(dir.path().join(f)).unwrap();
        (read("csr.pem"), read("key.pem"))
    }

    #[test]
    fn describes_verifies_and_checks_the_key_of_an_outside_certificate() {
        let (csr, key) = csr();
        let ca = OutsideCa::new();
        let pem = ca.sign(&csr, false);
        let cert = parse(&pem).unwrap();
        assert_eq!(name_text(cert.subject_name()), "CN=www.example.com");
        assert_eq!(
            name_text(cert.issuer_name()),
            "CN=Outside Intermediate CA, O=Example"
        );
        assert_eq!(sans_text(&cert), "DNS:www.example.com, IP:10.0.0.9");
        assert!(not_after(&cert).ends_with('Z'), "{}", not_after(&cert));
        assert_eq!(fingerprint(&cert).unwrap().len(), 32 * 3 - 1);
        assert!(!serial(&cert).unwrap().is_empty());

        let (ok, out) = ca.verify_cli(&pem, &ca.int_pem());
        assert_eq!(verify_word(ok, &out), "OK");
        // Against another root: openssl's error line, and a failed check.
        let other = OutsideCa::new();
        let (ok, out) = other.verify_cli(&pem, &other.int_pem());
        assert!(!ok);
        assert!(verify_word(ok, &out).contains("error"), "{out}");

        let mut demo = Checks::new(false).unwrap();
        demo.key_pair(&pem, Some(&key)).unwrap();
        assert!(demo.failures.is_empty());
        let (_, other_key) = super::tests::csr();
        demo.key_pair(&pem, Some(&other_key)).unwrap();
        assert_eq!(demo.failures.len(), 1);
        let ca_file = demo.write("root.pem", &ca.root_pem()).unwrap();
        demo.verify(&ca_file, &pem, "root.pem").unwrap();
        assert_eq!(
            demo.failures.len(),
            2,
            "the leaf alone does not verify against the root"
        );
        assert_eq!(demo.count, 3);
    }
}
