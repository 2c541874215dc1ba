//! Fault injection (`Model::inject_fault`): the Nth hook-tool call of a unit's next hook or action
//! fails as with an unreachable agent (`FaultKind::ToolError`) or kills the hook
//! (`FaultKind::Kill`). Either way a hook that fails commits nothing of its transaction and the
//! unit goes into error (docs/juju-hook-contract.md §3.4, §3.5); immediate tools (`status-set`)
//! stay applied.

mod common;
use common::*;

use jujusim::{Fault, FaultKind, Model};

/// A hook script on `prov/0` that runs only in update-status: `state-set a=1` (call 1),
/// `status-set active one` (call 2), `state-set b=2` (call 3), then touches `after` and exits 0,
/// or, with `strict`, stops at the first failing tool with its exit code.
fn script(m: &Model, strict: bool) {
    let dir = m.charm_dir("prov/0");
    let check = if strict { " || exit $?" } else { "" };
    write_exec(
        &dir.join("hook.sh"),
        &format!(
            "#!/bin/sh\n[ \"$JUJU_HOOK_NAME\" = update-status ] || exit 0\ncd \"$CHARM_DIR\"\n\
             rm -f after\n\
             state-set a=1{check}\nstatus-set active one 2>err{check}\nstate-set b=2{check}\n\
             touch after\n"
        ),
    );
}

fn model() -> (tempfile::TempDir, Model) {
    let t = tempfile::tempdir().unwrap();
    let mut m = two_apps(t.path(), 1, 1);
    m.set_automatically_retry_hooks(false);
    (t, m)
}

fn state_keys(m: &Model) -> Vec<String> {
    m.unit_state("prov/0").into_keys().collect()
}

#[test]
fn tool_error_fails_the_call_and_a_failed_hook_commits_nothing() {
    let (_t, mut m) = model();
    script(&m, true);
    m.inject_fault(
        "prov/0",
        Fault {
            at_call: 2,
            kind: FaultKind::ToolError,
        },
    )
    .unwrap();
    m.update_status("prov");
    let r = m.settle_allow_errors().unwrap();
    assert_eq!(
        r.errors,
        vec![("prov/0".to_string(), "update-status".to_string())]
    );
    let run = r.runs.last().unwrap();
    assert_eq!(run.exit_code, 1);
    assert_eq!(
        run.fault,
        Some(Fault {
            at_call: 2,
            kind: FaultKind::ToolError
        })
    );
    // The faulty call is listed; the tool did not run (status unchanged).
    let tools: Vec<&str> = run.tool_calls.iter().map(|c| c.tool.as_str()).collect();
    assert_eq!(tools, vec!["state-set", "status-set"]);
    let dir = m.charm_dir("prov/0");
    assert_eq!(
        std::fs::read_to_string(dir.join("err")).unwrap(),
        "ERROR connection is shut down\n"
    );
    assert_ne!(m.unit_status("prov/0").message, "one");
    // §3.4: the state-set before the fault is dropped; §3.5: the unit is in error.
    assert!(state_keys(&m).is_empty(), "{:?}", state_keys(&m));
    let st = m.unit_status("prov/0");
    assert_eq!(
        (st.agent.as_str(), st.agent_message.as_str()),
        ("error", "hook failed: \"update-status\"")
    );
    // Used up: resolve with retry re-runs the hook cleanly, and it commits.
    m.resolve("prov/0", true).unwrap();
    let r = m.settle_allow_errors().unwrap();
    assert!(r.errors.is_empty());
    assert_eq!(r.runs.last().unwrap().fault, None);
    assert_eq!(state_keys(&m), vec!["a", "b"]);
    assert_eq!(m.unit_status("prov/0").message, "one");
}

#[test]
fn tool_error_ignored_by_the_charm_commits_the_rest() {
    let (_t, mut m) = model();
    script(&m, false);
    m.inject_fault(
        "prov/0",
        Fault {
            at_call: 3,
            kind: FaultKind::ToolError,
        },
    )
    .unwrap();
    m.update_status("prov");
    let r = m.settle_allow_errors().unwrap();
    assert!(r.errors.is_empty());
    assert_eq!(r.runs.last().unwrap().exit_code, 0);
    // The failed state-set b=2 never happened; the rest committed.
    assert_eq!(state_keys(&m), vec!["a"]);
}

#[test]
fn kill_stops_the_hook_and_nothing_commits() {
    let (_t, mut m) = model();
    script(&m, false);
    // status-set (call 2) runs first: immediate, kept; the kill comes at call 3.
    m.inject_fault(
        "prov/0",
        Fault {
            at_call: 3,
            kind: FaultKind::Kill,
        },
    )
    .unwrap();
    m.update_status("prov");
    let r = m.settle_allow_errors().unwrap();
    assert_eq!(r.errors.len(), 1);
    let run = r.runs.last().unwrap();
    assert_eq!(run.exit_code, -1, "killed by a signal");
    assert_eq!(run.tool_calls.len(), 3);
    assert_eq!(run.fault.map(|f| f.kind), Some(FaultKind::Kill));
    let dir = m.charm_dir("prov/0");
    assert!(
        !dir.join("after").exists(),
        "the hook went on after the kill"
    );
    assert!(state_keys(&m).is_empty());
    assert_eq!(
        m.unit_status("prov/0").message,
        "one",
        "status-set is immediate"
    );
    assert_eq!(m.unit_status("prov/0").agent, "error");
    assert!(m
        .logs("prov/0")
        .iter()
        .any(|l| l == "ERROR jujusim: injected fault Kill at tool call 3"));
    // Resolve without retry: skipped, nothing of it committed.
    m.resolve("prov/0", false).unwrap();
    let r = m.settle_allow_errors().unwrap();
    assert!(r.errors.is_empty());
    assert!(state_keys(&m).is_empty());
    assert_eq!(m.unit_status("prov/0").agent, "idle");
}

#[test]
fn a_fault_is_used_up_by_the_next_run_fired_or_not() {
    let (_t, mut m) = model();
    script(&m, true);
    m.inject_fault(
        "prov/0",
        Fault {
            at_call: 9,
            kind: FaultKind::Kill,
        },
    )
    .unwrap();
    m.update_status("prov");
    let r = m.settle_allow_errors().unwrap();
    assert!(r.errors.is_empty());
    assert_eq!(
        r.runs.last().unwrap().fault,
        None,
        "only 3 calls: not fired"
    );
    assert_eq!(state_keys(&m), vec!["a", "b"]);
    assert!(m
        .inject_fault(
            "nope/0",
            Fault {
                at_call: 1,
                kind: FaultKind::Kill
            }
        )
        .is_err());
    assert!(m
        .inject_fault(
            "prov/0",
            Fault {
                at_call: 0,
                kind: FaultKind::Kill
            }
        )
        .is_err());
}

#[test]
fn a_fault_in_an_action_fails_the_action_not_the_unit() {
    let (_t, mut m) = model();
    let dir = m.charm_dir("prov/0");
    write_exec(
        &dir.join("hook.sh"),
        "#!/bin/sh\n[ \"$JUJU_DISPATCH_PATH\" = actions/do-thing ] || exit 0\n\
         state-set x=1 || exit 1\naction-set done=yes || exit 1\n",
    );
    m.inject_fault(
        "prov/0",
        Fault {
            at_call: 2,
            kind: FaultKind::Kill,
        },
    )
    .unwrap();
    let r = m
        .run_action("prov/0", "do-thing", Default::default())
        .unwrap();
    assert_eq!(r.status, "failed", "{r:?}");
    assert_eq!(m.unit_status("prov/0").agent, "idle");
    assert!(state_keys(&m).is_empty());
    let run = m.hook_runs().last().unwrap().clone();
    assert_eq!(run.hook, "actions/do-thing");
    assert_eq!(run.fault.map(|f| f.at_call), Some(2));
    // Run again: no fault left.
    let r = m
        .run_action("prov/0", "do-thing", Default::default())
        .unwrap();
    assert_eq!(r.status, "completed", "{r:?}");
    assert_eq!(state_keys(&m), vec!["x"]);
}
