//! Status and log tools: status-set, status-get, application-version-set, juju-log.

use serde_json::{json, Map, Value};

use super::call::{fail, no_args, usage, Call, R};
use super::relation::rel_name;
use crate::flags::{self, boolean, val, Format};
use crate::state::{app_of, Ctx, State, Unit};

const STATUSES: [&str; 4] = ["maintenance", "blocked", "waiting", "active"];

pub(super) fn status_set(st: &mut State, ctx: &mut Ctx, c: &Call) -> R {
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

pub(super) fn status_get(st: &mut State, ctx: &mut Ctx, c: &Call) -> R {
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

pub(super) fn application_version_set(st: &mut State, ctx: &mut Ctx, c: &Call) -> R {
    let p = c.parse(&[])?;
    if p.pos.len() != 1 {
        return usage("no version specified");
    }
    if let Some(a) = st.apps.get_mut(app_of(&ctx.unit)) {
        a.version = p.pos[0].clone();
    }
    Ok(String::new())
}

pub(super) fn juju_log(st: &mut State, ctx: &mut Ctx, c: &Call) -> R {
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
