//! Fuzz targets for every parser signet runs on bytes from the network or disk.
//!
//! Each module of [`targets`] has a `run` function that feeds one input to the real entry
//! points of the server, client and libraries, checks invariants on what they accept, and
//! panics (a crash for the fuzzer) only when an invariant breaks. The binaries in `src/bin`
//! wrap them for AFL++ (`cargo afl`); the main workspace's `fuzz_replay` test replays the
//! committed corpora and crash regressions through the same functions.
#![forbid(unsafe_code)]

pub mod targets;
