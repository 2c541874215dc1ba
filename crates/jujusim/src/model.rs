//! The `Model` driver: deploy, relate, run hooks, settle.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Map, Value};

use crate::meta::{self, Role};
use crate::state::*;
use crate::util;
use crate::{
    ActionResult, Databag, HookRun, SecretView, SettleReport, SimError, UnitStatus, TOOL_NAMES,
};

/// An action's context with its stdout and stderr.
type ActionOutput = (ActionCtx, String, String);

pub const JUJU_VERSION: &str = "3.6.8";
const SYSTEM_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

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

/// Copy a charm dir; symlinks are recreated pointing at absolute targets.
fn copy_dir(src: &Path, dst: &Path) -> Result<(), SimError> {
    std::fs::create_dir_all(dst).map_err(io(dst.display()))?;
    for entry in std::fs::read_dir(src).map_err(io(src.display()))? {
        let entry = entry.map_err(io(src.display()))?;
        let from = entry.path();
        let to = dst.join(entry.file_name());
        let ft = entry.file_type().map_err(io(from.display()))?;
        if ft.is_symlink() {
            let target = std::fs::read_link(&from).map_err(io(from.display()))?;
            let abs = if target.is_absolute() {
                target
            } else {
                src.join(target)
            };
            std::os::unix::fs::symlink(&abs, &to).map_err(io(to.display()))?;
        } else if ft.is_dir() {
            if entry.file_name() == ".git" || entry.file_name() == "target" {
                continue;
            }
            copy_dir(&from, &to)?;
        } else {
            std::fs::copy(&from, &to).map_err(io(from.display()))?;
        }
    }
    Ok(())
}

fn extract_zip(zip_path: &Path, dst: &Path) -> Result<(), SimError> {
    let f = std::fs::File::open(zip_path).map_err(io(zip_path.display()))?;
    let mut z = zip::ZipArchive::new(f).map_err(io(zip_path.display()))?;
    for i in 0..z.len() {
        let mut file = z.by_index(i).map_err(io(zip_path.display()))?;
        let Some(rel) = file.enclosed_name() else {
            continue;
        };
        let out = dst.join(&rel);
        if file.is_dir() {
            std::fs::create_dir_all(&out).map_err(io(out.display()))?;
            continue;
        }
        if let Some(p) = out.parent() {
            std::fs::create_dir_all(p).map_err(io(p.display()))?;
        }
        let mut buf = Vec::new();
        file.read_to_end(&mut buf).map_err(io(zip_path.display()))?;
        std::fs::write(&out, &buf).map_err(io(out.display()))?;
        let mut mode = file.unix_mode().unwrap_or(0o644) & 0o7777;
        // Juju forces u+x on files under hooks/ named after hooks.
        if rel.starts_with("hooks") {
            mode |= 0o100;
        }
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(mode))
            .map_err(io(out.display()))?;
    }
    Ok(())
}

fn parse_endpoint_arg(s: &str) -> (&str, Option<&str>) {
    match s.split_once(':') {
        Some((a, e)) => (a, Some(e)),
        None => (s, None),
    }
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
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let listener =
            std::os::unix::net::UnixListener::bind(&socket).map_err(io(socket.display()))?;
        let server = crate::server::spawn(listener, state.clone(), stop.clone());
        Ok(Model {
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
        })
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

    /// Deploy `app` from a charm directory or `.charm` zip; queues the deploy hooks. The first unit
    /// is the leader.
    pub fn deploy(
        &mut self,
        app: &str,
        charm: &Path,
        units: usize,
        config: Map<String, Value>,
    ) -> Result<(), SimError> {
        self.check_new_app(app)?;
        let src = if charm.is_file() {
            let dst = self.root.path().join("charms").join(app);
            extract_zip(charm, &dst)?;
            dst
        } else if charm.is_dir() {
            charm.to_path_buf()
        } else {
            return Err(SimError::Charm(format!(
                "charm {} does not exist",
                charm.display()
            )));
        };
        let meta_text = std::fs::read_to_string(src.join("metadata.yaml"))
            .map_err(|e| SimError::Charm(format!("charm {}: metadata.yaml: {e}", src.display())))?;
        let metadata = meta::parse_metadata(&meta_text)?;
        let config_defs = meta::parse_config(&meta::read_optional(&src, "config.yaml")?)?;
        let actions = meta::parse_actions(&meta::read_optional(&src, "actions.yaml")?)?;
        let mut a = App {
            charm_name: metadata.name.clone(),
            meta: metadata,
            config_defs,
            config: Map::new(),
            actions,
            leader: None,
            status: None,
            version: String::new(),
            next_unit: 0,
            puppet: false,
            charm_src: Some(src),
            leader_settings: Databag::new(),
        };
        a.config = validate_config(&a, config)?;
        self.add_app(app, a, units)
    }

    /// An application with no charm code: it never runs hooks; write its bags with
    /// `set_relation_data`.
    pub fn deploy_puppet(
        &mut self,
        app: &str,
        metadata_yaml: &str,
        units: usize,
    ) -> Result<(), SimError> {
        self.check_new_app(app)?;
        let metadata = meta::parse_metadata(metadata_yaml)?;
        let a = App {
            charm_name: metadata.name.clone(),
            meta: metadata,
            config_defs: BTreeMap::new(),
            config: Map::new(),
            actions: BTreeMap::new(),
            leader: None,
            status: Some(("active".into(), String::new())),
            version: String::new(),
            next_unit: 0,
            puppet: true,
            charm_src: None,
            leader_settings: Databag::new(),
        };
        self.add_app(app, a, units)
    }

    fn check_new_app(&self, app: &str) -> Result<(), SimError> {
        if app.is_empty() || app.contains('/') || app.contains(':') {
            return Err(SimError::Invalid(format!(
                "invalid application name {app:?}"
            )));
        }
        if self.st().apps.contains_key(app) {
            return Err(SimError::Invalid(format!(
                "application {app:?} already exists"
            )));
        }
        Ok(())
    }

    fn add_app(&mut self, app: &str, a: App, units: usize) -> Result<(), SimError> {
        let peers: Vec<String> = a
            .meta
            .endpoints
            .iter()
            .filter(|e| e.role == Role::Peers)
            .map(|e| e.name.clone())
            .collect();
        let interfaces: BTreeMap<String, String> = a
            .meta
            .endpoints
            .iter()
            .map(|e| (e.name.clone(), e.interface.clone()))
            .collect();
        {
            let mut st = self.st();
            st.apps.insert(app.to_string(), a);
            for p in peers {
                let id = st.next_rel;
                st.next_rel += 1;
                st.relations.insert(
                    id,
                    Relation {
                        id,
                        ends: [(app.to_string(), p.clone()), (app.to_string(), p.clone())],
                        interface: interfaces.get(&p).cloned().unwrap_or_default(),
                        peer: true,
                        bags: BTreeMap::from([(app.to_string(), Databag::new())]),
                        dying: false,
                    },
                );
            }
        }
        for _ in 0..units {
            self.add_unit(app)?;
        }
        Ok(())
    }

    /// Add a unit to `app`; returns its name. Queues its deploy hooks and the joins on both sides.
    pub fn add_unit(&mut self, app: &str) -> Result<String, SimError> {
        let mut st = self.st();
        let (n, puppet, src) = {
            let a = st
                .apps
                .get_mut(app)
                .ok_or_else(|| SimError::NotFound(format!("application {app:?}")))?;
            let n = a.next_unit;
            a.next_unit += 1;
            (n, a.puppet, a.charm_src.clone())
        };
        let unit = format!("{app}/{n}");
        let machine = st.next_machine;
        st.next_machine += 1;
        let address = format!("10.0.0.{}", machine + 10);
        let charm_dir = self
            .root
            .path()
            .join("agents")
            .join(format!("unit-{app}-{n}"))
            .join("charm");
        if let Some(src) = &src {
            copy_dir(src, &charm_dir)?;
        } else {
            std::fs::create_dir_all(&charm_dir).map_err(io(charm_dir.display()))?;
        }
        let now = st.clock;
        st.units.insert(
            unit.clone(),
            Unit {
                name: unit.clone(),
                app: app.to_string(),
                charm_dir,
                address: address.clone(),
                machine,
                status: if puppet {
                    ("active".into(), String::new())
                } else {
                    ("waiting".into(), "agent initialising".into())
                },
                status_set: false,
                status_since: now,
                error: None,
                queue: VecDeque::new(),
                state: Databag::new(),
                ports: BTreeSet::new(),
                logs: Vec::new(),
                started: puppet,
                dying: false,
                rels: BTreeMap::new(),
            },
        );
        let became_leader = {
            let a = st.apps.get_mut(app).expect("app");
            if a.leader.is_none() {
                a.leader = Some(unit.clone());
                true
            } else {
                false
            }
        };
        st.push(&unit, Event::plain("install"));
        // Enter scope of every live relation of the app.
        let rels: Vec<u32> = st
            .relations
            .values()
            .filter(|r| r.involves(app) && !r.dying)
            .map(|r| r.id)
            .collect();
        let mut joins: Vec<(u32, Vec<String>)> = Vec::new();
        for id in &rels {
            let r = &st.relations[id];
            let remote_app = r.remote_app(app).unwrap_or(app).to_string();
            let mut remotes: Vec<String> = st
                .live_app_units(&remote_app)
                .into_iter()
                .filter(|u| *u != unit)
                .collect();
            sort_units(&mut remotes);
            let bag = Databag::from([
                ("private-address".to_string(), address.clone()),
                ("ingress-address".to_string(), address.clone()),
                ("egress-subnets".to_string(), format!("{address}/32")),
            ]);
            let r = st.relations.get_mut(id).expect("rel");
            r.bags.insert(unit.clone(), bag);
            st.units.get_mut(&unit).expect("unit").rels.insert(
                *id,
                UnitRel {
                    members: BTreeSet::new(),
                    known: remotes.iter().cloned().collect(),
                    broken: false,
                },
            );
            st.push_created(&unit, *id);
            joins.push((*id, remotes));
        }
        if became_leader {
            st.push(&unit, Event::plain("leader-elected"));
        } else {
            st.push(&unit, Event::plain("leader-settings-changed"));
        }
        st.push(&unit, Event::plain("config-changed"));
        st.push(&unit, Event::plain("start"));
        for (id, remotes) in joins {
            let r = &st.relations[&id];
            let remote_app = r.remote_app(app).unwrap_or(app).to_string();
            let remote_app_bag_set = !r.peer
                && r.bags
                    .get(&remote_app)
                    .map(|b| !b.is_empty())
                    .unwrap_or(false);
            let peer_app_bag_set =
                r.peer && r.bags.get(app).map(|b| !b.is_empty()).unwrap_or(false);
            if remote_app_bag_set || peer_app_bag_set {
                st.push_rel(&unit, id, "changed", None, None);
            }
            for rem in &remotes {
                st.push_rel(&unit, id, "joined", Some(rem), None);
                st.push_rel(&unit, id, "changed", Some(rem), None);
                if let Some(ur) = st.units.get_mut(rem).and_then(|u| u.rels.get_mut(&id)) {
                    ur.known.insert(unit.clone());
                }
                st.push_rel(rem, id, "joined", Some(&unit), None);
                st.push_rel(rem, id, "changed", Some(&unit), None);
            }
        }
        Ok(unit)
    }

    /// Remove a unit: the others get `-departed`; it gets `-departed`, `-broken`, `stop`, `remove`.
    pub fn remove_unit(&mut self, unit: &str) -> Result<(), SimError> {
        let mut st = self.st();
        let u = st
            .units
            .get(unit)
            .ok_or_else(|| SimError::NotFound(format!("unit {unit:?}")))?;
        if u.dying {
            return Ok(());
        }
        let app = u.app.clone();
        let rels: Vec<(u32, BTreeSet<String>)> = u
            .rels
            .iter()
            .map(|(id, ur)| (*id, ur.known.clone()))
            .collect();
        st.units.get_mut(unit).expect("unit").dying = true;
        for (id, known) in &rels {
            // Everyone else who knows this unit sees it depart.
            let others: Vec<String> = st
                .units
                .values()
                .filter(|o| {
                    o.name != unit
                        && o.rels
                            .get(id)
                            .map(|r| r.known.contains(unit))
                            .unwrap_or(false)
                })
                .map(|o| o.name.clone())
                .collect();
            for o in others {
                if let Some(ur) = st.units.get_mut(&o).and_then(|x| x.rels.get_mut(id)) {
                    ur.known.remove(unit);
                }
                st.push_rel(&o, *id, "departed", Some(unit), Some(unit));
            }
            let mut known: Vec<String> = known.iter().cloned().collect();
            sort_units(&mut known);
            for k in &known {
                st.push_rel(unit, *id, "departed", Some(k), Some(unit));
            }
            st.push_rel(unit, *id, "broken", None, None);
        }
        st.push(unit, Event::plain("stop"));
        st.push(unit, Event::plain("remove"));
        let was_leader = st.is_leader(unit);
        if was_leader {
            let next = st.live_app_units(&app).into_iter().next();
            st.apps.get_mut(&app).expect("app").leader = next.clone();
            if let Some(n) = next {
                st.push(&n, Event::plain("leader-elected"));
            }
        }
        if st.is_puppet(unit) {
            drop_unit(&mut st, unit);
        }
        Ok(())
    }

    /// Relate two endpoints (`"app:endpoint"` or `"app"` when unambiguous); returns the relation id.
    pub fn relate(&mut self, a: &str, b: &str) -> Result<u32, SimError> {
        let mut st = self.st();
        let (app_a, ep_a) = parse_endpoint_arg(a);
        let (app_b, ep_b) = parse_endpoint_arg(b);
        for app in [app_a, app_b] {
            if !st.apps.contains_key(app) {
                return Err(SimError::NotFound(format!("application {app:?}")));
            }
        }
        let mut candidates = Vec::new();
        for (ea, ia, ra) in st.endpoints(app_a) {
            if ep_a.is_some_and(|e| e != ea) || ra == Role::Peers {
                continue;
            }
            for (eb, ib, rb) in st.endpoints(app_b) {
                if ep_b.is_some_and(|e| e != eb) || rb == Role::Peers || ia != ib {
                    continue;
                }
                if (ra == Role::Provides && rb == Role::Requires)
                    || (ra == Role::Requires && rb == Role::Provides)
                {
                    candidates.push((ea.clone(), eb.clone(), ia.clone()));
                }
            }
        }
        let (ea, eb, interface) = match candidates.len() {
            0 => {
                return Err(SimError::Invalid(format!(
                    "no matching endpoints for {a} and {b}"
                )))
            }
            1 => candidates.remove(0),
            _ => {
                let list: Vec<String> = candidates
                    .iter()
                    .map(|(x, y, _)| format!("{app_a}:{x} {app_b}:{y}"))
                    .collect();
                return Err(SimError::Invalid(format!(
                    "ambiguous relation {a} {b}: candidates {}",
                    list.join(", ")
                )));
            }
        };
        if st.relations.values().any(|r| {
            !r.dying
                && ((r.ends[0] == (app_a.to_string(), ea.clone())
                    && r.ends[1] == (app_b.to_string(), eb.clone()))
                    || (r.ends[1] == (app_a.to_string(), ea.clone())
                        && r.ends[0] == (app_b.to_string(), eb.clone())))
        }) {
            return Err(SimError::Invalid(format!(
                "relation {app_a}:{ea} {app_b}:{eb} already exists"
            )));
        }
        let id = st.next_rel;
        st.next_rel += 1;
        let mut bags = BTreeMap::new();
        bags.insert(app_a.to_string(), Databag::new());
        bags.insert(app_b.to_string(), Databag::new());
        let units_a = st.live_app_units(app_a);
        let units_b = st.live_app_units(app_b);
        for u in units_a.iter().chain(units_b.iter()) {
            let addr = st.units[u].address.clone();
            bags.insert(
                u.clone(),
                Databag::from([
                    ("private-address".to_string(), addr.clone()),
                    ("ingress-address".to_string(), addr.clone()),
                    ("egress-subnets".to_string(), format!("{addr}/32")),
                ]),
            );
        }
        st.relations.insert(
            id,
            Relation {
                id,
                ends: [(app_a.to_string(), ea), (app_b.to_string(), eb)],
                interface,
                peer: false,
                bags,
                dying: false,
            },
        );
        for (mine, theirs) in [(&units_a, &units_b), (&units_b, &units_a)] {
            for u in mine {
                st.units.get_mut(u).expect("unit").rels.insert(
                    id,
                    UnitRel {
                        members: BTreeSet::new(),
                        known: theirs.iter().cloned().collect(),
                        broken: false,
                    },
                );
                st.push_created(u, id);
            }
        }
        for (mine, theirs) in [(&units_a, &units_b), (&units_b, &units_a)] {
            for u in mine {
                for r in theirs {
                    st.push_rel(u, id, "joined", Some(r), None);
                    st.push_rel(u, id, "changed", Some(r), None);
                }
            }
        }
        Ok(id)
    }

    /// Remove a relation: `-departed` for each remote unit, then `-broken`, on every unit.
    pub fn unrelate(&mut self, rel: u32) -> Result<(), SimError> {
        let mut st = self.st();
        let r = st
            .relations
            .get_mut(&rel)
            .ok_or_else(|| SimError::NotFound(format!("relation {rel}")))?;
        if r.peer {
            return Err(SimError::Invalid("cannot remove a peer relation".into()));
        }
        if r.dying {
            return Ok(());
        }
        r.dying = true;
        let units: Vec<String> = st
            .units
            .values()
            .filter(|u| u.rels.contains_key(&rel))
            .map(|u| u.name.clone())
            .collect();
        for u in &units {
            let mut known: Vec<String> = st.units[u].rels[&rel].known.iter().cloned().collect();
            sort_units(&mut known);
            for k in &known {
                st.push_rel(u, rel, "departed", Some(k), Some(k));
            }
            st.push_rel(u, rel, "broken", None, None);
            if st.is_puppet(u) {
                st.units.get_mut(u).expect("unit").rels.remove(&rel);
            }
        }
        for s in st.secrets.values_mut() {
            s.grants.retain(|_, r| *r != rel);
        }
        gc_relation(&mut st, rel);
        Ok(())
    }

    /// Merge config (`null` resets to the default); queues `config-changed` on every unit.
    pub fn set_config(&mut self, app: &str, config: Map<String, Value>) -> Result<(), SimError> {
        let mut st = self.st();
        let a = st
            .apps
            .get(app)
            .ok_or_else(|| SimError::NotFound(format!("application {app:?}")))?;
        let mut merged = a.config.clone();
        let checked = validate_config(a, config.clone())?;
        for (k, v) in config {
            if v.is_null() {
                merged.remove(&k);
            } else if let Some(c) = checked.get(&k) {
                merged.insert(k, c.clone());
            }
        }
        let changed = merged != a.config;
        st.apps.get_mut(app).expect("app").config = merged;
        if changed {
            for u in st.live_app_units(app) {
                st.push(&u, Event::plain("config-changed"));
            }
        }
        Ok(())
    }

    /// Make `unit` the leader of its application; queues `leader-elected` on it.
    pub fn set_leader(&mut self, unit: &str) -> Result<(), SimError> {
        let mut st = self.st();
        if !st.units.get(unit).map(|u| !u.dying).unwrap_or(false) {
            return Err(SimError::NotFound(format!("unit {unit:?}")));
        }
        let app = app_of(unit).to_string();
        if st.is_leader(unit) {
            return Ok(());
        }
        st.apps.get_mut(&app).expect("app").leader = Some(unit.to_string());
        st.push(unit, Event::plain("leader-elected"));
        Ok(())
    }

    pub fn now(&self) -> SystemTime {
        self.st().clock
    }

    /// Move the simulated clock; queues `secret-expired` / `secret-rotate` on owners whose time passed.
    pub fn advance_clock(&mut self, by: Duration) {
        let mut st = self.st();
        st.clock += by;
        let now = st.clock;
        let ids: Vec<String> = st.secrets.keys().cloned().collect();
        for id in ids {
            let s = st.secrets[&id].clone();
            let Some(owner) = st.secret_owner_unit(&s) else {
                continue;
            };
            if let Some(exp) = s.expire {
                if exp <= now && !s.expire_notified {
                    st.secrets.get_mut(&id).expect("secret").expire_notified = true;
                    st.push(
                        &owner,
                        Event {
                            secret: Some(id.clone()),
                            secret_revision: Some(s.latest),
                            kind: Kind::Secret,
                            ..Event::plain("secret-expired")
                        },
                    );
                }
            }
            if let (Some(next), Some(policy)) = (s.next_rotate, &s.rotate) {
                if next <= now {
                    let again = rotate_interval(policy).map(|d| now + d);
                    st.secrets.get_mut(&id).expect("secret").next_rotate = again;
                    st.push(
                        &owner,
                        Event {
                            secret: Some(id.clone()),
                            kind: Kind::Secret,
                            ..Event::plain("secret-rotate")
                        },
                    );
                }
            }
        }
    }

    /// Queue `update-status` on each unit of `app`.
    pub fn update_status(&mut self, app: &str) {
        let mut st = self.st();
        for u in st.live_app_units(app) {
            st.push(&u, Event::plain("update-status"));
        }
    }

    /// Queue any plain (non-relation) hook on a unit.
    pub fn queue_hook(&mut self, unit: &str, hook: &str) {
        self.st().push(unit, Event::plain(hook));
    }

    /// Run queued hooks until quiet. Errors if a unit is in error or after `max_hooks` runs.
    pub fn settle(&mut self) -> Result<SettleReport, SimError> {
        let report = self.settle_allow_errors()?;
        if let Some((unit, hook)) = report.errors.first() {
            let logs = self.logs(unit);
            let tail = logs[logs.len().saturating_sub(25)..].join("\n");
            return Err(SimError::HookFailed {
                unit: unit.clone(),
                hook: hook.clone(),
                logs: tail,
            });
        }
        Ok(report)
    }

    /// Like `settle`, but units in error are reported, not an `Err`.
    pub fn settle_allow_errors(&mut self) -> Result<SettleReport, SimError> {
        let start = self.runs.len();
        let mut count = 0usize;
        loop {
            let ready: Vec<String> = {
                let st = self.st();
                let mut v: Vec<String> = st
                    .units
                    .values()
                    .filter(|u| u.error.is_none() && !u.queue.is_empty())
                    .map(|u| u.name.clone())
                    .collect();
                sort_units(&mut v);
                v
            };
            if ready.is_empty() {
                break;
            }
            for unit in ready {
                if count >= self.max_hooks {
                    let mut freq: BTreeMap<String, usize> = BTreeMap::new();
                    for r in &self.runs[start..] {
                        *freq.entry(format!("{} {}", r.unit, r.hook)).or_default() += 1;
                    }
                    let mut f: Vec<(String, usize)> = freq.into_iter().collect();
                    f.sort_by_key(|x| std::cmp::Reverse(x.1));
                    let summary: Vec<String> =
                        f.iter().take(5).map(|(k, n)| format!("{k} x{n}")).collect();
                    return Err(SimError::Loop {
                        max: self.max_hooks,
                        summary: summary.join(", "),
                    });
                }
                if self.step(&unit)? {
                    count += 1;
                }
            }
        }
        let st = self.st();
        let errors = st
            .units
            .values()
            .filter_map(|u| u.error.as_ref().map(|h| (u.name.clone(), h.clone())))
            .collect();
        drop(st);
        Ok(SettleReport {
            runs: self.runs[start..].to_vec(),
            errors,
        })
    }

    /// Run the front event of a unit. Returns whether a hook process ran (or was attempted).
    fn step(&mut self, unit: &str) -> Result<bool, SimError> {
        let ev = {
            let mut st = self.st();
            let Some(u) = st.units.get(unit) else {
                return Ok(false);
            };
            let Some(ev) = u.queue.front().cloned() else {
                return Ok(false);
            };
            // Skip events that no longer apply.
            let mut hand_over = None;
            let skip = match &ev.kind {
                Kind::Plain if ev.hook == "leader-elected" => !st.is_leader(unit),
                Kind::Secret => match ev.secret.as_ref().and_then(|id| st.secrets.get(id)) {
                    None => true,
                    // Already removed by the owner: nothing left to announce.
                    Some(s)
                        if ev.hook == "secret-remove"
                            && !ev
                                .secret_revision
                                .is_some_and(|r| s.revisions.contains_key(&r)) =>
                    {
                        true
                    }
                    Some(s) => {
                        let owner_hook = ev.hook == "secret-rotate"
                            || ev.hook == "secret-expired"
                            || ev.hook == "secret-remove";
                        let not_leader = owner_hook && !s.owner_is_unit && !st.is_leader(unit);
                        if not_leader && ev.hook == "secret-remove" {
                            // Leadership moved while it was queued: the new leader gets it.
                            hand_over = st.secret_owner_unit(s);
                        }
                        not_leader
                    }
                },
                _ => false,
            };
            if skip {
                st.units.get_mut(unit).expect("unit").queue.pop_front();
                if let Some(leader) = hand_over.filter(|l| l != unit) {
                    st.push(&leader, ev);
                }
                return Ok(false);
            }
            // Pre-hook bookkeeping.
            let u = st.units.get_mut(unit).expect("unit");
            if let (Kind::Rel(k), Some(rel)) = (&ev.kind, ev.rel) {
                if let Some(ur) = u.rels.get_mut(&rel) {
                    match k.as_str() {
                        "joined" => {
                            if let Some(r) = &ev.remote_unit {
                                ur.members.insert(r.clone());
                            }
                        }
                        "departed" => {
                            if let Some(r) = &ev.remote_unit {
                                ur.members.remove(r);
                                ur.known.remove(r);
                            }
                        }
                        "broken" => ur.broken = true,
                        _ => {}
                    }
                }
            }
            if ev.hook == "install" && !u.status_set {
                u.status = ("maintenance".into(), "installing charm software".into());
            }
            ev
        };
        let (code, _) = self.run_hook(unit, &ev, None)?;
        let mut st = self.st();
        if code == 0 {
            if let Some(u) = st.units.get_mut(unit) {
                u.queue.pop_front();
                if ev.hook == "start" {
                    u.started = true;
                    if !u.status_set {
                        u.status = ("unknown".into(), String::new());
                    }
                }
            }
            if let (Kind::Rel(k), Some(rel)) = (&ev.kind, ev.rel) {
                if k == "broken" {
                    if let Some(u) = st.units.get_mut(unit) {
                        u.rels.remove(&rel);
                    }
                    gc_relation(&mut st, rel);
                }
            }
            if ev.hook == "remove" {
                drop_unit(&mut st, unit);
            }
        } else if let Some(u) = st.units.get_mut(unit) {
            u.error = Some(ev.hook.clone());
        }
        Ok(true)
    }

    /// Spawn the charm for one event; commit its transaction on success. Returns (exit code, stdout,
    /// stderr) — stdout/stderr only for actions.
    fn run_hook(
        &mut self,
        unit: &str,
        ev: &Event,
        action: Option<(String, Map<String, Value>, u32)>,
    ) -> Result<(i32, Option<ActionOutput>), SimError> {
        let ctx_id = format!(
            "{unit}-{}-{}",
            action
                .as_ref()
                .map(|a| format!("run-action-{}", a.2))
                .unwrap_or_else(|| ev.hook.clone()),
            util::hex(&util::rand_bytes(16))
        );
        let (charm_dir, env, dispatch_rel) = {
            let mut st = self.st();
            let u = st
                .units
                .get(unit)
                .ok_or_else(|| SimError::NotFound(format!("unit {unit:?}")))?;
            let charm_dir = u.charm_dir.clone();
            let dispatch_rel = match &action {
                Some((name, _, _)) => format!("actions/{name}"),
                None => format!("hooks/{}", ev.hook),
            };
            let mut env: Vec<(String, String)> = vec![
                ("APT_LISTCHANGES_FRONTEND".into(), "none".into()),
                ("CHARM_DIR".into(), charm_dir.display().to_string()),
                ("CLOUD_API_VERSION".into(), String::new()),
                ("DEBIAN_FRONTEND".into(), "noninteractive".into()),
                (
                    "JUJU_AGENT_SOCKET_ADDRESS".into(),
                    self.socket.display().to_string(),
                ),
                ("JUJU_AGENT_SOCKET_NETWORK".into(), "unix".into()),
                ("JUJU_API_ADDRESSES".into(), "10.0.0.1:17070".into()),
                ("JUJU_AVAILABILITY_ZONE".into(), String::new()),
                ("JUJU_CHARM_DIR".into(), charm_dir.display().to_string()),
                ("JUJU_CHARM_FTP_PROXY".into(), String::new()),
                ("JUJU_CHARM_HTTPS_PROXY".into(), String::new()),
                ("JUJU_CHARM_HTTP_PROXY".into(), String::new()),
                ("JUJU_CHARM_NO_PROXY".into(), String::new()),
                ("JUJU_CONTEXT_ID".into(), ctx_id.clone()),
                (
                    "JUJU_HOOK_NAME".into(),
                    if action.is_some() {
                        String::new()
                    } else {
                        ev.hook.clone()
                    },
                ),
                ("JUJU_MACHINE_ID".into(), u.machine.to_string()),
                ("JUJU_MODEL_NAME".into(), st.model_name.clone()),
                ("JUJU_MODEL_UUID".into(), st.model_uuid.clone()),
                ("JUJU_PRINCIPAL_UNIT".into(), String::new()),
                ("JUJU_SLA".into(), "unsupported".into()),
                ("JUJU_UNIT_NAME".into(), unit.to_string()),
                ("JUJU_VERSION".into(), JUJU_VERSION.into()),
                ("LANG".into(), "C.UTF-8".into()),
                (
                    "PATH".into(),
                    format!("{}:{SYSTEM_PATH}", self.tools_dir.display()),
                ),
                ("TERM".into(), "tmux-256color".into()),
            ];
            if let (Kind::Rel(_), Some(rel)) = (&ev.kind, ev.rel) {
                let r = st.relations.get(&rel);
                let ep = r
                    .and_then(|r| r.endpoint_of(app_of(unit)))
                    .unwrap_or_default()
                    .to_string();
                env.push(("JUJU_RELATION".into(), ep.clone()));
                env.push(("JUJU_RELATION_ID".into(), format!("{ep}:{rel}")));
                env.push((
                    "JUJU_REMOTE_UNIT".into(),
                    ev.remote_unit.clone().unwrap_or_default(),
                ));
                env.push((
                    "JUJU_REMOTE_APP".into(),
                    ev.remote_app.clone().unwrap_or_default(),
                ));
                if let Some(d) = &ev.departing {
                    env.push(("JUJU_DEPARTING_UNIT".into(), d.clone()));
                }
            }
            if let Some(id) = &ev.secret {
                let label = st
                    .secrets
                    .get(id)
                    .and_then(|s| {
                        if s.owned_by(unit) {
                            s.label.clone()
                        } else {
                            s.consumers.get(unit).and_then(|c| c.label.clone())
                        }
                    })
                    .unwrap_or_default();
                env.push(("JUJU_SECRET_ID".into(), format!("secret:{id}")));
                env.push(("JUJU_SECRET_LABEL".into(), label));
                if ev.hook == "secret-expired" || ev.hook == "secret-remove" {
                    env.push((
                        "JUJU_SECRET_REVISION".into(),
                        ev.secret_revision.unwrap_or_default().to_string(),
                    ));
                }
            }
            if let Some((name, _, id)) = &action {
                env.push(("JUJU_ACTION_NAME".into(), name.clone()));
                env.push(("JUJU_ACTION_UUID".into(), id.to_string()));
                env.push(("JUJU_ACTION_TAG".into(), format!("action-{id}")));
            }
            env.push(("JUJU_DISPATCH_PATH".into(), dispatch_rel.clone()));
            let txn = Txn {
                bags: BTreeMap::new(),
                state: u.state.clone(),
                ports: u.ports.clone(),
                secrets: st.secrets.clone(),
            };
            let (rel, remote_unit, remote_app) = match &ev.kind {
                Kind::Rel(_) => (ev.rel, ev.remote_unit.clone(), ev.remote_app.clone()),
                _ => (None, None, None),
            };
            st.contexts.insert(
                ctx_id.clone(),
                Ctx {
                    unit: unit.to_string(),
                    hook: ev.hook.clone(),
                    rel,
                    remote_unit: remote_unit.filter(|s| !s.is_empty()),
                    remote_app,
                    action: action.as_ref().map(|(name, params, _)| ActionCtx {
                        name: name.clone(),
                        params: params.clone(),
                        results: Map::new(),
                        failed: None,
                        logs: Vec::new(),
                    }),
                    txn,
                    calls: Vec::new(),
                },
            );
            (charm_dir, env, dispatch_rel)
        };

        let dispatch = charm_dir.join("dispatch");
        let exe = if dispatch.exists() {
            dispatch
        } else {
            charm_dir.join(&dispatch_rel)
        };
        let started = Instant::now();
        let (code, stdout, stderr) = if !exe.exists() {
            (None, String::new(), String::new())
        } else {
            match self.spawn(&exe, &charm_dir, &env) {
                Ok((c, o, e)) => (Some(c), o, e),
                Err(msg) => (Some(1), String::new(), msg),
            }
        };
        let duration = started.elapsed();

        let mut st = self.st();
        let ctx = st.contexts.remove(&ctx_id).expect("context");
        let label = if action.is_some() {
            dispatch_rel.clone()
        } else {
            ev.hook.clone()
        };
        for line in stdout.lines() {
            st.log(unit, format!("DEBUG {label}: {line}"));
        }
        for line in stderr.lines() {
            st.log(unit, format!("WARNING {label}: {line}"));
        }
        let missing = code.is_none();
        let exit = code.unwrap_or(0);
        if missing && action.is_none() {
            st.log(unit, format!("DEBUG skipped missing hook {:?}", ev.hook));
        }
        if exit == 0 && !(missing && action.is_some()) {
            commit(&mut st, unit, &ctx);
        } else if exit != 0 {
            st.log(unit, format!("ERROR {label} exited with status {exit}"));
        }
        drop(st);
        self.runs.push(HookRun {
            unit: unit.to_string(),
            hook: label,
            relation_id: ev.rel,
            remote_unit: ev.remote_unit.clone(),
            exit_code: exit,
            tool_calls: ctx.calls,
            duration,
        });
        let act = ctx.action.map(|mut a| {
            if missing {
                a.failed = Some(format!("action not implemented on unit {unit:?}"));
            }
            (a, stdout, stderr)
        });
        Ok((
            if missing && action.is_some() {
                -1
            } else {
                exit
            },
            act,
        ))
    }

    fn spawn(
        &self,
        exe: &Path,
        cwd: &Path,
        env: &[(String, String)],
    ) -> Result<(i32, String, String), String> {
        let mut cmd = Command::new(exe);
        cmd.env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .current_dir(cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // A charm file copied a moment ago can be briefly "text file busy" when other threads of
        // this (test) process fork at the same time: retry for a short while.
        let mut tries = 0;
        let mut child = loop {
            match cmd.spawn() {
                Ok(c) => break c,
                Err(e) if e.raw_os_error() == Some(26) && tries < 100 => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => return Err(format!("cannot run {}: {e}", exe.display())),
            }
        };
        // Read both pipes on threads; a hook that leaves a background process holding them open
        // must not hang the simulator, so stop waiting shortly after the hook itself exits.
        let (tx_out, rx_out) = std::sync::mpsc::channel();
        let (tx_err, rx_err) = std::sync::mpsc::channel();
        let mut out = child.stdout.take().expect("stdout");
        let mut err = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            let mut b = Vec::new();
            let _ = out.read_to_end(&mut b);
            let _ = tx_out.send(b);
        });
        std::thread::spawn(move || {
            let mut b = Vec::new();
            let _ = err.read_to_end(&mut b);
            let _ = tx_err.send(b);
        });
        let deadline = Instant::now() + self.hook_timeout;
        let status = loop {
            match child.try_wait() {
                Ok(Some(s)) => break Some(s),
                Ok(None) if Instant::now() > deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(2)),
                Err(e) => return Err(format!("waiting for {}: {e}", exe.display())),
            }
        };
        let grace = Instant::now() + Duration::from_secs(2);
        let left = || grace.saturating_duration_since(Instant::now());
        let o =
            String::from_utf8_lossy(&rx_out.recv_timeout(left()).unwrap_or_default()).into_owned();
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

    /// Clear a unit's error. `retry` re-runs the failed hook at the next settle; otherwise it is
    /// skipped.
    pub fn resolve(&mut self, unit: &str, retry: bool) -> Result<(), SimError> {
        let mut st = self.st();
        let u = st
            .units
            .get_mut(unit)
            .ok_or_else(|| SimError::NotFound(format!("unit {unit:?}")))?;
        if u.error.take().is_none() {
            return Err(SimError::Invalid(format!("unit {unit:?} is not in error")));
        }
        if !retry {
            u.queue.pop_front();
        }
        Ok(())
    }

    /// Run an action now. Validates the name against actions.yaml and fills defaults.
    pub fn run_action(
        &mut self,
        unit: &str,
        action: &str,
        params: Map<String, Value>,
    ) -> Result<ActionResult, SimError> {
        let params = {
            let st = self.st();
            let u = st
                .units
                .get(unit)
                .ok_or_else(|| SimError::NotFound(format!("unit {unit:?}")))?;
            let a = &st.apps[&u.app];
            let def = a.actions.get(action).ok_or_else(|| {
                SimError::Invalid(format!(
                    "action {action:?} not defined on unit {unit:?} (defined: {})",
                    a.actions.keys().cloned().collect::<Vec<_>>().join(", ")
                ))
            })?;
            meta::validate_action(action, def, params)?
        };
        let id = self.next_action;
        self.next_action += 1;
        let ev = Event::plain(action);
        let (code, act) = self.run_hook(unit, &ev, Some((action.to_string(), params, id)))?;
        let (a, stdout, stderr) = act.expect("action context");
        let (status, message) = if let Some(m) = a.failed {
            ("failed", m)
        } else if code != 0 {
            ("failed", format!("exit status {code}"))
        } else {
            ("completed", String::new())
        };
        Ok(ActionResult {
            status: status.into(),
            message,
            results: Value::Object(a.results),
            logs: a.logs,
            stdout,
            stderr,
            exit_code: code,
        })
    }

    /// Replace a bag as a committed write by its owner would; queues `-changed` on the other side.
    pub fn set_relation_data(
        &mut self,
        rel: u32,
        owner: &str,
        data: Databag,
    ) -> Result<(), SimError> {
        let mut st = self.st();
        let r = st
            .relations
            .get(&rel)
            .ok_or_else(|| SimError::NotFound(format!("relation {rel}")))?;
        if !r.bags.contains_key(owner) {
            return Err(SimError::NotFound(format!(
                "{owner:?} is not in relation {rel}"
            )));
        }
        let changed = r.bags.get(owner) != Some(&data);
        st.relations
            .get_mut(&rel)
            .expect("rel")
            .bags
            .insert(owner.to_string(), data);
        if changed {
            let writer = if owner.contains('/') {
                Some(owner.to_string())
            } else {
                st.apps.get(owner).and_then(|a| a.leader.clone())
            };
            st.notify_bag_change(rel, owner, writer.as_deref());
        }
        Ok(())
    }

    /// The committed bag of `owner` (`"app/0"` or `"app"`); empty if none.
    pub fn relation_data(&self, rel: u32, owner: &str) -> Databag {
        self.st().bag(rel, owner).cloned().unwrap_or_default()
    }

    /// Live (not dying) relation ids, peers included.
    pub fn relation_ids(&self) -> Vec<u32> {
        self.st()
            .relations
            .values()
            .filter(|r| !r.dying)
            .map(|r| r.id)
            .collect()
    }

    /// `(app, endpoint)` pairs of a relation (both the same app for peers).
    pub fn relation_endpoints(&self, rel: u32) -> Option<[(String, String); 2]> {
        self.st().relations.get(&rel).map(|r| r.ends.clone())
    }

    /// Find a live relation by `"app:endpoint"` (or `"app"` if it has exactly one relation).
    pub fn find_relation(&self, spec: &str) -> Option<u32> {
        let (app, ep) = parse_endpoint_arg(spec);
        let st = self.st();
        let v: Vec<u32> = st
            .relations
            .values()
            .filter(|r| {
                !r.dying
                    && r.ends
                        .iter()
                        .any(|(a, e)| a == app && ep.is_none_or(|x| x == e))
            })
            .filter(|r| ep.is_some() || !r.peer)
            .map(|r| r.id)
            .collect();
        (v.len() == 1).then(|| v[0])
    }

    pub fn units(&self, app: &str) -> Vec<String> {
        self.st().app_units(app)
    }

    pub fn apps(&self) -> Vec<String> {
        self.st().apps.keys().cloned().collect()
    }

    pub fn leader(&self, app: &str) -> Option<String> {
        self.st().apps.get(app).and_then(|a| a.leader.clone())
    }

    pub fn unit_status(&self, unit: &str) -> UnitStatus {
        let st = self.st();
        match st.units.get(unit) {
            None => UnitStatus {
                workload: "unknown".into(),
                message: "no such unit".into(),
                agent: "lost".into(),
                agent_message: String::new(),
            },
            Some(u) => UnitStatus {
                workload: u.status.0.clone(),
                message: u.status.1.clone(),
                agent: if u.error.is_some() { "error" } else { "idle" }.into(),
                agent_message: u
                    .error
                    .as_ref()
                    .map(|h| format!("hook failed: {h:?}"))
                    .unwrap_or_default(),
            },
        }
    }

    /// Application status: as set by the leader, else derived from the units (worst first).
    pub fn app_status(&self, app: &str) -> (String, String) {
        app_status(&self.st(), app)
    }

    /// The charm name (from metadata.yaml) an app runs.
    pub fn charm_name(&self, app: &str) -> Option<String> {
        self.st().apps.get(app).map(|a| a.charm_name.clone())
    }

    pub fn app_version(&self, app: &str) -> String {
        self.st()
            .apps
            .get(app)
            .map(|a| a.version.clone())
            .unwrap_or_default()
    }

    /// Committed charm state (`state-set`) of a unit.
    pub fn unit_state(&self, unit: &str) -> Databag {
        self.st()
            .units
            .get(unit)
            .map(|u| u.state.clone())
            .unwrap_or_default()
    }

    /// Committed opened ports of a unit, e.g. `["80/tcp"]`.
    pub fn opened_ports(&self, unit: &str) -> Vec<String> {
        self.st()
            .units
            .get(unit)
            .map(|u| u.ports.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Pending events of a unit (hook names), for debugging.
    pub fn queued(&self, unit: &str) -> Vec<String> {
        self.st()
            .units
            .get(unit)
            .map(|u| u.queue.iter().map(|e| e.hook.clone()).collect())
            .unwrap_or_default()
    }

    pub fn secrets(&self) -> Vec<SecretView> {
        let st = self.st();
        st.secrets
            .values()
            .map(|s| SecretView {
                id: s.id.clone(),
                owner: s.owner.clone(),
                label: s.label.clone(),
                revisions: (1..=s.latest)
                    .map(|r| s.revisions.get(&r).cloned().unwrap_or_default())
                    .collect(),
                removed_revisions: (1..=s.latest)
                    .filter(|r| !s.revisions.contains_key(r))
                    .collect(),
                obsolete_revisions: s.obsolete.iter().copied().collect(),
                expire: s.expire,
                rotate: s.rotate.clone(),
            })
            .collect()
    }

    /// Grants of a secret: target (app or unit) -> relation id.
    pub fn secret_grants(&self, id: &str) -> BTreeMap<String, u32> {
        self.st()
            .secrets
            .get(id)
            .map(|s| s.grants.clone())
            .unwrap_or_default()
    }

    /// Revision a consumer unit is pinned to, if it has read the secret.
    pub fn secret_consumer_revision(&self, id: &str, unit: &str) -> Option<u32> {
        self.st()
            .secrets
            .get(id)
            .and_then(|s| s.consumers.get(unit).map(|c| c.revision))
    }

    /// Config of an app with defaults applied (nulls included).
    pub fn config(&self, app: &str) -> Map<String, Value> {
        self.st()
            .apps
            .get(app)
            .map(|a| a.effective_config())
            .unwrap_or_default()
    }

    pub fn logs(&self, unit: &str) -> Vec<String> {
        self.st()
            .units
            .get(unit)
            .map(|u| u.logs.clone())
            .unwrap_or_default()
    }

    pub fn hook_runs(&self) -> &[HookRun] {
        &self.runs
    }

    pub fn charm_dir(&self, unit: &str) -> PathBuf {
        let st = self.st();
        match st.units.get(unit) {
            Some(u) => u.charm_dir.clone(),
            None => {
                let (a, n) = unit.split_once('/').unwrap_or((unit, "0"));
                self.root
                    .path()
                    .join("agents")
                    .join(format!("unit-{a}-{n}"))
                    .join("charm")
            }
        }
    }

    /// A `juju status`-like table.
    pub fn status_table(&self) -> String {
        let st = self.st();
        let mut out = String::new();
        out.push_str(&format!(
            "Model  Juju (simulated)  Clock\n{}  {JUJU_VERSION}  {}\n\n",
            st.model_name,
            util::rfc3339(st.clock)
        ));
        out.push_str(&format!(
            "{:<20} {:<10} {:<12} {:<6} {}\n",
            "App", "Version", "Status", "Scale", "Message"
        ));
        for (name, a) in &st.apps {
            let (s, m) = app_status(&st, name);
            let scale = st.live_app_units(name).len();
            let v = if a.puppet {
                "(puppet)".to_string()
            } else {
                a.version.clone()
            };
            out.push_str(&format!("{name:<20} {v:<10} {s:<12} {scale:<6} {m}\n"));
        }
        out.push_str(&format!(
            "\n{:<20} {:<12} {:<10} {:<12} {}\n",
            "Unit", "Workload", "Agent", "Address", "Message"
        ));
        let mut names: Vec<String> = st.units.keys().cloned().collect();
        sort_units(&mut names);
        for n in names {
            let u = &st.units[&n];
            let lead = if st.is_leader(&n) { "*" } else { "" };
            let (w, m, ag) = match &u.error {
                Some(h) => ("error".to_string(), format!("hook failed: {h:?}"), "idle"),
                None => (
                    u.status.0.clone(),
                    u.status.1.clone(),
                    if u.dying { "dying" } else { "idle" },
                ),
            };
            out.push_str(&format!(
                "{:<20} {w:<12} {ag:<10} {:<12} {m}\n",
                format!("{n}{lead}"),
                u.address
            ));
        }
        out.push_str(&format!(
            "\n{:<6} {:<32} {:<32} {:<20} {}\n",
            "Id", "Provider", "Requirer", "Interface", "Type"
        ));
        for r in st.relations.values() {
            let kind = if r.peer {
                "peer"
            } else if r.dying {
                "dying"
            } else {
                "regular"
            };
            out.push_str(&format!(
                "{:<6} {:<32} {:<32} {:<20} {kind}\n",
                r.id,
                format!("{}:{}", r.ends[0].0, r.ends[0].1),
                format!("{}:{}", r.ends[1].0, r.ends[1].1),
                r.interface
            ));
        }
        out
    }
}

fn app_status(st: &State, app: &str) -> (String, String) {
    let Some(a) = st.apps.get(app) else {
        return ("unknown".into(), String::new());
    };
    if let Some(s) = &a.status {
        return s.clone();
    }
    let rank = |s: &str| match s {
        "error" => 6,
        "blocked" => 5,
        "maintenance" => 4,
        "waiting" => 3,
        "active" => 2,
        _ => 1,
    };
    let mut best = ("unknown".to_string(), String::new());
    for u in st.units.values().filter(|u| u.app == app) {
        let s = match &u.error {
            Some(h) => ("error".to_string(), format!("hook failed: {h:?}")),
            None => u.status.clone(),
        };
        if rank(&s.0) > rank(&best.0) {
            best = s;
        }
    }
    best
}

fn rotate_interval(policy: &str) -> Option<Duration> {
    let h = 3600;
    Some(Duration::from_secs(match policy {
        "hourly" => h,
        "daily" => 24 * h,
        "weekly" => 7 * 24 * h,
        "monthly" => 30 * 24 * h,
        "quarterly" => 90 * 24 * h,
        "yearly" => 365 * 24 * h,
        _ => return None,
    }))
}

pub(crate) fn rotate_next(policy: &str, now: SystemTime) -> Option<SystemTime> {
    rotate_interval(policy).map(|d| now + d)
}

fn validate_config(a: &App, config: Map<String, Value>) -> Result<Map<String, Value>, SimError> {
    let mut out = Map::new();
    for (k, v) in config {
        let def = a.config_defs.get(&k).ok_or_else(|| {
            SimError::Invalid(format!(
                "unknown config option {k:?} (known: {})",
                a.config_defs.keys().cloned().collect::<Vec<_>>().join(", ")
            ))
        })?;
        if v.is_null() {
            continue;
        }
        let c = meta::coerce_config(&def.kind, &v)
            .map_err(|e| SimError::Invalid(format!("config option {k:?}: {e}")))?;
        out.insert(k, c);
    }
    Ok(out)
}

fn drop_unit(st: &mut State, unit: &str) {
    let rels: Vec<u32> = st
        .units
        .get(unit)
        .map(|u| u.rels.keys().copied().collect())
        .unwrap_or_default();
    st.units.remove(unit);
    for r in st.relations.values_mut() {
        r.bags.remove(unit);
    }
    for rel in rels {
        gc_relation(st, rel);
    }
    for s in st.secrets.values_mut() {
        s.consumers.remove(unit);
    }
}

/// Delete a dying relation once no unit holds it.
fn gc_relation(st: &mut State, rel: u32) {
    let dying = st.relations.get(&rel).map(|r| r.dying).unwrap_or(false);
    if dying && !st.units.values().any(|u| u.rels.contains_key(&rel)) {
        st.relations.remove(&rel);
    }
}

/// Apply a successful hook's transaction and queue the events it causes.
fn commit(st: &mut State, unit: &str, ctx: &Ctx) {
    let app = app_of(unit).to_string();
    for ((rel, owner), bag) in &ctx.txn.bags {
        let Some(r) = st.relations.get_mut(rel) else {
            continue;
        };
        if r.bags.get(owner) == Some(bag) {
            continue;
        }
        r.bags.insert(owner.clone(), bag.clone());
        st.notify_bag_change(*rel, owner, Some(unit));
    }
    if let Some(u) = st.units.get_mut(unit) {
        u.state = ctx.txn.state.clone();
        u.ports = ctx.txn.ports.clone();
    }
    // Secrets: find new revisions to tell consumers about.
    let mut notify: Vec<(String, String)> = Vec::new();
    for (id, new) in &ctx.txn.secrets {
        let old_latest = st.secrets.get(id).map(|s| s.latest).unwrap_or(0);
        if new.latest > old_latest && old_latest > 0 {
            for (c, info) in &new.consumers {
                if info.revision < new.latest && c != unit {
                    notify.push((c.clone(), id.clone()));
                }
            }
        }
    }
    // Consumers are tracked per unit: keep other units' consumer records from the committed store
    // (a hook only changes its own unit's records).
    let mut merged = ctx.txn.secrets.clone();
    // Secrets whose revisions may have become obsolete: a new revision, or this unit's consumer
    // moved off the revision it tracked (`--refresh`).
    let mut recheck: Vec<String> = Vec::new();
    for (id, s) in merged.iter_mut() {
        let old = st.secrets.get(id);
        if let Some(old) = old {
            for (c, info) in &old.consumers {
                // ... unless this (owner) hook revoked that consumer's grant.
                let revoked = old.granted_to(c) && !s.granted_to(c);
                if c != unit && !revoked {
                    s.consumers.insert(c.clone(), info.clone());
                }
            }
            s.obsolete.extend(old.obsolete.iter().copied());
        }
        let old_latest = old.map(|o| o.latest).unwrap_or(0);
        let old_tracked = old.and_then(|o| o.consumers.get(unit)).map(|c| c.revision);
        let new_tracked = s.consumers.get(unit).map(|c| c.revision);
        if s.latest != old_latest || (old_tracked.is_some() && old_tracked != new_tracked) {
            recheck.push(id.clone());
        }
    }
    st.secrets = merged;
    queue_secret_remove(st, &recheck);
    for (c, id) in notify {
        st.push(
            &c,
            Event {
                secret: Some(id),
                kind: Kind::Secret,
                ..Event::plain("secret-changed")
            },
        );
    }
    let _ = app;
}

/// Mark the revisions of `ids` that no consumer tracks any more (and are not the latest) obsolete,
/// and queue `secret-remove` with `JUJU_SECRET_REVISION` for each on the owner (the leader for an
/// application-owned secret). Each revision is announced once; identical queued events coalesce.
fn queue_secret_remove(st: &mut State, ids: &[String]) {
    for id in ids {
        let Some(s) = st.secrets.get_mut(id) else {
            continue;
        };
        let revs = s.newly_obsolete();
        if revs.is_empty() {
            continue;
        }
        s.obsolete.extend(revs.iter().copied());
        let s = s.clone();
        let Some(owner) = st.secret_owner_unit(&s) else {
            continue;
        };
        for rev in revs {
            st.push(&owner, secret_remove_event(id, rev));
        }
    }
}

fn secret_remove_event(id: &str, rev: u32) -> Event {
    Event {
        secret: Some(id.to_string()),
        secret_revision: Some(rev),
        kind: Kind::Secret,
        ..Event::plain("secret-remove")
    }
}
