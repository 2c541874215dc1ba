//! Helpers shared by the unit tests of the tool families.

use super::call::ProcessTools;
use super::recording::RecordingRunner;
use crate::tools::Databag;

/// [`ProcessTools`] over a fresh [`RecordingRunner`].
pub(super) fn tools() -> ProcessTools<RecordingRunner> {
    ProcessTools::with_runner(RecordingRunner::new())
}

/// A databag from `(key, value)` pairs.
pub(super) fn bag(pairs: &[(&str, &str)]) -> Databag {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
