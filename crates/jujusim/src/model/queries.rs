//! Read-only queries on the model, for tests and the CLI.

use std::path::PathBuf;
use std::time::SystemTime;

use serde_json::{Map, Value};

use super::Model;
use crate::views::{Databag, HookRun};

impl Model {
    pub fn now(&self) -> SystemTime {
        self.st().clock
    }

    pub fn units(&self, app: &str) -> Vec<String> {
        self.st().app_units(app)
    }

    pub fn apps(&self) -> Vec<String> {
        self.st().apps.keys().cloned().collect()
    }

    pub fn leader(&self, app: &str) -> Option<String> {
        self.st().apps.get(app).and_then(|a| a.leader.clone())
    }

    /// The charm name (from metadata.yaml) an app runs.
    pub fn charm_name(&self, app: &str) -> Option<String> {
        self.st().apps.get(app).map(|a| a.charm_name.clone())
    }

    pub fn app_version(&self, app: &str) -> String {
        self.st()
            .apps
            .get(app)
            .map(|a| a.version.clone())
            .unwrap_or_default()
    }

    /// Committed charm state (`state-set`) of a unit.
    pub fn unit_state(&self, unit: &str) -> Databag {
        self.st()
            .units
            .get(unit)
            .map(|u| u.state.clone())
            .unwrap_or_default()
    }

    /// Committed opened ports of a unit, e.g. `["80/tcp"]`.
    pub fn opened_ports(&self, unit: &str) -> Vec<String> {
        self.st()
            .units
            .get(unit)
            .map(|u| u.ports.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Pending events of a unit (hook names), for debugging.
    pub fn queued(&self, unit: &str) -> Vec<String> {
        self.st()
            .units
            .get(unit)
            .map(|u| u.queue.iter().map(|e| e.hook.clone()).collect())
            .unwrap_or_default()
    }

    /// Config of an app with defaults applied (nulls included).
    pub fn config(&self, app: &str) -> Map<String, Value> {
        self.st()
            .apps
            .get(app)
            .map(|a| a.effective_config())
            .unwrap_or_default()
    }

    pub fn logs(&self, unit: &str) -> Vec<String> {
        self.st()
            .units
            .get(unit)
            .map(|u| u.logs.clone())
            .unwrap_or_default()
    }

    pub fn hook_runs(&self) -> &[HookRun] {
        &self.runs
    }

    pub fn charm_dir(&self, unit: &str) -> PathBuf {
        let st = self.st();
        match st.units.get(unit) {
            Some(u) => u.charm_dir.clone(),
            None => {
                let (a, n) = unit.split_once('/').unwrap_or((unit, "0"));
                self.root
                    .path()
                    .join("agents")
                    .join(format!("unit-{a}-{n}"))
                    .join("charm")
            }
        }
    }
}
