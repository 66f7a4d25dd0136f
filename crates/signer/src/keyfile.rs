//! Notary key files: one PEM block per key, with `role`/`gun` headers.
//!
//! Written files are `ENCRYPTED PRIVATE KEY` blocks (PKCS#8, see [`crate::pkcs8`]) with the
//! headers `gun` (only for `targets`, `snapshot` and `timestamp` keys) and `role`, exactly as
//! Notary ≥ 0.6 writes them. An empty passphrase writes an unencrypted `PRIVATE KEY` block, as
//! Notary's library does (its CLIs never do).
//!
//! Read are, in addition, the legacy blocks of Notary ≤ 0.5: `EC PRIVATE KEY` (SEC1),
//! `RSA PRIVATE KEY` (PKCS#1) and `ED25519 PRIVATE KEY` (96 raw bytes), either plain or
//! encrypted per RFC 1423 (`Proc-Type: 4,ENCRYPTED`, `DEK-Info: AES-256-CBC,<hex IV>`, key from
//! OpenSSL's `EVP_BytesToKey` with MD5 and one iteration).

use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockDecryptMut as _, KeyIvInit as _};
use md5::{Digest as _, Md5};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::pkcs8;
use crate::private_key::PrivateKey;
use signet_tuf::notary::pem::{self, PemBlock};

/// Whether keys of `role` are stored with a `gun` header. Notary keeps the GUN only for the
/// repository-specific base roles; root keys, delegation keys and keys with other role names
/// are shared across repositories.
pub fn role_keeps_gun(role: &str) -> bool {
    matches!(role, "targets" | "snapshot" | "timestamp")
}

/// Whether a PEM label is one of the private key formats Notary reads.
pub fn is_private_key_label(label: &str) -> bool {
    PRIVATE_KEY_LABELS.contains(&label)
}

/// The labels of the PEM blocks that hold a private key: PKCS#8, encrypted PKCS#8, SEC 1
/// (`EC PRIVATE KEY`), PKCS#1 (`RSA PRIVATE KEY`, possibly with legacy encryption headers) and
/// Notary's `ED25519 PRIVATE KEY`.
pub const PRIVATE_KEY_LABELS: [&str; 5] = [
    pem::ENCRYPTED_PRIVATE_KEY,
    pem::PRIVATE_KEY,
    pem::EC_PRIVATE_KEY,
    pem::RSA_PRIVATE_KEY,
    pem::ED25519_PRIVATE_KEY,
];

/// Whether decoding `block` needs a passphrase.
pub fn is_encrypted(block: &PemBlock) -> bool {
    block.label == pem::ENCRYPTED_PRIVATE_KEY || block.is_legacy_encrypted()
}

/// Builds the PEM block of a Notary key file for `key`.
///
/// The `gun` header is written only when [`role_keeps_gun`] says so. A non-empty passphrase
/// produces an `ENCRYPTED PRIVATE KEY`, an empty one a plain `PRIVATE KEY`.
pub fn encode_key_block(
    key: &PrivateKey,
    role: &str,
    gun: Option<&str>,
    passphrase: &str,
) -> Result<PemBlock> {
    let mut block = if passphrase.is_empty() {
        PemBlock::new(
            pem::PRIVATE_KEY,
            pkcs8::encode_private_key_info(key)?.to_vec(),
        )
    } else {
        PemBlock::new(
            pem::ENCRYPTED_PRIVATE_KEY,
            pkcs8::encrypt(key, passphrase.as_bytes())?,
        )
    };
    if !role.is_empty() {
        block.set_header(pem::ROLE_HEADER, role);
    }
    if let Some(gun) = gun.filter(|g| !g.is_empty() && role_keeps_gun(role)) {
        block.set_header(pem::GUN_HEADER, gun);
    }
    Ok(block)
}

/// Encodes `key` as the text of a Notary key file (see [`encode_key_block`]).
pub fn encode_key_file(
    key: &PrivateKey,
    role: &str,
    gun: Option<&str>,
    passphrase: &str,
) -> Result<String> {
    Ok(encode_key_block(key, role, gun, passphrase)?.encode()?)
}

/// Decodes the private key in `block` with `passphrase` (ignored for unencrypted blocks).
///
/// `context` names the key or file in errors. A wrong passphrase gives
/// [`Error::WrongPassphrase`].
pub fn decode_key_block(block: &PemBlock, passphrase: &str, context: &str) -> Result<PrivateKey> {
    match block.label.as_str() {
        pem::ENCRYPTED_PRIVATE_KEY => {
            pkcs8::decrypt(&block.contents, passphrase.as_bytes(), context)
        }
        pem::PRIVATE_KEY => pkcs8::decode_private_key_info(&block.contents, context),
        pem::EC_PRIVATE_KEY | pem::RSA_PRIVATE_KEY | pem::ED25519_PRIVATE_KEY => {
            if block.is_legacy_encrypted() {
                let der = decrypt_legacy(block, passphrase, context)?;
                match decode_legacy(&block.label, &der, context) {
                    Err(Error::MalformedKey { .. }) => Err(Error::WrongPassphrase {
                        key: context.to_owned(),
                    }),
                    other => other,
                }
            } else {
                decode_legacy(&block.label, &block.contents, context)
            }
        }
        other => Err(Error::UnsupportedKey {
            context: context.to_owned(),
            kind: format!("PEM block {other:?}"),
        }),
    }
}

/// Decodes the first PEM block of a key file's text (see [`decode_key_block`]).
pub fn decode_key_file(text: &str, passphrase: &str, context: &str) -> Result<PrivateKey> {
    let block = pem::decode_first(text).ok_or_else(|| Error::Pem {
        context: context.to_owned(),
        reason: "no PEM block found".to_owned(),
    })?;
    decode_key_block(&block, passphrase, context)
}

fn decode_legacy(label: &str, der: &[u8], context: &str) -> Result<PrivateKey> {
    match label {
        pem::EC_PRIVATE_KEY => pkcs8::decode_sec1(der, None, context),
        pem::RSA_PRIVATE_KEY => pkcs8::decode_pkcs1(der, context),
        _ => pkcs8::decode_notary_ed25519(der, context),
    }
}

/// OpenSSL's `EVP_BytesToKey` with MD5, one iteration and the first 8 IV bytes as salt.
fn evp_bytes_to_key_md5(passphrase: &[u8], salt: &[u8], len: usize) -> Zeroizing<Vec<u8>> {
    let mut key = Zeroizing::new(Vec::with_capacity(len + 16));
    let mut previous: Option<Zeroizing<Vec<u8>>> = None;
    while key.len() < len {
        let mut hasher = Md5::new();
        if let Some(prev) = &previous {
            hasher.update(prev.as_slice());
        }
        hasher.update(passphrase);
        hasher.update(salt);
        let digest = Zeroizing::new(hasher.finalize().to_vec());
        key.extend_from_slice(&digest);
        previous = Some(digest);
    }
    key.truncate(len);
    key
}

/// Decrypts an RFC 1423 encrypted block (`DEK-Info: AES-{128,192,256}-CBC,<hex IV>`).
fn decrypt_legacy(block: &PemBlock, passphrase: &str, context: &str) -> Result<Zeroizing<Vec<u8>>> {
    let unsupported = |scheme: String| Error::UnsupportedEncryption {
        context: context.to_owned(),
        scheme,
    };
    let dek_info = block
        .header(pem::DEK_INFO_HEADER)
        .ok_or_else(|| Error::malformed(context, "encrypted PEM block without DEK-Info"))?;
    let (cipher, iv_hex) = dek_info
        .split_once(',')
        .ok_or_else(|| Error::malformed(context, format!("DEK-Info {dek_info:?}")))?;
    let key_len = match cipher.trim() {
        "AES-128-CBC" => 16,
        "AES-192-CBC" => 24,
        "AES-256-CBC" => 32,
        other => return Err(unsupported(format!("legacy PEM cipher {other}"))),
    };
    let iv = hex::decode(iv_hex.trim())
        .map_err(|_| Error::malformed(context, format!("DEK-Info IV {iv_hex:?}")))?;
    if iv.len() != 16 {
        return Err(Error::malformed(
            context,
            format!("DEK-Info IV has {} bytes", iv.len()),
        ));
    }
    if block.contents.is_empty() || !block.contents.len().is_multiple_of(16) {
        return Err(Error::malformed(
            context,
            "encrypted PEM body is not a multiple of the block size",
        ));
    }
    let key = evp_bytes_to_key_md5(passphrase.as_bytes(), &iv[..8], key_len);
    let mut buf = Zeroizing::new(block.contents.to_vec());
    let plain_len = match key_len {
        16 => cbc::Decryptor::<aes::Aes128>::new_from_slices(&key, &iv)
            .map_err(|_| unsupported("AES-128-CBC key".to_owned()))?
            .decrypt_padded_mut::<Pkcs7>(&mut buf)
            .map(|p| p.len()),
        24 => cbc::Decryptor::<aes::Aes192>::new_from_slices(&key, &iv)
            .map_err(|_| unsupported("AES-192-CBC key".to_owned()))?
            .decrypt_padded_mut::<Pkcs7>(&mut buf)
            .map(|p| p.len()),
        _ => cbc::Decryptor::<aes::Aes256>::new_from_slices(&key, &iv)
            .map_err(|_| unsupported("AES-256-CBC key".to_owned()))?
            .decrypt_padded_mut::<Pkcs7>(&mut buf)
            .map(|p| p.len()),
    }
    .map_err(|_| Error::WrongPassphrase {
        key: context.to_owned(),
    })?;
    buf.truncate(plain_len);
    Ok(buf)
}

#[cfg(test)]
pub(crate) mod tests {
    use aes::cipher::BlockEncryptMut as _;

    use super::*;
    use crate::private_key::KeyAlgorithm;

    /// Encrypts `der` as a legacy RFC 1423 AES-256-CBC block (what Notary ≤ 0.5 wrote).
    pub(crate) fn legacy_block(
        label: &str,
        der: &[u8],
        passphrase: &str,
        iv: [u8; 16],
    ) -> PemBlock {
        let key = evp_bytes_to_key_md5(passphrase.as_bytes(), &iv[..8], 32);
        let ciphertext = cbc::Encryptor::<aes::Aes256>::new_from_slices(&key, &iv)
            .unwrap()
            .encrypt_padded_vec_mut::<Pkcs7>(der);
        let mut block = PemBlock::new(label, ciphertext);
        block.set_header(pem::PROC_TYPE_HEADER, "4,ENCRYPTED");
        block.set_header(
            pem::DEK_INFO_HEADER,
            format!("AES-256-CBC,{}", hex::encode_upper(iv)),
        );
        block
    }

    #[test]
    fn evp_bytes_to_key_matches_openssl() {
        // `openssl enc -aes-256-cbc -pass pass:randompass -S 0001020304050607 -md md5 -P`
        // prints key and IV, which are the first 48 derived bytes.
        let derived = evp_bytes_to_key_md5(b"randompass", &[0, 1, 2, 3, 4, 5, 6, 7], 48);
        assert_eq!(
            hex::encode_upper(derived.as_slice()),
            "1D6E9AE4A730530D54D4E33331F304C24FB5A0A754CA5907AC5F665D5AA15AA0\
             3E06C257CDB7C20F740104993EEDD353"
        );
    }

    #[test]
    fn headers_follow_notary_rules() {
        let key = PrivateKey::generate_ecdsa().unwrap();
        let targets = encode_key_block(&key, "targets", Some("example.com/app"), "pw").unwrap();
        assert_eq!(targets.label, pem::ENCRYPTED_PRIVATE_KEY);
        assert_eq!(targets.header("gun"), Some("example.com/app"));
        assert_eq!(targets.header("role"), Some("targets"));
        for role in ["root", "targets/releases", "alice"] {
            let block = encode_key_block(&key, role, Some("example.com/app"), "pw").unwrap();
            assert_eq!(block.header("gun"), None, "{role} keys carry no gun");
            assert_eq!(block.header("role"), Some(role));
        }
        let plain = encode_key_block(&key, "root", None, "").unwrap();
        assert_eq!(plain.label, pem::PRIVATE_KEY);
        assert!(!is_encrypted(&plain));
        assert!(is_encrypted(&targets));
    }

    #[test]
    fn round_trip_every_algorithm() {
        for key in [
            PrivateKey::generate(KeyAlgorithm::Ecdsa).unwrap(),
            PrivateKey::generate(KeyAlgorithm::Ed25519).unwrap(),
            PrivateKey::generate_rsa(2048).unwrap(),
        ] {
            for pass in ["randompass", ""] {
                let text = encode_key_file(&key, "snapshot", Some("g/u/n"), pass).unwrap();
                let back = decode_key_file(&text, pass, "t").unwrap();
                assert_eq!(back.key_id(), key.key_id());
                assert_eq!(back.algorithm(), key.algorithm());
            }
            let text = encode_key_file(&key, "root", None, "randompass").unwrap();
            assert!(matches!(
                decode_key_file(&text, "nope", "t"),
                Err(Error::WrongPassphrase { .. })
            ));
        }
    }

    #[test]
    fn legacy_blocks_decrypt_and_detect_wrong_passphrase() {
        let ec = PrivateKey::generate_ecdsa().unwrap();
        let pkcs8 = pkcs8::encode_private_key_info(&ec).unwrap();
        // Pull the SEC1 structure out of the PKCS#8 wrapper.
        let sec1 = {
            let mut outer = crate::asn1::DerReader::new(&pkcs8);
            let mut info = outer.sequence("i").unwrap();
            info.small_uint("v").unwrap();
            info.sequence("a").unwrap();
            info.octet_string("k").unwrap().to_vec()
        };
        let block = legacy_block(pem::EC_PRIVATE_KEY, &sec1, "randompass", [9; 16]);
        assert!(is_encrypted(&block));
        let back = decode_key_block(&block, "randompass", "t").unwrap();
        assert_eq!(back.key_id(), ec.key_id());
        assert!(matches!(
            decode_key_block(&block, "wrong", "t"),
            Err(Error::WrongPassphrase { .. })
        ));
        let plain = PemBlock::new(pem::EC_PRIVATE_KEY, sec1);
        assert_eq!(
            decode_key_block(&plain, "", "t").unwrap().key_id(),
            ec.key_id()
        );

        let ed = PrivateKey::generate_ed25519().unwrap();
        let (seed, public) = ed.ed25519_parts().unwrap();
        let raw = [&public[..], &seed[..], &public[..]].concat();
        let block = legacy_block(pem::ED25519_PRIVATE_KEY, &raw, "pw", [1; 16]);
        assert_eq!(
            decode_key_block(&block, "pw", "t").unwrap().key_id(),
            ed.key_id()
        );
    }

    #[test]
    fn unknown_legacy_cipher_is_reported() {
        let mut block = PemBlock::new(pem::RSA_PRIVATE_KEY, vec![0; 32]);
        block.set_header(pem::PROC_TYPE_HEADER, "4,ENCRYPTED");
        block.set_header(pem::DEK_INFO_HEADER, "DES-EDE3-CBC,0001020304050607");
        assert!(matches!(
            decode_key_block(&block, "pw", "t"),
            Err(Error::UnsupportedEncryption { .. })
        ));
        let other = PemBlock::new("CERTIFICATE", vec![1]);
        assert!(matches!(
            decode_key_block(&other, "pw", "t"),
            Err(Error::UnsupportedKey { .. })
        ));
    }
}
