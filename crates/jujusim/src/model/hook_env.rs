//! The environment of a hook or action process, exactly the variables Juju sets
//! (see `docs/juju-hook-contract.md` §2), plus, with `Model::set_hook_clock(true)` only,
//! `LD_PRELOAD` and `JUJUSIM_CLOCK_OFFSET_NS` (the simulated clock).

use super::actions::ActionRequest;
use super::Model;
use crate::state::{app_of, Event, Kind, State, Unit};

const SYSTEM_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What one run is: its unit, event, action (if any), context id and dispatch path.
pub(super) struct RunInfo<'a> {
    pub unit: &'a str,
    pub ev: &'a Event,
    pub action: Option<&'a ActionRequest>,
    pub ctx_id: &'a str,
    pub dispatch_path: &'a str,
}

impl Model {
    /// The environment of one run: the common variables, then the relation, secret and action
    /// ones where they apply, then `JUJU_DISPATCH_PATH`.
    pub(super) fn hook_env(&self, st: &State, u: &Unit, run: &RunInfo) -> Vec<(String, String)> {
        let mut env = self.common_env(st, u, run);
        let ev = run.ev;
        if let (Kind::Rel(_), Some(rel)) = (&ev.kind, ev.rel) {
            relation_env(st, run.unit, ev, rel, &mut env);
        }
        if let Some(id) = &ev.secret {
            secret_env(st, run.unit, ev, id, &mut env);
        }
        if let Some(a) = run.action {
            env.push(("JUJU_ACTION_NAME".into(), a.name.clone()));
            env.push(("JUJU_ACTION_UUID".into(), a.id.to_string()));
            env.push(("JUJU_ACTION_TAG".into(), format!("action-{}", a.id)));
        }
        env.push(("JUJU_DISPATCH_PATH".into(), run.dispatch_path.to_string()));
        // Not Juju's: the simulated clock for the process (`set_hook_clock`), offset as of now.
        if let Some(shim) = &self.hook_clock {
            env.push(("LD_PRELOAD".into(), shim.display().to_string()));
            env.push((
                crate::simclock::OFFSET_VAR.into(),
                crate::simclock::offset_ns(st.clock).to_string(),
            ));
        }
        env
    }

    /// The variables every hook and action gets.
    fn common_env(&self, st: &State, u: &Unit, run: &RunInfo) -> Vec<(String, String)> {
        let charm_dir = &u.charm_dir;
        let unit = run.unit;
        let ctx_id = run.ctx_id;
        vec![
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
            ("JUJU_CONTEXT_ID".into(), ctx_id.to_string()),
            (
                "JUJU_HOOK_NAME".into(),
                if run.action.is_some() {
                    String::new()
                } else {
                    run.ev.hook.clone()
                },
            ),
            ("JUJU_MACHINE_ID".into(), u.machine.to_string()),
            ("JUJU_MODEL_NAME".into(), st.model_name.clone()),
            ("JUJU_MODEL_UUID".into(), st.model_uuid.clone()),
            ("JUJU_PRINCIPAL_UNIT".into(), String::new()),
            ("JUJU_SLA".into(), "unsupported".into()),
            ("JUJU_UNIT_NAME".into(), unit.to_string()),
            ("JUJU_VERSION".into(), st.juju_version.to_string()),
            ("LANG".into(), "C.UTF-8".into()),
            (
                "PATH".into(),
                format!("{}:{SYSTEM_PATH}", self.tools_dir.display()),
            ),
            ("TERM".into(), "tmux-256color".into()),
        ]
    }
}

/// `JUJU_RELATION`, `JUJU_RELATION_ID`, `JUJU_REMOTE_UNIT`, `JUJU_REMOTE_APP` and, for
/// `-departed`, `JUJU_DEPARTING_UNIT`.
fn relation_env(st: &State, unit: &str, ev: &Event, rel: u32, env: &mut Vec<(String, String)>) {
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

/// `JUJU_SECRET_ID`, `JUJU_SECRET_LABEL` (the owner's or this consumer's label) and, for
/// `secret-expired` and `secret-remove`, `JUJU_SECRET_REVISION`.
fn secret_env(st: &State, unit: &str, ev: &Event, id: &str, env: &mut Vec<(String, String)>) {
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
