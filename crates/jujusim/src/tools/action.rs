//! Action tools: action-get, action-set, action-fail, action-log.

use serde_json::{Map, Value};

use super::call::{usage, Call, E, R};
use crate::flags::{self, val, Format, ToolFail};
use crate::state::Ctx;

pub(super) fn action_get(ctx: &mut Ctx, c: &Call) -> R {
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

pub(super) fn action_set(ctx: &mut Ctx, c: &Call) -> R {
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

pub(super) fn action_fail(ctx: &mut Ctx, c: &Call) -> R {
    let p = c.parse(&[])?;
    if p.pos.len() > 1 {
        return usage(format!("unrecognized args: {:?}", &p.pos[1..]));
    }
    let a = ctx.action.as_mut().ok_or_else(not_action)?;
    a.failed =
        Some(p.pos.first().cloned().unwrap_or_else(|| {
            "action failed without reason given, check action for errors".into()
        }));
    Ok(String::new())
}

pub(super) fn action_log(ctx: &mut Ctx, c: &Call) -> R {
    let p = c.parse(&[])?;
    if p.pos.is_empty() {
        return usage("no message specified");
    }
    let a = ctx.action.as_mut().ok_or_else(not_action)?;
    a.logs.push(p.pos.join(" "));
    Ok(String::new())
}

fn not_action() -> E {
    E::Fail(ToolFail::run("not running an action"))
}
