//! Action handlers. Each action either sets results or fails with a message saying what to do.
//!
//! Every action runs on the leader only; elsewhere it fails with
//! `run this action on the leader unit: juju run <app>/leader <action>`. Handlers return an
//! [`ActionError`] (built with [`fail`], or a family's own enum such as
//! [`provide::ProvideError`]); the dispatcher turns it into `action-fail`.
//!
//! - `get-ca-certificate`, `rotate-private-key`: in [`ca`].
//! - `get-issued-certificates`, `get-outstanding-certificate-requests`,
//!   `get-certificate-request`: in [`listing`].
//! - `list-certificates` (the inventory, one entry per request, with filters): in [`inventory`].
//! - `provide-certificate`: in [`provide`].
//! - `get-trust-bundle`: in [`trust`].
//! - `get-ca-signing-request`, `set-ca-certificate`, `import-ca`: in [`ceremony`].
//! - `revoke-certificate`, `get-crl`: in [`revoke`].
//!
//! Shared pieces: [`params`] (decoding parameters) and [`results`] (large list results).

pub mod ca;
pub mod ceremony;
pub mod inventory;
pub mod listing;
pub mod params;
pub mod provide;
pub mod results;
pub mod revoke;
pub mod trust;

use juju_hook::ToolError;

pub use self::results::MAX_LIST_CHUNK_BYTES;
use super::hook::Hook;
use super::CharmError;
use crate::pki::PkiError;

/// Why an action failed. The dispatcher turns every variant but a hook-tool failure into
/// `action-fail <message>`: the message says what is wrong and how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// An action name the charm does not implement.
    #[error("action {0:?} is not implemented by tls-provider")]
    Unknown(String),
    #[error("{0}")]
    Failed(String),
    #[error(transparent)]
    Provide(#[from] provide::ProvideError),
    /// Juju's hook tools failed, or our own bug.
    #[error(transparent)]
    Charm(#[from] CharmError),
}

impl From<ToolError> for ActionError {
    fn from(e: ToolError) -> ActionError {
        ActionError::Charm(e.into())
    }
}

impl From<PkiError> for ActionError {
    fn from(e: PkiError) -> ActionError {
        ActionError::Charm(e.into())
    }
}

/// The one failure helper: an action failure with `msg`.
pub fn fail(msg: impl Into<String>) -> ActionError {
    ActionError::Failed(msg.into())
}

type Handler = fn(&Hook<'_>) -> Result<(), ActionError>;

/// The actions this charm implements (must match actions.yaml), and their handlers.
const TABLE: &[(&str, Handler)] = &[
    ("get-ca-certificate", ca::get_ca_certificate),
    ("get-issued-certificates", listing::get_issued_certificates),
    ("rotate-private-key", ca::rotate_private_key),
    (
        "get-outstanding-certificate-requests",
        listing::get_outstanding_certificate_requests,
    ),
    ("get-certificate-request", listing::get_certificate_request),
    ("provide-certificate", provide::provide_certificate),
    ("get-trust-bundle", trust::get_trust_bundle),
    ("get-ca-signing-request", ceremony::get_ca_signing_request),
    ("set-ca-certificate", ceremony::set_ca_certificate),
    ("import-ca", ceremony::import_ca),
    ("revoke-certificate", revoke::revoke_certificate),
    ("get-crl", revoke::get_crl),
    ("list-certificates", inventory::list_certificates),
];

/// The names of the actions this charm implements (must match actions.yaml).
pub const ACTIONS: &[&str] = &[
    "get-ca-certificate",
    "get-issued-certificates",
    "rotate-private-key",
    "get-outstanding-certificate-requests",
    "get-certificate-request",
    "provide-certificate",
    "get-trust-bundle",
    "get-ca-signing-request",
    "set-ca-certificate",
    "import-ca",
    "revoke-certificate",
    "get-crl",
    "list-certificates",
];

/// The failure message of an action run on a non-leader unit.
pub fn not_leader_message(hook: &Hook<'_>, action: &str) -> String {
    format!(
        "run this action on the leader unit: juju run {}/leader {action}",
        hook.app()
    )
}

/// Runs action `name`. Unknown names return [`ActionError::Unknown`]; the dispatcher turns that
/// into `action-fail`.
pub fn run(name: &str, hook: &Hook<'_>) -> Result<(), ActionError> {
    let Some((_, handler)) = TABLE.iter().find(|(n, _)| *n == name) else {
        return Err(ActionError::Unknown(name.to_string()));
    };
    if !hook.tools.is_leader()? {
        return Err(fail(not_leader_message(hook, name)));
    }
    handler(hook)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_names_are_the_table() {
        let names: Vec<&str> = TABLE.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ACTIONS);
    }
}
