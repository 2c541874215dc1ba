//! The WARNING line, one per certificate at risk, made for log pipelines (Loki, `logfmt`):
//!
//! ```text
//! tls-provider expiry-warning: kind=certificate application=web unit=web/0 common_name=web.example.com serial=4F1A… not_after=2026-03-01T00:00:00Z days_left=12
//! tls-provider expiry-warning: kind=ca application=tls-provider unit=- common_name="Example CA" serial=… not_after=… days_left=40
//! ```
//!
//! A fixed prefix, then `key=value` fields in this order; `unit` is `-` for an application's
//! certificate and for the CA; a value with a space, `"`, `=` or `\` (or an empty one) is
//! quoted with `"` and `\` escapes, as logfmt reads it.

use std::time::SystemTime;

use super::{Watched, DAY};
use crate::charm::clock::rfc3339;

/// What every expiry line starts with (config.yaml and the README promise it).
pub const PREFIX: &str = "tls-provider expiry-warning:";

/// The line for `w` at `now`.
pub fn line(w: &Watched, now: SystemTime) -> String {
    let not_after = rfc3339(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(w.not_after));
    let fields = [
        ("kind", w.kind.as_str().to_string()),
        ("application", w.application.clone()),
        ("unit", w.unit.clone().unwrap_or_else(|| "-".into())),
        ("common_name", w.common_name.clone()),
        ("serial", w.serial.clone()),
        ("not_after", not_after),
        ("days_left", w.days_left(now).to_string()),
    ];
    let mut out = PREFIX.to_string();
    for (k, v) in fields {
        out.push(' ');
        out.push_str(k);
        out.push('=');
        out.push_str(&quote(&v));
    }
    out
}

/// `v` as a logfmt value.
fn quote(v: &str) -> String {
    let plain = !v.is_empty()
        && !v
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '=' | '\\'));
    if plain {
        return v.to_string();
    }
    let mut out = String::from("\"");
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Whether a serial last logged at `last` (unix seconds) is logged again at `now`.
pub fn due(last: Option<u64>, now: u64) -> bool {
    last.is_none_or(|t| now >= t.saturating_add(DAY))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charm::expiry::Kind;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn the_line_has_the_prefix_and_the_fields_in_order() {
        let w = Watched {
            kind: Kind::Certificate,
            application: "web".into(),
            unit: Some("web/0".into()),
            common_name: "my \"web\" server".into(),
            serial: "0A1B".into(),
            not_before: 0,
            not_after: 30 * DAY,
        };
        let now = UNIX_EPOCH + Duration::from_secs(17 * DAY + 5);
        assert_eq!(
            line(&w, now),
            "tls-provider expiry-warning: kind=certificate application=web unit=web/0 \
             common_name=\"my \\\"web\\\" server\" serial=0A1B not_after=1970-01-31T00:00:00Z \
             days_left=12"
        );
        let ca = Watched {
            kind: Kind::Ca,
            unit: None,
            common_name: String::new(),
            ..w
        };
        let l = line(&ca, now);
        assert!(l.starts_with("tls-provider expiry-warning: kind=ca application=web unit=- common_name=\"\" serial=0A1B"), "{l}");
    }

    #[test]
    fn once_a_day() {
        assert!(due(None, 5));
        assert!(!due(Some(100), 100 + DAY - 1));
        assert!(due(Some(100), 100 + DAY));
    }
}
