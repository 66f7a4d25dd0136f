//! `x509`: root and delegation certificates: PEM bundles in `root.json` key values, trusted
//! certificates of a trust directory, `signet key import` and trust pinning CA files,
//! delegation public key files (a certificate or a PEM public key), and the DER public keys
//! (`ecdsa`, `rsa` key values) of metadata.
//!
//! Input: any bytes, read as a PEM bundle, as a delegation key file, as one DER certificate
//! and as a DER SubjectPublicKeyInfo. Every accessor and check the root rules use runs on what parses.
//! Invariants: a certificate's PEM re-encoding parses to the same certificate; a key built from
//! a bundle has a stable canonical key ID.

use signet_client::delegation_keys;
use signet_tuf::PublicKey;
use signet_tuf::x509::{self, Certificate};

use super::fixed_now;

/// The GUN the root rules are checked against (and the certificate's own CN).
const GUN: &str = "docker.com/notary0.3/tst";

fn inspect(cert: &Certificate) {
    let cn = cert.common_name();
    let _ = cert.is_ca();
    let _ = (cert.not_before(), cert.not_after());
    let _ = cert.spki_der();
    let _ = cert.x509_key_type();
    let _ = cert.validate(Some(fixed_now()));
    let _ = cert.validate(None);
    if let Some(cn) = &cn {
        let _ = x509::cn_matches_gun(cn, GUN);
    }
    match x509::parse_bundle(cert.to_pem().as_bytes()) {
        Ok(again) => assert_eq!(
            again.first(),
            Some(cert),
            "a certificate changed through to_pem"
        ),
        Err(e) => panic!("to_pem output does not parse: {e}"),
    }
}

fn check_key(key: &PublicKey, gun: &str) {
    let _ = key.key_id();
    if let Ok(id) = key.canonical_key_id() {
        assert_eq!(
            key.canonical_key_id().ok(),
            Some(id),
            "canonical key ID is not stable"
        );
    }
    let _ = key.canonical_key();
    let _ = x509::check_root_key(key, gun, fixed_now());
    let _ = key.verify("ecdsa", b"message", &[0; 64]);
}

/// Runs one input; `true` when it held a certificate or a public key.
pub fn run(data: &[u8]) -> bool {
    let mut accepted = false;
    if let Ok(bundle) = x509::parse_bundle(data) {
        for cert in &bundle {
            inspect(cert);
        }
        if let Some((leaf, intermediates)) = x509::split_leaf(&bundle)
            && let Ok(key) = x509::bundle_to_key(leaf, &intermediates)
        {
            let gun = leaf.common_name().unwrap_or_default();
            check_key(&key, &gun);
            check_key(&key, GUN);
        }
        accepted |= !bundle.is_empty();
    }
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(key) = PublicKey::from_certificate_pem(text)
    {
        check_key(&key, GUN);
        accepted = true;
    }
    if let Ok(cert) = Certificate::from_der(data) {
        inspect(&cert);
        accepted = true;
    }
    if let Ok(text) = std::str::from_utf8(data) {
        // `signet delegation add` / `trust signer add` key files: a certificate or a PEM
        // public key.
        let path = std::path::Path::new("fuzzed.pem");
        if let Ok(key) = delegation_keys::parse_public_key(path, text, fixed_now()) {
            check_key(&key, GUN);
            accepted = true;
        }
    }
    if let Ok(key) = PublicKey::from_spki_der(data) {
        check_key(&key, GUN);
        accepted = true;
    }
    accepted
}
