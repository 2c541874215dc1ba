//! [`HookTools`] for [`ProcessTools`]: each method hands over to the module of its tool family,
//! grouped as the trait groups them.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::call::ProcessTools;
use super::runner::CommandRunner;
use super::{actions, config, relations, secrets, status_log};
use crate::error::ToolError;
use crate::tools::{
    Databag, HookTools, LogLevel, Member, RelationId, SecretInfo, SecretOptions, SecretRead,
    SecretRef, StatusName, StatusScope,
};

impl<R: CommandRunner> HookTools for ProcessTools<R> {
    fn relation_ids(&self, endpoint: &str) -> Result<Vec<RelationId>, ToolError> {
        relations::relation_ids(self, endpoint)
    }

    fn relation_list(&self, rel: RelationId) -> Result<Vec<String>, ToolError> {
        relations::relation_list(self, rel)
    }

    fn relation_remote_app(&self, rel: RelationId) -> Result<String, ToolError> {
        relations::relation_remote_app(self, rel)
    }

    fn relation_get(&self, rel: RelationId, member: &Member) -> Result<Databag, ToolError> {
        relations::relation_get(self, rel, member)
    }

    fn relation_set(&self, rel: RelationId, app: bool, changes: &Databag) -> Result<(), ToolError> {
        relations::relation_set(self, rel, app, changes)
    }

    fn is_leader(&self) -> Result<bool, ToolError> {
        config::is_leader(self)
    }

    fn config_get(&self) -> Result<Map<String, Value>, ToolError> {
        config::config_get(self)
    }

    fn action_get(&self) -> Result<Map<String, Value>, ToolError> {
        actions::action_get(self)
    }

    fn action_set(&self, results: &BTreeMap<String, String>) -> Result<(), ToolError> {
        actions::action_set(self, results)
    }

    fn action_fail(&self, message: &str) -> Result<(), ToolError> {
        actions::action_message(self, "action-fail", message)
    }

    fn action_log(&self, message: &str) -> Result<(), ToolError> {
        actions::action_message(self, "action-log", message)
    }

    fn status_set(
        &self,
        scope: StatusScope,
        status: StatusName,
        message: &str,
    ) -> Result<(), ToolError> {
        status_log::status_set(self, scope, status, message)
    }

    fn application_version_set(&self, version: &str) -> Result<(), ToolError> {
        config::application_version_set(self, version)
    }

    fn juju_log(&self, level: LogLevel, message: &str) -> Result<(), ToolError> {
        status_log::juju_log(self, level, message)
    }

    fn secret_add(&self, content: &Databag, opts: &SecretOptions) -> Result<String, ToolError> {
        secrets::secret_add(self, content, opts)
    }

    fn secret_get(&self, secret: &SecretRef, read: SecretRead) -> Result<Databag, ToolError> {
        secrets::secret_get(self, secret, read)
    }

    fn secret_set(
        &self,
        id: &str,
        content: Option<&Databag>,
        opts: &SecretOptions,
    ) -> Result<(), ToolError> {
        secrets::secret_set(self, id, content, opts)
    }

    fn secret_info_get(&self, secret: &SecretRef) -> Result<SecretInfo, ToolError> {
        secrets::secret_info_get(self, secret)
    }

    fn secret_remove(&self, id: &str, revision: Option<u64>) -> Result<(), ToolError> {
        secrets::secret_remove(self, id, revision)
    }

    fn secret_ids(&self) -> Result<Vec<String>, ToolError> {
        secrets::secret_ids(self)
    }

    fn secret_grant(&self, id: &str, rel: RelationId, unit: Option<&str>) -> Result<(), ToolError> {
        secrets::secret_grant(self, id, rel, unit)
    }
}
