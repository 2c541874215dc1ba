//! Typed hook-tool errors. Each carries the tool name and, where the tool ran, its stderr.

/// A failed hook-tool call.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// The relation id is unknown or the relation is gone (`relation not found`).
    #[error("{tool}: relation not found: {stderr}")]
    RelationNotFound { tool: String, stderr: String },
    /// The call needs leadership or write access we do not have (`not the leader`,
    /// `cannot write relation settings`, `permission denied`).
    #[error("{tool}: not permitted (not the leader?): {stderr}")]
    NotLeader { tool: String, stderr: String },
    /// A secret id or label that does not exist or is not visible (`not found`).
    #[error("{tool}: secret not found: {stderr}")]
    SecretNotFound { tool: String, stderr: String },
    /// The tool is not on PATH: we are not running under a Juju unit agent.
    #[error("{tool}: hook tool not found on PATH (not running in a Juju hook?)")]
    ToolMissing { tool: String },
    /// The tool printed something that is not the JSON we asked for.
    #[error("{tool}: unexpected output: {detail}")]
    BadOutput { tool: String, detail: String },
    /// The tool refused its arguments or failed for another reason.
    #[error("{tool}: exited with {code}: {stderr}")]
    Failed {
        tool: String,
        code: i32,
        stderr: String,
    },
    /// A value too large to pass on the tool's argv (see `tools::MAX_ACTION_VALUE_BYTES`); the tool
    /// was not run and nothing was set.
    #[error("{tool}: result {key:?} is {bytes} bytes, over the {max}-byte limit of one argument; nothing was set")]
    ValueTooLarge {
        tool: String,
        key: String,
        bytes: usize,
        max: usize,
    },
    /// Running the tool failed at the OS level (spawn, pipe, temp file).
    #[error("{tool}: {source}")]
    Io {
        tool: String,
        #[source]
        source: std::io::Error,
    },
}

impl ToolError {
    /// Classifies a non-zero exit by the substrings ops matches on (see
    /// `docs/juju-hook-contract.md` §1.1).
    pub fn from_exit(tool: &str, code: i32, stderr: &str) -> ToolError {
        let tool_s = tool.to_string();
        let stderr_s = stderr.trim().to_string();
        let is_relation_tool = tool.starts_with("relation-") || tool.starts_with("network-");
        let is_secret_tool = tool.starts_with("secret-");
        if is_relation_tool && stderr.contains("relation not found") {
            ToolError::RelationNotFound {
                tool: tool_s,
                stderr: stderr_s,
            }
        } else if stderr.contains("not the leader")
            || stderr.contains("cannot write relation settings")
            || stderr.contains("permission denied")
            || stderr.contains("access denied")
        {
            ToolError::NotLeader {
                tool: tool_s,
                stderr: stderr_s,
            }
        } else if is_secret_tool && stderr.contains("not found") {
            ToolError::SecretNotFound {
                tool: tool_s,
                stderr: stderr_s,
            }
        } else {
            ToolError::Failed {
                tool: tool_s,
                code,
                stderr: stderr_s,
            }
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            ToolError::RelationNotFound { .. } | ToolError::SecretNotFound { .. }
        )
    }
}
