//! The hook tools as a typed trait. Handlers take `&dyn HookTools` so they run against the real
//! tools (`crate::process::ProcessTools`) or the in-memory model (`crate::fake::FakeTools`).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::ToolError;

/// The longest `key=value` argument `action-set` is given. Linux refuses a single argv string over
/// 128 KiB (`MAX_ARG_STRLEN`) and Juju's `action-set` reads no file or stdin, so a larger result is
/// refused with [`ToolError::ValueTooLarge`] before anything runs. Split big results (see the
/// charm's chunked lists) to stay under it.
pub const MAX_ACTION_VALUE_BYTES: usize = 120 * 1024;

/// The most argv bytes (strings, their NULs and pointers) one `action-set` call is given; more results
/// are set with several calls (the whole argv plus environment must stay under ~2 MiB).
pub const MAX_ACTION_SET_ARGV_BYTES: usize = 1024 * 1024;

/// A databag: Juju relation data and secret content are maps of strings.
pub type Databag = BTreeMap<String, String>;

/// A relation's numeric id (`JUJU_RELATION_ID` is `endpoint:id`; the tools accept `-r <id>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RelationId(pub u32);

impl fmt::Display for RelationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl RelationId {
    /// Parses `endpoint:id`, `anything:id` or a bare `id` (the text after the last `:`), as Juju does.
    pub fn parse(text: &str) -> Option<RelationId> {
        let tail = text.rsplit(':').next().unwrap_or(text);
        tail.trim().parse().ok().map(RelationId)
    }
}

/// Whose databag a relation read or write addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Member {
    /// A unit's databag, e.g. `requirer/0` (remote or our own).
    Unit(String),
    /// An application's databag, e.g. `requirer` (remote, or our own when leader).
    App(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatusName {
    Active,
    Blocked,
    Maintenance,
    Waiting,
}

impl StatusName {
    pub fn as_str(self) -> &'static str {
        match self {
            StatusName::Active => "active",
            StatusName::Blocked => "blocked",
            StatusName::Maintenance => "maintenance",
            StatusName::Waiting => "waiting",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusScope {
    Unit,
    /// `status-set --application` (leader only).
    Application,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warning,
    Error,
}

impl LogLevel {
    /// The level name `juju-log --log-level` takes.
    pub fn as_juju(self) -> &'static str {
        match self {
            LogLevel::Trace => "TRACE",
            LogLevel::Debug => "DEBUG",
            LogLevel::Info => "INFO",
            LogLevel::Warning => "WARNING",
            LogLevel::Error => "ERROR",
        }
    }
}

/// Who owns a new secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SecretOwner {
    #[default]
    Application,
    Unit,
}

impl SecretOwner {
    /// The owner name `secret-add --owner` takes and `secret-info-get` prints.
    pub fn as_str(self) -> &'static str {
        match self {
            SecretOwner::Application => "application",
            SecretOwner::Unit => "unit",
        }
    }
}

/// Metadata for `secret-add` / `secret-set`. `None` leaves a field unset / unchanged.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SecretOptions {
    pub label: Option<String>,
    pub description: Option<String>,
    /// RFC 3339 time (e.g. `2026-01-02T03:04:05Z`) or a Go duration (e.g. `24h`).
    pub expire: Option<String>,
    /// `never`, `hourly`, `daily`, `weekly`, `monthly`, `quarterly`, `yearly`.
    pub rotate: Option<String>,
    pub owner: SecretOwner,
}

/// How `secret-get` chooses the revision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SecretRead {
    /// The pinned revision (the first read pins the latest).
    #[default]
    Pinned,
    /// `--peek`: the latest revision, without re-pinning.
    Peek,
    /// `--refresh`: the latest revision, and pin it.
    Refresh,
}

/// A secret addressed by id (any form Juju accepts), by label, or both.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretRef {
    Id(String),
    Label(String),
    IdAndLabel { id: String, label: String },
}

/// What `secret-info-get` reports for one secret.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretInfo {
    /// The bare id (the key of `secret-info-get`'s output map).
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub revision: u64,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub rotation: Option<String>,
    #[serde(default)]
    pub expiry: Option<String>,
}

/// Every hook tool this charm calls. Reads always use `--format=json`; large or secret values travel on
/// stdin or in files, never on argv.
pub trait HookTools {
    /// `relation-ids <endpoint>`: the live relations of an endpoint, sorted.
    fn relation_ids(&self, endpoint: &str) -> Result<Vec<RelationId>, ToolError>;
    /// `relation-list -r <id>`: the remote units in scope, sorted.
    fn relation_list(&self, rel: RelationId) -> Result<Vec<String>, ToolError>;
    /// `relation-list -r <id> --app`: the remote application's name.
    fn relation_remote_app(&self, rel: RelationId) -> Result<String, ToolError>;
    /// `relation-get -r <id> [--app] - <member>`: one whole databag.
    fn relation_get(&self, rel: RelationId, member: &Member) -> Result<Databag, ToolError>;
    /// `relation-set -r <id> [--app] --file -` with the changes as JSON on stdin. An empty value
    /// deletes its key. `app` writes our application databag (leader only).
    fn relation_set(&self, rel: RelationId, app: bool, changes: &Databag) -> Result<(), ToolError>;
    /// `is-leader`.
    fn is_leader(&self) -> Result<bool, ToolError>;
    /// `config-get`: every option that has a value, typed.
    fn config_get(&self) -> Result<serde_json::Map<String, serde_json::Value>, ToolError>;
    /// `action-get`: the action's parameters.
    fn action_get(&self) -> Result<serde_json::Map<String, serde_json::Value>, ToolError>;
    /// `action-set k=v...`: keys may be dotted (`a.b`) to nest. Results are set with as many calls
    /// as needed to keep each argv under [`MAX_ACTION_SET_ARGV_BYTES`]; a `key=value` longer than
    /// [`MAX_ACTION_VALUE_BYTES`] is refused with [`ToolError::ValueTooLarge`] and nothing is set.
    fn action_set(&self, results: &BTreeMap<String, String>) -> Result<(), ToolError>;
    /// `action-fail -- <message>` (private keys redacted, as for every free-text tool).
    fn action_fail(&self, message: &str) -> Result<(), ToolError>;
    /// `action-log -- <message>`.
    fn action_log(&self, message: &str) -> Result<(), ToolError>;
    /// `status-set [--application] <status> -- <message>`.
    fn status_set(
        &self,
        scope: StatusScope,
        status: StatusName,
        message: &str,
    ) -> Result<(), ToolError>;
    /// `application-version-set -- <version>`.
    fn application_version_set(&self, version: &str) -> Result<(), ToolError>;
    /// `juju-log --log-level <LEVEL> -- <message>`. Implementations redact PEM private-key blocks
    /// (see [`crate::log::redact`]) from this and every other free-text message (`status-set`,
    /// `action-log`, `action-fail`), so no caller can leak a key through them.
    fn juju_log(&self, level: LogLevel, message: &str) -> Result<(), ToolError>;
    /// `secret-add [opts] key#file=...`: returns the new secret's id as Juju printed it.
    fn secret_add(&self, content: &Databag, opts: &SecretOptions) -> Result<String, ToolError>;
    /// `secret-get <id>|--label <l> [--peek|--refresh]`: the content.
    fn secret_get(&self, secret: &SecretRef, read: SecretRead) -> Result<Databag, ToolError>;
    /// `secret-set <id> [opts] [key#file=...]`: new content (a new revision) and/or metadata.
    fn secret_set(
        &self,
        id: &str,
        content: Option<&Databag>,
        opts: &SecretOptions,
    ) -> Result<(), ToolError>;
    /// `secret-info-get <id>|--label <l>` (owner only).
    fn secret_info_get(&self, secret: &SecretRef) -> Result<SecretInfo, ToolError>;
    /// `secret-remove <id> [--revision N]`.
    fn secret_remove(&self, id: &str, revision: Option<u64>) -> Result<(), ToolError>;
    /// `secret-ids`: bare ids of the secrets this application owns.
    fn secret_ids(&self) -> Result<Vec<String>, ToolError>;
    /// `secret-grant <id> --relation <rel> [--unit <unit>]`.
    fn secret_grant(&self, id: &str, rel: RelationId, unit: Option<&str>) -> Result<(), ToolError>;
}
