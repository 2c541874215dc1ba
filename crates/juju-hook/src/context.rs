//! The hook context as Juju exports it in the environment (see the hook-environment reference §2).

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::tools::RelationId;

/// What Juju asked us to run, from `JUJU_DISPATCH_PATH` (`hooks/<name>` or `actions/<name>`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dispatch {
    Hook(String),
    Action(String),
}

/// The relation a relation hook runs for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelationContext {
    /// `JUJU_RELATION`, the endpoint name.
    pub endpoint: String,
    /// From `JUJU_RELATION_ID` (`endpoint:id`, the number after the last colon).
    pub id: RelationId,
    /// `JUJU_REMOTE_UNIT`; `None` when exported empty (created, broken, app-level changed).
    pub remote_unit: Option<String>,
    /// `JUJU_REMOTE_APP`; `None` when empty.
    pub remote_app: Option<String>,
    /// `JUJU_DEPARTING_UNIT`, only in `-relation-departed`.
    pub departing_unit: Option<String>,
}

/// The secret a secret hook runs for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretContext {
    /// `JUJU_SECRET_ID`.
    pub id: String,
    /// `JUJU_SECRET_LABEL`; `None` when empty.
    pub label: Option<String>,
    /// `JUJU_SECRET_REVISION` (secret-remove, secret-expired).
    pub revision: Option<u64>,
}

/// The action an action runs for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActionContext {
    /// `JUJU_ACTION_NAME`.
    pub name: String,
    /// `JUJU_ACTION_UUID` (a small integer string in Juju 3, kept as text).
    pub uuid: String,
}

/// Everything a handler may need from the environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HookContext {
    pub dispatch: Dispatch,
    /// `JUJU_UNIT_NAME`, e.g. `tls-provider/0`.
    pub unit_name: String,
    /// The application part of the unit name.
    pub app_name: String,
    pub model_name: String,
    pub model_uuid: String,
    pub juju_version: String,
    /// `JUJU_CHARM_DIR` (falls back to `CHARM_DIR`, then the current directory).
    pub charm_dir: PathBuf,
    pub relation: Option<RelationContext>,
    pub secret: Option<SecretContext>,
    pub action: Option<ActionContext>,
}

/// Why the environment is not a hook context we can run.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ContextError {
    #[error("{0} is not set: not running under a Juju unit agent")]
    Missing(&'static str),
    #[error("JUJU_DISPATCH_PATH {0:?} is neither hooks/<name> nor actions/<name>")]
    BadDispatchPath(String),
    #[error("JUJU_RELATION_ID {0:?} has no numeric relation id after its last colon")]
    BadRelationId(String),
    #[error("JUJU_SECRET_REVISION {0:?} is not a number")]
    BadSecretRevision(String),
    #[error("JUJU_UNIT_NAME {0:?} is not of the form <application>/<number>")]
    BadUnitName(String),
}

impl HookContext {
    /// Reads the context from the process environment.
    pub fn from_env() -> Result<HookContext, ContextError> {
        let vars: BTreeMap<String, String> = std::env::vars().collect();
        HookContext::from_vars(&vars)
    }

    /// Reads the context from a map of environment variables (testable form of [`from_env`]).
    pub fn from_vars(vars: &BTreeMap<String, String>) -> Result<HookContext, ContextError> {
        let get = |k: &str| vars.get(k).map(String::as_str);
        let non_empty = |k: &str| get(k).filter(|v| !v.is_empty()).map(str::to_string);

        let dispatch_path =
            non_empty("JUJU_DISPATCH_PATH").ok_or(ContextError::Missing("JUJU_DISPATCH_PATH"))?;
        let dispatch = parse_dispatch(&dispatch_path)?;

        let unit_name =
            non_empty("JUJU_UNIT_NAME").ok_or(ContextError::Missing("JUJU_UNIT_NAME"))?;
        let app_name = match unit_name.split_once('/') {
            Some((app, n)) if !app.is_empty() && n.parse::<u32>().is_ok() => app.to_string(),
            _ => return Err(ContextError::BadUnitName(unit_name)),
        };

        let relation = match non_empty("JUJU_RELATION_ID") {
            None => None,
            Some(raw) => {
                let id = RelationId::parse(&raw)
                    .ok_or_else(|| ContextError::BadRelationId(raw.clone()))?;
                let endpoint = non_empty("JUJU_RELATION").unwrap_or_else(|| {
                    raw.rsplit_once(':')
                        .map(|(e, _)| e.to_string())
                        .unwrap_or_default()
                });
                Some(RelationContext {
                    endpoint,
                    id,
                    remote_unit: non_empty("JUJU_REMOTE_UNIT"),
                    remote_app: non_empty("JUJU_REMOTE_APP"),
                    departing_unit: non_empty("JUJU_DEPARTING_UNIT"),
                })
            }
        };

        let secret = match non_empty("JUJU_SECRET_ID") {
            None => None,
            Some(id) => {
                let revision = match non_empty("JUJU_SECRET_REVISION") {
                    None => None,
                    Some(r) => Some(
                        r.parse()
                            .map_err(|_| ContextError::BadSecretRevision(r.clone()))?,
                    ),
                };
                Some(SecretContext {
                    id,
                    label: non_empty("JUJU_SECRET_LABEL"),
                    revision,
                })
            }
        };

        let action = match &dispatch {
            Dispatch::Action(name) => Some(ActionContext {
                name: non_empty("JUJU_ACTION_NAME").unwrap_or_else(|| name.clone()),
                uuid: get("JUJU_ACTION_UUID").unwrap_or_default().to_string(),
            }),
            Dispatch::Hook(_) => None,
        };

        let charm_dir = non_empty("JUJU_CHARM_DIR")
            .or_else(|| non_empty("CHARM_DIR"))
            .map(PathBuf::from)
            .unwrap_or_else(|| std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")));

        Ok(HookContext {
            dispatch,
            unit_name,
            app_name,
            model_name: non_empty("JUJU_MODEL_NAME").unwrap_or_default(),
            model_uuid: non_empty("JUJU_MODEL_UUID").unwrap_or_default(),
            juju_version: non_empty("JUJU_VERSION").unwrap_or_default(),
            charm_dir,
            relation,
            secret,
            action,
        })
    }

    /// The hook or action name.
    pub fn name(&self) -> &str {
        match &self.dispatch {
            Dispatch::Hook(n) | Dispatch::Action(n) => n,
        }
    }

    pub fn is_action(&self) -> bool {
        matches!(self.dispatch, Dispatch::Action(_))
    }
}

/// `hooks/<name>` or `actions/<name>` (a leading `./` or an absolute prefix is tolerated).
pub fn parse_dispatch(path: &str) -> Result<Dispatch, ContextError> {
    let bad = || ContextError::BadDispatchPath(path.to_string());
    let mut parts = path.trim_start_matches("./").rsplitn(2, '/');
    let name = parts.next().filter(|n| !n.is_empty()).ok_or_else(bad)?;
    let dir = parts.next().ok_or_else(bad)?;
    let kind = dir.rsplit('/').next().unwrap_or(dir);
    match kind {
        "hooks" => Ok(Dispatch::Hook(name.to_string())),
        "actions" => Ok(Dispatch::Action(name.to_string())),
        _ => Err(bad()),
    }
}
