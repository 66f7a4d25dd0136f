//! AFL++ entry point of the `auth` fuzz target (see [`signet_fuzz::targets::auth`]).
#![forbid(unsafe_code)]

fn main() {
    afl::fuzz!(|data: &[u8]| {
        signet_fuzz::targets::auth::run(data);
    });
}
