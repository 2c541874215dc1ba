//! AFL entry point for the `certs` target (see `fuzz/src/targets.rs`).

fn main() {
    afl::fuzz!(|data: &[u8]| {
        tls_provider_fuzz::certs(data);
    });
}
