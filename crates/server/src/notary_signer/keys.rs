//! The private and public key forms of notary-signer's `private_keys` rows.
//!
//! | `algorithm` | `public` column | decrypted `private` |
//! |---|---|---|
//! | `ecdsa` | DER SubjectPublicKeyInfo (91 bytes for P-256) | SEC1 `ECPrivateKey` DER with the curve and public key (Go's `x509.MarshalECPrivateKey`, 121 bytes) |
//! | `ed25519` | the 32 raw bytes | 96 bytes: public ‖ seed ‖ public (Go's private key is seed ‖ public) |
//!
//! notary-signer only creates these two kinds; anything else is refused by name.

use der::asn1::{AnyRef, ObjectIdentifier, OctetStringRef};
use der::{Decode as _, Reader as _};
use signet_signer::PrivateKey;
use signet_signer::pkcs8::{decode_notary_ed25519, decode_sec1, encode_private_key_info};
use signet_tuf::KeyType;
use signet_tuf::key::PublicKey;
use zeroize::Zeroizing;

/// The named curve notary-signer's ECDSA keys are on.
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");

/// The TUF key type of an `algorithm` column value, for the two notary-signer creates.
pub(crate) fn key_type(algorithm: &str) -> Option<KeyType> {
    match algorithm {
        "ecdsa" => Some(KeyType::Ecdsa),
        "ed25519" => Some(KeyType::Ed25519),
        _ => None,
    }
}

/// The private key in a decrypted `private` column, checked against the row: its public
/// key must be the `public` column, and the TUF key ID of that public key must be `key_id`.
pub(crate) fn decode(
    algorithm: &str,
    plaintext: &[u8],
    public: &[u8],
    key_id: &str,
) -> Result<PrivateKey, String> {
    let key = match algorithm {
        "ecdsa" => decode_sec1(plaintext, Some(OID_P256), key_id),
        "ed25519" => decode_notary_ed25519(plaintext, key_id),
        other => return Err(format!("unsupported algorithm {other:?}")),
    }
    .map_err(|e| format!("the decrypted private key does not decode: {e}"))?;
    let Some(keytype) = key_type(algorithm) else {
        return Err(format!("unsupported algorithm {algorithm:?}"));
    };
    if key.public_key().keytype() != &keytype {
        return Err(format!(
            "the decrypted key is {}, the row says {algorithm}",
            key.public_key().keytype().as_str()
        ));
    }
    if key.public_key().public() != public {
        return Err("the decrypted private key does not match the public column".to_owned());
    }
    let listed = PublicKey::new(keytype, public.to_vec()).key_id();
    if listed.as_str() != key_id {
        return Err(format!(
            "the public column has key ID {listed}, not the key_id column's"
        ));
    }
    Ok(key)
}

/// The `private` plaintext notary-signer keeps for `key` (see the module docs).
pub(crate) fn encode(key: &PrivateKey) -> Result<Zeroizing<Vec<u8>>, String> {
    match key.public_key().keytype() {
        KeyType::Ecdsa | KeyType::Ed25519 => {}
        other => {
            return Err(format!("notary-signer cannot hold {} keys", other.as_str()));
        }
    }
    // signet-signer writes Go notary's PKCS#8 layout, whose privateKey octets are exactly
    // what notary-signer encrypts: the SEC1 structure, or the 96 raw Ed25519 bytes.
    let pkcs8 = encode_private_key_info(key).map_err(|e| e.to_string())?;
    let read = |r: &mut der::SliceReader<'_>| {
        r.sequence(|info| {
            let _version = AnyRef::decode(info)?;
            let _algorithm = AnyRef::decode(info)?;
            let private = OctetStringRef::decode(info)?;
            Ok(Zeroizing::new(private.as_bytes().to_vec()))
        })
    };
    der::SliceReader::new(&pkcs8)
        .and_then(|mut r| read(&mut r))
        .map_err(|e| format!("cannot re-read the PKCS#8 form: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notary_signer::fixtures::{FIXTURE_PASSPHRASE, fixture_rows};
    use crate::notary_signer::jwe;

    #[test]
    fn go_keys_decode_match_their_rows_and_encode_back_identically() {
        for row in fixture_rows() {
            let plain = jwe::decrypt(&row.private, FIXTURE_PASSPHRASE.as_bytes()).unwrap();
            let key = decode(&row.algorithm, &plain, &row.public, &row.key_id).unwrap();
            assert_eq!(key.key_id().as_str(), row.key_id);
            // Byte for byte what Go wrote.
            assert_eq!(encode(&key).unwrap().as_slice(), plain.as_slice());
            // The key signs, and the public key of the row verifies it.
            let sig = key.sign(b"msg").unwrap();
            PublicKey::new(key_type(&row.algorithm).unwrap(), row.public.clone())
                .verify(&sig.method, b"msg", &sig.sig)
                .unwrap();
        }
    }

    #[test]
    fn mismatches_are_refused() {
        let rows = fixture_rows();
        let ec = rows.iter().find(|r| r.algorithm == "ecdsa").unwrap();
        let ed = rows.iter().find(|r| r.algorithm == "ed25519").unwrap();
        let other_ec = rows
            .iter()
            .find(|r| r.algorithm == "ecdsa" && r.key_id != ec.key_id)
            .unwrap();
        let pw = FIXTURE_PASSPHRASE.as_bytes();
        let ec_plain = jwe::decrypt(&ec.private, pw).unwrap();
        let ed_plain = jwe::decrypt(&ed.private, pw).unwrap();

        // Another key's public column.
        let e = decode("ecdsa", &ec_plain, &other_ec.public, &other_ec.key_id).unwrap_err();
        assert!(e.contains("does not match the public column"), "{e}");
        // The right public key under another key ID.
        let e = decode("ecdsa", &ec_plain, &ec.public, &other_ec.key_id).unwrap_err();
        assert!(e.contains("key ID"), "{e}");
        // Algorithm column disagreeing with the data.
        assert!(decode("ed25519", &ec_plain, &ec.public, &ec.key_id).is_err());
        assert!(decode("ecdsa", &ed_plain, &ed.public, &ed.key_id).is_err());
        let e = decode("rsa", &ec_plain, &ec.public, &ec.key_id).unwrap_err();
        assert!(e.contains("unsupported algorithm \"rsa\""), "{e}");
        // Garbage and truncation.
        assert!(decode("ecdsa", &ec_plain[..50], &ec.public, &ec.key_id).is_err());
        assert!(decode("ed25519", &ed_plain[..95], &ed.public, &ed.key_id).is_err());
        let mut flipped = ed_plain.to_vec();
        flipped[40] ^= 1;
        assert!(decode("ed25519", &flipped, &ed.public, &ed.key_id).is_err());
    }

    #[test]
    fn signet_keys_encode_as_notary_signer_expects() {
        for key in [
            PrivateKey::generate_ecdsa().unwrap(),
            PrivateKey::generate_ed25519().unwrap(),
        ] {
            let plain = encode(&key).unwrap();
            let alg = key.algorithm().as_str();
            let back = decode(
                alg,
                &plain,
                key.public_key().public(),
                key.key_id().as_str(),
            )
            .unwrap();
            assert_eq!(back.key_id(), key.key_id());
        }
    }
}
