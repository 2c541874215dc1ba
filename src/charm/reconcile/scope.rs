//! Full pass or not: which relations one leader hook serves.
//!
//! A `<endpoint>-relation-*` hook of `certificates`, `send-ca-cert` or `upstream-ca` serves only
//! its own relation ([`Pass::Scoped`]), with the other relations' counts and anchors from the
//! local cache ([`super::cache`]). Every relation of every endpoint is served ([`Pass::Full`])
//! when any of [`Why`] holds. An `update-status` with nothing due does nothing at all
//! ([`Pass::Idle`]), decided before the config and the CA are read ([`idle`]).
//!
//! `TLS_PROVIDER_SCOPE=0` in the environment of the charm (the benchmark's switch) makes every
//! hook full, as before scoping existed.

use std::time::SystemTime;

use juju_hook::RelationId;

use super::cache::{digest, unix, Cache, LeaderCache};
use crate::charm::ca::source::UPSTREAM_ENDPOINT;
use crate::charm::hook::{Hook, Leader};
use crate::charm::transfer::TRANSFER_ENDPOINT;
use crate::charm::ENDPOINT;

/// The environment variable that turns scoping off (`0`).
pub const SCOPE_ENV: &str = "TLS_PROVIDER_SCOPE";

/// The endpoints whose relation hooks serve only their own relation.
pub const SCOPED_ENDPOINTS: &[&str] = &[ENDPOINT, TRANSFER_ENDPOINT, UPSTREAM_ENDPOINT];

/// Whether scoping is on in this process (it is unless `TLS_PROVIDER_SCOPE=0`).
pub fn enabled_by_env() -> bool {
    std::env::var(SCOPE_ENV).map_or(true, |v| v.trim() != "0")
}

/// What one hook serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pass {
    /// Every relation of every endpoint.
    Full(Why),
    /// Relation `id` of `endpoint` only (and live relations the cache does not know).
    Scoped { endpoint: String, id: RelationId },
    /// Nothing: an `update-status` with nothing due.
    Idle,
}

/// Why a pass is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Why {
    /// `TLS_PROVIDER_SCOPE=0`.
    Disabled,
    /// Not a relation hook of a scoped endpoint (install, config-changed, actions, ...).
    Event,
    /// The caller asks for more than the hook's own reasons (an action's rotation, CA or
    /// trust bundle).
    Requested,
    /// No usable cache (first hook, a failed one before, a new leader).
    NoCache,
    /// `full-reconcile-interval` is 0.
    Always,
    /// The config or the CA differ from those the cache was made under.
    Context,
    /// The CA changed in this hook (rotation switch or announcement, intermediate installed).
    CaChanged,
    /// A renewal, CA or trust deadline has passed.
    Deadline,
    /// `full-reconcile-interval` has passed since the last full pass.
    Interval,
}

impl Pass {
    pub fn is_full(&self) -> bool {
        matches!(self, Pass::Full(_))
    }

    /// Whether the pass serves every relation of `endpoint` that the cache knows, or only
    /// `id` among them.
    pub fn serves(&self, endpoint: &str, id: RelationId) -> bool {
        match self {
            Pass::Full(_) => true,
            Pass::Scoped { endpoint: e, id: i } => e == endpoint && *i == id,
            Pass::Idle => false,
        }
    }

    /// The endpoint of the hook's own relation, in a scoped pass.
    pub fn endpoint(&self) -> Option<&str> {
        match self {
            Pass::Scoped { endpoint, .. } => Some(endpoint),
            _ => None,
        }
    }
}

/// Whether `cache` says nothing is due at `now`: no deadline passed, the interval not over.
fn nothing_due(cache: &LeaderCache, now: SystemTime) -> Result<(), Why> {
    let now = unix(now);
    if cache.interval == 0 {
        return Err(Why::Always);
    }
    if cache.due().is_some_and(|d| now >= d) {
        return Err(Why::Deadline);
    }
    if now >= cache.next_full() {
        return Err(Why::Interval);
    }
    Ok(())
}

/// Whether this hook may find nothing to do: an `update-status`, scoping on, nothing
/// `requested` beyond the hook's own reasons.
pub fn may_idle(hook: &Hook<'_>, requested: bool) -> bool {
    hook.scoping && !requested && hook.ctx.name() == "update-status"
}

/// Whether the leader's last `cache` says nothing is due now (for a [`may_idle`] hook).
pub fn idle(hook: &Hook<'_>, cache: Option<&Cache>) -> bool {
    match cache {
        Some(Cache::Leader(c)) => nothing_due(c, hook.now).is_ok(),
        _ => false,
    }
}

/// The hook's own relation when it is a relation hook of a scoped endpoint.
fn own_relation(hook: &Hook<'_>) -> Option<(String, RelationId)> {
    let r = hook.ctx.relation.as_ref()?;
    let scoped = SCOPED_ENDPOINTS.contains(&r.endpoint.as_str())
        && hook
            .ctx
            .name()
            .starts_with(&format!("{}-relation-", r.endpoint));
    scoped.then(|| (r.endpoint.clone(), r.id))
}

/// What this leader hook serves, given the last cache and the config and CA in hand
/// (`requested`: the caller asks for more than the hook's own reasons).
pub fn decide(
    hook: &Hook<'_>,
    leader: &Leader<'_>,
    cache: Option<&LeaderCache>,
    requested: bool,
) -> Pass {
    if requested {
        return Pass::Full(Why::Requested);
    }
    match scoped_to(hook, leader, cache) {
        Ok((endpoint, id)) => Pass::Scoped { endpoint, id },
        Err(why) => Pass::Full(why),
    }
}

fn scoped_to(
    hook: &Hook<'_>,
    leader: &Leader<'_>,
    cache: Option<&LeaderCache>,
) -> Result<(String, RelationId), Why> {
    if !hook.scoping {
        return Err(Why::Disabled);
    }
    let own = own_relation(hook);
    if own.is_none() && hook.ctx.name() != "update-status" {
        return Err(Why::Event);
    }
    let cache = cache.ok_or(Why::NoCache)?;
    if leader.config.full_reconcile_interval == 0 {
        return Err(Why::Always);
    }
    nothing_due(cache, hook.now)?;
    if leader.ca_rotated.is_some() || leader.ca_announced.is_some() {
        return Err(Why::CaChanged);
    }
    if cache.context != context(leader) {
        return Err(Why::Context);
    }
    // An update-status that found nothing due before reading the config is idle; one here
    // found something due.
    own.ok_or(Why::Deadline)
}

/// A digest of what every cached plan was made under: the validated config and the CA.
pub fn context(leader: &Leader<'_>) -> String {
    let ca = leader.ca.as_ref();
    digest(&format!(
        "{:?}\n{:?}\n{}\n{}",
        leader.config,
        ca,
        ca.map(|c| c.root_pem()).unwrap_or_default(),
        ca.map(|c| c.source.describe()).unwrap_or_default(),
    ))
}
