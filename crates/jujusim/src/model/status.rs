//! Unit and application status, and the `juju status`-like table.

use super::Model;
use crate::meta::Role;
use crate::state::{sort_units, State};
use crate::util;
use crate::views::UnitStatus;

impl Model {
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

    /// A `juju status`-like table.
    pub fn status_table(&self) -> String {
        let st = self.st();
        let mut out = String::new();
        out.push_str(&format!(
            "Model  Juju (simulated)  Clock\n{}  {}  {}\n\n",
            st.model_name,
            st.juju_version,
            util::rfc3339(st.clock)
        ));
        apps_table(&st, &mut out);
        units_table(&st, &mut out);
        relations_table(&st, &mut out);
        out
    }
}

fn apps_table(st: &State, out: &mut String) {
    out.push_str(&format!(
        "{:<20} {:<10} {:<12} {:<6} {}\n",
        "App", "Version", "Status", "Scale", "Message"
    ));
    for (name, a) in &st.apps {
        let (s, m) = app_status(st, name);
        let scale = st.live_app_units(name).len();
        let v = if a.puppet {
            "(puppet)".to_string()
        } else {
            a.version.clone()
        };
        out.push_str(&format!("{name:<20} {v:<10} {s:<12} {scale:<6} {m}\n"));
    }
}

fn units_table(st: &State, out: &mut String) {
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
}

fn relations_table(st: &State, out: &mut String) {
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
        let (provider, requirer) = by_role(st, &r.ends);
        out.push_str(&format!(
            "{:<6} {:<32} {:<32} {:<20} {kind}\n",
            r.id,
            format!("{}:{}", provider.0, provider.1),
            format!("{}:{}", requirer.0, requirer.1),
            r.interface
        ));
    }
}

/// The two ends of a relation as (provider, requirer), by the roles the endpoints have in the
/// charms' metadata (the order they were related in does not matter).
fn by_role<'r>(
    st: &State,
    ends: &'r [(String, String); 2],
) -> (&'r (String, String), &'r (String, String)) {
    let requires = |(app, endpoint): &(String, String)| {
        st.endpoints(app)
            .iter()
            .any(|(name, _, role)| name == endpoint && *role == Role::Requires)
    };
    if requires(&ends[0]) && !requires(&ends[1]) {
        (&ends[1], &ends[0])
    } else {
        (&ends[0], &ends[1])
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
