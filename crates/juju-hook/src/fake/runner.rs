//! [`FakeRunner`]: the in-memory model *below* the argv layer. It is a [`CommandRunner`] that reads
//! the argv, stdin and `key#file=` files [`ProcessTools`](crate::process::ProcessTools) produces,
//! turns them back into the typed [`HookTools`] call, answers it from a [`FakeTools`] (its state and
//! rules, nothing copied) and prints the result as the real tool would: JSON on stdout for reads, a
//! non-zero exit and an `ERROR ...` stderr for failures. A test running
//! `ProcessTools::with_runner(FakeRunner::new(...))` so exercises argument building and output
//! parsing as well as the charm logic.
//!
//! What goes through the argv layer is what `ProcessTools` sends, so a few things differ from
//! calling [`FakeTools`] directly: free text is cleaned (`clean_text`) and long log lines split,
//! `action-set` results may arrive in several calls, `secret-info-get` with an id and a label sends
//! only the id, `secret-set` with empty content sends none, and errors are re-classified from their
//! exit and stderr ([`ToolError::from_exit`]).

use std::collections::BTreeMap;

use serde::Serialize;

use super::FakeTools;
use crate::error::ToolError;
use crate::process::{CommandRunner, Output};
use crate::tools::{
    Databag, HookTools, LogLevel, Member, RelationId, SecretOptions, SecretOwner, SecretRead,
    SecretRef, StatusName, StatusScope,
};

/// A [`CommandRunner`] answering every hook tool from a [`FakeTools`].
#[derive(Debug, Default)]
pub struct FakeRunner {
    fake: FakeTools,
}

impl FakeRunner {
    /// Runs the tools against `fake` (arrange its state first, or through [`FakeRunner::fake`]).
    pub fn new(fake: FakeTools) -> FakeRunner {
        FakeRunner { fake }
    }

    /// The model behind the tools, to arrange and inspect.
    pub fn fake(&self) -> &FakeTools {
        &self.fake
    }

    /// Gives the model back.
    pub fn into_fake(self) -> FakeTools {
        self.fake
    }
}

impl From<FakeTools> for FakeRunner {
    fn from(fake: FakeTools) -> FakeRunner {
        FakeRunner::new(fake)
    }
}

impl CommandRunner for FakeRunner {
    fn run(&self, tool: &str, args: &[String], stdin: Option<&[u8]>) -> Result<Output, ToolError> {
        self.fake.run(tool, args, stdin)
    }
}

/// A [`FakeTools`] is itself a runner (what [`FakeRunner`] owns), so a test can keep the model
/// and run `ProcessTools::with_runner(&fake)` over it.
impl CommandRunner for FakeTools {
    fn run(&self, tool: &str, args: &[String], stdin: Option<&[u8]>) -> Result<Output, ToolError> {
        let mut argv = Argv::new(args);
        let answer = if tool.starts_with("relation-") {
            relation_tool(self, tool, &mut argv, stdin)
        } else if tool.starts_with("secret-") {
            secret_tool(self, tool, &mut argv)
        } else {
            other_tool(self, tool, &mut argv)
        };
        match answer {
            Ok(out) if argv.is_empty() => Ok(out),
            Ok(_) => Ok(usage(&format!("unrecognized args: {:?}", argv.args))),
            Err(Answer::Usage(msg)) => Ok(usage(&msg)),
            Err(Answer::Tool(err)) => exit_of(err),
        }
    }
}

/// Why a call did not succeed: the argv made no sense, or the model refused it.
enum Answer {
    Usage(String),
    Tool(ToolError),
}

impl From<ToolError> for Answer {
    fn from(err: ToolError) -> Answer {
        Answer::Tool(err)
    }
}

type Answered = Result<Output, Answer>;

/// Juju's answer to arguments it cannot parse: exit 2 and the complaint on stderr.
fn usage(msg: &str) -> Output {
    Output::fail(2, format!("ERROR {msg}\n"))
}

/// A refusal as the tool reports it: the exit code and stderr [`ToolError::from_exit`] reads back.
/// Errors with no exit (oversized values, I/O) are passed up as they are.
fn exit_of(err: ToolError) -> Result<Output, ToolError> {
    match err {
        ToolError::RelationNotFound { stderr, .. } => Ok(Output::fail(2, stderr)),
        ToolError::NotLeader { stderr, .. } | ToolError::SecretNotFound { stderr, .. } => {
            Ok(Output::fail(1, stderr))
        }
        ToolError::Failed { code, stderr, .. } => Ok(Output::fail(code, stderr)),
        other => Err(other),
    }
}

/// A read's result printed as `--format=json` would.
fn json<T: Serialize>(value: &T) -> Answered {
    let text = serde_json::to_vec(value).map_err(|e| Answer::Usage(e.to_string()))?;
    Ok(Output::ok(text))
}

fn done() -> Answered {
    Ok(Output::ok(""))
}

/// The arguments of one call, taken apart as the tool's flags are recognised; whatever is left at
/// the end is an unrecognised argument.
struct Argv {
    args: Vec<String>,
    /// Free text after `--`, if any.
    text: Option<String>,
}

impl Argv {
    fn new(args: &[String]) -> Argv {
        match args.iter().position(|a| a == "--") {
            Some(i) if i + 2 == args.len() => Argv {
                args: args[..i].to_vec(),
                text: Some(args[i + 1].clone()),
            },
            _ => Argv {
                args: args.to_vec(),
                text: None,
            },
        }
    }

    fn is_empty(&self) -> bool {
        self.args.is_empty() && self.text.is_none()
    }

    /// Removes `name` if present.
    fn flag(&mut self, name: &str) -> bool {
        match self.args.iter().position(|a| a == name) {
            Some(i) => {
                self.args.remove(i);
                true
            }
            None => false,
        }
    }

    /// Removes `name <value>` if present and returns the value.
    fn opt(&mut self, name: &str) -> Result<Option<String>, Answer> {
        let Some(i) = self.args.iter().position(|a| a == name) else {
            return Ok(None);
        };
        if i + 1 >= self.args.len() {
            return Err(Answer::Usage(format!("option needs an argument: {name}")));
        }
        self.args.remove(i);
        Ok(Some(self.args.remove(i)))
    }

    /// Removes and returns the first argument that is not a flag.
    fn positional(&mut self) -> Option<String> {
        let i = self
            .args
            .iter()
            .position(|a| !a.starts_with("--") && !a.contains("#file="))?;
        Some(self.args.remove(i))
    }

    fn required(&mut self, what: &str) -> Result<String, Answer> {
        self.positional()
            .ok_or_else(|| Answer::Usage(format!("no {what} specified")))
    }

    /// `-r <id>`.
    fn relation(&mut self) -> Result<RelationId, Answer> {
        let raw = self.opt("-r")?.unwrap_or_default();
        RelationId::parse(&raw).ok_or_else(|| Answer::Usage(format!("invalid relation id {raw:?}")))
    }

    /// The free text after `--`.
    fn text(&mut self) -> Result<String, Answer> {
        self.text
            .take()
            .ok_or_else(|| Answer::Usage("expected `-- <text>`".into()))
    }

    /// Removes the `key#file=<path>` arguments and reads their files.
    fn files(&mut self) -> Result<Databag, Answer> {
        let mut content = Databag::new();
        let mut rest = Vec::new();
        for arg in std::mem::take(&mut self.args) {
            match arg.split_once("#file=") {
                Some((key, path)) => {
                    let value = std::fs::read_to_string(path)
                        .map_err(|e| Answer::Usage(format!("reading {path}: {e}")))?;
                    content.insert(key.to_string(), value);
                }
                None => rest.push(arg),
            }
        }
        self.args = rest;
        Ok(content)
    }
}

/// `relation-ids`, `relation-list`, `relation-get`, `relation-set`.
fn relation_tool(fake: &FakeTools, tool: &str, argv: &mut Argv, stdin: Option<&[u8]>) -> Answered {
    match tool {
        "relation-ids" => {
            argv.flag("--format=json");
            let endpoint = argv.required("endpoint")?;
            let ids = fake.relation_ids(&endpoint)?;
            let names: Vec<String> = ids.iter().map(|id| format!("{endpoint}:{id}")).collect();
            json(&names)
        }
        "relation-list" => {
            argv.flag("--format=json");
            let rel = argv.relation()?;
            if argv.flag("--app") {
                json(&fake.relation_remote_app(rel)?)
            } else {
                json(&fake.relation_list(rel)?)
            }
        }
        "relation-get" => {
            argv.flag("--format=json");
            let rel = argv.relation()?;
            let app = argv.flag("--app");
            if argv.positional().as_deref() != Some("-") {
                return Err(Answer::Usage(
                    "expected `-` (all keys) before the member".into(),
                ));
            }
            let name = argv.required("unit or application")?;
            let member = if app {
                Member::App(name)
            } else {
                Member::Unit(name)
            };
            json(&fake.relation_get(rel, &member)?)
        }
        "relation-set" => {
            let rel = argv.relation()?;
            let app = argv.flag("--app");
            if argv.opt("--file")?.as_deref() != Some("-") {
                return Err(Answer::Usage("expected `--file -`".into()));
            }
            let changes: Databag = serde_json::from_slice(stdin.unwrap_or_default())
                .map_err(|e| Answer::Usage(format!("reading settings from stdin: {e}")))?;
            fake.relation_set(rel, app, &changes)?;
            done()
        }
        _ => Err(Answer::Usage(format!("{tool}: no such hook tool"))),
    }
}

/// `--label`, `--description`, `--expire`, `--rotate`.
fn secret_opts(argv: &mut Argv) -> Result<SecretOptions, Answer> {
    Ok(SecretOptions {
        label: argv.opt("--label")?,
        description: argv.opt("--description")?,
        expire: argv.opt("--expire")?,
        rotate: argv.opt("--rotate")?,
        owner: SecretOwner::default(),
    })
}

/// `<id>`, `--label <label>` or both.
fn secret_ref(argv: &mut Argv) -> Result<SecretRef, Answer> {
    let label = argv.opt("--label")?;
    match (argv.positional(), label) {
        (Some(id), None) => Ok(SecretRef::Id(id)),
        (None, Some(label)) => Ok(SecretRef::Label(label)),
        (Some(id), Some(label)) => Ok(SecretRef::IdAndLabel { id, label }),
        (None, None) => Err(Answer::Usage("secret id or label is required".into())),
    }
}

/// The `secret-*` tools.
fn secret_tool(fake: &FakeTools, tool: &str, argv: &mut Argv) -> Answered {
    argv.flag("--format=json");
    match tool {
        "secret-add" => {
            let mut opts = secret_opts(argv)?;
            opts.owner = match argv.opt("--owner")?.as_deref() {
                None | Some("application") => SecretOwner::Application,
                Some("unit") => SecretOwner::Unit,
                Some(other) => return Err(Answer::Usage(format!("invalid owner {other:?}"))),
            };
            let content = argv.files()?;
            let id = fake.secret_add(&content, &opts)?;
            Ok(Output::ok(format!("{id}\n")))
        }
        "secret-get" => {
            let read = if argv.flag("--peek") {
                SecretRead::Peek
            } else if argv.flag("--refresh") {
                SecretRead::Refresh
            } else {
                SecretRead::Pinned
            };
            json(&fake.secret_get(&secret_ref(argv)?, read)?)
        }
        "secret-set" => {
            let id = argv.required("secret id")?;
            let opts = secret_opts(argv)?;
            let content = argv.files()?;
            let content = (!content.is_empty()).then_some(&content);
            fake.secret_set(&id, content, &opts)?;
            done()
        }
        "secret-info-get" => {
            let info = fake.secret_info_get(&secret_ref(argv)?)?;
            json(&BTreeMap::from([(info.id.clone(), info)]))
        }
        "secret-remove" => {
            let id = argv.required("secret id")?;
            let revision = match argv.opt("--revision")? {
                Some(rev) => Some(
                    rev.parse()
                        .map_err(|_| Answer::Usage(format!("invalid revision {rev:?}")))?,
                ),
                None => None,
            };
            fake.secret_remove(&id, revision)?;
            done()
        }
        "secret-ids" => json(&fake.secret_ids()?),
        "secret-grant" => {
            let id = argv.required("secret id")?;
            let raw = argv.opt("--relation")?.unwrap_or_default();
            let rel = RelationId::parse(&raw)
                .ok_or_else(|| Answer::Usage(format!("invalid relation {raw:?}")))?;
            let unit = argv.opt("--unit")?;
            fake.secret_grant(&id, rel, unit.as_deref())?;
            done()
        }
        _ => Err(Answer::Usage(format!("{tool}: no such hook tool"))),
    }
}

/// Leadership, config, actions, status and logging.
fn other_tool(fake: &FakeTools, tool: &str, argv: &mut Argv) -> Answered {
    match tool {
        "is-leader" | "config-get" | "action-get" => {
            if !argv.flag("--format=json") {
                return Err(Answer::Usage("expected --format=json".into()));
            }
            match tool {
                "is-leader" => json(&fake.is_leader()?),
                "config-get" => json(&fake.config_get()?),
                _ => json(&fake.action_get()?),
            }
        }
        "action-set" => {
            let mut results = BTreeMap::new();
            for arg in std::mem::take(&mut argv.args) {
                let (key, value) = arg.split_once('=').ok_or_else(|| {
                    Answer::Usage(format!("argument {arg:?} must be of the form key...=value"))
                })?;
                results.insert(key.to_string(), value.to_string());
            }
            fake.action_set(&results)?;
            done()
        }
        "action-fail" => {
            fake.action_fail(&argv.text()?)?;
            done()
        }
        "action-log" => {
            fake.action_log(&argv.text()?)?;
            done()
        }
        "status-set" => {
            let scope = if argv.flag("--application") {
                StatusScope::Application
            } else {
                StatusScope::Unit
            };
            let name = argv.required("status")?;
            let status = status_named(&name)
                .ok_or_else(|| Answer::Usage(format!("invalid status {name:?}")))?;
            fake.status_set(scope, status, &argv.text()?)?;
            done()
        }
        "application-version-set" => {
            fake.application_version_set(&argv.text()?)?;
            done()
        }
        "juju-log" => {
            let name = argv.opt("--log-level")?.unwrap_or_else(|| "INFO".into());
            let level = level_named(&name)
                .ok_or_else(|| Answer::Usage(format!("invalid log level {name:?}")))?;
            fake.juju_log(level, &argv.text()?)?;
            done()
        }
        _ => Err(Answer::Usage(format!("{tool}: no such hook tool"))),
    }
}

/// The [`StatusName`] `status-set` was given.
fn status_named(name: &str) -> Option<StatusName> {
    [
        StatusName::Active,
        StatusName::Blocked,
        StatusName::Maintenance,
        StatusName::Waiting,
    ]
    .into_iter()
    .find(|s| s.as_str() == name)
}

/// The [`LogLevel`] `juju-log --log-level` was given.
fn level_named(name: &str) -> Option<LogLevel> {
    [
        LogLevel::Trace,
        LogLevel::Debug,
        LogLevel::Info,
        LogLevel::Warning,
        LogLevel::Error,
    ]
    .into_iter()
    .find(|l| l.as_juju() == name)
}

#[cfg(test)]
mod tests {
    use std::fmt::Debug;

    use serde_json::json;

    use super::*;
    use crate::process::ProcessTools;
    use crate::tools::MAX_ACTION_VALUE_BYTES;

    fn bag(pairs: &[(&str, &str)]) -> Databag {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// A model with two relations, config and action parameters.
    fn model(leader: bool) -> FakeTools {
        let fake = FakeTools::new("tls", leader);
        fake.add_relation(3, "certificates", "req", &["req/0", "req/1"]);
        fake.set_remote_unit_bag(3, "req/0", bag(&[("csr", "CSR-0")]));
        fake.set_remote_app_bag(3, bag(&[("a", "1")]));
        fake.add_relation(12, "certificates", "other", &[]);
        fake.add_relation(5, "peers", "tls", &[]);
        {
            let mut st = fake.state.borrow_mut();
            let config = json!({"mode": "self-signed", "limit": 3, "allow-ip-sans": true});
            st.config = config.as_object().unwrap().clone();
            let params = json!({"relation-id": 3, "format": "pem"});
            st.action_params = params.as_object().unwrap().clone();
        }
        fake
    }

    /// The same model twice: called directly, and through `ProcessTools` over a `FakeRunner`.
    struct Both {
        direct: FakeTools,
        process: ProcessTools<FakeRunner>,
    }

    impl Both {
        fn new(leader: bool) -> Both {
            Both {
                direct: model(leader),
                process: ProcessTools::with_runner(FakeRunner::new(model(leader))),
            }
        }

        /// Runs `f` on both and checks they answer alike.
        fn same<T: Debug>(&self, f: impl Fn(&dyn HookTools) -> T) -> T {
            let direct = f(&self.direct);
            let process = f(&self.process);
            assert_eq!(format!("{direct:?}"), format!("{process:?}"));
            direct
        }

        /// Checks both models ended in the same state, recorded calls included.
        fn same_state(&self) {
            let direct = format!("{:#?}", self.direct.state.borrow());
            let process = format!("{:#?}", self.process.runner().fake().state.borrow());
            assert_eq!(direct, process);
        }
    }

    #[test]
    fn relation_tools_round_trip() {
        let b = Both::new(true);
        let ids = b.same(|t| t.relation_ids("certificates")).unwrap();
        assert_eq!(ids, vec![RelationId(3), RelationId(12)]);
        assert!(b.same(|t| t.relation_ids("none")).unwrap().is_empty());
        assert_eq!(b.same(|t| t.relation_list(RelationId(3))).unwrap().len(), 2);
        b.same(|t| t.relation_list(RelationId(12))).unwrap();
        assert_eq!(
            b.same(|t| t.relation_remote_app(RelationId(3))).unwrap(),
            "req"
        );
        let unit = Member::Unit("req/0".into());
        assert_eq!(
            b.same(|t| t.relation_get(RelationId(3), &unit)).unwrap()["csr"],
            "CSR-0"
        );
        let app = Member::App("req".into());
        b.same(|t| t.relation_get(RelationId(3), &app)).unwrap();
        b.same(|t| t.relation_set(RelationId(3), false, &bag(&[("k", "v")])))
            .unwrap();
        let changes = bag(&[("certificates", "[]"), ("gone", "")]);
        b.same(|t| t.relation_set(RelationId(3), true, &changes))
            .unwrap();
        let own_unit = Member::Unit("tls/0".into());
        let got = b
            .same(|t| t.relation_get(RelationId(3), &own_unit))
            .unwrap();
        assert_eq!(got, bag(&[("k", "v")]));
        let own_app = Member::App("tls".into());
        b.same(|t| t.relation_get(RelationId(3), &own_app)).unwrap();
        b.same_state();
    }

    #[test]
    fn config_action_status_and_log_tools_round_trip() {
        let b = Both::new(true);
        assert!(b.same(|t| t.is_leader()).unwrap());
        assert_eq!(b.same(|t| t.config_get()).unwrap()["limit"], 3);
        assert_eq!(b.same(|t| t.action_get()).unwrap()["format"], "pem");
        let results = bag(&[("ca-certificate", "-----BEGIN CERT"), ("result.count", "2")]);
        b.same(|t| t.action_set(&results)).unwrap();
        b.same(|t| t.action_log("working")).unwrap();
        b.same(|t| t.action_fail("--relation-id is required"))
            .unwrap();
        b.same(|t| t.status_set(StatusScope::Unit, StatusName::Active, "ready"))
            .unwrap();
        b.same(|t| t.status_set(StatusScope::Application, StatusName::Blocked, ""))
            .unwrap();
        b.same(|t| t.application_version_set("-1.2.3")).unwrap();
        b.same(|t| t.juju_log(LogLevel::Warning, "-x looks like a flag"))
            .unwrap();
        b.same(|t| t.juju_log(LogLevel::Trace, "")).unwrap();
        b.same_state();
        let st = b.process.runner().fake().state.borrow();
        assert_eq!(st.action_results["result.count"], "2");
        assert_eq!(st.version.as_deref(), Some("-1.2.3"));
    }

    #[test]
    fn secret_tools_round_trip() {
        let b = Both::new(true);
        let content = bag(&[("certificate", "CERT"), ("private-key", "KEY\nline 2\n")]);
        let opts = SecretOptions {
            label: Some("ca".into()),
            description: Some("-- a description that looks like flags".into()),
            expire: Some("2030-01-02T03:04:05Z".into()),
            rotate: Some("monthly".into()),
            ..SecretOptions::default()
        };
        let id = b.same(|t| t.secret_add(&content, &opts)).unwrap();
        let unit_opts = SecretOptions {
            owner: SecretOwner::Unit,
            ..SecretOptions::default()
        };
        b.same(|t| t.secret_add(&bag(&[("token", "t")]), &unit_opts))
            .unwrap();
        let by_id = SecretRef::Id(id.clone());
        let by_label = SecretRef::Label("ca".into());
        let both = SecretRef::IdAndLabel {
            id: id.clone(),
            label: "ca".into(),
        };
        let got = b
            .same(|t| t.secret_get(&by_id, SecretRead::Pinned))
            .unwrap();
        assert_eq!(got, content);
        let new_content = bag(&[("private-key", "NEWKEY")]);
        let relabel = SecretOptions {
            label: Some("ca-2".into()),
            ..SecretOptions::default()
        };
        b.same(|t| t.secret_set(&id, Some(&new_content), &relabel))
            .unwrap();
        let rotate = SecretOptions {
            rotate: Some("daily".into()),
            ..SecretOptions::default()
        };
        b.same(|t| t.secret_set(&id, None, &rotate)).unwrap();
        b.same(|t| t.secret_get(&SecretRef::Label("ca-2".into()), SecretRead::Peek))
            .unwrap();
        let refreshed = b
            .same(|t| t.secret_get(&both, SecretRead::Refresh))
            .unwrap();
        assert_eq!(refreshed, new_content);
        let info = b.same(|t| t.secret_info_get(&by_id)).unwrap();
        assert_eq!(
            (info.revision, info.rotation.as_deref()),
            (2, Some("daily"))
        );
        b.same(|t| t.secret_info_get(&SecretRef::Label("ca-2".into())))
            .unwrap();
        assert_eq!(b.same(|t| t.secret_ids()).unwrap().len(), 2);
        b.same(|t| t.secret_grant(&id, RelationId(3), None))
            .unwrap();
        b.same(|t| t.secret_grant(&id, RelationId(3), Some("req/1")))
            .unwrap();
        b.same(|t| t.secret_remove(&id, Some(1))).unwrap();
        b.same(|t| t.secret_remove(&id, None)).unwrap();
        b.same(|t| t.secret_get(&by_label, SecretRead::Pinned))
            .unwrap_err();
        b.same_state();
    }

    #[test]
    fn refusals_round_trip_with_the_same_classification() {
        let b = Both::new(false);
        let app = Member::App("tls".into());
        let e = b.same(|t| t.relation_get(RelationId(3), &app)).unwrap_err();
        assert!(matches!(e, ToolError::NotLeader { .. }), "{e:?}");
        let e = b
            .same(|t| t.relation_set(RelationId(3), true, &bag(&[("a", "b")])))
            .unwrap_err();
        assert!(matches!(e, ToolError::NotLeader { .. }), "{e:?}");
        b.same(|t| t.status_set(StatusScope::Application, StatusName::Active, ""))
            .unwrap_err();
        let e = b.same(|t| t.relation_list(RelationId(99))).unwrap_err();
        assert!(matches!(e, ToolError::RelationNotFound { .. }), "{e:?}");
        b.same(|t| t.relation_remote_app(RelationId(99)))
            .unwrap_err();
        let unit = Member::Unit("req/0".into());
        b.same(|t| t.relation_get(RelationId(99), &unit))
            .unwrap_err();
        b.same(|t| t.relation_set(RelationId(99), false, &bag(&[("a", "b")])))
            .unwrap_err();
        let stranger = Member::App("stranger".into());
        let e = b
            .same(|t| t.relation_get(RelationId(3), &stranger))
            .unwrap_err();
        assert!(matches!(e, ToolError::Failed { code: 2, .. }), "{e:?}");
        let missing = SecretRef::Id("secret:d0nosuchsecret0000000".into());
        let e = b
            .same(|t| t.secret_get(&missing, SecretRead::Pinned))
            .unwrap_err();
        assert!(e.is_not_found(), "{e:?}");
        b.same(|t| t.secret_info_get(&SecretRef::Label("nope".into())))
            .unwrap_err();
        b.same(|t| t.secret_set("secret:nope", None, &SecretOptions::default()))
            .unwrap_err();
        b.same(|t| t.secret_remove("secret:nope", None))
            .unwrap_err();
        b.same(|t| t.secret_grant("secret:nope", RelationId(3), None))
            .unwrap_err();
        let e = b
            .same(|t| t.secret_add(&bag(&[("k", "v")]), &SecretOptions::default()))
            .unwrap_err();
        assert!(matches!(e, ToolError::NotLeader { .. }), "{e:?}");
        let unit_opts = SecretOptions {
            owner: SecretOwner::Unit,
            ..SecretOptions::default()
        };
        let e = b
            .same(|t| t.secret_add(&Databag::new(), &unit_opts))
            .unwrap_err();
        assert!(matches!(e, ToolError::Failed { code: 2, .. }), "{e:?}");
        let big = bag(&[("big", &"x".repeat(MAX_ACTION_VALUE_BYTES))]);
        let e = b.same(|t| t.action_set(&big)).unwrap_err();
        assert!(matches!(e, ToolError::ValueTooLarge { .. }), "{e:?}");
        assert!(!b.same(|t| t.is_leader()).unwrap());
        b.same_state();
    }

    #[test]
    fn what_the_argv_layer_changes_is_visible() {
        let b = Both::new(true);
        let id = b
            .same(|t| t.secret_add(&bag(&[("k", "v")]), &SecretOptions::default()))
            .unwrap();
        // `secret-grant` on a relation that is gone: Juju's stderr says "relation not found", which
        // a `secret-*` tool's exit classifies as a missing secret.
        let direct = b
            .direct
            .secret_grant(&id, RelationId(99), None)
            .unwrap_err();
        let process = b
            .process
            .secret_grant(&id, RelationId(99), None)
            .unwrap_err();
        assert!(
            matches!(direct, ToolError::RelationNotFound { .. }),
            "{direct:?}"
        );
        assert!(
            matches!(process, ToolError::SecretNotFound { .. }),
            "{process:?}"
        );
        // An empty `relation-set` runs no tool at all.
        b.process
            .relation_set(RelationId(3), true, &Databag::new())
            .unwrap();
        assert_eq!(b.process.runner().fake().count("relation-set"), 0);
        // Free text is cleaned on its way to argv.
        let key = "-----BEGIN PRIVATE KEY-----\nKEYMATERIAL\n-----END PRIVATE KEY-----";
        b.process.action_log(&format!("oops {key}")).unwrap();
        let st = b.process.runner().fake().state.borrow();
        assert_eq!(st.action_logs, vec!["oops [REDACTED PRIVATE KEY]"]);
    }

    #[test]
    fn argv_it_cannot_read_is_a_usage_error() {
        let runner = FakeRunner::new(model(true));
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let out = runner.run("frobnicate", &[], None).unwrap();
        assert_eq!(out.code, 2);
        let out = runner
            .run("status-set", &args(&["sleepy", "--", "x"]), None)
            .unwrap();
        assert_eq!(out.code, 2, "{:?}", String::from_utf8_lossy(&out.stderr));
        let out = runner
            .run("is-leader", &args(&["--format=json", "extra"]), None)
            .unwrap();
        assert_eq!(out.code, 2);
        let out = runner
            .run(
                "relation-set",
                &args(&["-r", "3", "--file", "-"]),
                Some(b"[1]"),
            )
            .unwrap();
        assert_eq!(out.code, 2);
        assert!(runner
            .fake()
            .state
            .borrow()
            .calls
            .iter()
            .all(|c| !c.starts_with("status-set")));
    }
}
