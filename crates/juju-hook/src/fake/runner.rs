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
#[path = "runner_tests.rs"]
mod tests;
