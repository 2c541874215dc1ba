//! AFL entry point for the `csr_fast_differential` target (see `fuzz/src/targets.rs`).

fn main() {
    afl::fuzz!(|data: &[u8]| {
        tls_provider_fuzz::csr_fast_differential(data);
    });
}
