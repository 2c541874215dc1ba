//! An in-memory model implementing [`HookTools`], for unit tests of handlers. It keeps Juju's rules
//! that matter to a charm (leader-only app writes and app-owned secrets, empty value deletes a key,
//! secret revisions) and records every call so tests can count them.
//!
//! [`FakeRunner`] serves the same model one layer down, as the hook-tool processes
//! [`ProcessTools`](crate::process::ProcessTools) runs, so argv building and output parsing are
//! tested too.

mod runner;

pub use runner::FakeRunner;

use std::cell::RefCell;
use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::error::ToolError;
use crate::tools::{
    Databag, HookTools, LogLevel, Member, RelationId, SecretInfo, SecretOptions, SecretOwner,
    SecretRead, SecretRef, StatusName, StatusScope,
};

/// One relation as our unit sees it.
#[derive(Clone, Debug, Default)]
pub struct FakeRelation {
    pub endpoint: String,
    pub remote_app: String,
    /// Remote units in scope and their databags.
    pub remote_units: BTreeMap<String, Databag>,
    pub remote_app_bag: Databag,
    pub local_unit_bag: Databag,
    pub local_app_bag: Databag,
}

/// A secret with its revisions (index 0 = revision 1).
#[derive(Clone, Debug, Default)]
pub struct FakeSecret {
    pub label: Option<String>,
    pub description: Option<String>,
    pub expire: Option<String>,
    pub rotate: Option<String>,
    pub owner: SecretOwner,
    pub revisions: Vec<Databag>,
    /// The revision our unit has pinned, if it has read it.
    pub pinned: Option<usize>,
}

/// The whole state behind [`FakeTools`]; public so tests can arrange and inspect it.
#[derive(Clone, Debug, Default)]
pub struct FakeState {
    pub unit_name: String,
    pub app_name: String,
    pub leader: bool,
    pub relations: BTreeMap<RelationId, FakeRelation>,
    pub config: Map<String, Value>,
    pub action_params: Map<String, Value>,
    pub action_results: BTreeMap<String, String>,
    pub action_failed: Option<String>,
    pub action_logs: Vec<String>,
    pub unit_status: Option<(StatusName, String)>,
    pub app_status: Option<(StatusName, String)>,
    pub version: Option<String>,
    pub logs: Vec<(LogLevel, String)>,
    pub secrets: BTreeMap<String, FakeSecret>,
    /// Every call, as `tool arg...` (secret and relation values left out).
    pub calls: Vec<String>,
    next_secret: u64,
}

/// In-memory [`HookTools`].
#[derive(Debug, Default)]
pub struct FakeTools {
    pub state: RefCell<FakeState>,
}

impl FakeTools {
    /// A model where our unit is `app/0`.
    pub fn new(app: &str, leader: bool) -> FakeTools {
        let state = FakeState {
            unit_name: format!("{app}/0"),
            app_name: app.to_string(),
            leader,
            ..FakeState::default()
        };
        FakeTools {
            state: RefCell::new(state),
        }
    }

    /// Adds a relation on `endpoint` with a remote application and its units.
    pub fn add_relation(&self, id: u32, endpoint: &str, remote_app: &str, units: &[&str]) {
        let mut rel = FakeRelation {
            endpoint: endpoint.to_string(),
            remote_app: remote_app.to_string(),
            ..FakeRelation::default()
        };
        for u in units {
            rel.remote_units.insert(u.to_string(), Databag::new());
        }
        self.state
            .borrow_mut()
            .relations
            .insert(RelationId(id), rel);
    }

    /// Sets the databag of remote unit `unit` in relation `id` (adding the unit if it is new).
    /// Panics if there is no such relation.
    pub fn set_remote_unit_bag(&self, id: u32, unit: &str, bag: Databag) {
        self.relation_mut(id, |rel| {
            rel.remote_units.insert(unit.to_string(), bag);
        });
    }

    /// Removes remote unit `unit` (and its databag) from relation `id`. Panics if there is no
    /// such relation.
    pub fn remove_remote_unit(&self, id: u32, unit: &str) {
        self.relation_mut(id, |rel| {
            rel.remote_units.remove(unit);
        });
    }

    /// Sets the remote application's databag of relation `id`. Panics if there is no such
    /// relation.
    pub fn set_remote_app_bag(&self, id: u32, bag: Databag) {
        self.relation_mut(id, |rel| rel.remote_app_bag = bag);
    }

    /// Our application's databag in relation `id`. Panics if there is no such relation.
    pub fn local_app_bag(&self, id: u32) -> Databag {
        self.relation(id).local_app_bag.clone()
    }

    /// Our unit's databag in relation `id`. Panics if there is no such relation.
    pub fn local_unit_bag(&self, id: u32) -> Databag {
        self.relation(id).local_unit_bag.clone()
    }

    fn relation(&self, id: u32) -> std::cell::Ref<'_, FakeRelation> {
        std::cell::Ref::map(self.state.borrow(), |st| {
            st.relations
                .get(&RelationId(id))
                .unwrap_or_else(|| panic!("no relation {id}"))
        })
    }

    fn relation_mut(&self, id: u32, f: impl FnOnce(&mut FakeRelation)) {
        let mut st = self.state.borrow_mut();
        let rel = st
            .relations
            .get_mut(&RelationId(id))
            .unwrap_or_else(|| panic!("no relation {id}"));
        f(rel);
    }

    /// Number of calls made to `tool` so far.
    pub fn count(&self, tool: &str) -> usize {
        let prefix = format!("{tool} ");
        let st = self.state.borrow();
        st.calls
            .iter()
            .filter(|c| c.starts_with(&prefix) || *c == tool)
            .count()
    }

    /// Number of lines logged at `level` so far.
    pub fn log_count(&self, level: LogLevel) -> usize {
        let st = self.state.borrow();
        st.logs.iter().filter(|(l, _)| *l == level).count()
    }

    /// Forgets the recorded calls.
    pub fn reset_calls(&self) {
        self.state.borrow_mut().calls.clear();
    }

    fn record(&self, call: String) {
        self.state.borrow_mut().calls.push(call);
    }

    fn find_secret(&self, tool: &str, secret: &SecretRef) -> Result<String, ToolError> {
        let st = self.state.borrow();
        let not_found = |what: &str| ToolError::SecretNotFound {
            tool: tool.to_string(),
            stderr: format!("ERROR secret {what:?} not found"),
        };
        match secret {
            SecretRef::Id(id) | SecretRef::IdAndLabel { id, .. } => {
                let bare = bare_secret_id(id);
                if st.secrets.contains_key(&bare) {
                    Ok(bare)
                } else {
                    Err(not_found(id))
                }
            }
            SecretRef::Label(label) => st
                .secrets
                .iter()
                .find(|(_, s)| s.label.as_deref() == Some(label.as_str()))
                .map(|(id, _)| id.clone())
                .ok_or_else(|| not_found(label)),
        }
    }

    fn check_owner_write(&self, tool: &str, owner: SecretOwner) -> Result<(), ToolError> {
        if owner == SecretOwner::Application && !self.state.borrow().leader {
            return Err(ToolError::NotLeader {
                tool: tool.to_string(),
                stderr: "ERROR this unit is not the leader".to_string(),
            });
        }
        Ok(())
    }
}

/// The bare 20-character id from any of Juju's secret id forms.
pub fn bare_secret_id(id: &str) -> String {
    let s = id.strip_prefix("secret:").unwrap_or(id);
    let s = s.trim_start_matches('/');
    s.rsplit('/').next().unwrap_or(s).to_string()
}

fn relation_not_found(tool: &str, rel: RelationId) -> ToolError {
    ToolError::RelationNotFound {
        tool: tool.to_string(),
        stderr: format!("ERROR invalid value \"{rel}\" for option -r: relation not found"),
    }
}

impl HookTools for FakeTools {
    fn relation_ids(&self, endpoint: &str) -> Result<Vec<RelationId>, ToolError> {
        self.record(format!("relation-ids {endpoint}"));
        let st = self.state.borrow();
        Ok(st
            .relations
            .iter()
            .filter(|(_, r)| r.endpoint == endpoint)
            .map(|(id, _)| *id)
            .collect())
    }

    fn relation_list(&self, rel: RelationId) -> Result<Vec<String>, ToolError> {
        self.record(format!("relation-list -r {rel}"));
        let st = self.state.borrow();
        let r = st
            .relations
            .get(&rel)
            .ok_or_else(|| relation_not_found("relation-list", rel))?;
        Ok(r.remote_units.keys().cloned().collect())
    }

    fn relation_remote_app(&self, rel: RelationId) -> Result<String, ToolError> {
        self.record(format!("relation-list -r {rel} --app"));
        let st = self.state.borrow();
        let r = st
            .relations
            .get(&rel)
            .ok_or_else(|| relation_not_found("relation-list", rel))?;
        Ok(r.remote_app.clone())
    }

    fn relation_get(&self, rel: RelationId, member: &Member) -> Result<Databag, ToolError> {
        let st_name = match member {
            Member::Unit(u) => format!("relation-get -r {rel} - {u}"),
            Member::App(a) => format!("relation-get -r {rel} --app - {a}"),
        };
        self.record(st_name);
        let st = self.state.borrow();
        let r = st
            .relations
            .get(&rel)
            .ok_or_else(|| relation_not_found("relation-get", rel))?;
        let bag = match member {
            Member::Unit(u) if *u == st.unit_name => Some(&r.local_unit_bag),
            Member::Unit(u) => r.remote_units.get(u),
            Member::App(a) if *a == st.app_name => {
                // Every unit reads its application's databag on a peer relation (Juju's
                // relation-get permits it there only).
                if !st.leader && r.remote_app != st.app_name {
                    return Err(ToolError::NotLeader {
                        tool: "relation-get".into(),
                        stderr: "ERROR permission denied".into(),
                    });
                }
                Some(&r.local_app_bag)
            }
            Member::App(a) if *a == r.remote_app => Some(&r.remote_app_bag),
            Member::App(_) => None,
        };
        bag.cloned().ok_or_else(|| ToolError::Failed {
            tool: "relation-get".into(),
            code: 2,
            stderr: format!("ERROR cannot read settings for {member:?}"),
        })
    }

    fn relation_set(&self, rel: RelationId, app: bool, changes: &Databag) -> Result<(), ToolError> {
        let keys: Vec<&str> = changes.keys().map(String::as_str).collect();
        self.record(format!(
            "relation-set -r {rel}{} --file - [{}]",
            if app { " --app" } else { "" },
            keys.join(",")
        ));
        let mut st = self.state.borrow_mut();
        if app && !st.leader {
            return Err(ToolError::NotLeader {
                tool: "relation-set".into(),
                stderr: "ERROR cannot write relation settings".into(),
            });
        }
        let r = st
            .relations
            .get_mut(&rel)
            .ok_or_else(|| relation_not_found("relation-set", rel))?;
        let bag = if app {
            &mut r.local_app_bag
        } else {
            &mut r.local_unit_bag
        };
        for (k, v) in changes {
            if v.is_empty() {
                bag.remove(k);
            } else {
                bag.insert(k.clone(), v.clone());
            }
        }
        Ok(())
    }

    fn is_leader(&self) -> Result<bool, ToolError> {
        self.record("is-leader".into());
        Ok(self.state.borrow().leader)
    }

    fn config_get(&self) -> Result<Map<String, Value>, ToolError> {
        self.record("config-get".into());
        Ok(self.state.borrow().config.clone())
    }

    fn action_get(&self) -> Result<Map<String, Value>, ToolError> {
        self.record("action-get".into());
        Ok(self.state.borrow().action_params.clone())
    }

    fn action_set(&self, results: &BTreeMap<String, String>) -> Result<(), ToolError> {
        // The same size rules as the real tool: an oversized result fails the call, nothing set.
        crate::process::action_set_batches(results)?;
        let keys: Vec<&str> = results.keys().map(String::as_str).collect();
        self.record(format!("action-set {}", keys.join(" ")));
        let mut st = self.state.borrow_mut();
        for (k, v) in results {
            st.action_results.insert(k.clone(), v.clone());
        }
        Ok(())
    }

    fn action_fail(&self, message: &str) -> Result<(), ToolError> {
        self.record("action-fail".into());
        self.state.borrow_mut().action_failed = Some(message.to_string());
        Ok(())
    }

    fn action_log(&self, message: &str) -> Result<(), ToolError> {
        self.record("action-log".into());
        self.state
            .borrow_mut()
            .action_logs
            .push(message.to_string());
        Ok(())
    }

    fn status_set(
        &self,
        scope: StatusScope,
        status: StatusName,
        message: &str,
    ) -> Result<(), ToolError> {
        self.record(format!("status-set {scope:?} {}", status.as_str()));
        let mut st = self.state.borrow_mut();
        match scope {
            StatusScope::Unit => st.unit_status = Some((status, message.to_string())),
            StatusScope::Application => {
                if !st.leader {
                    return Err(ToolError::NotLeader {
                        tool: "status-set".into(),
                        stderr: "ERROR this unit is not the leader".into(),
                    });
                }
                st.app_status = Some((status, message.to_string()))
            }
        }
        Ok(())
    }

    fn application_version_set(&self, version: &str) -> Result<(), ToolError> {
        self.record("application-version-set".into());
        self.state.borrow_mut().version = Some(version.to_string());
        Ok(())
    }

    fn juju_log(&self, level: LogLevel, message: &str) -> Result<(), ToolError> {
        self.record("juju-log".into());
        self.state
            .borrow_mut()
            .logs
            .push((level, message.to_string()));
        Ok(())
    }

    fn secret_add(&self, content: &Databag, opts: &SecretOptions) -> Result<String, ToolError> {
        self.record(format!("secret-add {:?}", opts.label));
        self.check_owner_write("secret-add", opts.owner)?;
        if content.is_empty() {
            return Err(ToolError::Failed {
                tool: "secret-add".into(),
                code: 2,
                stderr: "ERROR missing secret value or filename".into(),
            });
        }
        let mut st = self.state.borrow_mut();
        st.next_secret += 1;
        let id = format!("d0fakesecret{:08}", st.next_secret);
        st.secrets.insert(
            id.clone(),
            FakeSecret {
                label: opts.label.clone(),
                description: opts.description.clone(),
                expire: opts.expire.clone(),
                rotate: opts.rotate.clone(),
                owner: opts.owner,
                revisions: vec![content.clone()],
                pinned: None,
            },
        );
        Ok(format!("secret:{id}"))
    }

    fn secret_get(&self, secret: &SecretRef, read: SecretRead) -> Result<Databag, ToolError> {
        self.record(format!("secret-get {secret:?}"));
        let id = self.find_secret("secret-get", secret)?;
        let mut st = self.state.borrow_mut();
        let s = st.secrets.get_mut(&id).expect("found above");
        // Every secret in this fake is one we own, and an owner always reads the latest revision;
        // `read` only decides whether the pin moves.
        let latest = s.revisions.len() - 1;
        match read {
            SecretRead::Pinned => {
                s.pinned.get_or_insert(latest);
            }
            SecretRead::Peek => {}
            SecretRead::Refresh => s.pinned = Some(latest),
        }
        let rev = latest;
        Ok(s.revisions[rev].clone())
    }

    fn secret_set(
        &self,
        id: &str,
        content: Option<&Databag>,
        opts: &SecretOptions,
    ) -> Result<(), ToolError> {
        self.record(format!("secret-set {id}"));
        let bare = self.find_secret("secret-set", &SecretRef::Id(id.to_string()))?;
        let owner = self.state.borrow().secrets[&bare].owner;
        self.check_owner_write("secret-set", owner)?;
        let mut st = self.state.borrow_mut();
        let s = st.secrets.get_mut(&bare).expect("found above");
        if let Some(c) = content {
            if s.revisions.last() != Some(c) {
                s.revisions.push(c.clone());
            }
        }
        if opts.label.is_some() {
            s.label = opts.label.clone();
        }
        if opts.description.is_some() {
            s.description = opts.description.clone();
        }
        if opts.expire.is_some() {
            s.expire = opts.expire.clone();
        }
        if opts.rotate.is_some() {
            s.rotate = opts.rotate.clone();
        }
        Ok(())
    }

    fn secret_info_get(&self, secret: &SecretRef) -> Result<SecretInfo, ToolError> {
        self.record(format!("secret-info-get {secret:?}"));
        let id = self.find_secret("secret-info-get", secret)?;
        let st = self.state.borrow();
        let s = &st.secrets[&id];
        Ok(SecretInfo {
            id: id.clone(),
            revision: s.revisions.len() as u64,
            label: s.label.clone(),
            owner: Some(s.owner.as_str().into()),
            description: s.description.clone(),
            rotation: s.rotate.clone(),
            expiry: s.expire.clone(),
        })
    }

    fn secret_remove(&self, id: &str, revision: Option<u64>) -> Result<(), ToolError> {
        self.record(format!("secret-remove {id}"));
        let bare = self.find_secret("secret-remove", &SecretRef::Id(id.to_string()))?;
        let owner = self.state.borrow().secrets[&bare].owner;
        self.check_owner_write("secret-remove", owner)?;
        let mut st = self.state.borrow_mut();
        match revision {
            None => {
                st.secrets.remove(&bare);
            }
            Some(_) => {
                // Removing an old revision leaves the content we read (the latest) in place.
            }
        }
        Ok(())
    }

    fn secret_ids(&self) -> Result<Vec<String>, ToolError> {
        self.record("secret-ids".into());
        Ok(self.state.borrow().secrets.keys().cloned().collect())
    }

    fn secret_grant(
        &self,
        id: &str,
        rel: RelationId,
        _unit: Option<&str>,
    ) -> Result<(), ToolError> {
        self.record(format!("secret-grant {id} -r {rel}"));
        self.find_secret("secret-grant", &SecretRef::Id(id.to_string()))?;
        if !self.state.borrow().relations.contains_key(&rel) {
            return Err(relation_not_found("secret-grant", rel));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::MAX_ACTION_VALUE_BYTES;

    #[test]
    fn action_set_refuses_what_the_real_tool_refuses() {
        let tools = FakeTools::new("app", true);
        let mut results = BTreeMap::new();
        results.insert("small".to_string(), "1".to_string());
        results.insert("big".to_string(), "x".repeat(MAX_ACTION_VALUE_BYTES));
        let err = tools.action_set(&results).unwrap_err();
        assert!(
            matches!(err, ToolError::ValueTooLarge { ref key, .. } if key == "big"),
            "{err:?}"
        );
        assert!(tools.state.borrow().action_results.is_empty());
        assert_eq!(tools.count("action-set"), 0);
        results.remove("big");
        tools.action_set(&results).unwrap();
        assert_eq!(tools.state.borrow().action_results["small"], "1");
    }
}
