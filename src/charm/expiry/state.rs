//! When each serial at risk was last logged: `<charm dir>/.tls-provider-expiry` (JSON, local
//! to the leader, like the scope cache), written only when it changes and removed when nothing
//! is at risk. A serial no longer at risk (renewed, gone) drops out. Losing the file, or a new
//! leader, costs at most one early repeat of each line.

use std::collections::BTreeMap;
use std::path::PathBuf;

use juju_hook::{HookContext, LogLevel};
use serde::{Deserialize, Serialize};

use super::{log, unix, Watched, DAY};
use crate::charm::hook::Hook;

pub const STATE_FILE: &str = ".tls-provider-expiry";

/// Changes whenever the format does; another version reads as empty.
const VERSION: u32 = 1;

#[derive(Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct File {
    version: u32,
    /// Serial → when its line was last logged (unix seconds).
    logged: BTreeMap<String, u64>,
}

/// What one hook logs, and what it leaves.
#[derive(Debug, PartialEq, Eq)]
pub struct Round<'w> {
    /// The items to log now.
    pub log: Vec<&'w Watched>,
    /// Serial → last logged, after this hook.
    pub logged: BTreeMap<String, u64>,
    /// When the next line is due (unix seconds).
    pub next: Option<u64>,
}

/// Which of `at_risk` to log at `now` (unix seconds), given when each was last `logged`.
pub fn round<'w>(
    logged: &BTreeMap<String, u64>,
    at_risk: &'w BTreeMap<String, Watched>,
    now: u64,
) -> Round<'w> {
    let mut r = Round {
        log: Vec::new(),
        logged: BTreeMap::new(),
        next: None,
    };
    for (serial, w) in at_risk {
        let last = logged.get(serial).copied();
        let at = if log::due(last, now) {
            r.log.push(w);
            now
        } else {
            last.unwrap_or(now)
        };
        r.logged.insert(serial.clone(), at);
        let next = at.saturating_add(DAY);
        r.next = Some(r.next.map_or(next, |n: u64| n.min(next)));
    }
    r
}

fn path(ctx: &HookContext) -> PathBuf {
    ctx.charm_dir.join(STATE_FILE)
}

fn load(ctx: &HookContext) -> BTreeMap<String, u64> {
    std::fs::read_to_string(path(ctx))
        .ok()
        .and_then(|t| serde_json::from_str::<File>(&t).ok())
        .filter(|f| f.version == VERSION)
        .map(|f| f.logged)
        .unwrap_or_default()
}

fn save(ctx: &HookContext, logged: BTreeMap<String, u64>) {
    if logged.is_empty() {
        let _ = std::fs::remove_file(path(ctx));
        return;
    }
    let file = File {
        version: VERSION,
        logged,
    };
    if let Ok(text) = serde_json::to_string(&file) {
        let _ = std::fs::write(path(ctx), text);
    }
}

/// Logs a WARNING line for each item of `at_risk` not logged in the last day; returns when the
/// next one is due (unix seconds).
pub fn warn(hook: &Hook<'_>, at_risk: &BTreeMap<String, Watched>) -> Option<u64> {
    let before = load(hook.ctx);
    if before.is_empty() && at_risk.is_empty() {
        return None;
    }
    let r = round(&before, at_risk, unix(hook.now));
    for w in &r.log {
        hook.log(LogLevel::Warning, &log::line(w, hook.now));
    }
    if r.logged != before {
        save(hook.ctx, r.logged);
    }
    r.next
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charm::expiry::Kind;

    fn item(serial: &str) -> (String, Watched) {
        let w = Watched {
            kind: Kind::Certificate,
            application: "web".into(),
            unit: None,
            common_name: "web".into(),
            serial: serial.into(),
            not_before: 0,
            not_after: 100 * DAY,
        };
        (serial.into(), w)
    }

    #[test]
    fn each_serial_once_a_day_and_gone_when_no_longer_at_risk() {
        let risk: BTreeMap<_, _> = [item("A")].into();
        let r = round(&BTreeMap::new(), &risk, 1_000);
        assert_eq!((r.log.len(), r.next), (1, Some(1_000 + DAY)));
        let r2 = round(&r.logged, &risk, 1_000 + DAY - 1);
        assert_eq!((r2.log.len(), r2.next), (0, Some(1_000 + DAY)));
        let both: BTreeMap<_, _> = [item("A"), item("B")].into();
        let r3 = round(&r2.logged, &both, 1_000 + DAY);
        assert_eq!(r3.log.len(), 2);
        let renewed: BTreeMap<_, _> = [item("B")].into();
        let r4 = round(&r3.logged, &renewed, 1_000 + DAY + 5);
        assert_eq!(r4.log.len(), 0);
        assert_eq!(r4.logged.keys().collect::<Vec<_>>(), ["B"]);
        let empty = BTreeMap::new();
        let none = round(&r4.logged, &empty, 2_000 + DAY);
        assert_eq!((none.logged.len(), none.next), (0, None));
    }
}
