//! The one state-in/state-out harness of the charm's unit tests: a [`World`] is the model state
//! as the in-memory hook tools keep it (relations, secrets, config, status, logs, calls), plus the
//! unit's charm dir. Tests set the state, run a hook or an action exactly as `dispatch` runs it
//! ([`World::run`], [`World::action`]), and read the state that comes out.
//!
//! Hooks and actions run through the real `ProcessTools` over the in-memory model (`FakeTools`
//! as its command runner), so every unit test also exercises the argv, stdin and secret-file
//! building and the output parsing of the real hook tools.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::SystemTime;

use juju_hook::fake::FakeTools;
use juju_hook::process::ProcessTools;
use juju_hook::{Databag, HookContext, RelationId, StatusName};
use serde_json::{json, Value};
use tempfile::TempDir;
use tls_provider::charm::ca::CA_SECRET_LABEL;
use tls_provider::charm::dialect::{self, snapshot, Plan};
use tls_provider::charm::hook::Hook;
use tls_provider::charm::modern::publish;
use tls_provider::charm::reconcile::{reconcile, ReconcileOptions, Summary};
use tls_provider::charm::{actions, dispatch};
use tls_provider::protocol::modern::ProviderCertificate;

use super::modern::published_certificates;

pub const APP: &str = "tls-provider";

/// The model as one unit of the provider sees it.
pub struct World {
    pub tools: FakeTools,
    pub dir: TempDir,
}

/// What an action left: its failure message, or its results.
#[derive(Debug)]
pub struct Outcome {
    pub failed: Option<String>,
    pub results: BTreeMap<String, String>,
}

impl Outcome {
    /// The results, asserting the action succeeded.
    pub fn ok(&self) -> &BTreeMap<String, String> {
        assert!(self.failed.is_none(), "action failed: {:?}", self.failed);
        &self.results
    }

    /// Result `key` as a JSON list.
    pub fn list(&self, key: &str) -> Vec<Value> {
        serde_json::from_str::<Value>(&self.ok()[key])
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    }
}

impl World {
    /// Unit `tls-provider/0`, leader or not, with EC CA keys (fast; one test covers RSA).
    pub fn new(leader: bool) -> World {
        let tools = FakeTools::new(APP, leader);
        let w = World {
            tools,
            dir: TempDir::new().unwrap(),
        };
        w.config("ca-key-algorithm", json!("ecdsa-p256"));
        w
    }

    /// The leader in `mode` (`self-signed` or `manual`).
    pub fn leader_in(mode: &str) -> World {
        let w = World::new(true);
        w.config("mode", json!(mode));
        w
    }

    /// The context of `dispatch` (`hooks/<name>` or `actions/<name>`) with `extra` variables.
    pub fn ctx_for(&self, dispatch: &str, extra: &[(&str, &str)]) -> HookContext {
        let unit = format!("{APP}/0");
        let mut vars = vec![
            ("JUJU_DISPATCH_PATH", dispatch),
            ("JUJU_UNIT_NAME", &unit),
            ("JUJU_MODEL_NAME", "test"),
            (
                "JUJU_CHARM_DIR",
                self.dir.path().to_str().expect("utf-8 path"),
            ),
        ];
        vars.extend_from_slice(extra);
        HookContext::from_pairs(&vars).unwrap()
    }

    /// The context of hook `name`.
    pub fn ctx(&self, name: &str) -> HookContext {
        self.ctx_for(&format!("hooks/{name}"), &[])
    }

    /// The context of `hook` (e.g. `secret-expired`) for revision 1 of the CA secret.
    pub fn ca_secret_hook(&self, hook: &str) -> HookContext {
        let id = self
            .tools
            .state
            .borrow()
            .secrets
            .iter()
            .find(|(_, s)| s.label.as_deref() == Some(CA_SECRET_LABEL))
            .map(|(id, _)| id.clone())
            .expect("the CA secret");
        self.ctx_for(
            &format!("hooks/{hook}"),
            &[
                ("JUJU_SECRET_ID", &format!("secret:{id}")),
                ("JUJU_SECRET_LABEL", CA_SECRET_LABEL),
                ("JUJU_SECRET_REVISION", "1"),
            ],
        )
    }

    /// The real hook-tool client over this model.
    pub fn process_tools(&self) -> ProcessTools<&FakeTools> {
        ProcessTools::with_runner(&self.tools)
    }

    pub fn config(&self, key: &str, value: Value) {
        self.tools
            .state
            .borrow_mut()
            .config
            .insert(key.into(), value);
    }

    /// Runs the reconcile of hook context `ctx` at `now`, with `opts`.
    pub fn run_ctx(&self, ctx: &HookContext, now: SystemTime, opts: ReconcileOptions) -> Summary {
        let tools = self.process_tools();
        reconcile(&Hook::at(ctx, &tools, now), opts)
            .expect("reconcile must not fail on remote input")
    }

    /// Runs hook `name` now.
    pub fn run(&self, name: &str) -> Summary {
        self.run_ctx(
            &self.ctx(name),
            SystemTime::now(),
            ReconcileOptions::default(),
        )
    }

    /// A full reconcile now: the hook tests use when the event does not matter. It is
    /// `config-changed`, a hook that always serves every relation (`update-status` with nothing
    /// due does nothing: [`World::update_status`]).
    pub fn reconcile(&self) -> Summary {
        self.reconcile_at(SystemTime::now())
    }

    /// [`World::reconcile`] at `now`.
    pub fn reconcile_at(&self, now: SystemTime) -> Summary {
        self.run_ctx(
            &self.ctx("config-changed"),
            now,
            ReconcileOptions::default(),
        )
    }

    /// `update-status` at `now`.
    pub fn update_status_at(&self, now: SystemTime) -> Summary {
        self.run_ctx(&self.ctx("update-status"), now, ReconcileOptions::default())
    }

    /// The context of `<endpoint>-relation-<kind>` for relation `id` with `remote_app`.
    pub fn relation_ctx(
        &self,
        endpoint: &str,
        kind: &str,
        id: u32,
        remote_app: &str,
    ) -> HookContext {
        let rel = format!("{endpoint}:{id}");
        self.ctx_for(
            &format!("hooks/{endpoint}-relation-{kind}"),
            &[
                ("JUJU_RELATION", endpoint),
                ("JUJU_RELATION_ID", &rel),
                ("JUJU_REMOTE_APP", remote_app),
            ],
        )
    }

    /// `certificates-relation-changed` for relation `id` (of `remote_app`) now.
    pub fn relation_changed(&self, id: u32, remote_app: &str) -> Summary {
        let ctx = self.relation_ctx("certificates", "changed", id, remote_app);
        self.run_ctx(&ctx, SystemTime::now(), ReconcileOptions::default())
    }

    /// `certificates-relation-changed` for a change of remote `unit`'s databag on relation `id`
    /// (`JUJU_REMOTE_UNIT` set, as Juju runs it).
    pub fn unit_changed(&self, id: u32, unit: &str) -> Summary {
        let ctx = self.unit_ctx("changed", id, unit);
        self.run_ctx(&ctx, SystemTime::now(), ReconcileOptions::default())
    }

    /// The context of `certificates-relation-<kind>` about remote `unit` on relation `id`.
    pub fn unit_ctx(&self, kind: &str, id: u32, unit: &str) -> HookContext {
        let app = unit.rsplit_once('/').map_or(unit, |(a, _)| a);
        let mut ctx = self.relation_ctx("certificates", kind, id, app);
        if let Some(r) = ctx.relation.as_mut() {
            r.remote_unit = Some(unit.to_string());
        }
        ctx
    }

    /// Runs action `name` with `params` at `now` as dispatch does (leadership check, then
    /// `action-fail` for operator errors). Operator errors must exit 0.
    pub fn action_at(&self, name: &str, params: Value, now: SystemTime) -> Outcome {
        {
            let mut st = self.tools.state.borrow_mut();
            st.action_params = params.as_object().cloned().unwrap_or_default();
            st.action_results.clear();
            st.action_failed = None;
        }
        let ctx = self.ctx_for(&format!("actions/{name}"), &[]);
        let tools = self.process_tools();
        let result = actions::run(name, &Hook::at(&ctx, &tools, now));
        let code = dispatch::action_outcome(name, result, &tools);
        assert_eq!(code, 0, "operator errors exit 0 (action-fail)");
        let st = self.tools.state.borrow();
        Outcome {
            failed: st.action_failed.clone(),
            results: st.action_results.clone(),
        }
    }

    /// Runs action `name` with `params` now.
    pub fn action(&self, name: &str, params: Value) -> Outcome {
        self.action_at(name, params, SystemTime::now())
    }

    pub fn relate(&self, id: u32, app: &str, units: &[&str]) {
        self.tools.add_relation(id, "certificates", app, units);
    }

    pub fn set_unit_bag(&self, id: u32, unit: &str, bag: Databag) {
        self.tools.set_remote_unit_bag(id, unit, bag);
    }

    pub fn remove_unit(&self, id: u32, unit: &str) {
        self.tools.remove_remote_unit(id, unit);
    }

    pub fn set_app_bag(&self, id: u32, bag: Databag) {
        self.tools.set_remote_app_bag(id, bag);
    }

    /// Sets keys of a remote unit's databag (an empty value deletes the key).
    pub fn set_unit_keys(&self, id: u32, unit: &str, pairs: &[(&str, &str)]) {
        let mut st = self.tools.state.borrow_mut();
        let bag = st
            .relations
            .get_mut(&RelationId(id))
            .unwrap()
            .remote_units
            .entry(unit.to_string())
            .or_default();
        for (k, v) in pairs {
            if v.is_empty() {
                bag.remove(*k);
            } else {
                bag.insert(k.to_string(), v.to_string());
            }
        }
    }

    /// Puts modern requests (csr, ca) in the databag of `owner` (a unit, or the remote app name
    /// for app-level requests) as the requirer library would; none removes the key.
    pub fn request(&self, id: u32, owner: &str, csrs: &[(&str, bool)]) {
        let list: Vec<Value> = csrs
            .iter()
            .map(|(c, ca)| json!({"certificate_signing_request": c, "ca": ca}))
            .collect();
        let value = Value::Array(list).to_string();
        let mut st = self.tools.state.borrow_mut();
        let rel = st.relations.get_mut(&RelationId(id)).unwrap();
        let bag = if owner.contains('/') {
            rel.remote_units.entry(owner.into()).or_default()
        } else {
            &mut rel.remote_app_bag
        };
        if csrs.is_empty() {
            bag.remove("certificate_signing_requests");
        } else {
            bag.insert("certificate_signing_requests".into(), value);
        }
    }

    /// Our application databag on relation `id`.
    pub fn own_bag(&self, id: u32) -> Databag {
        self.tools.local_app_bag(id)
    }

    /// Our unit databag on relation `id`.
    pub fn own_unit_bag(&self, id: u32) -> Databag {
        self.tools.local_unit_bag(id)
    }

    pub fn certificates(&self, id: u32) -> Vec<ProviderCertificate> {
        published_certificates(&self.own_bag(id))
    }

    pub fn errors(&self, id: u32) -> Vec<Value> {
        match self.own_bag(id).get("request_errors") {
            None => vec![],
            Some(v) => serde_json::from_str(v).unwrap(),
        }
    }

    pub fn unit_status(&self) -> (StatusName, String) {
        self.tools.state.borrow().unit_status.clone().unwrap()
    }

    /// The latest revision of secret `label`.
    pub fn secret(&self, label: &str) -> Option<Databag> {
        let st = self.tools.state.borrow();
        st.secrets
            .values()
            .find(|s| s.label.as_deref() == Some(label))
            .and_then(|s| s.revisions.last().cloned())
    }

    pub fn ca_secret(&self) -> Databag {
        self.secret(CA_SECRET_LABEL).expect("CA secret")
    }

    pub fn ca_pem(&self) -> String {
        self.ca_secret()["ca-certificate"].clone()
    }

    pub fn calls(&self) -> Vec<String> {
        self.tools.state.borrow().calls.clone()
    }

    pub fn relation_sets(&self) -> usize {
        self.tools.count("relation-set")
    }

    /// Puts `entry` into our published data on relation `id` in place of any certificate or
    /// error for the same CSR, as an operator's `provide-certificate` would, through the charm's
    /// own writer (validated, canonical, changed keys only). Returns whether it wrote.
    pub fn publish_entry(&self, id: u32, entry: ProviderCertificate) -> bool {
        let ctx = self.ctx("update-status");
        let hook = Hook::new(&ctx, &self.tools);
        let snap = snapshot::read_relation(&hook, RelationId(id))
            .unwrap()
            .expect("relation");
        let (mut data, _) = snap.published();
        data.upsert_certificate(entry);
        let (app_changes, _) = publish::changes(&snap, &mut data);
        let plan = Plan {
            app_changes,
            ..Plan::new(RelationId(id))
        };
        dialect::publish(&self.tools, &plan).unwrap()
    }

    /// Everything an action could change: relation data and secrets.
    pub fn world_state(&self) -> String {
        let st = self.tools.state.borrow();
        format!("{:?}\n{:?}", st.relations, st.secrets)
    }

    /// Runs action `name` with `params` at `now` expecting an operator error: `Ok(message)` when
    /// it failed with a message holding every one of `expected`, set no results, called no
    /// `relation-set`, `secret-set` or `secret-add` and changed no relation data or secret;
    /// otherwise `Err` saying what went wrong. Resets the recorded calls first, so the caller can
    /// count what the action called. For tables of refusals that name the failing row.
    pub fn refusal_at(
        &self,
        name: &str,
        params: Value,
        now: SystemTime,
        expected: &[&str],
    ) -> Result<String, String> {
        let before = self.world_state();
        self.tools.reset_calls();
        let out = self.action_at(name, params, now);
        let Some(msg) = out.failed else {
            return Err(format!(
                "{name} should have failed, results {:?}",
                out.results
            ));
        };
        let lacking: Vec<&str> = expected
            .iter()
            .copied()
            .filter(|e| !msg.contains(e))
            .collect();
        if !lacking.is_empty() {
            return Err(format!("message {msg:?} lacks {lacking:?}"));
        }
        if !out.results.is_empty() {
            return Err(format!("results on failure {:?}: {msg}", out.results));
        }
        for tool in ["relation-set", "secret-set", "secret-add"] {
            let n = self.tools.count(tool);
            if n != 0 {
                return Err(format!("{n} {tool} call(s) on failure: {msg}"));
            }
        }
        let after = self.world_state();
        if after != before {
            return Err(format!(
                "nothing may change on failure: {msg}\nbefore: {before}\nafter: {after}"
            ));
        }
        Ok(msg)
    }

    /// [`World::refusal_at`], panicking on `Err`; returns the message.
    pub fn refuses_at(
        &self,
        name: &str,
        params: Value,
        now: SystemTime,
        expected: &[&str],
    ) -> String {
        self.refusal_at(name, params, now, expected)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`World::refuses_at`] now.
    pub fn refuses(&self, name: &str, params: Value, expected: &[&str]) -> String {
        self.refuses_at(name, params, SystemTime::now(), expected)
    }
}
