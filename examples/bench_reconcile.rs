//! Benchmark (not a test): hook time and hook-tool calls of one reconcile for 10, 100 and 1000
//! CSRs (one relation, 10 requirer units, CSRs spread evenly, EC P-256 requirer keys, default
//! RSA 2048 CA), measured twice:
//!
//! 1. in process against the in-memory `FakeTools` (the reconcile alone);
//! 2. the real release binary under the simulator (`jujusim`, a puppet requirer app): the
//!    `duration` and `tool_calls` of the hook run as the simulator records them, so process
//!    start-up and every hook-tool round trip over the socket are included.
//!
//! Run: `cargo build --release --workspace --bins && cargo run --release --example bench_reconcile`
//! (the simulator part needs `target/release/{tls-provider,jujusim}`; it is skipped with that
//! instruction when they are missing).
//!
//! Per size: `issue` (in process: the first reconcile that sees the CSRs, every CSR signed;
//! under the simulator: the units' `-changed` hooks, each signing its unit's CSRs, added up),
//! `steady` (nothing changed: no write; a full pass, `config-changed`: an idle
//! `update-status` does nothing at all since hooks are event-scoped),
//! `rotate` (rotate-private-key: new CA, everything reissued in the same hook / action), then
//! `steady` again.

use std::time::{Duration, Instant, SystemTime};

use juju_hook::fake::FakeTools;
use juju_hook::{Databag, HookContext};
use jujusim::{HookRun, Model};

#[path = "bench/sim.rs"]
mod sim;
use serde_json::{json, Value};

#[path = "bench/requests.rs"]
mod requests;
use requests::csr;
use sim::{count, pack_charm, profile_dir};

use tls_provider::charm::hook::Hook;
use tls_provider::charm::reconcile::{reconcile, ReconcileOptions};

const UNITS: usize = 10;

fn ctx(dir: &std::path::Path) -> HookContext {
    HookContext::from_pairs(&[
        ("JUJU_DISPATCH_PATH", "hooks/config-changed"),
        ("JUJU_UNIT_NAME", "tls-provider/0"),
        ("JUJU_CHARM_DIR", dir.to_str().expect("utf-8 path")),
    ])
    .unwrap()
}

fn run(tools: &FakeTools, ctx: &HookContext, label: &str, n: usize, opts: ReconcileOptions) {
    tools.reset_calls();
    let start = Instant::now();
    let summary = reconcile(&Hook::at(ctx, tools, SystemTime::now()), opts).expect("reconcile");
    let elapsed = start.elapsed();
    let calls = tools.state.borrow().calls.len();
    let sets = tools.count("relation-set");
    println!(
        "{n:>5} CSRs  {label:<7} {:>9.1} ms  {calls:>3} tool calls ({sets} relation-set)  issued now {:>4}, published {:>4}",
        elapsed.as_secs_f64() * 1000.0,
        summary.totals.signed,
        summary.totals.published,
    );
}

/// The CSR list of requirer unit `u` when `n` CSRs are spread over [`UNITS`] units.
fn unit_requests(n: usize, u: usize) -> String {
    let list: Vec<Value> = (0..n / UNITS)
        .map(|i| {
            json!({"certificate_signing_request": csr(&format!("u{u}-{i}.example.com")), "ca": false})
        })
        .collect();
    Value::Array(list).to_string()
}

fn fake_bench() {
    println!("reconcile against FakeTools: 1 relation, {UNITS} units, RSA 2048 CA, EC P-256 CSRs");
    for n in [10usize, 100, 1000] {
        let tools = FakeTools::new("tls-provider", true);
        tools.add_relation(1, "certificates", "req", &[]);
        for u in 0..UNITS {
            let bag = Databag::from([(
                "certificate_signing_requests".to_string(),
                unit_requests(n, u),
            )]);
            tools.set_remote_unit_bag(1, &format!("req/{u}"), bag);
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
            ReconcileOptions {
                force_rotate: true,
                immediate: true,
                ..ReconcileOptions::default()
            },
        );
        run(&tools, &ctx, "steady", n, ReconcileOptions::default());
    }
}

// ---------------------------------------------------------------------------------------------
// The real binary under the simulator

const PROVIDER: &str = "tls-provider";
const REQUIRER_META: &str =
    "name: req\nrequires:\n  certificates:\n    interface: tls-certificates\n";

fn published(m: &Model, rel: u32) -> usize {
    m.relation_data(rel, PROVIDER)
        .get("certificates")
        .and_then(|raw| serde_json::from_str::<Vec<Value>>(raw).ok())
        .map_or(0, |v| v.len())
}

fn print_run(n: usize, label: &str, run: &HookRun, published: usize) {
    println!(
        "{n:>5} CSRs  {label:<7} {:>9.1} ms  {:>3} tool calls ({} relation-set)  {:<38} published {published:>4}",
        run.duration.as_secs_f64() * 1000.0,
        run.tool_calls.len(),
        count(run, "relation-set"),
        format!("[{}]", run.hook),
    );
}

/// The one run in `runs` matching `pred` (which must have exited 0).
fn only<'a>(runs: &'a [HookRun], what: &str, pred: impl Fn(&HookRun) -> bool) -> &'a HookRun {
    let found: Vec<&HookRun> = runs.iter().filter(|r| pred(r)).collect();
    assert_eq!(
        found.len(),
        1,
        "expected one {what} run, got {}",
        found.len()
    );
    assert_eq!(found[0].exit_code, 0, "{what} run failed");
    found[0]
}

fn sim_bench() {
    let dir = profile_dir();
    let binary = dir.join("tls-provider");
    if !binary.is_file() || !dir.join("jujusim").is_file() {
        println!(
            "\nreal binary under jujusim: skipped, {} or {} missing: run \
             `cargo build --release --workspace --bins` first",
            binary.display(),
            dir.join("jujusim").display()
        );
        return;
    }
    let charm = tempfile::TempDir::new().unwrap();
    let charm_dir = charm.path().join(PROVIDER);
    pack_charm(&binary, &charm_dir);
    println!(
        "\nreal binary ({}) under jujusim: 1 relation, {UNITS} puppet units, RSA 2048 CA, \
         EC P-256 CSRs; hook run duration and tool calls as the simulator records them",
        binary.display()
    );
    for n in [10usize, 100, 1000] {
        let mut m = Model::new().expect("start the simulator");
        m.set_hook_timeout(Duration::from_secs(600));
        m.deploy(PROVIDER, &charm_dir, 1, Default::default())
            .expect("deploy tls-provider");
        m.deploy_puppet("req", REQUIRER_META, UNITS)
            .expect("deploy puppet");
        let rel = m.relate("req:certificates", PROVIDER).expect("relate");
        m.settle().expect("settle deploy");
        let leader = m.leader(PROVIDER).expect("leader");
        for u in 0..UNITS {
            let unit = format!("req/{u}");
            let mut bag = m.relation_data(rel, &unit);
            bag.insert(
                "certificate_signing_requests".to_string(),
                unit_requests(n, u),
            );
            m.set_relation_data(rel, &unit, bag).expect("write bag");
        }

        // Issue: each unit's `-changed` hook signs that unit's CSRs (a scoped hook reads only
        // the unit its event is about), so the issuing is spread over the units' hooks.
        let settle_start = Instant::now();
        let report = m.settle().expect("settle requests");
        let settle_time = settle_start.elapsed();
        let leader_runs: Vec<&HookRun> = report.runs.iter().filter(|r| r.unit == leader).collect();
        assert!(
            leader_runs.iter().all(|r| r.exit_code == 0),
            "a hook failed"
        );
        let issuing: Vec<&&HookRun> = leader_runs
            .iter()
            .filter(|r| count(r, "relation-set") > 0)
            .collect();
        let time: Duration = issuing.iter().map(|r| r.duration).sum();
        let calls: usize = issuing.iter().map(|r| r.tool_calls.len()).sum();
        println!(
            "{n:>5} CSRs  {:<7} {:>9.1} ms  {calls:>3} tool calls in {} writing hook runs (one per unit), published {:>4}",
            "issue",
            time.as_secs_f64() * 1000.0,
            issuing.len(),
            published(&m, rel),
        );
        println!(
            "{n:>5} CSRs  (that settle: {:.1} ms wall, {} provider hook runs, {} of them writing nothing)",
            settle_time.as_secs_f64() * 1000.0,
            leader_runs.len(),
            leader_runs.len() - issuing.len(),
        );

        let steady = |m: &mut Model, label: &str| {
            m.queue_hook(&leader, "config-changed");
            let report = m.settle().expect("settle config-changed");
            let run = only(&report.runs, "config-changed", |r| {
                r.unit == leader && r.hook == "config-changed"
            });
            print_run(n, label, run, published(m, rel));
        };
        steady(&mut m, "steady");

        let result = m
            .run_action(&leader, "rotate-private-key", Default::default())
            .expect("run rotate-private-key");
        assert_eq!(
            result.status, "completed",
            "rotate-private-key: {}",
            result.message
        );
        let runs = m.hook_runs();
        let rotate = runs
            .iter()
            .rev()
            .find(|r| r.unit == leader && r.hook == "actions/rotate-private-key")
            .expect("rotate-private-key run");
        print_run(n, "rotate", rotate, published(&m, rel));
        m.settle().expect("settle after rotate");
        steady(&mut m, "steady");
    }
}

fn main() {
    fake_bench();
    sim_bench();
}
