//! The hook-tool server: one JSON request line per connection, one JSON response line.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine;

use crate::client::{Request, Response};
use crate::state::State;
use crate::tools::FaultHit;

pub(crate) fn spawn(
    listener: UnixListener,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            let Ok(conn) = conn else { continue };
            let state = state.clone();
            std::thread::spawn(move || handle(conn, &state));
        }
    })
}

fn handle(conn: UnixStream, state: &Mutex<State>) {
    let mut reader = BufReader::new(match conn.try_clone() {
        Ok(c) => c,
        Err(_) => return,
    });
    let mut writer = conn;
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let resp = match serde_json::from_str::<Request>(&line) {
            Err(e) => Response::error(1, format!("bad request: {e}")),
            Ok(req) => {
                let stdin = match req
                    .stdin
                    .as_deref()
                    .map(|s| base64::engine::general_purpose::STANDARD.decode(s))
                {
                    Some(Err(e)) => {
                        let r = Response::error(1, format!("bad request: stdin: {e}"));
                        let _ = send(&mut writer, &r);
                        continue;
                    }
                    Some(Ok(b)) => Some(b),
                    None => None,
                };
                let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
                match crate::tools::fault_hit(&mut st, &req.context_id, &req.command, &req.args) {
                    Some(FaultHit::Error(r)) => {
                        drop(st);
                        let _ = send(&mut writer, &r);
                        continue;
                    }
                    Some(FaultHit::Kill) => {
                        drop(st);
                        kill_hook(state, &req.context_id);
                        return;
                    }
                    None => {}
                }
                crate::tools::run(
                    &mut st,
                    &req.context_id,
                    &PathBuf::from(&req.cwd),
                    &req.command,
                    &req.args,
                    stdin.as_deref(),
                )
            }
        };
        if send(&mut writer, &resp).is_err() {
            return;
        }
    }
}

/// SIGKILL the process group of the hook running context `ctx_id` (an injected crash). The pid is
/// recorded just after the spawn, so wait for it briefly if the call came first.
fn kill_hook(state: &Mutex<State>, ctx_id: &str) {
    for _ in 0..5000 {
        let pid = {
            let st = state.lock().unwrap_or_else(|e| e.into_inner());
            match st.contexts.get(ctx_id) {
                None => return,
                Some(c) => c.pid,
            }
        };
        if let Some(pid) = pid {
            // SAFETY: kill(2) with a negative pid signals that process group; no memory involved.
            unsafe {
                libc::kill(-(pid as libc::pid_t), libc::SIGKILL);
            }
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

fn send(w: &mut UnixStream, r: &Response) -> std::io::Result<()> {
    let mut s = serde_json::to_string(r).unwrap_or_default();
    s.push('\n');
    w.write_all(s.as_bytes())?;
    w.flush()
}
