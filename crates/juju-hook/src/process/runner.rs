//! Starting one hook-tool process: the [`CommandRunner`] seam every [`super::ProcessTools`] call goes
//! through, the [`SystemRunner`] that really spawns the tool, and the [`Output`] it leaves behind.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::error::ToolError;

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

/// A borrowed runner runs like the runner.
impl<R: CommandRunner + ?Sized> CommandRunner for &R {
    fn run(&self, tool: &str, args: &[String], stdin: Option<&[u8]>) -> Result<Output, ToolError> {
        (**self).run(tool, args, stdin)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
