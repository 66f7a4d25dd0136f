//! What the updater asks its caller for, and what the caller answers.

use std::fmt;
use std::sync::Arc;

/// Where to stop reading a response whose size is not otherwise known (Notary's
/// `MaxDownloadSize`, 100 MiB).
pub const MAX_DOWNLOAD_SIZE: u64 = 100 << 20;

/// The largest timestamp Notary accepts (`MaxTimestampSize`, 1 MiB).
pub const MAX_TIMESTAMP_SIZE: u64 = 1 << 20;

/// One file the updater needs from the server.
///
/// The caller fetches `GET <server>/v2/<gun>/_trust/tuf/<path()>` and answers with
/// [`Updater::provide`](super::Updater::provide). It should stop reading after `max_len + 1`
/// bytes: the updater rejects anything longer than `max_len` (handing over the extra byte lets it
/// tell "too long" from "exactly right").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The role the file holds: `root`, `timestamp`, `snapshot`, `targets` or a delegation.
    pub role: String,
    /// The file name without `.json`: `root`, `3.root`, `timestamp`, `snapshot.<sha256 hex>`,
    /// `targets/releases.<sha256 hex>`, ...
    pub name: String,
    /// The most bytes a valid answer can have.
    pub max_len: u64,
    /// The exact length and digests the answer must have, when they are known from a
    /// timestamp or snapshot.
    pub expected: Option<Expected>,
}

impl Request {
    /// The path below `…/_trust/tuf/`: [`name`](Self::name) plus `.json`.
    pub fn path(&self) -> String {
        format!("{}.json", self.name)
    }
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.json", self.name)
    }
}

/// The length and digests a requested file must have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// Exact length in bytes.
    pub length: u64,
    /// SHA-256 of the file, when the referring metadata lists one.
    pub sha256: Option<[u8; 32]>,
    /// SHA-512 of the file, when the referring metadata lists one.
    pub sha512: Option<[u8; 64]>,
}

/// The caller's answer to a [`Request`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchResult {
    /// The response body (status 200), at most `max_len + 1` bytes of it.
    Bytes(Vec<u8>),
    /// The server answered 404.
    NotFound,
    /// The server could not be reached or answered with another status (transport or TLS error,
    /// offline mode, 401, 5xx, ...). The text says what happened; it ends up in errors.
    Unavailable(String),
}

/// What the updater needs next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Need {
    /// Fetch this file and hand the result to [`Updater::provide`](super::Updater::provide).
    Fetch(Request),
    /// Nothing more: call [`Updater::finish`](super::Updater::finish).
    Done,
}

/// A verified file the caller should store in its metadata cache, under
/// `<cache>/<gun>/metadata/<role>.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheWrite {
    /// The plain role name (`root`, `timestamp`, `snapshot`, `targets`, `targets/releases`).
    pub role: String,
    /// The exact bytes that were verified (shared with the verified
    /// [`TrustedMetadata`](super::TrustedMetadata), not copied).
    pub bytes: Arc<Vec<u8>>,
}

impl CacheWrite {
    /// The file name relative to the cache's metadata directory: role plus `.json`.
    pub fn path(&self) -> String {
        format!("{}.json", self.role)
    }
}
