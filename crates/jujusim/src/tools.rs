//! Hook tool implementations, run by the server against the model state and the hook's context.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use base64::Engine;
use serde_json::{json, Map, Value};

use crate::client::Response;
use crate::flags::{self, boolean, parse, val, FlagSpec, Format, Parsed, ToolFail};
use crate::state::*;
use crate::util;
use crate::{Databag, ToolCall};

enum E {
    Fail(ToolFail),
    NeedStdin,
    Help(String),
}

impl From<ToolFail> for E {
    fn from(f: ToolFail) -> E {
        E::Fail(f)
    }
}

type R = Result<String, E>;

fn usage<T>(msg: impl Into<String>) -> Result<T, E> {
    Err(E::Fail(ToolFail::usage(msg)))
}
fn fail<T>(msg: impl Into<String>) -> Result<T, E> {
    Err(E::Fail(ToolFail::run(msg)))
}

struct Call<'a> {
    cwd: &'a Path,
    args: &'a [String],
    stdin: Option<&'a [u8]>,
    command: &'a str,
}

impl Call<'_> {
    fn parse(&self, specs: &[FlagSpec]) -> Result<Parsed, E> {
        let p = parse(self.args, specs)?;
        if p.has("help") {
            let names: Vec<String> = specs.iter().map(|s| format!("--{}", s.names[0])).collect();
            return Err(E::Help(format!(
                "Usage: {} [options] ...\n\nOptions: {}\n\n(jujusim hook tool)\n",
                self.command,
                names.join(" ")
            )));
        }
        Ok(p)
    }

    fn read_path(&self, path: &str) -> Result<Vec<u8>, E> {
        if path == "-" {
            return match self.stdin {
                Some(b) => Ok(b.to_vec()),
                None => Err(E::NeedStdin),
            };
        }
        let p = self.cwd.join(path);
        std::fs::read(&p).or_else(|e| fail(format!("cannot read {}: {e}", p.display())))
    }
}

/// Run one tool call for context `ctx_id`.
pub(crate) fn run(
    st: &mut State,
    ctx_id: &str,
    cwd: &Path,
    command: &str,
    args: &[String],
    stdin: Option<&[u8]>,
) -> Response {
    let Some(mut ctx) = st.contexts.remove(ctx_id) else {
        return Response::error(1, format!("bad request: unknown context id {ctx_id:?}"));
    };
    let call = Call {
        cwd,
        args,
        stdin,
        command,
    };
    let res = dispatch(st, &mut ctx, &call);
    let resp = match res {
        Ok(stdout) => Response {
            code: 0,
            stdout,
            ..Default::default()
        },
        Err(E::Help(text)) => Response {
            code: 0,
            stdout: text,
            ..Default::default()
        },
        Err(E::NeedStdin) => Response {
            code: 1,
            stderr: "ERROR hook tool requires stdin, none supplied\n".into(),
            needs_stdin: true,
            ..Default::default()
        },
        Err(E::Fail(f)) => Response::error(f.code, f.message),
    };
    if !resp.needs_stdin {
        ctx.calls.push(ToolCall {
            tool: command.to_string(),
            args: args.to_vec(),
        });
    }
    st.contexts.insert(ctx_id.to_string(), ctx);
    resp
}

fn dispatch(st: &mut State, ctx: &mut Ctx, c: &Call) -> R {
    match c.command {
        "relation-ids" => relation_ids(st, ctx, c),
        "relation-list" => relation_list(st, ctx, c),
        "relation-get" => relation_get(st, ctx, c),
        "relation-set" => relation_set(st, ctx, c),
        "relation-model-get" => relation_model_get(st, ctx, c),
        "is-leader" => {
            let p = c.parse(&[val(&["format"])])?;
            let f = Format::parse(p.get("format"), Format::Smart, true)?;
            no_args(&p)?;
            Ok(flags::render(&Value::Bool(st.is_leader(&ctx.unit)), f))
        }
        "leader-get" => leader_get(st, ctx, c),
        "leader-set" => leader_set(st, ctx, c),
        "config-get" => config_get(st, ctx, c),
        "action-get" => action_get(ctx, c),
        "action-set" => action_set(ctx, c),
        "action-fail" => {
            let p = c.parse(&[])?;
            if p.pos.len() > 1 {
                return usage(format!("unrecognized args: {:?}", &p.pos[1..]));
            }
            let a = ctx.action.as_mut().ok_or_else(not_action)?;
            a.failed = Some(p.pos.first().cloned().unwrap_or_else(|| {
                "action failed without reason given, check action for errors".into()
            }));
            Ok(String::new())
        }
        "action-log" => {
            let p = c.parse(&[])?;
            if p.pos.is_empty() {
                return usage("no message specified");
            }
            let a = ctx.action.as_mut().ok_or_else(not_action)?;
            a.logs.push(p.pos.join(" "));
            Ok(String::new())
        }
        "status-set" => status_set(st, ctx, c),
        "status-get" => status_get(st, ctx, c),
        "application-version-set" => {
            let p = c.parse(&[])?;
            if p.pos.len() != 1 {
                return usage("no version specified");
            }
            if let Some(a) = st.apps.get_mut(app_of(&ctx.unit)) {
                a.version = p.pos[0].clone();
            }
            Ok(String::new())
        }
        "juju-log" => juju_log(st, ctx, c),
        "secret-add" => secret_add(st, ctx, c),
        "secret-set" => secret_set(st, ctx, c),
        "secret-get" => secret_get(st, ctx, c),
        "secret-info-get" => secret_info_get(st, ctx, c),
        "secret-ids" => {
            let p = c.parse(&[val(&["format"])])?;
            let f = Format::parse(p.get("format"), Format::Smart, true)?;
            no_args(&p)?;
            let ids: Vec<Value> = ctx
                .txn
                .secrets
                .values()
                .filter(|s| s.owned_by(&ctx.unit))
                .map(|s| Value::String(s.id.clone()))
                .collect();
            Ok(flags::render(
                &if ids.is_empty() {
                    Value::Null
                } else {
                    Value::Array(ids)
                },
                f,
            ))
        }
        "secret-grant" => secret_grant(st, ctx, c, true),
        "secret-revoke" => secret_grant(st, ctx, c, false),
        "secret-remove" => secret_remove(st, ctx, c),
        "state-get" => state_get(ctx, c),
        "state-set" => state_set(ctx, c),
        "state-delete" => {
            let p = c.parse(&[])?;
            if p.pos.len() != 1 {
                return usage("specify a key");
            }
            ctx.txn.state.remove(&p.pos[0]);
            Ok(String::new())
        }
        "open-port" | "close-port" => ports(ctx, c),
        "opened-ports" => {
            let p = c.parse(&[val(&["format"]), boolean(&["endpoints"])])?;
            let f = Format::parse(p.get("format"), Format::Smart, true)?;
            no_args(&p)?;
            let ports: Vec<Value> = st
                .units
                .get(&ctx.unit)
                .map(|u| {
                    u.ports
                        .iter()
                        .map(|x| {
                            Value::String(if p.has("endpoints") {
                                format!("{x} (*)")
                            } else {
                                x.clone()
                            })
                        })
                        .collect()
                })
                .unwrap_or_default();
            Ok(flags::render(&Value::Array(ports), f))
        }
        "network-get" => network_get(st, ctx, c),
        "goal-state" => goal_state(st, ctx, c),
        "unit-get" => {
            let p = c.parse(&[val(&["format"])])?;
            let f = Format::parse(p.get("format"), Format::Smart, true)?;
            let addr = st
                .units
                .get(&ctx.unit)
                .map(|u| u.address.clone())
                .unwrap_or_default();
            match p.pos.as_slice() {
                [k] if k == "private-address" || k == "public-address" => {
                    Ok(flags::render(&Value::String(addr), f))
                }
                [k] => usage(format!("unknown setting {k:?}")),
                [] => usage("no setting specified"),
                more => usage(format!("unrecognized args: {:?}", &more[1..])),
            }
        }
        other => fail(format!(
            "jujusim does not implement the {other:?} hook tool"
        )),
    }
}

fn not_action() -> E {
    E::Fail(ToolFail::run("not running an action"))
}

fn no_args(p: &Parsed) -> Result<(), E> {
    if p.pos.is_empty() {
        Ok(())
    } else {
        usage(format!("unrecognized args: {:?}", p.pos))
    }
}

// ---------------------------------------------------------------------------------------------
// Relations

/// Resolve `-r` (or the hook's relation). Returns `None` if neither is given.
fn relation_arg(st: &State, ctx: &Ctx, p: &Parsed) -> Result<Option<u32>, E> {
    let Some(raw) = p.get("r") else {
        return Ok(ctx.rel);
    };
    let tail = raw.rsplit(':').next().unwrap_or(raw);
    let Ok(id) = tail.trim().parse::<u32>() else {
        return usage(format!(
            "invalid value {raw:?} for flag -r: invalid relation id"
        ));
    };
    let known = st
        .units
        .get(&ctx.unit)
        .map(|u| u.rels.contains_key(&id))
        .unwrap_or(false);
    if !known {
        return usage(format!(
            "invalid value {raw:?} for flag -r: relation not found"
        ));
    }
    Ok(Some(id))
}

fn need_relation(st: &State, ctx: &Ctx, p: &Parsed) -> Result<u32, E> {
    relation_arg(st, ctx, p)?.map_or_else(|| usage("no relation id specified"), Ok)
}

fn rel_name(st: &State, ctx: &Ctx, rel: u32) -> String {
    let ep = st
        .relations
        .get(&rel)
        .and_then(|r| r.endpoint_of(app_of(&ctx.unit)))
        .unwrap_or_default();
    format!("{ep}:{rel}")
}

/// The hook's view of a bag: its own pending writes, else the committed bag.
fn view_bag(st: &State, ctx: &Ctx, rel: u32, owner: &str) -> Option<Databag> {
    if let Some(b) = ctx.txn.bags.get(&(rel, owner.to_string())) {
        return Some(b.clone());
    }
    st.bag(rel, owner).cloned()
}

const REL_SPECS: &[FlagSpec] = &[val(&["r", "relation"]), val(&["format"]), boolean(&["app"])];

fn relation_ids(st: &mut State, ctx: &mut Ctx, c: &Call) -> R {
    let p = c.parse(&[val(&["format"])])?;
    let f = Format::parse(p.get("format"), Format::Smart, true)?;
    let app = app_of(&ctx.unit).to_string();
    let endpoint = match p.pos.as_slice() {
        [] => match ctx
            .rel
            .and_then(|r| st.relations.get(&r))
            .and_then(|r| r.endpoint_of(&app))
        {
            Some(e) => e.to_string(),
            None => return usage("no endpoint name specified"),
        },
        [e] => e.clone(),
        more => return usage(format!("unrecognized args: {:?}", &more[1..])),
    };
    let unit = &st.units[&ctx.unit];
    let mut ids: Vec<u32> = unit
        .rels
        .iter()
        .filter(|(id, ur)| {
            !ur.broken
                && st
                    .relations
                    .get(id)
                    .map(|r| r.endpoint_of(&app) == Some(&endpoint))
                    .unwrap_or(false)
        })
        .map(|(id, _)| *id)
        .collect();
    ids.sort();
    let v: Vec<Value> = ids
        .iter()
        .map(|i| Value::String(format!("{endpoint}:{i}")))
        .collect();
    Ok(flags::render(&Value::Array(v), f))
}

fn relation_list(st: &mut State, ctx: &mut Ctx, c: &Call) -> R {
    let p = c.parse(REL_SPECS)?;
    let f = Format::parse(p.get("format"), Format::Smart, true)?;
    no_args(&p)?;
    let rel = need_relation(st, ctx, &p)?;
    if p.has("app") {
        let remote = st
            .relations
            .get(&rel)
            .and_then(|r| r.remote_app(app_of(&ctx.unit)))
            .unwrap_or_default()
            .to_string();
        return Ok(flags::render(&Value::String(remote), f));
    }
    let mut members: Vec<String> = st.units[&ctx.unit]
        .rels
        .get(&rel)
        .map(|ur| ur.members.iter().cloned().collect())
        .unwrap_or_default();
    sort_units(&mut members);
    Ok(flags::render(
        &Value::Array(members.into_iter().map(Value::String).collect()),
        f,
    ))
}

fn valid_unit_name(s: &str) -> bool {
    match s.split_once('/') {
        Some((a, n)) => !a.is_empty() && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()),
        None => false,
    }
}

fn relation_get(st: &mut State, ctx: &mut Ctx, c: &Call) -> R {
    let p = c.parse(REL_SPECS)?;
    let f = Format::parse(p.get("format"), Format::Smart, true)?;
    let rel = need_relation(st, ctx, &p)?;
    let mut app_mode = p.has("app");
    let key = match p.pos.first().map(String::as_str) {
        None | Some("-") => None,
        Some(k) => Some(k.to_string()),
    };
    let target = match p.pos.get(1) {
        Some(t) => {
            if p.pos.len() > 2 {
                return usage(format!("unrecognized args: {:?}", &p.pos[2..]));
            }
            if app_mode {
                app_of(t).to_string()
            } else if !t.contains('/') {
                return usage(format!("expected unit name, got application name {t:?}"));
            } else if !valid_unit_name(t) {
                return usage(format!("invalid unit name {t:?}"));
            } else {
                t.clone()
            }
        }
        None => {
            // As Juju: the hook's remote unit, else (app-level -changed, -broken) its remote app
            // with --app implied; with --app, the hook's remote app.
            let remote_app = ctx.remote_app.clone().filter(|a| !a.is_empty());
            if app_mode {
                match remote_app {
                    Some(a) => a,
                    None => return usage("no unit or application specified"),
                }
            } else if let Some(u) = ctx.remote_unit.clone() {
                u
            } else if let Some(a) = remote_app {
                app_mode = true;
                a
            } else {
                return usage("no unit or application specified");
            }
        }
    };
    let own_app = app_of(&ctx.unit).to_string();
    let r = st
        .relations
        .get(&rel)
        .ok_or_else(|| E::Fail(ToolFail::run("relation not found")))?;
    if app_mode && target == own_app && !r.peer && !st.is_leader(&ctx.unit) {
        return fail("permission denied");
    }
    let is_own = target == ctx.unit || (app_mode && target == own_app);
    let bag = if is_own {
        view_bag(st, ctx, rel, &target)
    } else {
        st.bag(rel, &target).cloned()
    };
    let Some(bag) = bag else {
        let what = if app_mode { "application" } else { "unit" };
        return fail(format!(
            "cannot read settings for {what} {target:?} in relation {:?}: settings not found",
            rel_name(st, ctx, rel)
        ));
    };
    let v = match key {
        None => Value::Object(
            bag.into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect(),
        ),
        Some(k) => bag
            .get(&k)
            .cloned()
            .map(Value::String)
            .unwrap_or(Value::Null),
    };
    Ok(flags::render(&v, f))
}

fn yaml_string_map(bytes: &[u8], what: &str) -> Result<Vec<(String, String)>, E> {
    let v: Value =
        serde_norway::from_slice(bytes).or_else(|e| fail(format!("cannot parse {what}: {e}")))?;
    let m = match v {
        Value::Null => Map::new(),
        Value::Object(m) => m,
        other => return fail(format!("cannot parse {what}: expected a map, got {other}")),
    };
    Ok(m.into_iter()
        .map(|(k, v)| {
            let s = match v {
                Value::String(s) => s,
                Value::Null => String::new(),
                other => other.to_string(),
            };
            (k, s)
        })
        .collect())
}

fn kv_args(pos: &[String]) -> Result<Vec<(String, String)>, E> {
    pos.iter()
        .map(|a| match a.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => usage(format!("expected \"key=value\", got {a:?}")),
        })
        .collect()
}

fn relation_set(st: &mut State, ctx: &mut Ctx, c: &Call) -> R {
    let p = c.parse(&[
        val(&["r", "relation"]),
        val(&["format"]),
        boolean(&["app"]),
        val(&["file"]),
    ])?;
    let rel = need_relation(st, ctx, &p)?;
    let args = kv_args(&p.pos)?;
    let mut changes = match p.get("file") {
        Some(path) => yaml_string_map(&c.read_path(path)?, "--file")?,
        None => Vec::new(),
    };
    changes.extend(args);
    let owner = if p.has("app") {
        if !st.is_leader(&ctx.unit) {
            return fail("cannot write relation settings");
        }
        app_of(&ctx.unit).to_string()
    } else {
        ctx.unit.clone()
    };
    let mut bag = view_bag(st, ctx, rel, &owner).unwrap_or_default();
    for (k, v) in changes {
        if v.is_empty() {
            bag.remove(&k);
        } else {
            bag.insert(k, v);
        }
    }
    ctx.txn.bags.insert((rel, owner), bag);
    Ok(String::new())
}

fn relation_model_get(st: &mut State, ctx: &mut Ctx, c: &Call) -> R {
    let p = c.parse(REL_SPECS)?;
    let f = Format::parse(p.get("format"), Format::Smart, true)?;
    no_args(&p)?;
    need_relation(st, ctx, &p)?;
    Ok(flags::render(&json!({"uuid": st.model_uuid}), f))
}

// ---------------------------------------------------------------------------------------------
// Leadership, config, state

fn leader_get(st: &mut State, ctx: &mut Ctx, c: &Call) -> R {
    let p = c.parse(&[val(&["format"])])?;
    let f = Format::parse(p.get("format"), Format::Smart, true)?;
    let settings = st
        .apps
        .get(app_of(&ctx.unit))
        .map(|a| a.leader_settings.clone())
        .unwrap_or_default();
    let v = match p.pos.as_slice() {
        [] => map_value(&settings),
        [k] if k == "-" => map_value(&settings),
        [k] if k.contains('=') => return usage(format!("invalid key {k:?}")),
        [k] => settings
            .get(k)
            .cloned()
            .map(Value::String)
            .unwrap_or(Value::Null),
        more => return usage(format!("unrecognized args: {:?}", &more[1..])),
    };
    Ok(flags::render(&v, f))
}

fn map_value(m: &Databag) -> Value {
    Value::Object(
        m.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

fn leader_set(st: &mut State, ctx: &mut Ctx, c: &Call) -> R {
    let p = c.parse(&[val(&["file"])])?;
    let mut changes = match p.get("file") {
        Some(path) => yaml_string_map(&c.read_path(path)?, "--file")?,
        None => Vec::new(),
    };
    changes.extend(kv_args(&p.pos)?);
    if !st.is_leader(&ctx.unit) {
        return fail("cannot write leadership settings: cannot write settings: not the leader");
    }
    let app = app_of(&ctx.unit).to_string();
    let a = st.apps.get_mut(&app).expect("app");
    let before = a.leader_settings.clone();
    for (k, v) in changes {
        if v.is_empty() {
            a.leader_settings.remove(&k);
        } else {
            a.leader_settings.insert(k, v);
        }
    }
    // Immediate (not transactional); the other units hear about it.
    if a.leader_settings != before {
        for u in st.live_app_units(&app) {
            if u != ctx.unit {
                st.push(&u, Event::plain("leader-settings-changed"));
            }
        }
    }
    Ok(String::new())
}

fn config_get(st: &mut State, ctx: &mut Ctx, c: &Call) -> R {
    let p = c.parse(&[val(&["format"]), boolean(&["all", "a"])])?;
    let f = Format::parse(p.get("format"), Format::Smart, true)?;
    let cfg = st
        .apps
        .get(app_of(&ctx.unit))
        .map(|a| a.effective_config())
        .unwrap_or_default();
    match p.pos.as_slice() {
        [] => {
            let m: Map<String, Value> = if p.has("all") {
                cfg
            } else {
                cfg.into_iter().filter(|(_, v)| !v.is_null()).collect()
            };
            Ok(flags::render(&Value::Object(m), f))
        }
        [k] if p.has("all") => usage(format!("cannot use argument --all together with key {k:?}")),
        [k] => Ok(flags::render(cfg.get(k).unwrap_or(&Value::Null), f)),
        more => usage(format!("unrecognized args: {:?}", &more[1..])),
    }
}

fn state_get(ctx: &mut Ctx, c: &Call) -> R {
    let p = c.parse(&[val(&["format"]), boolean(&["strict"])])?;
    let f = Format::parse(p.get("format"), Format::Smart, true)?;
    let s = &ctx.txn.state;
    match p.pos.as_slice() {
        [] => Ok(flags::render(
            &if s.is_empty() {
                Value::Null
            } else {
                map_value(s)
            },
            f,
        )),
        [k] if k == "-" => Ok(flags::render(
            &if s.is_empty() {
                Value::Null
            } else {
                map_value(s)
            },
            f,
        )),
        [k] => match s.get(k) {
            Some(v) => Ok(flags::render(&Value::String(v.clone()), f)),
            None if p.has("strict") => fail(format!("{k:?} not found")),
            None => Ok(flags::render(
                &Value::String(String::new()),
                if f == Format::Smart { Format::Json } else { f },
            )),
        },
        more => usage(format!("unrecognized args: {:?}", &more[1..])),
    }
}

const MAX_STATE_KEY: usize = 256;
const MAX_STATE_VALUE: usize = 64 * 1024;

fn state_set(ctx: &mut Ctx, c: &Call) -> R {
    let p = c.parse(&[val(&["file"])])?;
    let args = kv_args(&p.pos)?;
    let mut changes = match p.get("file") {
        Some(path) => yaml_string_map(&c.read_path(path)?, "--file")?,
        None => Vec::new(),
    };
    changes.extend(args);
    for (k, v) in &changes {
        if k.len() > MAX_STATE_KEY {
            return fail(format!(
                "key {:?}... exceeds the max allowed key size of {MAX_STATE_KEY} bytes",
                &k[..16]
            ));
        }
        if v.len() > MAX_STATE_VALUE {
            return fail(format!(
                "value for key {k:?} ({} bytes) exceeds the max allowed value size of {MAX_STATE_VALUE} bytes",
                v.len()
            ));
        }
    }
    for (k, v) in changes {
        if v.is_empty() {
            ctx.txn.state.remove(&k);
        } else {
            ctx.txn.state.insert(k, v);
        }
    }
    Ok(String::new())
}

// ---------------------------------------------------------------------------------------------
// Actions

fn action_get(ctx: &mut Ctx, c: &Call) -> R {
    let p = c.parse(&[val(&["format"])])?;
    let f = Format::parse(p.get("format"), Format::Smart, true)?;
    let a = ctx.action.as_ref().ok_or_else(not_action)?;
    let mut v = Value::Object(a.params.clone());
    match p.pos.as_slice() {
        [] => {}
        [path] => {
            for seg in path.split('.') {
                v = v.get(seg).cloned().unwrap_or(Value::Null);
            }
        }
        more => return usage(format!("unrecognized args: {:?}", &more[1..])),
    }
    Ok(flags::render(&v, f))
}

fn valid_action_key(k: &str) -> bool {
    let b = k.as_bytes();
    !b.is_empty()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

fn action_set(ctx: &mut Ctx, c: &Call) -> R {
    let p = c.parse(&[])?;
    let mut sets = Vec::new();
    for arg in &p.pos {
        let Some((key, value)) = arg.split_once('=') else {
            return usage(format!("argument {arg:?} must be of the form key...=value"));
        };
        let segs: Vec<&str> = key.split('.').collect();
        for s in &segs {
            if !valid_action_key(s) {
                return usage(format!(
                    "key {s:?} must start and end with lowercase alphanumeric, and contain only lowercase alphanumeric and hyphens"
                ));
            }
        }
        if ["stdout", "stdout-encoding", "stderr", "stderr-encoding"].contains(&segs[0]) {
            return usage(format!("cannot set reserved action key {:?}", segs[0]));
        }
        sets.push((
            segs.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            value.to_string(),
        ));
    }
    let a = ctx.action.as_mut().ok_or_else(not_action)?;
    for (segs, value) in sets {
        let mut m = &mut a.results;
        for s in &segs[..segs.len() - 1] {
            let entry = m
                .entry(s.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            m = entry.as_object_mut().expect("object");
        }
        m.insert(segs[segs.len() - 1].clone(), Value::String(value));
    }
    Ok(String::new())
}

// ---------------------------------------------------------------------------------------------
// Status, logs

const STATUSES: [&str; 4] = ["maintenance", "blocked", "waiting", "active"];

fn status_set(st: &mut State, ctx: &mut Ctx, c: &Call) -> R {
    let p = c.parse(&[boolean(&["application"])])?;
    let (status, message) = match p.pos.as_slice() {
        [s] => (s.clone(), String::new()),
        [s, m] => (s.clone(), m.clone()),
        [] => return usage("invalid args, require <status> [message] [data]"),
        more => return usage(format!("unrecognized args: {:?}", &more[2..])),
    };
    if !STATUSES.contains(&status.as_str()) {
        return usage(format!(
            "invalid status {status:?}, expected one of [maintenance blocked waiting active]"
        ));
    }
    if p.has("application") {
        if !st.is_leader(&ctx.unit) {
            return fail("this unit is not the leader");
        }
        if let Some(a) = st.apps.get_mut(app_of(&ctx.unit)) {
            a.status = Some((status, message));
        }
    } else if let Some(u) = st.units.get_mut(&ctx.unit) {
        u.status = (status, message);
        u.status_set = true;
        u.status_since = st.clock;
    }
    Ok(String::new())
}

fn status_get(st: &mut State, ctx: &mut Ctx, c: &Call) -> R {
    let p = c.parse(&[
        val(&["format"]),
        boolean(&["include-data"]),
        boolean(&["application"]),
    ])?;
    let f = Format::parse(p.get("format"), Format::Smart, true)?;
    no_args(&p)?;
    let unit_entry =
        |u: &Unit| json!({"message": u.status.1, "status": u.status.0, "status-data": {}});
    if p.has("application") {
        if !st.is_leader(&ctx.unit) {
            return fail("finding application status: this unit is not the leader");
        }
        let app = app_of(&ctx.unit);
        let (s, m) = st
            .apps
            .get(app)
            .and_then(|a| a.status.clone())
            .unwrap_or(("unknown".into(), String::new()));
        let mut units = Map::new();
        for name in st.app_units(app) {
            units.insert(name.clone(), unit_entry(&st.units[&name]));
        }
        let v = json!({"application-status": {"message": m, "status": s, "status-data": {}, "units": units}});
        return Ok(flags::render(&v, f));
    }
    let u = &st.units[&ctx.unit];
    if p.has("include-data") {
        Ok(flags::render(&unit_entry(u), f))
    } else if f == Format::Smart {
        Ok(flags::render(&Value::String(u.status.0.clone()), f))
    } else {
        Ok(flags::render(&json!({"status": u.status.0}), f))
    }
}

fn juju_log(st: &mut State, ctx: &mut Ctx, c: &Call) -> R {
    let p = c.parse(&[
        val(&["l", "log-level"]),
        boolean(&["debug"]),
        val(&["format"]),
    ])?;
    if p.pos.is_empty() {
        return usage("no message specified");
    }
    let mut level = if p.has("debug") {
        "DEBUG".to_string()
    } else {
        "INFO".to_string()
    };
    if let Some(l) = p.get("l") {
        let up = l.to_ascii_uppercase();
        match up.as_str() {
            "TRACE" | "DEBUG" | "INFO" | "WARNING" | "ERROR" | "CRITICAL" => level = up,
            "WARN" => level = "WARNING".into(),
            _ => {
                st.log(
                    &ctx.unit,
                    format!("WARNING Specified log level of {l:?} is not valid"),
                );
                level = "INFO".into();
            }
        }
    }
    let prefix = match ctx.rel {
        Some(r) => format!("{}: ", rel_name(st, ctx, r)),
        None => String::new(),
    };
    let line = format!("{level} {prefix}{}", p.pos.join(" "));
    st.log(&ctx.unit, line);
    Ok(String::new())
}

// ---------------------------------------------------------------------------------------------
// Ports, network, goal state

fn ports(ctx: &mut Ctx, c: &Call) -> R {
    let p = c.parse(&[val(&["endpoints"]), val(&["format"])])?;
    let spec = match p.pos.as_slice() {
        [s] => s.clone(),
        [] => return usage("no port or range specified"),
        more => return usage(format!("unrecognized args: {:?}", &more[1..])),
    };
    let norm = normalize_port(&spec).ok_or_else(|| {
        E::Fail(ToolFail::usage(format!(
            "expected <port>[/<protocol>] or <from>-<to>[/<protocol>] or icmp; got {spec:?}"
        )))
    })?;
    if c.command == "open-port" {
        ctx.txn.ports.insert(norm);
    } else {
        ctx.txn.ports.remove(&norm);
    }
    Ok(String::new())
}

fn normalize_port(s: &str) -> Option<String> {
    if s.eq_ignore_ascii_case("icmp") {
        return Some("icmp".into());
    }
    let (range, proto) = match s.split_once('/') {
        Some((r, p)) => (r, p.to_ascii_lowercase()),
        None => (s, "tcp".to_string()),
    };
    if proto != "tcp" && proto != "udp" {
        return None;
    }
    let port = |x: &str| x.parse::<u32>().ok().filter(|n| (1..=65535).contains(n));
    match range.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (port(a)?, port(b)?);
            (a <= b).then(|| {
                if a == b {
                    format!("{a}/{proto}")
                } else {
                    format!("{a}-{b}/{proto}")
                }
            })
        }
        None => port(range).map(|n| format!("{n}/{proto}")),
    }
}

fn network_get(st: &mut State, ctx: &mut Ctx, c: &Call) -> R {
    let p = c.parse(&[
        val(&["r", "relation"]),
        val(&["format"]),
        boolean(&["bind-address"]),
        boolean(&["ingress-address"]),
        boolean(&["egress-subnets"]),
        boolean(&["primary-address"]),
    ])?;
    let f = Format::parse(p.get("format"), Format::Smart, true)?;
    let _ = relation_arg(st, ctx, &p)?;
    let binding = match p.pos.as_slice() {
        [b] => b.clone(),
        [] => return usage("no arguments specified"),
        more => return usage(format!("unrecognized args: {:?}", &more[1..])),
    };
    let app = app_of(&ctx.unit);
    let ok = binding == "juju-info"
        || st
            .apps
            .get(app)
            .map(|a| a.meta.endpoints.iter().any(|e| e.name == binding))
            .unwrap_or(false);
    if !ok {
        return fail(format!("no network config found for binding {binding:?}"));
    }
    let ip = st.units[&ctx.unit].address.clone();
    let mut picked = Map::new();
    for (flag, v) in [
        ("bind-address", Value::String(ip.clone())),
        ("ingress-address", Value::String(ip.clone())),
        ("egress-subnets", Value::String(format!("{ip}/32"))),
        ("primary-address", Value::String(ip.clone())),
    ] {
        if p.has(flag) {
            picked.insert(flag.to_string(), v);
        }
    }
    let v = match picked.len() {
        0 => json!({
            "bind-addresses": [{
                "mac-address": "",
                "interface-name": "eth0",
                "addresses": [{"hostname": "", "value": ip, "cidr": "10.0.0.0/24"}],
                "macaddress": "",
                "interfacename": "eth0",
            }],
            "egress-subnets": [format!("{ip}/32")],
            "ingress-addresses": [ip],
        }),
        1 => picked
            .into_iter()
            .next()
            .map(|(_, v)| v)
            .unwrap_or(Value::Null),
        _ => Value::Object(picked),
    };
    Ok(flags::render(&v, f))
}

fn goal_state(st: &mut State, ctx: &mut Ctx, c: &Call) -> R {
    let p = c.parse(&[val(&["format"])])?;
    let f = Format::parse(p.get("format"), Format::Smart, true)?;
    no_args(&p)?;
    let app = app_of(&ctx.unit);
    let since = util::rfc3339(st.clock);
    let entry = |name: &str| {
        let s = if st.units.get(name).map(|u| u.dying).unwrap_or(false) {
            "dying"
        } else {
            "active"
        };
        json!({"status": s, "since": since})
    };
    let mut units = Map::new();
    for u in st.app_units(app) {
        units.insert(u.clone(), entry(&u));
    }
    let mut rels = Map::new();
    for r in st
        .relations
        .values()
        .filter(|r| r.involves(app) && !r.dying)
    {
        let ep = r.endpoint_of(app).unwrap_or_default().to_string();
        let remote = r.remote_app(app).unwrap_or_default().to_string();
        let m = rels.entry(ep).or_insert_with(|| Value::Object(Map::new()));
        let m = m.as_object_mut().expect("object");
        m.insert(remote.clone(), json!({"status": "joined", "since": since}));
        for u in st.app_units(&remote) {
            if u != ctx.unit {
                m.insert(u.clone(), entry(&u));
            }
        }
    }
    Ok(flags::render(
        &json!({"units": units, "relations": rels}),
        f,
    ))
}

// ---------------------------------------------------------------------------------------------
// Secrets

fn parse_secret_id(s: &str) -> Result<String, E> {
    let rest = s.strip_prefix("secret:").unwrap_or(s);
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let id = match rest.rsplit_once('/') {
        Some((uuid, id)) if !uuid.is_empty() && !uuid.contains('/') => id,
        Some(_) => return usage(format!("secret URI {s:?} not valid")),
        None => rest,
    };
    if util::is_xid(id) {
        Ok(id.to_string())
    } else {
        usage(format!("secret URI {s:?} not valid"))
    }
}

fn valid_secret_key(k: &str) -> bool {
    let b = k.as_bytes();
    if b.len() < 3 || !b[0].is_ascii_lowercase() || b[b.len() - 1] == b'-' {
        return false;
    }
    let mut prev_dash = false;
    for &c in &b[1..] {
        if c == b'-' {
            if prev_dash {
                return false;
            }
            prev_dash = true;
        } else if c.is_ascii_lowercase() || c.is_ascii_digit() {
            prev_dash = false;
        } else {
            return false;
        }
    }
    // `(?:-?[a-z0-9]){2,}` needs at least two alphanumerics after the first letter.
    b[1..].iter().filter(|c| **c != b'-').count() >= 2
}

const MAX_SECRET_VALUE: usize = 1_000_000;

/// Content from `key=value`, `key#base64=..`, `key#file=path` args and `--file`.
fn secret_content(c: &Call, p: &Parsed, args: &[String]) -> Result<Databag, E> {
    let mut out = Databag::new();
    if let Some(path) = p.get("file") {
        for (k, v) in yaml_string_map(&c.read_path(path)?, "--file")? {
            let (key, value) = decode_secret_value(c, &k, v)?;
            out.insert(key, value);
        }
    }
    for a in args {
        let Some((k, v)) = a.split_once('=') else {
            return usage(format!("key value {a:?} not valid"));
        };
        let (key, value) = decode_secret_value(c, k, v.to_string())?;
        out.insert(key, value);
    }
    Ok(out)
}

fn decode_secret_value(c: &Call, k: &str, v: String) -> Result<(String, String), E> {
    let (key, value) = if let Some(key) = k.strip_suffix("#base64") {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(v.trim())
            .or_else(|_| usage(format!("value for key {key:?} is not valid base64")))?;
        (key, String::from_utf8_lossy(&raw).into_owned())
    } else if let Some(key) = k.strip_suffix("#file") {
        let raw = c.read_path(&v)?;
        (key, String::from_utf8_lossy(&raw).into_owned())
    } else {
        (k, v)
    };
    if !valid_secret_key(key) {
        return usage(format!("key {key:?} not valid"));
    }
    if value.len() > MAX_SECRET_VALUE {
        return usage(format!(
            "secret content for key {key:?} too large: {} bytes (max {MAX_SECRET_VALUE})",
            value.len()
        ));
    }
    Ok((key.to_string(), value))
}

fn parse_expire(st: &State, s: &str) -> Result<std::time::SystemTime, E> {
    if let Some(t) = util::parse_time(s) {
        return Ok(t);
    }
    if let Some(d) = util::parse_go_duration(s) {
        return Ok(st.clock + d);
    }
    usage(format!("expire time or duration {s:?} not valid"))
}

const ROTATE: [&str; 7] = [
    "never",
    "hourly",
    "daily",
    "weekly",
    "monthly",
    "quarterly",
    "yearly",
];

const SECRET_META_SPECS: [FlagSpec; 5] = [
    val(&["label"]),
    val(&["description"]),
    val(&["expire"]),
    val(&["rotate"]),
    val(&["owner"]),
];

struct Meta {
    label: Option<String>,
    description: Option<String>,
    expire: Option<std::time::SystemTime>,
    rotate: Option<String>,
}

fn secret_meta(st: &State, p: &Parsed) -> Result<Meta, E> {
    let rotate = match p.get("rotate") {
        Some(r) if !ROTATE.contains(&r) => return usage(format!("rotate policy {r:?} not valid")),
        r => r.map(String::from),
    };
    let expire = match p.get("expire") {
        Some(e) => Some(parse_expire(st, e)?),
        None => None,
    };
    Ok(Meta {
        label: p.get("label").map(String::from),
        description: p.get("description").map(String::from),
        expire,
        rotate,
    })
}

fn label_taken(ctx: &Ctx, label: &str, except: Option<&str>) -> bool {
    ctx.txn.secrets.values().any(|s| {
        s.owned_by(&ctx.unit) && s.label.as_deref() == Some(label) && Some(s.id.as_str()) != except
    })
}

fn secret_add(st: &mut State, ctx: &mut Ctx, c: &Call) -> R {
    let mut specs = SECRET_META_SPECS.to_vec();
    specs.push(val(&["file"]));
    let p = c.parse(&specs)?;
    let meta = secret_meta(st, &p)?;
    let owner_kind = p.get("owner").unwrap_or("application");
    if owner_kind != "application" && owner_kind != "unit" {
        return usage(format!("secret owner {owner_kind:?} not valid"));
    }
    if p.pos.is_empty() && p.get("file").is_none() {
        return usage("missing secret value or filename");
    }
    let content = secret_content(c, &p, &p.pos)?;
    if content.is_empty() {
        return usage("missing secret value or filename");
    }
    let by_unit = owner_kind == "unit";
    if !by_unit && !st.is_leader(&ctx.unit) {
        return fail("this unit is not the leader");
    }
    if let Some(l) = &meta.label {
        if label_taken(ctx, l, None) {
            return fail(format!("secret with label {l:?} already exists"));
        }
    }
    let id = util::xid();
    let owner = if by_unit {
        ctx.unit.clone()
    } else {
        app_of(&ctx.unit).to_string()
    };
    let next_rotate = meta
        .rotate
        .as_deref()
        .and_then(|r| crate::model::rotate_next(r, st.clock));
    ctx.txn.secrets.insert(
        id.clone(),
        Secret {
            id: id.clone(),
            owner,
            owner_is_unit: by_unit,
            label: meta.label,
            description: meta.description,
            revisions: BTreeMap::from([(1, content)]),
            latest: 1,
            expire: meta.expire,
            expire_notified: false,
            rotate: meta.rotate.filter(|r| r != "never"),
            next_rotate,
            grants: BTreeMap::new(),
            consumers: BTreeMap::new(),
            obsolete: BTreeSet::new(),
        },
    );
    Ok(format!("secret:{id}\n"))
}

/// An owned secret the unit may manage (leader for app-owned).
fn managed_secret<'a>(st: &State, ctx: &'a mut Ctx, id: &str) -> Result<&'a mut Secret, E> {
    let leader = st.is_leader(&ctx.unit);
    let unit = ctx.unit.clone();
    let Some(s) = ctx.txn.secrets.get_mut(id) else {
        return fail(format!("secret {id:?} not found"));
    };
    if !s.owned_by(&unit) {
        return fail("permission denied");
    }
    if !s.owner_is_unit && !leader {
        return fail("this unit is not the leader");
    }
    Ok(s)
}

fn secret_set(st: &mut State, ctx: &mut Ctx, c: &Call) -> R {
    let mut specs = SECRET_META_SPECS.to_vec();
    specs.push(val(&["file"]));
    let p = c.parse(&specs)?;
    let Some(raw) = p.pos.first() else {
        return usage("missing secret URI");
    };
    let id = parse_secret_id(raw)?;
    let meta = secret_meta(st, &p)?;
    let content = secret_content(c, &p, &p.pos[1..])?;
    if let Some(l) = &meta.label {
        if label_taken(ctx, l, Some(&id)) {
            return fail(format!("secret with label {l:?} already exists"));
        }
    }
    let clock = st.clock;
    let s = managed_secret(st, ctx, &id)?;
    if !content.is_empty() && s.revisions.get(&s.latest) != Some(&content) {
        s.latest += 1;
        let rev = s.latest;
        s.revisions.insert(rev, content);
    }
    if let Some(l) = meta.label {
        s.label = Some(l);
    }
    if let Some(d) = meta.description {
        s.description = Some(d);
    }
    if let Some(e) = meta.expire {
        s.expire = Some(e);
        s.expire_notified = false;
    }
    if let Some(r) = meta.rotate {
        s.next_rotate = crate::model::rotate_next(&r, clock);
        s.rotate = (r != "never").then_some(r);
    }
    Ok(String::new())
}

/// Find a secret by id or label as seen by this unit. Returns its id.
fn lookup_secret(ctx: &Ctx, id: Option<&str>, label: Option<&str>) -> Result<String, E> {
    if let Some(id) = id {
        if ctx.txn.secrets.contains_key(id) {
            return Ok(id.to_string());
        }
        return fail(format!("secret {id:?} not found"));
    }
    let label = label.unwrap_or_default();
    if let Some(s) = ctx
        .txn
        .secrets
        .values()
        .find(|s| s.owned_by(&ctx.unit) && s.label.as_deref() == Some(label))
    {
        return Ok(s.id.clone());
    }
    if let Some(s) = ctx
        .txn
        .secrets
        .values()
        .find(|s| s.consumers.get(&ctx.unit).and_then(|c| c.label.as_deref()) == Some(label))
    {
        return Ok(s.id.clone());
    }
    fail(format!("secret {label:?} not found"))
}

fn secret_get(st: &mut State, ctx: &mut Ctx, c: &Call) -> R {
    let p = c.parse(&[
        val(&["format"]),
        val(&["label"]),
        boolean(&["peek"]),
        boolean(&["refresh"]),
    ])?;
    let f = Format::parse(p.get("format"), Format::Yaml, false)?;
    if p.has("peek") && p.has("refresh") {
        return usage("specify one of --peek or --refresh but not both");
    }
    let id = match p.pos.first() {
        Some(raw) => Some(parse_secret_id(raw)?),
        None => None,
    };
    let key = p.pos.get(1).cloned();
    if p.pos.len() > 2 {
        return usage(format!("unrecognized args: {:?}", &p.pos[2..]));
    }
    let label = p.get("label");
    if id.is_none() && label.is_none() {
        return usage("require either a secret URI or label");
    }
    let id = lookup_secret(ctx, id.as_deref(), label)?;
    let unit = ctx.unit.clone();
    let _ = st;
    let s = ctx.txn.secrets.get_mut(&id).expect("secret");
    let content = if s.owned_by(&unit) {
        if let (Some(l), true) = (label, !p.pos.is_empty()) {
            s.label = Some(l.to_string());
        }
        s.revisions.get(&s.latest).cloned().unwrap_or_default()
    } else {
        if !s.granted_to(&unit) {
            return fail("permission denied");
        }
        let latest = s.latest;
        let consumer = s.consumers.entry(unit.clone()).or_insert(Consumer {
            label: None,
            revision: latest,
        });
        if let (Some(l), true) = (label, !p.pos.is_empty()) {
            consumer.label = Some(l.to_string());
        }
        let rev = if p.has("peek") {
            latest
        } else {
            if p.has("refresh") {
                consumer.revision = latest;
            }
            consumer.revision
        };
        s.revisions.get(&rev).cloned().unwrap_or_default()
    };
    let v = match key {
        None => map_value(&content),
        Some(k) => {
            let (name, b64) = match k.strip_suffix("#base64") {
                Some(n) => (n.to_string(), true),
                None => (k.clone(), false),
            };
            match content.get(&name) {
                None => return fail(format!("secret key {name:?} not found")),
                Some(v) if b64 => {
                    Value::String(base64::engine::general_purpose::STANDARD.encode(v))
                }
                Some(v) => Value::String(v.clone()),
            }
        }
    };
    Ok(flags::render(&v, f))
}

fn secret_info_get(st: &mut State, ctx: &mut Ctx, c: &Call) -> R {
    let p = c.parse(&[val(&["format"]), val(&["label"])])?;
    let f = Format::parse(p.get("format"), Format::Yaml, false)?;
    let label = p.get("label");
    let id = match (p.pos.as_slice(), label) {
        ([_], Some(_)) => return usage("specify either a secret URI or label but not both"),
        ([raw], None) => Some(parse_secret_id(raw)?),
        ([], Some(_)) => None,
        ([], None) => return usage("require either a secret URI or label"),
        (more, _) => return usage(format!("unrecognized args: {:?}", &more[1..])),
    };
    let shown = id
        .clone()
        .or_else(|| label.map(String::from))
        .unwrap_or_default();
    let leader = st.is_leader(&ctx.unit);
    let found = match id {
        Some(id) => ctx.txn.secrets.get(&id),
        None => ctx
            .txn
            .secrets
            .values()
            .find(|s| s.owned_by(&ctx.unit) && s.label.as_deref() == label),
    };
    let Some(s) = found.filter(|s| s.owned_by(&ctx.unit) && (s.owner_is_unit || leader)) else {
        return fail(format!("secret {shown:?} not found"));
    };
    let mut info = Map::new();
    info.insert("revision".into(), json!(s.latest));
    if let Some(l) = &s.label {
        info.insert("label".into(), json!(l));
    }
    info.insert(
        "owner".into(),
        json!(if s.owner_is_unit {
            "unit"
        } else {
            "application"
        }),
    );
    if let Some(d) = &s.description {
        info.insert("description".into(), json!(d));
    }
    if let Some(r) = &s.rotate {
        info.insert("rotation".into(), json!(r));
    }
    if let Some(e) = s.expire {
        info.insert("expiry".into(), json!(util::rfc3339(e)));
    }
    if let Some(n) = s.next_rotate {
        info.insert("rotates".into(), json!(util::rfc3339(n)));
    }
    if !s.grants.is_empty() {
        let access: Vec<Value> = s
            .grants
            .iter()
            .map(|(t, rel)| {
                let tag = if t.contains('/') {
                    format!("unit-{}", t.replace('/', "-"))
                } else {
                    format!("application-{t}")
                };
                json!({"target": tag, "scope": format!("relation-{rel}"), "role": "view"})
            })
            .collect();
        info.insert("access".into(), Value::Array(access));
    }
    let mut out = Map::new();
    out.insert(s.id.clone(), Value::Object(info));
    Ok(flags::render(&Value::Object(out), f))
}

fn secret_grant(st: &mut State, ctx: &mut Ctx, c: &Call, grant: bool) -> R {
    let p = if grant {
        c.parse(&[val(&["relation", "r"]), val(&["unit"])])?
    } else {
        c.parse(&[
            val(&["relation", "r"]),
            val(&["unit"]),
            val(&["app", "application"]),
        ])?
    };
    let raw = match p.pos.as_slice() {
        [r] => r.clone(),
        [] => return usage("missing secret URI"),
        more => return usage(format!("unrecognized args: {:?}", &more[1..])),
    };
    let id = parse_secret_id(&raw)?;
    let rel = match p.get("relation") {
        Some(r) => {
            let tail = r.rsplit(':').next().unwrap_or(r);
            let Ok(n) = tail.parse::<u32>() else {
                return usage(format!(
                    "invalid value {r:?} for flag --relation: invalid relation id"
                ));
            };
            if !st.units[&ctx.unit].rels.contains_key(&n) {
                return usage(format!(
                    "invalid value {r:?} for flag --relation: relation not found"
                ));
            }
            Some(n)
        }
        None => None,
    };
    let remote_app = rel
        .and_then(|r| st.relations.get(&r))
        .and_then(|r| r.remote_app(app_of(&ctx.unit)))
        .map(String::from);
    let unit_arg = p.get("unit").map(String::from);
    let app_arg = p.get("app").map(String::from);
    if grant && rel.is_none() {
        return usage("missing relation");
    }
    if let (Some(u), Some(ra)) = (&unit_arg, &remote_app) {
        if app_of(u) != ra {
            return fail(format!(
                "unit {u:?} is not in relation with application {ra:?}"
            ));
        }
    }
    let s = managed_secret(st, ctx, &id)?;
    if grant {
        let target = unit_arg.or(remote_app).unwrap_or_default();
        s.grants.insert(target, rel.unwrap_or_default());
    } else if let Some(u) = unit_arg {
        s.grants.remove(&u);
        s.consumers.remove(&u);
    } else if let Some(a) = app_arg.or(remote_app) {
        s.grants.retain(|t, _| app_of(t) != a);
        s.consumers.retain(|t, _| app_of(t) != a);
    } else if let Some(r) = rel {
        s.grants.retain(|_, gr| *gr != r);
    }
    Ok(String::new())
}

fn secret_remove(st: &mut State, ctx: &mut Ctx, c: &Call) -> R {
    let p = c.parse(&[val(&["revision"])])?;
    let raw = match p.pos.as_slice() {
        [r] => r.clone(),
        [] => return usage("missing secret URI"),
        more => return usage(format!("unrecognized args: {:?}", &more[1..])),
    };
    let id = parse_secret_id(&raw)?;
    let revision = match p.get("revision") {
        Some(r) => Some(
            r.parse::<u32>()
                .or_else(|_| usage(format!("invalid revision {r:?}")))?,
        ),
        None => None,
    };
    let s = managed_secret(st, ctx, &id)?;
    match revision {
        Some(r) => {
            if s.revisions.remove(&r).is_none() {
                return fail(format!("secret revision {r} not found"));
            }
            if s.revisions.is_empty() {
                ctx.txn.secrets.remove(&id);
            }
        }
        None => {
            ctx.txn.secrets.remove(&id);
        }
    }
    Ok(String::new())
}
