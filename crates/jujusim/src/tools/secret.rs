//! Secret tools: secret-add, secret-set, secret-get, secret-info-get, secret-ids, secret-grant,
//! secret-revoke, secret-remove. They read and write the hook's copy of the secret store.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use serde_json::{json, Map, Value};

use super::call::{fail, map_value, no_args, usage, Call, E, R};
use super::secret_args::{
    content_limits, parse_secret_id, secret_content, secret_meta, SECRET_META_SPECS,
};
use crate::flags::{self, boolean, val, Format, Parsed};
use crate::state::{app_of, rotate_next, Consumer, Ctx, Secret, State};
use crate::util;

/// Whether a secret created earlier in this hook already has `label`: the only label check
/// `secret-add` makes itself (juju/juju 3.6 `internal/worker/uniter/runner/context/secrets.go`,
/// `secretsChangeRecorder.create`); committed labels are checked by the controller at commit.
fn label_taken_by_pending_create(st: &State, ctx: &Ctx, label: &str) -> bool {
    ctx.txn.secrets.values().any(|s| {
        !st.secrets.contains_key(&s.id)
            && s.owned_by(&ctx.unit)
            && s.label.as_deref() == Some(label)
    })
}

/// Whether the hook context "knows" the secret as its own (Juju's `ctx.secretMetadata`: the
/// unit's secrets, plus its application's when it is the leader — juju/juju 3.6
/// `apiserver/common/secrets/secrets.go` `GetSecretMetadata`), or created it in this hook.
fn known_secret(st: &State, ctx: &Ctx, id: &str) -> bool {
    match st.secrets.get(id) {
        Some(s) => s.managed_by(&ctx.unit, st.is_leader(&ctx.unit)),
        None => ctx.txn.secrets.contains_key(id),
    }
}

/// Whether the secret was created in this hook (not committed yet).
fn created_in_hook(st: &State, ctx: &Ctx, id: &str) -> bool {
    !st.secrets.contains_key(id) && ctx.txn.secrets.contains_key(id)
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
    let content = secret_content(c, &p, &p.pos, content_limits(st.juju_version))?;
    if content.is_empty() {
        return usage("missing secret value or filename");
    }
    let by_unit = owner_kind == "unit";
    if !by_unit && !st.is_leader(&ctx.unit) {
        return fail("this unit is not the leader");
    }
    if let Some(l) = &meta.label {
        if label_taken_by_pending_create(st, ctx, l) {
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
            model_owned: false,
            app_grants: BTreeSet::new(),
            label: meta.label,
            description: meta.description,
            revisions: BTreeMap::from([(1, content)]),
            latest: 1,
            expire: meta.expire.map(|e| (1, e)).into_iter().collect(),
            expire_notified: BTreeSet::new(),
            rotate: meta.rotate.filter(|r| r != "never"),
            next_rotate,
            grants: BTreeMap::new(),
            consumers: BTreeMap::new(),
            obsolete: BTreeSet::new(),
            peer_readers: BTreeSet::new(),
        },
    );
    // Juju 3.x hands out URIs with the model UUID as source (`secretsmanager/secrets.go`
    // `CreateSecretURIs`: `NewURI().WithSource(modelUUID)`), printed `secret://<uuid>/<id>`.
    Ok(format!("secret://{}/{id}\n", st.model_uuid))
}

/// The hook-side leadership check of `UpdateSecret`, `RemoveSecret` and `RevokeSecret`
/// (juju/juju 3.6 `internal/worker/uniter/runner/context/context.go`): only for a secret the
/// context knows as application-owned. Anything else is accepted here and checked by the
/// controller at commit (`secret_writes`), which fails the whole hook.
fn hook_side_leader_check(st: &State, ctx: &Ctx, id: &str) -> Result<(), E> {
    if let Some(s) = ctx.txn.secrets.get(id) {
        if known_secret(st, ctx, id) && !s.owner_is_unit && !st.is_leader(&ctx.unit) {
            return fail("this unit is not the leader");
        }
    }
    Ok(())
}

/// `secret-set`: metadata changes apply to the hook's copy; new content of a secret that existed
/// before the hook becomes a pending update, merged with later `secret-set`s of the same hook
/// (last content wins) and committed as one new revision. Content equal to the committed latest
/// revision is no update. Content of a secret created in this hook replaces its first revision.
pub(super) fn secret_set(st: &mut State, ctx: &mut Ctx, c: &Call) -> R {
    let mut specs = SECRET_META_SPECS.to_vec();
    specs.push(val(&["file"]));
    let p = c.parse(&specs)?;
    let Some(raw) = p.pos.first() else {
        return usage("missing secret URI");
    };
    let id = parse_secret_id(raw)?;
    let meta = secret_meta(st, &p)?;
    let content = secret_content(c, &p, &p.pos[1..], content_limits(st.juju_version))?;
    hook_side_leader_check(st, ctx, &id)?;
    let clock = st.clock;
    let known = known_secret(st, ctx, &id);
    if created_in_hook(st, ctx, &id) {
        let s = ctx.txn.secrets.get_mut(&id).expect("secret");
        if !content.is_empty() {
            s.revisions.insert(1, content);
        }
        if let Some(e) = meta.expire {
            s.expire.insert(1, e);
        }
        apply_meta(s, meta.label, meta.description, meta.rotate, clock);
        return Ok(String::new());
    }
    let committed_latest = st.secrets.get(&id).and_then(|s| s.revisions.get(&s.latest));
    // Juju drops a value whose checksum equals the committed latest revision's.
    let unchanged = known && committed_latest == Some(&content);
    let new_content = if content.is_empty() || unchanged {
        None
    } else {
        Some(content)
    };
    if new_content.is_none()
        && meta.label.is_none()
        && meta.description.is_none()
        && meta.expire.is_none()
        && meta.rotate.is_none()
    {
        return Ok(String::new());
    }
    ctx.txn.secret_writes.insert(id.clone());
    if new_content.is_some() || meta.expire.is_some() {
        let u = ctx.txn.secret_updates.entry(id.clone()).or_default();
        if new_content.is_some() {
            u.content = new_content;
        }
        if meta.expire.is_some() {
            u.expire = meta.expire;
        }
    }
    if let Some(s) = ctx.txn.secrets.get_mut(&id) {
        apply_meta(s, meta.label, meta.description, meta.rotate, clock);
    }
    Ok(String::new())
}

fn apply_meta(
    s: &mut Secret,
    label: Option<String>,
    description: Option<String>,
    rotate: Option<String>,
    clock: std::time::SystemTime,
) {
    if let Some(l) = label {
        s.label = Some(l);
    }
    if let Some(d) = description {
        s.description = Some(d);
    }
    if let Some(r) = rotate {
        s.next_rotate = rotate_next(&r, clock);
        s.rotate = (r != "never").then_some(r);
    }
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

pub(super) fn secret_get(_st: &mut State, ctx: &mut Ctx, c: &Call) -> R {
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
    let pending = if p.has("peek") || p.has("refresh") {
        ctx.txn
            .secret_updates
            .get(&id)
            .and_then(|u| u.content.clone())
    } else {
        None
    };
    let s = ctx.txn.secrets.get_mut(&id).expect("secret");
    let content = if s.owned_by(&unit) {
        if let (Some(l), true) = (label, !p.pos.is_empty()) {
            s.label = Some(l.to_string());
        }
        if !s.owner_is_unit {
            // Juju saves a consumer record for units reading their application's secret, so
            // they get `secret-changed` later.
            s.peer_readers.insert(unit.clone());
        }
        // Units of the owner read the committed latest revision; a pending `secret-set` of
        // this hook only with --peek or --refresh (juju/juju 3.6 `context.go`
        // `getPendingSecretValue`; `secretsmanager/secrets.go` `getSecretContent` returns
        // `md.LatestRevision`). A secret created in this hook reads its pending content.
        match pending {
            Some(c) => c,
            None => s.revisions.get(&s.latest).cloned().unwrap_or_default(),
        }
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
    let pending_expire = ctx.txn.secret_updates.get(&s.id).and_then(|u| u.expire);
    out.insert(s.id.clone(), Value::Object(secret_info(s, pending_expire)));
    Ok(flags::render(&Value::Object(out), f))
}

/// What `secret-info-get` shows of one secret (with this hook's pending `--expire`).
fn secret_info(s: &Secret, pending_expire: Option<std::time::SystemTime>) -> Map<String, Value> {
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
    if let Some(e) = pending_expire.or(s.latest_expire()) {
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
    if grant {
        // `GrantSecret` looks the secret up in the unit's own secret metadata (a non-leader
        // does not see its application's secrets there).
        if !known_secret(st, ctx, &id) {
            return fail(format!("secret {id:?} not found"));
        }
    } else {
        hook_side_leader_check(st, ctx, &id)?;
    }
    if !created_in_hook(st, ctx, &id) {
        ctx.txn.secret_writes.insert(id.clone());
    }
    let Some(s) = ctx.txn.secrets.get_mut(&id) else {
        // Unknown to this unit: the controller refuses it at commit.
        return Ok(String::new());
    };
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

/// `secret-remove <id> [--revision N]`. Like Juju's change recorder it also drops this hook's
/// pending `secret-set` of that secret (`secretsChangeRecorder.remove`).
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
    hook_side_leader_check(st, ctx, &id)?;
    let created = created_in_hook(st, ctx, &id);
    ctx.txn.secret_updates.remove(&id);
    let Some(s) = ctx.txn.secrets.get_mut(&id) else {
        // Unknown to this unit: the controller refuses it at commit.
        ctx.txn.secret_writes.insert(id);
        return Ok(String::new());
    };
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
    if created {
        ctx.txn.secret_writes.remove(&id);
    } else {
        ctx.txn.secret_writes.insert(id);
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
