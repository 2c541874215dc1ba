//! The goal-state tool: the units of this application and of each related one.

use serde_json::{json, Map, Value};

use super::call::{no_args, Call, R};
use crate::flags::{self, val, Format};
use crate::state::{app_of, Ctx, State};
use crate::util;

pub(super) fn goal_state(st: &mut State, ctx: &mut Ctx, c: &Call) -> R {
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
