//! The `Model` driver: deploy, relate, run hooks, settle.
//!
//! This file holds the `Model` itself (its directories, socket server and settings); each
//! submodule adds one group of its methods.

mod actions;
mod charm_files;
mod commit;
mod deploy;
mod hook_env;
mod process;
mod queries;
mod relations;
mod run_hook;
mod secrets;
mod settle;
mod status;
mod teardown;
mod units;
mod user_secrets;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use crate::error::SimError;
use crate::state::{JujuVersion, State};
use crate::tools::TOOL_NAMES;
use crate::util;
use crate::views::{Fault, HookRun};

/// The Juju version a new model simulates: the oldest the charm supports (`metadata.yaml`
/// `assumes: juju >= 3.1`), whose secret content limits are the strictest. Change it with
/// [`Model::set_juju_version`].
pub const DEFAULT_JUJU_VERSION: &str = "3.1.0";

/// Find the `jujusim` binary: `$JUJUSIM_BIN`, else next to or above the current executable
/// (test binaries live in `target/<profile>/deps/`).
pub fn find_jujusim_bin() -> Result<PathBuf, SimError> {
    if let Some(p) = std::env::var_os("JUJUSIM_BIN") {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Ok(p);
        }
        return Err(SimError::Setup(format!(
            "JUJUSIM_BIN={} does not exist",
            p.display()
        )));
    }
    if let Ok(exe) = std::env::current_exe() {
        let mut dir = exe.parent().map(Path::to_path_buf);
        for _ in 0..3 {
            let Some(d) = dir else { break };
            let cand = d.join("jujusim");
            if cand.is_file() {
                return Ok(cand);
            }
            dir = d.parent().map(Path::to_path_buf);
        }
    }
    Err(SimError::Setup(
        "cannot find the jujusim binary (hook-tool client): run `cargo build -p jujusim` or set JUJUSIM_BIN"
            .into(),
    ))
}

/// A simulated Juju model. Dropping it stops the hook-tool server and deletes its directory.
pub struct Model {
    state: Arc<Mutex<State>>,
    root: tempfile::TempDir,
    socket: PathBuf,
    tools_dir: PathBuf,
    runs: Vec<HookRun>,
    max_hooks: usize,
    stop: Arc<AtomicBool>,
    server: Option<std::thread::JoinHandle<()>>,
    next_action: u32,
    hook_timeout: Duration,
    /// An explicit `set_leadership_mode`; else the mode follows the Juju version.
    leadership_override: Option<LeadershipMode>,
    /// `set_hook_clock(true)`: the clock shim every hook and action process preloads.
    hook_clock: Option<PathBuf>,
}

/// How leadership changes reach the units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeadershipMode {
    /// Juju 3.x: non-leaders run `leader-settings-changed` when the leader settings changed since
    /// they last ran it, a deposed leader included (`leadership/resolver.go`, 3.x).
    Juju3,
    /// Juju 4.x: there is no `leader-settings-changed` (`internal/worker/uniter/leadership/resolver.go`
    /// on the 4.x line only accepts or resigns leadership).
    Juju4,
}

impl Drop for Model {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = std::os::unix::net::UnixStream::connect(&self.socket);
        if let Some(h) = self.server.take() {
            let _ = h.join();
        }
        if !self.socket.starts_with(self.root.path()) {
            let _ = std::fs::remove_file(&self.socket);
        }
    }
}

fn io<E: std::fmt::Display>(what: impl std::fmt::Display) -> impl FnOnce(E) -> SimError {
    move |e| SimError::Io(format!("{what}: {e}"))
}

impl Model {
    /// A new empty model: temp root dir, tools dir, socket server thread, clock = real now.
    pub fn new() -> Result<Model, SimError> {
        let bin = find_jujusim_bin()?;
        let root = tempfile::Builder::new()
            .prefix("jujusim-")
            .tempdir()
            .map_err(io("creating model dir"))?;
        let tools_dir = root.path().join("tools");
        std::fs::create_dir_all(&tools_dir).map_err(io(tools_dir.display()))?;
        for name in TOOL_NAMES {
            std::os::unix::fs::symlink(&bin, tools_dir.join(name)).map_err(io(name))?;
        }
        let mut socket = root.path().join("agent.socket");
        // Unix socket paths are limited to ~108 bytes; fall back to a short path under /tmp.
        if socket.as_os_str().len() > 100 {
            socket = PathBuf::from(format!(
                "/tmp/jujusim-{}.sock",
                util::hex(&util::rand_bytes(6))
            ));
        }
        let state = Arc::new(Mutex::new(State {
            model_uuid: util::uuid4(),
            model_name: "sim".into(),
            apps: BTreeMap::new(),
            units: BTreeMap::new(),
            relations: BTreeMap::new(),
            secrets: BTreeMap::new(),
            contexts: HashMap::new(),
            clock: SystemTime::now(),
            next_rel: 0,
            next_machine: 0,
            juju_version: JujuVersion::parse(DEFAULT_JUJU_VERSION).expect("version"),
            leadership_mode: 3,
            auto_retry_hooks: true,
            faults: BTreeMap::new(),
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let listener =
            std::os::unix::net::UnixListener::bind(&socket).map_err(io(socket.display()))?;
        let server = crate::server::spawn(listener, state.clone(), stop.clone());
        let mut m = Model {
            state,
            root,
            socket,
            tools_dir,
            runs: Vec::new(),
            max_hooks: 2000,
            stop,
            server: Some(server),
            next_action: 1,
            hook_timeout: Duration::from_secs(600),
            leadership_override: None,
            hook_clock: None,
        };
        // `JUJUSIM_LEADERSHIP=3|4` sets the default leadership mode of every model (so a whole
        // test suite can be run under Juju 4.x leadership rules).
        if let Some(v) = std::env::var_os("JUJUSIM_LEADERSHIP") {
            match v.to_str().map(str::trim) {
                Some("3") => m.set_leadership_mode(LeadershipMode::Juju3),
                Some("4") => m.set_leadership_mode(LeadershipMode::Juju4),
                _ => {
                    return Err(SimError::Setup(format!(
                        "JUJUSIM_LEADERSHIP={v:?}: expected 3 or 4"
                    )))
                }
            }
        }
        Ok(m)
    }

    fn st(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Maximum number of hooks one `settle` may run before it reports a loop (default 2000).
    pub fn set_max_hooks(&mut self, n: usize) {
        self.max_hooks = n;
    }

    /// Kill a hook that runs longer than this (default 600 s); it counts as failed.
    pub fn set_hook_timeout(&mut self, t: Duration) {
        self.hook_timeout = t;
    }

    /// The Juju version this model simulates (default [`DEFAULT_JUJU_VERSION`]): hooks see it as
    /// `JUJU_VERSION`, it selects the secret content size limits, and, unless
    /// `set_leadership_mode` overrode it, the leadership mode (major 4 or more = `Juju4`).
    pub fn set_juju_version(&mut self, version: &str) -> Result<(), SimError> {
        let v = JujuVersion::parse(version)
            .filter(|v| v.0 >= 3)
            .ok_or_else(|| {
                SimError::Invalid(format!("juju version {version:?} not valid (3.x or later)"))
            })?;
        let mut st = self.st();
        if self.leadership_override.is_none() {
            st.leadership_mode = if v.0 >= 4 { 4 } else { 3 };
        }
        st.juju_version = v;
        Ok(())
    }

    pub fn juju_version(&self) -> String {
        self.st().juju_version.to_string()
    }

    /// Force the leadership mode regardless of the Juju version.
    pub fn set_leadership_mode(&mut self, mode: LeadershipMode) {
        self.leadership_override = Some(mode);
        self.st().leadership_mode = match mode {
            LeadershipMode::Juju3 => 3,
            LeadershipMode::Juju4 => 4,
        };
    }

    pub fn leadership_mode(&self) -> LeadershipMode {
        if self.st().leadership_mode >= 4 {
            LeadershipMode::Juju4
        } else {
            LeadershipMode::Juju3
        }
    }

    /// Whether hook and action processes see the simulated clock (default off: they see the
    /// machine's real clock, as every test did before this switch). On, each process the model
    /// starts (and everything it runs, hook tools and Python charms included) gets
    /// `LD_PRELOAD=<the jujusim clock shim>` and `JUJUSIM_CLOCK_OFFSET_NS=<model clock − real
    /// time at its launch>`, so its wall-clock reads through libc (`SystemTime::now()`,
    /// `time.time()`, `datetime.now()`, `date`) return [`Model::now`] plus the real time
    /// elapsed since it started; monotonic clocks are untouched. Statically linked programs
    /// and raw `syscall`/vDSO reads bypass it. Fails only if the shim cannot be written (to
    /// `$TMPDIR/jujusim-<uid>/`).
    pub fn set_hook_clock(&mut self, on: bool) -> Result<(), SimError> {
        self.hook_clock = if on {
            Some(crate::simclock::shim_path().map_err(SimError::Setup)?)
        } else {
            None
        };
        Ok(())
    }

    /// Whether hook processes see the simulated clock ([`Model::set_hook_clock`]).
    pub fn hook_clock(&self) -> bool {
        self.hook_clock.is_some()
    }

    /// Model config `automatically-retry-hooks` (default true): a failed hook is retried by the
    /// agent with back-off on the simulated clock (5 s doubling up to 5 min).
    pub fn set_automatically_retry_hooks(&mut self, on: bool) {
        self.st().auto_retry_hooks = on;
    }

    /// Inject a fault into the next hook or action `unit` runs: its `at_call`-th hook-tool call
    /// (from 1) fails with `ERROR connection is shut down` (`FaultKind::ToolError`) or kills the
    /// hook process (`FaultKind::Kill`). Either way a hook that then exits non-zero commits
    /// nothing and puts the unit in error (§3.4, §3.5). The fault is used up by that run, fired or
    /// not (a run with fewer calls); `HookRun::fault` shows whether it fired. A later call
    /// replaces a fault not yet used.
    pub fn inject_fault(&mut self, unit: &str, fault: Fault) -> Result<(), SimError> {
        if fault.at_call == 0 {
            return Err(SimError::Invalid("fault at_call counts from 1".into()));
        }
        let mut st = self.st();
        if !st.units.contains_key(unit) {
            return Err(SimError::no_unit(unit));
        }
        st.faults.insert(unit.to_string(), fault);
        Ok(())
    }

    /// The model's root directory (tools dir, unit dirs, socket).
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    pub fn model_uuid(&self) -> String {
        self.st().model_uuid.clone()
    }

    /// The hook-tool socket (`JUJU_AGENT_SOCKET_ADDRESS`).
    pub fn socket_path(&self) -> &Path {
        &self.socket
    }

    pub fn tools_dir(&self) -> &Path {
        &self.tools_dir
    }
}
