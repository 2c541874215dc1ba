//! Unit status with a small local cache, so `status-set` (and the log lines describing rejected
//! input) only happen when something changed.
//!
//! The cache is `<charm dir>/.tls-provider-status` (like ops' `.unit-state.db`): the last status
//! we set and a digest of the last notes we logged. Losing it only costs one extra `status-set`.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;

use juju_hook::{HookContext, LogLevel, StatusName, StatusScope};
use serde::{Deserialize, Serialize};

use super::hook::Hook;
use super::CharmError;

pub const CACHE_FILE: &str = ".tls-provider-status";
/// At most this many note lines are logged per change (then a count of the rest).
const MAX_NOTE_LINES: usize = 20;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Cache {
    status: String,
    message: String,
    notes: String,
}

fn cache_path(ctx: &HookContext) -> PathBuf {
    ctx.charm_dir.join(CACHE_FILE)
}

fn read_cache(ctx: &HookContext) -> Cache {
    std::fs::read_to_string(cache_path(ctx))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

fn digest(notes: &[String]) -> String {
    if notes.is_empty() {
        return String::new();
    }
    let mut h = DefaultHasher::new();
    notes.hash(&mut h);
    format!("{:016x}", h.finish())
}

/// Forgets the cached status (call after something else set the status, e.g. a hook error).
pub fn invalidate(ctx: &HookContext) {
    let _ = std::fs::remove_file(cache_path(ctx));
}

/// The status this unit last set, as the cache remembers it.
pub fn cached(ctx: &HookContext) -> Option<(StatusName, String)> {
    let c = read_cache(ctx);
    let name = [
        StatusName::Active,
        StatusName::Blocked,
        StatusName::Maintenance,
        StatusName::Waiting,
    ]
    .into_iter()
    .find(|s| s.as_str() == c.status)?;
    Some((name, c.message))
}

/// Sets the unit status unless it is already `status`/`message`, and logs `notes` (warnings about
/// rejected input) unless the same notes were logged last time. Returns whether `status-set` ran.
pub fn set(
    hook: &Hook<'_>,
    status: StatusName,
    message: &str,
    notes: &[String],
) -> Result<bool, CharmError> {
    set_noting(hook, status, message, notes, &digest(notes))
}

/// [`set`] where `notes_key` stands for every note of the hook, some of which `notes` may not
/// hold (a relation hook knows only its own relation's notes, and a digest of the others'):
/// `notes` are logged when `notes_key` differs from the last one.
pub fn set_noting(
    hook: &Hook<'_>,
    status: StatusName,
    message: &str,
    notes: &[String],
    notes_key: &str,
) -> Result<bool, CharmError> {
    let (ctx, tools) = (hook.ctx, hook.tools);
    let old = read_cache(ctx);
    let new = Cache {
        status: status.as_str().to_string(),
        message: message.to_string(),
        notes: notes_key.to_string(),
    };
    if new.notes != old.notes {
        for n in notes.iter().take(MAX_NOTE_LINES) {
            hook.log(LogLevel::Warning, n);
        }
        if notes.len() > MAX_NOTE_LINES {
            hook.log(
                LogLevel::Warning,
                &format!(
                    "... and {} more rejected inputs",
                    notes.len() - MAX_NOTE_LINES
                ),
            );
        }
    }
    let changed = new.status != old.status || new.message != old.message;
    if changed {
        tools.status_set(StatusScope::Unit, status, message)?;
    }
    if new != old {
        if let Ok(text) = serde_json::to_string(&new) {
            let _ = std::fs::write(cache_path(ctx), text);
        }
    }
    Ok(changed)
}

/// `1 relation`, `2 relations`.
pub fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}
