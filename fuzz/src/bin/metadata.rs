//! AFL++ entry point of the `metadata` fuzz target (see [`signet_fuzz::targets::metadata`]).
#![forbid(unsafe_code)]

fn main() {
    afl::fuzz!(|data: &[u8]| {
        signet_fuzz::targets::metadata::run(data);
    });
}
