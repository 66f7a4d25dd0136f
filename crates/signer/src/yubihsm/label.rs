//! What a device key records about itself: the 40-byte object label and the opaque metadata
//! object stored next to it.
//!
//! # Label
//!
//! `signet:<role>:<gun tag>`, at most 40 bytes:
//!
//! * `<role>` is the role name when it has at most [`MAX_LABEL_ROLE`] bytes of `[a-z0-9/_.-]`
//!   (`root`, `targets`, `targets/releases`), otherwise `~` and the first 10 hex digits of the
//!   role's SHA-256;
//! * `<gun tag>` is the first 12 hex digits of the GUN's SHA-256, or `-` for keys without a GUN
//!   (root and delegation keys).
//!
//! The label lets `yubihsm-shell` users recognise signet keys and lets the store skip foreign
//! objects; it is not authoritative.
//!
//! # Metadata object
//!
//! An opaque object with the same object ID as the key (object IDs are per type on the device)
//! holds the full role and GUN and the key ID they belong to, as UTF-8 lines:
//!
//! ```text
//! signet-key-v1
//! key_id=<canonical TUF key ID>
//! role=<role>
//! gun=<gun>            (only for keys with a GUN)
//! ```
//!
//! Metadata whose `key_id` does not match the key's public key is ignored (the label's role is
//! used then, and the GUN is unknown).

use sha2::{Digest as _, Sha256};
use signet_tuf::key::KeyId;

use super::error::{Error, Result};

/// Prefix of every label signet writes.
pub(crate) const LABEL_PREFIX: &str = "signet:";
/// Longest role written verbatim into a label.
pub(crate) const MAX_LABEL_ROLE: usize = 20;
/// Hex digits of the GUN hash in a label.
const GUN_TAG_LEN: usize = 12;
/// Hex digits of the role hash in a label.
const ROLE_TAG_LEN: usize = 10;
/// First line of a metadata object.
const METADATA_MAGIC: &str = "signet-key-v1";
/// Longest role or GUN recorded (bytes).
pub(crate) const MAX_ATTRIBUTE_LEN: usize = 255;

/// The role and GUN a label records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyLabel {
    /// The role, or `None` when the label holds only its hash.
    pub(crate) role: Option<String>,
    /// The GUN tag, or `None` for keys without a GUN.
    pub(crate) gun_tag: Option<String>,
}

/// Full attributes of a device key, as kept in its metadata object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Metadata {
    /// Canonical key ID of the key the metadata belongs to.
    pub(crate) key_id: KeyId,
    /// Role of the key.
    pub(crate) role: String,
    /// GUN of the key (targets, snapshot and timestamp keys).
    pub(crate) gun: Option<String>,
}

fn sha256_hex(s: &str, digits: usize) -> String {
    let mut hex = hex::encode(Sha256::digest(s.as_bytes()));
    hex.truncate(digits);
    hex
}

fn label_safe_role(role: &str) -> bool {
    role.len() <= MAX_LABEL_ROLE
        && role
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"/_.-".contains(&b))
}

/// Checks that a role or GUN can be recorded: non-empty, at most [`MAX_ATTRIBUTE_LEN`] bytes,
/// no control characters.
pub(crate) fn validate_attribute(field: &'static str, value: &str) -> Result<()> {
    let reason = if value.is_empty() {
        "must not be empty"
    } else if value.len() > MAX_ATTRIBUTE_LEN {
        "longer than 255 bytes"
    } else if value.chars().any(char::is_control) {
        "contains control characters"
    } else {
        return Ok(());
    };
    Err(Error::InvalidAttribute {
        field,
        value: value.chars().take(80).collect(),
        reason,
    })
}

/// The GUN tag written into labels.
pub(crate) fn gun_tag(gun: &str) -> String {
    sha256_hex(gun, GUN_TAG_LEN)
}

/// The object label signet gives a key for `role` and `gun`: `signet:<role>:<gun tag>` (see
/// the module documentation of [`crate::yubihsm`]).
pub fn key_label(role: &str, gun: Option<&str>) -> String {
    encode_label(role, gun)
}

/// The label of a key for `role` and `gun` (see the module documentation).
pub(crate) fn encode_label(role: &str, gun: Option<&str>) -> String {
    let role_part = if label_safe_role(role) {
        role.to_owned()
    } else {
        format!("~{}", sha256_hex(role, ROLE_TAG_LEN))
    };
    let gun_part = gun.map_or_else(|| "-".to_owned(), gun_tag);
    format!("{LABEL_PREFIX}{role_part}:{gun_part}")
}

/// Decodes a label written by [`encode_label`]; `None` for labels of other applications.
pub(crate) fn decode_label(label: &str) -> Option<KeyLabel> {
    let rest = label.strip_prefix(LABEL_PREFIX)?;
    let (role_part, gun_part) = rest.rsplit_once(':')?;
    let role = if role_part.starts_with('~') {
        None
    } else if label_safe_role(role_part) && !role_part.is_empty() {
        Some(role_part.to_owned())
    } else {
        return None;
    };
    let gun_tag = match gun_part {
        "-" => None,
        tag if tag.len() == GUN_TAG_LEN && tag.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Some(tag.to_owned())
        }
        _ => return None,
    };
    Some(KeyLabel { role, gun_tag })
}

impl Metadata {
    /// The bytes of the metadata object.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = format!(
            "{METADATA_MAGIC}\nkey_id={}\nrole={}\n",
            self.key_id, self.role
        );
        if let Some(gun) = &self.gun {
            out.push_str("gun=");
            out.push_str(gun);
            out.push('\n');
        }
        out.into_bytes()
    }

    /// Parses a metadata object; `None` when it is not one signet wrote.
    pub(crate) fn decode(bytes: &[u8]) -> Option<Self> {
        let text = std::str::from_utf8(bytes).ok()?;
        let mut lines = text.strip_suffix('\n')?.split('\n');
        if lines.next()? != METADATA_MAGIC {
            return None;
        }
        let (mut key_id, mut role, mut gun) = (None, None, None);
        for line in lines {
            let (name, value) = line.split_once('=')?;
            let slot = match name {
                "key_id" => &mut key_id,
                "role" => &mut role,
                "gun" => &mut gun,
                _ => continue,
            };
            if slot.replace(value.to_owned()).is_some() {
                return None;
            }
        }
        Some(Self {
            key_id: key_id?.parse().ok()?,
            role: role.filter(|r| !r.is_empty())?,
            gun: gun.filter(|g| !g.is_empty()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_fit_and_round_trip() {
        let gun = "docker.io/library/an-extremely-long-repository-name/with/more/parts";
        for (role, gun, verbatim) in [
            ("root", None, true),
            ("targets", Some(gun), true),
            ("snapshot", Some("example.com/app"), true),
            ("timestamp", Some("example.com/app"), true),
            ("targets/releases", None, true),
            ("targets/a-very-long-delegation-name", None, false),
            ("targets/Upper", None, false),
        ] {
            let label = encode_label(role, gun);
            assert!(label.len() <= 40, "{label} is {} bytes", label.len());
            let decoded = decode_label(&label).unwrap();
            assert_eq!(decoded.role.as_deref(), verbatim.then_some(role), "{label}");
            assert_eq!(decoded.gun_tag, gun.map(gun_tag));
        }
        assert_eq!(encode_label("root", None), "signet:root:-");
    }

    #[test]
    fn foreign_labels_are_ignored() {
        for label in [
            "",
            "my key",
            "signet:",
            "signet:root",
            "signet:root:xyz",
            "signet:ROOT:-",
        ] {
            assert_eq!(decode_label(label), None, "{label}");
        }
    }

    #[test]
    fn metadata_round_trips_and_rejects_junk() {
        let meta = Metadata {
            key_id: "ab".repeat(32).parse().unwrap(),
            role: "targets/a role: with = signs".to_owned(),
            gun: Some("example.com/app".to_owned()),
        };
        assert_eq!(Metadata::decode(&meta.encode()), Some(meta.clone()));
        let no_gun = Metadata { gun: None, ..meta };
        assert_eq!(Metadata::decode(&no_gun.encode()), Some(no_gun));
        for junk in [
            &b"signet-key-v1\nrole=root\n"[..],
            b"other\nkey_id=00\nrole=root\n",
            b"signet-key-v1\nkey_id=zz\nrole=root\n",
            b"\xff\xfe",
        ] {
            assert_eq!(Metadata::decode(junk), None);
        }
    }

    #[test]
    fn attributes_are_validated() {
        assert!(validate_attribute("role", "targets/releases").is_ok());
        assert!(validate_attribute("role", "").is_err());
        assert!(validate_attribute("gun", "a\nb").is_err());
        assert!(validate_attribute("gun", &"g".repeat(256)).is_err());
    }
}
