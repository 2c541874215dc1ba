//! The real hook tools: each [`HookTools`](crate::HookTools) call runs one Juju hook tool as a child
//! process, with the argv shapes `ops` uses (`ops/hookcmds/` in canonical/operator; see
//! `docs/juju-hook-contract.md` §4).
//!
//! * Reads always pass `--format=json`; output that is not the JSON we expect is
//!   [`ToolError::BadOutput`](crate::ToolError::BadOutput).
//! * Relation data goes as a JSON object on stdin (`relation-set --file -`), so values of any size
//!   work and nothing lands on argv.
//! * Secret content goes in `key#file=<path>` temp files (mode 0600, in a private 0700 temp dir,
//!   deleted as soon as the tool returns); it never appears on argv.
//! * Free text (`status-set`, `juju-log`, `action-fail`, ...) follows `--`, so a message starting with
//!   `-` is not taken for a flag. It is cleaned first ([`clean_text`]): PEM private-key blocks are
//!   redacted, whoever the caller is, and NUL bytes (which no argv can carry) are replaced.
//! * `action-set` takes its results on argv (Juju offers no file or stdin for it): they are split over
//!   several calls of at most [`MAX_ACTION_SET_ARGV_BYTES`](crate::MAX_ACTION_SET_ARGV_BYTES), and a
//!   `key=value` over [`MAX_ACTION_VALUE_BYTES`](crate::MAX_ACTION_VALUE_BYTES) is refused with
//!   [`ToolError::ValueTooLarge`](crate::ToolError::ValueTooLarge) before anything runs.
//!
//! Processes are started through a [`CommandRunner`], so the exact argv and stdin of every call can be
//! checked against the [`RecordingRunner`] in unit tests.
//!
//! | module | job |
//! | --- | --- |
//! | `runner` | [`CommandRunner`], [`SystemRunner`], [`Output`]: starting one tool |
//! | `recording` | [`RecordingRunner`], [`RecordedCall`]: the runner for tests |
//! | `call` | [`ProcessTools`]: run, classify the exit, parse JSON |
//! | `relations` | `relation-*` argv and stdin |
//! | `secrets` | `secret-*` argv and the private `key#file=` files |
//! | `actions` | `action-*` argv, [`action_set_batches`] |
//! | `status_log` | `status-set`, `juju-log`, [`clean_text`], [`split_log_message`] |
//! | `config` | `is-leader`, `config-get`, `application-version-set` |
//! | `hook_tools` | the `HookTools` impl, handing each method to its family |

mod actions;
mod call;
mod config;
mod hook_tools;
mod recording;
mod relations;
mod runner;
mod secrets;
mod status_log;
#[cfg(test)]
mod test_support;

pub use actions::action_set_batches;
pub use call::ProcessTools;
pub use recording::{RecordedCall, RecordingRunner};
pub use runner::{CommandRunner, Output, SystemRunner};
pub use status_log::{clean_text, split_log_message, MAX_LOG_LINE_LEN};
