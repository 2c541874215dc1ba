//! The hook context as Juju exports it in the environment (see `docs/juju-hook-contract.md` §2).

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

    /// Reads the context from (name, value) pairs of environment variables: [`from_vars`]
    /// for a literal list, as tests and benchmarks write one.
    ///
    /// [`from_vars`]: HookContext::from_vars
    pub fn from_pairs(vars: &[(&str, &str)]) -> Result<HookContext, ContextError> {
        let vars: BTreeMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        HookContext::from_vars(&vars)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The variables Juju exports for every hook (`docs/juju-hook-contract.md` §2), for unit
    /// `tls-provider/0`.
    fn base(dispatch: &str, hook_name: &str) -> BTreeMap<String, String> {
        let mut v = BTreeMap::new();
        for (k, val) in [
            (
                "CHARM_DIR",
                "/var/lib/juju/agents/unit-tls-provider-0/charm",
            ),
            (
                "JUJU_CHARM_DIR",
                "/var/lib/juju/agents/unit-tls-provider-0/charm",
            ),
            ("JUJU_CONTEXT_ID", "tls-provider/0-install-1234abcd"),
            ("JUJU_HOOK_NAME", hook_name),
            ("JUJU_UNIT_NAME", "tls-provider/0"),
            ("JUJU_MODEL_UUID", "b7a2ab47-8bbb-4b25-8c9d-7e4c3a1d2f00"),
            ("JUJU_MODEL_NAME", "demo"),
            ("JUJU_VERSION", "3.6.8"),
            ("JUJU_MACHINE_ID", "0"),
            ("JUJU_PRINCIPAL_UNIT", ""),
            ("JUJU_AVAILABILITY_ZONE", ""),
            ("JUJU_DISPATCH_PATH", dispatch),
        ] {
            v.insert(k.to_string(), val.to_string());
        }
        v
    }

    fn relation_vars(
        hook: &str,
        relation_id: &str,
        remote_unit: &str,
        remote_app: &str,
    ) -> BTreeMap<String, String> {
        let mut v = base(&format!("hooks/{hook}"), hook);
        v.insert("JUJU_RELATION".into(), "certificates".into());
        v.insert("JUJU_RELATION_ID".into(), relation_id.into());
        v.insert("JUJU_REMOTE_UNIT".into(), remote_unit.into());
        v.insert("JUJU_REMOTE_APP".into(), remote_app.into());
        v
    }

    #[test]
    fn from_pairs_reads_like_from_vars() {
        let v = relation_vars(
            "certificates-relation-changed",
            "certificates:3",
            "r/1",
            "r",
        );
        let pairs: Vec<(&str, &str)> = v.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let ctx = HookContext::from_pairs(&pairs).unwrap();
        assert_eq!(ctx, HookContext::from_vars(&v).unwrap());
        assert_eq!(ctx.relation.as_ref().unwrap().id, RelationId(3));
        // A later pair replaces an earlier one of the same name.
        let ctx = HookContext::from_pairs(&[
            ("JUJU_DISPATCH_PATH", "hooks/install"),
            ("JUJU_UNIT_NAME", "x/0"),
            ("JUJU_UNIT_NAME", "y/1"),
        ])
        .unwrap();
        assert_eq!(ctx.unit_name, "y/1");
    }

    #[test]
    fn plain_hooks() {
        for hook in [
            "install",
            "start",
            "stop",
            "remove",
            "upgrade-charm",
            "config-changed",
            "update-status",
            "leader-elected",
            "leader-settings-changed",
        ] {
            let ctx = HookContext::from_vars(&base(&format!("hooks/{hook}"), hook)).unwrap();
            assert_eq!(ctx.dispatch, Dispatch::Hook(hook.to_string()));
            assert_eq!(ctx.name(), hook);
            assert!(!ctx.is_action());
            assert_eq!(ctx.unit_name, "tls-provider/0");
            assert_eq!(ctx.app_name, "tls-provider");
            assert_eq!(ctx.model_name, "demo");
            assert_eq!(ctx.model_uuid, "b7a2ab47-8bbb-4b25-8c9d-7e4c3a1d2f00");
            assert_eq!(ctx.juju_version, "3.6.8");
            assert_eq!(
                ctx.charm_dir,
                PathBuf::from("/var/lib/juju/agents/unit-tls-provider-0/charm")
            );
            assert_eq!(ctx.relation, None);
            assert_eq!(ctx.secret, None);
            assert_eq!(ctx.action, None);
        }
    }

    #[test]
    fn relation_changed_for_a_unit() {
        let v = relation_vars(
            "certificates-relation-changed",
            "certificates:3",
            "req/0",
            "req",
        );
        let ctx = HookContext::from_vars(&v).unwrap();
        assert_eq!(
            ctx.relation,
            Some(RelationContext {
                endpoint: "certificates".into(),
                id: RelationId(3),
                remote_unit: Some("req/0".into()),
                remote_app: Some("req".into()),
                departing_unit: None,
            })
        );
    }

    #[test]
    fn relation_created_broken_and_app_changed_have_no_remote_unit() {
        for hook in [
            "certificates-relation-created",
            "certificates-relation-broken",
            "certificates-relation-changed",
        ] {
            // Juju exports JUJU_REMOTE_UNIT present but empty.
            let v = relation_vars(hook, "certificates:12", "", "req");
            assert_eq!(v["JUJU_REMOTE_UNIT"], "");
            let ctx = HookContext::from_vars(&v).unwrap();
            let rel = ctx.relation.unwrap();
            assert_eq!(rel.id, RelationId(12), "{hook}");
            assert_eq!(rel.remote_unit, None, "{hook}");
            assert_eq!(rel.remote_app.as_deref(), Some("req"), "{hook}");
        }
    }

    #[test]
    fn relation_joined_and_departed() {
        let v = relation_vars(
            "certificates-relation-joined",
            "certificates:3",
            "req/1",
            "req",
        );
        let rel = HookContext::from_vars(&v).unwrap().relation.unwrap();
        assert_eq!(rel.remote_unit.as_deref(), Some("req/1"));
        assert_eq!(rel.departing_unit, None);

        let mut v = relation_vars(
            "certificates-relation-departed",
            "certificates:3",
            "req/1",
            "req",
        );
        v.insert("JUJU_DEPARTING_UNIT".into(), "req/1".into());
        let rel = HookContext::from_vars(&v).unwrap().relation.unwrap();
        assert_eq!(rel.departing_unit.as_deref(), Some("req/1"));
    }

    #[test]
    fn relation_id_is_the_number_after_the_last_colon() {
        for (raw, want) in [
            ("certificates:3", 3),
            ("a:b:3", 3),
            ("3", 3),
            ("anything:42", 42),
        ] {
            let v = relation_vars("certificates-relation-changed", raw, "req/0", "req");
            let rel = HookContext::from_vars(&v).unwrap().relation.unwrap();
            assert_eq!(rel.id, RelationId(want), "{raw}");
        }
    }

    #[test]
    fn endpoint_falls_back_to_the_relation_id_prefix() {
        let mut v = relation_vars(
            "certificates-relation-changed",
            "certificates:3",
            "r/0",
            "r",
        );
        v.insert("JUJU_RELATION".into(), String::new());
        let rel = HookContext::from_vars(&v).unwrap().relation.unwrap();
        assert_eq!(rel.endpoint, "certificates");
    }

    #[test]
    fn bad_relation_ids_are_errors() {
        for raw in [
            "certificates:",
            "certificates:x",
            "db:-1",
            "certificates:3x",
        ] {
            let v = relation_vars("certificates-relation-changed", raw, "req/0", "req");
            assert_eq!(
                HookContext::from_vars(&v),
                Err(ContextError::BadRelationId(raw.to_string())),
                "{raw}"
            );
        }
    }

    #[test]
    fn actions_have_an_empty_hook_name_and_a_string_uuid() {
        let mut v = base("actions/get-ca-certificate", "");
        v.insert("JUJU_ACTION_NAME".into(), "get-ca-certificate".into());
        v.insert("JUJU_ACTION_UUID".into(), "2".into());
        v.insert("JUJU_ACTION_TAG".into(), "action-2".into());
        let ctx = HookContext::from_vars(&v).unwrap();
        assert!(ctx.is_action());
        assert_eq!(ctx.dispatch, Dispatch::Action("get-ca-certificate".into()));
        assert_eq!(ctx.name(), "get-ca-certificate");
        assert_eq!(
            ctx.action,
            Some(ActionContext {
                name: "get-ca-certificate".into(),
                uuid: "2".into(),
            })
        );
        assert_eq!(ctx.relation, None);
    }

    #[test]
    fn action_name_falls_back_to_the_dispatch_path() {
        let v = base("actions/rotate-private-key", "");
        let ctx = HookContext::from_vars(&v).unwrap();
        assert_eq!(
            ctx.action,
            Some(ActionContext {
                name: "rotate-private-key".into(),
                uuid: String::new(),
            })
        );
    }

    #[test]
    fn secret_hooks() {
        let mut v = base("hooks/secret-changed", "secret-changed");
        v.insert(
            "JUJU_SECRET_ID".into(),
            "secret:d0abcdefghijklmnopqr".into(),
        );
        v.insert("JUJU_SECRET_LABEL".into(), "".into());
        let s = HookContext::from_vars(&v).unwrap().secret.unwrap();
        assert_eq!(
            s,
            SecretContext {
                id: "secret:d0abcdefghijklmnopqr".into(),
                label: None,
                revision: None,
            }
        );

        for hook in ["secret-remove", "secret-expired"] {
            let mut v = base(&format!("hooks/{hook}"), hook);
            v.insert(
                "JUJU_SECRET_ID".into(),
                "secret:d0abcdefghijklmnopqr".into(),
            );
            v.insert("JUJU_SECRET_LABEL".into(), "ca".into());
            v.insert("JUJU_SECRET_REVISION".into(), "4".into());
            let s = HookContext::from_vars(&v).unwrap().secret.unwrap();
            assert_eq!(s.label.as_deref(), Some("ca"), "{hook}");
            assert_eq!(s.revision, Some(4), "{hook}");
        }

        let mut v = base("hooks/secret-rotate", "secret-rotate");
        v.insert("JUJU_SECRET_ID".into(), "secret:x".into());
        v.insert("JUJU_SECRET_REVISION".into(), "four".into());
        assert_eq!(
            HookContext::from_vars(&v),
            Err(ContextError::BadSecretRevision("four".into()))
        );
    }

    #[test]
    fn missing_or_bad_environment() {
        let mut v = base("hooks/install", "install");
        v.remove("JUJU_DISPATCH_PATH");
        assert_eq!(
            HookContext::from_vars(&v),
            Err(ContextError::Missing("JUJU_DISPATCH_PATH"))
        );
        let v = base("", "install");
        assert_eq!(
            HookContext::from_vars(&v),
            Err(ContextError::Missing("JUJU_DISPATCH_PATH"))
        );
        let mut v = base("hooks/install", "install");
        v.remove("JUJU_UNIT_NAME");
        assert_eq!(
            HookContext::from_vars(&v),
            Err(ContextError::Missing("JUJU_UNIT_NAME"))
        );
        for bad in ["tls-provider", "tls-provider/x", "/0"] {
            let mut v = base("hooks/install", "install");
            v.insert("JUJU_UNIT_NAME".into(), bad.into());
            assert_eq!(
                HookContext::from_vars(&v),
                Err(ContextError::BadUnitName(bad.into()))
            );
        }
        let v = base("install", "install");
        assert_eq!(
            HookContext::from_vars(&v),
            Err(ContextError::BadDispatchPath("install".into()))
        );
    }

    #[test]
    fn dispatch_path_forms() {
        assert_eq!(
            parse_dispatch("hooks/install"),
            Ok(Dispatch::Hook("install".into()))
        );
        assert_eq!(
            parse_dispatch("./hooks/config-changed"),
            Ok(Dispatch::Hook("config-changed".into()))
        );
        assert_eq!(
            parse_dispatch("/var/lib/juju/agents/unit-x-0/charm/hooks/start"),
            Ok(Dispatch::Hook("start".into()))
        );
        assert_eq!(
            parse_dispatch("actions/provide-certificate"),
            Ok(Dispatch::Action("provide-certificate".into()))
        );
        for bad in ["hooks/", "install", "bin/install", ""] {
            assert!(parse_dispatch(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn charm_dir_falls_back_to_charm_dir_var() {
        let mut v = base("hooks/install", "install");
        v.remove("JUJU_CHARM_DIR");
        v.insert("CHARM_DIR".into(), "/srv/charm".into());
        assert_eq!(
            HookContext::from_vars(&v).unwrap().charm_dir,
            PathBuf::from("/srv/charm")
        );
    }
}
