//! AFL entry point for the `upstream_answer` target (see `fuzz/src/targets.rs`).

fn main() {
    afl::fuzz!(|data: &[u8]| {
        tls_provider_fuzz::upstream_answer(data);
    });
}
