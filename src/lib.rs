//! tls-provider: a Juju charm that gives TLS certificates to every application related to it.
//!
//! Layers (each knows only the ones below it):
//! - `juju_hook` (crate): the hook environment and hook tools; no TLS knowledge.
//! - [`pki`]: keys, CSRs, CA and signing with OpenSSL; no Juju knowledge.
//! - [`protocol`]: the `tls-certificates` wire models (modern and legacy); pure data.
//! - [`charm`]: config, reconcile and action handlers that join the three.

pub mod charm;
pub mod pki;
pub mod protocol;
