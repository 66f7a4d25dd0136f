//! One module per fuzz target; [`ALL`] lists them by name.
//!
//! Every `run` returns whether the primary parser accepted the input, so that replayed seeds
//! (real files that must parse) can be checked for acceptance too.

pub mod auth;
pub mod changelist;
pub mod cjson;
pub mod jwe;
pub mod keyfile;
pub mod metadata;
pub mod upload;
pub mod x509;

/// A fuzz target: its name (the binary, the corpus directory) and its entry function.
pub type Target = (&'static str, fn(&[u8]) -> bool);

/// Every target, by name.
pub const ALL: &[Target] = &[
    ("auth", auth::run),
    ("changelist", changelist::run),
    ("cjson", cjson::run),
    ("jwe", jwe::run),
    ("keyfile", keyfile::run),
    ("metadata", metadata::run),
    ("upload", upload::run),
    ("x509", x509::run),
];

/// The instant every time-dependent check runs at: inside the validity of the fixtures'
/// certificates (notary 0.3 test repository, July 2016 to July 2026), so that results do not
/// depend on the day the fuzzer runs.
pub fn fixed_now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(1_470_009_600, 0).unwrap_or_default() // 2016-08-01
}

/// The input split at its first byte: a selector and the rest.
pub fn split_selector(data: &[u8]) -> Option<(u8, &[u8])> {
    data.split_first().map(|(s, rest)| (*s, rest))
}
