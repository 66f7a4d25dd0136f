//! Encryption of private keys at rest (for the server database).
//!
//! A sealed blob is `version (1 byte) ‖ nonce (12 bytes) ‖ AES-256-GCM ciphertext ‖ tag (16
//! bytes)`, encrypted under a 32-byte key-encryption key ([`Kek`]) with a random nonce. The
//! associated data authenticated with it is the version byte followed by the caller's associated
//! data; [`key_aad`] binds a key to its GUN, role and key ID, so a blob copied to another row
//! does not open. The version byte ([`SEAL_VERSION`]) lets the format change later.
//!
//! A KEK comes either from 32 random bytes (kept in a secret store or file) or from a
//! passphrase through PBKDF2-HMAC-SHA256 with at least [`MIN_KDF_ITERATIONS`] iterations and a
//! random 16-byte salt ([`KdfParams`]). PBKDF2 was chosen over Argon2 because `ring` already
//! provides it (no new dependency) and the iteration count follows OWASP's 2023 advice for
//! PBKDF2-SHA256; the derivation runs once at server start, not per request.
//!
//! Private keys are sealed as their unencrypted PKCS#8 encoding ([`seal_private_key`]).

use std::num::NonZeroU32;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use ring::aead;
use ring::rand::SecureRandom as _;
use signet_tuf::key::KeyId;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::pkcs8;
use crate::private_key::PrivateKey;

/// Version byte of the sealed format described in the module documentation.
pub const SEAL_VERSION: u8 = 1;
/// Minimum PBKDF2-HMAC-SHA256 iteration count for passphrase-derived KEKs.
pub const MIN_KDF_ITERATIONS: u32 = 600_000;
/// Salt length of passphrase-derived KEKs.
pub const KDF_SALT_LEN: usize = 16;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const KDF_NAME: &str = "pbkdf2-sha256";

/// A 32-byte key-encryption key, zeroized on drop.
pub struct Kek(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Kek(..)")
    }
}

impl Kek {
    /// A KEK from 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// A KEK from a slice that must be exactly 32 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Result<Self> {
        let array: [u8; 32] = bytes.try_into().map_err(|_| Error::Seal {
            context: "key-encryption key".to_owned(),
            reason: format!("{} bytes given, 32 required", bytes.len()),
        })?;
        Ok(Self::from_bytes(array))
    }

    /// A random KEK.
    pub fn generate() -> Result<Self> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        fill_random(bytes.as_mut_slice(), "key-encryption key")?;
        Ok(Self(bytes))
    }

    /// Derives a KEK from a passphrase with PBKDF2-HMAC-SHA256 and `params`.
    ///
    /// # Errors
    ///
    /// [`Error::Seal`] when the parameters are weaker than [`MIN_KDF_ITERATIONS`] iterations or
    /// a [`KDF_SALT_LEN`]-byte salt, or the passphrase is empty.
    pub fn derive(passphrase: &[u8], params: &KdfParams) -> Result<Self> {
        let weak = |reason: String| Error::Seal {
            context: "key-encryption key derivation".to_owned(),
            reason,
        };
        if passphrase.is_empty() {
            return Err(weak("empty passphrase".to_owned()));
        }
        if params.salt.len() < KDF_SALT_LEN {
            return Err(weak(format!(
                "salt of {} bytes, at least {KDF_SALT_LEN} required",
                params.salt.len()
            )));
        }
        let iterations = NonZeroU32::new(params.iterations)
            .filter(|n| n.get() >= MIN_KDF_ITERATIONS)
            .ok_or_else(|| {
                weak(format!(
                    "{} iterations, at least {MIN_KDF_ITERATIONS} required",
                    params.iterations
                ))
            })?;
        let mut bytes = Zeroizing::new([0u8; 32]);
        ring::pbkdf2::derive(
            ring::pbkdf2::PBKDF2_HMAC_SHA256,
            iterations,
            &params.salt,
            passphrase,
            bytes.as_mut_slice(),
        );
        Ok(Self(bytes))
    }

    fn aead_key(&self) -> Result<aead::LessSafeKey> {
        aead::UnboundKey::new(&aead::AES_256_GCM, self.0.as_slice())
            .map(aead::LessSafeKey::new)
            .map_err(|_| Error::Seal {
                context: "key-encryption key".to_owned(),
                reason: "AES-256-GCM rejected the key".to_owned(),
            })
    }
}

/// Parameters of a passphrase-derived KEK, stored next to the sealed data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KdfParams {
    /// PBKDF2 iteration count.
    pub iterations: u32,
    /// Random salt.
    pub salt: Vec<u8>,
}

impl KdfParams {
    /// Fresh parameters: a random salt and [`MIN_KDF_ITERATIONS`] iterations.
    pub fn generate() -> Result<Self> {
        let mut salt = vec![0u8; KDF_SALT_LEN];
        fill_random(&mut salt, "KDF salt")?;
        Ok(Self {
            iterations: MIN_KDF_ITERATIONS,
            salt,
        })
    }

    /// Text form `pbkdf2-sha256$<iterations>$<salt, base64 without padding>`.
    pub fn encode(&self) -> String {
        format!(
            "{KDF_NAME}${}${}",
            self.iterations,
            STANDARD_NO_PAD.encode(&self.salt)
        )
    }

    /// Parses the form written by [`encode`](Self::encode).
    pub fn parse(text: &str) -> Result<Self> {
        let invalid = || Error::Seal {
            context: "KDF parameters".to_owned(),
            reason: format!("cannot parse {text:?}"),
        };
        let mut parts = text.trim().split('$');
        let (Some(KDF_NAME), Some(iterations), Some(salt), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        Ok(Self {
            iterations: iterations.parse().map_err(|_| invalid())?,
            salt: STANDARD_NO_PAD.decode(salt).map_err(|_| invalid())?,
        })
    }
}

fn fill_random(out: &mut [u8], what: &str) -> Result<()> {
    ring::rand::SystemRandom::new()
        .fill(out)
        .map_err(|_| Error::Seal {
            context: what.to_owned(),
            reason: "system random number generator failed".to_owned(),
        })
}

/// Associated data binding a sealed key to its GUN, role and key ID: each field
/// length-prefixed (4 bytes, big-endian) after a fixed label, so no two different triples give
/// the same bytes.
pub fn key_aad(gun: &str, role: &str, key_id: &KeyId) -> Vec<u8> {
    let mut aad = b"signet sealed private key".to_vec();
    for field in [gun, role, key_id.as_str()] {
        let len = u32::try_from(field.len()).unwrap_or(u32::MAX);
        aad.extend_from_slice(&len.to_be_bytes());
        aad.extend_from_slice(field.as_bytes());
    }
    aad
}

fn full_aad(aad: &[u8]) -> Vec<u8> {
    let mut full = Vec::with_capacity(aad.len() + 1);
    full.push(SEAL_VERSION);
    full.extend_from_slice(aad);
    full
}

/// Encrypts `plaintext` under `kek`, authenticating `aad`.
pub fn seal(kek: &Kek, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
    let key = kek.aead_key()?;
    let mut nonce = [0u8; NONCE_LEN];
    fill_random(&mut nonce, "seal nonce")?;
    let mut out = Vec::with_capacity(1 + NONCE_LEN + plaintext.len() + TAG_LEN);
    out.push(SEAL_VERSION);
    out.extend_from_slice(&nonce);
    let mut in_out = plaintext.to_vec();
    key.seal_in_place_append_tag(
        aead::Nonce::assume_unique_for_key(nonce),
        aead::Aad::from(full_aad(aad)),
        &mut in_out,
    )
    .map_err(|_| Error::Seal {
        context: "sealing".to_owned(),
        reason: "AES-256-GCM encryption failed".to_owned(),
    })?;
    out.extend_from_slice(&in_out);
    Ok(out)
}

/// Decrypts a blob made by [`seal`] with the same `kek` and `aad`.
///
/// # Errors
///
/// [`Error::Seal`] for an unknown version, a truncated blob, a wrong KEK, other associated data
/// or any modification.
pub fn open(kek: &Kek, sealed: &[u8], aad: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let failure = |reason: &str| Error::Seal {
        context: "opening".to_owned(),
        reason: reason.to_owned(),
    };
    let (&version, rest) = sealed.split_first().ok_or_else(|| failure("empty blob"))?;
    if version != SEAL_VERSION {
        return Err(failure(&format!("unknown format version {version}")));
    }
    if rest.len() < NONCE_LEN + TAG_LEN {
        return Err(failure("blob too short"));
    }
    let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
    let nonce = aead::Nonce::try_assume_unique_for_key(nonce).map_err(|_| failure("nonce"))?;
    let key = kek.aead_key()?;
    let mut in_out = Zeroizing::new(ciphertext.to_vec());
    let plain_len = key
        .open_in_place(nonce, aead::Aad::from(full_aad(aad)), &mut in_out)
        .map_err(|_| failure("authentication failed: wrong key, associated data or blob"))?
        .len();
    in_out.truncate(plain_len);
    Ok(in_out)
}

/// Seals `key` (as unencrypted PKCS#8) bound to `gun` and `role`.
pub fn seal_private_key(kek: &Kek, key: &PrivateKey, gun: &str, role: &str) -> Result<Vec<u8>> {
    let plaintext = pkcs8::encode_private_key_info(key)?;
    seal(kek, &plaintext, &key_aad(gun, role, key.key_id()))
}

/// Opens a key sealed by [`seal_private_key`] for `gun`, `role` and `key_id`, and checks that
/// it is that key.
pub fn open_private_key(
    kek: &Kek,
    sealed: &[u8],
    gun: &str,
    role: &str,
    key_id: &KeyId,
) -> Result<PrivateKey> {
    let context = format!("{gun}/{role}/{key_id}");
    let plaintext = open(kek, sealed, &key_aad(gun, role, key_id)).map_err(|e| match e {
        Error::Seal { reason, .. } => Error::Seal {
            context: context.clone(),
            reason,
        },
        other => other,
    })?;
    let key = pkcs8::decode_private_key_info(&plaintext, &context)?;
    if key.key_id() != key_id {
        return Err(Error::Seal {
            context,
            reason: format!("blob holds key {}", key.key_id()),
        });
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_tamper_detection() {
        let kek = Kek::generate().unwrap();
        let sealed = seal(&kek, b"secret", b"aad").unwrap();
        assert_eq!(sealed[0], SEAL_VERSION);
        assert_eq!(sealed.len(), 1 + 12 + 6 + 16);
        assert_eq!(open(&kek, &sealed, b"aad").unwrap().as_slice(), b"secret");
        assert_ne!(
            seal(&kek, b"secret", b"aad").unwrap(),
            sealed,
            "random nonce"
        );

        assert!(open(&kek, &sealed, b"other").is_err());
        assert!(open(&Kek::generate().unwrap(), &sealed, b"aad").is_err());
        for i in 0..sealed.len() {
            let mut tampered = sealed.clone();
            tampered[i] ^= 1;
            assert!(open(&kek, &tampered, b"aad").is_err(), "byte {i}");
        }
        assert!(open(&kek, &sealed[..20], b"aad").is_err());
        assert!(open(&kek, &[], b"aad").is_err());
    }

    #[test]
    fn private_keys_are_bound_to_gun_role_and_id() {
        let kek = Kek::from_bytes([9; 32]);
        for key in [
            PrivateKey::generate_ecdsa().unwrap(),
            PrivateKey::generate_ed25519().unwrap(),
        ] {
            let sealed = seal_private_key(&kek, &key, "docker.io/lib/app", "timestamp").unwrap();
            let back = open_private_key(
                &kek,
                &sealed,
                "docker.io/lib/app",
                "timestamp",
                key.key_id(),
            )
            .unwrap();
            assert_eq!(back.key_id(), key.key_id());
            assert!(
                open_private_key(
                    &kek,
                    &sealed,
                    "docker.io/lib/other",
                    "timestamp",
                    key.key_id()
                )
                .is_err()
            );
            assert!(
                open_private_key(&kek, &sealed, "docker.io/lib/app", "snapshot", key.key_id())
                    .is_err()
            );
        }
        assert_ne!(
            key_aad("ab", "c", &KeyId::sha256_of(b"")),
            key_aad("a", "bc", &KeyId::sha256_of(b""))
        );
    }

    #[test]
    fn passphrase_kdf_enforces_strength_and_is_deterministic() {
        let params = KdfParams::generate().unwrap();
        assert_eq!(KdfParams::parse(&params.encode()).unwrap(), params);
        let a = Kek::derive(b"correct horse", &params).unwrap();
        let b = Kek::derive(b"correct horse", &params).unwrap();
        assert_eq!(a.0.as_slice(), b.0.as_slice());
        let sealed = seal(&a, b"x", b"").unwrap();
        assert!(open(&Kek::derive(b"wrong horse", &params).unwrap(), &sealed, b"").is_err());

        let weak = KdfParams {
            iterations: 1000,
            salt: params.salt.clone(),
        };
        assert!(Kek::derive(b"pw", &weak).is_err());
        let short_salt = KdfParams {
            iterations: MIN_KDF_ITERATIONS,
            salt: vec![1; 8],
        };
        assert!(Kek::derive(b"pw", &short_salt).is_err());
        assert!(Kek::derive(b"", &params).is_err());
        assert!(KdfParams::parse("scrypt$1$AAAA").is_err());
        assert!(Kek::from_slice(&[0; 31]).is_err());
    }
}
