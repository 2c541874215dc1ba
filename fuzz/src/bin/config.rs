//! AFL entry point for the `config` target (see `fuzz/src/targets.rs`).

fn main() {
    afl::fuzz!(|data: &[u8]| {
        tls_provider_fuzz::config(data);
    });
}
