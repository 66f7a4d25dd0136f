//! Reading the pointers of the current-metadata chain out of stored files: which snapshot a
//! timestamp names, which file of each role a snapshot names, and when a file expires.
//!
//! These are reads of files the server already accepted (or wrote itself); they trust nothing
//! and verify nothing, they only follow hashes. A file that does not parse simply has no
//! pointer.

use std::collections::BTreeMap;

use base64::Engine as _;
use chrono::{DateTime, FixedOffset};
use serde::Deserialize;

#[derive(Deserialize)]
struct Envelope {
    signed: Common,
}

#[derive(Deserialize)]
struct Common {
    #[serde(default)]
    expires: Option<String>,
    #[serde(default)]
    version: Option<i64>,
    #[serde(default)]
    meta: Option<BTreeMap<String, Option<FileMetaLite>>>,
}

/// A `meta` entry. Go writes a nil map or `[]byte` as `null`, so `hashes` and each digest may
/// be `null` (an entry without that pointer).
#[derive(Deserialize)]
struct FileMetaLite {
    #[serde(default)]
    hashes: Option<BTreeMap<String, Option<String>>>,
}

/// What the server needs to know about a stored timestamp or snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pointers {
    /// The `signed.expires` time, if it parses as RFC 3339.
    pub expires: Option<DateTime<FixedOffset>>,
    /// The `signed.version`.
    pub version: Option<i64>,
    /// Lowercase hex SHA-256 of each role named in `signed.meta`.
    pub sha256: BTreeMap<String, String>,
}

impl Pointers {
    /// Reads the pointers of a stored file. Unreadable parts are left empty.
    pub fn read(data: &[u8]) -> Self {
        let Ok(env) = serde_json::Deserializer::from_slice(data)
            .into_iter::<Envelope>()
            .next()
            .transpose()
        else {
            return Self::default();
        };
        let Some(env) = env else {
            return Self::default();
        };
        let sha256 = env
            .signed
            .meta
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(role, m)| {
                let b64 = m?.hashes?.remove("sha256")??;
                let raw = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
                (raw.len() == 32).then(|| (role, hex::encode(raw)))
            })
            .collect();
        Self {
            expires: env
                .signed
                .expires
                .and_then(|e| DateTime::parse_from_rfc3339(&e).ok()),
            version: env.signed.version,
            sha256,
        }
    }

    /// Whether the file is expired at `now` (a file without a readable expiry counts as
    /// expired).
    pub fn expired_at(&self, now: DateTime<chrono::Utc>) -> bool {
        self.expires.is_none_or(|e| e < now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_timestamp_pointer() {
        let ts = br#"{"signed":{"_type":"Timestamp","expires":"2026-12-07T15:14:34.056603199Z","meta":{"snapshot":{"hashes":{"sha256":"XhFQdHH6tJSh7cAy53rWo40nzoEZyAvpvbauv/hNXas=","sha512":"HMqTdPwSF50iTM4WZ+VACpIp3zSsg573gOlCcYg1sNVJOW7LmIJAHoBPg8vqOT6ITgF0Sy4FCDZakrMMI0wsRw=="},"length":683}},"version":2},"signatures":[]}"#;
        let p = Pointers::read(ts);
        assert_eq!(p.version, Some(2));
        assert_eq!(
            p.sha256.get("snapshot").map(String::as_str),
            Some("5e11507471fab494a1edc032e77ad6a38d27ce8119c80be9bdb6aebff84d5dab")
        );
        assert!(p.expires.is_some());
        let before = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .to_utc();
        assert!(!p.expired_at(before));
    }

    #[test]
    fn go_nulls_in_meta_only_drop_that_pointer() {
        let snap = br#"{"signed":{"_type":"Snapshot","expires":"2026-12-07T15:14:34Z","meta":{"a":null,"b":{"hashes":null,"length":0},"c":{"hashes":{"sha256":null},"length":0},"root":{"hashes":{"sha256":"XhFQdHH6tJSh7cAy53rWo40nzoEZyAvpvbauv/hNXas="},"length":1}},"version":3},"signatures":null}"#;
        let p = Pointers::read(snap);
        assert_eq!(p.version, Some(3));
        assert_eq!(p.sha256.keys().collect::<Vec<_>>(), ["root"]);
        let null_meta = br#"{"signed":{"_type":"Timestamp","meta":null,"version":1}}"#;
        assert!(Pointers::read(null_meta).sha256.is_empty());
    }

    #[test]
    fn garbage_has_no_pointers() {
        assert_eq!(Pointers::read(b"nope"), Pointers::default());
        assert!(Pointers::read(b"{}").expired_at(chrono::Utc::now()));
    }
}
