//! Argv of the action tools: `action-get`, `action-set` (its results split into batches that fit
//! one argv, [`action_set_batches`]), `action-fail` and `action-log`. The shapes follow
//! `ops/hookcmds/_action.py` in canonical/operator (see `docs/juju-hook-contract.md` §4, and §8 for
//! the argv size limits).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::call::ProcessTools;
use super::runner::CommandRunner;
use super::status_log::clean_text;
use crate::error::ToolError;
use crate::tools::{MAX_ACTION_SET_ARGV_BYTES, MAX_ACTION_VALUE_BYTES};

pub(super) fn action_get<R: CommandRunner>(
    t: &ProcessTools<R>,
) -> Result<Map<String, Value>, ToolError> {
    let map: Option<Map<String, Value>> = t.call_json("action-get", &[])?;
    Ok(map.unwrap_or_default())
}

pub(super) fn action_set<R: CommandRunner>(
    t: &ProcessTools<R>,
    results: &BTreeMap<String, String>,
) -> Result<(), ToolError> {
    // Juju merges the results of successive action-set calls.
    for args in action_set_batches(results)? {
        t.call("action-set", args, None)?;
    }
    Ok(())
}

/// `action-fail -- <message>` or `action-log -- <message>`, the message cleaned by [`clean_text`].
pub(super) fn action_message<R: CommandRunner>(
    t: &ProcessTools<R>,
    tool: &str,
    message: &str,
) -> Result<(), ToolError> {
    let message = clean_text(message).into_owned();
    t.call(tool, vec!["--".into(), message], None).map(drop)
}

/// The argv of each `action-set` call for `results`: `key=value` arguments in key order, grouped so
/// that no call's arguments (bytes + NUL + pointer each) exceed [`MAX_ACTION_SET_ARGV_BYTES`]. A
/// `key=value` longer than [`MAX_ACTION_VALUE_BYTES`] is [`ToolError::ValueTooLarge`] (checked for
/// every result before any call is made). NUL bytes are replaced as in [`clean_text`].
pub fn action_set_batches(
    results: &BTreeMap<String, String>,
) -> Result<Vec<Vec<String>>, ToolError> {
    let mut batches = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let mut current_bytes = 0;
    for (key, value) in results {
        let mut arg = format!("{key}={value}");
        if arg.contains('\0') {
            arg = arg.replace('\0', "\u{FFFD}");
        }
        if arg.len() > MAX_ACTION_VALUE_BYTES {
            return Err(ToolError::ValueTooLarge {
                tool: "action-set".into(),
                key: key.clone(),
                bytes: arg.len(),
                max: MAX_ACTION_VALUE_BYTES,
            });
        }
        let cost = arg.len() + 1 + std::mem::size_of::<usize>();
        if !current.is_empty() && current_bytes + cost > MAX_ACTION_SET_ARGV_BYTES {
            batches.push(std::mem::take(&mut current));
            current_bytes = 0;
        }
        current_bytes += cost;
        current.push(arg);
    }
    if !current.is_empty() {
        batches.push(current);
    }
    Ok(batches)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    use crate::process::runner::{CommandRunner, Output, SystemRunner};
    use crate::process::test_support::tools;
    use crate::process::ProcessTools;
    use crate::tools::{HookTools, MAX_ACTION_SET_ARGV_BYTES, MAX_ACTION_VALUE_BYTES};
    use crate::ToolError;

    #[test]
    fn action_get_argv() {
        let t = tools();
        t.runner().respond_ok("action-get", "{\"relation-id\":3}");
        assert_eq!(t.action_get().unwrap()["relation-id"], 3);
        assert_eq!(t.runner().single().argv(), "action-get --format=json");
    }

    #[test]
    fn action_set_argv() {
        let t = tools();
        let mut results = BTreeMap::new();
        results.insert("ca-certificate".to_string(), "-----BEGIN CERT".to_string());
        results.insert("result.count".to_string(), "2".to_string());
        t.action_set(&results).unwrap();
        let call = t.runner().single();
        assert_eq!(
            call.args,
            vec!["ca-certificate=-----BEGIN CERT", "result.count=2"]
        );
        assert_eq!(call.tool, "action-set");
    }

    fn big_results(n: usize, value_len: usize) -> BTreeMap<String, String> {
        (0..n)
            .map(|i| {
                let c = (b'a' + (i % 26) as u8) as char;
                (format!("part-{i:02}"), c.to_string().repeat(value_len))
            })
            .collect()
    }

    fn argv_bytes(args: &[String]) -> usize {
        args.iter()
            .map(|a| a.len() + 1 + std::mem::size_of::<usize>())
            .sum()
    }

    #[test]
    fn action_set_splits_large_results_over_several_calls() {
        let t = tools();
        // 12 results of 100 KiB: 1.2 MiB in all, over the 1 MiB a call may take.
        let results = big_results(12, 100 * 1024);
        t.action_set(&results).unwrap();
        let calls = t.runner().calls();
        assert_eq!(
            calls.len(),
            2,
            "{:?}",
            calls.iter().map(|c| c.args.len()).collect::<Vec<_>>()
        );
        for call in &calls {
            assert_eq!(call.tool, "action-set");
            assert!(argv_bytes(&call.args) <= MAX_ACTION_SET_ARGV_BYTES);
            assert!(call.args.iter().all(|a| a.len() <= MAX_ACTION_VALUE_BYTES));
        }
        // Every result exactly once, in key order.
        let sent: Vec<String> = calls.iter().flat_map(|c| c.args.clone()).collect();
        let expected: Vec<String> = results.iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(sent, expected);
    }

    #[test]
    fn action_set_small_results_are_one_call() {
        let t = tools();
        t.action_set(&big_results(5, 1000)).unwrap();
        assert_eq!(t.runner().single().args.len(), 5);
    }

    #[test]
    fn action_set_refuses_a_200_kib_value_and_runs_nothing() {
        let t = tools();
        let mut results = big_results(3, 10);
        results.insert("requests".into(), "x".repeat(200 * 1024));
        let err = t.action_set(&results).unwrap_err();
        match &err {
            ToolError::ValueTooLarge {
                tool,
                key,
                bytes,
                max,
            } => {
                assert_eq!((tool.as_str(), key.as_str()), ("action-set", "requests"));
                assert_eq!(*bytes, "requests=".len() + 200 * 1024);
                assert_eq!(*max, MAX_ACTION_VALUE_BYTES);
            }
            other => panic!("{other:?}"),
        }
        assert!(err.to_string().contains("\"requests\""), "{err}");
        assert!(
            t.runner().calls().is_empty(),
            "nothing set, nothing spawned"
        );
        // Just under the limit is fine.
        let mut results = BTreeMap::new();
        results.insert("k".to_string(), "y".repeat(MAX_ACTION_VALUE_BYTES - 2));
        t.action_set(&results).unwrap();
        assert_eq!(t.runner().single().args[0].len(), MAX_ACTION_VALUE_BYTES);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn batches_really_run_where_one_argv_would_not() {
        // The limits are real: a 200 KiB argument cannot even be exec'd...
        let e = SystemRunner
            .run("true", &["x".repeat(200 * 1024)], None)
            .unwrap_err();
        assert!(matches!(e, ToolError::Io { .. }), "{e:?}");
        // ...while every batch of 2.4 MiB of results (over the ~2 MiB argv+env limit) runs.
        struct ViaTrue(Mutex<usize>);
        impl CommandRunner for ViaTrue {
            fn run(
                &self,
                _: &str,
                args: &[String],
                stdin: Option<&[u8]>,
            ) -> Result<Output, ToolError> {
                *self.0.lock().unwrap() += 1;
                SystemRunner.run("true", args, stdin)
            }
        }
        let t = ProcessTools::with_runner(ViaTrue(Mutex::new(0)));
        t.action_set(&big_results(24, 100 * 1024)).unwrap();
        assert_eq!(*t.runner().0.lock().unwrap(), 3);
    }

    #[test]
    fn action_set_replaces_nul_bytes() {
        let t = tools();
        let mut results = BTreeMap::new();
        results.insert("a".to_string(), "x\0y".to_string());
        t.action_set(&results).unwrap();
        assert_eq!(t.runner().single().args, vec!["a=x\u{FFFD}y"]);
    }

    #[test]
    fn action_fail_and_log_put_message_after_double_dash() {
        let t = tools();
        t.action_fail("--relation-id is required").unwrap();
        t.action_log("working").unwrap();
        let calls = t.runner().calls();
        assert_eq!(calls[0].tool, "action-fail");
        assert_eq!(calls[0].args, vec!["--", "--relation-id is required"]);
        assert_eq!(calls[1].tool, "action-log");
        assert_eq!(calls[1].args, vec!["--", "working"]);
    }
}
