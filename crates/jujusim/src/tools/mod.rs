//! Hook tool implementations, run by the server against the model state and the hook's context.
//!
//! This file is the dispatch table; each submodule implements one family of tools, as Juju's
//! `worker/uniter/runner/jujuc` package does (relation, leadership/config/state, action,
//! status/log, network, goal-state, secret).

mod action;
mod call;
mod config_leader_state;
mod goal_state;
mod network;
mod relation;
mod secret;
mod secret_args;
mod status_log;

pub(crate) use secret_args::{check_user_content, secret_id_of};

use std::path::Path;

use crate::client::Response;
use crate::state::{Ctx, State};
use crate::views::{FaultKind, ToolCall};
use call::{Call, E, R};

/// Every hook tool name the simulator installs into the tools dir.
pub const TOOL_NAMES: &[&str] = &[
    "action-fail",
    "action-get",
    "action-log",
    "action-set",
    "application-version-set",
    "close-port",
    "config-get",
    "goal-state",
    "is-leader",
    "juju-log",
    "leader-get",
    "leader-set",
    "network-get",
    "open-port",
    "opened-ports",
    "relation-get",
    "relation-ids",
    "relation-list",
    "relation-model-get",
    "relation-set",
    "secret-add",
    "secret-get",
    "secret-grant",
    "secret-ids",
    "secret-info-get",
    "secret-remove",
    "secret-revoke",
    "secret-set",
    "state-delete",
    "state-get",
    "state-set",
    "status-get",
    "status-set",
    "unit-get",
    // Installed so a call fails loudly ("not implemented") instead of "command not found".
    "add-metric",
    "credential-get",
    "juju-reboot",
    "resource-get",
    "storage-add",
    "storage-get",
    "storage-list",
];

/// What an injected fault does to the call it hits (`Model::inject_fault`).
pub(crate) enum FaultHit {
    /// Answer with this error; the tool does not run.
    Error(Response),
    /// Kill the hook's process group; the call gets no answer.
    Kill,
}

/// If the fault injected into context `ctx_id` is due at this call, record the call (it counts
/// as made, in `HookRun::tool_calls`) and say what to do instead of running the tool.
pub(crate) fn fault_hit(
    st: &mut State,
    ctx_id: &str,
    command: &str,
    args: &[String],
) -> Option<FaultHit> {
    let unit = st.contexts.get(ctx_id)?.unit.clone();
    let ctx = st.contexts.get_mut(ctx_id)?;
    let fault = ctx
        .fault
        .filter(|f| !ctx.fault_fired && f.at_call == ctx.calls.len() + 1)?;
    ctx.fault_fired = true;
    ctx.calls.push(ToolCall {
        tool: command.to_string(),
        args: args.to_vec(),
    });
    st.log(
        &unit,
        format!(
            "DEBUG jujusim: injecting {:?} at tool call {} ({command})",
            fault.kind, fault.at_call
        ),
    );
    Some(match fault.kind {
        FaultKind::ToolError => FaultHit::Error(Response::error(1, "connection is shut down")),
        FaultKind::Kill => FaultHit::Kill,
    })
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

/// The tool function for each tool name; the rest fail as not implemented.
fn dispatch(st: &mut State, ctx: &mut Ctx, c: &Call) -> R {
    match c.command {
        "relation-ids" => relation::relation_ids(st, ctx, c),
        "relation-list" => relation::relation_list(st, ctx, c),
        "relation-get" => relation::relation_get(st, ctx, c),
        "relation-set" => relation::relation_set(st, ctx, c),
        "relation-model-get" => relation::relation_model_get(st, ctx, c),
        "is-leader" => config_leader_state::is_leader(st, ctx, c),
        "leader-get" => config_leader_state::leader_get(st, ctx, c),
        "leader-set" => config_leader_state::leader_set(st, ctx, c),
        "config-get" => config_leader_state::config_get(st, ctx, c),
        "state-get" => config_leader_state::state_get(ctx, c),
        "state-set" => config_leader_state::state_set(ctx, c),
        "state-delete" => config_leader_state::state_delete(ctx, c),
        "action-get" => action::action_get(ctx, c),
        "action-set" => action::action_set(ctx, c),
        "action-fail" => action::action_fail(ctx, c),
        "action-log" => action::action_log(ctx, c),
        "status-set" => status_log::status_set(st, ctx, c),
        "status-get" => status_log::status_get(st, ctx, c),
        "application-version-set" => status_log::application_version_set(st, ctx, c),
        "juju-log" => status_log::juju_log(st, ctx, c),
        "secret-add" => secret::secret_add(st, ctx, c),
        "secret-set" => secret::secret_set(st, ctx, c),
        "secret-get" => secret::secret_get(st, ctx, c),
        "secret-info-get" => secret::secret_info_get(st, ctx, c),
        "secret-ids" => secret::secret_ids(ctx, c),
        "secret-grant" => secret::secret_grant(st, ctx, c, true),
        "secret-revoke" => secret::secret_grant(st, ctx, c, false),
        "secret-remove" => secret::secret_remove(st, ctx, c),
        "open-port" | "close-port" => network::ports(ctx, c),
        "opened-ports" => network::opened_ports(st, ctx, c),
        "network-get" => network::network_get(st, ctx, c),
        "unit-get" => network::unit_get(st, ctx, c),
        "goal-state" => goal_state::goal_state(st, ctx, c),
        other => call::fail(format!(
            "jujusim does not implement the {other:?} hook tool"
        )),
    }
}
