//! Logging: `tracing` events forwarded to `juju-log` at the matching level.
//!
//! * Levels map ERROR→`ERROR`, WARN→`WARNING`, INFO→`INFO`, DEBUG→`DEBUG`, TRACE→`TRACE`. Every
//!   forwarded event costs one hook-tool call, so the default threshold is INFO: DEBUG (and TRACE) are
//!   dropped unless the charm asks for them (see [`level_from_env`]).
//! * Every message goes through [`redact`] first: PEM private-key blocks never reach the log.
//! * If `juju-log` fails (not in a hook, agent unreachable), the message goes to stderr instead, and
//!   later messages go straight to stderr without trying the tool again. Juju records a hook's stderr
//!   in the unit log at WARNING.

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

use crate::error::ToolError;
use crate::tools::{HookTools, LogLevel};

/// Where log lines go: normally `juju-log`. Any thread-safe [`HookTools`] is a sink.
pub trait LogSink: Send + Sync {
    fn log(&self, level: LogLevel, message: &str) -> Result<(), ToolError>;
}

impl<T: HookTools + Send + Sync> LogSink for T {
    fn log(&self, level: LogLevel, message: &str) -> Result<(), ToolError> {
        self.juju_log(level, message)
    }
}

/// What replaces a private-key block in logged text.
pub const REDACTED_PRIVATE_KEY: &str = "[REDACTED PRIVATE KEY]";

/// Replaces every `-----BEGIN <X>PRIVATE KEY-----` ... `-----END <X>PRIVATE KEY-----` block (RSA, EC,
/// PKCS#8, encrypted) with [`REDACTED_PRIVATE_KEY`]. A block with no END marker is redacted to the end
/// of the text. Other PEM blocks (certificates, CSRs) are kept.
pub fn redact(text: &str) -> Cow<'_, str> {
    const BEGIN: &str = "-----BEGIN ";
    const DASHES: &str = "-----";
    if !text.contains("PRIVATE KEY") {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let after_begin = &rest[start + BEGIN.len()..];
        let Some(label_end) = after_begin.find(DASHES) else {
            break;
        };
        let label = &after_begin[..label_end];
        if !label.ends_with("PRIVATE KEY") || label.contains('\n') {
            // Not a private key: keep up to and including this BEGIN marker and go on.
            let keep = start + BEGIN.len();
            out.push_str(&rest[..keep]);
            rest = &rest[keep..];
            continue;
        }
        out.push_str(&rest[..start]);
        out.push_str(REDACTED_PRIVATE_KEY);
        let body = &after_begin[label_end + DASHES.len()..];
        match find_end_marker(body) {
            Some(end) => rest = &body[end..],
            None => {
                rest = "";
                break;
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// The index just past the first `-----END <X>PRIVATE KEY-----` in `body`.
fn find_end_marker(body: &str) -> Option<usize> {
    const END: &str = "-----END ";
    const TAIL: &str = "PRIVATE KEY-----";
    let mut offset = 0;
    while let Some(i) = body[offset..].find(END) {
        let from = offset + i + END.len();
        let line_end = body[from..]
            .find(['\n', '\\'])
            .map_or(body.len(), |j| from + j);
        if let Some(j) = body[from..line_end].find(TAIL) {
            return Some(from + j + TAIL.len());
        }
        offset = from;
    }
    None
}

/// The threshold from environment variable `var`: `DEBUG` when it is `1`, `true`, `yes` or `debug`,
/// `TRACE` when it is `trace`, else `INFO`.
pub fn level_from_env(var: &str) -> LogLevel {
    match std::env::var(var)
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
        .as_str()
    {
        "1" | "true" | "yes" | "debug" => LogLevel::Debug,
        "trace" => LogLevel::Trace,
        _ => LogLevel::Info,
    }
}

/// The juju-log level of a tracing level.
pub fn juju_level(level: &Level) -> LogLevel {
    match *level {
        Level::ERROR => LogLevel::Error,
        Level::WARN => LogLevel::Warning,
        Level::INFO => LogLevel::Info,
        Level::DEBUG => LogLevel::Debug,
        Level::TRACE => LogLevel::Trace,
    }
}

thread_local! {
    /// Set while a sink call runs, so a sink that itself logs cannot recurse.
    static IN_SINK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// A [`Layer`] forwarding events at or above `min_level` to a [`LogSink`].
pub struct JujuLogLayer {
    sink: Arc<dyn LogSink>,
    min_level: LogLevel,
    sink_failed: AtomicBool,
}

impl JujuLogLayer {
    pub fn new(sink: Arc<dyn LogSink>, min_level: LogLevel) -> JujuLogLayer {
        JujuLogLayer {
            sink,
            min_level,
            sink_failed: AtomicBool::new(false),
        }
    }

    /// Sends one line (already formatted) to the sink, or to stderr if the sink fails.
    pub fn emit(&self, level: LogLevel, message: &str) {
        if level < self.min_level {
            return;
        }
        let message = redact(message);
        if IN_SINK.with(|f| f.get()) {
            to_stderr(format_args!("{} {}", level.as_juju(), message));
            return;
        }
        if !self.sink_failed.load(Ordering::Relaxed) {
            IN_SINK.with(|f| f.set(true));
            let res = self.sink.log(level, &message);
            IN_SINK.with(|f| f.set(false));
            match res {
                Ok(()) => return,
                Err(e) => {
                    self.sink_failed.store(true, Ordering::Relaxed);
                    to_stderr(format_args!(
                        "juju-log failed, logging to stderr from now on: {e}"
                    ));
                }
            }
        }
        to_stderr(format_args!("{} {}", level.as_juju(), message));
    }
}

impl<S: Subscriber> Layer<S> for JujuLogLayer {
    fn enabled(&self, metadata: &tracing::Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        juju_level(metadata.level()) >= self.min_level
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let level = juju_level(event.metadata().level());
        if level < self.min_level {
            return;
        }
        let mut visitor = MessageVisitor::default();
        event.record(&mut visitor);
        self.emit(level, &visitor.finish());
    }
}

/// Formats an event as `message key=value key=value`.
#[derive(Default)]
struct MessageVisitor {
    message: String,
    fields: String,
}

impl MessageVisitor {
    fn finish(self) -> String {
        match (self.message.is_empty(), self.fields.is_empty()) {
            (_, true) => self.message,
            (true, false) => self.fields,
            (false, false) => format!("{} {}", self.message, self.fields),
        }
    }

    fn push_field(&mut self, name: &str, value: fmt::Arguments<'_>) {
        if !self.fields.is_empty() {
            self.fields.push(' ');
        }
        let _ = write!(self.fields, "{name}={value}");
    }
}

impl Visit for MessageVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            self.push_field(field.name(), format_args!("{value:?}"));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            self.push_field(field.name(), format_args!("{value:?}"));
        }
    }
}

/// Installs a global subscriber that forwards events at or above `min_level` to `sink`. Returns
/// false if a global subscriber was already set (then nothing changes).
pub fn install(sink: Arc<dyn LogSink>, min_level: LogLevel) -> bool {
    let subscriber = tracing_subscriber::registry().with(JujuLogLayer::new(sink, min_level));
    tracing::subscriber::set_global_default(subscriber).is_ok()
}

/// The line logged for a panic: `<program> panicked in <context>: <message> at <file>:<line>`, with
/// private keys redacted.
pub fn panic_message(
    program: &str,
    context: &str,
    payload: &(dyn std::any::Any + Send),
    location: Option<&std::panic::Location<'_>>,
) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(non-text panic payload)".to_string());
    let at = location
        .map(|l| format!(" at {}:{}", l.file(), l.line()))
        .unwrap_or_default();
    redact(&format!("{program} panicked in {context}: {text}{at}")).into_owned()
}

/// Replaces the panic hook: a panic is written to stderr and sent to `sink` at ERROR (one call),
/// both redacted. The default hook is not chained (it would print the unredacted message). A
/// failing stderr or sink is ignored (a panic inside the hook would abort the process).
pub fn install_panic_hook(sink: Arc<dyn LogSink>, program: &'static str, context: String) {
    std::panic::set_hook(Box::new(move |info| {
        let message = panic_message(program, &context, info.payload(), info.location());
        to_stderr(format_args!("{message}"));
        let _ = sink.log(LogLevel::Error, &message);
    }));
}

/// The exit code of a hook or action that panicked.
pub const PANIC_EXIT_CODE: i32 = 1;

/// Runs `f` (a whole hook or action, returning its exit code) as a charm's dispatch binary should:
/// with [`install_panic_hook`] in place and any panic caught, so a panic becomes exactly one
/// redacted ERROR line on `sink` (and on stderr) and exit code [`PANIC_EXIT_CODE`].
pub fn run_catching_panics(
    sink: Arc<dyn LogSink>,
    program: &'static str,
    context: String,
    f: impl FnOnce() -> i32,
) -> i32 {
    install_panic_hook(sink, program, context);
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(code) => code,
        // The panic hook has logged it.
        Err(_) => PANIC_EXIT_CODE,
    }
}

/// Writes one line to stderr, ignoring errors (`eprintln!` panics when stderr is closed or full).
fn to_stderr(line: fmt::Arguments<'_>) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[derive(Default)]
    struct Lines {
        lines: Mutex<Vec<(LogLevel, String)>>,
        fail: bool,
        calls: Mutex<usize>,
    }

    impl LogSink for Lines {
        fn log(&self, level: LogLevel, message: &str) -> Result<(), ToolError> {
            *self.calls.lock().unwrap() += 1;
            if self.fail {
                return Err(ToolError::ToolMissing {
                    tool: "juju-log".into(),
                });
            }
            self.lines
                .lock()
                .unwrap()
                .push((level, message.to_string()));
            Ok(())
        }
    }

    fn with_layer(sink: Arc<Lines>, min: LogLevel, f: impl FnOnce()) {
        let subscriber = tracing_subscriber::registry().with(JujuLogLayer::new(sink, min));
        tracing::subscriber::with_default(subscriber, f);
    }

    const KEY: &str = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAsecretsecret\nabcdef==\n-----END RSA PRIVATE KEY-----";

    #[test]
    fn levels_are_mapped_and_debug_dropped_by_default() {
        let sink = Arc::new(Lines::default());
        with_layer(sink.clone(), LogLevel::Info, || {
            tracing::error!("e");
            tracing::warn!("w");
            tracing::info!("i");
            tracing::debug!("d");
            tracing::trace!("t");
        });
        let lines = sink.lines.lock().unwrap().clone();
        assert_eq!(
            lines,
            vec![
                (LogLevel::Error, "e".to_string()),
                (LogLevel::Warning, "w".to_string()),
                (LogLevel::Info, "i".to_string()),
            ]
        );
    }

    #[test]
    fn debug_forwarded_when_asked_trace_still_dropped() {
        let sink = Arc::new(Lines::default());
        with_layer(sink.clone(), LogLevel::Debug, || {
            tracing::debug!("d");
            tracing::trace!("t");
        });
        let lines = sink.lines.lock().unwrap().clone();
        assert_eq!(lines, vec![(LogLevel::Debug, "d".to_string())]);
    }

    #[test]
    fn fields_are_appended() {
        let sink = Arc::new(Lines::default());
        with_layer(sink.clone(), LogLevel::Info, || {
            tracing::info!(relation = 3, unit = "req/0", "issued {} certificates", 2);
        });
        let lines = sink.lines.lock().unwrap().clone();
        assert_eq!(
            lines[0].1,
            "issued 2 certificates relation=3 unit=\"req/0\""
        );
    }

    #[test]
    fn private_keys_never_reach_the_sink() {
        let sink = Arc::new(Lines::default());
        with_layer(sink.clone(), LogLevel::Info, || {
            tracing::error!("bad request: {KEY} trailing");
            tracing::warn!(key = KEY, "field");
        });
        let lines = sink.lines.lock().unwrap().clone();
        assert_eq!(lines[0].1, "bad request: [REDACTED PRIVATE KEY] trailing");
        assert!(
            lines.iter().all(|(_, l)| !l.contains("MIIEow")),
            "{lines:?}"
        );
    }

    #[test]
    fn falls_back_to_stderr_and_stops_calling_a_failing_sink() {
        let sink = Arc::new(Lines {
            fail: true,
            ..Lines::default()
        });
        with_layer(sink.clone(), LogLevel::Info, || {
            tracing::info!("one");
            tracing::info!("two");
        });
        assert_eq!(*sink.calls.lock().unwrap(), 1);
    }

    #[test]
    fn redact_replaces_every_private_key_kind() {
        for label in [
            "PRIVATE KEY",
            "RSA PRIVATE KEY",
            "EC PRIVATE KEY",
            "ENCRYPTED PRIVATE KEY",
        ] {
            let text = format!("before -----BEGIN {label}-----\nAAAA\n-----END {label}----- after");
            assert_eq!(
                redact(&text),
                "before [REDACTED PRIVATE KEY] after",
                "{label}"
            );
        }
    }

    #[test]
    fn redact_keeps_certificates_and_handles_several_blocks() {
        let cert = "-----BEGIN CERTIFICATE-----\nCCCC\n-----END CERTIFICATE-----";
        let text = format!("{cert}\n{KEY}\n{cert}\n{KEY}");
        assert_eq!(
            redact(&text),
            format!("{cert}\n[REDACTED PRIVATE KEY]\n{cert}\n[REDACTED PRIVATE KEY]")
        );
        assert!(matches!(redact(cert), Cow::Borrowed(_)));
    }

    #[test]
    fn redact_json_escaped_and_unterminated_blocks() {
        // As it appears inside a JSON string (escaped newlines).
        let json =
            "{\"key\": \"-----BEGIN PRIVATE KEY-----\\nSECRET\\n-----END PRIVATE KEY-----\\n\"}";
        assert_eq!(redact(json), "{\"key\": \"[REDACTED PRIVATE KEY]\\n\"}");
        let cut = "oops -----BEGIN EC PRIVATE KEY-----\nSECRET...";
        assert_eq!(redact(cut), "oops [REDACTED PRIVATE KEY]");
    }

    #[test]
    fn level_from_env_values() {
        // Unique variable names: tests run in parallel threads.
        std::env::set_var("JUJU_HOOK_TEST_LVL_A", "1");
        std::env::set_var("JUJU_HOOK_TEST_LVL_B", "trace");
        std::env::set_var("JUJU_HOOK_TEST_LVL_C", "0");
        assert_eq!(level_from_env("JUJU_HOOK_TEST_LVL_A"), LogLevel::Debug);
        assert_eq!(level_from_env("JUJU_HOOK_TEST_LVL_B"), LogLevel::Trace);
        assert_eq!(level_from_env("JUJU_HOOK_TEST_LVL_C"), LogLevel::Info);
        assert_eq!(level_from_env("JUJU_HOOK_TEST_LVL_UNSET"), LogLevel::Info);
    }

    #[test]
    fn panic_messages_are_redacted() {
        let payload = std::panic::catch_unwind(|| panic!("bad key {KEY}")).unwrap_err();
        let loc = std::panic::Location::caller();
        let msg = panic_message("tls-provider", "install", &*payload, Some(loc));
        assert!(
            msg.starts_with("tls-provider panicked in install: bad key [REDACTED PRIVATE KEY] at "),
            "{msg}"
        );
        assert!(msg.contains("log.rs:"), "{msg}");
        let payload = std::panic::catch_unwind(|| std::panic::panic_any(7u8)).unwrap_err();
        assert_eq!(
            panic_message("p", "x", &*payload, None),
            "p panicked in x: (non-text panic payload)"
        );
    }

    #[test]
    fn process_tools_are_a_sink() {
        use crate::process::{ProcessTools, RecordingRunner};
        let tools = Arc::new(ProcessTools::with_runner(RecordingRunner::new()));
        let layer = JujuLogLayer::new(tools.clone(), LogLevel::Info);
        layer.emit(LogLevel::Warning, "careful");
        layer.emit(LogLevel::Debug, "dropped");
        let call = tools.runner().single();
        assert_eq!(call.argv(), "juju-log --log-level WARNING -- careful");
    }
}
