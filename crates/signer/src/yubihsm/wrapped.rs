//! Wrapped key backups: a device key encrypted under a wrap key, with what signet knows
//! about it.
//!
//! A backup is one PEM block:
//!
//! ```text
//! -----BEGIN SIGNET YUBIHSM WRAPPED KEY-----
//! algorithm: ecdsa
//! gun: example.com/app
//! key_id: <canonical TUF key ID>
//! object_id: 0x0100
//! role: targets
//!
//! <base64 of the device's wrap message: 13-byte nonce ‖ AES-CCM ciphertext>
//! -----END SIGNET YUBIHSM WRAPPED KEY-----
//! ```
//!
//! The ciphertext is produced and checked by the device; the headers are not secret and not
//! authenticated, so a restore checks that the device restored the key the header names.

use signet_tuf::key::KeyId;

use super::error::{Error, Result};
use crate::private_key::KeyAlgorithm;
use signet_tuf::notary::pem::{self, PemBlock};

/// PEM label of a wrapped key backup.
pub const WRAPPED_KEY_LABEL: &str = "SIGNET YUBIHSM WRAPPED KEY";

const KEY_ID_HEADER: &str = "key_id";
const OBJECT_ID_HEADER: &str = "object_id";
const ALGORITHM_HEADER: &str = "algorithm";

/// A device key exported under a wrap key (see [`super::YubiHsmKeyStore::export_wrapped`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedKey {
    pub(crate) key_id: KeyId,
    pub(crate) object_id: u16,
    pub(crate) algorithm: KeyAlgorithm,
    pub(crate) role: String,
    pub(crate) gun: Option<String>,
    pub(crate) blob: Vec<u8>,
}

impl WrappedKey {
    /// Canonical key ID of the wrapped key.
    pub fn key_id(&self) -> &KeyId {
        &self.key_id
    }

    /// Object ID the key had, and gets back, on the device.
    pub fn object_id(&self) -> u16 {
        self.object_id
    }

    /// Algorithm of the wrapped key.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// Role of the key.
    pub fn role(&self) -> &str {
        &self.role
    }

    /// GUN of the key, for targets, snapshot and timestamp keys.
    pub fn gun(&self) -> Option<&str> {
        self.gun.as_deref()
    }

    /// The device's wrap message (nonce ‖ ciphertext).
    pub fn ciphertext(&self) -> &[u8] {
        &self.blob
    }

    /// The backup as a PEM block (see the module documentation).
    ///
    /// # Errors
    ///
    /// [`Error::Signer`] when the role or GUN cannot be written as a PEM header.
    pub fn to_pem(&self) -> Result<String> {
        let mut block = PemBlock::new(WRAPPED_KEY_LABEL, self.blob.clone());
        block.set_header(KEY_ID_HEADER, self.key_id.as_str());
        block.set_header(OBJECT_ID_HEADER, format!("{:#06x}", self.object_id));
        block.set_header(ALGORITHM_HEADER, self.algorithm.as_str());
        block.set_header(pem::ROLE_HEADER, self.role.as_str());
        if let Some(gun) = &self.gun {
            block.set_header(pem::GUN_HEADER, gun.as_str());
        }
        Ok(block.encode().map_err(crate::Error::from)?)
    }

    /// Reads a backup written by [`to_pem`](Self::to_pem).
    ///
    /// # Errors
    ///
    /// [`Error::WrappedKey`] when the text holds no such block or a header is missing or
    /// malformed.
    pub fn from_pem(text: &str) -> Result<Self> {
        let invalid = |reason: String| Error::WrappedKey {
            context: "PEM".to_owned(),
            reason,
        };
        let block = pem::decode_all(text)
            .into_iter()
            .find(|b| b.label == WRAPPED_KEY_LABEL)
            .ok_or_else(|| invalid(format!("no {WRAPPED_KEY_LABEL} block")))?;
        let header = |name: &str| {
            block
                .header(name)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| invalid(format!("missing {name} header")))
        };
        let key_id: KeyId = header(KEY_ID_HEADER)?
            .parse()
            .map_err(|_| invalid("malformed key_id header".to_owned()))?;
        let object_id = header(OBJECT_ID_HEADER)?;
        let object_id = object_id
            .strip_prefix("0x")
            .and_then(|hex| u16::from_str_radix(hex, 16).ok())
            .filter(|id| *id != 0)
            .ok_or_else(|| invalid(format!("malformed object_id header {object_id:?}")))?;
        let algorithm = match header(ALGORITHM_HEADER)?.parse::<KeyAlgorithm>() {
            Ok(alg @ (KeyAlgorithm::Ecdsa | KeyAlgorithm::Ed25519)) => alg,
            _ => return Err(invalid("algorithm must be ecdsa or ed25519".to_owned())),
        };
        Ok(Self {
            key_id,
            object_id,
            algorithm,
            role: header(pem::ROLE_HEADER)?.to_owned(),
            gun: block.header(pem::GUN_HEADER).map(str::to_owned),
            blob: block.contents.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> WrappedKey {
        WrappedKey {
            key_id: "cd".repeat(32).parse().unwrap(),
            object_id: 0x0102,
            algorithm: KeyAlgorithm::Ed25519,
            role: "timestamp".to_owned(),
            gun: Some("example.com/app".to_owned()),
            blob: (0u8..=200).collect(),
        }
    }

    #[test]
    fn pem_round_trip() {
        let backup = sample();
        let text = backup.to_pem().unwrap();
        assert!(text.starts_with("-----BEGIN SIGNET YUBIHSM WRAPPED KEY-----\n"));
        assert!(text.contains("object_id: 0x0102\n"), "{text}");
        assert_eq!(WrappedKey::from_pem(&text).unwrap(), backup);
        let root = WrappedKey {
            gun: None,
            role: "root".to_owned(),
            ..sample()
        };
        assert_eq!(WrappedKey::from_pem(&root.to_pem().unwrap()).unwrap(), root);
    }

    #[test]
    fn rejects_incomplete_backups() {
        let text = sample().to_pem().unwrap();
        for (from, to) in [
            ("object_id: 0x0102", "object_id: 258"),
            ("algorithm: ed25519", "algorithm: rsa"),
            ("role: timestamp\n", ""),
            ("SIGNET YUBIHSM WRAPPED KEY", "PRIVATE KEY"),
        ] {
            let broken = text.replace(from, to);
            assert!(
                matches!(WrappedKey::from_pem(&broken), Err(Error::WrappedKey { .. })),
                "{from} -> {to}"
            );
        }
    }
}
