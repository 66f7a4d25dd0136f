//! AFL++ entry point of the `keyfile` fuzz target (see [`signet_fuzz::targets::keyfile`]).
#![forbid(unsafe_code)]

fn main() {
    afl::fuzz!(|data: &[u8]| {
        signet_fuzz::targets::keyfile::run(data);
    });
}
