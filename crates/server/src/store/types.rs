//! Values written to and read from the store.

use std::fmt;
use std::str::FromStr;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::error::UnknownKeyState;

/// The role whose rows also write an `update` changefeed record.
pub const TIMESTAMP_ROLE: &str = "timestamp";

/// Changefeed category of a record written when a timestamp row is stored.
pub const CATEGORY_UPDATE: &str = "update";

/// Changefeed category of a record written when a GUN is deleted.
pub const CATEGORY_DELETION: &str = "deletion";

/// Number of changefeed records returned when `records` is 0.
pub const DEFAULT_CHANGE_RECORDS: i64 = 100;

/// One metadata file to store in an atomic batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileUpdate {
    /// The role name: `root`, `targets`, `targets/…`, `snapshot` or `timestamp`.
    pub role: String,
    /// The TUF version inside the file.
    pub version: i64,
    /// The exact bytes to store and serve; the checksum is computed over them.
    pub data: Bytes,
}

impl FileUpdate {
    /// A new update for `role` at `version` holding `data`.
    pub fn new(role: impl Into<String>, version: i64, data: impl Into<Bytes>) -> Self {
        Self {
            role: role.into(),
            version,
            data: data.into(),
        }
    }
}

/// One stored metadata file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredFile {
    /// The role name.
    pub role: String,
    /// The TUF version.
    pub version: i64,
    /// SHA-256 of `data`.
    pub sha256: [u8; 32],
    /// The exact stored bytes.
    pub data: Bytes,
    /// When the row was written (UTC).
    pub created_at: DateTime<Utc>,
}

impl StoredFile {
    /// Lowercase hex of [`StoredFile::sha256`], as used in checksum URLs.
    #[must_use]
    pub fn sha256_hex(&self) -> String {
        hex::encode(self.sha256)
    }
}

/// One changefeed record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// The record ID; IDs grow with time.
    pub id: i64,
    /// When the record was written (UTC).
    pub created_at: DateTime<Utc>,
    /// The GUN that changed.
    pub gun: String,
    /// The timestamp version stored, or 0 for a deletion.
    pub version: i64,
    /// Lowercase hex SHA-256 of the stored timestamp, or empty for a deletion.
    pub sha256: String,
    /// [`CATEGORY_UPDATE`] or [`CATEGORY_DELETION`].
    pub category: String,
}

/// Life-cycle state of a server-held key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyState {
    /// Generated, not yet listed in the GUN's root.
    Pending,
    /// Listed in the current root; used for signing.
    Active,
    /// No longer used for signing.
    Retired,
}

impl KeyState {
    /// The name stored in the `state` column.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Retired => "retired",
        }
    }
}

impl fmt::Display for KeyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KeyState {
    type Err = UnknownKeyState;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pending" => Ok(Self::Pending),
            "active" => Ok(Self::Active),
            "retired" => Ok(Self::Retired),
            other => Err(UnknownKeyState(other.to_owned())),
        }
    }
}

/// The YubiHSM 2 object that holds the private half of a server key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HsmKeyRef {
    /// Object ID of the asymmetric key on the device.
    pub object_id: u16,
    /// Its object label (`signet:<role>:<gun tag>`, at most 40 bytes).
    pub label: String,
}

/// A server-held key to store. The private key arrives already sealed by the signer, or is
/// held by a YubiHSM 2 (`hsm`), or both.
#[derive(Clone, PartialEq, Eq)]
pub struct NewServerKey {
    /// The GUN the key signs for.
    pub gun: String,
    /// The role the key signs (`timestamp` or `snapshot`).
    pub role: String,
    /// The TUF key ID.
    pub key_id: String,
    /// The key algorithm name (e.g. `ecdsa`, `ed25519`).
    pub algorithm: String,
    /// The public key object as JSON bytes.
    pub public_key: Bytes,
    /// The sealed (encrypted) private key bytes; empty when the key has no sealed copy
    /// (then `hsm` is set).
    pub sealed_private_key: Bytes,
    /// The initial state.
    pub state: KeyState,
    /// The device object holding the private key, for keys held in a YubiHSM 2.
    pub hsm: Option<HsmKeyRef>,
}

impl fmt::Debug for NewServerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewServerKey")
            .field("gun", &self.gun)
            .field("role", &self.role)
            .field("key_id", &self.key_id)
            .field("algorithm", &self.algorithm)
            .field("state", &self.state)
            .field("hsm", &self.hsm)
            .finish_non_exhaustive()
    }
}

/// A server key's sealed private key sealed again under another key-encryption key
/// (`signet-server rotate-kek`): the bytes the row must hold now and the bytes to put there.
#[derive(Clone, PartialEq, Eq)]
pub struct ResealedKey {
    /// The GUN the key signs for.
    pub gun: String,
    /// The role the key signs.
    pub role: String,
    /// The TUF key ID.
    pub key_id: String,
    /// The sealed private key the row holds now (under the current key-encryption key).
    pub current: Bytes,
    /// The same private key sealed under the new key-encryption key.
    pub resealed: Bytes,
}

impl fmt::Debug for ResealedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResealedKey")
            .field("gun", &self.gun)
            .field("role", &self.role)
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// A stored server-held key.
#[derive(Clone, PartialEq, Eq)]
pub struct ServerKey {
    /// The GUN the key signs for.
    pub gun: String,
    /// The role the key signs.
    pub role: String,
    /// The TUF key ID.
    pub key_id: String,
    /// The key algorithm name.
    pub algorithm: String,
    /// The public key object as JSON bytes.
    pub public_key: Bytes,
    /// The sealed (encrypted) private key bytes; empty when the key has no sealed copy
    /// (then `hsm` is set).
    pub sealed_private_key: Bytes,
    /// The current state.
    pub state: KeyState,
    /// When the key was stored (UTC).
    pub created_at: DateTime<Utc>,
    /// When the key last signed, if ever.
    pub last_used: Option<DateTime<Utc>>,
    /// The device object holding the private key, for keys held in a YubiHSM 2. Such a key
    /// signs on the device, whether or not a sealed copy is still stored.
    pub hsm: Option<HsmKeyRef>,
}

impl ServerKey {
    /// Whether the row still holds a sealed copy of the private key.
    #[must_use]
    pub fn has_sealed_copy(&self) -> bool {
        !self.sealed_private_key.is_empty()
    }
}

impl fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerKey")
            .field("gun", &self.gun)
            .field("role", &self.role)
            .field("key_id", &self.key_id)
            .field("algorithm", &self.algorithm)
            .field("state", &self.state)
            .field("created_at", &self.created_at)
            .field("last_used", &self.last_used)
            .field("hsm", &self.hsm)
            .field("sealed_copy", &self.has_sealed_copy())
            .finish_non_exhaustive()
    }
}

/// One stored root, as read by [`crate::store::Store::roots`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredRoot {
    /// The GUN.
    pub gun: String,
    /// The TUF version.
    pub version: i64,
    /// The exact stored bytes.
    pub data: Bytes,
}

/// A `tuf_files` row copied as it is from another notary-server database
/// ([`crate::store::CopySession::files`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopiedFile {
    /// The GUN.
    pub gun: String,
    /// The role name.
    pub role: String,
    /// The TUF version.
    pub version: i64,
    /// The exact bytes.
    pub data: Bytes,
    /// The `sha256` column: lowercase hex, as stored (the caller computes it when the
    /// source has none).
    pub sha256: String,
    /// `created_at` (UTC), or none.
    pub created_at: Option<DateTime<Utc>>,
    /// `updated_at` (UTC), or none.
    pub updated_at: Option<DateTime<Utc>>,
    /// `deleted_at` (UTC): set for a soft-deleted row, which reads ignore.
    pub deleted_at: Option<DateTime<Utc>>,
}

/// A changefeed record copied with its ID from another notary-server database
/// ([`crate::store::CopySession::changes`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopiedChange {
    /// The record ID, kept so that clients' changefeed cursors stay valid.
    pub id: i64,
    /// `created_at` (UTC), or none.
    pub created_at: Option<DateTime<Utc>>,
    /// The GUN.
    pub gun: String,
    /// The timestamp version, or 0 for a deletion.
    pub version: i64,
    /// The `sha256` column (trailing spaces of `CHAR(64)` padding removed), or none.
    pub sha256: Option<String>,
    /// The category (`update` or `deletion` in a Go database).
    pub category: String,
}

/// What copying one row did (or, in a dry run, would do).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CopyOutcome {
    /// The row was not stored: it was inserted (would be, in a dry run).
    New,
    /// A row with the same key and the same content is stored: nothing to do.
    Identical,
    /// A row with the same key but other content is stored; the columns that differ.
    Differs(Vec<&'static str>),
}

/// Lowercase hex SHA-256 of `data`.
pub(crate) fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// The 32-byte checksum from a stored hex column, computed from the data when the column
/// is empty or malformed (rows written by other software may lack it).
pub(crate) fn checksum_of(stored_hex: Option<&str>, data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    if let Some(h) = stored_hex
        && hex::decode_to_slice(h.trim_end(), &mut out).is_ok()
    {
        return out;
    }
    out.copy_from_slice(&Sha256::digest(data));
    out
}

/// A stored checksum column as text, computed from the data when it is empty.
pub(crate) fn stored_sha256(column: Option<String>, data: &[u8]) -> String {
    match column.map(|s| s.trim_end().to_owned()) {
        Some(s) if !s.is_empty() => s,
        _ => sha256_hex(data),
    }
}

/// Whether `s` is 64 lowercase hex digits, the only form a stored checksum takes.
pub(crate) fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Go's zero time, reported when a row from another writer has no timestamp.
pub(crate) fn zero_time() -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(-62_135_596_800, 0).unwrap_or_default()
}

/// The row-count bound and direction of a changefeed query (protocol §1.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ChangeQuery {
    /// Walk backwards from `before` (exclusive) instead of forwards from `after`.
    pub(crate) reversed: bool,
    /// The exclusive ID bound.
    pub(crate) bound: i64,
    /// The maximum number of records.
    pub(crate) limit: i64,
}

impl ChangeQuery {
    pub(crate) fn new(change_id: i64, records: i64) -> Self {
        let reversed = change_id < 0 || records < 0;
        let limit = match records {
            0 => DEFAULT_CHANGE_RECORDS,
            n => i64::try_from(n.unsigned_abs()).unwrap_or(i64::MAX),
        };
        let bound = if reversed && change_id <= 0 {
            i64::MAX
        } else {
            change_id
        };
        Self {
            reversed,
            bound,
            limit,
        }
    }
}

/// A root file row for tests.
#[cfg(test)]
pub(crate) fn test_file(gun: &str, version: i64, data: &'static [u8]) -> CopiedFile {
    CopiedFile {
        gun: gun.to_owned(),
        role: "root".to_owned(),
        version,
        data: Bytes::from_static(data),
        sha256: sha256_hex(data),
        created_at: None,
        updated_at: None,
        deleted_at: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_query_directions() {
        assert_eq!(
            ChangeQuery::new(0, 0),
            ChangeQuery {
                reversed: false,
                bound: 0,
                limit: 100
            }
        );
        assert_eq!(
            ChangeQuery::new(5, 10),
            ChangeQuery {
                reversed: false,
                bound: 5,
                limit: 10
            }
        );
        assert_eq!(
            ChangeQuery::new(-1, 10),
            ChangeQuery {
                reversed: true,
                bound: i64::MAX,
                limit: 10
            }
        );
        assert_eq!(
            ChangeQuery::new(0, -3),
            ChangeQuery {
                reversed: true,
                bound: i64::MAX,
                limit: 3
            }
        );
        assert_eq!(
            ChangeQuery::new(7, -3),
            ChangeQuery {
                reversed: true,
                bound: 7,
                limit: 3
            }
        );
        assert_eq!(ChangeQuery::new(0, i64::MIN).limit, i64::MAX);
    }

    #[test]
    fn checksum_falls_back_to_data() {
        let data = b"abc";
        let want = Sha256::digest(data);
        assert_eq!(checksum_of(None, data)[..], want[..]);
        assert_eq!(checksum_of(Some("zz"), data)[..], want[..]);
        let padded = format!("{}   ", hex::encode([7u8; 32]));
        assert_eq!(checksum_of(Some(&padded), data), [7u8; 32]);
    }

    #[test]
    fn sha256_hex_form() {
        assert!(is_sha256_hex(&sha256_hex(b"x")));
        assert!(!is_sha256_hex(&sha256_hex(b"x").to_uppercase()));
        assert!(!is_sha256_hex("abc"));
    }

    #[test]
    fn key_state_round_trip() {
        for s in [KeyState::Pending, KeyState::Active, KeyState::Retired] {
            assert_eq!(s.as_str().parse::<KeyState>(), Ok(s));
        }
        assert!("gone".parse::<KeyState>().is_err());
    }

    #[test]
    fn zero_time_is_year_one() {
        assert_eq!(zero_time().to_rfc3339(), "0001-01-01T00:00:00+00:00");
    }
}
