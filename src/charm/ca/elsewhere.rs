//! A CA signed elsewhere (an `upstream-ca` provider, an offline ceremony, an import): when it
//! is renewed, the request for its replacement, and installing an answer. The rotation state
//! machine ([`super::rotation`]) calls these; the no-outage rule is [`super::install`]'s.

use std::time::{Duration, SystemTime};

use super::install::{install, Answer, Candidate, Installed, Intake, IntakeState};
use super::source::{requested_for, PendingFor};
use super::{PendingCa, RotateReason, StoredCa};
use crate::charm::config::Config;
use crate::charm::CharmError;
use crate::pki::Ca;

/// For a CA signed elsewhere: its renewal time, and once that has passed (waiting for the
/// upstream or the operator) the time leaves start being cut short, then its end; never a
/// time already past, so the secret's `expire` keeps meaning "wake me".
pub(super) fn next_deadline(ca: &Ca, config: &Config, now: SystemTime) -> SystemTime {
    let short = ca
        .not_after()
        .checked_sub(Duration::from_secs(config.certificate_validity))
        .unwrap_or(ca.not_before());
    [renew_at(ca, config), short]
        .into_iter()
        .find(|t| *t > now)
        .unwrap_or(ca.not_after())
}

/// Margin between asking for a new intermediate and the latest useful moment to get it.
const RENEW_MARGIN_SECS: u64 = 86_400;

/// When a CA signed elsewhere is renewed: when it has `certificate-validity` + overlap + a day
/// left, but not before half of its usable life (notAfter − notBefore − validity) is gone, so
/// a short-lived intermediate is not renewed on every hook.
pub fn renew_at(ca: &Ca, config: &Config) -> SystemTime {
    let lead = Duration::from_secs(
        config.certificate_validity + config.ca_rotation_overlap + RENEW_MARGIN_SECS,
    );
    let (nb, na) = (ca.not_before(), ca.not_after());
    let usable = na
        .duration_since(nb)
        .unwrap_or_default()
        .saturating_sub(Duration::from_secs(config.certificate_validity));
    let early = na.checked_sub(lead).unwrap_or(nb);
    early.max(nb + usable / 2)
}

/// What moved in one [`super::rotation::ensure`].
#[derive(Default)]
pub(super) struct Moves {
    pub(super) rotated: Option<RotateReason>,
    pub(super) announced: Option<RotateReason>,
    pub(super) state: Option<IntakeState>,
}

/// An action's checked CA, installed; the request it answers (if any) is done.
pub(super) fn install_change(
    stored: &mut StoredCa,
    cand: Candidate,
    why: String,
    config: &Config,
    now: SystemTime,
) -> Moves {
    if stored.pending.as_ref().map(|p| p.csr_pem.as_str()) == cand.csr.as_deref() {
        stored.pending = None;
    }
    let mut moves = Moves::default();
    match install(stored, cand, config, now, why) {
        Installed::Active(r) => moves.rotated = Some(r),
        Installed::Announced(r) => moves.announced = Some(r),
    }
    moves
}

/// Installs the intake's answer to our pending request when it passes every check.
pub(super) fn take_answer(
    stored: &mut StoredCa,
    intake: &dyn Intake,
    config: &Config,
    now: SystemTime,
) -> Moves {
    let mut moves = Moves::default();
    let Some(pending) = stored
        .pending
        .as_ref()
        .filter(|p| p.asked == PendingFor::Upstream)
    else {
        return moves;
    };
    if pending.requested_for != requested_for(config) {
        // Asked with config that has changed since: `start` replaces the request.
        return moves;
    }
    let min_life = Duration::from_secs(config.certificate_validity);
    match intake.answer(pending, now, min_life) {
        Answer::Waiting => {}
        Answer::Refused(why) => moves.state = Some(IntakeState::Refused(why)),
        Answer::Rejected(why) => moves.state = Some(IntakeState::Rejected(why)),
        Answer::Accepted(cand) => {
            let why = format!(
                "intermediate CA from {} ({})",
                intake.label(),
                pending.reason
            );
            stored.pending = None;
            match install(stored, *cand, config, now, why) {
                Installed::Active(r) => moves.rotated = Some(r),
                Installed::Announced(r) => moves.announced = Some(r),
            }
            moves.state = Some(IntakeState::Accepted);
        }
    }
    moves
}

/// With an intake (`upstream-ca`), why a new intermediate is needed at `due`: the active CA
/// does not come from it, was asked with other config, was marked revoked, or is due.
pub(super) fn reason(
    stored: &StoredCa,
    config: &Config,
    due: SystemTime,
    intake: &dyn Intake,
) -> Option<RotateReason> {
    if stored.source != intake.source() {
        return Some(RotateReason::UpstreamRelated(intake.label()));
    }
    if stored.csr.as_deref().is_some_and(|c| intake.revoked(c)) {
        return Some(RotateReason::UpstreamRevoked);
    }
    if stored.requested_for.as_deref() != Some(requested_for(config).as_str()) {
        return Some(RotateReason::RequestChanged);
    }
    (due >= renew_at(&stored.ca, config)).then_some(RotateReason::NearExpiry)
}

/// Sends a request for a new intermediate for `reason`, unless one for the same config is
/// already out. Only the operator (`rotate-private-key`) replaces a request that is out: a
/// reason that holds on every hook (a revoked intermediate still listed) must not make a new
/// key each time.
pub(super) fn ask(
    stored: &mut StoredCa,
    config: &Config,
    now: SystemTime,
    reason: &RotateReason,
) -> Result<(), CharmError> {
    let forced = matches!(reason, RotateReason::Requested | RotateReason::RequestedNow);
    let want = requested_for(config);
    let current = stored
        .pending
        .as_ref()
        .is_some_and(|p| p.asked == PendingFor::Upstream && p.requested_for == want);
    if !current || (forced && !pending_is_fresh(stored, now)) {
        stored.pending = Some(new_request(config, now, PendingFor::Upstream, reason)?);
    }
    Ok(())
}

/// A request made in this same hook is not replaced again (a forced rotation in a hook that
/// already made one).
fn pending_is_fresh(stored: &StoredCa, now: SystemTime) -> bool {
    stored.pending.as_ref().is_some_and(|p| p.since == now)
}

/// A new key and CSR for an intermediate CA, with the CA subject and key algorithm of `config`.
pub fn new_request(
    config: &Config,
    now: SystemTime,
    asked: PendingFor,
    reason: &RotateReason,
) -> Result<PendingCa, CharmError> {
    let key = config.ca_key_algorithm.generate()?;
    let csr = crate::pki::intermediate::ca_request(&config.ca_subject, &key)?;
    let csr_pem = String::from_utf8_lossy(&csr.to_pem().map_err(crate::pki::PkiError::from)?)
        .trim_end()
        .to_string();
    Ok(PendingCa {
        key,
        csr_pem,
        asked,
        since: now,
        reason: reason.to_string(),
        requested_for: requested_for(config),
    })
}
