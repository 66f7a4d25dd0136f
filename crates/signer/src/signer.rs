//! The signing trait used by the client and the server, and the signer of root certificate
//! keys.
//!
//! # Root keys and certificates
//!
//! A root key appears in `root.json` as an `ecdsa-x509` key (its public value is a certificate),
//! and signatures name that certificate key's TUF ID. The private key behind it is an ordinary
//! `ecdsa` key whose ID — the *canonical* ID of the certificate key — names its file
//! (`private/<canonical id>.key`). [`CertifiedSigner`] presents a plain signer under its
//! certificate key, and [`CryptoService::signer_for`](crate::CryptoService::signer_for) builds one whenever it is asked for an
//! x509 key.

use std::sync::Arc;

use signet_tuf::key::{KeyId, PublicKey};
use signet_tuf::signature::Signature;

use crate::error::{Error, Result};
use crate::private_key::PrivateKey;

/// Something that signs TUF metadata: a software key, a hardware key, a remote signer.
///
/// Object safe and thread safe: the client and the server hold `Arc<dyn Signer>`.
pub trait Signer: Send + Sync {
    /// The TUF public key signatures are made for. Its key ID is the `keyid` of every signature
    /// [`sign`](Signer::sign) returns.
    fn public_key(&self) -> &PublicKey;

    /// Signs `msg` (the canonical JSON of a `signed` value) in Notary's format: `ecdsa` raw
    /// `r‖s` over SHA-256, `eddsa`, or `rsapss` with SHA-256 and salt 32.
    fn sign(&self, msg: &[u8]) -> Result<Signature, Error>;
}

impl Signer for PrivateKey {
    fn public_key(&self) -> &PublicKey {
        Self::public_key(self)
    }

    fn sign(&self, msg: &[u8]) -> Result<Signature> {
        Self::sign(self, msg)
    }
}

/// Signs `msg` with an ECDSA P-256 `signer` (SHA-256) and returns the signature as ASN.1 DER
/// (`SEQUENCE { r INTEGER, s INTEGER }`), the form X.509, sigstore/cosign and most tools
/// expect, converted from the raw `r‖s` of Notary's format.
///
/// # Errors
///
/// The signer's own errors; [`Error::Signing`] when its signature is not a raw P-256 ECDSA
/// signature (an Ed25519 or RSA key).
pub fn sign_ecdsa_der(signer: &dyn Signer, msg: &[u8]) -> Result<Vec<u8>> {
    let signature = signer.sign(msg)?;
    // An Ed25519 signature is 64 bytes too: the method tells them apart.
    if signature.method != "ecdsa" {
        return Err(Error::Signing {
            key_id: signature.keyid.to_string(),
            reason: format!(
                "a {} signature is not a raw P-256 ECDSA signature",
                signature.method
            ),
        });
    }
    let raw = p256::ecdsa::Signature::from_slice(&signature.sig).map_err(|e| Error::Signing {
        key_id: signature.keyid.to_string(),
        reason: format!("not a raw P-256 ECDSA signature: {e}"),
    })?;
    Ok(raw.to_der().as_bytes().to_vec())
}

/// A signer presented under an x509 certificate key (`ecdsa-x509`/`rsa-x509`) whose canonical
/// key ID is the inner signer's key ID: signatures carry the certificate key's TUF ID.
pub struct CertifiedSigner {
    inner: Arc<dyn Signer>,
    certificate_key: PublicKey,
    key_id: KeyId,
}

impl std::fmt::Debug for CertifiedSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertifiedSigner")
            .field("key_id", &self.key_id)
            .field("canonical_id", &self.inner.public_key().key_id())
            .finish()
    }
}

impl CertifiedSigner {
    /// Pairs `inner` with `certificate_key`.
    ///
    /// # Errors
    ///
    /// [`Error::CertificateKeyMismatch`] when the certificate's key is not `inner`'s public key
    /// (or `certificate_key` is not an x509 key); [`Error::PublicKey`] when the certificate
    /// does not parse.
    pub fn new(inner: Arc<dyn Signer>, certificate_key: PublicKey) -> Result<Self> {
        let key_id = certificate_key.key_id();
        let canonical_id =
            certificate_key
                .canonical_key_id()
                .map_err(|source| Error::PublicKey {
                    context: key_id.to_string(),
                    source,
                })?;
        let inner_id = inner.public_key().key_id();
        if !certificate_key.keytype().is_x509() || canonical_id != inner_id {
            return Err(Error::CertificateKeyMismatch {
                cert_key_id: key_id.to_string(),
                canonical_id: canonical_id.to_string(),
                key_id: inner_id.to_string(),
            });
        }
        Ok(Self {
            inner,
            certificate_key,
            key_id,
        })
    }

    /// The signer behind the certificate (its key ID is the canonical ID).
    pub fn inner(&self) -> &Arc<dyn Signer> {
        &self.inner
    }
}

impl Signer for CertifiedSigner {
    fn public_key(&self) -> &PublicKey {
        &self.certificate_key
    }

    fn sign(&self, msg: &[u8]) -> Result<Signature> {
        let mut signature = self.inner.sign(msg)?;
        signature.keyid = self.key_id.clone();
        Ok(signature)
    }
}

#[cfg(test)]
mod tests {
    use p256::ecdsa::signature::Verifier as _;
    use p256::pkcs8::DecodePublicKey as _;

    use super::*;
    use crate::private_key::KeyAlgorithm;

    #[test]
    fn der_signature_verifies_with_p256() {
        let key = PrivateKey::generate(KeyAlgorithm::Ecdsa).unwrap();
        let msg = b"payload bytes";
        let der = sign_ecdsa_der(&key, msg).unwrap();
        // SEQUENCE of two INTEGERs, at most 72 bytes.
        assert_eq!(der[0], 0x30, "{der:?}");
        assert!(der.len() <= 72 && der.len() >= 8, "{}", der.len());
        let verifying =
            p256::ecdsa::VerifyingKey::from_public_key_der(key.public_key().public()).unwrap();
        let signature = p256::ecdsa::Signature::from_der(&der).unwrap();
        verifying.verify(msg, &signature).unwrap();
        assert!(verifying.verify(b"other bytes", &signature).is_err());
        // The raw form of the same signature is Notary's.
        let raw = key.sign(msg).unwrap();
        assert_eq!(raw.sig.len(), 64);
        key.public_key().verify(&raw.method, msg, &raw.sig).unwrap();
    }

    #[test]
    fn der_signature_refuses_other_key_types() {
        let key = PrivateKey::generate(KeyAlgorithm::Ed25519).unwrap();
        let error = sign_ecdsa_der(&key, b"x").unwrap_err();
        assert!(matches!(error, Error::Signing { .. }), "{error}");
        assert!(error.to_string().contains("P-256"), "{error}");
    }
}
