//! `Model::settle_observing`: a settle that hands every hook run, with the model as that hook
//! left it, to the caller before the next hook starts.

mod common;
use common::*;

use jujusim::{Model, SimError};

/// `prov` (2 units) and `req` (1 unit) deployed and related, nothing settled yet. Every unit
/// writes `last=<hook>` to its own bag of the relation in each relation hook but `-broken`.
fn related_model(dir: &std::path::Path) -> (Model, u32) {
    let prov = shell_charm(dir, "prov", PROV_META, CONFIG, ACTIONS);
    let req = shell_charm(dir, "req", REQ_META, "", "");
    let mut m = Model::new().unwrap();
    m.deploy("prov", &prov, 2, Default::default()).unwrap();
    m.deploy("req", &req, 1, Default::default()).unwrap();
    let rel = m.relate("prov", "req").unwrap();
    for app in ["prov", "req"] {
        install_script(
            &m,
            app,
            &format!(
                "case \"$JUJU_HOOK_NAME\" in certs-relation-broken) ;; \
                 certs-relation-*) relation-set -r certs:{rel} last=\"$JUJU_HOOK_NAME\" ;; esac"
            ),
        );
    }
    (m, rel)
}

fn names(runs: &[jujusim::HookRun]) -> Vec<String> {
    runs.iter()
        .map(|r| format!("{} {} {:?}", r.unit, r.hook, r.remote_unit))
        .collect()
}

#[test]
fn same_runs_as_settle_each_seen_once_in_order() {
    let t = tempfile::tempdir().unwrap();
    let (mut plain, _) = related_model(t.path());
    let want = names(&plain.settle().unwrap().runs);

    let t2 = tempfile::tempdir().unwrap();
    let (mut m, _) = related_model(t2.path());
    let mut seen = Vec::new();
    let report = m
        .settle_observing(|model, run| {
            // The run is already in the model's history when the observer sees it.
            let last = model.hook_runs().last().expect("a run");
            assert_eq!((&last.unit, &last.hook), (&run.unit, &run.hook));
            seen.push(run.clone());
            Ok(())
        })
        .unwrap();
    assert_eq!(names(&seen), want, "observed runs");
    assert_eq!(names(&report.runs), want, "report of settle_observing");
    assert!(report.errors.is_empty());
}

#[test]
fn observer_sees_each_hooks_committed_writes() {
    let t = tempfile::tempdir().unwrap();
    let (mut m, rel) = related_model(t.path());
    let mut checked = 0;
    m.settle_observing(|model, run| {
        if run.relation_id == Some(rel) && !run.hook.ends_with("-broken") {
            let bag = model.relation_data(rel, &run.unit);
            if bag.get("last") != Some(&run.hook) {
                return Err(format!("bag of {} after {}: {bag:?}", run.unit, run.hook));
            }
            checked += 1;
        }
        Ok(())
    })
    .unwrap();
    // -created on 3 units, then joins and changes on both sides.
    assert!(checked >= 3 + 4, "checked {checked} relation hooks");
}

#[test]
fn an_observer_error_stops_the_settle_after_that_hook() {
    let t = tempfile::tempdir().unwrap();
    let (mut reference, _) = related_model(t.path());
    let all = names(&reference.settle().unwrap().runs);

    let t2 = tempfile::tempdir().unwrap();
    let (mut m, _) = related_model(t2.path());
    let mut n = 0;
    let err = m
        .settle_observing(|_, _| {
            n += 1;
            if n == 3 {
                Err("enough".to_string())
            } else {
                Ok(())
            }
        })
        .unwrap_err();
    let third = m.hook_runs()[2].clone();
    match &err {
        SimError::Observer {
            unit,
            hook,
            message,
        } => {
            assert_eq!((unit, hook), (&third.unit, &third.hook));
            assert_eq!(message, "enough");
        }
        other => panic!("expected SimError::Observer, got {other}"),
    }
    assert_eq!(
        err.to_string(),
        format!(
            "settle stopped by its observer after {} ran {:?}: enough",
            third.unit, third.hook
        )
    );
    assert_eq!(
        m.hook_runs().len(),
        3,
        "no hook ran after the observer's error"
    );
    // The rest is still queued: settling again finishes the same sequence.
    m.settle().unwrap();
    assert_eq!(names(m.hook_runs()), all);
}

#[test]
fn failed_hooks_are_observed_and_still_fail_the_settle() {
    let t = tempfile::tempdir().unwrap();
    let prov = shell_charm(t.path(), "prov", PROV_META, CONFIG, ACTIONS);
    let mut m = Model::new().unwrap();
    m.deploy("prov", &prov, 1, Default::default()).unwrap();
    install_script(
        &m,
        "prov",
        "if [ \"$JUJU_HOOK_NAME\" = config-changed ]; then exit 3; fi",
    );
    let mut seen = Vec::new();
    let err = m
        .settle_observing(|model, run| {
            seen.push((
                run.hook.clone(),
                run.exit_code,
                model.unit_status(&run.unit).agent,
            ));
            Ok(())
        })
        .unwrap_err();
    assert!(
        matches!(&err, SimError::HookFailed { unit, hook, .. } if unit == "prov/0" && hook == "config-changed"),
        "{err}"
    );
    assert_eq!(
        seen,
        vec![
            ("install".into(), 0, "idle".into()),
            ("cluster-relation-created".into(), 0, "idle".into()),
            ("leader-elected".into(), 0, "idle".into()),
            ("config-changed".into(), 3, "error".into()),
        ]
    );
}
