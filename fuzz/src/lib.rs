//! The fuzz targets (shared with the corpus replay in the main crate's `tests/fuzz_replay.rs`).

#[path = "targets.rs"]
mod targets;

pub use targets::*;
