//! Argv of the tools about the unit itself: `is-leader`, `config-get` and
//! `application-version-set` (shapes as in `ops/hookcmds/_other.py` in canonical/operator; see
//! `docs/juju-hook-contract.md` §4).

use serde_json::{Map, Value};

use super::call::ProcessTools;
use super::runner::CommandRunner;
use crate::error::ToolError;

pub(super) fn is_leader<R: CommandRunner>(t: &ProcessTools<R>) -> Result<bool, ToolError> {
    t.call_json("is-leader", &[])
}

pub(super) fn config_get<R: CommandRunner>(
    t: &ProcessTools<R>,
) -> Result<Map<String, Value>, ToolError> {
    // Juju prints `null` for a nil map.
    let map: Option<Map<String, Value>> = t.call_json("config-get", &[])?;
    Ok(map.unwrap_or_default())
}

pub(super) fn application_version_set<R: CommandRunner>(
    t: &ProcessTools<R>,
    version: &str,
) -> Result<(), ToolError> {
    t.call(
        "application-version-set",
        vec!["--".into(), version.into()],
        None,
    )
    .map(drop)
}

#[cfg(test)]
mod tests {
    use crate::process::test_support::tools;
    use crate::tools::HookTools;
    use crate::ToolError;

    #[test]
    fn is_leader_argv_and_parse() {
        let t = tools();
        t.runner().respond_ok("is-leader", "true\n");
        t.runner().respond_ok("is-leader", "false\n");
        assert!(t.is_leader().unwrap());
        assert!(!t.is_leader().unwrap());
        assert_eq!(t.runner().calls()[0].argv(), "is-leader --format=json");
    }

    #[test]
    fn config_get_argv_and_types() {
        let t = tools();
        t.runner().respond_ok(
            "config-get",
            "{\"mode\":\"self-signed\",\"allow-ip-sans\":true,\"certificate-limit\":0}",
        );
        let cfg = t.config_get().unwrap();
        assert_eq!(cfg["mode"], "self-signed");
        assert_eq!(cfg["allow-ip-sans"], true);
        assert_eq!(cfg["certificate-limit"], 0);
        assert_eq!(t.runner().single().argv(), "config-get --format=json");
    }

    #[test]
    fn config_get_null_is_empty_and_list_is_bad() {
        let t = tools();
        t.runner().respond_ok("config-get", "null");
        assert!(t.config_get().unwrap().is_empty());
        t.runner().respond_ok("config-get", "[1]");
        assert!(matches!(t.config_get(), Err(ToolError::BadOutput { .. })));
    }

    #[test]
    fn application_version_set_argv() {
        let t = tools();
        t.application_version_set("1.2.3").unwrap();
        assert_eq!(
            t.runner().single().argv(),
            "application-version-set -- 1.2.3"
        );
    }
}
