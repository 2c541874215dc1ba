//! The Juju hook environment for compiled charms: the context Juju exports, typed hook-tool calls,
//! and logging to `juju-log`. Nothing here knows about TLS.

pub mod context;
pub mod error;
pub mod fake;
pub mod log;
pub mod process;
pub mod tools;

pub use context::{Dispatch, HookContext};
pub use error::ToolError;
pub use tools::{
    Databag, HookTools, LogLevel, Member, RelationId, SecretInfo, SecretOptions, SecretOwner,
    SecretRead, SecretRef, StatusName, StatusScope, MAX_ACTION_SET_ARGV_BYTES,
    MAX_ACTION_VALUE_BYTES,
};
