//! Leadership, config and charm state tools: is-leader, leader-get, leader-set, config-get,
//! state-get, state-set, state-delete.

use serde_json::{Map, Value};

use super::call::{apply_changes, fail, file_changes, kv_args, map_value, no_args, usage, Call, R};
use crate::flags::{self, boolean, val, Format};
use crate::state::{app_of, Ctx, State};

pub(super) fn is_leader(st: &mut State, ctx: &mut Ctx, c: &Call) -> R {
    let p = c.parse(&[val(&["format"])])?;
    let f = Format::parse(p.get("format"), Format::Smart, true)?;
    no_args(&p)?;
    Ok(flags::render(&Value::Bool(st.is_leader(&ctx.unit)), f))
}

pub(super) fn leader_get(st: &mut State, ctx: &mut Ctx, c: &Call) -> R {
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

pub(super) fn leader_set(st: &mut State, ctx: &mut Ctx, c: &Call) -> R {
    let p = c.parse(&[val(&["file"])])?;
    let mut changes = file_changes(c, &p)?;
    changes.extend(kv_args(&p.pos)?);
    if !st.is_leader(&ctx.unit) {
        return fail("cannot write leadership settings: cannot write settings: not the leader");
    }
    let app = app_of(&ctx.unit).to_string();
    let a = st.apps.get_mut(&app).expect("app");
    let before = a.leader_settings.clone();
    apply_changes(&mut a.leader_settings, changes);
    // Immediate (not transactional). The settings watcher of every unit fires; non-leaders run
    // leader-settings-changed in Juju 3.x mode (state/resolver.rs).
    if a.leader_settings != before {
        a.leader_settings_version += 1;
    }
    Ok(String::new())
}

pub(super) fn config_get(st: &mut State, ctx: &mut Ctx, c: &Call) -> R {
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

pub(super) fn state_get(ctx: &mut Ctx, c: &Call) -> R {
    let p = c.parse(&[val(&["format"]), boolean(&["strict"])])?;
    let f = Format::parse(p.get("format"), Format::Smart, true)?;
    let s = &ctx.txn.state;
    let whole = || {
        let v = if s.is_empty() {
            Value::Null
        } else {
            map_value(s)
        };
        Ok(flags::render(&v, f))
    };
    match p.pos.as_slice() {
        [] => whole(),
        [k] if k == "-" => whole(),
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

pub(super) fn state_set(ctx: &mut Ctx, c: &Call) -> R {
    let p = c.parse(&[val(&["file"])])?;
    let args = kv_args(&p.pos)?;
    let mut changes = file_changes(c, &p)?;
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
    apply_changes(&mut ctx.txn.state, changes);
    Ok(String::new())
}

pub(super) fn state_delete(ctx: &mut Ctx, c: &Call) -> R {
    let p = c.parse(&[])?;
    if p.pos.len() != 1 {
        return usage("specify a key");
    }
    ctx.txn.state.remove(&p.pos[0]);
    Ok(String::new())
}
