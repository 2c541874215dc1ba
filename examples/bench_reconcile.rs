//! Benchmark (not a test): hook time and hook-tool calls of one reconcile against the in-memory
//! `FakeTools`, for 10, 100 and 1000 CSRs (one relation, 10 requirer units, CSRs spread evenly,
//! EC P-256 requirer keys, default RSA 2048 CA).
//!
//! Run: `cargo run --release --example bench_reconcile`
//!
//! Three reconciles per size: `issue` (first hook: the CA is made and every CSR signed),
//! `steady` (nothing changed: no write), `rotate` (rotate-private-key: new CA, everything
//! reissued in the same hook).

use std::collections::BTreeMap;
use std::time::{Instant, SystemTime};

use juju_hook::fake::FakeTools;
use juju_hook::{Databag, HookContext, RelationId};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::PKey;
use openssl::stack::Stack;
use openssl::x509::extension::SubjectAlternativeName;
use openssl::x509::{X509NameBuilder, X509ReqBuilder};
use serde_json::{json, Value};

use tls_provider::charm::reconcile::{reconcile_at, ReconcileOptions};

const UNITS: usize = 10;

fn csr(cn: &str) -> String {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
    let mut b = X509ReqBuilder::new().unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_nid(Nid::COMMONNAME, cn).unwrap();
    b.set_subject_name(&name.build()).unwrap();
    b.set_pubkey(&key).unwrap();
    let mut san = SubjectAlternativeName::new();
    san.dns(cn);
    let ext = san.build(&b.x509v3_context(None)).unwrap();
    let mut stack = Stack::new().unwrap();
    stack.push(ext).unwrap();
    b.add_extensions(&stack).unwrap();
    b.sign(&key, MessageDigest::sha256()).unwrap();
    String::from_utf8(b.build().to_pem().unwrap())
        .unwrap()
        .trim_end()
        .to_string()
}

fn ctx(dir: &std::path::Path) -> HookContext {
    let vars: BTreeMap<String, String> = [
        ("JUJU_DISPATCH_PATH", "hooks/update-status".to_string()),
        ("JUJU_UNIT_NAME", "tls-provider/0".to_string()),
        ("JUJU_CHARM_DIR", dir.to_string_lossy().into_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    HookContext::from_vars(&vars).unwrap()
}

fn run(tools: &FakeTools, ctx: &HookContext, label: &str, n: usize, opts: ReconcileOptions) {
    tools.reset_calls();
    let start = Instant::now();
    let summary = reconcile_at(ctx, tools, SystemTime::now(), opts).expect("reconcile");
    let elapsed = start.elapsed();
    let calls = tools.state.borrow().calls.len();
    let sets = tools.count("relation-set");
    println!(
        "{n:>5} CSRs  {label:<7} {:>9.1} ms  {calls:>3} tool calls ({sets} relation-set)  issued now {:>4}, published {:>4}",
        elapsed.as_secs_f64() * 1000.0,
        summary.totals.newly_issued,
        summary.totals.issued,
    );
}

fn main() {
    println!("reconcile against FakeTools: 1 relation, {UNITS} units, RSA 2048 CA, EC P-256 CSRs");
    for n in [10usize, 100, 1000] {
        let tools = FakeTools::new("tls-provider", true);
        tools.add_relation(1, "certificates", "req", &[]);
        let per_unit = n / UNITS;
        for u in 0..UNITS {
            let list: Vec<Value> = (0..per_unit)
                .map(|i| {
                    json!({"certificate_signing_request": csr(&format!("u{u}-{i}.example.com")), "ca": false})
                })
                .collect();
            let bag = Databag::from([(
                "certificate_signing_requests".to_string(),
                Value::Array(list).to_string(),
            )]);
            tools
                .state
                .borrow_mut()
                .relations
                .get_mut(&RelationId(1))
                .unwrap()
                .remote_units
                .insert(format!("req/{u}"), bag);
        }
        let dir = tempfile::TempDir::new().unwrap();
        let ctx = ctx(dir.path());
        run(&tools, &ctx, "issue", n, ReconcileOptions::default());
        run(&tools, &ctx, "steady", n, ReconcileOptions::default());
        run(
            &tools,
            &ctx,
            "rotate",
            n,
            ReconcileOptions { force_rotate: true },
        );
        run(&tools, &ctx, "steady", n, ReconcileOptions::default());
    }
}
