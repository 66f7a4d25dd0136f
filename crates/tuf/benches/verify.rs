//! Verification benchmarks: a root with an x509 root key, and parse + verify of targets files
//! with 1k, 10k and 100k targets signed by an ECDSA P-256 key.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;

use chrono::{TimeZone as _, Utc};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use p256::ecdsa::signature::Signer as _;
use p256::pkcs8::{EncodePrivateKey as _, EncodePublicKey as _};
use rand_core::OsRng;
use signet_tuf::metadata::{Envelope, Expires, FileMeta, Metadata, RoleKeys, Root, Targets};
use signet_tuf::verify;
use signet_tuf::{PublicKey, Signature};

const GUN: &str = "example.com/bench";

struct Key {
    sk: p256::ecdsa::SigningKey,
    public: PublicKey,
}

impl Key {
    fn plain() -> Self {
        let sk = p256::ecdsa::SigningKey::random(&mut OsRng);
        let der = sk.verifying_key().to_public_key_der().unwrap();
        let public = PublicKey::from_spki_der(der.as_bytes()).unwrap();
        Self { sk, public }
    }

    fn certificate() -> Self {
        let sk = p256::ecdsa::SigningKey::random(&mut OsRng);
        let kp = rcgen::KeyPair::try_from(sk.to_pkcs8_der().unwrap().as_bytes()).unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, GUN);
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2040, 1, 1);
        let pem = params.self_signed(&kp).unwrap().pem();
        let public = PublicKey::from_certificate_pem(&pem).unwrap();
        Self { sk, public }
    }

    fn sign<T: Metadata>(&self, env: &mut Envelope<T>) {
        let sig: p256::ecdsa::Signature = self.sk.sign(env.signing_bytes());
        env.add_signature(Signature {
            keyid: self.public.key_id(),
            method: "ecdsa".into(),
            sig: sig.to_bytes().to_vec(),
        });
    }
}

fn expires() -> Expires {
    Expires::from_utc(Utc.with_ymd_and_hms(2100, 1, 1, 0, 0, 0).unwrap())
}

fn root(root_key: &Key, targets_key: &Key) -> Envelope<Root> {
    let mut root = Root::new(expires());
    for (role, key) in [
        ("root", root_key),
        ("targets", targets_key),
        ("snapshot", targets_key),
        ("timestamp", targets_key),
    ] {
        root.keys.insert(key.public.key_id(), key.public.clone());
        root.roles
            .insert(role.into(), RoleKeys::new(vec![key.public.key_id()], 1));
    }
    let mut env = Envelope::from_signed(root).unwrap();
    root_key.sign(&mut env);
    env
}

fn targets_file(key: &Key, count: usize) -> Vec<u8> {
    let mut t = Targets::new(1, expires());
    for i in 0..count {
        let name = format!("images/app-{i:06}.tar");
        t.targets
            .insert(name.clone(), FileMeta::from_bytes(name.as_bytes()));
    }
    let mut env = Envelope::from_signed(t).unwrap();
    key.sign(&mut env);
    env.to_file_bytes().unwrap()
}

fn bench_root(c: &mut Criterion) {
    let root_key = Key::certificate();
    let targets_key = Key::plain();
    let env = root(&root_key, &targets_key);
    let file = env.to_file_bytes().unwrap();
    let now = Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap();
    c.bench_function("root/verify_root (x509, parsed)", |b| {
        b.iter(|| verify::verify_root(black_box(&env), None, GUN, now).unwrap());
    });
    c.bench_function("root/parse+verify_root", |b| {
        b.iter(|| {
            let env = Envelope::<Root>::parse(black_box(&file)).unwrap();
            verify::verify_root(&env, None, GUN, now).unwrap();
        });
    });
}

fn bench_targets(c: &mut Criterion) {
    let root_key = Key::certificate();
    let targets_key = Key::plain();
    let root_env = root(&root_key, &targets_key);
    let root = root_env.signed();
    let mut group = c.benchmark_group("targets/parse+verify");
    for count in [1_000usize, 10_000, 100_000] {
        let file = targets_file(&targets_key, count);
        if count >= 100_000 {
            group.sample_size(10);
        }
        group.throughput(Throughput::Bytes(file.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(count), &file, |b, file| {
            b.iter(|| {
                let env = Envelope::<Targets>::parse(black_box(file)).unwrap();
                verify::verify_targets(&env, root).unwrap();
                env
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench_root, bench_targets);
criterion_main!(benches);
