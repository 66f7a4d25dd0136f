//! Signing with a key held on the device.

use std::fmt;

use p256::pkcs8::EncodePublicKey as _;
use sha2::{Digest as _, Sha256};
use signet_tuf::key::{KeyId, KeyType, PublicKey};
use signet_tuf::signature::Signature;
use yubihsm::asymmetric;

use super::error::{Error, Result};
use crate::private_key::KeyAlgorithm;

/// Longest message the device signs with pure Ed25519.
///
/// Ed25519 signs the whole message, which must fit into one secure-channel command of at most
/// 2048 bytes together with the command header, the key's object ID, the channel's block
/// padding and MAC. Timestamp metadata fits easily; large targets or snapshot metadata do not,
/// so those roles should use ECDSA keys (ECDSA sends only the SHA-256 digest).
///
/// The limit is checked before anything is sent: the `yubihsm` client panics on commands over
/// 2048 bytes instead of returning an error.
pub const MAX_ED25519_MESSAGE_LEN: usize = 2016;

/// How often a signature that fails verification is asked for again before giving up.
const SIGN_ATTEMPTS: usize = 3;

/// A key on a YubiHSM 2, signing in Notary's formats.
///
/// Every signature is verified against the key's public key before it is returned. Calls are
/// blocking round trips to the device (serialised on the store's one session): from async code
/// call [`sign`](crate::Signer::sign) inside `tokio::task::spawn_blocking`.
///
/// It also implements [`rcgen::SigningKey`], so root certificates for a device key are signed by
/// the device: ECDSA signatures are returned DER-encoded over SHA-256, as X.509 requires.
#[derive(Clone)]
pub struct YubiHsmSigner {
    client: yubihsm::Client,
    object_id: u16,
    algorithm: KeyAlgorithm,
    public: PublicKey,
    key_id: KeyId,
    /// Public key as rcgen wants it: 65-byte uncompressed SEC1 point or 32 Ed25519 bytes.
    raw_public: Vec<u8>,
}

impl fmt::Debug for YubiHsmSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("YubiHsmSigner")
            .field("object_id", &format_args!("{:#06x}", self.object_id))
            .field("algorithm", &self.algorithm)
            .field("key_id", &self.key_id)
            .finish()
    }
}

/// A device public key decoded into its TUF form.
#[derive(Debug, Clone)]
pub(crate) struct DevicePublicKey {
    pub(crate) algorithm: KeyAlgorithm,
    pub(crate) public: PublicKey,
    pub(crate) raw: Vec<u8>,
}

/// Decodes the public key of object `object_id` as the device returns it: Ed25519 as 32 raw
/// bytes, P-256 as the 64-byte `X‖Y` (no SEC1 tag), which becomes a SubjectPublicKeyInfo.
pub(crate) fn decode_public_key(
    object_id: u16,
    key: &asymmetric::PublicKey,
) -> Result<DevicePublicKey> {
    let invalid = |reason: String| Error::InvalidPublicKey { object_id, reason };
    match key.algorithm {
        asymmetric::Algorithm::EcP256 => {
            if key.bytes.len() != 64 {
                return Err(invalid(format!(
                    "P-256 public key is {} bytes, expected 64",
                    key.bytes.len()
                )));
            }
            let mut sec1 = Vec::with_capacity(65);
            sec1.push(0x04);
            sec1.extend_from_slice(&key.bytes);
            let point = p256::PublicKey::from_sec1_bytes(&sec1)
                .map_err(|_| invalid("not a point on P-256".to_owned()))?;
            let spki = point
                .to_public_key_der()
                .map_err(|e| invalid(e.to_string()))?;
            let public =
                PublicKey::from_spki_der(spki.as_bytes()).map_err(|e| invalid(e.to_string()))?;
            Ok(DevicePublicKey {
                algorithm: KeyAlgorithm::Ecdsa,
                public,
                raw: sec1,
            })
        }
        asymmetric::Algorithm::Ed25519 => {
            let bytes: [u8; 32] = key.bytes.as_slice().try_into().map_err(|_| {
                invalid(format!(
                    "Ed25519 public key is {} bytes, expected 32",
                    key.bytes.len()
                ))
            })?;
            ed25519_dalek::VerifyingKey::from_bytes(&bytes)
                .map_err(|_| invalid("not a valid Ed25519 point".to_owned()))?;
            Ok(DevicePublicKey {
                algorithm: KeyAlgorithm::Ed25519,
                public: PublicKey::new(KeyType::Ed25519, bytes.to_vec()),
                raw: bytes.to_vec(),
            })
        }
        other => Err(Error::UnsupportedAlgorithm {
            key: format!("object {object_id:#06x}"),
            algorithm: format!("{other:?}"),
        }),
    }
}

impl YubiHsmSigner {
    /// A signer for object `object_id` whose public key is `public`.
    pub(crate) fn new(client: yubihsm::Client, object_id: u16, public: DevicePublicKey) -> Self {
        Self {
            client,
            object_id,
            algorithm: public.algorithm,
            key_id: public.public.key_id(),
            public: public.public,
            raw_public: public.raw,
        }
    }

    /// Object ID of the key on the device.
    pub fn object_id(&self) -> u16 {
        self.object_id
    }

    /// Algorithm of the key.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// Canonical TUF key ID of the key.
    pub fn key_id(&self) -> &KeyId {
        &self.key_id
    }

    /// The plain TUF public key (`ecdsa` with a SubjectPublicKeyInfo, or `ed25519`).
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// Signs `msg` in Notary's encoding: raw `r‖s` (64 bytes, low S) over SHA-256 for ECDSA,
    /// 64 bytes for Ed25519. The signature is verified before it is returned.
    ///
    /// # Errors
    ///
    /// [`Error::MessageTooLong`] for Ed25519 messages over [`MAX_ED25519_MESSAGE_LEN`],
    /// [`Error::Device`] when the device refuses, [`Error::BadSignature`] when its signature
    /// does not verify.
    pub fn sign_notary(&self, msg: &[u8]) -> Result<Vec<u8>> {
        let method = self.algorithm.signature_method();
        let mut last_failure = String::new();
        for _ in 0..SIGN_ATTEMPTS {
            let sig = match self.algorithm {
                KeyAlgorithm::Ecdsa => self.ecdsa_signature(msg)?.to_bytes().to_vec(),
                _ => self.ed25519_signature(msg)?,
            };
            match self.public.verify(method, msg, &sig) {
                Ok(()) => return Ok(sig),
                Err(e) => last_failure = e.to_string(),
            }
        }
        Err(self.bad_signature(format!(
            "{SIGN_ATTEMPTS} signatures failed verification: {last_failure}"
        )))
    }

    /// Signs `msg` for an X.509 certificate: an ECDSA signature over SHA-256 in DER (low S),
    /// or a raw Ed25519 signature. Verified before it is returned.
    ///
    /// # Errors
    ///
    /// As [`sign_notary`](Self::sign_notary).
    pub fn sign_x509(&self, msg: &[u8]) -> Result<Vec<u8>> {
        match self.algorithm {
            KeyAlgorithm::Ecdsa => {
                let raw = self.sign_notary(msg)?;
                let sig = p256::ecdsa::Signature::from_slice(&raw)
                    .map_err(|e| self.bad_signature(e.to_string()))?;
                Ok(sig.to_der().as_bytes().to_vec())
            }
            _ => self.sign_notary(msg),
        }
    }

    fn bad_signature(&self, reason: String) -> Error {
        Error::BadSignature {
            key_id: self.key_id.to_string(),
            reason,
        }
    }

    fn ecdsa_signature(&self, msg: &[u8]) -> Result<p256::ecdsa::Signature> {
        let digest = Sha256::digest(msg);
        let der = self
            .client
            .sign_ecdsa_prehash_raw(self.object_id, digest.to_vec())
            .map_err(Error::device_for_key(
                "ECDSA sign",
                &self.key_id,
                format_args!("{:#06x}", self.object_id),
            ))?;
        let sig = p256::ecdsa::Signature::from_der(&der)
            .map_err(|e| self.bad_signature(format!("malformed DER signature: {e}")))?;
        Ok(sig.normalize_s().unwrap_or(sig))
    }

    fn ed25519_signature(&self, msg: &[u8]) -> Result<Vec<u8>> {
        if msg.len() > MAX_ED25519_MESSAGE_LEN {
            return Err(Error::MessageTooLong {
                key_id: self.key_id.to_string(),
                len: msg.len(),
                max: MAX_ED25519_MESSAGE_LEN,
            });
        }
        let sig = self
            .client
            .sign_ed25519(self.object_id, msg.to_vec())
            .map_err(Error::device_for_key(
                "Ed25519 sign",
                &self.key_id,
                format_args!("{:#06x}", self.object_id),
            ))?;
        Ok(sig.to_bytes().to_vec())
    }
}

impl crate::Signer for YubiHsmSigner {
    fn public_key(&self) -> &PublicKey {
        &self.public
    }

    fn sign(&self, msg: &[u8]) -> crate::Result<Signature> {
        let sig = self.sign_notary(msg).map_err(|e| match e {
            Error::Signer(inner) => inner,
            device @ Error::Device { .. } => device.into(),
            other => crate::Error::Signing {
                key_id: self.key_id.to_string(),
                reason: other.to_string(),
            },
        })?;
        Ok(Signature {
            keyid: self.key_id.clone(),
            method: self.algorithm.signature_method().to_owned(),
            sig,
        })
    }
}

impl rcgen::PublicKeyData for YubiHsmSigner {
    fn der_bytes(&self) -> &[u8] {
        &self.raw_public
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        match self.algorithm {
            KeyAlgorithm::Ecdsa => &rcgen::PKCS_ECDSA_P256_SHA256,
            _ => &rcgen::PKCS_ED25519,
        }
    }
}

impl rcgen::SigningKey for YubiHsmSigner {
    fn sign(&self, msg: &[u8]) -> std::result::Result<Vec<u8>, rcgen::Error> {
        self.sign_x509(msg)
            .map_err(|_| rcgen::Error::RemoteKeyError)
    }
}
