//! Signing and verification per algorithm, and key-file decryption (PBKDF2 cost).
#![allow(missing_docs)]
// A benchmark whose setup fails has nothing to measure: aborting is the right outcome.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use signet_signer::{KeyAlgorithm, PrivateKey, keyfile};
use signet_tuf::notary::pem;

/// A typical canonical `signed` value of a timestamp.
const MESSAGE: &[u8] = br#"{"_type":"Timestamp","expires":"2026-12-07T15:14:05.00533153Z","meta":{"snapshot":{"hashes":{"sha256":"3uGpnnbMnZ8Dk0mbJ0ddBdQbM/zQUcgkt7uMqgSuH8c=","sha512":"6dQqJv+D8nbzTlDSkpcTc3qUU3uN51uMo3a0+yOIUTZpO5qkA7uhMhSqYCzNfS1VsllOqEIrVCzgbQJcWWRQ4w=="},"length":688}},"version":42}"#;

fn keys() -> Vec<(&'static str, PrivateKey)> {
    vec![
        (
            "ecdsa-p256",
            PrivateKey::generate(KeyAlgorithm::Ecdsa).unwrap(),
        ),
        (
            "ed25519",
            PrivateKey::generate(KeyAlgorithm::Ed25519).unwrap(),
        ),
        ("rsa-2048", PrivateKey::generate_rsa(2048).unwrap()),
    ]
}

fn sign_and_verify(c: &mut Criterion) {
    let mut group = c.benchmark_group("sign");
    for (name, key) in keys() {
        group.bench_function(name, |b| b.iter(|| key.sign(black_box(MESSAGE)).unwrap()));
    }
    group.finish();

    let mut group = c.benchmark_group("verify");
    for (name, key) in keys() {
        let sig = key.sign(MESSAGE).unwrap();
        let public = key.public_key().clone();
        group.bench_function(name, |b| {
            b.iter(|| {
                public
                    .verify(&sig.method, black_box(MESSAGE), &sig.sig)
                    .unwrap()
            })
        });
    }
    group.finish();
}

fn key_file_decryption(c: &mut Criterion) {
    let mut group = c.benchmark_group("key_file_decrypt");
    for (name, key) in keys() {
        let text = keyfile::encode_key_file(&key, "targets", Some("example.com/app"), "randompass")
            .unwrap();
        let block = pem::decode_first(&text).unwrap();
        group.bench_function(name, |b| {
            b.iter(|| keyfile::decode_key_block(black_box(&block), "randompass", "bench").unwrap())
        });
    }
    let key = PrivateKey::generate_ecdsa().unwrap();
    group.bench_function("ecdsa-p256-encrypt", |b| {
        b.iter(|| keyfile::encode_key_file(&key, "root", None, "randompass").unwrap())
    });
    group.finish();
}

criterion_group!(benches, sign_and_verify, key_file_decryption);
criterion_main!(benches);
