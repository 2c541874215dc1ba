//! The real hook tools: each [`HookTools`] call runs one Juju hook tool as a child process, with the
//! argv shapes `ops` uses (see the hook-environment reference §4).
//!
//! * Reads always pass `--format=json`; output that is not the JSON we expect is
//!   [`ToolError::BadOutput`].
//! * Relation data goes as a JSON object on stdin (`relation-set --file -`), so values of any size
//!   work and nothing lands on argv.
//! * Secret content goes in `key#file=<path>` temp files (mode 0600, in a private 0700 temp dir,
//!   deleted as soon as the tool returns); it never appears on argv.
//! * Free text (`status-set`, `juju-log`, `action-fail`, ...) follows `--`, so a message starting with
//!   `-` is not taken for a flag. It is cleaned first ([`clean_text`]): PEM private-key blocks are
//!   redacted, whoever the caller is, and NUL bytes (which no argv can carry) are replaced.
//! * `action-set` takes its results on argv (Juju offers no file or stdin for it): they are split over
//!   several calls of at most [`MAX_ACTION_SET_ARGV_BYTES`], and a `key=value` over
//!   [`MAX_ACTION_VALUE_BYTES`] is refused with [`ToolError::ValueTooLarge`] before anything runs.
//!
//! Processes are started through a [`CommandRunner`], so the exact argv and stdin of every call can be
//! checked against the [`RecordingRunner`] in unit tests.

use std::borrow::Cow;
use std::collections::{BTreeMap, VecDeque};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::ToolError;
use crate::log::redact;
use crate::tools::{
    Databag, HookTools, LogLevel, Member, RelationId, SecretInfo, SecretOptions, SecretOwner,
    SecretRead, SecretRef, StatusName, StatusScope, MAX_ACTION_SET_ARGV_BYTES,
    MAX_ACTION_VALUE_BYTES,
};

/// Juju rejects (and ops splits) `juju-log` messages longer than this many characters.
pub const MAX_LOG_LINE_LEN: usize = 131_071;

/// What a finished tool process left behind.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Output {
    /// The exit code (`-1` when killed by a signal).
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Output {
    /// A successful run that printed `stdout`.
    pub fn ok(stdout: impl Into<Vec<u8>>) -> Output {
        Output {
            code: 0,
            stdout: stdout.into(),
            stderr: Vec::new(),
        }
    }

    /// A failed run with exit `code` and `stderr` (e.g. `ERROR relation not found`).
    pub fn fail(code: i32, stderr: impl Into<Vec<u8>>) -> Output {
        Output {
            code,
            stdout: Vec::new(),
            stderr: stderr.into(),
        }
    }
}

/// Starts one hook tool and waits for it.
pub trait CommandRunner {
    /// Runs `tool args...`, feeding `stdin` if given (else stdin is `/dev/null`). A tool that cannot
    /// be found is [`ToolError::ToolMissing`]; a non-zero exit is *not* an error here.
    fn run(&self, tool: &str, args: &[String], stdin: Option<&[u8]>) -> Result<Output, ToolError>;
}

/// Runs the tools found on `PATH` with [`std::process::Command`].
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemRunner;

impl CommandRunner for SystemRunner {
    fn run(&self, tool: &str, args: &[String], stdin: Option<&[u8]>) -> Result<Output, ToolError> {
        let io_err = |source: std::io::Error| ToolError::Io {
            tool: tool.to_string(),
            source,
        };
        let mut cmd = Command::new(tool);
        cmd.args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ToolError::ToolMissing {
                    tool: tool.to_string(),
                })
            }
            Err(e) => return Err(io_err(e)),
        };
        // Feed stdin from another thread so a tool that writes a lot before reading cannot deadlock
        // us. Juju's client reads stdin only when the tool asks for it, so a closed pipe is fine.
        let writer = match (stdin, child.stdin.take()) {
            (Some(data), Some(mut pipe)) => {
                let data = data.to_vec();
                Some(std::thread::spawn(move || match pipe.write_all(&data) {
                    Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e),
                    _ => Ok(()),
                }))
            }
            _ => None,
        };
        let out = child.wait_with_output().map_err(io_err)?;
        if let Some(handle) = writer {
            match handle.join() {
                Ok(res) => res.map_err(io_err)?,
                Err(_) => {
                    return Err(io_err(std::io::Error::other(
                        "stdin writer thread panicked",
                    )))
                }
            }
        }
        Ok(Output {
            code: out.status.code().unwrap_or(-1),
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }
}

/// One call seen by the [`RecordingRunner`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecordedCall {
    pub tool: String,
    pub args: Vec<String>,
    pub stdin: Option<Vec<u8>>,
    /// For each `key#file=<path>` argument: the path, the file's content and its permission bits,
    /// read *during* the call (the files are gone afterwards).
    pub files: BTreeMap<String, (Vec<u8>, u32)>,
}

impl RecordedCall {
    /// `tool arg arg ...`, for readable assertions.
    pub fn argv(&self) -> String {
        std::iter::once(self.tool.as_str())
            .chain(self.args.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// A [`CommandRunner`] for tests: records every call and answers with canned outputs, queued per
/// tool (a tool with nothing queued succeeds with empty output).
#[derive(Debug, Default)]
pub struct RecordingRunner {
    calls: Mutex<Vec<RecordedCall>>,
    responses: Mutex<BTreeMap<String, VecDeque<Output>>>,
}

impl RecordingRunner {
    pub fn new() -> RecordingRunner {
        RecordingRunner::default()
    }

    /// Queues the output of the next call of `tool`.
    pub fn respond(&self, tool: &str, output: Output) -> &RecordingRunner {
        self.responses
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(tool.to_string())
            .or_default()
            .push_back(output);
        self
    }

    /// Queues a successful call of `tool` that prints `stdout`.
    pub fn respond_ok(&self, tool: &str, stdout: &str) -> &RecordingRunner {
        self.respond(tool, Output::ok(stdout))
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<RecordedCall> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The only call so far (panics otherwise).
    pub fn single(&self) -> RecordedCall {
        let calls = self.calls();
        assert_eq!(calls.len(), 1, "expected exactly one call, got {calls:#?}");
        calls.into_iter().next().expect("one call")
    }
}

impl CommandRunner for RecordingRunner {
    fn run(&self, tool: &str, args: &[String], stdin: Option<&[u8]>) -> Result<Output, ToolError> {
        let mut files = BTreeMap::new();
        for arg in args {
            if let Some((_, path)) = arg.split_once("#file=") {
                let content = std::fs::read(path).unwrap_or_default();
                let mode = file_mode(path);
                files.insert(path.to_string(), (content, mode));
            }
        }
        self.calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(RecordedCall {
                tool: tool.to_string(),
                args: args.to_vec(),
                stdin: stdin.map(<[u8]>::to_vec),
                files,
            });
        let next = self
            .responses
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(tool)
            .and_then(VecDeque::pop_front);
        Ok(next.unwrap_or_default())
    }
}

#[cfg(unix)]
fn file_mode(path: &str) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o7777)
        .unwrap_or(0)
}

#[cfg(not(unix))]
fn file_mode(_path: &str) -> u32 {
    0
}

/// [`HookTools`] backed by real hook-tool processes (through a [`CommandRunner`]).
#[derive(Debug, Default)]
pub struct ProcessTools<R = SystemRunner> {
    runner: R,
}

impl ProcessTools<SystemRunner> {
    /// The tools on `PATH`, as inside a Juju hook.
    pub fn new() -> ProcessTools<SystemRunner> {
        ProcessTools {
            runner: SystemRunner,
        }
    }
}

impl<R: CommandRunner> ProcessTools<R> {
    pub fn with_runner(runner: R) -> ProcessTools<R> {
        ProcessTools { runner }
    }

    pub fn runner(&self) -> &R {
        &self.runner
    }

    /// Runs `tool`; a non-zero exit becomes a classified [`ToolError`]. Returns stdout.
    fn call(
        &self,
        tool: &str,
        args: Vec<String>,
        stdin: Option<&[u8]>,
    ) -> Result<Vec<u8>, ToolError> {
        let out = self.runner.run(tool, &args, stdin)?;
        if out.code != 0 {
            return Err(ToolError::from_exit(
                tool,
                out.code,
                &String::from_utf8_lossy(&out.stderr),
            ));
        }
        Ok(out.stdout)
    }

    /// Runs a read with `--format=json` first (as ops does) and parses its output.
    fn call_json<T: DeserializeOwned>(&self, tool: &str, args: &[&str]) -> Result<T, ToolError> {
        let mut argv = vec!["--format=json".to_string()];
        argv.extend(args.iter().map(|a| a.to_string()));
        let stdout = self.call(tool, argv, None)?;
        parse_json(tool, &stdout)
    }

    /// Writes each secret value to its own 0600 file in a private temp dir, runs `tool` with
    /// `args + key#file=<path>...`, then deletes the files (also on error).
    fn call_with_secret_files(
        &self,
        tool: &str,
        mut args: Vec<String>,
        content: Option<&Databag>,
    ) -> Result<Vec<u8>, ToolError> {
        let io_err = |source: std::io::Error| ToolError::Io {
            tool: tool.to_string(),
            source,
        };
        let dir = match content {
            Some(c) if !c.is_empty() => Some(private_temp_dir().map_err(io_err)?),
            _ => None,
        };
        if let (Some(dir), Some(content)) = (&dir, content) {
            for (i, (key, value)) in content.iter().enumerate() {
                let path: PathBuf = dir.path().join(format!("value-{i}"));
                write_private(&path, value.as_bytes()).map_err(io_err)?;
                args.push(format!("{key}#file={}", path.display()));
            }
        }
        let result = self.call(tool, args, None);
        if let Some(dir) = dir {
            // Best effort; the content is gone from disk either way once the dir is removed.
            let _ = dir.close();
        }
        result
    }
}

/// A new temp dir readable only by us (0700).
fn private_temp_dir() -> std::io::Result<tempfile::TempDir> {
    let mut builder = tempfile::Builder::new();
    builder.prefix("juju-secret-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o700));
    }
    builder.tempdir()
}

/// Creates `path` with mode 0600 (never readable by others, even for an instant) and writes `data`.
fn write_private(path: &std::path::Path, data: &[u8]) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(data)?;
    f.sync_all()
}

fn parse_json<T: DeserializeOwned>(tool: &str, stdout: &[u8]) -> Result<T, ToolError> {
    serde_json::from_slice(stdout).map_err(|e| ToolError::BadOutput {
        tool: tool.to_string(),
        detail: format!(
            "{e} (output was {:?})",
            truncate(&String::from_utf8_lossy(stdout), 200)
        ),
    })
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

fn secret_opts_args(opts: &SecretOptions) -> Vec<String> {
    let mut args = Vec::new();
    let pairs = [
        ("--label", &opts.label),
        ("--description", &opts.description),
        ("--expire", &opts.expire),
        ("--rotate", &opts.rotate),
    ];
    for (flag, value) in pairs {
        if let Some(v) = value {
            args.push(flag.to_string());
            args.push(v.clone());
        }
    }
    args
}

fn secret_ref_args(secret: &SecretRef) -> Vec<String> {
    match secret {
        SecretRef::Id(id) => vec![id.clone()],
        SecretRef::Label(label) => vec!["--label".into(), label.clone()],
        SecretRef::IdAndLabel { id, label } => vec![id.clone(), "--label".into(), label.clone()],
    }
}

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

/// The argv of each `action-set` call for `results`: `key=value` arguments in key order, grouped so
/// that no call's arguments (bytes + NUL + pointer each) exceed [`MAX_ACTION_SET_ARGV_BYTES`]. A
/// `key=value` longer than [`MAX_ACTION_VALUE_BYTES`] is [`ToolError::ValueTooLarge`] (checked for
/// every result before any call is made). NUL bytes are replaced as in [`clean_text`].
pub fn action_set_batches(
    results: &BTreeMap<String, String>,
) -> Result<Vec<Vec<String>>, ToolError> {
    let mut batches = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let mut current_bytes = 0;
    for (key, value) in results {
        let mut arg = format!("{key}={value}");
        if arg.contains('\0') {
            arg = arg.replace('\0', "\u{FFFD}");
        }
        if arg.len() > MAX_ACTION_VALUE_BYTES {
            return Err(ToolError::ValueTooLarge {
                tool: "action-set".into(),
                key: key.clone(),
                bytes: arg.len(),
                max: MAX_ACTION_VALUE_BYTES,
            });
        }
        let cost = arg.len() + 1 + std::mem::size_of::<usize>();
        if !current.is_empty() && current_bytes + cost > MAX_ACTION_SET_ARGV_BYTES {
            batches.push(std::mem::take(&mut current));
            current_bytes = 0;
        }
        current_bytes += cost;
        current.push(arg);
    }
    if !current.is_empty() {
        batches.push(current);
    }
    Ok(batches)
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

impl<R: CommandRunner> HookTools for ProcessTools<R> {
    fn relation_ids(&self, endpoint: &str) -> Result<Vec<RelationId>, ToolError> {
        let tool = "relation-ids";
        let ids: Option<Vec<String>> = self.call_json(tool, &[endpoint])?;
        ids.unwrap_or_default()
            .iter()
            .map(|raw| {
                RelationId::parse(raw).ok_or_else(|| ToolError::BadOutput {
                    tool: tool.to_string(),
                    detail: format!("relation id {raw:?} has no number after its last colon"),
                })
            })
            .collect()
    }

    fn relation_list(&self, rel: RelationId) -> Result<Vec<String>, ToolError> {
        let units: Option<Vec<String>> =
            self.call_json("relation-list", &["-r", &rel.to_string()])?;
        Ok(units.unwrap_or_default())
    }

    fn relation_remote_app(&self, rel: RelationId) -> Result<String, ToolError> {
        self.call_json("relation-list", &["-r", &rel.to_string(), "--app"])
    }

    fn relation_get(&self, rel: RelationId, member: &Member) -> Result<Databag, ToolError> {
        let rel = rel.to_string();
        let bag: Option<Databag> = match member {
            Member::Unit(unit) => self.call_json("relation-get", &["-r", &rel, "-", unit])?,
            Member::App(app) => self.call_json("relation-get", &["-r", &rel, "--app", "-", app])?,
        };
        Ok(bag.unwrap_or_default())
    }

    fn relation_set(&self, rel: RelationId, app: bool, changes: &Databag) -> Result<(), ToolError> {
        if changes.is_empty() {
            return Ok(());
        }
        let mut args = vec!["-r".to_string(), rel.to_string()];
        if app {
            args.push("--app".into());
        }
        args.extend(["--file".to_string(), "-".to_string()]);
        let body = serde_json::to_vec(changes).map_err(|e| ToolError::Io {
            tool: "relation-set".into(),
            source: std::io::Error::other(e),
        })?;
        self.call("relation-set", args, Some(&body)).map(drop)
    }

    fn is_leader(&self) -> Result<bool, ToolError> {
        self.call_json("is-leader", &[])
    }

    fn config_get(&self) -> Result<Map<String, Value>, ToolError> {
        // Juju prints `null` for a nil map.
        let map: Option<Map<String, Value>> = self.call_json("config-get", &[])?;
        Ok(map.unwrap_or_default())
    }

    fn action_get(&self) -> Result<Map<String, Value>, ToolError> {
        let map: Option<Map<String, Value>> = self.call_json("action-get", &[])?;
        Ok(map.unwrap_or_default())
    }

    fn action_set(&self, results: &BTreeMap<String, String>) -> Result<(), ToolError> {
        // Juju merges the results of successive action-set calls.
        for args in action_set_batches(results)? {
            self.call("action-set", args, None)?;
        }
        Ok(())
    }

    fn action_fail(&self, message: &str) -> Result<(), ToolError> {
        let message = clean_text(message).into_owned();
        self.call("action-fail", vec!["--".into(), message], None)
            .map(drop)
    }

    fn action_log(&self, message: &str) -> Result<(), ToolError> {
        let message = clean_text(message).into_owned();
        self.call("action-log", vec!["--".into(), message], None)
            .map(drop)
    }

    fn status_set(
        &self,
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
        self.call("status-set", args, None).map(drop)
    }

    fn application_version_set(&self, version: &str) -> Result<(), ToolError> {
        self.call(
            "application-version-set",
            vec!["--".into(), version.into()],
            None,
        )
        .map(drop)
    }

    fn juju_log(&self, level: LogLevel, message: &str) -> Result<(), ToolError> {
        let message = clean_text(message);
        for piece in split_log_message(&message) {
            let args = vec![
                "--log-level".to_string(),
                level.as_juju().to_string(),
                "--".to_string(),
                piece.to_string(),
            ];
            self.call("juju-log", args, None)?;
        }
        Ok(())
    }

    fn secret_add(&self, content: &Databag, opts: &SecretOptions) -> Result<String, ToolError> {
        let tool = "secret-add";
        let mut args = secret_opts_args(opts);
        args.push("--owner".into());
        args.push(
            match opts.owner {
                SecretOwner::Application => "application",
                SecretOwner::Unit => "unit",
            }
            .into(),
        );
        let stdout = self.call_with_secret_files(tool, args, Some(content))?;
        let id = String::from_utf8_lossy(&stdout).trim().to_string();
        if id.is_empty() || id.contains(char::is_whitespace) {
            return Err(ToolError::BadOutput {
                tool: tool.into(),
                detail: format!("expected a secret id, got {:?}", truncate(&id, 200)),
            });
        }
        Ok(id)
    }

    fn secret_get(&self, secret: &SecretRef, read: SecretRead) -> Result<Databag, ToolError> {
        let mut args = secret_ref_args(secret);
        match read {
            SecretRead::Pinned => {}
            SecretRead::Peek => args.push("--peek".into()),
            SecretRead::Refresh => args.push("--refresh".into()),
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let bag: Option<Databag> = self.call_json("secret-get", &refs)?;
        Ok(bag.unwrap_or_default())
    }

    fn secret_set(
        &self,
        id: &str,
        content: Option<&Databag>,
        opts: &SecretOptions,
    ) -> Result<(), ToolError> {
        let mut args = vec![id.to_string()];
        args.extend(secret_opts_args(opts));
        self.call_with_secret_files("secret-set", args, content)
            .map(drop)
    }

    fn secret_info_get(&self, secret: &SecretRef) -> Result<SecretInfo, ToolError> {
        let tool = "secret-info-get";
        // Juju takes an id or a label, not both.
        let args = match secret {
            SecretRef::Id(id) | SecretRef::IdAndLabel { id, .. } => vec![id.as_str()],
            SecretRef::Label(label) => vec!["--label", label.as_str()],
        };
        let map: Option<BTreeMap<String, SecretInfo>> = self.call_json(tool, &args)?;
        let mut map = map.unwrap_or_default();
        if map.len() != 1 {
            return Err(ToolError::BadOutput {
                tool: tool.into(),
                detail: format!("expected one secret, got {}", map.len()),
            });
        }
        let (id, mut info) = map.pop_first().expect("one entry");
        info.id = id;
        Ok(info)
    }

    fn secret_remove(&self, id: &str, revision: Option<u64>) -> Result<(), ToolError> {
        let mut args = vec![id.to_string()];
        if let Some(rev) = revision {
            args.extend(["--revision".to_string(), rev.to_string()]);
        }
        self.call("secret-remove", args, None).map(drop)
    }

    fn secret_ids(&self) -> Result<Vec<String>, ToolError> {
        let ids: Option<Vec<String>> = self.call_json("secret-ids", &[])?;
        Ok(ids.unwrap_or_default())
    }

    fn secret_grant(&self, id: &str, rel: RelationId, unit: Option<&str>) -> Result<(), ToolError> {
        let mut args = vec![id.to_string(), "--relation".into(), rel.to_string()];
        if let Some(u) = unit {
            args.extend(["--unit".to_string(), u.to_string()]);
        }
        self.call("secret-grant", args, None).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tools() -> ProcessTools<RecordingRunner> {
        ProcessTools::with_runner(RecordingRunner::new())
    }

    fn bag(pairs: &[(&str, &str)]) -> Databag {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn stdin_json(call: &RecordedCall) -> Value {
        serde_json::from_slice(call.stdin.as_deref().expect("stdin")).expect("stdin is JSON")
    }

    #[test]
    fn relation_ids_argv_and_parse() {
        let t = tools();
        t.runner()
            .respond_ok("relation-ids", "[\"certificates:3\",\"certificates:12\"]\n");
        let ids = t.relation_ids("certificates").unwrap();
        assert_eq!(ids, vec![RelationId(3), RelationId(12)]);
        let call = t.runner().single();
        assert_eq!(call.argv(), "relation-ids --format=json certificates");
        assert_eq!(call.stdin, None);
    }

    #[test]
    fn relation_ids_null_and_bad_ids() {
        let t = tools();
        t.runner().respond_ok("relation-ids", "null\n");
        assert_eq!(t.relation_ids("certificates").unwrap(), vec![]);
        t.runner()
            .respond_ok("relation-ids", "[\"certificates:x\"]");
        assert!(matches!(
            t.relation_ids("certificates"),
            Err(ToolError::BadOutput { .. })
        ));
    }

    #[test]
    fn relation_list_argv() {
        let t = tools();
        t.runner()
            .respond_ok("relation-list", "[\"req/0\",\"req/1\"]");
        assert_eq!(
            t.relation_list(RelationId(3)).unwrap(),
            vec!["req/0", "req/1"]
        );
        assert_eq!(
            t.runner().single().argv(),
            "relation-list --format=json -r 3"
        );
    }

    #[test]
    fn relation_remote_app_argv() {
        let t = tools();
        t.runner().respond_ok("relation-list", "\"req\"\n");
        assert_eq!(t.relation_remote_app(RelationId(7)).unwrap(), "req");
        assert_eq!(
            t.runner().single().argv(),
            "relation-list --format=json -r 7 --app"
        );
    }

    #[test]
    fn relation_get_unit_argv() {
        let t = tools();
        t.runner().respond_ok(
            "relation-get",
            "{\"egress-subnets\":\"10.0.0.1/32\",\"a\":\"1\"}",
        );
        let got = t
            .relation_get(RelationId(3), &Member::Unit("req/0".into()))
            .unwrap();
        assert_eq!(got, bag(&[("a", "1"), ("egress-subnets", "10.0.0.1/32")]));
        assert_eq!(
            t.runner().single().argv(),
            "relation-get --format=json -r 3 - req/0"
        );
    }

    #[test]
    fn relation_get_app_argv_and_empty() {
        let t = tools();
        t.runner().respond_ok("relation-get", "{}");
        let got = t
            .relation_get(RelationId(3), &Member::App("req".into()))
            .unwrap();
        assert!(got.is_empty());
        assert_eq!(
            t.runner().single().argv(),
            "relation-get --format=json -r 3 --app - req"
        );
    }

    #[test]
    fn relation_get_non_string_values_are_bad_output() {
        let t = tools();
        t.runner().respond_ok("relation-get", "{\"a\": 1}");
        let err = t
            .relation_get(RelationId(3), &Member::App("req".into()))
            .unwrap_err();
        assert!(matches!(err, ToolError::BadOutput { .. }), "{err:?}");
    }

    #[test]
    fn relation_set_unit_sends_json_on_stdin() {
        let t = tools();
        t.relation_set(RelationId(3), false, &bag(&[("a", "1"), ("gone", "")]))
            .unwrap();
        let call = t.runner().single();
        assert_eq!(call.argv(), "relation-set -r 3 --file -");
        // The empty value is sent as "" so Juju deletes the key.
        assert_eq!(stdin_json(&call), serde_json::json!({"a": "1", "gone": ""}));
    }

    #[test]
    fn relation_set_app_argv() {
        let t = tools();
        t.relation_set(RelationId(4), true, &bag(&[("certificates", "[]")]))
            .unwrap();
        let call = t.runner().single();
        assert_eq!(call.argv(), "relation-set -r 4 --app --file -");
        assert_eq!(stdin_json(&call), serde_json::json!({"certificates": "[]"}));
    }

    #[test]
    fn relation_set_value_over_100_kib_goes_on_stdin_not_argv() {
        let t = tools();
        let big = "x".repeat(300 * 1024);
        t.relation_set(RelationId(3), true, &bag(&[("certificates", &big)]))
            .unwrap();
        let call = t.runner().single();
        assert!(call.args.iter().all(|a| a.len() < 100));
        assert_eq!(stdin_json(&call)["certificates"].as_str().unwrap(), big);
    }

    #[test]
    fn relation_set_with_no_changes_makes_no_call() {
        let t = tools();
        t.relation_set(RelationId(3), true, &Databag::new())
            .unwrap();
        assert!(t.runner().calls().is_empty());
    }

    #[test]
    fn is_leader_argv_and_parse() {
        let t = tools();
        t.runner().respond_ok("is-leader", "true\n");
        t.runner().respond_ok("is-leader", "false\n");
        assert!(t.is_leader().unwrap());
        assert!(!t.is_leader().unwrap());
        assert_eq!(t.runner().calls()[0].argv(), "is-leader --format=json");
    }

    #[test]
    fn non_json_output_is_bad_output() {
        let t = tools();
        t.runner().respond_ok("is-leader", "True\n");
        let err = t.is_leader().unwrap_err();
        assert!(matches!(err, ToolError::BadOutput { ref tool, .. } if tool == "is-leader"));
        assert!(err.to_string().contains("True"), "{err}");
    }

    #[test]
    fn config_get_argv_and_types() {
        let t = tools();
        t.runner().respond_ok(
            "config-get",
            "{\"mode\":\"self-signed\",\"allow-ip-sans\":true,\"certificate-limit\":0}",
        );
        let cfg = t.config_get().unwrap();
        assert_eq!(cfg["mode"], "self-signed");
        assert_eq!(cfg["allow-ip-sans"], true);
        assert_eq!(cfg["certificate-limit"], 0);
        assert_eq!(t.runner().single().argv(), "config-get --format=json");
    }

    #[test]
    fn config_get_null_is_empty_and_list_is_bad() {
        let t = tools();
        t.runner().respond_ok("config-get", "null");
        assert!(t.config_get().unwrap().is_empty());
        t.runner().respond_ok("config-get", "[1]");
        assert!(matches!(t.config_get(), Err(ToolError::BadOutput { .. })));
    }

    #[test]
    fn action_get_argv() {
        let t = tools();
        t.runner().respond_ok("action-get", "{\"relation-id\":3}");
        assert_eq!(t.action_get().unwrap()["relation-id"], 3);
        assert_eq!(t.runner().single().argv(), "action-get --format=json");
    }

    #[test]
    fn action_set_argv() {
        let t = tools();
        let mut results = BTreeMap::new();
        results.insert("ca-certificate".to_string(), "-----BEGIN CERT".to_string());
        results.insert("result.count".to_string(), "2".to_string());
        t.action_set(&results).unwrap();
        let call = t.runner().single();
        assert_eq!(
            call.args,
            vec!["ca-certificate=-----BEGIN CERT", "result.count=2"]
        );
        assert_eq!(call.tool, "action-set");
    }

    fn big_results(n: usize, value_len: usize) -> BTreeMap<String, String> {
        (0..n)
            .map(|i| {
                let c = (b'a' + (i % 26) as u8) as char;
                (format!("part-{i:02}"), c.to_string().repeat(value_len))
            })
            .collect()
    }

    fn argv_bytes(args: &[String]) -> usize {
        args.iter()
            .map(|a| a.len() + 1 + std::mem::size_of::<usize>())
            .sum()
    }

    #[test]
    fn action_set_splits_large_results_over_several_calls() {
        let t = tools();
        // 12 results of 100 KiB: 1.2 MiB in all, over the 1 MiB a call may take.
        let results = big_results(12, 100 * 1024);
        t.action_set(&results).unwrap();
        let calls = t.runner().calls();
        assert_eq!(
            calls.len(),
            2,
            "{:?}",
            calls.iter().map(|c| c.args.len()).collect::<Vec<_>>()
        );
        for call in &calls {
            assert_eq!(call.tool, "action-set");
            assert!(argv_bytes(&call.args) <= MAX_ACTION_SET_ARGV_BYTES);
            assert!(call.args.iter().all(|a| a.len() <= MAX_ACTION_VALUE_BYTES));
        }
        // Every result exactly once, in key order.
        let sent: Vec<String> = calls.iter().flat_map(|c| c.args.clone()).collect();
        let expected: Vec<String> = results.iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(sent, expected);
    }

    #[test]
    fn action_set_small_results_are_one_call() {
        let t = tools();
        t.action_set(&big_results(5, 1000)).unwrap();
        assert_eq!(t.runner().single().args.len(), 5);
    }

    #[test]
    fn action_set_refuses_a_200_kib_value_and_runs_nothing() {
        let t = tools();
        let mut results = big_results(3, 10);
        results.insert("requests".into(), "x".repeat(200 * 1024));
        let err = t.action_set(&results).unwrap_err();
        match &err {
            ToolError::ValueTooLarge {
                tool,
                key,
                bytes,
                max,
            } => {
                assert_eq!((tool.as_str(), key.as_str()), ("action-set", "requests"));
                assert_eq!(*bytes, "requests=".len() + 200 * 1024);
                assert_eq!(*max, MAX_ACTION_VALUE_BYTES);
            }
            other => panic!("{other:?}"),
        }
        assert!(err.to_string().contains("\"requests\""), "{err}");
        assert!(
            t.runner().calls().is_empty(),
            "nothing set, nothing spawned"
        );
        // Just under the limit is fine.
        let mut results = BTreeMap::new();
        results.insert("k".to_string(), "y".repeat(MAX_ACTION_VALUE_BYTES - 2));
        t.action_set(&results).unwrap();
        assert_eq!(t.runner().single().args[0].len(), MAX_ACTION_VALUE_BYTES);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn batches_really_run_where_one_argv_would_not() {
        // The limits are real: a 200 KiB argument cannot even be exec'd...
        let e = SystemRunner
            .run("true", &["x".repeat(200 * 1024)], None)
            .unwrap_err();
        assert!(matches!(e, ToolError::Io { .. }), "{e:?}");
        // ...while every batch of 2.4 MiB of results (over the ~2 MiB argv+env limit) runs.
        struct ViaTrue(Mutex<usize>);
        impl CommandRunner for ViaTrue {
            fn run(
                &self,
                _: &str,
                args: &[String],
                stdin: Option<&[u8]>,
            ) -> Result<Output, ToolError> {
                *self.0.lock().unwrap() += 1;
                SystemRunner.run("true", args, stdin)
            }
        }
        let t = ProcessTools::with_runner(ViaTrue(Mutex::new(0)));
        t.action_set(&big_results(24, 100 * 1024)).unwrap();
        assert_eq!(*t.runner().0.lock().unwrap(), 3);
    }

    #[test]
    fn action_set_replaces_nul_bytes() {
        let t = tools();
        let mut results = BTreeMap::new();
        results.insert("a".to_string(), "x\0y".to_string());
        t.action_set(&results).unwrap();
        assert_eq!(t.runner().single().args, vec!["a=x\u{FFFD}y"]);
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

    #[test]
    fn action_fail_and_log_put_message_after_double_dash() {
        let t = tools();
        t.action_fail("--relation-id is required").unwrap();
        t.action_log("working").unwrap();
        let calls = t.runner().calls();
        assert_eq!(calls[0].tool, "action-fail");
        assert_eq!(calls[0].args, vec!["--", "--relation-id is required"]);
        assert_eq!(calls[1].tool, "action-log");
        assert_eq!(calls[1].args, vec!["--", "working"]);
    }

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
    fn application_version_set_argv() {
        let t = tools();
        t.application_version_set("1.2.3").unwrap();
        assert_eq!(
            t.runner().single().argv(),
            "application-version-set -- 1.2.3"
        );
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

    #[test]
    fn secret_add_passes_content_in_private_files_only() {
        let t = tools();
        t.runner()
            .respond_ok("secret-add", "secret:d0abcdefghijklmnopqr\n");
        let content = bag(&[
            ("private-key", "SECRET-KEY-MATERIAL"),
            ("certificate", "CERT"),
        ]);
        let opts = SecretOptions {
            label: Some("ca".into()),
            description: Some("the CA".into()),
            expire: Some("24h".into()),
            rotate: Some("never".into()),
            owner: SecretOwner::Application,
        };
        let id = t.secret_add(&content, &opts).unwrap();
        assert_eq!(id, "secret:d0abcdefghijklmnopqr");
        let call = t.runner().single();
        assert_eq!(
            call.args[..10],
            [
                "--label",
                "ca",
                "--description",
                "the CA",
                "--expire",
                "24h",
                "--rotate",
                "never",
                "--owner",
                "application"
            ]
        );
        assert_eq!(call.args.len(), 12);
        assert!(call.args.iter().all(|a| !a.contains("SECRET-KEY-MATERIAL")));
        assert_eq!(call.stdin, None);
        // BTreeMap order: certificate, then private-key.
        let mut seen = BTreeMap::new();
        for arg in &call.args[10..] {
            let (key, path) = arg.split_once("#file=").expect("key#file=path");
            let (content, mode) = &call.files[path];
            assert_eq!(*mode, 0o600, "{path}");
            seen.insert(key.to_string(), String::from_utf8(content.clone()).unwrap());
            // Deleted right after the call, with its private directory.
            assert!(!std::path::Path::new(path).exists());
            assert!(!std::path::Path::new(path).parent().unwrap().exists());
        }
        assert_eq!(seen, content);
    }

    #[cfg(unix)]
    #[test]
    fn secret_files_live_in_a_private_directory() {
        // A runner that checks the directory's mode while the tool "runs".
        struct DirCheck;
        impl CommandRunner for DirCheck {
            fn run(&self, _: &str, args: &[String], _: Option<&[u8]>) -> Result<Output, ToolError> {
                use std::os::unix::fs::PermissionsExt;
                let path = args.last().unwrap().split_once("#file=").unwrap().1;
                let dir = std::path::Path::new(path).parent().unwrap();
                let mode = std::fs::metadata(dir).unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, 0o700);
                Ok(Output::ok("secret:x"))
            }
        }
        let t = ProcessTools::with_runner(DirCheck);
        t.secret_add(&bag(&[("key", "v")]), &SecretOptions::default())
            .unwrap();
    }

    #[test]
    fn secret_add_unit_owner_and_files_removed_on_failure() {
        let t = tools();
        t.runner().respond(
            "secret-add",
            Output::fail(2, "ERROR missing secret value or filename\n"),
        );
        let err = t
            .secret_add(
                &bag(&[("token", "t")]),
                &SecretOptions {
                    owner: SecretOwner::Unit,
                    ..SecretOptions::default()
                },
            )
            .unwrap_err();
        assert!(matches!(err, ToolError::Failed { code: 2, .. }), "{err:?}");
        let call = t.runner().single();
        assert_eq!(call.args[..2], ["--owner", "unit"]);
        let path = call.args[2].strip_prefix("token#file=").unwrap();
        assert!(!std::path::Path::new(path).exists());
    }

    #[test]
    fn secret_add_without_id_output_is_bad_output() {
        let t = tools();
        assert!(matches!(
            t.secret_add(&bag(&[("key", "v")]), &SecretOptions::default()),
            Err(ToolError::BadOutput { .. })
        ));
    }

    #[test]
    fn secret_get_argv_forms() {
        let t = tools();
        for _ in 0..4 {
            t.runner()
                .respond_ok("secret-get", "{\"private-key\":\"k\"}");
        }
        let got = t
            .secret_get(&SecretRef::Id("secret:abc".into()), SecretRead::Pinned)
            .unwrap();
        assert_eq!(got, bag(&[("private-key", "k")]));
        t.secret_get(&SecretRef::Label("ca".into()), SecretRead::Peek)
            .unwrap();
        t.secret_get(
            &SecretRef::IdAndLabel {
                id: "secret:abc".into(),
                label: "ca".into(),
            },
            SecretRead::Refresh,
        )
        .unwrap();
        let calls: Vec<String> = t.runner().calls().iter().map(RecordedCall::argv).collect();
        assert_eq!(
            calls,
            vec![
                "secret-get --format=json secret:abc",
                "secret-get --format=json --label ca --peek",
                "secret-get --format=json secret:abc --label ca --refresh",
            ]
        );
    }

    #[test]
    fn secret_set_content_and_metadata() {
        let t = tools();
        t.secret_set(
            "secret:abc",
            Some(&bag(&[("private-key", "NEWKEY")])),
            &SecretOptions {
                label: Some("ca".into()),
                ..SecretOptions::default()
            },
        )
        .unwrap();
        t.secret_set(
            "secret:abc",
            None,
            &SecretOptions {
                rotate: Some("daily".into()),
                ..SecretOptions::default()
            },
        )
        .unwrap();
        let calls = t.runner().calls();
        assert_eq!(calls[0].args[..3], ["secret:abc", "--label", "ca"]);
        let path = calls[0].args[3].strip_prefix("private-key#file=").unwrap();
        assert_eq!(calls[0].files[path].0, b"NEWKEY");
        assert_eq!(calls[0].files[path].1, 0o600);
        assert!(calls
            .iter()
            .all(|c| c.args.iter().all(|a| !a.contains("NEWKEY"))));
        assert_eq!(calls[1].argv(), "secret-set secret:abc --rotate daily");
        assert!(calls[1].files.is_empty());
    }

    #[test]
    fn secret_info_get_fills_id() {
        let t = tools();
        let out = "{\"d0abcdefghijklmnopqr\":{\"revision\":2,\"label\":\"ca\",\"owner\":\"application\",\"rotation\":\"never\",\"expiry\":\"2027-01-01T00:00:00Z\",\"access\":[]}}";
        t.runner().respond_ok("secret-info-get", out);
        t.runner().respond_ok("secret-info-get", out);
        let info = t.secret_info_get(&SecretRef::Label("ca".into())).unwrap();
        assert_eq!(
            info,
            SecretInfo {
                id: "d0abcdefghijklmnopqr".into(),
                revision: 2,
                label: Some("ca".into()),
                owner: Some("application".into()),
                description: None,
                rotation: Some("never".into()),
                expiry: Some("2027-01-01T00:00:00Z".into()),
            }
        );
        t.secret_info_get(&SecretRef::IdAndLabel {
            id: "secret:d0abcdefghijklmnopqr".into(),
            label: "ca".into(),
        })
        .unwrap();
        let calls: Vec<String> = t.runner().calls().iter().map(RecordedCall::argv).collect();
        assert_eq!(
            calls,
            vec![
                "secret-info-get --format=json --label ca",
                "secret-info-get --format=json secret:d0abcdefghijklmnopqr",
            ]
        );
    }

    #[test]
    fn secret_info_get_empty_map_is_bad_output() {
        let t = tools();
        t.runner().respond_ok("secret-info-get", "{}");
        assert!(matches!(
            t.secret_info_get(&SecretRef::Label("ca".into())),
            Err(ToolError::BadOutput { .. })
        ));
    }

    #[test]
    fn secret_remove_argv() {
        let t = tools();
        t.secret_remove("secret:abc", None).unwrap();
        t.secret_remove("secret:abc", Some(3)).unwrap();
        let calls: Vec<String> = t.runner().calls().iter().map(RecordedCall::argv).collect();
        assert_eq!(
            calls,
            vec![
                "secret-remove secret:abc",
                "secret-remove secret:abc --revision 3"
            ]
        );
    }

    #[test]
    fn secret_ids_argv_and_null() {
        let t = tools();
        t.runner().respond_ok("secret-ids", "null\n");
        t.runner().respond_ok("secret-ids", "[\"d0a\",\"d0b\"]");
        assert!(t.secret_ids().unwrap().is_empty());
        assert_eq!(t.secret_ids().unwrap(), vec!["d0a", "d0b"]);
        assert_eq!(t.runner().calls()[0].argv(), "secret-ids --format=json");
    }

    #[test]
    fn secret_grant_argv() {
        let t = tools();
        t.secret_grant("secret:abc", RelationId(3), None).unwrap();
        t.secret_grant("secret:abc", RelationId(3), Some("req/1"))
            .unwrap();
        let calls: Vec<String> = t.runner().calls().iter().map(RecordedCall::argv).collect();
        assert_eq!(
            calls,
            vec![
                "secret-grant secret:abc --relation 3",
                "secret-grant secret:abc --relation 3 --unit req/1",
            ]
        );
    }

    #[test]
    fn errors_are_classified_from_stderr() {
        let t = tools();
        t.runner().respond(
            "relation-get",
            Output::fail(
                2,
                "ERROR invalid value \"certificates:9\" for option -r: relation not found\n",
            ),
        );
        t.runner().respond(
            "relation-set",
            Output::fail(1, "ERROR cannot write relation settings\n"),
        );
        t.runner().respond(
            "secret-get",
            Output::fail(1, "ERROR secret \"x\" not found\n"),
        );
        t.runner().respond(
            "status-set",
            Output::fail(1, "ERROR this unit is not the leader\n"),
        );
        t.runner().respond(
            "action-set",
            Output::fail(2, "ERROR cannot set reserved action key \"stdout\"\n"),
        );

        let e = t
            .relation_get(RelationId(9), &Member::Unit("r/0".into()))
            .unwrap_err();
        assert!(
            matches!(e, ToolError::RelationNotFound { ref stderr, .. } if stderr.contains("certificates:9")),
            "{e:?}"
        );
        let e = t
            .relation_set(RelationId(3), true, &bag(&[("a", "b")]))
            .unwrap_err();
        assert!(matches!(e, ToolError::NotLeader { .. }), "{e:?}");
        let e = t
            .secret_get(&SecretRef::Id("x".into()), SecretRead::Pinned)
            .unwrap_err();
        assert!(matches!(e, ToolError::SecretNotFound { .. }), "{e:?}");
        assert!(e.is_not_found());
        let e = t
            .status_set(StatusScope::Application, StatusName::Active, "")
            .unwrap_err();
        assert!(matches!(e, ToolError::NotLeader { .. }), "{e:?}");
        let mut r = BTreeMap::new();
        r.insert("stdout".to_string(), "x".to_string());
        let e = t.action_set(&r).unwrap_err();
        match e {
            ToolError::Failed { tool, code, stderr } => {
                assert_eq!((tool.as_str(), code), ("action-set", 2));
                assert_eq!(stderr, "ERROR cannot set reserved action key \"stdout\"");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn system_runner_missing_tool_is_tool_missing() {
        let e = SystemRunner
            .run("juju-hook-test-no-such-tool", &[], None)
            .unwrap_err();
        assert!(
            matches!(e, ToolError::ToolMissing { ref tool } if tool == "juju-hook-test-no-such-tool")
        );
    }

    #[test]
    fn system_runner_pipes_large_stdin_and_reports_exit_codes() {
        let big: Vec<u8> = (0..400 * 1024).map(|i| b'a' + (i % 26) as u8).collect();
        let out = SystemRunner.run("cat", &[], Some(&big)).unwrap();
        assert_eq!(out.code, 0);
        assert_eq!(out.stdout, big);
        let out = SystemRunner
            .run(
                "sh",
                &["-c".into(), "echo 'ERROR boom' >&2; exit 3".into()],
                None,
            )
            .unwrap();
        assert_eq!(out.code, 3);
        assert_eq!(out.stderr, b"ERROR boom\n");
        // A tool that ignores its stdin does not make the call fail.
        let out = SystemRunner.run("true", &[], Some(&big)).unwrap();
        assert_eq!(out.code, 0);
    }
}
