//! Argv and stdin of the relation tools: `relation-ids`, `relation-list`, `relation-get`,
//! `relation-set`. The shapes follow `ops/hookcmds/_relation.py` in canonical/operator; relation data
//! is written as a JSON object on stdin (`relation-set --file -`), so values of any size work and
//! nothing lands on argv (see `docs/juju-hook-contract.md` §4).

use super::call::ProcessTools;
use super::runner::CommandRunner;
use crate::error::ToolError;
use crate::tools::{Databag, Member, RelationId};

pub(super) fn relation_ids<R: CommandRunner>(
    t: &ProcessTools<R>,
    endpoint: &str,
) -> Result<Vec<RelationId>, ToolError> {
    let tool = "relation-ids";
    let ids: Option<Vec<String>> = t.call_json(tool, &[endpoint])?;
    ids.unwrap_or_default()
        .iter()
        .map(|raw| {
            RelationId::parse(raw).ok_or_else(|| ToolError::BadOutput {
                tool: tool.to_string(),
                detail: format!("relation id {raw:?} has no number after its last colon"),
            })
        })
        .collect()
}

pub(super) fn relation_list<R: CommandRunner>(
    t: &ProcessTools<R>,
    rel: RelationId,
) -> Result<Vec<String>, ToolError> {
    let units: Option<Vec<String>> = t.call_json("relation-list", &["-r", &rel.to_string()])?;
    Ok(units.unwrap_or_default())
}

pub(super) fn relation_remote_app<R: CommandRunner>(
    t: &ProcessTools<R>,
    rel: RelationId,
) -> Result<String, ToolError> {
    t.call_json("relation-list", &["-r", &rel.to_string(), "--app"])
}

pub(super) fn relation_get<R: CommandRunner>(
    t: &ProcessTools<R>,
    rel: RelationId,
    member: &Member,
) -> Result<Databag, ToolError> {
    let rel = rel.to_string();
    let bag: Option<Databag> = match member {
        Member::Unit(unit) => t.call_json("relation-get", &["-r", &rel, "-", unit])?,
        Member::App(app) => t.call_json("relation-get", &["-r", &rel, "--app", "-", app])?,
    };
    Ok(bag.unwrap_or_default())
}

pub(super) fn relation_set<R: CommandRunner>(
    t: &ProcessTools<R>,
    rel: RelationId,
    app: bool,
    changes: &Databag,
) -> Result<(), ToolError> {
    if changes.is_empty() {
        return Ok(());
    }
    let mut args = vec!["-r".to_string(), rel.to_string()];
    if app {
        args.push("--app".into());
    }
    args.extend(["--file".to_string(), "-".to_string()]);
    let body = serde_json::to_vec(changes).map_err(|e| ToolError::Io {
        tool: "relation-set".into(),
        source: std::io::Error::other(e),
    })?;
    t.call("relation-set", args, Some(&body)).map(drop)
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use crate::process::test_support::{bag, tools};
    use crate::process::RecordedCall;
    use crate::tools::{Databag, HookTools, Member, RelationId};
    use crate::ToolError;

    fn stdin_json(call: &RecordedCall) -> Value {
        serde_json::from_slice(call.stdin.as_deref().expect("stdin")).expect("stdin is JSON")
    }

    #[test]
    fn relation_ids_argv_and_parse() {
        let t = tools();
        t.runner()
            .respond_ok("relation-ids", "[\"certificates:3\",\"certificates:12\"]\n");
        let ids = t.relation_ids("certificates").unwrap();
        assert_eq!(ids, vec![RelationId(3), RelationId(12)]);
        let call = t.runner().single();
        assert_eq!(call.argv(), "relation-ids --format=json certificates");
        assert_eq!(call.stdin, None);
    }

    #[test]
    fn relation_ids_null_and_bad_ids() {
        let t = tools();
        t.runner().respond_ok("relation-ids", "null\n");
        assert_eq!(t.relation_ids("certificates").unwrap(), vec![]);
        t.runner()
            .respond_ok("relation-ids", "[\"certificates:x\"]");
        assert!(matches!(
            t.relation_ids("certificates"),
            Err(ToolError::BadOutput { .. })
        ));
    }

    #[test]
    fn relation_list_argv() {
        let t = tools();
        t.runner()
            .respond_ok("relation-list", "[\"req/0\",\"req/1\"]");
        assert_eq!(
            t.relation_list(RelationId(3)).unwrap(),
            vec!["req/0", "req/1"]
        );
        assert_eq!(
            t.runner().single().argv(),
            "relation-list --format=json -r 3"
        );
    }

    #[test]
    fn relation_remote_app_argv() {
        let t = tools();
        t.runner().respond_ok("relation-list", "\"req\"\n");
        assert_eq!(t.relation_remote_app(RelationId(7)).unwrap(), "req");
        assert_eq!(
            t.runner().single().argv(),
            "relation-list --format=json -r 7 --app"
        );
    }

    #[test]
    fn relation_get_unit_argv() {
        let t = tools();
        t.runner().respond_ok(
            "relation-get",
            "{\"egress-subnets\":\"10.0.0.1/32\",\"a\":\"1\"}",
        );
        let got = t
            .relation_get(RelationId(3), &Member::Unit("req/0".into()))
            .unwrap();
        assert_eq!(got, bag(&[("a", "1"), ("egress-subnets", "10.0.0.1/32")]));
        assert_eq!(
            t.runner().single().argv(),
            "relation-get --format=json -r 3 - req/0"
        );
    }

    #[test]
    fn relation_get_app_argv_and_empty() {
        let t = tools();
        t.runner().respond_ok("relation-get", "{}");
        let got = t
            .relation_get(RelationId(3), &Member::App("req".into()))
            .unwrap();
        assert!(got.is_empty());
        assert_eq!(
            t.runner().single().argv(),
            "relation-get --format=json -r 3 --app - req"
        );
    }

    #[test]
    fn relation_get_non_string_values_are_bad_output() {
        let t = tools();
        t.runner().respond_ok("relation-get", "{\"a\": 1}");
        let err = t
            .relation_get(RelationId(3), &Member::App("req".into()))
            .unwrap_err();
        assert!(matches!(err, ToolError::BadOutput { .. }), "{err:?}");
    }

    #[test]
    fn relation_set_unit_sends_json_on_stdin() {
        let t = tools();
        t.relation_set(RelationId(3), false, &bag(&[("a", "1"), ("gone", "")]))
            .unwrap();
        let call = t.runner().single();
        assert_eq!(call.argv(), "relation-set -r 3 --file -");
        // The empty value is sent as "" so Juju deletes the key.
        assert_eq!(stdin_json(&call), serde_json::json!({"a": "1", "gone": ""}));
    }

    #[test]
    fn relation_set_app_argv() {
        let t = tools();
        t.relation_set(RelationId(4), true, &bag(&[("certificates", "[]")]))
            .unwrap();
        let call = t.runner().single();
        assert_eq!(call.argv(), "relation-set -r 4 --app --file -");
        assert_eq!(stdin_json(&call), serde_json::json!({"certificates": "[]"}));
    }

    #[test]
    fn relation_set_value_over_100_kib_goes_on_stdin_not_argv() {
        let t = tools();
        let big = "x".repeat(300 * 1024);
        t.relation_set(RelationId(3), true, &bag(&[("certificates", &big)]))
            .unwrap();
        let call = t.runner().single();
        assert!(call.args.iter().all(|a| a.len() < 100));
        assert_eq!(stdin_json(&call)["certificates"].as_str().unwrap(), big);
    }

    #[test]
    fn relation_set_with_no_changes_makes_no_call() {
        let t = tools();
        t.relation_set(RelationId(3), true, &Databag::new())
            .unwrap();
        assert!(t.runner().calls().is_empty());
    }
}
