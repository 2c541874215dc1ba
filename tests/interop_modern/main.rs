//! The modern dialect against the real Python requirer, in the simulator: the interop cases 1-27
//! of `docs/protocol.md` (§5, modern dialect), plus policy denials, CA-request denial,
//! certificate-limit, CA rotation, leader change, departure and idempotence. The requirer is
//! charmlibs 1.12 `TLSCertificatesRequiresV4` (`build/charms/tls-requirer`). Raw databags from a
//! puppet app are used only where the library cannot produce the case (missing/odd `ca`, CRLF,
//! malformed CSR, non-JSON bags, critical extensions).
//!
//! "Accepted" is read from the requirer library itself: it stores a certificate in its
//! certificate secret only after matching CSR, attributes, CA flag and private key.
//! Every settle also checks every provider databag (see `common::interop::check_provider_bag`).
//!
//! Cases that only look at a settled deployment share one model (`fleet()`: one provider, six
//! requirer apps, ten requirer units), built once per test process; cases that change things
//! have their own model. One module per theme:
//!
//! - `requests`: §5 cases 1-14, what the requirers ask for;
//! - `responses`: §5 cases 15-20, what the provider publishes;
//! - `lifecycle`: §5 cases 21, 22 and 24-27, requirer churn and provider leader change;
//! - `rotation`: §5 case 23 and the other CA rotations, and the CA key staying in its secret;
//! - `policy`: policy denials, the certificate limit, refused keys and invalid config;
//! - `listing`: the `get-issued-certificates` action over the fleet;
//! - `checks`: the checks the other modules rely on reject wrong answers.
//!
//! Needs `make test-charms` (the .venv and build/charms) and `cargo build -p jujusim`.

#[path = "../common/mod.rs"]
mod common;

mod checks;
mod foreign_ca;
mod lifecycle;
mod listing;
mod policy;
mod requests;
mod responses;
mod rotation;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use common::interop::*;
use jujusim::{Databag, Model, SecretView};
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------------
// The shared deployment

struct Fleet {
    model: Model,
    rels: BTreeMap<&'static str, u32>,
}

/// Requirer apps of the fleet: (name, units, config).
fn fleet_apps() -> Vec<(&'static str, usize, Value)> {
    vec![
        // Case 1 and 11: three units, UNIT mode, RSA 2048, same attributes.
        ("unit3", 3, json!({"mode": "unit"})),
        // Case 2 and 10: two requests in one unit, RSA 4096.
        (
            "multi",
            1,
            json!({"mode": "unit", "key-size": 4096, "requests-per-unit": 2}),
        ),
        // Case 3: APP mode, two units.
        ("appm", 2, json!({"mode": "app"})),
        // Case 4 and 10: APP_AND_UNIT, ECDSA P-256.
        (
            "both",
            2,
            json!({"mode": "app-and-unit", "key-algorithm": "ecdsa", "common-name": "svc.example.com"}),
        ),
        // Case 6 and 10: is-ca in APP mode, ECDSA P-384.
        (
            "caapp",
            1,
            json!({"mode": "app", "key-algorithm": "ecdsa", "key-size": 384, "is-ca": true}),
        ),
        // Cases 7 and 8: every SAN kind, no CN.
        (
            "sans",
            1,
            json!({
                "mode": "unit",
                "common-name": "",
                "sans-dns": "sans.example.com,*.wild.example.com",
                "sans-ip": "10.1.2.3,2001:db8::1",
                "sans-oid": "1.3.6.1.4.1.55555.99"
            }),
        ),
    ]
}

fn build_fleet() -> Fleet {
    let mut model = new_model();
    deploy_provider(&mut model, 1, json!({"allow-ca-requests": true}));
    let mut rels = BTreeMap::new();
    for (app, units, config) in fleet_apps() {
        rels.insert(app, deploy_requirer(&mut model, app, units, config));
    }
    let started = std::time::Instant::now();
    settle(&mut model);
    assert_provider_hooks_ok(&model);
    let runs = model.hook_runs();
    let python: Vec<_> = runs
        .iter()
        .filter(|r| !r.unit.starts_with("tls-provider/"))
        .collect();
    eprintln!(
        "fleet settled in {:?}: {} hook runs, {} of them Python ({:?} total)",
        started.elapsed(),
        runs.len(),
        python.len(),
        python.iter().map(|r| r.duration).sum::<Duration>()
    );
    Fleet { model, rels }
}

/// The shared, settled deployment (built by the first test that needs it; one test at a time).
fn fleet() -> MutexGuard<'static, Fleet> {
    static FLEET: OnceLock<Mutex<Fleet>> = OnceLock::new();
    FLEET
        .get_or_init(|| Mutex::new(build_fleet()))
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

impl Fleet {
    fn rel(&self, app: &str) -> u32 {
        self.rels[app]
    }
    fn bag(&self, app: &str) -> Databag {
        provider_bag(&self.model, self.rel(app))
    }
    fn certs(&self, app: &str) -> Vec<Value> {
        certificates(&self.bag(app))
    }
}

/// A model with the provider (`prov_units`, `prov_config`) and one Python requirer `app`
/// (`units`, `config`), related and settled.
fn single(
    app: &str,
    units: usize,
    config: Value,
    prov_units: usize,
    prov_config: Value,
) -> (Model, u32) {
    let mut model = new_model();
    deploy_provider(&mut model, prov_units, prov_config);
    let rel = deploy_requirer(&mut model, app, units, config);
    settle(&mut model);
    (model, rel)
}

/// A model with the provider and a puppet requirer of `units` units.
fn puppet(units: usize, prov_config: Value) -> (Model, u32) {
    let mut model = new_model();
    deploy_provider(&mut model, 1, prov_config);
    let rel = deploy_puppet(&mut model, "crafted", units);
    settle(&mut model);
    (model, rel)
}

fn set_config(model: &mut Model, app: &str, config: Value) {
    model
        .set_config(app, obj(config))
        .unwrap_or_else(|e| panic!("config {app}: {e}"));
}

fn leader_status(model: &Model) -> (String, String) {
    status_of(model, &model.leader(PROVIDER).expect("provider leader"))
}

/// Every CSR string the requirer side of `rel` publishes (units and app).
fn requirer_side_csrs(model: &Model, rel: u32, app: &str) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = requirer_csrs(model, rel, app)
        .into_iter()
        .map(|e| e.pem)
        .collect();
    for u in model.units(app) {
        out.extend(requirer_csrs(model, rel, &u).into_iter().map(|e| e.pem));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The provider's CA

/// The provider's CA secret (label `tls-provider-ca`).
fn ca_secret_view(model: &Model) -> SecretView {
    model
        .secrets()
        .into_iter()
        .find(|s| s.label.as_deref() == Some("tls-provider-ca"))
        .expect("CA secret")
}

/// The provider's CA secret content (latest revision).
fn ca_secret(model: &Model) -> Databag {
    let s = ca_secret_view(model);
    assert_eq!(s.owner, PROVIDER, "the CA secret is application-owned");
    s.revisions.last().cloned().unwrap()
}

/// Every entry of `rel` answers the requirer's current CSRs under `ca_pem`, and each owner
/// accepted its certificate.
fn assert_all_under(model: &Model, rel: u32, app: &str, ca_pem: &str) {
    let published = certificates(&provider_bag(model, rel));
    let mut owners = vec![app.to_string()];
    owners.extend(model.units(app));
    let mut n = 0;
    for o in owners {
        for c in requirer_csrs(model, rel, &o) {
            let e = entry_for(&published, &c.pem).expect("issued");
            assert_eq!(der(e["ca"].as_str().unwrap()), der(ca_pem), "ca updated");
            assert_eq!(
                der(e["chain"]
                    .as_array()
                    .unwrap()
                    .last()
                    .unwrap()
                    .as_str()
                    .unwrap()),
                der(ca_pem),
                "chain updated"
            );
            check_issued(e, &c.pem, false);
            assert_accepted(model, &o, e);
            n += 1;
        }
    }
    assert_eq!(published.len(), n, "no stale entries");
}
