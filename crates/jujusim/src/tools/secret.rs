//! Secret tools: secret-add, secret-set, secret-get, secret-info-get, secret-ids, secret-grant,
//! secret-revoke, secret-remove. They read and write the hook's copy of the secret store.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use serde_json::{json, Map, Value};

use super::call::{fail, map_value, no_args, usage, Call, E, R};
use super::secret_args::{parse_secret_id, secret_content, secret_meta, SECRET_META_SPECS};
use crate::flags::{self, boolean, val, Format, Parsed};
use crate::state::{app_of, rotate_next, Consumer, Ctx, Secret, State};
use crate::util;

fn label_taken(ctx: &Ctx, label: &str, except: Option<&str>) -> bool {
    ctx.txn.secrets.values().any(|s| {
        s.owned_by(&ctx.unit) && s.label.as_deref() == Some(label) && Some(s.id.as_str()) != except
    })
}

pub(super) fn secret_add(st: &mut State, ctx: &mut Ctx, c: &Call) -> R {
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
        .and_then(|r| rotate_next(r, st.clock));
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

pub(super) fn secret_set(st: &mut State, ctx: &mut Ctx, c: &Call) -> R {
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
        s.next_rotate = rotate_next(&r, clock);
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

pub(super) fn secret_get(st: &mut State, ctx: &mut Ctx, c: &Call) -> R {
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

pub(super) fn secret_info_get(st: &mut State, ctx: &mut Ctx, c: &Call) -> R {
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
    let mut out = Map::new();
    out.insert(s.id.clone(), Value::Object(secret_info(s)));
    Ok(flags::render(&Value::Object(out), f))
}

/// What `secret-info-get` shows of one secret.
fn secret_info(s: &Secret) -> Map<String, Value> {
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
    info
}

pub(super) fn secret_ids(ctx: &mut Ctx, c: &Call) -> R {
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

pub(super) fn secret_grant(st: &mut State, ctx: &mut Ctx, c: &Call, grant: bool) -> R {
    let p = if grant {
        c.parse(&[val(&["relation", "r"]), val(&["unit"])])?
    } else {
        c.parse(&[
            val(&["relation", "r"]),
            val(&["unit"]),
            val(&["app", "application"]),
        ])?
    };
    let id = only_secret_uri(&p)?;
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

pub(super) fn secret_remove(st: &mut State, ctx: &mut Ctx, c: &Call) -> R {
    let p = c.parse(&[val(&["revision"])])?;
    let id = only_secret_uri(&p)?;
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

/// The id of the one positional argument, a secret URI.
fn only_secret_uri(p: &Parsed) -> Result<String, E> {
    match p.pos.as_slice() {
        [r] => parse_secret_id(r),
        [] => usage("missing secret URI"),
        more => usage(format!("unrecognized args: {:?}", &more[1..])),
    }
}
