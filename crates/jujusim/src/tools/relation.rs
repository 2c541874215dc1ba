//! Relation tools: relation-ids, relation-list, relation-get, relation-set, relation-model-get;
//! and resolving `-r`, which other tools share.

use serde_json::{json, Value};

use super::call::{apply_changes, fail, kv_args, map_value, no_args, usage, Call, E, R};
use crate::flags::{self, boolean, val, FlagSpec, Format, Parsed, ToolFail};
use crate::state::{app_of, sort_units, Ctx, State};
use crate::views::Databag;

/// Resolve `-r` (or the hook's relation). Returns `None` if neither is given.
pub(super) fn relation_arg(st: &State, ctx: &Ctx, p: &Parsed) -> Result<Option<u32>, E> {
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

pub(super) fn rel_name(st: &State, ctx: &Ctx, rel: u32) -> String {
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

pub(super) fn relation_ids(st: &mut State, ctx: &mut Ctx, c: &Call) -> R {
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
        .filter(|(id, _)| {
            !ctx.broken_rels.contains(id)
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

pub(super) fn relation_list(st: &mut State, ctx: &mut Ctx, c: &Call) -> R {
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

pub(super) fn relation_get(st: &mut State, ctx: &mut Ctx, c: &Call) -> R {
    let p = c.parse(REL_SPECS)?;
    let f = Format::parse(p.get("format"), Format::Smart, true)?;
    let rel = need_relation(st, ctx, &p)?;
    let key = match p.pos.first().map(String::as_str) {
        None | Some("-") => None,
        Some(k) => Some(k.to_string()),
    };
    let (target, app_mode) = relation_get_target(ctx, &p)?;
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
        cached_remote_bag(st, ctx, rel, &target, app_mode)
    };
    let Some(bag) = bag else {
        let what = if app_mode { "application" } else { "unit" };
        return fail(format!(
            "cannot read settings for {what} {target:?} in relation {:?}: settings not found",
            rel_name(st, ctx, rel)
        ));
    };
    let v = match key {
        None => map_value(&bag),
        Some(k) => bag
            .get(&k)
            .cloned()
            .map(Value::String)
            .unwrap_or(Value::Null),
    };
    Ok(flags::render(&v, f))
}

/// A remote bag as Juju's hook context reads it (`runner/context/cache.go` `RelationCache`):
/// a member unit's settings come from the unit's cross-hook cache if present (else they are read
/// and cached until that unit's next relation hook); an application's or a non-member's are
/// read once per hook.
fn cached_remote_bag(
    st: &mut State,
    ctx: &mut Ctx,
    rel: u32,
    target: &str,
    app_mode: bool,
) -> Option<Databag> {
    let key = (rel, target.to_string());
    if app_mode {
        if let Some(b) = ctx.app_cache.get(&key) {
            return Some(b.clone());
        }
        let b = st.bag(rel, target).cloned()?;
        ctx.app_cache.insert(key, b.clone());
        return Some(b);
    }
    let fresh = st.bag(rel, target).cloned();
    let ur = st
        .units
        .get_mut(&ctx.unit)
        .and_then(|u| u.rels.get_mut(&rel));
    match ur {
        Some(ur) if ur.members.contains(target) => {
            if let Some(b) = ur.cache.get(target) {
                return Some(b.clone());
            }
            let b = fresh?;
            ur.cache.insert(target.to_string(), b.clone());
            Some(b)
        }
        _ => {
            if let Some(b) = ctx.others_cache.get(&key) {
                return Some(b.clone());
            }
            let b = fresh?;
            ctx.others_cache.insert(key, b.clone());
            Some(b)
        }
    }
}

/// Whose bag `relation-get` reads: the unit or app argument, else the hook's remote unit, else
/// (app-level `-changed`, `-broken`) its remote app with `--app` implied. Returns (target, app mode).
fn relation_get_target(ctx: &Ctx, p: &Parsed) -> Result<(String, bool), E> {
    let mut app_mode = p.has("app");
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
    Ok((target, app_mode))
}

pub(super) fn relation_set(st: &mut State, ctx: &mut Ctx, c: &Call) -> R {
    let p = c.parse(&[
        val(&["r", "relation"]),
        val(&["format"]),
        boolean(&["app"]),
        val(&["file"]),
    ])?;
    let rel = need_relation(st, ctx, &p)?;
    let args = kv_args(&p.pos)?;
    let mut changes = match p.get("file") {
        Some(path) => settings_file(&c.read_path(path)?)?,
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
    apply_changes(&mut bag, changes);
    ctx.txn.bags.insert((rel, owner), bag);
    Ok(String::new())
}

pub(super) fn relation_model_get(st: &mut State, ctx: &mut Ctx, c: &Call) -> R {
    let p = c.parse(REL_SPECS)?;
    let f = Format::parse(p.get("format"), Format::Smart, true)?;
    no_args(&p)?;
    need_relation(st, ctx, &p)?;
    Ok(flags::render(&json!({"uuid": st.model_uuid}), f))
}

/// One value of a `relation-set --file` map, classified as yaml.v2 would decode it into a string.
enum FileVal {
    Str(String),
    Null,
    Map,
    Seq,
}

impl<'de> serde::Deserialize<'de> for FileVal {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = FileVal;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a YAML value")
            }
            fn visit_str<E2>(self, v: &str) -> Result<FileVal, E2> {
                Ok(FileVal::Str(v.to_string()))
            }
            fn visit_bool<E2>(self, v: bool) -> Result<FileVal, E2> {
                Ok(FileVal::Str(v.to_string()))
            }
            fn visit_i64<E2>(self, v: i64) -> Result<FileVal, E2> {
                Ok(FileVal::Str(v.to_string()))
            }
            fn visit_u64<E2>(self, v: u64) -> Result<FileVal, E2> {
                Ok(FileVal::Str(v.to_string()))
            }
            fn visit_f64<E2>(self, v: f64) -> Result<FileVal, E2> {
                Ok(FileVal::Str(v.to_string()))
            }
            fn visit_unit<E2>(self) -> Result<FileVal, E2> {
                Ok(FileVal::Null)
            }
            fn visit_none<E2>(self) -> Result<FileVal, E2> {
                Ok(FileVal::Null)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<FileVal, A::Error> {
                while a
                    .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(FileVal::Map)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<FileVal, A::Error> {
                while a.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(FileVal::Seq)
            }
        }
        d.deserialize_any(V)
    }
}

/// The top level of a `--file`: the entries of a map in document order (a repeated key is
/// not an error here; the later value wins when applied), or what else it was.
enum FileDoc {
    Pairs(Vec<(FileVal, FileVal)>),
    Other(&'static str, String),
}

impl<'de> serde::Deserialize<'de> for FileDoc {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = FileDoc;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a YAML map")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<FileDoc, A::Error> {
                let mut v = Vec::new();
                while let Some(e) = a.next_entry::<FileVal, FileVal>()? {
                    v.push(e);
                }
                Ok(FileDoc::Pairs(v))
            }
            fn visit_unit<E2>(self) -> Result<FileDoc, E2> {
                Ok(FileDoc::Pairs(Vec::new()))
            }
            fn visit_none<E2>(self) -> Result<FileDoc, E2> {
                Ok(FileDoc::Pairs(Vec::new()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<FileDoc, A::Error> {
                while a.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(FileDoc::Other("!!seq", String::new()))
            }
            fn visit_str<E2>(self, v: &str) -> Result<FileDoc, E2> {
                Ok(FileDoc::Other("!!str", format!(" `{v}`")))
            }
            fn visit_bool<E2>(self, v: bool) -> Result<FileDoc, E2> {
                Ok(FileDoc::Other("!!bool", format!(" `{v}`")))
            }
            fn visit_i64<E2>(self, v: i64) -> Result<FileDoc, E2> {
                Ok(FileDoc::Other("!!int", format!(" `{v}`")))
            }
            fn visit_u64<E2>(self, v: u64) -> Result<FileDoc, E2> {
                Ok(FileDoc::Other("!!int", format!(" `{v}`")))
            }
            fn visit_f64<E2>(self, v: f64) -> Result<FileDoc, E2> {
                Ok(FileDoc::Other("!!float", format!(" `{v}`")))
            }
        }
        d.deserialize_any(V)
    }
}

/// The 1-based line where the value of top-level `key` starts in `text` (best effort, for the
/// error message; yaml.v2 reports the line of the offending node).
fn value_line(text: &str, key: &str) -> usize {
    let quoted = format!("\"{key}\"");
    let at = text.find(&quoted).map(|i| i + quoted.len()).or_else(|| {
        text.lines()
            .scan(0usize, |off, l| {
                let start = *off;
                *off += l.len() + 1;
                Some((start, l))
            })
            .find(|(_, l)| l.trim_start().starts_with(&format!("{key}:")))
            .map(|(start, l)| start + (l.len() - l.trim_start().len()) + key.len())
    });
    let Some(mut i) = at else { return 1 };
    let b = text.as_bytes();
    while i < b.len() && b[i] != b':' {
        i += 1;
    }
    i += 1;
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    text[..i.min(b.len())].matches('\n').count() + 1
}

/// `relation-set --file`: Juju (`jujuc/relation-set.go` `readSettings`) unmarshals the file with
/// `gopkg.in/yaml.v2` into a `map[string]string`, so: YAML or JSON; an empty document is no
/// change; scalars become their text; a null value is `""` (deletes the key); a nested map or
/// list is refused with yaml's unmarshal error; a document that is not a map is refused.
fn settings_file(bytes: &[u8]) -> Result<Vec<(String, String)>, E> {
    let text = String::from_utf8_lossy(bytes).to_string();
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let doc: FileDoc = match serde_norway::from_str(&text) {
        Ok(d) => d,
        Err(e) => return fail(format!("yaml: {e}")),
    };
    let pairs = match doc {
        FileDoc::Pairs(p) => p,
        FileDoc::Other(tag, shown) => {
            return fail(format!(
                "yaml: unmarshal errors:\n  line 1: cannot unmarshal {tag}{shown} into map[string]string"
            ))
        }
    };
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (k, v) in pairs {
        let key = match k {
            FileVal::Str(s) => s,
            FileVal::Null => String::new(),
            FileVal::Map | FileVal::Seq => return fail("yaml: invalid map key"),
        };
        match v {
            FileVal::Str(s) => out.push((key, s)),
            FileVal::Null => out.push((key, String::new())),
            FileVal::Map => errors.push(format!(
                "  line {}: cannot unmarshal !!map into string",
                value_line(&text, &key)
            )),
            FileVal::Seq => errors.push(format!(
                "  line {}: cannot unmarshal !!seq into string",
                value_line(&text, &key)
            )),
        }
    }
    if !errors.is_empty() {
        return fail(format!("yaml: unmarshal errors:\n{}", errors.join("\n")));
    }
    Ok(out)
}
