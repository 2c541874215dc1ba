//! AFL entry point for the `modern_requirer` target (see `fuzz/src/targets.rs`).

fn main() {
    afl::fuzz!(|data: &[u8]| {
        tls_provider_fuzz::modern_requirer(data);
    });
}
