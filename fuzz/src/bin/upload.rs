//! AFL++ entry point of the `upload` fuzz target (see [`signet_fuzz::targets::upload`]).
#![forbid(unsafe_code)]

fn main() {
    afl::fuzz!(|data: &[u8]| {
        signet_fuzz::targets::upload::run(data);
    });
}
