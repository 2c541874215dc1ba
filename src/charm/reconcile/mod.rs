//! The one reconcile: brings relation data, the CA secret and status to the desired state. Runs
//! on every hook the charm handles.
//!
//! Leader: config → CA ([`Leader::prepare`]) → for each relation of each dialect's endpoint: read
//! it ([`snapshot`]), let the first dialect that claims it make a [`Plan`], [`publish`] the plan;
//! then each dialect finishes (prunes, saves its caches) and the status is set from the counts.
//! Non-leader: each dialect that publishes in unit databags withdraws there, then `standby`.
//!
//! Bad remote data never fails the hook: dialects turn it into notes, refusals and counts.

pub mod leaving;
pub mod revisions;

use std::collections::BTreeSet;

use juju_hook::{LogLevel, RelationId, StatusName};

use super::ca::install::{CaChange, IntakeReport};
use super::ca::status::source_line;
use super::ca::{Phase, RotateReason};
use super::config::ConfigErrors;
use super::dialect::snapshot::{self, own_unit_bag};
use super::dialect::{publish, Claim, Counts, Dialect, Plan};
use super::hook::{Hook, Leader, NotReady};
use super::status::plural;
use super::transfer::bundle::Bundle;
use super::{legacy, modern, status, transfer, CharmError};

/// The unit status text of a non-leader.
pub const STANDBY_MESSAGE: &str = "standby: the leader issues certificates";

/// What one reconcile may be asked to do beyond the hook's own reasons.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReconcileOptions {
    /// Start a CA rotation (`rotate-private-key`).
    pub force_rotate: bool,
    /// With `force_rotate`: switch at once, without the overlap.
    pub immediate: bool,
    /// Fill [`Summary::trust_bundle`] (`get-trust-bundle`).
    pub want_bundle: bool,
}

/// The result of one reconcile.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub leader: bool,
    pub config_errors: Option<ConfigErrors>,
    /// Set when a new CA started signing.
    pub ca_rotated: Option<RotateReason>,
    /// Set when a CA rotation was announced.
    pub ca_announced: Option<RotateReason>,
    /// The CA certificate in force after this reconcile (as held in memory).
    pub ca_pem: Option<String>,
    /// The announced next CA, during a rotation's overlap.
    pub ca_next_pem: Option<String>,
    /// Where a CA rotation stands.
    pub ca_phase: Option<Phase>,
    /// Relations whose databags were written.
    pub writes: usize,
    /// Every dialect's counts added up.
    pub totals: Counts,
    /// Each dialect's counts, in [`dialects`] order.
    pub by_dialect: Vec<Counts>,
    pub status: Option<(StatusName, String)>,
    /// Lines about rejected input (logged when they change).
    pub notes: Vec<String>,
    /// The CA certificates that published certificates chain to (every plan's anchors).
    pub anchors: BTreeSet<String>,
    /// The trust bundle, when [`ReconcileOptions::want_bundle`] asked for it.
    pub trust_bundle: Option<Bundle>,
    /// Where the request for an intermediate on `upstream-ca` stands.
    pub intake: Option<IntakeReport>,
    /// The CSR of a request for a new intermediate that is out for signing.
    pub ca_pending_csr: Option<String>,
}

/// The dialects, in the order their parts of the status are shown.
pub fn dialects<'a>(leader: Option<&Leader<'a>>) -> Vec<Box<dyn Dialect + 'a>> {
    dialects_with(leader, legacy::LegacyDialect::new())
}

/// [`dialects`] with a legacy dialect that already holds state (an action's changed key store).
pub fn dialects_with<'a>(
    leader: Option<&Leader<'a>>,
    legacy: legacy::LegacyDialect,
) -> Vec<Box<dyn Dialect + 'a>> {
    vec![
        Box::new(modern::ModernDialect::new(leader)),
        Box::new(legacy),
        // Last: it publishes the CAs that the certificates published above chain to.
        Box::new(transfer::TransferDialect::new()),
    ]
}

/// What builds the dialects of one reconcile (see [`reconcile_with`]).
pub type MakeDialects<'m> = dyn for<'a> FnOnce(&Leader<'a>) -> Vec<Box<dyn Dialect + 'a>> + 'm;

/// Brings the world to the desired state. Returns Err only for our own bugs or Juju being
/// unreachable; bad remote data is handled inside and never fails the hook.
pub fn reconcile(hook: &Hook<'_>, opts: ReconcileOptions) -> Result<Summary, CharmError> {
    reconcile_with(hook, opts, Box::new(|leader| dialects(Some(leader))))
}

/// [`reconcile`] with the leader's dialects built by `make` (an action that changed a dialect's
/// state in memory hands it over this way).
pub fn reconcile_with(
    hook: &Hook<'_>,
    opts: ReconcileOptions,
    make: Box<MakeDialects<'_>>,
) -> Result<Summary, CharmError> {
    let force = opts.force_rotate.then_some(if opts.immediate {
        RotateReason::RequestedNow
    } else {
        RotateReason::Requested
    });
    reconcile_full(hook, opts, force.map(CaChange::Rotate), make)
}

/// [`reconcile`] that applies an action's `change` to the CA first (in the same secret write).
pub fn reconcile_changing_ca(
    hook: &Hook<'_>,
    opts: ReconcileOptions,
    change: CaChange,
) -> Result<Summary, CharmError> {
    reconcile_full(
        hook,
        opts,
        Some(change),
        Box::new(|leader| dialects(Some(leader))),
    )
}

fn reconcile_full(
    hook: &Hook<'_>,
    opts: ReconcileOptions,
    change: Option<CaChange>,
    make: Box<MakeDialects<'_>>,
) -> Result<Summary, CharmError> {
    let mut summary = Summary::default();
    if !hook.tools.is_leader()? {
        standby(hook)?;
        set_status(hook, &mut summary, StatusName::Active, STANDBY_MESSAGE)?;
        return Ok(summary);
    }
    summary.leader = true;
    revisions::remove_unused_revision(hook)?;
    let leader = match Leader::prepare(*hook, change)? {
        Ok(l) => l,
        Err(not_ready) => return blocked(hook, summary, not_ready),
    };
    summary.ca_rotated = leader.ca_rotated.clone();
    summary.ca_announced = leader.ca_announced.clone();
    summary.ca_pem = leader.ca.as_ref().map(|c| c.ca_pem.clone());
    summary.ca_next_pem = leader
        .ca
        .as_ref()
        .and_then(|c| c.next.as_ref().map(|n| n.pem.clone()));
    summary.ca_phase = leader.signer().map(|c| Phase::of(c, &leader.config));
    summary.intake = leader.intake.clone();
    summary.ca_pending_csr = leader
        .ca
        .as_ref()
        .and_then(|c| c.pending.as_ref().map(|p| p.csr_pem.clone()));
    let mut dialects = make(&leader);
    summary.by_dialect = vec![Counts::default(); dialects.len()];
    let left = leaving::relations_left(hook);
    for (endpoint, live) in live_relations(hook, &dialects)? {
        for d in dialects.iter_mut().filter(|d| d.endpoint() == endpoint) {
            left.iter().for_each(|&id| d.leave_alone(id));
        }
        for &id in live.iter().filter(|id| !left.contains(id)) {
            serve(&leader, &mut dialects, endpoint, id, &mut summary)?;
        }
        for i in 0..dialects.len() {
            if dialects[i].endpoint() == endpoint {
                for plan in dialects[i].finish(&leader, &live)? {
                    record(&leader, &mut dialects, &mut summary, i, &plan)?;
                }
            }
        }
    }
    log_signed(hook, &summary);
    if opts.want_bundle {
        summary.trust_bundle = Some(transfer::bundle::compute(&leader, &summary.anchors));
    }
    let (st, msg) = status_text(&leader, &dialects, &summary);
    let notes = summary.notes.clone();
    status::set(hook, st, &msg, &notes)?;
    summary.status = Some((st, msg));
    Ok(summary)
}

/// Each endpoint the dialects serve, in the order of the dialect list, with its live relation ids
/// (the one being broken in this hook left out).
fn live_relations(
    hook: &Hook<'_>,
    dialects: &[Box<dyn Dialect + '_>],
) -> Result<Vec<(&'static str, Vec<RelationId>)>, CharmError> {
    let mut endpoints: Vec<&'static str> = Vec::new();
    for d in dialects {
        if !endpoints.contains(&d.endpoint()) {
            endpoints.push(d.endpoint());
        }
    }
    let mut out = Vec::new();
    for endpoint in endpoints {
        out.push((endpoint, snapshot::relation_ids(hook, endpoint)?));
    }
    Ok(out)
}

/// Reads relation `id`, lets the first dialect that claims it plan it, and publishes the plan.
fn serve(
    leader: &Leader<'_>,
    dialects: &mut [Box<dyn Dialect + '_>],
    endpoint: &str,
    id: RelationId,
    summary: &mut Summary,
) -> Result<(), CharmError> {
    let hook = &leader.hook;
    let Some(reader) = dialects.iter_mut().find(|d| d.endpoint() == endpoint) else {
        return Ok(());
    };
    let Some(mut snap) = reader.read(hook, id)? else {
        return Ok(());
    };
    let claims = dialects
        .iter()
        .enumerate()
        .filter(|(_, d)| d.endpoint() == endpoint);
    let Some((i, claim)) = claims
        .map(|(i, d)| (i, d.claims(&snap)))
        .max_by_key(|&(i, c)| (c, std::cmp::Reverse(i)))
    else {
        return Ok(());
    };
    if claim == Claim::No {
        return Ok(());
    }
    if dialects[i].reads_own_unit_bag() {
        match own_unit_bag(hook, id)? {
            Some(bag) => snap.own_unit_bag = Some(bag),
            None => return Ok(()),
        }
    }
    let plan = dialects[i].plan(leader, &snap)?;
    record(leader, dialects, summary, i, &plan)
}

fn record(
    leader: &Leader<'_>,
    dialects: &mut [Box<dyn Dialect + '_>],
    summary: &mut Summary,
    dialect: usize,
    plan: &Plan,
) -> Result<(), CharmError> {
    if publish(leader.hook.tools, plan)? {
        summary.writes += 1;
    }
    for d in dialects.iter_mut() {
        d.observe(plan);
    }
    summary.anchors.extend(plan.anchors.iter().cloned());
    summary.by_dialect[dialect].add(&plan.counts);
    summary.totals.add(&plan.counts);
    summary.notes.extend(plan.notes.iter().cloned());
    Ok(())
}

/// A non-leader publishes nothing: each dialect that answers in unit databags withdraws what this
/// unit published while it was leader. When to withdraw is each dialect's rule (legacy: once the new leader has published).
fn standby(hook: &Hook<'_>) -> Result<(), CharmError> {
    let mut dialects = dialects(None);
    let endpoints: BTreeSet<&'static str> = dialects
        .iter()
        .filter(|d| d.publishes_in_unit_bag())
        .map(|d| d.endpoint())
        .collect();
    for endpoint in endpoints {
        for id in hook.tools.relation_ids(endpoint)? {
            let Some(own) = own_unit_bag(hook, id)? else {
                continue;
            };
            for d in dialects.iter_mut().filter(|d| d.endpoint() == endpoint) {
                if let Some(plan) = d.standby(hook, id, &own)? {
                    publish(hook.tools, &plan)?;
                }
            }
        }
    }
    Ok(())
}

fn blocked(
    hook: &Hook<'_>,
    mut summary: Summary,
    not_ready: NotReady,
) -> Result<Summary, CharmError> {
    let msg = not_ready.to_string();
    match not_ready {
        NotReady::Config(errors) => summary.config_errors = Some(errors),
        NotReady::CaFailed(_) => hook.log(LogLevel::Error, &msg),
    }
    set_status(hook, &mut summary, StatusName::Blocked, &msg)?;
    Ok(summary)
}

fn set_status(
    hook: &Hook<'_>,
    summary: &mut Summary,
    st: StatusName,
    msg: &str,
) -> Result<(), CharmError> {
    status::set(hook, st, msg, &[])?;
    summary.status = Some((st, msg.to_string()));
    Ok(())
}

fn log_signed(hook: &Hook<'_>, summary: &Summary) {
    let t = &summary.totals;
    if t.signed > 0 {
        hook.log(
            LogLevel::Info,
            &format!(
                "issued {} certificate(s) ({} replacing older ones) across {}",
                t.signed,
                t.replaced,
                plural(t.relations, "relation")
            ),
        );
    }
}

/// The leader's status: each dialect's part, joined with `; `.
fn status_text(
    leader: &Leader<'_>,
    dialects: &[Box<dyn Dialect + '_>],
    summary: &Summary,
) -> (StatusName, String) {
    let source = leader.signer().and_then(|stored| {
        source_line(
            stored,
            leader.intake.as_ref(),
            &leader.config,
            leader.hook.now,
        )
    });
    let mut parts: Vec<String> = source.iter().map(|s| s.text.clone()).collect();
    parts.extend(
        dialects
            .iter()
            .zip(&summary.by_dialect)
            .filter_map(|(d, c)| d.status(leader, c, summary.totals.relations)),
    );
    parts.extend(summary.ca_phase.as_ref().and_then(Phase::describe));
    let st = match source {
        Some(s) if s.blocked => StatusName::Blocked,
        _ => StatusName::Active,
    };
    (st, parts.join("; "))
}
