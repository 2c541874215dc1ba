//! Argv of the free-text tools that report status and log: `status-set` and `juju-log` (shapes as
//! in `ops/hookcmds/_status.py` and `ops/hookcmds/_other.py` in canonical/operator), and the rules
//! every free-text argument follows: it comes after `--`, so a message starting with `-` is not
//! taken for a flag, and it is cleaned first ([`clean_text`]): PEM private-key blocks are redacted,
//! whoever the caller is, and NUL bytes (which no argv can carry) are replaced. Long log messages
//! are split ([`split_log_message`]). See `docs/juju-hook-contract.md` §4.

use std::borrow::Cow;

use super::call::ProcessTools;
use super::runner::CommandRunner;
use crate::error::ToolError;
use crate::log::redact;
use crate::tools::{LogLevel, StatusName, StatusScope};

/// Juju rejects (and ops splits) `juju-log` messages longer than this many characters.
pub const MAX_LOG_LINE_LEN: usize = 131_071;

/// Free text as it may go on argv: PEM private-key blocks redacted ([`redact`]) and NUL bytes (which
/// cannot be passed in an argument) replaced by U+FFFD.
pub fn clean_text(text: &str) -> Cow<'_, str> {
    let text = redact(text);
    if text.contains('\0') {
        Cow::Owned(text.replace('\0', "\u{FFFD}"))
    } else {
        text
    }
}

/// Splits `message` into pieces of at most [`MAX_LOG_LINE_LEN`] bytes, on character boundaries.
pub fn split_log_message(message: &str) -> Vec<&str> {
    if message.len() <= MAX_LOG_LINE_LEN {
        return vec![message];
    }
    let mut pieces = Vec::new();
    let mut rest = message;
    while !rest.is_empty() {
        let mut end = rest.len().min(MAX_LOG_LINE_LEN);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        let (head, tail) = rest.split_at(end);
        pieces.push(head);
        rest = tail;
    }
    pieces
}

pub(super) fn status_set<R: CommandRunner>(
    t: &ProcessTools<R>,
    scope: StatusScope,
    status: StatusName,
    message: &str,
) -> Result<(), ToolError> {
    let mut args = Vec::new();
    if scope == StatusScope::Application {
        args.push("--application".to_string());
    }
    args.extend([
        status.as_str().to_string(),
        "--".into(),
        clean_text(message).into_owned(),
    ]);
    t.call("status-set", args, None).map(drop)
}

pub(super) fn juju_log<R: CommandRunner>(
    t: &ProcessTools<R>,
    level: LogLevel,
    message: &str,
) -> Result<(), ToolError> {
    let message = clean_text(message);
    for piece in split_log_message(&message) {
        let args = vec![
            "--log-level".to_string(),
            level.as_juju().to_string(),
            "--".to_string(),
            piece.to_string(),
        ];
        t.call("juju-log", args, None)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::test_support::tools;
    use crate::tools::HookTools;

    #[test]
    fn status_set_unit_and_application() {
        let t = tools();
        t.status_set(StatusScope::Unit, StatusName::Active, "ready")
            .unwrap();
        t.status_set(StatusScope::Application, StatusName::Blocked, "")
            .unwrap();
        let calls = t.runner().calls();
        assert_eq!(calls[0].args, vec!["active", "--", "ready"]);
        assert_eq!(calls[1].args, vec!["--application", "blocked", "--", ""]);
        assert_eq!(calls[1].tool, "status-set");
    }

    #[test]
    fn juju_log_argv() {
        let t = tools();
        t.juju_log(LogLevel::Warning, "-x looks like a flag")
            .unwrap();
        let call = t.runner().single();
        assert_eq!(call.tool, "juju-log");
        assert_eq!(
            call.args,
            vec!["--log-level", "WARNING", "--", "-x looks like a flag"]
        );
    }

    #[test]
    fn juju_log_splits_long_messages() {
        let t = tools();
        let msg = format!("{}{}", "a".repeat(MAX_LOG_LINE_LEN), "é".repeat(10));
        t.juju_log(LogLevel::Info, &msg).unwrap();
        let calls = t.runner().calls();
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].args[3].len(), MAX_LOG_LINE_LEN);
        assert_eq!(calls[1].args[3], "é".repeat(10));
        let joined: String = calls.iter().map(|c| c.args[3].as_str()).collect();
        assert_eq!(joined, msg);
    }

    #[test]
    fn split_log_message_respects_char_boundaries() {
        let msg = "é".repeat(MAX_LOG_LINE_LEN); // 2 bytes each
        let pieces = split_log_message(&msg);
        assert!(pieces.iter().all(|p| p.len() <= MAX_LOG_LINE_LEN));
        assert_eq!(pieces.concat(), msg);
        assert_eq!(split_log_message("short"), vec!["short"]);
    }

    const KEY: &str =
        "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIKEYMATERIALsecret\n-----END EC PRIVATE KEY-----";

    #[test]
    fn private_keys_never_reach_argv_of_free_text_tools() {
        let t = tools();
        let msg = format!("oops: {KEY} done");
        t.juju_log(LogLevel::Error, &msg).unwrap();
        t.status_set(StatusScope::Unit, StatusName::Blocked, &msg)
            .unwrap();
        t.status_set(StatusScope::Application, StatusName::Active, &msg)
            .unwrap();
        t.action_fail(&msg).unwrap();
        t.action_log(&msg).unwrap();
        // Unterminated, JSON-escaped, at the start of a long (split) log message.
        let long = format!(
            "-----BEGIN PRIVATE KEY-----\\nMIIEvKEYMATERIAL{}",
            "z".repeat(MAX_LOG_LINE_LEN)
        );
        t.juju_log(LogLevel::Info, &long).unwrap();
        let calls = t.runner().calls();
        assert_eq!(calls.len(), 6, "the redacted long message fits one line");
        for call in &calls {
            assert!(
                call.args
                    .iter()
                    .all(|a| !a.contains("KEYMATERIAL") && !a.contains("BEGIN")),
                "{}",
                call.argv()
            );
        }
        assert_eq!(
            calls[0].args,
            vec![
                "--log-level",
                "ERROR",
                "--",
                "oops: [REDACTED PRIVATE KEY] done"
            ]
        );
        assert_eq!(
            calls[1].args,
            vec!["blocked", "--", "oops: [REDACTED PRIVATE KEY] done"]
        );
        assert_eq!(
            calls[3].argv(),
            "action-fail -- oops: [REDACTED PRIVATE KEY] done"
        );
        assert_eq!(
            calls[4].argv(),
            "action-log -- oops: [REDACTED PRIVATE KEY] done"
        );
        assert_eq!(calls[5].args[3], "[REDACTED PRIVATE KEY]");
        // Certificates and CSRs are not touched.
        let cert = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----";
        t.juju_log(LogLevel::Info, cert).unwrap();
        assert_eq!(t.runner().calls()[6].args[3], cert);
    }

    #[test]
    fn nul_bytes_in_free_text_are_replaced() {
        let t = tools();
        t.juju_log(LogLevel::Info, "a\0b").unwrap();
        assert_eq!(t.runner().single().args[3], "a\u{FFFD}b");
    }
}
