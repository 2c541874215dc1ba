//! Reading relations: one [`RelationSnapshot`] per `certificates` relation, and the requests in it.
//!
//! Reading a relation costs `relation-list` + one `relation-get` per remote unit + the remote app
//! bag + our own app bag (the remote app's name comes from a unit name, or from
//! `JUJU_REMOTE_APP`, so no extra `relation-list --app` unless the relation has no units and the
//! hook is not for it).
//!
//! In a hook scoped to one relation, the remote unit databags the last hook read ([`KnownBags`])
//! stand in for those this hook's event did not change: only the hook's remote unit and units
//! the cache does not hold are read (the remote application's bag is always read: one call, and
//! no doubt about which change an application-level hook is for). Juju runs a
//! `-relation-changed` for every change of a remote unit's bag, with `JUJU_REMOTE_UNIT` naming
//! it, so a cached bag is at most one queued hook behind: the same view a hook that read it
//! would have had a moment earlier.
//!
//! Used by reconcile and by the actions.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use juju_hook::{Databag, HookContext, Member, RelationId, ToolError};

use crate::charm::hook::Hook;
use crate::charm::CharmError;
use crate::protocol::modern::{self, ProviderAppData, ProviderParseNotes};

/// Everything we read of one relation, once per hook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelationSnapshot {
    pub id: RelationId,
    /// The remote application's name (as this model sees it).
    pub remote_app: String,
    /// Remote units in scope (sorted, as `relation-list` gives them) and their databags.
    pub units: Vec<(String, Databag)>,
    pub remote_app_bag: Databag,
    /// Our application databag on this relation (leader-readable only).
    pub own_app_bag: Databag,
    /// Our unit databag, read only for dialects that publish there.
    pub own_unit_bag: Option<Databag>,
}

/// Where a request came from.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RequestSource {
    /// A requirer unit databag (Mode.UNIT).
    Unit(String),
    /// The requirer application databag (Mode.APP), written by its leader.
    App(String),
}

impl RequestSource {
    /// `requirer/0` or `requirer`.
    pub fn name(&self) -> &str {
        match self {
            RequestSource::Unit(n) | RequestSource::App(n) => n,
        }
    }
    pub fn is_app(&self) -> bool {
        matches!(self, RequestSource::App(_))
    }
    /// `unit requirer/0` or `app requirer`.
    pub fn describe(&self) -> String {
        match self {
            RequestSource::Unit(n) => format!("unit {n}"),
            RequestSource::App(n) => format!("app {n}"),
        }
    }
}

/// One modern request: the CSR exactly as the requirer sent it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub csr: String,
    pub is_ca: bool,
    pub source: RequestSource,
}

/// Input we could not use, with a message for logs (never echoed to relation data).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub source: RequestSource,
    pub message: String,
}

/// The requests of one relation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RelationRequests {
    /// Unit databags in unit order, then the app databag; each in list order. A CSR string that
    /// appears twice is kept once (first occurrence).
    pub requests: Vec<Request>,
    /// Whole databags skipped and single entries refused.
    pub rejected: Vec<Rejection>,
}

/// The application part of a unit name (`app/3` → `app`).
pub fn app_of_unit(unit: &str) -> &str {
    unit.rsplit_once('/').map(|(a, _)| a).unwrap_or(unit)
}

/// The remote unit databags of one relation as a hook read them, kept in the local cache so
/// that a later hook scoped to this relation reads only the one its event changed. Bags over
/// [`KnownBags::MAX_BAG`] bytes are not kept (they are read every time).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownBags {
    /// Remote unit → its databag.
    pub units: BTreeMap<String, Databag>,
}

impl KnownBags {
    /// The largest bag kept (keys and values, bytes).
    pub const MAX_BAG: usize = 64 * 1024;

    /// What of `snap` may be kept.
    pub fn of(snap: &RelationSnapshot) -> KnownBags {
        let small = |bag: &Databag| size(bag) <= Self::MAX_BAG;
        KnownBags {
            units: snap
                .units
                .iter()
                .filter(|(_, b)| small(b))
                .map(|(u, b)| (u.clone(), b.clone()))
                .collect(),
        }
    }

    /// Bytes of keys and values held.
    pub fn size(&self) -> usize {
        self.units.values().map(size).sum()
    }
}

fn size(bag: &Databag) -> usize {
    bag.iter().map(|(k, v)| k.len() + v.len()).sum()
}

/// Reads one relation. `Ok(None)` when the relation is gone (broken, or removed under us).
pub fn read_relation(
    hook: &Hook<'_>,
    id: RelationId,
) -> Result<Option<RelationSnapshot>, CharmError> {
    read_relation_knowing(hook, id, None)
}

/// [`read_relation`], taking from `known` the remote bags this hook's event did not change.
pub fn read_relation_knowing(
    hook: &Hook<'_>,
    id: RelationId,
    known: Option<&KnownBags>,
) -> Result<Option<RelationSnapshot>, CharmError> {
    match read_relation_inner(hook, id, known) {
        Ok(s) => Ok(Some(s)),
        Err(ToolError::RelationNotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The remote unit whose data this hook is about, on relation `id` (`Some(None)`: the remote
/// application's data; `None`: the hook is not about a change on `id`).
fn changed_member<'a>(hook: &Hook<'a>, id: RelationId) -> Option<Option<&'a str>> {
    let r = hook.ctx.relation.as_ref().filter(|r| r.id == id)?;
    Some(r.remote_unit.as_deref())
}

fn read_relation_inner(
    hook: &Hook<'_>,
    id: RelationId,
    known: Option<&KnownBags>,
) -> Result<RelationSnapshot, ToolError> {
    let (ctx, tools) = (hook.ctx, hook.tools);
    // Without a hook about this relation, nothing tells what changed: read everything.
    let changed = changed_member(hook, id);
    let known = known.filter(|_| changed.is_some());
    let remote_unit = changed.flatten();
    let unit_names = tools.relation_list(id)?;
    let mut units = Vec::with_capacity(unit_names.len());
    for u in unit_names {
        let cached = known
            .filter(|_| remote_unit != Some(u.as_str()))
            .and_then(|k| k.units.get(&u));
        let bag = match cached {
            Some(b) => b.clone(),
            None => tools.relation_get(id, &Member::Unit(u.clone()))?,
        };
        units.push((u, bag));
    }
    let remote_app = remote_app_of(hook, id, units.first().map(|(u, _)| u.as_str()))?;
    let remote_app_bag = if remote_app.is_empty() {
        Databag::new()
    } else {
        tools.relation_get(id, &Member::App(remote_app.clone()))?
    };
    let own_app_bag = tools.relation_get(id, &Member::App(ctx.app_name.clone()))?;
    Ok(RelationSnapshot {
        id,
        remote_app,
        units,
        remote_app_bag,
        own_app_bag,
        own_unit_bag: None,
    })
}

/// The remote application of relation `id`: from a remote unit's name when one is in scope,
/// else from `JUJU_REMOTE_APP` when the hook is for this relation, else `relation-list --app`.
pub fn remote_app_of(
    hook: &Hook<'_>,
    id: RelationId,
    first_unit: Option<&str>,
) -> Result<String, ToolError> {
    if let Some(u) = first_unit {
        return Ok(app_of_unit(u).to_string());
    }
    let from_hook = hook
        .ctx
        .relation
        .as_ref()
        .filter(|r| r.id == id)
        .and_then(|r| r.remote_app.clone());
    match from_hook {
        Some(app) => Ok(app),
        None => hook.tools.relation_remote_app(id),
    }
}

/// Whether this hook is the `-relation-broken` of relation `id` of `endpoint` (whose data must
/// not be touched).
pub fn is_broken_in_this_hook(ctx: &HookContext, endpoint: &str, id: RelationId) -> bool {
    ctx.relation
        .as_ref()
        .is_some_and(|r| r.id == id && r.endpoint == endpoint)
        && ctx.name() == format!("{endpoint}-relation-broken")
}

/// The live relation ids of `endpoint` (without the one being broken in this hook).
pub fn relation_ids(hook: &Hook<'_>, endpoint: &str) -> Result<Vec<RelationId>, CharmError> {
    let mut ids = hook.tools.relation_ids(endpoint)?;
    ids.retain(|id| !is_broken_in_this_hook(hook.ctx, endpoint, *id));
    Ok(ids)
}

/// Reads the relations `ids` (leader only: reads our app bags), skipping those that are gone.
pub fn read_relations(
    hook: &Hook<'_>,
    ids: &[RelationId],
) -> Result<Vec<RelationSnapshot>, CharmError> {
    let mut out = Vec::with_capacity(ids.len());
    for &id in ids {
        if let Some(s) = read_relation(hook, id)? {
            out.push(s);
        }
    }
    Ok(out)
}

impl RelationSnapshot {
    /// Every modern request of this relation (untrusted input parsed defensively).
    pub fn requests(&self) -> RelationRequests {
        let mut out = RelationRequests::default();
        let mut seen: HashSet<String> = HashSet::new();
        let bags = self
            .units
            .iter()
            .map(|(u, bag)| (RequestSource::Unit(u.clone()), bag))
            .chain(std::iter::once((
                RequestSource::App(self.remote_app.clone()),
                &self.remote_app_bag,
            )));
        for (source, bag) in bags {
            match modern::parse_requirer_databag(bag) {
                Err(e) => out.rejected.push(Rejection {
                    message: format!(
                        "relation {} {}: databag skipped: {e}",
                        self.id,
                        source.describe()
                    ),
                    source,
                }),
                Ok(parsed) => {
                    for r in parsed.refused {
                        out.rejected.push(Rejection {
                            message: format!(
                                "relation {} {}: request {} refused: {}",
                                self.id,
                                source.describe(),
                                r.index,
                                r.reason
                            ),
                            source: source.clone(),
                        });
                    }
                    for r in parsed.requests {
                        if seen.insert(r.certificate_signing_request.clone()) {
                            out.requests.push(Request {
                                csr: r.certificate_signing_request,
                                is_ca: r.ca,
                                source: source.clone(),
                            });
                        }
                    }
                }
            }
        }
        out
    }

    /// Our published data on this relation, read leniently (bad values dropped, described in the
    /// notes; the next write replaces them).
    pub fn published(&self) -> (ProviderAppData, ProviderParseNotes) {
        ProviderAppData::from_databag(&self.own_app_bag)
    }
}

/// The databag of `member` on relation `id`; `None` when the relation is gone.
pub fn bag_of(
    hook: &Hook<'_>,
    id: RelationId,
    member: &Member,
) -> Result<Option<Databag>, CharmError> {
    match hook.tools.relation_get(id, member) {
        Ok(b) => Ok(Some(b)),
        Err(ToolError::RelationNotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Our unit databag on `id`; `None` when the relation is gone.
pub fn own_unit_bag(hook: &Hook<'_>, id: RelationId) -> Result<Option<Databag>, CharmError> {
    bag_of(hook, id, &Member::Unit(hook.unit().to_string()))
}
