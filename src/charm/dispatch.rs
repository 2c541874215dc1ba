//! Dispatch: what runs for each `JUJU_DISPATCH_PATH`, and how the result becomes an exit code.
//!
//! * Every hook in [`HOOKS`] and every `certificates-relation-*` hook runs the one
//!   [`reconcile`](super::reconcile::reconcile). An `Err` from it is logged at ERROR and fails the hook
//!   (exit 1), so Juju retries it.
//! * Any other hook is ignored: a DEBUG log line and exit 0 (Juju treats a missing hook as success).
//! * `actions/<name>` runs [`actions::run`](super::actions::run). Every failure an operator can act on
//!   ends as `action-fail <message>` with exit 0; exit 1 only when the hook tools themselves failed
//!   (then the action fails anyway and the error is logged).
//!
//! Panics are handled in `main.rs` (panic hook → `juju-log --log-level ERROR`, exit 1).

use juju_hook::{Dispatch, HookContext, HookTools};

use super::actions::{self, ActionError};
use super::ca::source::UPSTREAM_ENDPOINT;
use super::hook::Hook;
use super::peers::PEER_ENDPOINT;
use super::reconcile::{self, ReconcileOptions};
use super::transfer::TRANSFER_ENDPOINT;
use super::{CharmError, ENDPOINT};

/// The non-relation hooks that run reconcile.
pub const HOOKS: &[&str] = &[
    "install",
    "start",
    "stop",
    "remove",
    "upgrade-charm",
    "config-changed",
    "update-status",
    "leader-elected",
    "leader-settings-changed",
    "secret-changed",
    "secret-expired",
    "secret-rotate",
    "secret-remove",
];

/// The relation hook kinds; the hooks are `<endpoint>-relation-<kind>`.
pub const RELATION_HOOK_KINDS: &[&str] = &["created", "joined", "changed", "departed", "broken"];

/// The endpoints whose relation hooks run reconcile.
pub const ENDPOINTS: &[&str] = &[
    ENDPOINT,
    TRANSFER_ENDPOINT,
    UPSTREAM_ENDPOINT,
    PEER_ENDPOINT,
];

/// Exit code for success.
pub const EXIT_OK: i32 = 0;
/// Exit code that fails the hook (Juju retries it) or the action.
pub const EXIT_FAILED: i32 = 1;

/// Every hook name this charm handles, in a stable order: [`HOOKS`], then the relation hooks. The
/// `hooks/` directory of the charm holds exactly these.
pub fn handled_hooks() -> Vec<String> {
    HOOKS
        .iter()
        .map(|h| h.to_string())
        .chain(ENDPOINTS.iter().flat_map(|e| {
            RELATION_HOOK_KINDS
                .iter()
                .map(move |k| format!("{e}-relation-{k}"))
        }))
        .collect()
}

/// What a dispatch path runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Handler {
    /// A known hook: reconcile.
    Reconcile,
    /// An action (known or not; [`actions::run`] decides).
    Action(String),
    /// A hook this charm does not handle.
    Ignore,
}

/// The handler for a dispatch path.
pub fn handler_for(dispatch: &Dispatch) -> Handler {
    match dispatch {
        Dispatch::Action(name) => Handler::Action(name.clone()),
        Dispatch::Hook(name) => {
            let is_relation_hook = ENDPOINTS.iter().any(|e| {
                name.strip_prefix(e)
                    .and_then(|rest| rest.strip_prefix("-relation-"))
                    .is_some_and(|kind| RELATION_HOOK_KINDS.contains(&kind))
            });
            if HOOKS.contains(&name.as_str()) || is_relation_hook {
                Handler::Reconcile
            } else {
                Handler::Ignore
            }
        }
    }
}

/// Runs the handler for `ctx` and returns the process exit code.
pub fn run(ctx: &HookContext, tools: &dyn HookTools) -> i32 {
    let hook = Hook::new(ctx, tools).with_scoping(reconcile::scope::enabled_by_env());
    match handler_for(&ctx.dispatch) {
        Handler::Reconcile => {
            let result = reconcile::reconcile(&hook, ReconcileOptions::default());
            hook_outcome(ctx.name(), result.map(|_| ()))
        }
        Handler::Action(name) => {
            let result = actions::run(&name, &hook);
            action_outcome(&name, result, tools)
        }
        Handler::Ignore => {
            tracing::debug!(
                "hook {} is not handled by tls-provider; nothing to do",
                ctx.name()
            );
            EXIT_OK
        }
    }
}

/// A hook's exit code: 0 on success; on `Err`, an ERROR log line and 1.
pub fn hook_outcome(hook: &str, result: Result<(), CharmError>) -> i32 {
    match result {
        Ok(()) => EXIT_OK,
        Err(err) => {
            tracing::error!("hook {hook} failed: {err}");
            EXIT_FAILED
        }
    }
}

/// The message `action-fail` gets for an action the charm does not implement.
pub fn unknown_action_message(name: &str) -> String {
    format!(
        "action {name:?} is not implemented by tls-provider; available actions: {}",
        actions::ACTIONS.join(", ")
    )
}

/// An action's exit code. Failures the operator can act on become `action-fail <message>` and exit 0;
/// exit 1 only when the hook tools failed (including `action-fail` itself).
pub fn action_outcome(name: &str, result: Result<(), ActionError>, tools: &dyn HookTools) -> i32 {
    let (message, tools_failed) = match result {
        Ok(()) => return EXIT_OK,
        Err(ActionError::Unknown(n)) => (unknown_action_message(&n), false),
        Err(e @ (ActionError::Failed(_) | ActionError::Provide(_))) => (e.to_string(), false),
        Err(err @ ActionError::Charm(CharmError::Tool(_))) => {
            tracing::error!("action {name} failed: hook tool error: {err}");
            (format!("{name} failed: {err}"), true)
        }
        Err(err) => (format!("{name} failed: {err}"), false),
    };
    match tools.action_fail(&message) {
        Ok(()) if !tools_failed => EXIT_OK,
        Ok(()) => EXIT_FAILED,
        Err(e) => {
            tracing::error!("action {name}: action-fail failed: {e}");
            EXIT_FAILED
        }
    }
}

#[cfg(test)]
mod tests {
    use juju_hook::fake::FakeTools;
    use juju_hook::process::{Output, ProcessTools, RecordingRunner};
    use juju_hook::ToolError;

    use super::*;

    fn hook(name: &str) -> Dispatch {
        Dispatch::Hook(name.to_string())
    }

    #[test]
    fn every_standard_and_relation_hook_reconciles() {
        for name in handled_hooks() {
            assert_eq!(handler_for(&hook(&name)), Handler::Reconcile, "{name}");
        }
        assert_eq!(handled_hooks().len(), HOOKS.len() + 20);
        assert!(handled_hooks().contains(&"upstream-ca-relation-changed".to_string()));
        assert!(handled_hooks().contains(&"send-ca-cert-relation-changed".to_string()));
        assert!(handled_hooks().contains(&"cluster-relation-changed".to_string()));
        assert!(handled_hooks().contains(&"certificates-relation-created".to_string()));
    }

    #[test]
    fn other_hooks_are_ignored() {
        for name in [
            "collect-metrics",
            "db-relation-changed",
            "certificates-relation-exploded",
            "certificates-storage-attached",
            "workload-pebble-ready",
            "",
        ] {
            assert_eq!(handler_for(&hook(name)), Handler::Ignore, "{name:?}");
        }
    }

    #[test]
    fn actions_go_to_the_action_runner() {
        assert_eq!(
            handler_for(&Dispatch::Action("get-ca-certificate".into())),
            Handler::Action("get-ca-certificate".into())
        );
    }

    #[test]
    fn hook_errors_fail_the_hook() {
        assert_eq!(hook_outcome("install", Ok(())), EXIT_OK);
        let err = CharmError::Tool(ToolError::ToolMissing {
            tool: "is-leader".into(),
        });
        assert_eq!(hook_outcome("install", Err(err)), EXIT_FAILED);
    }

    #[test]
    fn unknown_action_fails_the_action_with_a_clear_message() {
        let tools = FakeTools::new("tls-provider", true);
        let code = action_outcome(
            "make-coffee",
            Err(ActionError::Unknown("make-coffee".into())),
            &tools,
        );
        assert_eq!(code, EXIT_OK);
        let failed = tools.state.borrow().action_failed.clone().unwrap();
        assert!(
            failed.contains("\"make-coffee\" is not implemented"),
            "{failed}"
        );
        assert!(failed.contains("get-ca-certificate"), "{failed}");
    }

    #[test]
    fn action_failed_passes_the_message_through() {
        let tools = FakeTools::new("tls-provider", false);
        let code = action_outcome(
            "get-ca-certificate",
            Err(actions::fail("run it on the leader")),
            &tools,
        );
        assert_eq!(code, EXIT_OK);
        assert_eq!(
            tools.state.borrow().action_failed.as_deref(),
            Some("run it on the leader")
        );
    }

    #[test]
    fn action_success_does_not_fail() {
        let tools = FakeTools::new("tls-provider", true);
        assert_eq!(action_outcome("x", Ok(()), &tools), EXIT_OK);
        assert_eq!(tools.count("action-fail"), 0);
    }

    #[test]
    fn tool_errors_in_actions_fail_the_action_and_exit_1() {
        let tools = FakeTools::new("tls-provider", true);
        let err = ActionError::from(ToolError::Failed {
            tool: "relation-get".into(),
            code: 1,
            stderr: "ERROR connection refused".into(),
        });
        assert_eq!(
            action_outcome("rotate-private-key", Err(err), &tools),
            EXIT_FAILED
        );
        let failed = tools.state.borrow().action_failed.clone().unwrap();
        assert!(failed.contains("connection refused"), "{failed}");
    }

    #[test]
    fn failing_action_fail_exits_1() {
        let tools = ProcessTools::with_runner(RecordingRunner::new());
        tools.runner().respond(
            "action-fail",
            Output::fail(1, "ERROR not running an action"),
        );
        let code = action_outcome("x", Err(actions::fail("nope")), &tools);
        assert_eq!(code, EXIT_FAILED);
        assert_eq!(tools.runner().calls()[0].argv(), "action-fail -- nope");
    }
}
