//! Running one charm process: retries on "text file busy", a timeout, and output capture that
//! does not wait for background processes holding the pipes.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

/// Run `exe` in `cwd` with exactly `env`, in a process group of its own; `spawned` gets its pid
/// (= the group id) as soon as it runs. Returns (exit code, stdout, stderr). A process running
/// longer than `timeout` is killed and counts as exit code -1, as does one killed by a signal.
pub(super) fn run_process(
    exe: &Path,
    cwd: &Path,
    env: &[(String, String)],
    timeout: Duration,
    spawned: &dyn Fn(u32),
) -> Result<(i32, String, String), String> {
    let mut cmd = Command::new(exe);
    // Its own group, so an injected crash (`FaultKind::Kill`) kills the hook and its tool calls.
    cmd.process_group(0);
    cmd.env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = spawn_retrying(&mut cmd, exe)?;
    spawned(child.id());
    // Read both pipes on threads; a hook that leaves a background process holding them open
    // must not hang the simulator, so stop waiting shortly after the hook itself exits.
    let rx_out = read_on_thread(child.stdout.take().expect("stdout"));
    let rx_err = read_on_thread(child.stderr.take().expect("stderr"));
    let status = wait_until(&mut child, Instant::now() + timeout, exe)?;
    let grace = Instant::now() + Duration::from_secs(2);
    let left = || grace.saturating_duration_since(Instant::now());
    let o = String::from_utf8_lossy(&rx_out.recv_timeout(left()).unwrap_or_default()).into_owned();
    let mut e =
        String::from_utf8_lossy(&rx_err.recv_timeout(left()).unwrap_or_default()).into_owned();
    let code = match status {
        Some(s) => s.code().unwrap_or(-1),
        None => {
            e.push_str("jujusim: hook timed out and was killed\n");
            -1
        }
    };
    Ok((code, o, e))
}

/// Spawn `cmd`. A charm file copied a moment ago can be briefly "text file busy" when other
/// threads of this (test) process fork at the same time: retry for a short while.
fn spawn_retrying(cmd: &mut Command, exe: &Path) -> Result<Child, String> {
    let mut tries = 0;
    loop {
        match cmd.spawn() {
            Ok(c) => return Ok(c),
            Err(e) if e.raw_os_error() == Some(26) && tries < 100 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(format!("cannot run {}: {e}", exe.display())),
        }
    }
}

/// Read a pipe to its end on a thread; the bytes arrive on the returned channel.
fn read_on_thread(mut pipe: impl Read + Send + 'static) -> Receiver<Vec<u8>> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = pipe.read_to_end(&mut b);
        let _ = tx.send(b);
    });
    rx
}

/// Wait for `child` to exit; past `deadline` kill it and return `None`.
fn wait_until(
    child: &mut Child,
    deadline: Instant,
    exe: &Path,
) -> Result<Option<ExitStatus>, String> {
    loop {
        match child.try_wait() {
            Ok(Some(s)) => return Ok(Some(s)),
            Ok(None) if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Ok(None);
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(2)),
            Err(e) => return Err(format!("waiting for {}: {e}", exe.display())),
        }
    }
}
