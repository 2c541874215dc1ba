//! Benchmark (not a test): what a model costs to settle, and what an idle `update-status` costs,
//! for the real release binary under the simulator, with event scoping on (the default) and off
//! (`full-reconcile-interval=0`: every hook a full pass, as before scoping).
//!
//! - Settle from scratch: R puppet requirer applications of U units each are related, every unit
//!   writes one CSR (EC P-256), then the model settles. Printed: the provider's hooks, tool calls,
//!   calls per joined unit (which must stay flat as R×U grows when scoped), total hook time.
//! - Steady `update-status` on the leader at 1, 10 and 100 relations (1 unit each): tool calls
//!   and time (scoped: at most 3 calls, flat).
//!
//! Run: `cargo build --release --workspace --bins && cargo run --release --example bench_settle`
//! (`-- quick` for the small sizes only; or pick: `-- 100x1 20x50:on update-status=100`).

use std::time::{Duration, Instant};

use jujusim::{HookRun, Model};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::PKey;
use openssl::x509::{X509NameBuilder, X509ReqBuilder};
use serde_json::{json, Map, Value};

#[path = "bench/sim.rs"]
mod sim;
use sim::{pack_charm, profile_dir};

const PROVIDER: &str = "tls-provider";

fn meta(app: &str) -> String {
    format!("name: {app}\nrequires:\n  certificates:\n    interface: tls-certificates\n")
}

fn csr(cn: &str) -> String {
    let key = PKey::from_ec_key(
        EcKey::generate(&EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap()).unwrap(),
    )
    .unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_nid(Nid::COMMONNAME, cn).unwrap();
    let mut b = X509ReqBuilder::new().unwrap();
    b.set_subject_name(&name.build()).unwrap();
    b.set_pubkey(&key).unwrap();
    b.sign(&key, MessageDigest::sha256()).unwrap();
    String::from_utf8(b.build().to_pem().unwrap()).unwrap()
}

/// Provider config: scoping on (default) or off (every hook a full pass).
fn config(scoped: bool) -> Map<String, Value> {
    let v = if scoped {
        json!({})
    } else {
        json!({"full-reconcile-interval": "0"})
    };
    v.as_object().unwrap().clone()
}

fn new_model(charm: &std::path::Path, scoped: bool) -> Model {
    let mut m = Model::new().expect("start the simulator");
    m.set_hook_timeout(Duration::from_secs(600));
    m.set_max_hooks(1_000_000);
    m.deploy(PROVIDER, charm, 1, config(scoped))
        .expect("deploy tls-provider");
    m.settle().expect("settle deploy");
    m
}

/// Relates `r` puppet apps of `u` units, each unit writing one CSR; returns the relation ids.
fn add_requirers(m: &mut Model, r: usize, u: usize) -> Vec<u32> {
    let mut rels = Vec::new();
    for i in 0..r {
        let app = format!("req{i}");
        m.deploy_puppet(&app, &meta(&app), u)
            .expect("deploy puppet");
        let rel = m
            .relate(&format!("{app}:certificates"), PROVIDER)
            .expect("relate");
        for unit in m.units(&app) {
            let mut bag = m.relation_data(rel, &unit);
            let cn = format!("{}.example.com", unit.replace('/', "-"));
            let list = json!([{"certificate_signing_request": csr(&cn), "ca": false}]);
            bag.insert("certificate_signing_requests".into(), list.to_string());
            m.set_relation_data(rel, &unit, bag).expect("write bag");
        }
        rels.push(rel);
    }
    rels
}

fn provider_runs(runs: &[HookRun]) -> Vec<&HookRun> {
    runs.iter()
        .filter(|r| r.unit.starts_with(PROVIDER))
        .collect()
}

fn published(m: &Model, rels: &[u32]) -> usize {
    rels.iter()
        .map(|&rel| {
            m.relation_data(rel, PROVIDER)
                .get("certificates")
                .and_then(|raw| serde_json::from_str::<Vec<Value>>(raw).ok())
                .map_or(0, |v| v.len())
        })
        .sum()
}

/// A size and which scoping modes to run it with.
type Size = (usize, usize, &'static [bool]);

const BOTH: &[bool] = &[true, false];
const ON: &[bool] = &[true];
const OFF: &[bool] = &[false];

/// `RxU` (both modes), `RxU:on` or `RxU:off` from the command line.
fn parse_size(arg: &str) -> Option<Size> {
    let (size, modes) = match arg.split_once(':') {
        Some((s, "on")) => (s, ON),
        Some((s, "off")) => (s, OFF),
        Some(_) => return None,
        None => (arg, BOTH),
    };
    let (r, u) = size.split_once('x')?;
    Some((r.parse().ok()?, u.parse().ok()?, modes))
}

fn settle_bench(charm: &std::path::Path, sizes: &[Size]) {
    println!(
        "\nsettle from scratch (R relations x U units, one CSR per unit; provider hooks only)"
    );
    println!(
        "{:>4} x {:<3} {:<7} {:>6} {:>9} {:>10} {:>10} {:>10}  published",
        "R", "U", "scoping", "hooks", "calls", "calls/unit", "hook time", "wall"
    );
    for &(r, u, modes) in sizes {
        for &scoped in modes {
            let mut m = new_model(charm, scoped);
            let rels = add_requirers(&mut m, r, u);
            let wall = Instant::now();
            let report = m.settle().expect("settle");
            let wall = wall.elapsed();
            let runs = provider_runs(&report.runs);
            let calls: usize = runs.iter().map(|r| r.tool_calls.len()).sum();
            let time: Duration = runs.iter().map(|r| r.duration).sum();
            assert!(
                runs.iter().all(|r| r.exit_code == 0),
                "a provider hook failed"
            );
            println!(
                "{r:>4} x {u:<3} {:<7} {:>6} {calls:>9} {:>10.1} {:>8.1} s {:>8.1} s  {}",
                if scoped { "on" } else { "off" },
                runs.len(),
                calls as f64 / (r * u) as f64,
                time.as_secs_f64(),
                wall.as_secs_f64(),
                published(&m, &rels)
            );
        }
    }
}

fn update_status_bench(charm: &std::path::Path, relations: &[usize]) {
    println!("\nsteady update-status on the leader (R relations x 1 unit, settled first)");
    println!("{:>4} {:<7} {:>6} {:>10}", "R", "scoping", "calls", "time");
    for &r in relations {
        for scoped in [true, false] {
            let mut m = new_model(charm, scoped);
            add_requirers(&mut m, r, 1);
            m.settle().expect("settle");
            let leader = m.leader(PROVIDER).expect("leader");
            // Twice: the first may still do a due full pass; the second is the idle one.
            let mut last = None;
            for _ in 0..2 {
                m.queue_hook(&leader, "update-status");
                let report = m.settle().expect("settle update-status");
                last = report
                    .runs
                    .iter()
                    .find(|x| x.unit == leader && x.hook == "update-status")
                    .cloned();
            }
            let run = last.expect("update-status ran");
            println!(
                "{r:>4} {:<7} {:>6} {:>8.1} ms",
                if scoped { "on" } else { "off" },
                run.tool_calls.len(),
                run.duration.as_secs_f64() * 1000.0
            );
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "quick");
    let chosen: Vec<Size> = args.iter().filter_map(|a| parse_size(a)).collect();
    let statuses: Vec<usize> = args
        .iter()
        .filter_map(|a| {
            a.strip_prefix("update-status=")
                .and_then(|n| n.parse().ok())
        })
        .collect();
    let dir = profile_dir();
    let binary = dir.join("tls-provider");
    if !binary.is_file() || !dir.join("jujusim").is_file() {
        println!(
            "skipped: {} or {} missing: run `cargo build --release --workspace --bins` first",
            binary.display(),
            dir.join("jujusim").display()
        );
        return;
    }
    let tmp = tempfile::TempDir::new().unwrap();
    let charm = tmp.path().join(PROVIDER);
    pack_charm(&binary, &charm);
    let sizes: Vec<Size> = if !chosen.is_empty() || !statuses.is_empty() {
        chosen
    } else if quick {
        vec![(1, 10, BOTH), (10, 10, BOTH)]
    } else {
        vec![
            (1, 10, BOTH),
            (10, 10, BOTH),
            (50, 10, BOTH),
            (100, 1, BOTH),
            (20, 50, BOTH),
        ]
    };
    settle_bench(&charm, &sizes);
    let relations: Vec<usize> = if !statuses.is_empty() {
        statuses
    } else if quick {
        vec![1, 10]
    } else {
        vec![1, 10, 100]
    };
    update_status_bench(&charm, &relations);
}
