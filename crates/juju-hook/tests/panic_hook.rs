//! Panic handling in a hook ("a panic is logged via juju-log and exits 1"), exercised for real:
//! `run_catching_panics` (what the `tls-provider` binary's `main` runs every hook and action in)
//! installs the process-wide panic hook, so each case runs in a child process — this test binary
//! re-executed with one `child_*` test selected — and the parent checks the child's exit code, its
//! stderr, and the hook-tool calls it recorded (printed on stdout).

use std::process::Command;
use std::sync::Arc;

use juju_hook::log::{run_catching_panics, PANIC_EXIT_CODE};
use juju_hook::process::{Output, ProcessTools, RecordingRunner};

/// Set in the child: which case to run.
const CHILD_ENV: &str = "JUJU_HOOK_PANIC_TEST_CHILD";
/// Precedes the recorded calls on the child's stdout.
const MARKER: &str = "RECORDED-CALLS:";

const KEY: &str =
    "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49KEYMATERIAL\n-----END PRIVATE KEY-----";

/// Runs `f` as main does, with a recording `juju-log` (failing if `juju_log_fails`), prints the
/// recorded calls and exits with the code `run_catching_panics` returned.
fn child(juju_log_fails: bool, f: impl FnOnce() -> i32) {
    let runner = RecordingRunner::new();
    if juju_log_fails {
        runner.respond("juju-log", Output::fail(1, "ERROR connection refused"));
    }
    let tools = Arc::new(ProcessTools::with_runner(runner));
    let code = run_catching_panics(tools.clone(), "tls-provider", "install".into(), f);
    let calls: Vec<Vec<String>> = tools
        .runner()
        .calls()
        .iter()
        .map(|c| {
            std::iter::once(c.tool.clone())
                .chain(c.args.clone())
                .collect()
        })
        .collect();
    // On a line of its own: libtest has printed `test <name> ... ` without a newline.
    println!("\n{MARKER}{}", serde_json::to_string(&calls).unwrap());
    std::process::exit(code);
}

struct Run {
    code: Option<i32>,
    stderr: String,
    calls: Vec<Vec<String>>,
}

fn run_child(case: &str) -> Run {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([case, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, case)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix(MARKER))
        .unwrap_or_else(|| {
            panic!("child {case} printed no calls\nstdout: {stdout}\nstderr: {stderr}")
        });
    assert!(!stdout.contains("KEYMATERIAL"), "{stdout}");
    Run {
        code: out.status.code(),
        stderr,
        calls: serde_json::from_str(line).unwrap(),
    }
}

fn is_child(case: &str) -> bool {
    std::env::var(CHILD_ENV).as_deref() == Ok(case)
}

#[test]
fn child_panics() {
    if is_child("child_panics") {
        child(false, || panic!("cannot parse {KEY} here"));
    }
}

#[test]
fn child_panics_with_juju_log_down() {
    if is_child("child_panics_with_juju_log_down") {
        child(true, || panic!("boom"));
    }
}

#[test]
fn child_returns() {
    if is_child("child_returns") {
        child(false, || 0);
    }
}

#[test]
fn a_panic_is_one_redacted_error_log_line_and_exit_1() {
    let run = run_child("child_panics");
    assert_eq!(run.code, Some(PANIC_EXIT_CODE), "stderr: {}", run.stderr);
    assert_eq!(PANIC_EXIT_CODE, 1);
    assert_eq!(
        run.calls.len(),
        1,
        "exactly one hook-tool call: {:?}",
        run.calls
    );
    let call = &run.calls[0];
    assert_eq!(call[..4], ["juju-log", "--log-level", "ERROR", "--"]);
    let line = &call[4];
    assert!(
        line.starts_with(
            "tls-provider panicked in install: cannot parse [REDACTED PRIVATE KEY] here at "
        ),
        "{line}"
    );
    assert!(line.contains("panic_hook.rs:"), "the location: {line}");
    // The same line on stderr (Juju keeps a hook's stderr in the unit log), and no key anywhere.
    assert!(run.stderr.contains(line.as_str()), "{}", run.stderr);
    assert!(!run.stderr.contains("KEYMATERIAL"), "{}", run.stderr);
    assert!(!line.contains("KEYMATERIAL") && !line.contains("BEGIN"));
}

#[test]
fn a_panic_with_juju_log_down_still_reaches_stderr_and_exits_1() {
    let run = run_child("child_panics_with_juju_log_down");
    assert_eq!(run.code, Some(1), "stderr: {}", run.stderr);
    assert_eq!(run.calls.len(), 1, "{:?}", run.calls);
    assert_eq!(run.calls[0][0], "juju-log");
    assert!(
        run.stderr
            .contains("tls-provider panicked in install: boom at "),
        "{}",
        run.stderr
    );
}

#[test]
fn no_panic_keeps_the_exit_code_and_logs_nothing() {
    let run = run_child("child_returns");
    assert_eq!(run.code, Some(0), "stderr: {}", run.stderr);
    assert!(run.calls.is_empty(), "{:?}", run.calls);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
}
