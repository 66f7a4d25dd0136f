//! AFL++ entry point of the `changelist` fuzz target (see [`signet_fuzz::targets::changelist`]).
#![forbid(unsafe_code)]

fn main() {
    afl::fuzz!(|data: &[u8]| {
        signet_fuzz::targets::changelist::run(data);
    });
}
