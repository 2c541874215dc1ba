//! The simulator's error type.

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("I/O error: {0}")]
    Io(String),
    #[error("charm error: {0}")]
    Charm(String),
    #[error("invalid request: {0}")]
    Invalid(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error(
        "unit {unit} is in error: hook failed: {hook:?}\n--- last log lines of {unit} ---\n{logs}"
    )]
    HookFailed {
        unit: String,
        hook: String,
        logs: String,
    },
    #[error(
        "hook loop: more than {max} hooks ran without the model settling; most frequent: {summary}"
    )]
    Loop { max: usize, summary: String },
    /// The closure of `Model::settle_observing` returned an error after `unit` ran `hook`.
    #[error("settle stopped by its observer after {unit} ran {hook:?}: {message}")]
    Observer {
        unit: String,
        hook: String,
        message: String,
    },
    #[error("{0}")]
    Setup(String),
}

impl SimError {
    /// `NotFound` for a unit name.
    pub(crate) fn no_unit(unit: &str) -> SimError {
        SimError::NotFound(format!("unit {unit:?}"))
    }

    /// `NotFound` for an application name.
    pub(crate) fn no_app(app: &str) -> SimError {
        SimError::NotFound(format!("application {app:?}"))
    }
}
