//! Delegation public keys read from PEM files with Notary's rules: the first PEM block is a
//! `CERTIFICATE` (validated: validity period, signature algorithm, RSA size; it becomes an
//! `ecdsa-x509` / `rsa-x509` key) or a `PUBLIC KEY` (SPKI; ECDSA or RSA, Ed25519 refused).
//! Files larger than [`MAX_PUBLIC_KEY_FILE`] are refused.

use std::path::Path;

use chrono::{DateTime, Utc};
use signet_tuf::notary::pem;
use signet_tuf::x509::{self, Certificate};
use signet_tuf::{KeyType, PublicKey};

use crate::error::{Error, Result, StagingError};

/// Largest public key file read (Docker's limit, 1 MiB).
pub const MAX_PUBLIC_KEY_FILE: u64 = 1 << 20;

/// Parses the public key in `text` (see the module documentation), checking certificates
/// against `now`. `path` only names the file in errors.
///
/// # Errors
///
/// [`StagingError::PublicKeyInvalid`] with the reason.
pub fn parse_public_key(path: &Path, text: &str, now: DateTime<Utc>) -> Result<PublicKey> {
    let invalid = |reason: String| {
        Error::Staging(StagingError::PublicKeyInvalid {
            path: path.to_owned(),
            reason,
        })
    };
    if text.len() as u64 > MAX_PUBLIC_KEY_FILE {
        return Err(invalid("the file is larger than 1 MiB".to_owned()));
    }
    let block =
        pem::decode_first(text).ok_or_else(|| invalid("no valid public key found".to_owned()))?;
    match block.label.as_str() {
        pem::CERTIFICATE => {
            let cert = Certificate::from_der(&block.contents)
                .map_err(|e| invalid(format!("could not parse provided certificate: {e}")))?;
            cert.validate(Some(now))
                .map_err(|e| invalid(format!("invalid certificate: {e}")))?;
            x509::bundle_to_key(&cert, &[]).map_err(|e| invalid(e.to_string()))
        }
        pem::PUBLIC_KEY => {
            let key =
                PublicKey::from_spki_der(&block.contents).map_err(|e| invalid(e.to_string()))?;
            if matches!(key.keytype(), KeyType::Ecdsa | KeyType::Rsa) {
                Ok(key)
            } else {
                Err(invalid(
                    "only RSA or ECDSA keys are currently supported".to_owned(),
                ))
            }
        }
        other => Err(invalid(format!(
            "unsupported PEM block type {other:?}, expected CERTIFICATE or PUBLIC KEY"
        ))),
    }
}

/// Reads and parses the delegation public key file `path` (see the module documentation).
///
/// # Errors
///
/// [`StagingError::PublicKeyFileMissing`], [`StagingError::PublicKeyFileUnreadable`],
/// [`StagingError::PublicKeyInvalid`].
pub fn read_public_key(path: &Path) -> Result<PublicKey> {
    let unreadable = |source| {
        Error::Staging(StagingError::PublicKeyFileUnreadable {
            path: path.to_owned(),
            source,
        })
    };
    let metadata = std::fs::metadata(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::Staging(StagingError::PublicKeyFileMissing {
                path: path.to_owned(),
            })
        } else {
            unreadable(e)
        }
    })?;
    if metadata.len() > MAX_PUBLIC_KEY_FILE {
        return Err(Error::Staging(StagingError::PublicKeyInvalid {
            path: path.to_owned(),
            reason: "the file is larger than 1 MiB".to_owned(),
        }));
    }
    let text = std::fs::read_to_string(path).map_err(unreadable)?;
    parse_public_key(path, &text, Utc::now())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// The SPKI DER of a raw Ed25519 public key.
    fn ed25519_spki(raw: &[u8]) -> Vec<u8> {
        let mut der = vec![
            0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
        ];
        der.extend_from_slice(raw);
        der
    }

    #[test]
    fn notary_rules() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            read_public_key(&dir.path().join("none.pem")),
            Err(Error::Staging(StagingError::PublicKeyFileMissing { .. }))
        ));
        let garbage = dir.path().join("garbage.pem");
        std::fs::write(&garbage, "not pem").unwrap();
        assert!(matches!(
            read_public_key(&garbage),
            Err(Error::Staging(StagingError::PublicKeyInvalid { .. }))
        ));
        let big = dir.path().join("big.pem");
        std::fs::write(&big, vec![b'a'; (MAX_PUBLIC_KEY_FILE + 1) as usize]).unwrap();
        assert!(matches!(
            read_public_key(&big),
            Err(Error::Staging(StagingError::PublicKeyInvalid { reason, .. }))
                if reason.contains("1 MiB")
        ));

        // PUBLIC KEY: ECDSA accepted as an `ecdsa` key.
        let key = signet_signer::PrivateKey::generate_ecdsa().unwrap();
        let mut block = pem::PemBlock::new(pem::PUBLIC_KEY, key.public_key().public().to_vec());
        block.set_header("role", "alice");
        let good = dir.path().join("alice.pem");
        std::fs::write(&good, block.encode().unwrap()).unwrap();
        let read = read_public_key(&good).unwrap();
        assert_eq!(read.key_id(), *key.key_id());
        assert_eq!(*read.keytype(), KeyType::Ecdsa);

        // CERTIFICATE: validated, becomes `ecdsa-x509` with the private key's canonical ID.
        let cert = signet_signer::cert::generate_root_certificate(&key, "example.com/d").unwrap();
        let cert_file = dir.path().join("cert.pem");
        std::fs::write(&cert_file, &cert.pem).unwrap();
        let read = read_public_key(&cert_file).unwrap();
        assert_eq!(*read.keytype(), KeyType::EcdsaX509);
        assert_eq!(read.canonical_key_id().unwrap(), *key.key_id());
        // ...and refused once expired.
        let later = Utc::now() + chrono::TimeDelta::days(365 * 20);
        assert!(matches!(
            parse_public_key(&cert_file, &cert.pem, later),
            Err(Error::Staging(StagingError::PublicKeyInvalid { reason, .. }))
                if reason.contains("invalid certificate")
        ));

        // Ed25519 refused.
        let ed = signet_signer::PrivateKey::generate_ed25519().unwrap();
        let spki = ed25519_spki(ed.public_key().public());
        let ed_pem = pem::PemBlock::new(pem::PUBLIC_KEY, spki).encode().unwrap();
        assert!(matches!(
            parse_public_key(&good, &ed_pem, Utc::now()),
            Err(Error::Staging(StagingError::PublicKeyInvalid { reason, .. }))
                if reason.contains("only RSA or ECDSA")
        ));
    }
}
