//! `keyfile`: private key files of a trust directory and of `signet key import`: PEM with
//! Notary's `role`/`gun` headers around encrypted PKCS#8 (PBES2, PBKDF2-HMAC-SHA1,
//! AES-256-CBC), unencrypted PKCS#8, and the legacy SEC1, PKCS#1 and raw Ed25519 forms,
//! RFC 1423-encrypted or not.
//!
//! Input: one selector byte, then the file or DER. Bit 0 picks the passphrase (`password`, the
//! notary 0.3 and Go PKCS#8 fixtures', or `randompass`, notary 0.1's); the rest, modulo 6, picks
//! the entry point: the key file as the key store reads it, every PEM block of it, or the DER
//! as unencrypted PKCS#8, encrypted PKCS#8, SEC1, or PKCS#1 and Notary's raw Ed25519.
//! Invariants: a decoded key signs messages its own public key verifies, and survives a PKCS#8
//! round trip with the same key ID; a PEM block signet writes reads back unchanged.

use signet_signer::PrivateKey;
use signet_signer::{keyfile, pkcs8};
use signet_tuf::notary::pem;

const CONTEXT: &str = "fuzzed key";

fn check_key(key: &PrivateKey) {
    let msg = b"signet fuzz message";
    if let Ok(signature) = key.sign(msg) {
        assert_eq!(
            &signature.keyid,
            key.key_id(),
            "signature names another key"
        );
        if let Err(e) = key
            .public_key()
            .verify(&signature.method, msg, &signature.sig)
        {
            panic!("a decoded key's signature does not verify with its public key: {e}");
        }
    }
    if let Ok(der) = pkcs8::encode_private_key_info(key) {
        match pkcs8::decode_private_key_info(&der, CONTEXT) {
            Ok(again) => assert_eq!(
                again.key_id(),
                key.key_id(),
                "key ID changed through PKCS#8"
            ),
            Err(e) => panic!("PKCS#8 written by signet does not decode: {e}"),
        }
    }
}

fn accept(result: signet_signer::Result<PrivateKey>) -> bool {
    match result {
        Ok(key) => {
            check_key(&key);
            true
        }
        Err(_) => false,
    }
}

/// Runs one input; `true` when a private key was decoded.
pub fn run(data: &[u8]) -> bool {
    let Some((selector, rest)) = super::split_selector(data) else {
        return false;
    };
    let passphrase = if selector & 1 == 0 {
        "password"
    } else {
        "randompass"
    };
    match (selector >> 1) % 6 {
        0 => {
            let Ok(text) = std::str::from_utf8(rest) else {
                return false;
            };
            accept(keyfile::decode_key_file(text, passphrase, CONTEXT))
        }
        1 => {
            let Ok(text) = std::str::from_utf8(rest) else {
                return false;
            };
            let mut accepted = false;
            for block in pem::decode_all(text) {
                let _ = keyfile::is_encrypted(&block);
                if let Ok(encoded) = block.encode() {
                    let again = pem::decode_all(&encoded);
                    assert_eq!(
                        again.len(),
                        1,
                        "a PEM block signet wrote reads back as {} blocks",
                        again.len()
                    );
                    assert!(
                        again.first() == Some(&block),
                        "a PEM block changed through encode"
                    );
                }
                accepted |= accept(keyfile::decode_key_block(&block, passphrase, CONTEXT));
            }
            accepted
        }
        2 => accept(pkcs8::decode_private_key_info(rest, CONTEXT)),
        3 => accept(pkcs8::decrypt(rest, passphrase.as_bytes(), CONTEXT)),
        4 => accept(pkcs8::decode_sec1(rest, None, CONTEXT)),
        _ => {
            let rsa = accept(pkcs8::decode_pkcs1(rest, CONTEXT));
            accept(pkcs8::decode_notary_ed25519(rest, CONTEXT)) || rsa
        }
    }
}
