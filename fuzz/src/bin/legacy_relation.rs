//! AFL entry point for the `legacy_relation` target (see `fuzz/src/targets.rs`).

fn main() {
    afl::fuzz!(|data: &[u8]| {
        tls_provider_fuzz::legacy_relation(data);
    });
}
