//! The compact JWE form notary-signer keeps private keys in (its `private_keys.private`
//! column): key management `PBES2-HS256+A128KW`, content encryption `A256GCM` (RFC 7516,
//! RFC 7518 §4.8 and §5.3), as the Go library jose2go writes and reads it.
//!
//! ```text
//! BASE64URL(header) . BASE64URL(wrapped CEK) . BASE64URL(IV) . BASE64URL(ciphertext) . BASE64URL(tag)
//! header = {"alg":"PBES2-HS256+A128KW","enc":"A256GCM","p2c":8192,"p2s":"<12-byte salt>"}
//! KEK    = PBKDF2-HMAC-SHA256(passphrase, "PBES2-HS256+A128KW" ‖ 0x00 ‖ salt, p2c, 16 bytes)
//! CEK    = AES-KW-unwrap(KEK, wrapped CEK)            (RFC 3394, 32-byte CEK)
//! plain  = AES-256-GCM-open(CEK, IV, ciphertext ‖ tag, AAD = ASCII(BASE64URL(header)))
//! ```
//!
//! Base64url is without padding. The iteration count `p2c` comes from stored data, so it is
//! checked against [`MAX_ITERATIONS`] before any key derivation runs: a crafted row cannot
//! make an import spend hours in PBKDF2.

use std::num::NonZeroU32;

use aes::Aes128;
use aes::cipher::{BlockDecrypt as _, BlockEncrypt as _, KeyInit as _};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::aead;
use ring::rand::{SecureRandom as _, SystemRandom};
use subtle::ConstantTimeEq as _;
use zeroize::{Zeroize as _, Zeroizing};

use crate::error::JweError;

/// The key management algorithm notary-signer uses (`keywrap_alg` column).
pub const KEYWRAP_ALG: &str = "PBES2-HS256+A128KW";
/// The content encryption algorithm notary-signer uses (`encryption_alg` column).
pub const ENCRYPTION_ALG: &str = "A256GCM";
/// The PBKDF2 iteration count jose2go (and so notary-signer) writes.
pub const DEFAULT_ITERATIONS: u32 = 8192;
/// The highest `p2c` accepted when decrypting: 1,300,000, the limit current jose2go
/// releases enforce for `PBES2-HS256+A128KW` (OWASP's advice for PBKDF2-HMAC-SHA256). Every
/// key notary-signer ever wrote uses 8192. At this cap one key takes well under a second
/// to derive; anything above it is refused as [`JweError::IterationCount`] without deriving.
pub const MAX_ITERATIONS: u64 = 1_300_000;
/// Length of the salt (`p2s`) this module writes, as jose2go does.
pub const SALT_LEN: usize = 12;
/// The longest compact serialization accepted (a private key's is about 300 characters).
pub const MAX_COMPACT_LEN: usize = 64 * 1024;

const KEK_LEN: usize = 16;
const CEK_LEN: usize = 32;
const WRAPPED_CEK_LEN: usize = CEK_LEN + 8;
const IV_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// The initial value of RFC 3394 §2.2.3.1.
const KW_IV: [u8; 8] = [0xA6; 8];

/// Fixed inputs of [`encrypt_with`]; [`encrypt`] draws them at random.
pub struct EncryptParams {
    /// PBKDF2 iteration count (`p2c`), 1 to [`MAX_ITERATIONS`].
    pub iterations: u32,
    /// Salt input (`p2s`).
    pub salt: Vec<u8>,
    /// The 32-byte content-encryption key.
    pub cek: Zeroizing<[u8; CEK_LEN]>,
    /// The 12-byte AES-GCM IV.
    pub iv: [u8; IV_LEN],
}

impl std::fmt::Debug for EncryptParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncryptParams")
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

impl EncryptParams {
    /// jose2go's choices: 8192 iterations, a random 12-byte salt, a random CEK and IV.
    pub fn generate() -> Result<Self, JweError> {
        let rng = SystemRandom::new();
        let mut salt = vec![0u8; SALT_LEN];
        let mut cek = Zeroizing::new([0u8; CEK_LEN]);
        let mut iv = [0u8; IV_LEN];
        rng.fill(&mut salt)
            .and_then(|()| rng.fill(cek.as_mut_slice()))
            .and_then(|()| rng.fill(&mut iv))
            .map_err(|_| JweError::Random)?;
        Ok(Self {
            iterations: DEFAULT_ITERATIONS,
            salt,
            cek,
            iv,
        })
    }
}

/// Encrypts `plaintext` under `passphrase` as notary-signer does (see the module docs), with
/// fresh random salt, CEK and IV.
pub fn encrypt(plaintext: &[u8], passphrase: &[u8]) -> Result<String, JweError> {
    encrypt_with(plaintext, passphrase, &EncryptParams::generate()?)
}

/// Encrypts `plaintext` under `passphrase` with the given salt, CEK, IV and iteration count.
/// The header is jose2go's: keys in byte order, `p2c` a JSON integer. A plaintext whose
/// serialization would exceed [`MAX_COMPACT_LEN`] (which [`decrypt`] refuses) is refused as
/// [`JweError::TooLong`].
pub fn encrypt_with(
    plaintext: &[u8],
    passphrase: &[u8],
    params: &EncryptParams,
) -> Result<String, JweError> {
    let iterations = check_iterations(u64::from(params.iterations))?;
    if passphrase.is_empty() {
        return Err(JweError::EmptyPassphrase);
    }
    let header = serde_json::json!({
        "alg": KEYWRAP_ALG,
        "enc": ENCRYPTION_ALG,
        "p2c": params.iterations,
        "p2s": URL_SAFE_NO_PAD.encode(&params.salt),
    });
    // serde_json's map is ordered by key (no `preserve_order`), like Go's map encoding.
    let header_b64 = URL_SAFE_NO_PAD.encode(header.to_string());
    let kek = derive_kek(passphrase, &params.salt, iterations);
    let wrapped = aes_kw_wrap(&kek, params.cek.as_slice())?;

    let key = aead::UnboundKey::new(&aead::AES_256_GCM, params.cek.as_slice())
        .map(aead::LessSafeKey::new)
        .map_err(|_| JweError::Crypto("AES-256-GCM rejected the key"))?;
    let mut in_out = Zeroizing::new(plaintext.to_vec());
    let tag = key
        .seal_in_place_separate_tag(
            aead::Nonce::assume_unique_for_key(params.iv),
            aead::Aad::from(header_b64.as_bytes()),
            in_out.as_mut_slice(),
        )
        .map_err(|_| JweError::Crypto("AES-256-GCM encryption failed"))?;
    let compact = [
        header_b64,
        URL_SAFE_NO_PAD.encode(&wrapped),
        URL_SAFE_NO_PAD.encode(params.iv),
        URL_SAFE_NO_PAD.encode(in_out.as_slice()),
        URL_SAFE_NO_PAD.encode(tag.as_ref()),
    ]
    .join(".");
    // Never write what `decrypt` refuses: every row written must read back.
    if compact.len() > MAX_COMPACT_LEN {
        return Err(JweError::TooLong {
            len: compact.len(),
            max: MAX_COMPACT_LEN,
        });
    }
    Ok(compact)
}

/// The header fields that matter, parsed.
struct Header {
    iterations: NonZeroU32,
    salt: Vec<u8>,
}

/// Decrypts a compact JWE written by notary-signer (or [`encrypt`]) with `passphrase`.
///
/// # Errors
///
/// A [`JweError`] saying what is wrong: the shape of the serialization, a part that is not
/// base64url, a header that is not JSON or names another algorithm, an iteration count
/// above [`MAX_ITERATIONS`], a key unwrap that fails (a wrong passphrase), or a content tag
/// that does not verify (modified data).
pub fn decrypt(compact: &str, passphrase: &[u8]) -> Result<Zeroizing<Vec<u8>>, JweError> {
    if compact.len() > MAX_COMPACT_LEN {
        return Err(JweError::TooLong {
            len: compact.len(),
            max: MAX_COMPACT_LEN,
        });
    }
    let parts: Vec<&str> = compact.trim().split('.').collect();
    let [header_b64, wrapped, iv, ciphertext, tag] = parts[..] else {
        return Err(JweError::Parts { found: parts.len() });
    };
    let header = parse_header(header_b64)?;
    let wrapped = part("encrypted key", wrapped, Some(WRAPPED_CEK_LEN))?;
    let iv = part("IV", iv, Some(IV_LEN))?;
    let mut in_out = Zeroizing::new(part("ciphertext", ciphertext, None)?);
    let tag = part("authentication tag", tag, Some(TAG_LEN))?;
    if passphrase.is_empty() {
        return Err(JweError::EmptyPassphrase);
    }

    let kek = derive_kek(passphrase, &header.salt, header.iterations);
    let cek = aes_kw_unwrap(&kek, &wrapped)?;
    let key = aead::UnboundKey::new(&aead::AES_256_GCM, cek.as_slice())
        .map(aead::LessSafeKey::new)
        .map_err(|_| JweError::Crypto("AES-256-GCM rejected the key"))?;
    let nonce = aead::Nonce::try_assume_unique_for_key(&iv)
        .map_err(|_| JweError::Crypto("AES-256-GCM rejected the IV"))?;
    in_out.extend_from_slice(&tag);
    let len = key
        .open_in_place(
            nonce,
            aead::Aad::from(header_b64.as_bytes()),
            in_out.as_mut_slice(),
        )
        .map_err(|_| JweError::Authentication)?
        .len();
    in_out.truncate(len);
    Ok(in_out)
}

fn part(name: &'static str, text: &str, len: Option<usize>) -> Result<Vec<u8>, JweError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .map_err(|_| JweError::Base64 { part: name })?;
    match len {
        Some(want) if bytes.len() != want => Err(JweError::Length {
            part: name,
            len: bytes.len(),
            expected: want,
        }),
        _ => Ok(bytes),
    }
}

fn parse_header(header_b64: &str) -> Result<Header, JweError> {
    let bytes = part("header", header_b64, None)?;
    let bad = |reason: String| JweError::Header { reason };
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| bad(format!("not JSON: {e}")))?;
    let obj = value
        .as_object()
        .ok_or_else(|| bad("not a JSON object".to_owned()))?;
    let text = |name: &str| -> Result<&str, JweError> {
        match obj.get(name) {
            Some(serde_json::Value::String(s)) => Ok(s),
            Some(_) => Err(bad(format!("{name:?} is not a string"))),
            None => Err(bad(format!("no {name:?}"))),
        }
    };
    let alg = text("alg")?;
    if alg != KEYWRAP_ALG {
        return Err(JweError::Algorithm {
            alg: short(alg),
            expected: KEYWRAP_ALG,
        });
    }
    let enc = text("enc")?;
    if enc != ENCRYPTION_ALG {
        return Err(JweError::Encryption {
            enc: short(enc),
            expected: ENCRYPTION_ALG,
        });
    }
    if let Some(zip) = obj.get("zip") {
        return Err(bad(format!(
            "compression {} is not supported",
            short(&zip.to_string())
        )));
    }
    if let Some(crit) = obj.get("crit") {
        return Err(bad(format!(
            "critical extensions {} are not supported",
            short(&crit.to_string())
        )));
    }
    let p2c = match obj.get("p2c") {
        Some(serde_json::Value::Number(n)) => n,
        Some(_) => return Err(bad("\"p2c\" is not a number".to_owned())),
        None => return Err(bad("no \"p2c\"".to_owned())),
    };
    // jose2go reads p2c as a float; an integral value written as 8192.0 is accepted too.
    let iterations = match (p2c.as_u64(), p2c.as_f64()) {
        (Some(n), _) => n,
        (None, Some(f)) if f.is_finite() && f.fract() == 0.0 && f >= 1.0 => {
            if f > MAX_ITERATIONS as f64 {
                return Err(JweError::IterationCount {
                    p2c: short(&p2c.to_string()),
                    max: MAX_ITERATIONS,
                });
            }
            f as u64
        }
        _ => {
            return Err(JweError::IterationCount {
                p2c: short(&p2c.to_string()),
                max: MAX_ITERATIONS,
            });
        }
    };
    let iterations = check_iterations(iterations)?;
    let salt = URL_SAFE_NO_PAD
        .decode(text("p2s")?.trim_end_matches('='))
        .map_err(|_| JweError::Base64 { part: "p2s" })?;
    Ok(Header { iterations, salt })
}

fn check_iterations(n: u64) -> Result<NonZeroU32, JweError> {
    u32::try_from(n)
        .ok()
        .and_then(NonZeroU32::new)
        .filter(|_| n <= MAX_ITERATIONS)
        .ok_or(JweError::IterationCount {
            p2c: n.to_string(),
            max: MAX_ITERATIONS,
        })
}

/// The first 64 characters of a value from the data, for error messages.
fn short(s: &str) -> String {
    let mut out: String = s.chars().take(64).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

fn derive_kek(passphrase: &[u8], salt_input: &[u8], iterations: NonZeroU32) -> Zeroizing<[u8; 16]> {
    let mut salt = Vec::with_capacity(KEYWRAP_ALG.len() + 1 + salt_input.len());
    salt.extend_from_slice(KEYWRAP_ALG.as_bytes());
    salt.push(0);
    salt.extend_from_slice(salt_input);
    let mut kek = Zeroizing::new([0u8; KEK_LEN]);
    ring::pbkdf2::derive(
        ring::pbkdf2::PBKDF2_HMAC_SHA256,
        iterations,
        &salt,
        passphrase,
        kek.as_mut_slice(),
    );
    kek
}

/// RFC 3394 key wrap with a 128-bit KEK. `key` is a whole number of 8-byte blocks, at least
/// two.
fn aes_kw_wrap(kek: &[u8; KEK_LEN], key: &[u8]) -> Result<Vec<u8>, JweError> {
    if key.len() < 16 || !key.len().is_multiple_of(8) {
        return Err(JweError::Crypto(
            "key wrap input is not whole 64-bit blocks",
        ));
    }
    let cipher = Aes128::new_from_slice(kek).map_err(|_| JweError::Crypto("AES-128 key"))?;
    let n = key.len() / 8;
    let mut a = KW_IV;
    let mut r = Zeroizing::new(key.to_vec());
    let mut block = aes::Block::default();
    for j in 0..6u64 {
        for i in 0..n {
            block[..8].copy_from_slice(&a);
            block[8..].copy_from_slice(&r[i * 8..i * 8 + 8]);
            cipher.encrypt_block(&mut block);
            let t = (n as u64) * j + (i as u64) + 1;
            a.copy_from_slice(&block[..8]);
            for (x, y) in a.iter_mut().zip(t.to_be_bytes()) {
                *x ^= y;
            }
            r[i * 8..i * 8 + 8].copy_from_slice(&block[8..]);
        }
    }
    block[..].zeroize();
    let mut out = Vec::with_capacity(8 + key.len());
    out.extend_from_slice(&a);
    out.extend_from_slice(&r);
    Ok(out)
}

/// RFC 3394 key unwrap of a 32-byte key with a 128-bit KEK; the integrity check failing
/// means a wrong KEK (passphrase) or modified data.
fn aes_kw_unwrap(
    kek: &[u8; KEK_LEN],
    wrapped: &[u8],
) -> Result<Zeroizing<[u8; CEK_LEN]>, JweError> {
    let n = CEK_LEN / 8;
    if wrapped.len() != 8 * (n + 1) {
        return Err(JweError::Length {
            part: "encrypted key",
            len: wrapped.len(),
            expected: WRAPPED_CEK_LEN,
        });
    }
    let cipher = Aes128::new_from_slice(kek).map_err(|_| JweError::Crypto("AES-128 key"))?;
    let mut a = [0u8; 8];
    a.copy_from_slice(&wrapped[..8]);
    let mut r = Zeroizing::new([0u8; CEK_LEN]);
    r.copy_from_slice(&wrapped[8..]);
    let mut block = aes::Block::default();
    for j in (0..6u64).rev() {
        for i in (0..n).rev() {
            let t = (n as u64) * j + (i as u64) + 1;
            for (x, y) in a.iter_mut().zip(t.to_be_bytes()) {
                *x ^= y;
            }
            block[..8].copy_from_slice(&a);
            block[8..].copy_from_slice(&r[i * 8..i * 8 + 8]);
            cipher.decrypt_block(&mut block);
            a.copy_from_slice(&block[..8]);
            r[i * 8..i * 8 + 8].copy_from_slice(&block[8..]);
        }
    }
    block[..].zeroize();
    if bool::from(a.ct_eq(&KW_IV)) {
        Ok(r)
    } else {
        Err(JweError::Unwrap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notary_signer::fixtures::{FIXTURE_PASSPHRASE, fixture_rows};

    /// RFC 3394 §4.1: 128 bits of key data with a 128-bit KEK.
    #[test]
    fn aes_key_wrap_rfc3394_vector() {
        let kek: [u8; 16] = hex::decode("000102030405060708090A0B0C0D0E0F")
            .unwrap()
            .try_into()
            .unwrap();
        let key = hex::decode("00112233445566778899AABBCCDDEEFF").unwrap();
        let wrapped = aes_kw_wrap(&kek, &key).unwrap();
        assert_eq!(
            hex::encode_upper(&wrapped),
            "1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5"
        );
        // And a 256-bit key round trip (the CEK size of A256GCM).
        let cek = [0x5au8; 32];
        let wrapped = aes_kw_wrap(&kek, &cek).unwrap();
        assert_eq!(aes_kw_unwrap(&kek, &wrapped).unwrap().as_slice(), &cek);
        let mut bad = wrapped;
        bad[20] ^= 1;
        assert!(matches!(aes_kw_unwrap(&kek, &bad), Err(JweError::Unwrap)));
    }

    #[test]
    fn decrypts_every_key_the_go_notary_signer_wrote() {
        let rows = fixture_rows();
        assert!(rows.len() >= 6);
        for row in &rows {
            let plain = decrypt(&row.private, FIXTURE_PASSPHRASE.as_bytes())
                .unwrap_or_else(|e| panic!("{}: {e}", row.key_id));
            match row.algorithm.as_str() {
                // SEC1 ECPrivateKey with curve and public key.
                "ecdsa" => assert_eq!(plain.len(), 121, "{}", row.key_id),
                // public ‖ seed ‖ public.
                "ed25519" => {
                    assert_eq!(plain.len(), 96, "{}", row.key_id);
                    assert_eq!(&plain[..32], &plain[64..]);
                    assert_eq!(&plain[..32], row.public.as_slice());
                }
                other => panic!("unexpected algorithm {other}"),
            }
        }
        assert!(rows.iter().any(|r| r.algorithm == "ed25519"));
    }

    #[test]
    fn header_is_written_as_jose2go_writes_it() {
        let jwe = encrypt(b"secret", b"pw").unwrap();
        let header = jwe.split('.').next().unwrap();
        let text = String::from_utf8(URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
        assert!(
            text.starts_with(r#"{"alg":"PBES2-HS256+A128KW","enc":"A256GCM","p2c":8192,"p2s":""#),
            "{text}"
        );
        // The Go signer's own rows have exactly this header shape.
        let go = &fixture_rows()[0].private;
        let go_header = String::from_utf8(
            URL_SAFE_NO_PAD
                .decode(go.split('.').next().unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(go_header.len(), text.len(), "{go_header} vs {text}");
        assert_eq!(go_header[..60], text[..60]);
    }

    #[test]
    fn round_trip_and_determinism() {
        let params = EncryptParams {
            iterations: 1000,
            salt: b"0123456789ab".to_vec(),
            cek: Zeroizing::new([3; 32]),
            iv: [4; 12],
        };
        let a = encrypt_with(b"private key bytes", b"pw", &params).unwrap();
        let b = encrypt_with(b"private key bytes", b"pw", &params).unwrap();
        assert_eq!(a, b);
        assert_eq!(decrypt(&a, b"pw").unwrap().as_slice(), b"private key bytes");
        let fresh = encrypt(b"private key bytes", b"pw").unwrap();
        assert_ne!(fresh, encrypt(b"private key bytes", b"pw").unwrap());
        assert_eq!(
            decrypt(&fresh, b"pw").unwrap().as_slice(),
            b"private key bytes"
        );
        assert!(matches!(decrypt(&fresh, b"other"), Err(JweError::Unwrap)));
        assert!(matches!(
            decrypt(&fresh, b""),
            Err(JweError::EmptyPassphrase)
        ));
        assert!(matches!(encrypt(b"x", b""), Err(JweError::EmptyPassphrase)));
        let empty = encrypt(b"", b"pw").unwrap();
        assert!(decrypt(&empty, b"pw").unwrap().is_empty());
    }

    #[test]
    fn never_writes_what_it_cannot_read() {
        // Found by the `jwe` fuzz target: a plaintext near 48 KiB encrypted to a
        // serialization longer than `decrypt` accepts.
        let params = EncryptParams {
            iterations: 1,
            salt: b"0123456789ab".to_vec(),
            cek: Zeroizing::new([3; 32]),
            iv: [4; 12],
        };
        let fits = vec![1_u8; 48_000];
        let written = encrypt_with(&fits, b"pw", &params).unwrap();
        assert!(written.len() <= MAX_COMPACT_LEN);
        assert_eq!(
            decrypt(&written, b"pw").unwrap().as_slice(),
            fits.as_slice()
        );
        assert!(matches!(
            encrypt_with(&[1_u8; 50_000], b"pw", &params),
            Err(JweError::TooLong {
                max: MAX_COMPACT_LEN,
                ..
            })
        ));
    }

    fn with_part(jwe: &str, index: usize, f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut parts: Vec<String> = jwe.split('.').map(str::to_owned).collect();
        let mut bytes = URL_SAFE_NO_PAD.decode(&parts[index]).unwrap();
        f(&mut bytes);
        parts[index] = URL_SAFE_NO_PAD.encode(&bytes);
        parts.join(".")
    }

    fn with_header(jwe: &str, f: impl FnOnce(&mut serde_json::Value)) -> String {
        with_part(jwe, 0, |bytes| {
            let mut v: serde_json::Value = serde_json::from_slice(bytes).unwrap();
            f(&mut v);
            *bytes = v.to_string().into_bytes();
        })
    }

    #[test]
    fn tampered_inputs_are_clear_errors() {
        let go = fixture_rows()[0].private.clone();
        let pw = FIXTURE_PASSPHRASE.as_bytes();
        let err = |s: &str| decrypt(s, pw).unwrap_err();

        // Tag, ciphertext and IV changes fail authentication.
        assert!(matches!(
            err(&with_part(&go, 4, |b| b[0] ^= 1)),
            JweError::Authentication
        ));
        assert!(matches!(
            err(&with_part(&go, 3, |b| b[5] ^= 1)),
            JweError::Authentication
        ));
        assert!(matches!(
            err(&with_part(&go, 2, |b| b[0] ^= 1)),
            JweError::Authentication
        ));
        // A modified wrapped key or salt fails the key unwrap, as a wrong passphrase does.
        assert!(matches!(
            err(&with_part(&go, 1, |b| b[9] ^= 1)),
            JweError::Unwrap
        ));
        assert!(matches!(
            err(&with_header(&go, |h| h["p2s"] = "AAAAAAAAAAAAAAAA".into())),
            JweError::Unwrap
        ));
        assert!(matches!(decrypt(&go, b"wrong"), Err(JweError::Unwrap)));
        // Any other header change fails authentication (the header is the AAD).
        assert!(matches!(
            err(&with_header(&go, |h| h["kid"] = "x".into())),
            JweError::Authentication
        ));

        // Huge or invalid iteration counts are refused before any derivation.
        let started = std::time::Instant::now();
        for p2c in [
            serde_json::json!(4_000_000_000u64),
            serde_json::json!(u64::MAX),
            serde_json::json!(1e300),
            serde_json::json!(0),
            serde_json::json!(-5),
            serde_json::json!(8192.5),
            serde_json::json!(MAX_ITERATIONS + 1),
        ] {
            let e = err(&with_header(&go, |h| h["p2c"] = p2c.clone()));
            assert!(matches!(e, JweError::IterationCount { .. }), "{p2c}: {e}");
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        assert!(matches!(
            err(&with_header(&go, |h| h["p2c"] = "8192".into())),
            JweError::Header { .. }
        ));
        // An integral float is what jose2go itself would accept.
        let float = with_header(&go, |h| h["p2c"] = serde_json::json!(8192.0));
        assert!(matches!(decrypt(&float, pw), Err(JweError::Authentication)));

        // Wrong algorithm names.
        let e = err(&with_header(&go, |h| {
            h["alg"] = "PBES2-HS512+A256KW".into()
        }));
        assert!(
            matches!(&e, JweError::Algorithm { alg, .. } if alg == "PBES2-HS512+A256KW"),
            "{e}"
        );
        assert!(e.to_string().contains("PBES2-HS512+A256KW"));
        let e = err(&with_header(&go, |h| h["enc"] = "A128CBC-HS256".into()));
        assert!(matches!(&e, JweError::Encryption { enc, .. } if enc == "A128CBC-HS256"));
        assert!(matches!(
            err(&with_header(&go, |h| h["zip"] = "DEF".into())),
            JweError::Header { .. }
        ));
        for field in ["alg", "enc", "p2c", "p2s"] {
            let e = err(&with_header(&go, |h| {
                h.as_object_mut().unwrap().remove(field);
            }));
            assert!(matches!(e, JweError::Header { .. }), "{field}: {e}");
        }

        // Truncated, missing or extra parts.
        let parts: Vec<&str> = go.split('.').collect();
        assert!(matches!(
            err(&parts[..4].join(".")),
            JweError::Parts { found: 4 }
        ));
        assert!(matches!(err(""), JweError::Parts { found: 1 }));
        assert!(matches!(
            err(&format!("{go}.x")),
            JweError::Parts { found: 6 }
        ));
        assert!(matches!(
            err(&with_part(&go, 4, |b| b.truncate(8))),
            JweError::Length {
                part: "authentication tag",
                len: 8,
                expected: 16
            }
        ));
        assert!(matches!(
            err(&with_part(&go, 1, |b| b.truncate(32))),
            JweError::Length {
                part: "encrypted key",
                ..
            }
        ));
        assert!(matches!(
            err(&with_part(&go, 2, |b| b.push(0))),
            JweError::Length { part: "IV", .. }
        ));
        let mut empty_parts = parts.clone();
        empty_parts[3] = "";
        assert!(matches!(
            err(&empty_parts.join(".")),
            JweError::Authentication
        ));
        let mut truncated = go.clone();
        truncated.truncate(go.len() - 3);
        assert!(decrypt(&truncated, pw).is_err());

        // Bad base64 and bad header JSON.
        assert!(matches!(
            err(&go.replacen('.', ".*", 1)),
            JweError::Base64 {
                part: "encrypted key"
            }
        ));
        assert!(matches!(
            err(&format!("!{go}")),
            JweError::Base64 { part: "header" }
        ));
        assert!(matches!(
            err(&with_part(&go, 0, |b| *b = b"[1,2]".to_vec())),
            JweError::Header { .. }
        ));
        assert!(matches!(
            err(&with_part(&go, 0, |b| *b = b"\xff\xfe".to_vec())),
            JweError::Header { .. }
        ));
        assert!(matches!(
            err(&with_header(&go, |h| h["p2s"] = "*&^".into())),
            JweError::Base64 { part: "p2s" }
        ));
        assert!(matches!(
            err(&"a".repeat(MAX_COMPACT_LEN + 1)),
            JweError::TooLong { .. }
        ));
    }

    #[test]
    fn errors_never_show_the_passphrase() {
        let go = &fixture_rows()[0].private;
        let e = decrypt(go, b"not the passphrase").unwrap_err();
        assert!(!e.to_string().contains("not the passphrase"));
    }
}
