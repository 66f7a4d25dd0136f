//! AFL++ entry point of the `cjson` fuzz target (see [`signet_fuzz::targets::cjson`]).
#![forbid(unsafe_code)]

fn main() {
    afl::fuzz!(|data: &[u8]| {
        signet_fuzz::targets::cjson::run(data);
    });
}
