//! PKCS#8 private keys as Notary writes and reads them.
//!
//! Writing produces exactly Go Notary's layout (`tuf/utils/pkcs8.go`):
//!
//! | key | version | AlgorithmIdentifier | `privateKey` contents |
//! |---|---|---|---|
//! | ECDSA P-256 | 1 (without `publicKey`) | `{ id-ecPublicKey, prime256v1 }` | SEC1 `ECPrivateKey` with `[0]` curve and `[1]` public key |
//! | RSA | 0 | `{ rsaEncryption }` (no NULL) | PKCS#1 `RSAPrivateKey` |
//! | Ed25519 | 0 | `{ 1.3.6.1.4.1.11591.15.1 }` | 96 raw bytes: public ‖ seed ‖ public |
//!
//! and encrypts it as `EncryptedPrivateKeyInfo` with PBES2: PBKDF2-HMAC-SHA1 (no `prf` field, no
//! `keyLength`), 8-byte salt, 2048 iterations, AES-256-CBC with a 16-byte IV and PKCS#7 padding.
//!
//! Reading accepts all of the above, standard PKCS#8 (RFC 5958 versions 0 and 1, RSA with a NULL
//! parameter, RFC 8410 Ed25519) and, like Go, ignores the version number, a `prf` field (HMAC-SHA1
//! is always used), the padding bytes and any trailing data after the key structure.

use aes::cipher::block_padding::{NoPadding, Pkcs7};
use aes::cipher::{BlockDecryptMut as _, BlockEncryptMut as _, KeyIvInit as _};
use der::{Tag, TagNumber};
use ring::rand::SecureRandom as _;
use rsa::pkcs1::{DecodeRsaPrivateKey as _, EncodeRsaPrivateKey as _};
use zeroize::Zeroizing;

use crate::asn1::{self, DerReader};
use crate::error::{Error, Result};
use crate::private_key::{KeyAlgorithm, PrivateKey};

/// PBKDF2 iteration count Notary uses for key files.
pub const NOTARY_PBKDF2_ITERATIONS: u32 = 2048;
/// Salt length Notary uses for key files.
pub const NOTARY_SALT_LEN: usize = 8;
/// Upper bound on the PBKDF2 iteration count accepted from a file, so that a crafted file cannot
/// make decryption run for hours.
pub const MAX_PBKDF2_ITERATIONS: u64 = 10_000_000;
const AES_BLOCK: usize = 16;

/// Encodes `key` as an unencrypted PKCS#8 `PrivateKeyInfo` in Notary's layout.
pub fn encode_private_key_info(key: &PrivateKey) -> Result<Zeroizing<Vec<u8>>> {
    let context = key.key_id().to_string();
    match key.algorithm() {
        KeyAlgorithm::Ecdsa => {
            let sec1 = encode_sec1(key)?;
            let algorithm = asn1::sequence(&[
                &asn1::oid(&asn1::OID_EC_PUBLIC_KEY),
                &asn1::oid(&asn1::OID_P256),
            ]);
            Ok(asn1::sequence(&[
                &asn1::uint(1),
                &algorithm,
                &asn1::tlv(asn1::TAG_OCTET_STRING, &sec1),
            ]))
        }
        KeyAlgorithm::Rsa => {
            let rsa = key
                .rsa_key()
                .ok_or_else(|| Error::malformed(&context, "not an RSA key"))?;
            let pkcs1 = rsa
                .to_pkcs1_der()
                .map_err(|e| Error::malformed(&context, e.to_string()))?;
            let algorithm = asn1::sequence(&[&asn1::oid(&asn1::OID_RSA_ENCRYPTION)]);
            Ok(asn1::sequence(&[
                &asn1::uint(0),
                &algorithm,
                &asn1::tlv(asn1::TAG_OCTET_STRING, pkcs1.as_bytes()),
            ]))
        }
        KeyAlgorithm::Ed25519 => {
            let (seed, public) = key
                .ed25519_parts()
                .ok_or_else(|| Error::malformed(&context, "not an Ed25519 key"))?;
            let mut raw = Zeroizing::new(Vec::with_capacity(96));
            raw.extend_from_slice(&public);
            raw.extend_from_slice(seed.as_slice());
            raw.extend_from_slice(&public);
            let algorithm = asn1::sequence(&[&asn1::oid(&asn1::OID_ED25519_NOTARY)]);
            Ok(asn1::sequence(&[
                &asn1::uint(0),
                &algorithm,
                &asn1::tlv(asn1::TAG_OCTET_STRING, &raw),
            ]))
        }
    }
}

/// SEC1 `ECPrivateKey` exactly as Go's `x509.MarshalECPrivateKey` writes it.
fn encode_sec1(key: &PrivateKey) -> Result<Zeroizing<Vec<u8>>> {
    let (scalar, point) = key
        .ecdsa_parts()
        .ok_or_else(|| Error::malformed(key.key_id().as_str(), "not an ECDSA key"))?;
    let mut bits = Vec::with_capacity(point.len() + 1);
    bits.push(0);
    bits.extend_from_slice(&point);
    Ok(asn1::sequence(&[
        &asn1::uint(1),
        &asn1::tlv(asn1::TAG_OCTET_STRING, &scalar),
        &asn1::constructed(0xA0, &[&asn1::oid(&asn1::OID_P256)]),
        &asn1::constructed(0xA1, &[&asn1::tlv(asn1::TAG_BIT_STRING, &bits)]),
    ]))
}

/// Decodes an unencrypted PKCS#8 `PrivateKeyInfo`, leniently (see the module docs).
pub fn decode_private_key_info(der: &[u8], context: &str) -> Result<PrivateKey> {
    let malformed = |reason: String| Error::malformed(context, reason);
    let mut outer = DerReader::new(der);
    let mut info = outer.sequence("PrivateKeyInfo").map_err(malformed)?;
    info.small_uint("PrivateKeyInfo.version")
        .map_err(malformed)?;
    let mut algorithm = info.sequence("privateKeyAlgorithm").map_err(malformed)?;
    let oid = algorithm
        .oid("privateKeyAlgorithm.algorithm")
        .map_err(malformed)?;
    let parameters = if algorithm.is_empty() {
        None
    } else {
        Some(algorithm.read().map_err(malformed)?)
    };
    let private = info.octet_string("privateKey").map_err(malformed)?;

    if oid == asn1::OID_EC_PUBLIC_KEY {
        let curve = match parameters {
            Some(p) if p.tag == Tag::ObjectIdentifier => Some(
                der::asn1::ObjectIdentifier::from_bytes(p.value)
                    .map_err(|e| malformed(format!("namedCurve: {e}")))?,
            ),
            _ => None,
        };
        decode_sec1(private, curve, context)
    } else if oid == asn1::OID_RSA_ENCRYPTION {
        decode_pkcs1(private, context)
    } else if oid == asn1::OID_ED25519_NOTARY {
        decode_notary_ed25519(private, context)
    } else if oid == asn1::OID_ED25519 {
        let seed = DerReader::new(private)
            .octet_string("CurvePrivateKey")
            .map_err(malformed)?;
        let seed: &[u8; 32] = seed
            .try_into()
            .map_err(|_| malformed(format!("Ed25519 seed has {} bytes", seed.len())))?;
        PrivateKey::from_ed25519_seed(seed)
    } else {
        Err(Error::UnsupportedKey {
            context: context.to_owned(),
            kind: format!("algorithm {oid}"),
        })
    }
}

/// Decodes a SEC1 `ECPrivateKey`. `curve` is the curve named by an enclosing PKCS#8 structure;
/// the `[0]` parameters inside the SEC1 structure take precedence when present.
pub fn decode_sec1(
    der: &[u8],
    curve: Option<der::asn1::ObjectIdentifier>,
    context: &str,
) -> Result<PrivateKey> {
    let malformed = |reason: String| Error::malformed(context, reason);
    let mut outer = DerReader::new(der);
    let mut key = outer.sequence("ECPrivateKey").map_err(malformed)?;
    let version = key.small_uint("ECPrivateKey.version").map_err(malformed)?;
    if version != 1 {
        return Err(malformed(format!("ECPrivateKey version {version}")));
    }
    let scalar = key
        .octet_string("ECPrivateKey.privateKey")
        .map_err(malformed)?;
    let mut curve = curve;
    let params_tag = Tag::ContextSpecific {
        constructed: true,
        number: TagNumber::N0,
    };
    if key.peek_tag() == Some(params_tag) {
        let params = key.read().map_err(malformed)?;
        curve = Some(
            DerReader::new(params.value)
                .oid("ECPrivateKey.parameters")
                .map_err(malformed)?,
        );
    }
    match curve {
        Some(oid) if oid == asn1::OID_P256 => {
            if scalar.len() > 32 {
                return Err(malformed(format!(
                    "P-256 private key has {} bytes",
                    scalar.len()
                )));
            }
            PrivateKey::from_p256_scalar(scalar, context)
        }
        Some(oid) => Err(Error::UnsupportedKey {
            context: context.to_owned(),
            kind: format!("elliptic curve {oid}"),
        }),
        None => Err(malformed("ECPrivateKey without named curve".to_owned())),
    }
}

/// Decodes a PKCS#1 `RSAPrivateKey`.
pub fn decode_pkcs1(der: &[u8], context: &str) -> Result<PrivateKey> {
    let key = rsa::RsaPrivateKey::from_pkcs1_der(der)
        .map_err(|e| Error::malformed(context, format!("RSAPrivateKey: {e}")))?;
    PrivateKey::from_rsa(key, context)
}

/// Decodes Notary's raw Ed25519 private key: 96 bytes = public key ‖ 64-byte Go private key
/// (seed ‖ public key). The embedded public keys must match the seed.
pub fn decode_notary_ed25519(raw: &[u8], context: &str) -> Result<PrivateKey> {
    if raw.len() != 96 {
        return Err(Error::malformed(
            context,
            format!("Ed25519 key has {} bytes, expected 96", raw.len()),
        ));
    }
    let seed: &[u8; 32] = raw[32..64]
        .try_into()
        .map_err(|_| Error::malformed(context, "Ed25519 seed"))?;
    let key = PrivateKey::from_ed25519_seed(seed)?;
    let (_, public) = key
        .ed25519_parts()
        .ok_or_else(|| Error::malformed(context, "Ed25519 key"))?;
    if raw[..32] != public || raw[64..] != public {
        return Err(Error::malformed(
            context,
            "Ed25519 public key does not match the seed",
        ));
    }
    Ok(key)
}

/// Encrypts `key` into an `EncryptedPrivateKeyInfo` exactly as Notary does (fresh random salt
/// and IV).
pub fn encrypt(key: &PrivateKey, passphrase: &[u8]) -> Result<Vec<u8>> {
    let rng = ring::rand::SystemRandom::new();
    let mut salt = [0u8; NOTARY_SALT_LEN];
    let mut iv = [0u8; AES_BLOCK];
    rng.fill(&mut salt)
        .and_then(|()| rng.fill(&mut iv))
        .map_err(|_| Error::KeyGeneration {
            algorithm: "PBES2 salt".to_owned(),
            reason: "system random number generator failed".to_owned(),
        })?;
    encrypt_with_parameters(key, passphrase, &salt, &iv, NOTARY_PBKDF2_ITERATIONS)
}

/// Encrypts `key` with explicit PBES2 parameters (Notary uses an 8-byte salt and 2048
/// iterations).
pub fn encrypt_with_parameters(
    key: &PrivateKey,
    passphrase: &[u8],
    salt: &[u8],
    iv: &[u8; AES_BLOCK],
    iterations: u32,
) -> Result<Vec<u8>> {
    let plaintext = encode_private_key_info(key)?;
    let derived = derive_key(passphrase, salt, iterations);
    let ciphertext = cbc::Encryptor::<aes::Aes256>::new(derived.as_slice().into(), iv.into())
        .encrypt_padded_vec_mut::<Pkcs7>(&plaintext);
    let kdf = asn1::sequence(&[
        &asn1::oid(&asn1::OID_PBKDF2),
        &asn1::sequence(&[
            &asn1::tlv(asn1::TAG_OCTET_STRING, salt),
            &asn1::uint(u64::from(iterations)),
        ]),
    ]);
    let cipher = asn1::sequence(&[
        &asn1::oid(&asn1::OID_AES256_CBC),
        &asn1::tlv(asn1::TAG_OCTET_STRING, iv),
    ]);
    let algorithm = asn1::sequence(&[
        &asn1::oid(&asn1::OID_PBES2),
        &asn1::sequence(&[&kdf, &cipher]),
    ]);
    Ok(asn1::sequence(&[&algorithm, &asn1::tlv(asn1::TAG_OCTET_STRING, &ciphertext)]).to_vec())
}

fn derive_key(passphrase: &[u8], salt: &[u8], iterations: u32) -> Zeroizing<[u8; 32]> {
    let mut derived = Zeroizing::new([0u8; 32]);
    pbkdf2::pbkdf2_hmac::<sha1::Sha1>(passphrase, salt, iterations, derived.as_mut_slice());
    derived
}

/// Decrypts an `EncryptedPrivateKeyInfo` the way Notary does.
///
/// Returns [`Error::WrongPassphrase`] when the decrypted bytes are not a private key structure,
/// [`Error::UnsupportedEncryption`] for schemes other than PBES2 / PBKDF2 / AES-256-CBC.
pub fn decrypt(der: &[u8], passphrase: &[u8], context: &str) -> Result<PrivateKey> {
    let plaintext = decrypt_to_der(der, passphrase, context)?;
    decode_decrypted(&plaintext, context)
}

/// Decrypts an `EncryptedPrivateKeyInfo` and returns the inner `PrivateKeyInfo` DER as
/// written (padding and any trailing bytes removed), without interpreting the key.
///
/// Returns [`Error::WrongPassphrase`] when the decrypted bytes do not start with a DER
/// SEQUENCE.
pub fn decrypt_to_der(der: &[u8], passphrase: &[u8], context: &str) -> Result<Zeroizing<Vec<u8>>> {
    let malformed = |reason: String| Error::malformed(context, reason);
    let unsupported = |scheme: String| Error::UnsupportedEncryption {
        context: context.to_owned(),
        scheme,
    };
    let mut outer = DerReader::new(der);
    let mut info = outer
        .sequence("EncryptedPrivateKeyInfo")
        .map_err(malformed)?;
    let mut algorithm = info.sequence("encryptionAlgorithm").map_err(malformed)?;
    let scheme = algorithm
        .oid("encryptionAlgorithm.algorithm")
        .map_err(malformed)?;
    if scheme != asn1::OID_PBES2 {
        return Err(unsupported(format!("{scheme} (only PBES2 is supported)")));
    }
    let mut params = algorithm.sequence("PBES2-params").map_err(malformed)?;
    let mut kdf = params.sequence("keyDerivationFunc").map_err(malformed)?;
    let kdf_oid = kdf.oid("keyDerivationFunc.algorithm").map_err(malformed)?;
    if kdf_oid != asn1::OID_PBKDF2 {
        return Err(unsupported(format!("{kdf_oid} (only PBKDF2 is supported)")));
    }
    let mut kdf_params = kdf.sequence("PBKDF2-params").map_err(malformed)?;
    let salt = kdf_params.octet_string("PBKDF2 salt").map_err(malformed)?;
    let iterations = kdf_params
        .small_uint("PBKDF2 iterationCount")
        .map_err(malformed)?;
    if iterations == 0 || iterations > MAX_PBKDF2_ITERATIONS {
        return Err(unsupported(format!("PBKDF2 with {iterations} iterations")));
    }
    let iterations = u32::try_from(iterations)
        .map_err(|_| unsupported(format!("PBKDF2 with {iterations} iterations")))?;
    let mut cipher = params.sequence("encryptionScheme").map_err(malformed)?;
    let cipher_oid = cipher
        .oid("encryptionScheme.algorithm")
        .map_err(malformed)?;
    if cipher_oid != asn1::OID_AES256_CBC {
        return Err(unsupported(format!(
            "{cipher_oid} (only AES-256-CBC is supported)"
        )));
    }
    let iv = cipher.octet_string("AES-256-CBC IV").map_err(malformed)?;
    let iv: &[u8; AES_BLOCK] = iv
        .try_into()
        .map_err(|_| malformed(format!("IV has {} bytes", iv.len())))?;
    let ciphertext = info.octet_string("encryptedData").map_err(malformed)?;
    if ciphertext.is_empty() || ciphertext.len() % AES_BLOCK != 0 {
        return Err(malformed(format!(
            "encrypted data length {} is not a positive multiple of {AES_BLOCK}",
            ciphertext.len()
        )));
    }

    let derived = derive_key(passphrase, salt, iterations);
    let mut plaintext = Zeroizing::new(ciphertext.to_vec());
    cbc::Decryptor::<aes::Aes256>::new(derived.as_slice().into(), iv.into())
        .decrypt_padded_mut::<NoPadding>(&mut plaintext)
        .map_err(|_| malformed("AES-256-CBC decryption".to_owned()))?;
    let inner_len = {
        let mut reader = DerReader::new(&plaintext);
        let rest_before = plaintext.len();
        let tlv = reader.read().map_err(|_| Error::WrongPassphrase {
            key: context.to_owned(),
        })?;
        if tlv.tag != Tag::Sequence {
            return Err(Error::WrongPassphrase {
                key: context.to_owned(),
            });
        }
        rest_before - reader.remaining_len()
    };
    plaintext.truncate(inner_len);
    Ok(plaintext)
}

/// Parses freshly decrypted key bytes; a structural failure means the passphrase was wrong.
pub(crate) fn decode_decrypted(plaintext: &[u8], context: &str) -> Result<PrivateKey> {
    match decode_private_key_info(plaintext, context) {
        Ok(key) => Ok(key),
        Err(e @ Error::UnsupportedKey { .. }) => Err(e),
        Err(_) => Err(Error::WrongPassphrase {
            key: context.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same_key(a: &PrivateKey, b: &PrivateKey) {
        assert_eq!(a.algorithm(), b.algorithm());
        assert_eq!(a.key_id(), b.key_id());
    }

    #[test]
    fn ecdsa_layout_matches_go() {
        let key = PrivateKey::from_p256_scalar(&[0x11; 32], "t").unwrap();
        let der = encode_private_key_info(&key).unwrap();
        let mut outer = DerReader::new(&der);
        let mut info = outer.sequence("x").unwrap();
        assert_eq!(info.small_uint("v").unwrap(), 1);
        let mut alg = info.sequence("a").unwrap();
        assert_eq!(alg.oid("o").unwrap(), asn1::OID_EC_PUBLIC_KEY);
        assert_eq!(alg.oid("c").unwrap(), asn1::OID_P256);
        let sec1 = info.octet_string("k").unwrap();
        assert!(info.is_empty(), "no publicKey field, like Go");
        // Go's MarshalECPrivateKey: SEQ { 1, OCTET(32), [0] OID, [1] BIT STRING(65+1) }.
        assert_eq!(sec1.len(), 2 + 3 + 34 + 12 + 70);
        same_key(&decode_private_key_info(&der, "t").unwrap(), &key);
    }

    #[test]
    fn rsa_layout_has_no_null_parameter() {
        let key = PrivateKey::generate_rsa(2048).unwrap();
        let der = encode_private_key_info(&key).unwrap();
        let mut outer = DerReader::new(&der);
        let mut info = outer.sequence("x").unwrap();
        assert_eq!(info.small_uint("v").unwrap(), 0);
        let mut alg = info.sequence("a").unwrap();
        assert_eq!(alg.oid("o").unwrap(), asn1::OID_RSA_ENCRYPTION);
        assert!(alg.is_empty());
        same_key(&decode_private_key_info(&der, "t").unwrap(), &key);
    }

    #[test]
    fn ed25519_uses_old_oid_and_96_raw_bytes() {
        let key = PrivateKey::from_ed25519_seed(&[3u8; 32]).unwrap();
        let der = encode_private_key_info(&key).unwrap();
        let mut outer = DerReader::new(&der);
        let mut info = outer.sequence("x").unwrap();
        assert_eq!(info.small_uint("v").unwrap(), 0);
        assert_eq!(
            info.sequence("a").unwrap().oid("o").unwrap(),
            asn1::OID_ED25519_NOTARY
        );
        let raw = info.octet_string("k").unwrap();
        assert_eq!(raw.len(), 96);
        assert_eq!(&raw[32..64], &[3u8; 32]);
        same_key(&decode_private_key_info(&der, "t").unwrap(), &key);
    }

    #[test]
    fn reads_rfc8410_ed25519() {
        // RFC 8410 section 10.3 example.
        let der = hex::decode(
            "302e020100300506032b657004220420d4ee72dbf913584ad5b6d8f1f769f8ad3afe7c28cbf1d4fbe097a88f44755842",
        )
        .unwrap();
        let key = decode_private_key_info(&der, "rfc8410").unwrap();
        assert_eq!(key.algorithm(), KeyAlgorithm::Ed25519);
        let (_, public) = key.ed25519_parts().unwrap();
        assert_eq!(
            hex::encode(public),
            "19bf44096984cdfe8541bac167dc3b96c85086aa30b6b6cb0c5c38ad703166e1"
        );
    }

    #[test]
    fn reads_standard_pkcs8_ecdsa_and_rsa_with_null() {
        use p256::pkcs8::EncodePrivateKey as _;
        let ec = p256::SecretKey::from_slice(&[0x22; 32]).unwrap();
        let standard = ec.to_pkcs8_der().unwrap();
        let key = decode_private_key_info(standard.as_bytes(), "std").unwrap();
        same_key(
            &key,
            &PrivateKey::from_p256_scalar(&[0x22; 32], "t").unwrap(),
        );

        let rsa_key = PrivateKey::generate_rsa(2048).unwrap();
        let standard =
            rsa::pkcs8::EncodePrivateKey::to_pkcs8_der(rsa_key.rsa_key().unwrap()).unwrap();
        same_key(
            &decode_private_key_info(standard.as_bytes(), "std").unwrap(),
            &rsa_key,
        );
    }

    #[test]
    fn encrypted_round_trip_and_structure() {
        let key = PrivateKey::generate_ecdsa().unwrap();
        let der = encrypt(&key, b"randompass").unwrap();
        same_key(&decrypt(&der, b"randompass", "t").unwrap(), &key);
        assert!(matches!(
            decrypt(&der, b"wrong", "t"),
            Err(Error::WrongPassphrase { .. })
        ));

        // Exact layout: PBES2 { PBKDF2 { salt(8), 2048 }, aes256-CBC { iv(16) } }.
        let mut outer = DerReader::new(&der);
        let mut info = outer.sequence("x").unwrap();
        let mut alg = info.sequence("a").unwrap();
        assert_eq!(alg.oid("o").unwrap(), asn1::OID_PBES2);
        let mut params = alg.sequence("p").unwrap();
        let mut kdf = params.sequence("k").unwrap();
        assert_eq!(kdf.oid("o").unwrap(), asn1::OID_PBKDF2);
        let mut kdf_params = kdf.sequence("kp").unwrap();
        assert_eq!(kdf_params.octet_string("s").unwrap().len(), 8);
        assert_eq!(kdf_params.small_uint("i").unwrap(), 2048);
        assert!(kdf_params.is_empty(), "no keyLength and no prf");
        let mut cipher = params.sequence("c").unwrap();
        assert_eq!(cipher.oid("o").unwrap(), asn1::OID_AES256_CBC);
        assert_eq!(cipher.octet_string("iv").unwrap().len(), 16);
        assert_eq!(info.octet_string("d").unwrap().len() % 16, 0);
    }

    /// Builds an `EncryptedPrivateKeyInfo` from parts, with optional extra PBKDF2 parameters.
    fn build(
        salt: &[u8],
        iterations: u64,
        extra_kdf_param: Option<&[u8]>,
        cipher_oid: &der::asn1::ObjectIdentifier,
        iv: &[u8],
        ciphertext: &[u8],
    ) -> Vec<u8> {
        let salt = asn1::tlv(asn1::TAG_OCTET_STRING, salt);
        let iterations = asn1::uint(iterations);
        let mut kdf_params: Vec<&[u8]> = vec![&salt, &iterations];
        kdf_params.extend(extra_kdf_param);
        let kdf = asn1::sequence(&[&asn1::oid(&asn1::OID_PBKDF2), &asn1::sequence(&kdf_params)]);
        let cipher = asn1::sequence(&[
            &asn1::oid(cipher_oid),
            &asn1::tlv(asn1::TAG_OCTET_STRING, iv),
        ]);
        let alg = asn1::sequence(&[
            &asn1::oid(&asn1::OID_PBES2),
            &asn1::sequence(&[&kdf, &cipher]),
        ]);
        asn1::sequence(&[&alg, &asn1::tlv(asn1::TAG_OCTET_STRING, ciphertext)]).to_vec()
    }

    fn ciphertext_of(der: &[u8]) -> Vec<u8> {
        let mut outer = DerReader::new(der);
        let mut info = outer.sequence("x").unwrap();
        info.sequence("a").unwrap();
        info.octet_string("d").unwrap().to_vec()
    }

    #[test]
    fn ignores_prf_parameter_like_go() {
        let key = PrivateKey::from_p256_scalar(&[0x33; 32], "t").unwrap();
        let (salt, iv) = ([1u8; 8], [2u8; 16]);
        let good = encrypt_with_parameters(&key, b"pw", &salt, &iv, 2048).unwrap();
        assert_eq!(
            build(
                &salt,
                2048,
                None,
                &asn1::OID_AES256_CBC,
                &iv,
                &ciphertext_of(&good)
            ),
            good,
            "test builder reproduces the writer"
        );
        // prf = hmacWithSHA256 is present but ignored: HMAC-SHA1 is still used.
        let prf = asn1::sequence(&[
            &asn1::oid(&der::asn1::ObjectIdentifier::new_unwrap(
                "1.2.840.113549.2.9",
            )),
            &[0x05, 0x00],
        ]);
        let with_prf = build(
            &salt,
            2048,
            Some(&prf),
            &asn1::OID_AES256_CBC,
            &iv,
            &ciphertext_of(&good),
        );
        same_key(&decrypt(&with_prf, b"pw", "t").unwrap(), &key);
    }

    #[test]
    fn refuses_other_ciphers_and_absurd_iteration_counts() {
        let key = PrivateKey::generate_ecdsa().unwrap();
        let good = encrypt_with_parameters(&key, b"pw", &[0; 8], &[0; 16], 2048).unwrap();
        let ciphertext = ciphertext_of(&good);
        let aes128 = der::asn1::ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.1.2");
        assert!(matches!(
            decrypt(
                &build(&[0; 8], 2048, None, &aes128, &[0; 16], &ciphertext),
                b"pw",
                "t"
            ),
            Err(Error::UnsupportedEncryption { .. })
        ));
        for iterations in [0, MAX_PBKDF2_ITERATIONS + 1, u64::MAX >> 1] {
            let der = build(
                &[0; 8],
                iterations,
                None,
                &asn1::OID_AES256_CBC,
                &[0; 16],
                &ciphertext,
            );
            assert!(matches!(
                decrypt(&der, b"pw", "t"),
                Err(Error::UnsupportedEncryption { .. })
            ));
        }
        let short_iv = build(
            &[0; 8],
            2048,
            None,
            &asn1::OID_AES256_CBC,
            &[0; 8],
            &ciphertext,
        );
        assert!(matches!(
            decrypt(&short_iv, b"pw", "t"),
            Err(Error::MalformedKey { .. })
        ));
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        for input in [
            &[][..],
            &[0x30],
            &[0x30, 0x80],
            &[0x04, 0x01, 0x00],
            &[0xFF; 40],
        ] {
            assert!(decrypt(input, b"pw", "t").is_err());
            assert!(decode_private_key_info(input, "t").is_err());
        }
    }
}
