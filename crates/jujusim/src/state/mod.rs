//! The model state shared between the driver (`Model`) and the hook-tool server thread.

mod event_queue;
mod resolver;

pub(crate) use resolver::Op;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value};

use crate::meta::{ActionDef, ConfigOption, Metadata, Role};
use crate::views::{Databag, Fault, ToolCall};

pub(crate) struct App {
    pub meta: Metadata,
    pub config_defs: BTreeMap<String, ConfigOption>,
    /// Explicitly set values (not defaults).
    pub config: Map<String, Value>,
    pub actions: BTreeMap<String, ActionDef>,
    pub leader: Option<String>,
    pub status: Option<(String, String)>,
    pub version: String,
    pub next_unit: usize,
    pub puppet: bool,
    pub charm_src: Option<PathBuf>,
    pub leader_settings: Databag,
    /// Juju 3.x's leader-settings version as the units' watchers see it: 1 after the watcher's
    /// first event, +1 per committed change (`remotestate/watcher.go` `leaderSettingsChanged`).
    pub leader_settings_version: u64,
    /// `name` from metadata.yaml.
    pub charm_name: String,
}

impl App {
    pub fn effective_config(&self) -> Map<String, Value> {
        let mut out = Map::new();
        for (k, def) in &self.config_defs {
            out.insert(k.clone(), def.default.clone());
        }
        for (k, v) in &self.config {
            out.insert(k.clone(), v.clone());
        }
        out
    }
}

#[derive(Default, Clone)]
pub(crate) struct UnitRel {
    /// Remote units whose `-joined` has run (what `relation-list` shows).
    pub members: BTreeSet<String>,
    /// Remote units this unit knows about (joined queued or run, not departed).
    pub known: BTreeSet<String>,
    /// `-broken` is running or queued.
    pub broken: bool,
    /// The remote unit whose `-changed` must follow its `-joined` (Juju's `ChangedPending`).
    pub changed_pending: Option<String>,
    /// Settings of remote member units cached across hooks, as the context factory's
    /// `RelationCache` keeps them (`runner/context/cache.go`); absent = read fresh.
    pub cache: BTreeMap<String, Databag>,
}

pub(crate) struct Unit {
    pub name: String,
    pub app: String,
    pub charm_dir: PathBuf,
    pub address: String,
    pub machine: usize,
    pub status: (String, String),
    pub status_set: bool,
    pub status_since: SystemTime,
    /// The hook that failed (its event is in `failed` until resolved or retried).
    pub error: Option<String>,
    /// The failed event, run again on `resolve --retry` or when the retry timer fires.
    pub failed: Option<Event>,
    /// Set when the failed event must run next (resolved with retry, or the retry timer fired).
    pub retry_now: bool,
    /// When the agent's hook-retry timer fires (simulated clock), while in error.
    pub retry_at: Option<SystemTime>,
    /// The delay the retry timer uses next (5 s doubling to 5 min; reset after a success).
    pub retry_delay: Duration,
    /// The leader-settings version this unit last ran `leader-settings-changed` for.
    pub leader_settings_seen: u64,
    pub queue: VecDeque<Event>,
    pub state: Databag,
    pub ports: BTreeSet<String>,
    pub logs: Vec<String>,
    pub started: bool,
    pub dying: bool,
    pub rels: BTreeMap<u32, UnitRel>,
}

pub(crate) struct Relation {
    pub id: u32,
    /// (app, endpoint) of both sides; for a peer relation both are the same.
    pub ends: [(String, String); 2],
    pub interface: String,
    pub peer: bool,
    /// Bags keyed by unit name or app name.
    pub bags: BTreeMap<String, Databag>,
    pub dying: bool,
}

impl Relation {
    pub fn endpoint_of(&self, app: &str) -> Option<&str> {
        self.ends
            .iter()
            .find(|(a, _)| a == app)
            .map(|(_, e)| e.as_str())
    }
    pub fn remote_app(&self, app: &str) -> Option<&str> {
        if self.peer {
            return Some(self.ends[0].0.as_str());
        }
        if self.ends[0].0 == app {
            Some(&self.ends[1].0)
        } else if self.ends[1].0 == app {
            Some(&self.ends[0].0)
        } else {
            None
        }
    }
    pub fn involves(&self, app: &str) -> bool {
        self.ends.iter().any(|(a, _)| a == app)
    }
}

#[derive(Clone)]
pub(crate) struct Consumer {
    pub label: Option<String>,
    pub revision: u32,
}

#[derive(Clone)]
pub(crate) struct Secret {
    pub id: String,
    /// App name or unit name; [`MODEL_OWNER`] for a user secret.
    pub owner: String,
    pub owner_is_unit: bool,
    /// A user secret (`juju add-secret`): owned by the model (juju/juju 3.x
    /// `apiserver/facades/client/secrets/secrets.go` `createSecret`: `names.NewModelTag`), so no
    /// unit owns or manages it; units of the applications in `app_grants` read it as consumers.
    pub model_owned: bool,
    /// Applications granted view access to a user secret (`juju grant-secret`: role `view`,
    /// scope the model). Grants of charm-owned secrets are in `grants`.
    pub app_grants: BTreeSet<String>,
    pub label: Option<String>,
    pub description: Option<String>,
    pub revisions: BTreeMap<u32, Databag>,
    pub latest: u32,
    /// Expiry per revision: Juju keeps `expire-time` on each revision document, and a new
    /// revision gets only the `--expire` given with it (juju/juju 3.6 `state/secrets.go`
    /// `UpdateSecret`).
    pub expire: BTreeMap<u32, SystemTime>,
    /// Revisions whose expiry was already announced with `secret-expired`.
    pub expire_notified: BTreeSet<u32>,
    pub rotate: Option<String>,
    pub next_rotate: Option<SystemTime>,
    /// Grant target (app or unit name) -> relation id.
    pub grants: BTreeMap<String, u32>,
    /// Consumer unit -> tracking info.
    pub consumers: BTreeMap<String, Consumer>,
    /// Revisions Juju marked obsolete (not the latest and tracked by no consumer); each got one
    /// `secret-remove` on the owner. They stay until the owner runs `secret-remove --revision`.
    pub obsolete: BTreeSet<u32>,
    /// Units of the owning application that read this app-owned secret: Juju saves a consumer
    /// record for them (juju/juju 3.6 `apiserver/facades/agent/secretsmanager/secrets.go`,
    /// `ensureConsumerMetadataForAppOwnedSecretsForPeerUnits`) so they get `secret-changed`
    /// for new revisions. They always read the latest revision (no pinning).
    pub peer_readers: BTreeSet<String>,
}

impl Secret {
    /// Expiry of the latest revision (what `secret-info-get` shows).
    pub fn latest_expire(&self) -> Option<SystemTime> {
        self.expire.get(&self.latest).copied()
    }
    /// Whether `unit` may change this secret: its owner unit, or the leader of its owning
    /// application (juju/juju 3.6 `apiserver/common/secrets` `CanManage`).
    pub fn managed_by(&self, unit: &str, leader: bool) -> bool {
        self.owned_by(unit) && (self.owner_is_unit || leader)
    }
    pub fn owned_by(&self, unit: &str) -> bool {
        if self.model_owned {
            false
        } else if self.owner_is_unit {
            self.owner == unit
        } else {
            app_of(unit) == self.owner
        }
    }
    pub fn granted_to(&self, unit: &str) -> bool {
        self.grants.contains_key(unit)
            || self.grants.contains_key(app_of(unit))
            || self.app_grants.contains(app_of(unit))
    }
    /// Revisions that just became obsolete: stored, older than the latest, tracked by no consumer
    /// and not marked before (ascending).
    pub fn newly_obsolete(&self) -> Vec<u32> {
        self.revisions
            .keys()
            .copied()
            .filter(|r| {
                *r < self.latest
                    && !self.obsolete.contains(r)
                    && !self.consumers.values().any(|c| c.revision == *r)
            })
            .collect()
    }
}

/// The owner a user secret shows (`SecretView::owner`): the model, not an application.
pub(crate) const MODEL_OWNER: &str = "model";

/// How long a rotation policy (`hourly` ... `yearly`) waits; `None` for `never` or unknown.
fn rotate_interval(policy: &str) -> Option<Duration> {
    let h = 3600;
    Some(Duration::from_secs(match policy {
        "hourly" => h,
        "daily" => 24 * h,
        "weekly" => 7 * 24 * h,
        "monthly" => 30 * 24 * h,
        "quarterly" => 90 * 24 * h,
        "yearly" => 365 * 24 * h,
        _ => return None,
    }))
}

/// When a secret with rotation `policy` next rotates, counting from `now`.
pub(crate) fn rotate_next(policy: &str, now: SystemTime) -> Option<SystemTime> {
    rotate_interval(policy).map(|d| now + d)
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Plain,
    Rel(String),
    Secret,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Event {
    pub hook: String,
    pub kind: Kind,
    pub rel: Option<u32>,
    pub remote_unit: Option<String>,
    pub remote_app: Option<String>,
    pub departing: Option<String>,
    pub secret: Option<String>,
    pub secret_revision: Option<u32>,
}

impl Event {
    pub fn plain(hook: &str) -> Event {
        Event {
            hook: hook.to_string(),
            kind: Kind::Plain,
            rel: None,
            remote_unit: None,
            remote_app: None,
            departing: None,
            secret: None,
            secret_revision: None,
        }
    }
}

/// A pending `secret-set` on a secret that existed before the hook: Juju's hook context keeps
/// one per secret and merges later calls into it, the last content winning (juju/juju 3.6
/// `internal/worker/uniter/runner/context/secrets.go`, `secretsChangeRecorder.update`). It
/// becomes one new revision at commit.
#[derive(Clone, Default)]
pub(crate) struct SecretUpdate {
    pub content: Option<Databag>,
    pub expire: Option<SystemTime>,
}

/// Writes of one hook, committed only if it exits 0.
#[derive(Clone, Default)]
pub(crate) struct Txn {
    /// Full new bags for (relation, owner) this hook wrote.
    pub bags: BTreeMap<(u32, String), Databag>,
    pub state: Databag,
    pub ports: BTreeSet<String>,
    /// The hook's copy of the secret store: metadata, grants, labels, consumer tracking and
    /// secrets created in this hook. New content of existing secrets is in `secret_updates`.
    pub secrets: BTreeMap<String, Secret>,
    /// Pending content / expiry updates of secrets that existed before the hook.
    pub secret_updates: BTreeMap<String, SecretUpdate>,
    /// Ids of secrets this hook changed as their manager (set, remove, grant, revoke): the
    /// controller checks at commit that the unit may manage each (`CanManage`).
    pub secret_writes: BTreeSet<String>,
}

pub(crate) struct ActionCtx {
    #[allow(dead_code)]
    pub name: String,
    pub params: Map<String, Value>,
    pub results: Map<String, Value>,
    pub failed: Option<String>,
    pub logs: Vec<String>,
}

pub(crate) struct Ctx {
    pub unit: String,
    #[allow(dead_code)]
    pub hook: String,
    pub rel: Option<u32>,
    pub remote_unit: Option<String>,
    pub remote_app: Option<String>,
    pub action: Option<ActionCtx>,
    pub txn: Txn,
    pub calls: Vec<ToolCall>,
    /// Relations the context marks broken (dying, not a peer, no members left): left out of
    /// `relation-ids` (`runner/context/contextfactory.go` `getContextRelations`).
    pub broken_rels: BTreeSet<u32>,
    /// Per-hook caches of remote settings: application bags and non-member units
    /// (`RelationCache.applications` / `.others`, pruned at every new context).
    pub app_cache: BTreeMap<(u32, String), Databag>,
    pub others_cache: BTreeMap<(u32, String), Databag>,
    /// The fault injected into this run (taken from `State::faults` when the context is made).
    pub fault: Option<Fault>,
    /// Set when that fault fired.
    pub fault_fired: bool,
    /// The hook process id (also its process group), once spawned.
    pub pid: Option<u32>,
}

pub(crate) struct State {
    pub model_uuid: String,
    pub model_name: String,
    pub apps: BTreeMap<String, App>,
    pub units: BTreeMap<String, Unit>,
    pub relations: BTreeMap<u32, Relation>,
    pub secrets: BTreeMap<String, Secret>,
    pub contexts: HashMap<String, Ctx>,
    pub clock: SystemTime,
    pub next_rel: u32,
    pub next_machine: usize,
    /// The simulated Juju version (`JUJU_VERSION`, secret content limits).
    pub juju_version: JujuVersion,
    /// Leadership behaviour: 3 (Juju 3.x, with `leader-settings-changed`) or 4 (Juju 4.x, none).
    pub leadership_mode: u8,
    /// Model config `automatically-retry-hooks` (default true).
    pub auto_retry_hooks: bool,
    /// Faults injected for each unit's next hook or action (`Model::inject_fault`).
    pub faults: BTreeMap<String, Fault>,
}

/// A Juju version `major.minor.patch`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct JujuVersion(pub u32, pub u32, pub u32);

impl JujuVersion {
    /// Parse `3.6.8` (a missing patch is 0; a build suffix such as `3.6.4.1` is ignored).
    pub fn parse(s: &str) -> Option<JujuVersion> {
        let mut it = s.trim().split('.');
        let major = it.next()?.parse().ok()?;
        let minor = it.next()?.parse().ok()?;
        let patch = match it.next() {
            Some(p) => p.parse().ok()?,
            None => 0,
        };
        Some(JujuVersion(major, minor, patch))
    }
}

impl std::fmt::Display for JujuVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

/// The hook-retry back-off of the unit agent: `apiserver/facades/agent/retrystrategy`
/// `MinRetryTime` 5 s, `MaxRetryTime` 5 min, `RetryTimeFactor` 2.
pub(crate) const RETRY_MIN: Duration = Duration::from_secs(5);
pub(crate) const RETRY_MAX: Duration = Duration::from_secs(300);

pub(crate) fn app_of(unit: &str) -> &str {
    unit.split('/').next().unwrap_or(unit)
}

fn unit_num(u: &str) -> u64 {
    u.rsplit('/')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Sort unit names numerically (`a/2` before `a/10`).
pub(crate) fn sort_units(v: &mut [String]) {
    v.sort_by(|a, b| (app_of(a), unit_num(a)).cmp(&(app_of(b), unit_num(b))));
}

impl State {
    /// Allocate the id of a new relation.
    pub fn new_relation_id(&mut self) -> u32 {
        let id = self.next_rel;
        self.next_rel += 1;
        id
    }

    pub fn app_units(&self, app: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .units
            .values()
            .filter(|u| u.app == app)
            .map(|u| u.name.clone())
            .collect();
        sort_units(&mut v);
        v
    }

    pub fn live_app_units(&self, app: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .units
            .values()
            .filter(|u| u.app == app && !u.dying)
            .map(|u| u.name.clone())
            .collect();
        sort_units(&mut v);
        v
    }

    pub fn is_puppet(&self, unit: &str) -> bool {
        self.apps
            .get(app_of(unit))
            .map(|a| a.puppet)
            .unwrap_or(true)
    }

    pub fn is_leader(&self, unit: &str) -> bool {
        self.apps
            .get(app_of(unit))
            .and_then(|a| a.leader.as_deref())
            == Some(unit)
    }

    /// Committed bag of `owner` in `rel`.
    pub fn bag(&self, rel: u32, owner: &str) -> Option<&Databag> {
        self.relations.get(&rel)?.bags.get(owner)
    }

    pub fn log(&mut self, unit: &str, line: String) {
        if let Some(u) = self.units.get_mut(unit) {
            u.logs.push(line);
        }
    }

    /// Owner unit to notify for an owned secret (app-owned: the leader; a user secret: none).
    pub fn secret_owner_unit(&self, s: &Secret) -> Option<String> {
        if s.model_owned {
            None
        } else if s.owner_is_unit {
            self.units.contains_key(&s.owner).then(|| s.owner.clone())
        } else {
            self.apps.get(&s.owner).and_then(|a| a.leader.clone())
        }
    }

    /// Endpoints of an app with their roles.
    pub fn endpoints(&self, app: &str) -> Vec<(String, String, Role)> {
        self.apps
            .get(app)
            .map(|a| {
                a.meta
                    .endpoints
                    .iter()
                    .map(|e| (e.name.clone(), e.interface.clone(), e.role.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }
}
