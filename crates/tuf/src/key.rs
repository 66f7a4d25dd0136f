//! TUF public keys as Notary writes them, their IDs, and signature verification.
//!
//! A key is `{"keytype":T,"keyval":{"private":null,"public":"<base64>"}}`:
//!
//! | keytype | `public` bytes |
//! |---|---|
//! | `ed25519` | raw 32-byte key |
//! | `ecdsa`, `rsa` | DER SubjectPublicKeyInfo |
//! | `ecdsa-x509`, `rsa-x509` | PEM text of the certificate, leaf first, then intermediates |
//!
//! The **key ID** is the lowercase hex SHA-256 of exactly that canonical object (with
//! `"private":null`). For `*-x509` keys the **canonical key ID** is the ID of the plain
//! `ecdsa`/`rsa` key holding the leaf certificate's SubjectPublicKeyInfo; key stores name
//! private keys by it.
//!
//! Unknown key types are kept as [`KeyType::Unknown`] so that metadata listing them still parses
//! and re-serialises byte for byte; such keys have an ID but cannot verify anything.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use der::asn1::{AnyRef, BitStringRef, ObjectIdentifier, UintRef};
use der::{Decode as _, Encode as _};
use ring::signature as rs;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};
use spki::{AlgorithmIdentifierRef, SubjectPublicKeyInfoRef};

use crate::error::{Error, Result};
use crate::notary::pem;
use crate::{b64, cjson};

const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

/// Minimum RSA modulus size Notary accepts.
pub const MIN_RSA_BITS: usize = 2048;

/// A key ID: 64 lowercase hex characters (a SHA-256 digest).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(String);

impl KeyId {
    /// The ID as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The ID whose value is the SHA-256 digest of `bytes`.
    pub fn sha256_of(bytes: &[u8]) -> Self {
        Self(hex::encode(Sha256::digest(bytes)))
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", self.0)
    }
}

impl FromStr for KeyId {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        if s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            Ok(Self(s.to_owned()))
        } else {
            Err(Error::InvalidKeyId {
                key_id: s.to_owned(),
            })
        }
    }
}

impl AsRef<str> for KeyId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Serialize for KeyId {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for KeyId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = Cow::<'de, str>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The `keytype` of a TUF key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KeyType {
    /// `ed25519`: raw 32-byte public key.
    Ed25519,
    /// `ecdsa`: DER SubjectPublicKeyInfo.
    Ecdsa,
    /// `rsa`: DER SubjectPublicKeyInfo.
    Rsa,
    /// `ecdsa-x509`: PEM certificate(s) holding an ECDSA key.
    EcdsaX509,
    /// `rsa-x509`: PEM certificate(s) holding an RSA key.
    RsaX509,
    /// Any other key type, kept verbatim so documents listing it still round-trip. Such keys
    /// cannot verify signatures.
    Unknown(String),
}

impl KeyType {
    /// The `keytype` string.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Ed25519 => "ed25519",
            Self::Ecdsa => "ecdsa",
            Self::Rsa => "rsa",
            Self::EcdsaX509 => "ecdsa-x509",
            Self::RsaX509 => "rsa-x509",
            Self::Unknown(s) => s,
        }
    }

    /// Whether the public value is a PEM certificate bundle.
    pub fn is_x509(&self) -> bool {
        matches!(self, Self::EcdsaX509 | Self::RsaX509)
    }

    /// Maps a `keytype` string to its variant (never fails: unknown strings are kept).
    pub fn parse(s: &str) -> Self {
        match s {
            "ed25519" => Self::Ed25519,
            "ecdsa" => Self::Ecdsa,
            "rsa" => Self::Rsa,
            "ecdsa-x509" => Self::EcdsaX509,
            "rsa-x509" => Self::RsaX509,
            other => Self::Unknown(other.to_owned()),
        }
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for KeyType {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for KeyType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = Cow::<'de, str>::deserialize(d)?;
        Ok(Self::parse(&s))
    }
}

/// A TUF public key.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PublicKey {
    keytype: KeyType,
    public: Vec<u8>,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("keytype", &self.keytype)
            .field("key_id", &self.key_id())
            .finish()
    }
}

/// A public key decoded for verification.
enum Verifier<'a> {
    EcP256(&'a [u8]),
    EcP384(&'a [u8]),
    Rsa { pkcs1: &'a [u8], bits: usize },
}

impl PublicKey {
    /// A key of type `keytype` whose `public` value is `public` (not validated here).
    pub fn new(keytype: KeyType, public: Vec<u8>) -> Self {
        Self { keytype, public }
    }

    /// The key type.
    pub fn keytype(&self) -> &KeyType {
        &self.keytype
    }

    /// The raw `public` bytes (before base64).
    pub fn public(&self) -> &[u8] {
        &self.public
    }

    /// The canonical JSON of this key with `"private":null`: the bytes its ID hashes.
    pub fn canonical_json(&self) -> Vec<u8> {
        let b64 = b64::encode(&self.public);
        let mut out = Vec::with_capacity(b64.len() + 64);
        out.extend_from_slice(b"{\"keytype\":");
        cjson::write_string(&mut out, self.keytype.as_str());
        out.extend_from_slice(b",\"keyval\":{\"private\":null,\"public\":");
        cjson::write_string(&mut out, &b64);
        out.extend_from_slice(b"}}");
        out
    }

    /// The TUF key ID: SHA-256 of [`canonical_json`](Self::canonical_json).
    pub fn key_id(&self) -> KeyId {
        KeyId::sha256_of(&self.canonical_json())
    }

    /// The canonical key ID: for `*-x509` keys the ID of the plain `ecdsa`/`rsa` key built from
    /// the first certificate's SubjectPublicKeyInfo; for other keys the key ID.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidPublicKey`] when an x509 key holds no parseable certificate.
    pub fn canonical_key_id(&self) -> Result<KeyId> {
        Ok(self.canonical_key()?.key_id())
    }

    /// The plain key behind an x509 key (see [`canonical_key_id`](Self::canonical_key_id)); a
    /// clone of `self` for other key types.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidPublicKey`] when an x509 key holds no parseable certificate.
    pub fn canonical_key(&self) -> Result<Self> {
        let plain_type = match self.keytype {
            KeyType::EcdsaX509 => KeyType::Ecdsa,
            KeyType::RsaX509 => KeyType::Rsa,
            _ => return Ok(self.clone()),
        };
        // Like Go's LoadCertFromPEM: the first CERTIFICATE block without headers that parses.
        let cert = pem::decode_all_lossy(&self.public)
            .into_iter()
            .filter(|b| b.label == pem::CERTIFICATE && b.headers.is_empty())
            .find_map(|b| x509_cert::Certificate::from_der(&b.contents).ok())
            .ok_or_else(|| self.invalid("no certificates found in PEM data"))?;
        let spki_der = cert
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|e| self.invalid(e))?;
        let spki = SubjectPublicKeyInfoRef::from_der(&spki_der).map_err(|e| self.invalid(e))?;
        Ok(Self::new(
            plain_type,
            pkix_der(&spki).map_err(|e| self.invalid(e))?,
        ))
    }

    /// A plain key from a DER SubjectPublicKeyInfo: ECDSA (P-256, P-384) → `ecdsa` holding the
    /// SPKI DER; RSA → `rsa` holding the SPKI DER; Ed25519 → `ed25519` holding the raw 32 bytes.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidSpki`] for malformed DER or other algorithms and curves.
    pub fn from_spki_der(der: &[u8]) -> Result<Self> {
        let invalid = |reason: String| Error::InvalidSpki { reason };
        let spki = SubjectPublicKeyInfoRef::from_der(der).map_err(|e| invalid(e.to_string()))?;
        let oid = spki.algorithm.oid;
        if oid == OID_ED25519 {
            let raw = spki
                .subject_public_key
                .as_bytes()
                .filter(|b| b.len() == 32)
                .ok_or_else(|| invalid("Ed25519 key is not 32 bytes".into()))?;
            return Ok(Self::new(KeyType::Ed25519, raw.to_vec()));
        }
        let keytype = if oid == OID_EC_PUBLIC_KEY {
            KeyType::Ecdsa
        } else if oid == OID_RSA {
            KeyType::Rsa
        } else {
            return Err(invalid(format!("unsupported algorithm {oid}")));
        };
        let der = pkix_der(&spki).map_err(invalid)?;
        let key = Self::new(keytype, der);
        key.verifier_from_spki(key.public()).map_err(|e| match e {
            Error::InvalidPublicKey { reason, .. } => invalid(reason),
            other => other,
        })?;
        Ok(key)
    }

    /// An `ecdsa-x509` or `rsa-x509` key from a PEM certificate bundle (leaf first), typed by
    /// the leaf's key algorithm. The public value is the bundle re-encoded as Go writes it:
    /// one `CERTIFICATE` block per certificate, 64-character lines, a newline after each block.
    ///
    /// # Errors
    ///
    /// [`Error::Certificate`] when the text holds a non-certificate block, a certificate that
    /// does not parse, no certificate at all, or a leaf key that is neither ECDSA nor RSA.
    pub fn from_certificate_pem(pem_text: &str) -> Result<Self> {
        let cert_err = |reason: String| Error::Certificate { reason };
        let blocks = pem::decode_all(pem_text);
        let mut leaf_oid = None;
        let mut public = String::new();
        for block in &blocks {
            if block.label != pem::CERTIFICATE {
                return Err(cert_err(format!("invalid pem block type: {}", block.label)));
            }
            let cert = x509_cert::Certificate::from_der(&block.contents)
                .map_err(|e| cert_err(e.to_string()))?;
            if leaf_oid.is_none() {
                leaf_oid = Some(cert.tbs_certificate.subject_public_key_info.algorithm.oid);
            }
            public.push_str(&pem::encode_plain(pem::CERTIFICATE, &block.contents));
        }
        let keytype = match leaf_oid {
            None => return Err(cert_err("no valid certificates found".into())),
            Some(oid) if oid == OID_EC_PUBLIC_KEY => KeyType::EcdsaX509,
            Some(oid) if oid == OID_RSA => KeyType::RsaX509,
            Some(oid) => return Err(cert_err(format!("unsupported leaf key algorithm {oid}"))),
        };
        Ok(Self::new(keytype, public.into_bytes()))
    }

    /// Verifies `sig` over `msg` with `method` (compared case-insensitively), following
    /// Notary's verifiers:
    ///
    /// * `ecdsa`: keys `ecdsa`/`ecdsa-x509`; SHA-256; raw `r‖s`, exactly 64 bytes on P-256
    ///   (96 on P-384);
    /// * `eddsa`: key `ed25519` (32 bytes); 64-byte signature; strict verification;
    /// * `rsapss`: keys `rsa`/`rsa-x509`; PSS, SHA-256, MGF1-SHA-256, salt 32, ≥ 2048 bits;
    /// * `rsapkcs1v15`: keys `rsa`/`rsa-x509`; PKCS#1 v1.5 with SHA-256, ≥ 2048 bits;
    /// * `pycrypto-pkcs#1 pss`: key `rsa` whose public value is a PEM-wrapped SPKI; PSS.
    ///
    /// For x509 keys the first PEM block is used, as in Go. RSA moduli above 8192 bits are not
    /// supported.
    ///
    /// # Errors
    ///
    /// [`Error::UnsupportedMethod`] when the method does not fit the key type,
    /// [`Error::InvalidPublicKey`] when the key does not decode, and [`Error::BadSignature`]
    /// when the signature is wrong.
    pub fn verify(&self, method: &str, msg: &[u8], sig: &[u8]) -> Result<()> {
        let lower = method.to_ascii_lowercase();
        let cert_spki;
        let pem_spki;
        let verifier = match (lower.as_str(), &self.keytype) {
            ("eddsa", KeyType::Ed25519) => return self.verify_ed25519(method, msg, sig),
            ("ecdsa", KeyType::Ecdsa) | ("rsapss" | "rsapkcs1v15", KeyType::Rsa) => {
                self.verifier_from_spki(&self.public)?
            }
            ("ecdsa", KeyType::EcdsaX509) | ("rsapss" | "rsapkcs1v15", KeyType::RsaX509) => {
                cert_spki = self.first_block_cert_spki()?;
                self.verifier_from_spki(&cert_spki)?
            }
            ("pycrypto-pkcs#1 pss", KeyType::Rsa) => {
                pem_spki = pem::decode_all_lossy(&self.public)
                    .into_iter()
                    .next()
                    .ok_or_else(|| self.invalid("public key is not PEM"))?
                    .contents;
                self.verifier_from_spki(&pem_spki)?
            }
            _ => {
                return Err(Error::UnsupportedMethod {
                    method: method.to_owned(),
                    keytype: self.keytype.as_str().to_owned(),
                    key_id: self.key_id().to_string(),
                });
            }
        };
        let bad = |reason: &str| Error::BadSignature {
            key_id: self.key_id().to_string(),
            method: method.to_owned(),
            reason: reason.to_owned(),
        };
        match (lower.as_str(), verifier) {
            ("ecdsa", Verifier::EcP256(point)) => {
                if sig.len() != 64 {
                    return Err(bad("ECDSA P-256 signature must be 64 bytes (r||s)"));
                }
                rs::UnparsedPublicKey::new(&rs::ECDSA_P256_SHA256_FIXED, point)
                    .verify(msg, sig)
                    .map_err(|_| bad("invalid signature"))
            }
            ("ecdsa", Verifier::EcP384(point)) => {
                if sig.len() != 96 {
                    return Err(bad("ECDSA P-384 signature must be 96 bytes (r||s)"));
                }
                let der_sig = fixed_to_der(&sig[..48], &sig[48..]);
                rs::UnparsedPublicKey::new(&rs::ECDSA_P384_SHA256_ASN1, point)
                    .verify(msg, &der_sig)
                    .map_err(|_| bad("invalid signature"))
            }
            ("rsapss" | "rsapkcs1v15" | "pycrypto-pkcs#1 pss", Verifier::Rsa { pkcs1, bits }) => {
                if bits < MIN_RSA_BITS {
                    return Err(bad("RSA key must be at least 2048 bits"));
                }
                if sig.len() < MIN_RSA_BITS / 8 {
                    return Err(bad("RSA signature shorter than 256 bytes"));
                }
                let alg: &dyn rs::VerificationAlgorithm = if lower == "rsapkcs1v15" {
                    &rs::RSA_PKCS1_2048_8192_SHA256
                } else {
                    &rs::RSA_PSS_2048_8192_SHA256
                };
                rs::UnparsedPublicKey::new(alg, pkcs1)
                    .verify(msg, sig)
                    .map_err(|_| bad("invalid signature"))
            }
            _ => Err(bad("key algorithm does not match the signature method")),
        }
    }

    fn verify_ed25519(&self, method: &str, msg: &[u8], sig: &[u8]) -> Result<()> {
        let bad = |reason: &str| Error::BadSignature {
            key_id: self.key_id().to_string(),
            method: method.to_owned(),
            reason: reason.to_owned(),
        };
        let key: [u8; 32] = self
            .public
            .as_slice()
            .try_into()
            .map_err(|_| self.invalid("ed25519 public key must be 32 bytes"))?;
        let sig: [u8; 64] = sig
            .try_into()
            .map_err(|_| bad("ed25519 signature must be 64 bytes"))?;
        let vk = ed25519_dalek::VerifyingKey::from_bytes(&key).map_err(|e| self.invalid(e))?;
        vk.verify_strict(msg, &ed25519_dalek::Signature::from_bytes(&sig))
            .map_err(|_| bad("invalid signature"))
    }

    /// The SPKI DER of the certificate in the first PEM block (Go's verifiers use
    /// `pem.Decode` once, whatever the block type).
    fn first_block_cert_spki(&self) -> Result<Vec<u8>> {
        let block = pem::decode_all_lossy(&self.public)
            .into_iter()
            .next()
            .ok_or_else(|| self.invalid("failed to decode PEM-encoded x509 certificate"))?;
        let cert =
            x509_cert::Certificate::from_der(&block.contents).map_err(|e| self.invalid(e))?;
        cert.tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|e| self.invalid(e))
    }

    fn verifier_from_spki<'a>(&self, der: &'a [u8]) -> Result<Verifier<'a>> {
        let spki = SubjectPublicKeyInfoRef::from_der(der).map_err(|e| self.invalid(e))?;
        let bits = spki
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| self.invalid("public key bit string has unused bits"))?;
        let oid = spki.algorithm.oid;
        if oid == OID_EC_PUBLIC_KEY {
            let curve: ObjectIdentifier = spki
                .algorithm
                .parameters
                .ok_or_else(|| self.invalid("EC key without curve parameters"))?
                .decode_as()
                .map_err(|e| self.invalid(e))?;
            if curve == OID_P256 && bits.len() == 65 && bits[0] == 4 {
                Ok(Verifier::EcP256(bits))
            } else if curve == OID_P384 && bits.len() == 97 && bits[0] == 4 {
                Ok(Verifier::EcP384(bits))
            } else {
                Err(self.invalid(format!(
                    "unsupported curve {curve} or point encoding (P-256 and P-384 uncompressed only)"
                )))
            }
        } else if oid == OID_RSA {
            let modulus_bits = rsa_modulus_bits(bits).map_err(|e| self.invalid(e))?;
            Ok(Verifier::Rsa {
                pkcs1: bits,
                bits: modulus_bits,
            })
        } else {
            Err(self.invalid(format!("unexpected key algorithm {oid}")))
        }
    }

    fn invalid(&self, reason: impl fmt::Display) -> Error {
        Error::InvalidPublicKey {
            keytype: self.keytype.as_str().to_owned(),
            key_id: self.key_id().to_string(),
            reason: reason.to_string(),
        }
    }
}

/// Re-encodes an SPKI as Go's `x509.MarshalPKIXPublicKey` would: RSA always with NULL
/// parameters, other algorithms unchanged.
fn pkix_der(spki: &SubjectPublicKeyInfoRef<'_>) -> std::result::Result<Vec<u8>, String> {
    let parameters = if spki.algorithm.oid == OID_RSA {
        Some(AnyRef::NULL)
    } else {
        spki.algorithm.parameters
    };
    let out = SubjectPublicKeyInfoRef {
        algorithm: AlgorithmIdentifierRef {
            oid: spki.algorithm.oid,
            parameters,
        },
        subject_public_key: BitStringRef::new(0, spki.subject_public_key.raw_bytes())
            .map_err(|e| e.to_string())?,
    };
    out.to_der().map_err(|e| e.to_string())
}

/// Bit length of the modulus of a PKCS#1 `RSAPublicKey`.
pub(crate) fn rsa_modulus_bits(pkcs1: &[u8]) -> std::result::Result<usize, String> {
    let mut reader = der::SliceReader::new(pkcs1).map_err(|e| e.to_string())?;
    let n = der::Reader::sequence(&mut reader, |r| {
        let n = UintRef::decode(r)?;
        let _e = UintRef::decode(r)?;
        Ok(n)
    })
    .map_err(|e: der::Error| e.to_string())?;
    let bytes = n.as_bytes();
    match bytes.first() {
        None => Ok(0),
        Some(&first) => Ok((bytes.len() - 1) * 8 + (8 - first.leading_zeros() as usize)),
    }
}

/// DER `ECDSA-Sig-Value` from fixed-size big-endian `r` and `s`.
fn fixed_to_der(r: &[u8], s: &[u8]) -> Vec<u8> {
    fn int(out: &mut Vec<u8>, v: &[u8]) {
        let start = v.iter().position(|&b| b != 0).unwrap_or(v.len());
        let v = &v[start..];
        let pad = v.first().is_none_or(|&b| b & 0x80 != 0);
        out.push(0x02);
        out.push(u8::try_from(v.len() + usize::from(pad)).unwrap_or(0));
        if pad {
            out.push(0);
        }
        out.extend_from_slice(v);
    }
    let mut body = Vec::with_capacity(r.len() + s.len() + 6);
    int(&mut body, r);
    int(&mut body, s);
    let mut out = Vec::with_capacity(body.len() + 2);
    out.push(0x30);
    out.push(u8::try_from(body.len()).unwrap_or(0));
    out.extend_from_slice(&body);
    out
}

#[derive(Serialize)]
struct KeyJson<'a> {
    keytype: &'a str,
    keyval: KeyValJson,
}

#[derive(Serialize)]
struct KeyValJson {
    private: Option<()>,
    public: String,
}

#[derive(Deserialize)]
struct KeyJsonIn {
    keytype: KeyType,
    keyval: KeyValJsonIn,
}

#[derive(Deserialize)]
struct KeyValJsonIn {
    #[serde(with = "b64::serde_bytes")]
    public: Vec<u8>,
}

impl Serialize for PublicKey {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        KeyJson {
            keytype: self.keytype.as_str(),
            keyval: KeyValJson {
                private: None,
                public: b64::encode(&self.public),
            },
        }
        .serialize(s)
    }
}

/// Reads a TUF key object. Any `private` value is dropped (as Go does when it loads a public
/// key), so the key always re-serialises with `"private":null`.
impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let k = KeyJsonIn::deserialize(d)?;
        Ok(Self::new(k.keytype, k.keyval.public))
    }
}

#[cfg(test)]
mod tests;
