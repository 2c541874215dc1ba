//! [`ProcessTools`] itself: one hook tool run through its [`CommandRunner`], a non-zero exit turned
//! into a classified [`ToolError`], and `--format=json` output parsed. The argv of each tool is built
//! by its family's module (`relations`, `secrets`, `actions`, `status_log`, `config`).

use serde::de::DeserializeOwned;

use super::runner::{CommandRunner, SystemRunner};
use crate::error::ToolError;

/// [`crate::HookTools`] backed by real hook-tool processes (through a [`CommandRunner`]).
#[derive(Debug, Default)]
pub struct ProcessTools<R = SystemRunner> {
    runner: R,
}

impl ProcessTools<SystemRunner> {
    /// The tools on `PATH`, as inside a Juju hook.
    pub fn new() -> ProcessTools<SystemRunner> {
        ProcessTools {
            runner: SystemRunner,
        }
    }
}

impl<R: CommandRunner> ProcessTools<R> {
    pub fn with_runner(runner: R) -> ProcessTools<R> {
        ProcessTools { runner }
    }

    pub fn runner(&self) -> &R {
        &self.runner
    }

    /// Runs `tool`; a non-zero exit becomes a classified [`ToolError`]. Returns stdout.
    pub(super) fn call(
        &self,
        tool: &str,
        args: Vec<String>,
        stdin: Option<&[u8]>,
    ) -> Result<Vec<u8>, ToolError> {
        let out = self.runner.run(tool, &args, stdin)?;
        if out.code != 0 {
            return Err(ToolError::from_exit(
                tool,
                out.code,
                &String::from_utf8_lossy(&out.stderr),
            ));
        }
        Ok(out.stdout)
    }

    /// Runs a read with `--format=json` first (as ops does: `ops/hookcmds/` in canonical/operator) and parses its output.
    pub(super) fn call_json<T: DeserializeOwned>(
        &self,
        tool: &str,
        args: &[&str],
    ) -> Result<T, ToolError> {
        let mut argv = vec!["--format=json".to_string()];
        argv.extend(args.iter().map(|a| a.to_string()));
        let stdout = self.call(tool, argv, None)?;
        parse_json(tool, &stdout)
    }
}

fn parse_json<T: DeserializeOwned>(tool: &str, stdout: &[u8]) -> Result<T, ToolError> {
    serde_json::from_slice(stdout).map_err(|e| ToolError::BadOutput {
        tool: tool.to_string(),
        detail: format!(
            "{e} (output was {:?})",
            truncate(&String::from_utf8_lossy(stdout), 200)
        ),
    })
}

pub(super) fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use crate::process::runner::Output;
    use crate::process::test_support::{bag, tools};
    use crate::tools::{
        HookTools, Member, RelationId, SecretRead, SecretRef, StatusName, StatusScope,
    };
    use crate::ToolError;

    #[test]
    fn non_json_output_is_bad_output() {
        let t = tools();
        t.runner().respond_ok("is-leader", "True\n");
        let err = t.is_leader().unwrap_err();
        assert!(matches!(err, ToolError::BadOutput { ref tool, .. } if tool == "is-leader"));
        assert!(err.to_string().contains("True"), "{err}");
    }

    #[test]
    fn errors_are_classified_from_stderr() {
        let t = tools();
        t.runner().respond(
            "relation-get",
            Output::fail(
                2,
                "ERROR invalid value \"certificates:9\" for option -r: relation not found\n",
            ),
        );
        t.runner().respond(
            "relation-set",
            Output::fail(1, "ERROR cannot write relation settings\n"),
        );
        t.runner().respond(
            "secret-get",
            Output::fail(1, "ERROR secret \"x\" not found\n"),
        );
        t.runner().respond(
            "status-set",
            Output::fail(1, "ERROR this unit is not the leader\n"),
        );
        t.runner().respond(
            "action-set",
            Output::fail(2, "ERROR cannot set reserved action key \"stdout\"\n"),
        );

        let e = t
            .relation_get(RelationId(9), &Member::Unit("r/0".into()))
            .unwrap_err();
        assert!(
            matches!(e, ToolError::RelationNotFound { ref stderr, .. } if stderr.contains("certificates:9")),
            "{e:?}"
        );
        let e = t
            .relation_set(RelationId(3), true, &bag(&[("a", "b")]))
            .unwrap_err();
        assert!(matches!(e, ToolError::NotLeader { .. }), "{e:?}");
        let e = t
            .secret_get(&SecretRef::Id("x".into()), SecretRead::Pinned)
            .unwrap_err();
        assert!(matches!(e, ToolError::SecretNotFound { .. }), "{e:?}");
        assert!(e.is_not_found());
        let e = t
            .status_set(StatusScope::Application, StatusName::Active, "")
            .unwrap_err();
        assert!(matches!(e, ToolError::NotLeader { .. }), "{e:?}");
        let mut r = BTreeMap::new();
        r.insert("stdout".to_string(), "x".to_string());
        let e = t.action_set(&r).unwrap_err();
        match e {
            ToolError::Failed { tool, code, stderr } => {
                assert_eq!((tool.as_str(), code), ("action-set", 2));
                assert_eq!(stderr, "ERROR cannot set reserved action key \"stdout\"");
            }
            other => panic!("{other:?}"),
        }
    }
}
