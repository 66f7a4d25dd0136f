//! AFL++ entry point of the `jwe` fuzz target (see [`signet_fuzz::targets::jwe`]).
#![forbid(unsafe_code)]

fn main() {
    afl::fuzz!(|data: &[u8]| {
        signet_fuzz::targets::jwe::run(data);
    });
}
