//! The performance budget against the REAL binary under the simulator, for 2 relations x 5
//! requirer units:
//!
//! - one steady full pass (`config-changed`) stays within `6 + Σ per relation (3 + units)` = 22
//!   hook-tool calls, writes nothing (no `relation-set`, `status-set`, `juju-log`) and leaves
//!   every databag byte-identical;
//! - an idle `update-status` (nothing due) calls `is-leader` and nothing else, on the leader and
//!   on a non-leader, and writes nothing;
//! - a `certificates-relation-changed` reads and writes only its own relation.
//!
//! The same checks against the in-memory fake: `tests/reconcile_unit.rs`
//! (`steady_full_pass_call_budget_two_relations_five_units`) and `tests/scope_unit.rs`.
//!
//! The requirers are puppet apps (no code, no Python): the test writes each unit's
//! `certificate_signing_requests` itself, with CSRs made here (EC P-256). The calls of the
//! issuing reconcile are printed (run with `--nocapture`), not asserted.
//!
//! Needs `cargo build -p jujusim` first (`make test` builds every binary).

mod common;

use common::interop::*;
use jujusim::{HookRun, Model};
use serde_json::json;

const APPS: [&str; 2] = ["alpha", "beta"];
const UNITS: usize = 5;
/// A full pass: `is-leader`, `config-get`, `relation-ids upstream-ca`, `secret-get`,
/// `relation-ids` of both endpoints (`certificates`, `send-ca-cert`), then per relation
/// `relation-list` + its units + both app databags.
const BUDGET: usize = 6 + APPS.len() * (3 + UNITS);

fn describe(run: &HookRun) -> String {
    run.tool_calls
        .iter()
        .map(|c| format!("  {} {}", c.tool, c.args.join(" ")))
        .collect::<Vec<_>>()
        .join("\n")
}

fn count(run: &HookRun, tool: &str) -> usize {
    run.tool_calls.iter().filter(|c| c.tool == tool).count()
}

/// Provider (`providers` units), two puppet requirers of five units each, every unit
/// requesting one certificate; settled. Returns the model, the relation ids and each unit's CSR
/// (relation, unit, PEM).
fn deployment(providers: usize) -> (Model, Vec<u32>, Vec<(u32, String, String)>) {
    let mut m = new_model();
    deploy_provider(&mut m, providers, json!({}));
    let rels: Vec<u32> = APPS
        .iter()
        .map(|app| deploy_puppet(&mut m, app, UNITS))
        .collect();
    settle(&mut m);

    let mut csrs = Vec::new();
    for (rel, app) in rels.iter().zip(APPS) {
        for unit in m.units(app) {
            let cn = format!("{}.example.com", unit.replace('/', "-"));
            let c = crafted_with_dns(&cn);
            // Keep the addresses the simulator pre-fills; add the request.
            add_requests(
                &mut m,
                *rel,
                &unit,
                json!([{"certificate_signing_request": c.pem, "ca": false}]),
            );
            csrs.push((*rel, unit, c.pem));
        }
    }
    let report = settle(&mut m);

    // The issuing reconcile(s): printed, not asserted.
    println!("provider runs after the requests were written:");
    for run in report.runs.iter().filter(|r| r.unit.starts_with(PROVIDER)) {
        println!(
            "  {} {} (remote {:?}): {} tool calls, {} relation-set, {:.1} ms",
            run.unit,
            run.hook,
            run.remote_unit,
            run.tool_calls.len(),
            count(run, "relation-set"),
            run.duration.as_secs_f64() * 1000.0
        );
    }
    for run in report
        .runs
        .iter()
        .filter(|r| r.unit.starts_with(PROVIDER) && count(r, "relation-set") > 0)
    {
        println!(
            "issuing reconcile {} {}: {} calls\n{}",
            run.unit,
            run.hook,
            run.tool_calls.len(),
            describe(run)
        );
    }
    assert_provider_hooks_ok(&m);
    (m, rels, csrs)
}

/// The one run of `hook` on `unit` in `report`, which must have succeeded.
fn only_run<'r>(report: &'r jujusim::SettleReport, unit: &str, hook: &str) -> &'r HookRun {
    let runs: Vec<&HookRun> = report
        .runs
        .iter()
        .filter(|r| r.unit == unit && r.hook == hook)
        .collect();
    assert_eq!(runs.len(), 1, "one {hook} run on {unit}: {:?}", report.runs);
    assert_eq!(runs[0].exit_code, 0, "{hook} failed on {unit}");
    runs[0]
}

#[test]
fn steady_full_pass_within_call_budget_two_relations_five_units() {
    assert_eq!(BUDGET, 22);
    let (mut m, rels, csrs) = deployment(1);

    // Every CSR was answered with a valid certificate in the provider's app bag.
    assert_eq!(csrs.len(), APPS.len() * UNITS);
    for (rel, unit, csr) in &csrs {
        let entries = certificates(&provider_bag(&m, *rel));
        let entry = entry_for(&entries, csr)
            .unwrap_or_else(|| panic!("no certificate for {unit}'s CSR on relation {rel}"));
        check_issued(entry, csr, false);
    }
    for rel in &rels {
        let bag = provider_bag(&m, *rel);
        assert_eq!(certificates(&bag).len(), UNITS, "one entry per unit CSR");
        assert!(request_errors(&bag).is_empty(), "no request errors");
    }

    let bags_before = all_bags(&m);
    let secrets_before: Vec<_> = m
        .secrets()
        .into_iter()
        .map(|s| (s.id, s.revisions))
        .collect();
    let leader = m.leader(PROVIDER).expect("provider leader");
    // A hook that always serves every relation (update-status with nothing due does nothing).
    m.queue_hook(&leader, "config-changed");
    let report = settle(&mut m);
    let run = only_run(&report, &leader, "config-changed");
    println!(
        "steady-state reconcile {} {}: {} calls, {:.1} ms\n{}",
        run.unit,
        run.hook,
        run.tool_calls.len(),
        run.duration.as_secs_f64() * 1000.0,
        describe(run)
    );
    assert!(
        run.tool_calls.len() <= BUDGET,
        "{} tool calls > budget {BUDGET}:\n{}",
        run.tool_calls.len(),
        describe(run)
    );
    for tool in ["relation-set", "status-set", "juju-log"] {
        assert_eq!(
            count(run, tool),
            0,
            "steady state must not call {tool}:\n{}",
            describe(run)
        );
    }
    // A floor, so the budget cannot pass by doing nothing: the reconcile read every unit's bag.
    for (rel, unit, _) in &csrs {
        assert!(
            run.tool_calls.iter().any(|c| c.tool == "relation-get"
                && c.args.iter().any(|a| a == unit)
                && c.args
                    .windows(2)
                    .any(|w| w[0] == "-r" && w[1] == rel.to_string())),
            "{unit}'s bag on relation {rel} was not read:\n{}",
            describe(run)
        );
    }
    assert_eq!(report.runs.len(), 1, "nothing else ran: {:?}", report.runs);

    assert_eq!(all_bags(&m), bags_before, "databags byte-identical");
    let secrets_after: Vec<_> = m
        .secrets()
        .into_iter()
        .map(|s| (s.id, s.revisions))
        .collect();
    assert_eq!(secrets_after, secrets_before, "secrets unchanged");
}

#[test]
fn idle_update_status_calls_is_leader_only_and_a_relation_hook_reads_only_its_relation() {
    let (mut m, rels, csrs) = deployment(2);
    let bags_before = all_bags(&m);
    let leader = m.leader(PROVIDER).expect("provider leader");
    let other = m
        .units(PROVIDER)
        .into_iter()
        .find(|u| *u != leader)
        .expect("a non-leader");
    for unit in [&leader, &other] {
        m.queue_hook(unit, "update-status");
        let report = settle(&mut m);
        let run = only_run(&report, unit, "update-status");
        println!("idle update-status on {unit}:\n{}", describe(run));
        assert!(run.tool_calls.len() <= 3, "{}", describe(run));
        let tools: Vec<&str> = run.tool_calls.iter().map(|c| c.tool.as_str()).collect();
        assert_eq!(tools, ["is-leader"], "{}", describe(run));
        assert_eq!(report.runs.len(), 1, "nothing else ran: {:?}", report.runs);
    }
    assert_eq!(all_bags(&m), bags_before, "databags byte-identical");

    // One unit of alpha asks for one more certificate: the provider's hook for that relation
    // reads and writes that relation only.
    let (alpha, beta) = (rels[0], rels[1]);
    let (_, unit, first) = csrs.iter().find(|(r, _, _)| *r == alpha).unwrap();
    let extra = crafted_with_dns("extra.example.com");
    add_requests(
        &mut m,
        alpha,
        unit,
        json!([
            {"certificate_signing_request": first, "ca": false},
            {"certificate_signing_request": extra.pem, "ca": false},
        ]),
    );
    let report = settle(&mut m);
    let run = report
        .runs
        .iter()
        .find(|r| r.unit == leader && r.hook == "certificates-relation-changed")
        .expect("the leader's relation hook");
    println!("scoped relation hook:\n{}", describe(run));
    let names = |r: u32| {
        run.tool_calls.iter().any(|c| {
            c.args
                .windows(2)
                .any(|w| w[0] == "-r" && w[1] == r.to_string())
        })
    };
    assert!(names(alpha), "{}", describe(run));
    assert!(!names(beta), "beta is not read: {}", describe(run));
    // Of alpha's units, only the one whose data changed is read (the others are cached).
    let unit_reads: Vec<&str> = run
        .tool_calls
        .iter()
        .filter(|c| c.tool == "relation-get" && !c.args.iter().any(|a| a == "--app"))
        .filter_map(|c| c.args.last().map(String::as_str))
        .collect();
    assert_eq!(unit_reads, [unit.as_str()], "{}", describe(run));
    // 6 + 4 reads (relation-list, that unit, both app bags), the write, the log line of the new
    // certificate, the status with the new total (beta's counts come from the cache), whatever
    // the number of units.
    assert_eq!(run.tool_calls.len(), 6 + 4 + 3, "{}", describe(run));
    let status = run.tool_calls.last().unwrap();
    assert!(status.tool == "status-set" && status.args.iter().any(|a| a.contains("issued 11")));
    let entries = certificates(&provider_bag(&m, alpha));
    check_issued(
        entry_for(&entries, &extra.pem).expect("issued"),
        &extra.pem,
        false,
    );
    assert_provider_hooks_ok(&m);
}
