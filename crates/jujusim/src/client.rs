//! The multi-call hook-tool client (`jujusim` invoked as `relation-get`, `status-set`, ...).
//!
//! Like Juju's `jujuc`: sends `{context_id, cwd, command, args}` to the agent socket; if the server
//! answers that the command needs stdin, re-sends with all of stdin; prints stdout/stderr and exits
//! with the returned code.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;

use base64::Engine;
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
pub struct Request {
    pub context_id: String,
    pub cwd: String,
    pub command: String,
    pub args: Vec<String>,
    /// Base64 of all of stdin, sent only after the server asked for it.
    #[serde(default)]
    pub stdin: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, Default)]
pub struct Response {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    #[serde(default)]
    pub needs_stdin: bool,
}

impl Response {
    pub fn error(code: i32, msg: impl std::fmt::Display) -> Response {
        Response {
            code,
            stdout: String::new(),
            stderr: format!("ERROR {msg}\n"),
            needs_stdin: false,
        }
    }
}

fn call(
    stream: &mut UnixStream,
    reader: &mut impl BufRead,
    req: &Request,
) -> Result<Response, String> {
    let mut s = serde_json::to_string(req).map_err(|e| e.to_string())?;
    s.push('\n');
    stream
        .write_all(s.as_bytes())
        .map_err(|e| format!("cannot send request: {e}"))?;
    let mut line = String::new();
    reader
        .read_line(&mut line)
        .map_err(|e| format!("cannot read response: {e}"))?;
    serde_json::from_str(&line).map_err(|e| format!("bad response {line:?}: {e}"))
}

/// Run as hook tool `command`; returns the exit code.
pub fn main(command: &str, args: Vec<String>) -> i32 {
    let addr = std::env::var("JUJU_AGENT_SOCKET_ADDRESS").unwrap_or_default();
    let context_id = std::env::var("JUJU_CONTEXT_ID").unwrap_or_default();
    if addr.is_empty() || context_id.is_empty() {
        eprintln!("ERROR JUJU_AGENT_SOCKET_ADDRESS and JUJU_CONTEXT_ID must be set (run {command} from a hook)");
        return 1;
    }
    let cwd = std::env::current_dir()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let mut stream = match UnixStream::connect(&addr) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ERROR cannot connect to agent socket {addr}: {e}");
            return 1;
        }
    };
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ERROR {e}");
            return 1;
        }
    });
    let mut req = Request {
        context_id,
        cwd,
        command: command.to_string(),
        args,
        stdin: None,
    };
    let mut resp = match call(&mut stream, &mut reader, &req) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ERROR {e}");
            return 1;
        }
    };
    if resp.needs_stdin {
        let mut buf = Vec::new();
        if let Err(e) = std::io::stdin().read_to_end(&mut buf) {
            eprintln!("ERROR reading stdin: {e}");
            return 1;
        }
        req.stdin = Some(base64::engine::general_purpose::STANDARD.encode(&buf));
        resp = match call(&mut stream, &mut reader, &req) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("ERROR {e}");
                return 1;
            }
        };
    }
    let _ = std::io::stdout().write_all(resp.stdout.as_bytes());
    let _ = std::io::stderr().write_all(resp.stderr.as_bytes());
    let _ = std::io::stdout().flush();
    resp.code
}
