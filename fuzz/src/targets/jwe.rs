//! `jwe`: the `private` column of a Go notary-signer database (compact JWE,
//! `PBES2-HS256+A128KW` / `A256GCM`) and the private key it decrypts to, as
//! `signet-server import-notary-signer` reads them.
//!
//! Input: one selector byte, then (modulo 3):
//! 0. a compact JWE, decrypted with the fixtures' passphrase;
//! 1. a plaintext, encrypted with [`jwe::encrypt_with`] (one PBKDF2 iteration, random salt,
//!    key and IV) and decrypted again, which must give it back (a plaintext too long to read
//!    back must be refused by the encryption);
//! 2. a decrypted `private` column, read directly.
//!
//! Every plaintext is then decoded as the private key of the fixture rows of both algorithms
//! (`ecdsa`, `ed25519`), whose `public` and `key_id` columns it must match. Invariant: a key
//! that decodes has exactly the row's public key.

use std::sync::OnceLock;

use signet_server::error::JweError;
use signet_server::notary_signer::{decode_private_key, jwe};

/// The passphrase the fixture rows are encrypted under.
pub const PASSPHRASE: &[u8] = b"signet fixture passphrase";

const ROWS: &str = include_str!("../../../crates/server/tests/data/notary-signer/keys.json");

/// `(algorithm, public, key_id)` of the first fixture row of each algorithm.
fn rows() -> &'static [(String, Vec<u8>, String)] {
    static ROWS_PARSED: OnceLock<Vec<(String, Vec<u8>, String)>> = OnceLock::new();
    ROWS_PARSED.get_or_init(|| {
        let rows: Vec<serde_json::Value> = match serde_json::from_str(ROWS) {
            Ok(rows) => rows,
            Err(e) => panic!("fixture keys.json does not parse: {e}"),
        };
        let mut out: Vec<(String, Vec<u8>, String)> = Vec::new();
        for row in rows {
            let field = |name: &str| row[name].as_str().unwrap_or_default().to_owned();
            let algorithm = field("algorithm");
            if out.iter().any(|(a, _, _)| *a == algorithm) {
                continue;
            }
            let public = unhex(&field("public"));
            out.push((algorithm, public, field("key_id")));
        }
        out
    })
}

fn unhex(text: &str) -> Vec<u8> {
    text.as_bytes()
        .chunks(2)
        .filter_map(|pair| std::str::from_utf8(pair).ok())
        .filter_map(|pair| u8::from_str_radix(pair, 16).ok())
        .collect()
}

fn decode(plaintext: &[u8]) -> bool {
    let mut accepted = false;
    for (algorithm, public, key_id) in rows() {
        if let Ok(key) = decode_private_key(algorithm, plaintext, public, key_id) {
            assert_eq!(
                key.public_key().public(),
                public.as_slice(),
                "a decoded key does not match its row"
            );
            assert_eq!(
                key.key_id().as_str(),
                key_id,
                "a decoded key has another ID"
            );
            accepted = true;
        }
    }
    accepted
}

/// Runs one input; `true` when a private key was decoded.
pub fn run(data: &[u8]) -> bool {
    let Some((selector, rest)) = super::split_selector(data) else {
        return false;
    };
    match selector % 3 {
        0 => {
            let Ok(compact) = std::str::from_utf8(rest) else {
                return false;
            };
            match jwe::decrypt(compact, PASSPHRASE) {
                Ok(plaintext) => {
                    decode(&plaintext);
                    true
                }
                Err(_) => false,
            }
        }
        1 => {
            let mut params = match jwe::EncryptParams::generate() {
                Ok(params) => params,
                Err(e) => panic!("no random parameters: {e}"),
            };
            params.iterations = 1;
            let compact = match jwe::encrypt_with(rest, PASSPHRASE, &params) {
                Ok(compact) => compact,
                // Too long to read back, so never written.
                Err(JweError::TooLong { .. }) => return decode(rest),
                Err(e) => panic!("encryption failed: {e}"),
            };
            match jwe::decrypt(&compact, PASSPHRASE) {
                Ok(plaintext) => assert_eq!(
                    plaintext.as_slice(),
                    rest,
                    "a JWE round trip changed the plaintext"
                ),
                Err(e) => panic!("a JWE signet wrote does not decrypt: {e}"),
            }
            decode(rest)
        }
        _ => decode(rest),
    }
}
