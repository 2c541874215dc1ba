//! CA rotation that no client notices.
//!
//! A client that only trusts what `send-ca-cert` gave it must trust every certificate a server
//! presents, at every moment. So a rotation has three phases:
//!
//! 1. **Announced.** The new CA is made and put in the trust bundle next to the active one, but
//!    does not sign yet. This lasts `ca-rotation-overlap` (default 24h): time for every client to
//!    receive and install the new bundle.
//! 2. **Switched.** At the end of the overlap the new CA becomes the active one and every
//!    certificate is reissued under it. Clients already trust it.
//! 3. **Retiring.** The old CA stays in the bundle as the previous CA until every certificate it
//!    issued has expired: `previous-trusted-until` = min(old CA notAfter, switch time +
//!    `certificate-validity`), since every certificate it issued was issued before the switch
//!    with at most `certificate-validity`. A server still presenting an old certificate (it has
//!    not reloaded yet) is therefore still trusted. Then the old CA leaves the bundle.
//!
//! A rotation starts the same way whatever asks for it: `rotate-private-key`, a change of the CA
//! subject, key algorithm or root validity, or the CA nearing its end (less life left than
//! `certificate-validity` + the overlap, so it switches when `certificate-validity` is left).
//! The CA secret's `expire` is always the next deadline (announce, switch or retire), so Juju's
//! `secret-expired` wakes the leader exactly when something is due: in that hook, for the
//! secret's current revision, the deadline counts as passed on Juju's clock ([`due_at`]). Any
//! other hook that finds a deadline passed on the unit's clock does the same work.
//!
//! No overlap: `ca-rotation-overlap=0`, `rotate-private-key immediate=true` (a compromised key),
//! and a CA that is missing or unreadable (nothing to overlap with) switch at once.
//! Only one previous CA is kept: a second switch within `certificate-validity` of the first drops
//! the oldest CA, whose certificates were all reissued at the first switch.

use std::time::{Duration, SystemTime};

use openssl::x509::X509;

use super::elsewhere;
pub use super::elsewhere::{new_request, renew_at};
use super::install::{CaChange, Intake, IntakeReport, IntakeState};
use super::source::{requested_for, PendingFor};
use super::{
    load_with_content, save, CaSource, Loaded, NextCa, RotateReason, StoredCa, KEY_CA_CERTIFICATE,
};
use crate::charm::clock;
use crate::charm::config::Config;
use crate::charm::CharmError;
use crate::pki::Ca;

/// Differences in root validity below this are ignored (the CA is back-dated a little).
const VALIDITY_TOLERANCE_SECS: u64 = 300;

/// In a `secret-expired` hook for the CA secret, deadlines this close count as due: Juju fires
/// the hook on the controller's clock, which may run a little ahead of the unit's.
pub const SECRET_EXPIRED_SLACK: Duration = Duration::from_secs(300);

/// The time up to which deadlines count as passed. In the CA secret's `secret-expired` hook
/// (`expired` = the revision whose expiry fired), Juju's clock says the deadline that revision's
/// expiry was set to has come: when it is the current revision, that deadline is due whatever
/// the unit's clock says (one `secret-info-get`, in that hook only). A stale revision's event
/// changes nothing.
fn due_at(
    tools: &dyn juju_hook::HookTools,
    stored: &StoredCa,
    now: SystemTime,
    expired: Option<u64>,
) -> Result<SystemTime, CharmError> {
    let Some(rev) = expired else {
        return Ok(now);
    };
    let due = now + SECRET_EXPIRED_SLACK;
    let info = tools.secret_info_get(&juju_hook::SecretRef::Label(
        super::CA_SECRET_LABEL.to_string(),
    ))?;
    let set_for = stored.rotate_at.as_deref().and_then(clock::parse_rfc3339);
    Ok(match set_for {
        Some(t) if info.revision == rev => due.max(t),
        _ => due,
    })
}

/// The CA after [`ensure`], and what happened to it in this call.
pub struct CaOutcome {
    pub stored: StoredCa,
    /// Set when a new CA started signing in this call (certificates are reissued).
    pub rotated: Option<RotateReason>,
    /// Set when a rotation was announced in this call (a next CA entered the trust bundle).
    pub announced: Option<RotateReason>,
    /// Where the upstream request stands, when an intake was given.
    pub intake: Option<IntakeReport>,
}

/// Where a rotation stands, for status and `get-trust-bundle`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Phase {
    /// A next CA is announced and takes over at this time (why the rotation started).
    pub announced: Option<(SystemTime, String)>,
    /// The previous CA is trusted until this time.
    pub retiring: Option<SystemTime>,
}

impl Phase {
    pub fn of(stored: &StoredCa, config: &Config) -> Phase {
        Phase {
            announced: stored
                .next
                .as_ref()
                .map(|n| (switch_at(n, &stored.ca, config), n.reason.clone())),
            retiring: stored.previous.as_ref().and(stored.previous_until),
        }
    }

    /// `None` when no rotation is under way; otherwise a line for status.
    pub fn describe(&self) -> Option<String> {
        let mut parts = Vec::new();
        if let Some((at, _)) = &self.announced {
            parts.push(format!(
                "CA rotation announced: new CA signs from {}",
                clock::rfc3339(*at)
            ));
        }
        if let Some(until) = self.retiring {
            parts.push(format!(
                "previous CA trusted until {}",
                clock::rfc3339(until)
            ));
        }
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

/// Why `ca` does not fit the config (subject, key algorithm, root validity), if it does not.
fn misfit(ca: &Ca, config: &Config) -> Option<RotateReason> {
    if !ca.subject_matches(&config.ca_subject) {
        return Some(RotateReason::SubjectChanged);
    }
    if ca.key_algorithm() != Some(config.ca_key_algorithm) {
        return Some(RotateReason::KeyAlgorithmChanged);
    }
    if ca
        .requested_validity_secs()
        .abs_diff(config.root_ca_validity)
        > VALIDITY_TOLERANCE_SECS
    {
        return Some(RotateReason::RootValidityChanged);
    }
    None
}

/// Whether the active CA must be replaced at `now`: it no longer fits the config, or it has
/// less life left than `certificate-validity` + `ca-rotation-overlap`.
pub fn rotation_reason(
    stored: &StoredCa,
    config: &Config,
    now: SystemTime,
) -> Option<RotateReason> {
    misfit(&stored.ca, config)
        .or_else(|| (now >= announce_at(&stored.ca, config)).then_some(RotateReason::NearExpiry))
}

/// When a rotation of `ca` is announced: notAfter − certificate-validity − overlap (not before
/// the CA's own start).
pub(crate) fn announce_at(ca: &Ca, config: &Config) -> SystemTime {
    let lead = Duration::from_secs(config.certificate_validity + config.ca_rotation_overlap);
    ca.not_after()
        .checked_sub(lead)
        .unwrap_or(ca.not_before())
        .max(ca.not_before())
}

/// When the announced `next` CA takes over from `active`: the end of the overlap, or the active
/// CA's end if that comes first.
pub fn switch_at(next: &NextCa, active: &Ca, config: &Config) -> SystemTime {
    (next.announced_at + Duration::from_secs(config.ca_rotation_overlap)).min(active.not_after())
}

/// The next time the CA state must change: the secret's `expire`.
fn deadline(stored: &StoredCa, config: &Config, now: SystemTime) -> SystemTime {
    let step = match &stored.next {
        Some(next) => switch_at(next, &stored.ca, config),
        None if stored.source == CaSource::SelfSigned => announce_at(&stored.ca, config),
        None => elsewhere::next_deadline(&stored.ca, config, now),
    };
    match stored.previous_until.filter(|_| stored.previous.is_some()) {
        Some(until) => step.min(until),
        None => step,
    }
}

fn new_ca(config: &Config, now: SystemTime) -> Result<Ca, CharmError> {
    Ok(Ca::generate_at(
        &config.ca_subject,
        config.ca_key_algorithm,
        config.root_ca_validity,
        now,
    )?)
}

/// Makes `next` the active CA; the active one becomes the previous CA, trusted until its
/// certificates have expired.
pub(super) fn switch_to(stored: &mut StoredCa, next: NextCa, config: &Config, now: SystemTime) {
    let old = std::mem::replace(&mut stored.ca, next.ca);
    let old_pem = std::mem::replace(&mut stored.ca_pem, next.pem);
    let old_chain = std::mem::replace(&mut stored.chain, next.chain);
    stored.previous_root = old_chain.last().cloned();
    stored.source = next.source;
    stored.csr = next.csr;
    stored.requested_for = next.requested_for;
    let until = (now + Duration::from_secs(config.certificate_validity)).min(old.not_after());
    stored.previous = X509::from_pem(old_pem.as_bytes()).ok();
    stored.previous_key = Some(old.key);
    stored.previous_pem = Some(old_pem);
    stored.previous_until = Some(until);
    stored.next = None;
}

/// Loads the CA and moves its rotation on (leader only; self-signed mode, or the
/// `rotate-private-key` action). `force` asks for a rotation regardless of config; `expired` is
/// the revision in the CA secret's `secret-expired` hook (see [`due_at`]); `intake` is where
/// intermediates come from in this hook (the `upstream-ca` relation). At most one secret write.
pub fn ensure(
    tools: &dyn juju_hook::HookTools,
    config: &Config,
    now: SystemTime,
    change: Option<CaChange>,
    expired: Option<u64>,
    intake: Option<&dyn Intake>,
) -> Result<CaOutcome, CharmError> {
    let (loaded, content) = load_with_content(tools)?;
    let (mut stored, exists, before) = match loaded {
        Loaded::Ok(s) => {
            let before = super::content_of(&s);
            (s, true, Some(before))
        }
        Loaded::Missing => return fresh(tools, config, now, None, RotateReason::Missing, false),
        Loaded::Unreadable(why) => {
            // Its CA certificate, when it still parses, becomes the previous CA, so the
            // certificates it issued are reissued rather than mistaken for an outside CA's.
            let salvaged = content
                .get(KEY_CA_CERTIFICATE)
                .and_then(|p| X509::from_pem(p.as_bytes()).ok());
            return fresh(
                tools,
                config,
                now,
                salvaged,
                RotateReason::Unreadable(why),
                true,
            );
        }
    };
    let due = due_at(tools, &stored, now, expired)?;
    let mut moves = elsewhere::Moves::default();
    retire_previous(&mut stored, config, now, due);
    let mut force = None;
    match change {
        Some(CaChange::Rotate(r)) => force = Some(r),
        Some(CaChange::Install(cand, why)) => {
            moves = elsewhere::install_change(&mut stored, *cand, why, config, now)
        }
        Some(CaChange::Request) => {
            let why = RotateReason::Installed("get-ca-signing-request was run".into());
            stored.pending = Some(new_request(config, now, PendingFor::Ceremony, &why)?);
        }
        None => {}
    }
    if let (Some(intake), true) = (intake, moves.rotated.is_none() && moves.announced.is_none()) {
        moves = elsewhere::take_answer(&mut stored, intake, config, now);
    }
    if moves.rotated.is_none() && moves.announced.is_none() {
        let (rotated, announced) = step(&mut stored, config, now, due, force, intake)?;
        moves.rotated = rotated;
        moves.announced = announced;
    }
    let intake_report = intake.map(|i| IntakeReport {
        label: i.label(),
        state: moves
            .state
            .clone()
            .unwrap_or_else(|| match &stored.pending {
                Some(p) if p.asked == PendingFor::Upstream => IntakeState::Waiting(p.since),
                _ => IntakeState::Idle,
            }),
    });
    stored.rotate_at = Some(clock::rfc3339(deadline(&stored, config, now)));
    if before.as_ref() != Some(&super::content_of(&stored)) {
        save(tools, &stored, exists)?;
    }
    Ok(CaOutcome {
        stored,
        rotated: moves.rotated,
        announced: moves.announced,
        intake: intake_report,
    })
}

/// A first CA, or one replacing an unusable secret: it signs at once.
fn fresh(
    tools: &dyn juju_hook::HookTools,
    config: &Config,
    now: SystemTime,
    previous: Option<X509>,
    reason: RotateReason,
    exists: bool,
) -> Result<CaOutcome, CharmError> {
    let ca = new_ca(config, now)?;
    let previous_until = previous.as_ref().map(|p| {
        let end = crate::pki::verify::asn1_to_system(p.not_after());
        (now + Duration::from_secs(config.certificate_validity)).min(end)
    });
    let mut stored = StoredCa::bare(ca, CaSource::SelfSigned);
    stored.previous_pem = previous.as_ref().map(crate::pki::sign::cert_to_pem);
    stored.previous = previous;
    stored.previous_until = previous_until;
    stored.rotate_at = Some(clock::rfc3339(deadline(&stored, config, now)));
    save(tools, &stored, exists)?;
    Ok(CaOutcome {
        stored,
        rotated: Some(reason),
        announced: None,
        intake: None,
    })
}

/// One move of the rotation state machine at `now` (deadlines up to `due` count as passed).
/// Returns (switched, announced).
fn step(
    stored: &mut StoredCa,
    config: &Config,
    now: SystemTime,
    due: SystemTime,
    force: Option<RotateReason>,
    intake: Option<&dyn Intake>,
) -> Result<(Option<RotateReason>, Option<RotateReason>), CharmError> {
    let immediate = |r: &RotateReason| r.is_immediate() || config.ca_rotation_overlap == 0;
    if let Some(next) = stored.next.take() {
        if let Some(r) = force.clone().filter(|r| r.is_immediate()) {
            switch_to(stored, next, config, now);
            return Ok((Some(r), None));
        }
        // Dropped below when an upstream is related and it does not come from there, or
        // the upstream has since marked it revoked.
        let foreign = intake.is_some_and(|i| {
            next.source != i.source() || next.csr.as_deref().is_some_and(|c| i.revoked(c))
        });
        match next_misfit(&next, config, intake.is_some()) {
            // A self-signed next CA that no longer fits the config: announce one that does.
            // (Never for a CA signed elsewhere: that would be a fallback nobody asked for.)
            Some(r) if next.source == CaSource::SelfSigned && intake.is_none() => {
                return start(stored, config, now, r, None, &immediate)
            }
            // Dropped: what replaces it is decided below.
            Some(_) => {}
            None if foreign => {}
            None if due >= switch_at(&next, &stored.ca, config) => {
                let why = RotateReason::Announced(next.reason.clone());
                switch_to(stored, next, config, now);
                return Ok((Some(why), None));
            }
            None => {
                stored.next = Some(next);
                return Ok((None, None));
            }
        }
    }
    match force.or_else(|| renewal_reason(stored, config, due, intake)) {
        Some(r) => start(stored, config, now, r, intake, &immediate),
        None => Ok((None, None)),
    }
}

/// Why an announced CA no longer fits the config: a self-signed one by its subject, key
/// algorithm and validity; one from the upstream by the config it was asked with (only while
/// the upstream is related, to ask again). An offline or imported CA always fits: the CA
/// options describe only what this charm makes or asks for.
fn next_misfit(next: &NextCa, config: &Config, upstream: bool) -> Option<RotateReason> {
    match &next.source {
        CaSource::SelfSigned => misfit(&next.ca, config),
        CaSource::Upstream { .. } if upstream => (next.requested_for.as_deref()
            != Some(requested_for(config).as_str()))
        .then_some(RotateReason::RequestChanged),
        _ => None,
    }
}

/// Why a new CA is needed at `due`, by where the active CA comes from: with an intake
/// (`upstream-ca`) see [`elsewhere::reason`]; without, a self-signed root rotates by its own
/// rules and a CA signed elsewhere is never replaced on our own (status says when it is due).
fn renewal_reason(
    stored: &StoredCa,
    config: &Config,
    due: SystemTime,
    intake: Option<&dyn Intake>,
) -> Option<RotateReason> {
    match (intake, &stored.source) {
        (Some(intake), _) => elsewhere::reason(stored, config, due, intake),
        (None, CaSource::SelfSigned) => rotation_reason(stored, config, due),
        (None, _) => None,
    }
}

/// Starts replacing the active CA for `reason`: with an intake, a request for a new
/// intermediate (kept when one for the same config is already out, unless forced); without, a
/// new self-signed root, announced or signing at once.
fn start(
    stored: &mut StoredCa,
    config: &Config,
    now: SystemTime,
    reason: RotateReason,
    intake: Option<&dyn Intake>,
    immediate: &dyn Fn(&RotateReason) -> bool,
) -> Result<(Option<RotateReason>, Option<RotateReason>), CharmError> {
    if intake.is_some() {
        elsewhere::ask(stored, config, now, &reason)?;
        return Ok((None, None));
    }
    announce(stored, config, now, reason, immediate)
}

/// Starts a rotation for `reason`: a new self-signed root announced, or signing at once when
/// no overlap applies.
fn announce(
    stored: &mut StoredCa,
    config: &Config,
    now: SystemTime,
    reason: RotateReason,
    immediate: &dyn Fn(&RotateReason) -> bool,
) -> Result<(Option<RotateReason>, Option<RotateReason>), CharmError> {
    let ca = new_ca(config, now)?;
    let next = NextCa::self_signed(ca, now, reason.to_string());
    if immediate(&reason) {
        switch_to(stored, next, config, now);
        return Ok((Some(reason), None));
    }
    stored.next = Some(next);
    Ok((None, Some(reason)))
}

/// Drops the previous CA once its trust period is over; gives a previous CA stored by an older
/// version (no `previous-trusted-until`) the period it would have had from now.
fn retire_previous(stored: &mut StoredCa, config: &Config, now: SystemTime, due: SystemTime) {
    let Some(previous) = &stored.previous else {
        stored.previous_key = None;
        stored.previous_pem = None;
        stored.previous_root = None;
        stored.previous_until = None;
        return;
    };
    match stored.previous_until {
        Some(until) if due >= until => {
            stored.previous = None;
            stored.previous_key = None;
            stored.previous_pem = None;
            stored.previous_root = None;
            stored.previous_until = None;
        }
        Some(_) => {}
        None => {
            let end = crate::pki::verify::asn1_to_system(previous.not_after());
            stored.previous_until =
                Some((now + Duration::from_secs(config.certificate_validity)).min(end));
        }
    }
}
