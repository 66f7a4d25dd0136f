//! What the caller gives the updater: the GUN, the clock, its cached metadata, trust pinning
//! and size limits.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::pinning::TrustPinning;
use super::request::{MAX_DOWNLOAD_SIZE, MAX_TIMESTAMP_SIZE};

/// Input of [`Updater::new`](super::Updater::new).
#[derive(Debug, Clone)]
pub struct UpdateConfig {
    /// The GUN being updated (checked against root certificate common names).
    pub gun: String,
    /// The current time; every expiry is checked against it.
    pub now: DateTime<Utc>,
    /// The metadata the caller has cached for this GUN.
    pub trusted: TrustedState,
    /// Trust pinning for the first download of a root.
    pub pinning: TrustPinning,
    /// Size and traversal limits.
    pub limits: Limits,
}

impl UpdateConfig {
    /// A configuration with an empty cache, trust on first use and default limits.
    pub fn new(gun: impl Into<String>, now: DateTime<Utc>) -> Self {
        Self {
            gun: gun.into(),
            now,
            trusted: TrustedState::default(),
            pinning: TrustPinning::default(),
            limits: Limits::default(),
        }
    }
}

/// The cached files of one GUN, exactly as they were written (`<role>.json` in the cache).
/// Any of them may be missing; files that do not verify are ignored, except the root, which is
/// the trust anchor and must verify.
#[derive(Debug, Clone, Default)]
pub struct TrustedState {
    /// `root.json`.
    pub root: Option<Vec<u8>>,
    /// `timestamp.json`.
    pub timestamp: Option<Vec<u8>>,
    /// `snapshot.json`.
    pub snapshot: Option<Vec<u8>>,
    /// `targets.json`.
    pub targets: Option<Vec<u8>>,
    /// Delegation files by role name (`targets/releases` → `targets/releases.json`).
    pub delegations: BTreeMap<String, Vec<u8>>,
}

impl TrustedState {
    /// The cached bytes of `role`, if present.
    pub fn get(&self, role: &str) -> Option<&[u8]> {
        match role {
            crate::role::ROOT => self.root.as_deref(),
            crate::role::TIMESTAMP => self.timestamp.as_deref(),
            crate::role::SNAPSHOT => self.snapshot.as_deref(),
            crate::role::TARGETS => self.targets.as_deref(),
            other => self.delegations.get(other).map(Vec::as_slice),
        }
    }

    /// Stores `bytes` as the cached file of `role`.
    pub fn set(&mut self, role: &str, bytes: Vec<u8>) {
        match role {
            crate::role::ROOT => self.root = Some(bytes),
            crate::role::TIMESTAMP => self.timestamp = Some(bytes),
            crate::role::SNAPSHOT => self.snapshot = Some(bytes),
            crate::role::TARGETS => self.targets = Some(bytes),
            other => {
                self.delegations.insert(other.to_owned(), bytes);
            }
        }
    }
}

/// Limits that bound what a malicious server can make the client do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest acceptable `timestamp.json` (default 1 MiB).
    pub max_timestamp_len: u64,
    /// Largest acceptable root when its length is not known in advance (default 100 MiB).
    pub max_root_len: u64,
    /// Deepest delegation level loaded (`targets/a` is level 1; default 64). Deeper roles are
    /// skipped with a warning.
    pub max_delegation_depth: usize,
    /// Most delegation files loaded in one update (default 10 000). Further roles are skipped
    /// with a warning.
    pub max_delegations: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_timestamp_len: MAX_TIMESTAMP_SIZE,
            max_root_len: MAX_DOWNLOAD_SIZE,
            max_delegation_depth: 64,
            max_delegations: 10_000,
        }
    }
}
