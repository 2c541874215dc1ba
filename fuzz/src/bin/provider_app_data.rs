//! AFL entry point for the `provider_app_data` target (see `fuzz/src/targets.rs`).

fn main() {
    afl::fuzz!(|data: &[u8]| {
        tls_provider_fuzz::provider_app_data(data);
    });
}
