//! Expiry you can see coming: the nearest end of a published certificate, and the certificates
//! (and the CA) at risk of expiring unrenewed.
//!
//! - A published certificate (modern or legacy, not revoked) is **at risk** from the moment it
//!   enters its `expiry-warning` window (default: the last 20 % of its lifetime;
//!   `ExpiryWarning::starts`) while it is still published, which means its requirer has not
//!   renewed: a renewal publishes a new certificate (new serial) in place of the old one. The
//!   shared legacy client certificate is not watched (the charm re-signs it itself).
//! - The active CA (or intermediate) is at risk from its renewal point (self-signed: the
//!   rotation's announce time; signed elsewhere: `ca::elsewhere::renew_at`) while no successor
//!   is announced, unless `expiry-warning=0`.
//!
//! Per relation the reconcile keeps an [`Outlook`] (nearest notAfter, the items at risk, when
//! the next certificate enters its window) in the scope cache, so a hook that serves one
//! relation adds up the same status as a full pass. [`log`] writes the WARNING lines, once a
//! day per serial while at risk; [`state`] remembers when each serial was last logged.
//!
//! Status: `next expiry in N d` (to the nearest day; `N h` under a day) and, when any, `N at
//! risk of expiry`.

pub mod facts;
pub mod log;
pub mod state;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use self::facts::cert_facts;
use super::ca::rotation::{announce_at, renew_at};
use super::ca::{CaSource, StoredCa};
use super::config::{Config, ExpiryWarning};

/// Seconds in a day: the logging period and the unit of `days_left`.
pub const DAY: u64 = 86_400;

/// What a watched certificate is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Certificate,
    Ca,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Certificate => "certificate",
            Kind::Ca => "ca",
        }
    }
}

/// One published certificate (or the CA), as the watch sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watched {
    pub kind: Kind,
    /// The requirer application (for the CA: ours).
    pub application: String,
    /// The requirer unit, when the certificate is a unit's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    pub common_name: String,
    /// Upper-case hex.
    pub serial: String,
    /// Unix seconds.
    pub not_before: u64,
    pub not_after: u64,
}

impl Watched {
    /// The first certificate of `pem`, published to `application` (`unit`); `None` when it
    /// cannot be read.
    pub fn of_pem(pem: &str, application: &str, unit: Option<&str>) -> Option<Watched> {
        let f = cert_facts(pem)?;
        Some(Watched {
            kind: Kind::Certificate,
            application: application.to_string(),
            unit: unit.map(str::to_string),
            common_name: f.common_name,
            serial: f.serial,
            not_before: unix(f.not_before),
            not_after: unix(f.not_after),
        })
    }

    /// When it enters its warning window (unix seconds); `None` with warnings off.
    pub fn window_start(&self, warning: ExpiryWarning) -> Option<u64> {
        warning
            .starts(at(self.not_before), at(self.not_after))
            .map(unix)
    }

    /// Whole days left at `now` (0 once expired).
    pub fn days_left(&self, now: SystemTime) -> u64 {
        self.not_after.saturating_sub(unix(now)) / DAY
    }
}

/// The certificates of a legacy relation's entries (`{unit}` key, certificate PEM). A key
/// made from a Juju unit name (`web_0`) is shown as that name (`web/0`).
pub fn of_legacy<'e>(
    app: &str,
    entries: impl Iterator<Item = (Option<&'e str>, Option<&'e str>)>,
) -> Vec<Watched> {
    let juju_name = |key: &str| match key.rsplit_once('_') {
        Some((a, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
            format!("{a}/{n}")
        }
        _ => key.to_string(),
    };
    entries
        .filter_map(|(unit, cert)| Watched::of_pem(cert?, app, unit.map(juju_name).as_deref()))
        .collect()
}

/// What a set of published certificates says about expiry at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outlook {
    /// The nearest notAfter (unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nearest: Option<u64>,
    /// The certificates in their warning window, by serial.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub at_risk: BTreeMap<String, Watched>,
    /// When the next certificate not yet at risk enters its window (unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_window: Option<u64>,
}

impl Outlook {
    /// The outlook of `certs` at `now` under `warning`.
    pub fn of(certs: &[Watched], warning: ExpiryWarning, now: SystemTime) -> Outlook {
        let now = unix(now);
        let mut o = Outlook::default();
        for c in certs {
            o.nearest = min_some(o.nearest, Some(c.not_after));
            match c.window_start(warning) {
                Some(start) if now >= start => {
                    o.at_risk.insert(c.serial.clone(), c.clone());
                }
                start => o.next_window = min_some(o.next_window, start),
            }
        }
        o
    }

    /// Adds `other` (another relation's outlook) to this one.
    pub fn add(&mut self, other: &Outlook) {
        self.nearest = min_some(self.nearest, other.nearest);
        self.next_window = min_some(self.next_window, other.next_window);
        for (serial, w) in &other.at_risk {
            self.at_risk
                .entry(serial.clone())
                .or_insert_with(|| w.clone());
        }
    }

    /// The status part: `next expiry in N d[, M at risk of expiry]`; `None` when nothing is
    /// published and nothing is at risk.
    pub fn status(&self, now: SystemTime) -> Option<String> {
        let mut parts = Vec::new();
        if let Some(t) = self.nearest {
            parts.push(format!("next expiry in {}", left(t, now)));
        }
        if !self.at_risk.is_empty() {
            parts.push(format!("{} at risk of expiry", self.at_risk.len()));
        }
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

/// `N d` (to the nearest day), or `N h` (floor) under a day. Rounding rather than flooring
/// keeps the text of a certificate issued in this hook (`90 d`) for half a day: with a floor
/// it would read `89 d` one second later, and the next hook would set the status again.
fn left(t: u64, now: SystemTime) -> String {
    let secs = t.saturating_sub(unix(now));
    if secs >= DAY {
        format!("{} d", (secs + DAY / 2) / DAY)
    } else {
        format!("{} h", secs / 3_600)
    }
}

/// When the active CA enters its renewal window (unix seconds): the rotation's announce time
/// for a self-signed root, the renewal time for a CA signed elsewhere.
pub fn ca_window_start(stored: &StoredCa, config: &Config) -> u64 {
    let t = match stored.source {
        CaSource::SelfSigned => announce_at(&stored.ca, config),
        _ => renew_at(&stored.ca, config),
    };
    unix(t)
}

/// The active CA as a watched item when it is at risk at `now`: within its renewal window with
/// no successor announced (and warnings on).
pub fn ca_at_risk(
    stored: &StoredCa,
    config: &Config,
    app: &str,
    now: SystemTime,
) -> Option<Watched> {
    if config.expiry_warning == ExpiryWarning::Off || stored.next.is_some() {
        return None;
    }
    if unix(now) < ca_window_start(stored, config) {
        return None;
    }
    let mut w = Watched::of_pem(&stored.ca_pem, app, None)?;
    w.kind = Kind::Ca;
    Some(w)
}

fn min_some(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

pub fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs()
}

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

#[cfg(test)]
mod tests;
