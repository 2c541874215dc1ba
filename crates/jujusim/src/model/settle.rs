//! Settling: running each unit's queued events in order until the model is quiet.

use std::collections::BTreeMap;

use super::teardown::{drop_unit, gc_relation};
use super::Model;
use crate::error::SimError;
use crate::state::{sort_units, Event, Kind, Op, State, RETRY_MIN};
use crate::views::{HookRun, SettleReport};

impl Model {
    /// Run queued hooks until quiet. Errors if a unit is in error or after `max_hooks` runs.
    pub fn settle(&mut self) -> Result<SettleReport, SimError> {
        self.settle_observing(|_, _| Ok(()))
    }

    /// Like `settle`, calling `observe` with the model and the run after every hook that ran
    /// (failed ones included), before the next one starts; the model it sees is what that hook
    /// committed. An `Err(message)` from `observe` stops the settle at once with
    /// `SimError::Observer` naming that run's unit and hook (its hooks so far stay run; the rest
    /// stay queued). Otherwise the same as `settle`: the same hooks in the same order, the same
    /// errors.
    pub fn settle_observing<F>(&mut self, mut observe: F) -> Result<SettleReport, SimError>
    where
        F: FnMut(&Model, &HookRun) -> Result<(), String>,
    {
        let report = self.run_until_quiet(&mut observe)?;
        if let Some((unit, hook)) = report.errors.first() {
            let logs = self.logs(unit);
            let tail = logs[logs.len().saturating_sub(25)..].join("\n");
            return Err(SimError::HookFailed {
                unit: unit.clone(),
                hook: hook.clone(),
                logs: tail,
            });
        }
        Ok(report)
    }

    /// Like `settle`, but units in error are reported, not an `Err`.
    pub fn settle_allow_errors(&mut self) -> Result<SettleReport, SimError> {
        self.run_until_quiet(&mut |_, _| Ok(()))
    }

    /// The settle loop: run queued hooks until quiet, calling `observe` after each run.
    fn run_until_quiet(
        &mut self,
        observe: &mut dyn FnMut(&Model, &HookRun) -> Result<(), String>,
    ) -> Result<SettleReport, SimError> {
        let start = self.runs.len();
        let mut count = 0usize;
        loop {
            let ready = self.ready_units();
            if ready.is_empty() {
                break;
            }
            for unit in ready {
                if count >= self.max_hooks {
                    return Err(self.loop_error(start));
                }
                let before = self.runs.len();
                if self.step(&unit)? {
                    count += 1;
                }
                let this: &Model = self;
                for run in &this.runs[before..] {
                    observe(this, run).map_err(|message| SimError::Observer {
                        unit: run.unit.clone(),
                        hook: run.hook.clone(),
                        message,
                    })?;
                }
            }
        }
        let st = self.st();
        let errors = st
            .units
            .values()
            .filter_map(|u| u.error.as_ref().map(|h| (u.name.clone(), h.clone())))
            .collect();
        drop(st);
        Ok(SettleReport {
            runs: self.runs[start..].to_vec(),
            errors,
        })
    }

    /// Units with a hook to run now (not waiting in error), in unit order.
    fn ready_units(&self) -> Vec<String> {
        let mut st = self.st();
        let mut v: Vec<String> = st.units.keys().cloned().collect();
        v.retain(|u| st.next_op(u).is_some());
        sort_units(&mut v);
        v
    }

    /// The hook-loop error: the most frequent hooks run since `start`.
    fn loop_error(&self, start: usize) -> SimError {
        let mut freq: BTreeMap<String, usize> = BTreeMap::new();
        for r in &self.runs[start..] {
            *freq.entry(format!("{} {}", r.unit, r.hook)).or_default() += 1;
        }
        let mut f: Vec<(String, usize)> = freq.into_iter().collect();
        f.sort_by_key(|x| std::cmp::Reverse(x.1));
        let summary: Vec<String> = f.iter().take(5).map(|(k, n)| format!("{k} x{n}")).collect();
        SimError::Loop {
            max: self.max_hooks,
            summary: summary.join(", "),
        }
    }

    /// Run the next hook of a unit, chosen as Juju's resolver would. Returns whether a hook
    /// process ran (or was attempted).
    fn step(&mut self, unit: &str) -> Result<bool, SimError> {
        let (ev, op, lsc_version) = {
            let mut st = self.st();
            let Some(op) = st.next_op(unit) else {
                return Ok(false);
            };
            let u = &st.units[unit];
            let ev = match &op {
                Op::Queued(i) => u.queue[*i].clone(),
                Op::Failed => u.failed.clone().expect("failed event"),
                Op::LeaderSettingsChanged => Event::plain("leader-settings-changed"),
            };
            let lsc_version = st.apps.get(&u.app).map(|a| a.leader_settings_version);
            if let Op::Queued(i) = op {
                if drop_stale_event(&mut st, unit, i, &ev) {
                    return Ok(false);
                }
            }
            before_hook(&mut st, unit, &ev);
            (ev, op, lsc_version)
        };
        let (code, _) = self.run_hook(unit, &ev, None)?;
        let mut st = self.st();
        take_event(&mut st, unit, &op, &ev);
        if code == 0 {
            hook_done(&mut st, unit, &ev, lsc_version);
        } else {
            st.hook_failed(unit, ev);
        }
        Ok(true)
    }

    /// Clear a unit's error (`juju resolve`). `retry` re-runs the failed hook at the next settle;
    /// otherwise it is skipped, as if it had succeeded without changing anything. Either way the
    /// retry timer stops and its back-off resets.
    pub fn resolve(&mut self, unit: &str, retry: bool) -> Result<(), SimError> {
        let mut st = self.st();
        let lsc_version = st
            .apps
            .get(crate::state::app_of(unit))
            .map(|a| a.leader_settings_version);
        let u = st
            .units
            .get_mut(unit)
            .ok_or_else(|| SimError::no_unit(unit))?;
        if u.error.is_none() {
            return Err(SimError::Invalid(format!("unit {unit:?} is not in error")));
        }
        u.retry_at = None;
        u.retry_delay = RETRY_MIN;
        if retry {
            u.retry_now = true;
        } else {
            let ev = u.failed.take();
            u.error = None;
            u.retry_now = false;
            if let Some(ev) = ev {
                hook_done(&mut st, unit, &ev, lsc_version);
            }
        }
        Ok(())
    }
}

/// Remove the event that just ran from where it came from.
fn take_event(st: &mut State, unit: &str, op: &Op, ev: &Event) {
    let Some(u) = st.units.get_mut(unit) else {
        return;
    };
    match op {
        Op::Queued(_) => {
            if let Some(pos) = u.queue.iter().position(|e| e == ev) {
                u.queue.remove(pos);
            }
        }
        Op::Failed => {
            u.failed = None;
            u.retry_now = false;
            u.error = None;
        }
        Op::LeaderSettingsChanged => {}
    }
}

/// Drop the queued event `idx` of `unit` if it no longer applies (leadership or the secret moved
/// on); a `secret-remove` queued on a former leader is handed to the new one. Returns whether it
/// did. `leader-elected` runs only on a live unit that still holds leadership
/// (`leadership/resolver.go`: no accepting leadership while dying).
fn drop_stale_event(st: &mut State, unit: &str, idx: usize, ev: &Event) -> bool {
    let mut hand_over = None;
    let skip = match &ev.kind {
        Kind::Plain if ev.hook == "leader-elected" => {
            !st.is_leader(unit) || st.units.get(unit).is_some_and(|u| u.dying)
        }
        Kind::Secret => match ev.secret.as_ref().and_then(|id| st.secrets.get(id)) {
            None => true,
            // Already removed by the owner: nothing left to announce.
            Some(s)
                if ev.hook == "secret-remove"
                    && !ev
                        .secret_revision
                        .is_some_and(|r| s.revisions.contains_key(&r)) =>
            {
                true
            }
            Some(s) => {
                let owner_hook = ev.hook == "secret-rotate"
                    || ev.hook == "secret-expired"
                    || ev.hook == "secret-remove";
                let not_leader = owner_hook && !s.owner_is_unit && !st.is_leader(unit);
                if not_leader && ev.hook == "secret-remove" {
                    // Leadership moved while it was queued: the new leader gets it.
                    hand_over = st.secret_owner_unit(s);
                }
                not_leader
            }
        },
        _ => false,
    };
    if skip {
        st.units.get_mut(unit).expect("unit").queue.remove(idx);
        if let Some(leader) = hand_over.filter(|l| l != unit) {
            st.push(&leader, ev.clone());
        }
    }
    skip
}

/// Bookkeeping before a hook runs: relation membership, and the install status.
fn before_hook(st: &mut State, unit: &str, ev: &Event) {
    let u = st.units.get_mut(unit).expect("unit");
    if let (Kind::Rel(k), Some(rel)) = (&ev.kind, ev.rel) {
        if let Some(ur) = u.rels.get_mut(&rel) {
            match k.as_str() {
                "joined" => {
                    if let Some(r) = &ev.remote_unit {
                        ur.members.insert(r.clone());
                    }
                }
                "departed" => {
                    if let Some(r) = &ev.remote_unit {
                        ur.members.remove(r);
                        ur.known.remove(r);
                    }
                }
                "broken" => ur.broken = true,
                _ => {}
            }
        }
    }
    if ev.hook == "install" && !u.status_set {
        u.status = ("maintenance".into(), "installing charm software".into());
    }
}

/// Bookkeeping after a hook succeeded (or was skipped by `resolve` without retry): the unit
/// started, a joined unit's `-changed` is pending, the relation broke, the unit is gone; the
/// retry back-off resets.
fn hook_done(st: &mut State, unit: &str, ev: &Event, lsc_version: Option<u64>) {
    if let Some(u) = st.units.get_mut(unit) {
        u.retry_delay = RETRY_MIN;
        u.retry_at = None;
        if ev.hook == "start" {
            u.started = true;
            if !u.status_set {
                u.status = ("unknown".into(), String::new());
            }
        }
        if ev.hook == "leader-settings-changed" {
            if let Some(v) = lsc_version {
                u.leader_settings_seen = v;
            }
        }
        if let (Kind::Rel(k), Some(rel)) = (&ev.kind, ev.rel) {
            if let Some(ur) = u.rels.get_mut(&rel) {
                match (k.as_str(), &ev.remote_unit) {
                    ("joined", Some(r)) => ur.changed_pending = Some(r.clone()),
                    ("changed", Some(r)) | ("departed", Some(r))
                        if ur.changed_pending.as_ref() == Some(r) =>
                    {
                        ur.changed_pending = None
                    }
                    _ => {}
                }
            }
        }
    }
    if let (Kind::Rel(k), Some(rel)) = (&ev.kind, ev.rel) {
        if k == "broken" {
            if let Some(u) = st.units.get_mut(unit) {
                u.rels.remove(&rel);
            }
            gc_relation(st, rel);
        }
    }
    if ev.hook == "remove" {
        drop_unit(st, unit);
    }
}
