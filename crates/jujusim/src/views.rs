//! Plain data the `Model` hands out: relation bags, unit status, hook runs, settle reports, action
//! results and secret views.

use std::time::{Duration, SystemTime};

/// A relation databag.
pub type Databag = std::collections::BTreeMap<String, String>;

/// Unit status as `juju status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UnitStatus {
    pub workload: String,
    pub message: String,
    /// `"idle"` or `"error"`.
    pub agent: String,
    /// e.g. `hook failed: "install"` when in error.
    pub agent_message: String,
}

/// One hook-tool invocation seen during a hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolCall {
    pub tool: String,
    pub args: Vec<String>,
}

/// One hook (or action, `hook` = `actions/<name>`) run.
#[derive(Debug, Clone)]
pub struct HookRun {
    pub unit: String,
    pub hook: String,
    pub relation_id: Option<u32>,
    pub remote_unit: Option<String>,
    pub exit_code: i32,
    pub tool_calls: Vec<ToolCall>,
    pub duration: Duration,
    /// The injected fault that fired in this run (`Model::inject_fault`), if any.
    pub fault: Option<Fault>,
}

/// A fault to inject into a unit's next hook or action (`Model::inject_fault`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    /// The hook-tool call it hits, counted from 1 as in `HookRun::tool_calls`.
    pub at_call: usize,
    pub kind: FaultKind,
}

/// What an injected fault does at its tool call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// The tool does nothing and exits 1 with `ERROR connection is shut down`, as when the unit
    /// agent's API connection is gone.
    ToolError,
    /// The hook process (and its process group) is killed with SIGKILL during the call, as in a
    /// crash: the call does not run and the hook fails.
    Kill,
}

/// What a `settle` did.
#[derive(Debug, Clone, Default)]
pub struct SettleReport {
    /// The runs of this settle, in order.
    pub runs: Vec<HookRun>,
    /// Units left in error: (unit, hook).
    pub errors: Vec<(String, String)>,
}

impl SettleReport {
    pub fn hooks_run(&self) -> usize {
        self.runs.len()
    }
}

/// The outcome of an action.
#[derive(Debug, Clone)]
pub struct ActionResult {
    /// `"completed"` or `"failed"`.
    pub status: String,
    pub message: String,
    /// Nested map built from `action-set` (dotted keys nest).
    pub results: serde_json::Value,
    pub logs: Vec<String>,
    pub stdout: String,
    pub stderr: String,
    pub exit_code: i32,
}

/// A read-only view of one secret.
#[derive(Debug, Clone)]
pub struct SecretView {
    /// The bare 20-char id.
    pub id: String,
    /// `"app"` for application-owned, `"app/0"` for unit-owned.
    pub owner: String,
    pub label: Option<String>,
    /// Content of each revision, oldest first (index 0 = revision 1; removed revisions are empty,
    /// so the index keeps matching the revision number and `last()` is the latest).
    pub revisions: Vec<Databag>,
    /// Revisions whose content the owner deleted (`secret-remove <id> --revision N`), ascending.
    pub removed_revisions: Vec<u32>,
    /// Revisions Juju marked obsolete (older than the latest, tracked by no consumer) and
    /// announced to the owner with a `secret-remove` hook, ascending; removed ones included.
    pub obsolete_revisions: Vec<u32>,
    pub expire: Option<SystemTime>,
    pub rotate: Option<String>,
}
