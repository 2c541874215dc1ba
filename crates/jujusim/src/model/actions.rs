//! Running actions.

use serde_json::{Map, Value};

use super::Model;
use crate::error::SimError;
use crate::meta;
use crate::state::{ActionCtx, Event};
use crate::views::ActionResult;

/// An action to run instead of a hook: its name, validated params and id.
pub(super) struct ActionRequest {
    pub name: String,
    pub params: Map<String, Value>,
    pub id: u32,
}

/// An action's context with its stdout and stderr.
pub(super) type ActionOutput = (ActionCtx, String, String);

impl Model {
    /// Run an action now. Validates the name against actions.yaml and fills defaults.
    pub fn run_action(
        &mut self,
        unit: &str,
        action: &str,
        params: Map<String, Value>,
    ) -> Result<ActionResult, SimError> {
        let params = {
            let st = self.st();
            let u = st.units.get(unit).ok_or_else(|| SimError::no_unit(unit))?;
            let a = &st.apps[&u.app];
            let def = a.actions.get(action).ok_or_else(|| {
                SimError::Invalid(format!(
                    "action {action:?} not defined on unit {unit:?} (defined: {})",
                    a.actions.keys().cloned().collect::<Vec<_>>().join(", ")
                ))
            })?;
            meta::validate_action(action, def, params)?
        };
        let id = self.next_action;
        self.next_action += 1;
        let ev = Event::plain(action);
        let request = ActionRequest {
            name: action.to_string(),
            params,
            id,
        };
        let (code, act) = self.run_hook(unit, &ev, Some(request))?;
        let (a, stdout, stderr) = act.expect("action context");
        let (status, message) = if let Some(m) = a.failed {
            ("failed", m)
        } else if code != 0 {
            ("failed", format!("exit status {code}"))
        } else {
            ("completed", String::new())
        };
        Ok(ActionResult {
            status: status.into(),
            message,
            results: Value::Object(a.results),
            logs: a.logs,
            stdout,
            stderr,
            exit_code: code,
        })
    }
}
