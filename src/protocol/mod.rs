//! The `tls-certificates` relation data models: pure data with serde, no I/O.

pub mod legacy;
pub mod modern;
