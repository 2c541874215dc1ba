//! The test runner: [`RecordingRunner`] records every call (argv, stdin and the `key#file=` files as
//! they were during the call) and answers with canned [`Output`]s, so unit tests can check exactly
//! what [`super::ProcessTools`] would have run.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use super::runner::{CommandRunner, Output};
use crate::error::ToolError;

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
