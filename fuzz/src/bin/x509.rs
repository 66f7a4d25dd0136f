//! AFL++ entry point of the `x509` fuzz target (see [`signet_fuzz::targets::x509`]).
#![forbid(unsafe_code)]

fn main() {
    afl::fuzz!(|data: &[u8]| {
        signet_fuzz::targets::x509::run(data);
    });
}
