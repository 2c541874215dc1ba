//! AFL entry point for the `action_params` target (see `fuzz/src/targets.rs`).

fn main() {
    afl::fuzz!(|data: &[u8]| {
        tls_provider_fuzz::action_params(data);
    });
}
