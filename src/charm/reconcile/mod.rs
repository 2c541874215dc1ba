//! The one reconcile: brings relation data, the CA secret and status to the desired state. Runs
//! on every hook the charm handles.
//!
//! Leader: config → CA ([`Leader::prepare`]) → full pass or only the hook's own relation
//! ([`scope`]) → for each relation of each dialect's endpoint ([`pass`]): read it
//! (`dialect::snapshot`), let the first dialect that claims it make a `Plan`, publish the plan, or
//! (not served in this hook) add up the plan it last had from the local [`cache`]; then each
//! dialect finishes (prunes, saves its caches), the status is set from the counts and the cache
//! saved. An `update-status` with nothing due stops after `is-leader`.
//! Non-leader: each dialect that publishes in unit databags withdraws there, then `standby`.
//!
//! Bad remote data never fails the hook: dialects turn it into notes, refusals and counts.

pub mod cache;
pub mod leaving;
pub mod pass;
pub mod revisions;
pub mod scope;

use std::collections::BTreeSet;

use juju_hook::{LogLevel, StatusName};

use self::cache::Cache;
use self::pass::Run;
use self::scope::Pass;

use super::ca::install::{CaChange, IntakeReport};
use super::ca::status::source_line;
use super::ca::{Phase, RotateReason};
use super::config::{ConfigErrors, ExpiryWarning};
use super::dialect::snapshot::own_unit_bag;
use super::dialect::{publish, Counts, Dialect};
use super::expiry::{self, Outlook};
use super::hook::{Hook, Leader, NotReady};
use super::revocation::crl;
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
    /// What the hook served (`None`: a non-leader's standby pass, or blocked).
    pub pass: Option<Pass>,
    /// The CSR of a request for a new intermediate that is out for signing.
    pub ca_pending_csr: Option<String>,
    /// Expiry watch over every published certificate and the CA (leader, not idle).
    pub expiry: Outlook,
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

/// [`reconcile`] with the legacy dialect holding `store`, a key store an action changed in
/// memory (`provide-certificate`, `revoke-certificate`).
pub fn reconcile_with_legacy_store(
    hook: &Hook<'_>,
    store: legacy::store::Store,
) -> Result<Summary, CharmError> {
    reconcile_with(
        hook,
        ReconcileOptions::default(),
        Box::new(move |leader| {
            dialects_with(Some(leader), legacy::LegacyDialect::with_store(store))
        }),
    )
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
    let requested = opts != ReconcileOptions::default() || change.is_some();
    let last = cache::load(hook.ctx);
    // A hook that fails or is killed leaves no cache, so the next one is full. Only an
    // `update-status` may find nothing to do: it keeps the cache until it knows.
    let may_idle = scope::may_idle(hook, requested);
    if !may_idle {
        cache::forget(hook.ctx);
    }
    if !hook.tools.is_leader()? {
        return standby(hook, last.as_ref(), summary);
    }
    summary.leader = true;
    if may_idle && scope::idle(hook, last.as_ref()) {
        return Ok(idle(hook, last.as_ref(), summary));
    }
    cache::forget(hook.ctx);
    revisions::remove_unused_revision(hook)?;
    let leader = match Leader::prepare(*hook, change)? {
        Ok(l) => l,
        Err(not_ready) => return blocked(hook, summary, not_ready),
    };
    describe_ca(&leader, &mut summary);
    let last = match &last {
        Some(Cache::Leader(c)) => Some(c),
        _ => None,
    };
    let pass = scope::decide(hook, &leader, last, requested);
    summary.pass = Some(pass.clone());
    let mut dialects = make(&leader);
    summary.by_dialect = vec![Counts::default(); dialects.len()];
    let mut run = Run::new(&leader, pass, last);
    pass::serve_endpoints(&leader, &mut dialects, &mut run, &mut summary)?;
    run.next.crl_due = keep_crls(&leader, &run)?;
    log_signed(hook, &summary);
    run.next.expiry_due = watch_expiry(&leader, &mut summary);
    if opts.want_bundle {
        summary.trust_bundle = Some(transfer::bundle::compute(&leader, &summary.anchors));
    }
    let (st, msg) = status_text(&leader, &dialects, &summary);
    status::set_noting(hook, st, &msg, &summary.notes, &run.notes_key())?;
    summary.status = Some((st, msg));
    if hook.scoping {
        cache::save(hook.ctx, Cache::Leader(run.next));
    }
    Ok(summary)
}

/// Keeps the CRLs of our CAs signed ([`crl`]) in a full pass, unless the last cache, made
/// under the same config and CA in this term of leadership, says none is due yet. Returns the
/// next CRL deadline.
fn keep_crls(leader: &Leader<'_>, run: &Run<'_>) -> Result<Option<u64>, CharmError> {
    let Some(stored) = leader.signer() else {
        return Ok(None);
    };
    // A unit elected again may hold the cache of its earlier term, when another leader may
    // have signed: its first hook reads the CRLs.
    let new_term = leader.hook.ctx.name() == "leader-elected";
    let last = run
        .last
        .filter(|l| l.context == run.next.context && !new_term)
        .and_then(|l| l.crl_due);
    let now = cache::unix(leader.hook.now);
    if !run.pass.is_full() || last.is_some_and(|due| now < due) {
        return Ok(last);
    }
    Ok(crl::maintain(&leader.hook, stored, leader.config.crl_validity)?.due)
}

/// Adds the CA to the expiry outlook when it is at risk, logs the WARNING lines due
/// ([`expiry::state::warn`]); returns the expiry watch's next deadline for the cache: the next
/// line, or the CA entering its renewal window.
fn watch_expiry(leader: &Leader<'_>, summary: &mut Summary) -> Option<u64> {
    let now = leader.hook.now;
    let mut ca_window = None;
    if let Some(ca) = leader.signer() {
        if let Some(w) = expiry::ca_at_risk(ca, &leader.config, leader.hook.app(), now) {
            summary.expiry.at_risk.insert(format!("ca:{}", w.serial), w);
        }
        let on = leader.config.expiry_warning != ExpiryWarning::Off && ca.next.is_none();
        ca_window = Some(expiry::ca_window_start(ca, &leader.config))
            .filter(|t| on && *t > expiry::unix(now));
    }
    let next_line = expiry::state::warn(&leader.hook, &summary.expiry.at_risk);
    [next_line, ca_window].into_iter().flatten().min()
}

/// What the reconcile found of the CA.
fn describe_ca(leader: &Leader<'_>, summary: &mut Summary) {
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
}

/// An `update-status` with nothing due: no call beyond `is-leader`, nothing written. The
/// summary holds the cached status and counts.
fn idle(hook: &Hook<'_>, last: Option<&Cache>, mut summary: Summary) -> Summary {
    if let Some(Cache::Leader(c)) = last {
        (summary.by_dialect, summary.totals) = c.sums(dialects(None).len());
    }
    summary.pass = Some(Pass::Idle);
    summary.status = status::cached(hook.ctx);
    summary
}

/// A non-leader: the standby pass, then `standby` status. An `update-status` after a standby
/// pass that completed does nothing (`is-leader` only): everything the pass reacts to (the
/// peer record, a relation) comes with a hook of its own.
fn standby(
    hook: &Hook<'_>,
    last: Option<&Cache>,
    mut summary: Summary,
) -> Result<Summary, CharmError> {
    let done = matches!(last, Some(Cache::Standby));
    if done && scope::may_idle(hook, false) {
        summary.pass = Some(Pass::Idle);
        summary.status = status::cached(hook.ctx);
        return Ok(summary);
    }
    cache::forget(hook.ctx);
    withdraw(hook)?;
    set_status(hook, &mut summary, StatusName::Active, STANDBY_MESSAGE)?;
    if hook.scoping {
        cache::save(hook.ctx, Cache::Standby);
    }
    Ok(summary)
}

/// A non-leader publishes nothing: each dialect that answers in unit databags withdraws what this
/// unit published while it was leader. When to withdraw is each dialect's rule (legacy: once the new leader has published).
fn withdraw(hook: &Hook<'_>) -> Result<(), CharmError> {
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
    parts.extend(summary.expiry.status(leader.hook.now));
    parts.extend(summary.ca_phase.as_ref().and_then(Phase::describe));
    let st = match source {
        Some(s) if s.blocked => StatusName::Blocked,
        _ => StatusName::Active,
    };
    (st, parts.join("; "))
}
