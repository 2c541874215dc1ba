//! One hook or action run: its context, the charm process, and committing or failing it.

use serde_json::Map;
use std::path::Path;
use std::time::Instant;

use super::actions::{ActionOutput, ActionRequest};
use super::commit::commit;
use super::hook_env::RunInfo;
use super::process::run_process;
use super::Model;
use crate::error::SimError;
use crate::state::{ActionCtx, Ctx, Event, Kind, State, Txn, Unit};
use crate::util;
use crate::views::HookRun;

impl Model {
    /// Spawn the charm for one event (or action); commit its transaction on success. Returns the
    /// exit code (-1 for an action the charm lacks) and, for an action, its context with stdout
    /// and stderr.
    pub(super) fn run_hook(
        &mut self,
        unit: &str,
        ev: &Event,
        action: Option<ActionRequest>,
    ) -> Result<(i32, Option<ActionOutput>), SimError> {
        let ctx_id = format!(
            "{unit}-{}-{}",
            action
                .as_ref()
                .map(|a| format!("run-action-{}", a.id))
                .unwrap_or_else(|| ev.hook.clone()),
            util::hex(&util::rand_bytes(16))
        );
        let dispatch_rel = match &action {
            Some(a) => format!("actions/{}", a.name),
            None => format!("hooks/{}", ev.hook),
        };
        let (charm_dir, env) = {
            let mut st = self.st();
            prepare_relation_caches(&mut st, unit, ev, action.is_some());
            let u = st.units.get(unit).ok_or_else(|| SimError::no_unit(unit))?;
            let run = RunInfo {
                unit,
                ev,
                action: action.as_ref(),
                ctx_id: &ctx_id,
                dispatch_path: &dispatch_rel,
            };
            let env = self.hook_env(&st, u, &run);
            let mut ctx = new_context(&st, u, &run);
            let charm_dir = u.charm_dir.clone();
            ctx.fault = st.faults.remove(unit);
            st.contexts.insert(ctx_id.clone(), ctx);
            (charm_dir, env)
        };

        let started = Instant::now();
        let spawned = |pid: u32| {
            if let Some(c) = self.st().contexts.get_mut(&ctx_id) {
                c.pid = Some(pid);
            }
        };
        let (code, stdout, stderr) = self.exec_charm(&charm_dir, &dispatch_rel, &env, &spawned);
        let duration = started.elapsed();

        let label = if action.is_some() {
            dispatch_rel.clone()
        } else {
            ev.hook.clone()
        };
        let missing = code.is_none();
        let exit = code.unwrap_or(0);
        let mut commit_failed = false;
        let mut ctx = {
            let mut st = self.st();
            let ctx = st.contexts.remove(&ctx_id).expect("context");
            log_output(&mut st, unit, &label, &stdout, &stderr);
            if let Some(f) = ctx.fault.filter(|_| ctx.fault_fired) {
                st.log(
                    unit,
                    format!(
                        "ERROR jujusim: injected fault {:?} at tool call {}",
                        f.kind, f.at_call
                    ),
                );
            }
            if missing && action.is_none() {
                st.log(unit, format!("DEBUG skipped missing hook {:?}", ev.hook));
            }
            if exit == 0 && !(missing && action.is_some()) {
                if let Err(e) = commit(&mut st, unit, &ctx) {
                    st.log(unit, format!("ERROR cannot apply changes: {e}"));
                    commit_failed = true;
                }
            } else if exit != 0 {
                st.log(unit, format!("ERROR {label} exited with status {exit}"));
            }
            ctx
        };
        if commit_failed {
            if let Some(a) = ctx.action.as_mut() {
                // `finalizeAction`: a flush error fails the action.
                a.failed
                    .get_or_insert_with(|| "committing requested changes failed".into());
            }
        }
        self.runs.push(HookRun {
            unit: unit.to_string(),
            hook: label,
            relation_id: ev.rel,
            remote_unit: ev.remote_unit.clone(),
            exit_code: exit,
            tool_calls: ctx.calls,
            duration,
            fault: ctx.fault.filter(|_| ctx.fault_fired),
        });
        let act = ctx.action.map(|mut a| {
            if missing {
                a.failed = Some(format!("action not implemented on unit {unit:?}"));
            }
            (a, stdout, stderr)
        });
        // A hook whose changes the controller refused fails, though its process exited 0.
        let code = if missing && action.is_some() {
            -1
        } else if commit_failed && action.is_none() {
            1
        } else {
            exit
        };
        Ok((code, act))
    }

    /// Run `dispatch` if the charm has one, else the hook or action file. Returns `None` as the
    /// exit code when neither exists; a process that cannot start counts as exit code 1.
    fn exec_charm(
        &self,
        charm_dir: &Path,
        dispatch_rel: &str,
        env: &[(String, String)],
        spawned: &dyn Fn(u32),
    ) -> (Option<i32>, String, String) {
        let dispatch = charm_dir.join("dispatch");
        let exe = if dispatch.exists() {
            dispatch
        } else {
            charm_dir.join(dispatch_rel)
        };
        if !exe.exists() {
            return (None, String::new(), String::new());
        }
        match run_process(&exe, charm_dir, env, self.hook_timeout, spawned) {
            Ok((c, o, e)) => (Some(c), o, e),
            Err(msg) => (Some(1), String::new(), msg),
        }
    }
}

/// The hook-tool context of a run: its relation and remote side, its action, and a transaction
/// starting from the unit's committed state, ports and the secret store.
fn new_context(st: &State, u: &Unit, run: &RunInfo) -> Ctx {
    let ev = run.ev;
    let txn = Txn {
        bags: Default::default(),
        state: u.state.clone(),
        ports: u.ports.clone(),
        secrets: st.secrets.clone(),
        ..Default::default()
    };
    // A relation is "broken" for the context when it is dying (not a peer) and has no members
    // left: `relation-ids` leaves it out, e.g. in its -broken hook (contextfactory.go
    // `getContextRelations`, context.go `RelationIds`). A unit's own dying does not count.
    // Membership is as of before this hook: a -departed unit leaves it only when the hook commits.
    let departing_here =
        |id: u32| matches!(&ev.kind, Kind::Rel(k) if k == "departed") && ev.rel == Some(id);
    let broken_rels = u
        .rels
        .iter()
        .filter(|(id, ur)| {
            st.relations.get(id).is_some_and(|r| {
                !r.peer && r.dying && ur.members.is_empty() && !departing_here(**id)
            })
        })
        .map(|(id, _)| *id)
        .collect();
    let (rel, remote_unit, remote_app) = match &ev.kind {
        Kind::Rel(_) => (ev.rel, ev.remote_unit.clone(), ev.remote_app.clone()),
        _ => (None, None, None),
    };
    Ctx {
        unit: run.unit.to_string(),
        hook: ev.hook.clone(),
        rel,
        remote_unit: remote_unit.filter(|s| !s.is_empty()),
        remote_app,
        action: run.action.map(|a| ActionCtx {
            name: a.name.clone(),
            params: a.params.clone(),
            results: Map::new(),
            failed: None,
            logs: Vec::new(),
        }),
        txn,
        calls: Vec::new(),
        broken_rels,
        app_cache: Default::default(),
        others_cache: Default::default(),
        fault: None,
        fault_fired: false,
        pid: None,
    }
}

/// The relation settings caches of a new context (`runner/context/contextfactory.go`
/// `getContextRelations` and `HookContext`): remote member settings cached in earlier hooks are
/// kept only for units still members (`RelationCache.Prune`); a relation hook for remote unit X
/// reads X fresh (`InvalidateMember`), `-departed` drops it (`RemoveMember`). Application bags and
/// non-members are cached for one hook only (`Ctx`).
fn prepare_relation_caches(st: &mut State, unit: &str, ev: &Event, action: bool) {
    let Some(u) = st.units.get_mut(unit) else {
        return;
    };
    for ur in u.rels.values_mut() {
        let members = ur.members.clone();
        ur.cache.retain(|k, _| members.contains(k));
    }
    if action {
        return;
    }
    if let (Kind::Rel(_), Some(rel), Some(remote)) = (&ev.kind, ev.rel, &ev.remote_unit) {
        if let Some(ur) = u.rels.get_mut(&rel) {
            ur.cache.remove(remote);
        }
    }
}

/// The charm's stdout as DEBUG and stderr as WARNING lines of the unit log.
fn log_output(st: &mut State, unit: &str, label: &str, stdout: &str, stderr: &str) {
    for line in stdout.lines() {
        st.log(unit, format!("DEBUG {label}: {line}"));
    }
    for line in stderr.lines() {
        st.log(unit, format!("WARNING {label}: {line}"));
    }
}
