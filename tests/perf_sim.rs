//! The modern dialect's performance budget against the REAL binary under the simulator: one
//! steady-state reconcile for 2 relations x 5 requirer units stays within `6 + Σ per relation (3 +
//! units)` = 22 hook-tool calls, writes nothing (no `relation-set`, `status-set`, `juju-log`) and
//! leaves every databag byte-identical. The same check against the in-memory fake is
//! `tests/reconcile_unit.rs::steady_state_call_budget_two_relations_five_units`.
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
/// `is-leader`, `config-get`, `relation-ids upstream-ca`, `secret-get`, `relation-ids` of both
/// endpoints (`certificates`, `send-ca-cert`), then per relation `relation-list` + its units +
/// both app databags.
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

/// Provider, two puppet requirers of five units each, every unit requesting one certificate;
/// settled. Returns the model, the relation ids and each unit's CSR (relation, unit, PEM).
fn deployment() -> (Model, Vec<u32>, Vec<(u32, String, String)>) {
    let mut m = new_model();
    deploy_provider(&mut m, 1, json!({}));
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

#[test]
fn steady_state_update_status_within_call_budget_two_relations_five_units() {
    assert_eq!(BUDGET, 22);
    let (mut m, rels, csrs) = deployment();

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
    m.queue_hook(&leader, "update-status");
    let report = settle(&mut m);

    let runs: Vec<&HookRun> = report
        .runs
        .iter()
        .filter(|r| r.unit == leader && r.hook == "update-status")
        .collect();
    assert_eq!(runs.len(), 1, "one update-status run on {leader}");
    let run = runs[0];
    assert_eq!(run.exit_code, 0, "update-status failed");
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
