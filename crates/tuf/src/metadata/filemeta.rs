//! `FileMeta`: length, hashes and optional custom data of a target or a metadata file.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256, Sha512};

use super::hashes::{Hashes, SHA256, SHA512};
use crate::error::{Error, Result};
use crate::gonull::or_empty;

/// `{"custom":…,"hashes":{name→base64},"length":N}`.
///
/// `custom` is kept as raw JSON; it is written in canonical (key-sorted) form whenever the
/// document is signed or written, so Go's verifier, which re-canonicalises, accepts the
/// signature. Unknown fields are kept in [`unknown`](Self::unknown).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileMeta {
    /// Free-form JSON attached to a target (left out when absent or `null`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom: Option<Box<RawValue>>,
    /// Digests by algorithm name; the values are raw digest bytes (base64 in JSON). `null`
    /// reads as no digests (the field itself is required).
    #[serde(deserialize_with = "or_empty")]
    pub hashes: Hashes,
    /// Length of the file in bytes.
    pub length: i64,
    /// Fields this crate does not model, kept so they survive a round trip.
    #[serde(flatten)]
    pub unknown: Map<String, Value>,
}

/// Equality compares `custom` by its canonical form (the bytes that get signed), not its text.
impl PartialEq for FileMeta {
    fn eq(&self, other: &Self) -> bool {
        let same_custom = match (&self.custom, &other.custom) {
            (None, None) => true,
            (Some(a), Some(b)) => {
                a.get() == b.get()
                    || matches!(
                        (
                            crate::cjson::canonicalize(a.get().as_bytes()),
                            crate::cjson::canonicalize(b.get().as_bytes()),
                        ),
                        (Ok(x), Ok(y)) if x == y
                    )
            }
            _ => false,
        };
        same_custom
            && self.hashes == other.hashes
            && self.length == other.length
            && self.unknown == other.unknown
    }
}

impl FileMeta {
    /// The metadata of exactly `bytes`: its length, SHA-256 and SHA-512 (no custom data).
    pub fn from_bytes(bytes: &[u8]) -> Self {
        let hashes = Hashes::from([
            (SHA256, Box::<[u8]>::from(&Sha256::digest(bytes)[..])),
            (SHA512, Box::<[u8]>::from(&Sha512::digest(bytes)[..])),
        ]);
        Self {
            custom: None,
            hashes,
            length: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
            unknown: Map::new(),
        }
    }

    /// The same metadata with `custom` set to `value` (`None` removes it).
    ///
    /// # Errors
    ///
    /// [`Error::Json`] if `value` cannot be serialised.
    pub fn with_custom(mut self, value: Option<&Value>) -> Result<Self> {
        self.custom = match value {
            None | Some(Value::Null) => None,
            Some(v) => {
                Some(serde_json::value::to_raw_value(v).map_err(|e| Error::json("custom", e))?)
            }
        };
        Ok(self)
    }

    /// The `custom` data parsed as JSON.
    ///
    /// # Errors
    ///
    /// [`Error::Json`] if the raw value does not parse (it always does when it came from a
    /// parsed document).
    pub fn custom_value(&self) -> Result<Option<Value>> {
        self.custom
            .as_ref()
            .map(|raw| serde_json::from_str(raw.get()).map_err(|e| Error::json("custom", e)))
            .transpose()
    }

    /// The SHA-256 digest, if present.
    pub fn sha256(&self) -> Option<&[u8]> {
        self.hashes.get(SHA256)
    }

    /// The SHA-512 digest, if present.
    pub fn sha512(&self) -> Option<&[u8]> {
        self.hashes.get(SHA512)
    }

    /// Checks `bytes` against the hashes as Notary does (`CheckHashes`): every supported
    /// algorithm present (`sha256`, `sha512`) must match, at least one must be present, and
    /// other algorithms are ignored. The length is not checked here (see
    /// [`check_length`](Self::check_length)). `role` names the file in errors.
    ///
    /// # Errors
    ///
    /// [`Error::ChecksumMismatch`] or [`Error::InvalidHashes`] (no supported hash).
    pub fn check_hashes(&self, role: &str, bytes: &[u8]) -> Result<()> {
        let mut checked = 0;
        if let Some(expected) = self.sha256() {
            if Sha256::digest(bytes)[..] != *expected {
                return Err(mismatch(role, SHA256, expected));
            }
            checked += 1;
        }
        if let Some(expected) = self.sha512() {
            if Sha512::digest(bytes)[..] != *expected {
                return Err(mismatch(role, SHA512, expected));
            }
            checked += 1;
        }
        if checked == 0 {
            return Err(Error::InvalidHashes {
                role: role.to_owned(),
                reason: "no supported hash algorithm (sha256, sha512) present".into(),
            });
        }
        Ok(())
    }

    /// Checks that `bytes` has exactly the recorded length.
    ///
    /// # Errors
    ///
    /// [`Error::ChecksumMismatch`] with algorithm `length`.
    pub fn check_length(&self, role: &str, bytes: &[u8]) -> Result<()> {
        if i64::try_from(bytes.len()).ok() == Some(self.length) {
            Ok(())
        } else {
            Err(Error::ChecksumMismatch {
                role: role.to_owned(),
                algorithm: "length".into(),
                expected: self.length.to_string(),
            })
        }
    }

    /// Checks the hash structure as Notary does (`CheckValidHashStructures`): `sha256` must be
    /// 32 bytes, `sha512` 64 bytes, and at least one of them must be present.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHashes`].
    pub fn check_hash_structure(&self, role: &str) -> Result<()> {
        let invalid = |reason: String| Error::InvalidHashes {
            role: role.to_owned(),
            reason,
        };
        let mut count = 0;
        if let Some(h) = self.sha256() {
            if h.len() != 32 {
                return Err(invalid(format!(
                    "sha256 checksum is {} bytes, not 32",
                    h.len()
                )));
            }
            count += 1;
        }
        if let Some(h) = self.sha512() {
            if h.len() != 64 {
                return Err(invalid(format!(
                    "sha512 checksum is {} bytes, not 64",
                    h.len()
                )));
            }
            count += 1;
        }
        if count == 0 {
            return Err(invalid("at least one supported hash needed".into()));
        }
        Ok(())
    }
}

fn mismatch(role: &str, algorithm: &str, expected: &[u8]) -> Error {
    Error::ChecksumMismatch {
        role: role.to_owned(),
        algorithm: algorithm.to_owned(),
        expected: hex::encode(expected),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_bytes_and_check() {
        let fm = FileMeta::from_bytes(b"hello");
        assert_eq!(fm.length, 5);
        assert_eq!(
            hex::encode(fm.sha256().unwrap()),
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert_eq!(fm.sha512().unwrap().len(), 64);
        fm.check_hashes("targets", b"hello").unwrap();
        fm.check_length("targets", b"hello").unwrap();
        fm.check_hash_structure("targets").unwrap();
        let err = fm.check_hashes("targets", b"hellO").unwrap_err();
        assert!(matches!(&err, Error::ChecksumMismatch { algorithm, .. } if algorithm == "sha256"));
        assert!(
            err.to_string()
                .starts_with("sha256 checksum for targets did not match")
        );
        assert!(fm.check_length("targets", b"hell").is_err());
    }

    #[test]
    fn every_present_supported_hash_must_match() {
        let mut fm = FileMeta::from_bytes(b"a");
        fm.hashes.insert(SHA512, vec![0; 64]);
        let err = fm.check_hashes("root", b"a").unwrap_err();
        assert!(matches!(&err, Error::ChecksumMismatch { algorithm, .. } if algorithm == "sha512"));

        // sha512 alone is enough; unknown algorithms are ignored.
        let mut only512 = FileMeta::from_bytes(b"a");
        only512.hashes.remove(SHA256);
        only512.hashes.insert("md5", vec![1]);
        only512.check_hashes("root", b"a").unwrap();

        let mut none = FileMeta::from_bytes(b"a");
        none.hashes.clear();
        none.hashes.insert("md5", vec![1]);
        assert!(matches!(
            none.check_hashes("root", b"a"),
            Err(Error::InvalidHashes { .. })
        ));
        assert!(matches!(
            none.check_hash_structure("root"),
            Err(Error::InvalidHashes { .. })
        ));
    }

    #[test]
    fn hash_sizes_are_enforced() {
        let mut fm = FileMeta::from_bytes(b"a");
        fm.hashes.insert(SHA256, vec![0; 31]);
        assert!(fm.check_hash_structure("snapshot").is_err());
        let mut fm = FileMeta::from_bytes(b"a");
        fm.hashes.insert(SHA512, vec![0; 32]);
        assert!(fm.check_hash_structure("snapshot").is_err());
    }

    #[test]
    fn json_shape_custom_and_unknown_fields() {
        let json = r#"{"custom":{"b":1,"a":[true]},"hashes":{"sha256":"AQI="},"length":2,"x-extra":{"k":"v"}}"#;
        let fm: FileMeta = serde_json::from_str(json).unwrap();
        assert_eq!(fm.custom.as_ref().unwrap().get(), r#"{"b":1,"a":[true]}"#);
        assert_eq!(fm.unknown["x-extra"]["k"], "v");
        assert_eq!(serde_json::to_string(&fm).unwrap(), json);

        let null_custom: FileMeta =
            serde_json::from_str(r#"{"custom":null,"hashes":{},"length":0}"#).unwrap();
        assert!(null_custom.custom.is_none());
        assert_eq!(
            serde_json::to_string(&null_custom).unwrap(),
            r#"{"hashes":{},"length":0}"#
        );
        let with = FileMeta::from_bytes(b"")
            .with_custom(Some(&serde_json::json!({"z": 1, "a": 2})))
            .unwrap();
        assert_eq!(with.custom_value().unwrap().unwrap()["a"], 2);
        assert!(
            serde_json::from_str::<FileMeta>(r#"{"hashes":{"sha256":"*"},"length":0}"#).is_err()
        );
    }

    #[test]
    fn go_null_hashes_read_as_none_and_fail_the_hash_checks() {
        // Go writes a nil hashes map as `null` and a nil digest as `null`.
        let fm: FileMeta = serde_json::from_str(r#"{"hashes":null,"length":3}"#).unwrap();
        assert!(fm.hashes.is_empty());
        assert_eq!(fm.length, 3);
        assert!(matches!(
            fm.check_hash_structure("targets"),
            Err(Error::InvalidHashes { .. })
        ));
        assert_eq!(
            serde_json::to_string(&fm).unwrap(),
            r#"{"hashes":{},"length":3}"#
        );
        let nil_digest: FileMeta =
            serde_json::from_str(r#"{"hashes":{"sha256":null},"length":0}"#).unwrap();
        assert_eq!(nil_digest.sha256(), Some(&[][..]));
        assert!(nil_digest.check_hash_structure("snapshot").is_err());
        // The field itself stays required, as before.
        assert!(serde_json::from_str::<FileMeta>(r#"{"length":0}"#).is_err());
    }
}
