//! Where the CA comes from, as one part of the leader's status.

use std::time::SystemTime;

use openssl::nid::Nid;
use openssl::x509::X509Ref;

use super::install::{IntakeReport, IntakeState};
use super::rotation::renew_at;
use super::{CaSource, PendingFor, StoredCa};
use crate::charm::clock;
use crate::charm::config::Config;
use crate::pki::verify::subject_string;

/// The status part, and whether it needs the operator (blocked).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceLine {
    pub blocked: bool,
    pub text: String,
}

/// A certificate's common name, or its whole subject when it has none.
pub fn short_name(cert: &X509Ref) -> String {
    cert.subject_name()
        .entries_by_nid(Nid::COMMONNAME)
        .next()
        .and_then(|e| e.data().to_string().ok())
        .unwrap_or_else(|| subject_string(cert))
}

/// `intermediate "X" under "Root"`, or `self-signed root "X"`.
pub fn describe_active(stored: &StoredCa) -> String {
    if stored.is_intermediate() {
        format!(
            "intermediate {:?} under {:?}",
            short_name(&stored.ca.cert),
            short_name(stored.root())
        )
    } else if stored.source == CaSource::SelfSigned {
        format!("self-signed root {:?}", short_name(&stored.ca.cert))
    } else {
        format!("CA {:?}", short_name(&stored.ca.cert))
    }
}

fn min_life(config: &Config) -> std::time::Duration {
    std::time::Duration::from_secs(config.certificate_validity)
}

fn days_until(t: SystemTime, now: SystemTime) -> u64 {
    t.duration_since(now)
        .map(|d| d.as_secs() / 86_400)
        .unwrap_or(0)
}

/// The leader's CA part of the status; `None` for a self-signed root with no upstream (the
/// status says nothing new then).
pub fn source_line(
    stored: &StoredCa,
    intake: Option<&IntakeReport>,
    config: &Config,
    now: SystemTime,
) -> Option<SourceLine> {
    let active = describe_active(stored);
    let line = |blocked, text| Some(SourceLine { blocked, text });
    if let Some(report) = intake {
        let label = &report.label;
        return match &report.state {
            IntakeState::Refused(why) | IntakeState::Rejected(why) => line(
                true,
                format!(
                    "{label} {why}; still signing as {active} (fix the upstream, or run \
                     rotate-private-key to send a new request)"
                ),
            ),
            IntakeState::Idle | IntakeState::Accepted
                if stored
                    .next
                    .as_ref()
                    .is_some_and(|n| n.source.describe() == *label) =>
            {
                line(
                    false,
                    format!(
                        "intermediate CA from {label} accepted and announced; signing as {active} until it takes over"
                    ),
                )
            }
            IntakeState::Waiting(since) if stored.source.describe() != *label => line(
                false,
                format!(
                    "asked {label} for an intermediate CA at {}, waiting; signing as {active} meanwhile",
                    clock::rfc3339(*since)
                ),
            ),
            IntakeState::Waiting(since) => {
                // Blocked once leaves would be cut short by the intermediate's end.
                let short = stored.ca.not_after() <= now + min_life(config);
                let why = stored
                    .pending
                    .as_ref()
                    .map(|p| format!(" ({})", p.reason))
                    .unwrap_or_default();
                line(
                    short,
                    format!(
                        "signing as {active} from {label}; renewal asked at {}{why}, waiting{}",
                        clock::rfc3339(*since),
                        if short {
                            format!(
                                ": it ends {}, in less than certificate-validity; check the upstream",
                                clock::rfc3339(stored.ca.not_after())
                            )
                        } else {
                            String::new()
                        }
                    ),
                )
            }
            IntakeState::Idle | IntakeState::Accepted => line(
                false,
                format!(
                    "signing as {active} from {label}, renews in {} d",
                    days_until(renew_at(&stored.ca, config), now)
                ),
            ),
        };
    }
    let ceremony = stored
        .pending
        .as_ref()
        .filter(|p| p.asked == PendingFor::Ceremony)
        .map(|p| {
            format!(
                "; CA signing request from get-ca-signing-request outstanding since {}",
                clock::rfc3339(p.since)
            )
        })
        .unwrap_or_default();
    let until = clock::rfc3339(stored.ca.not_after());
    match &stored.source {
        CaSource::SelfSigned if ceremony.is_empty() => None,
        CaSource::SelfSigned => line(false, format!("signing as {active}{ceremony}")),
        source => {
            let gone = matches!(source, CaSource::Upstream { .. });
            let from = if gone {
                format!("{} (relation removed: no renewal)", source.describe())
            } else {
                source.describe()
            };
            if now >= renew_at(&stored.ca, config) {
                line(
                    true,
                    format!(
                        "signing as {active} from {from}, valid until {until}, due for renewal: \
                         relate upstream-ca, run get-ca-signing-request then set-ca-certificate, \
                         or import-ca{ceremony}"
                    ),
                )
            } else {
                line(
                    false,
                    format!("signing as {active} from {from}, valid until {until}{ceremony}"),
                )
            }
        }
    }
}
