//! Key, certificate and repository builders shared by the unit tests.

use chrono::{DateTime, TimeZone as _, Utc};
use p256::ecdsa::signature::Signer as _;
use p256::pkcs8::{EncodePrivateKey as _, EncodePublicKey as _};
use rand_core::OsRng;

use crate::key::{KeyId, PublicKey};
use crate::metadata::{
    Envelope, Expires, FileMeta, Metadata, RoleKeys, Root, Snapshot, Targets, Timestamp,
};
use crate::role;
use crate::signature::Signature;

/// A test signing key of any supported kind.
pub(crate) enum TestKey {
    Ecdsa(p256::ecdsa::SigningKey, PublicKey),
    Ed25519(ed25519_dalek::SigningKey, PublicKey),
}

impl TestKey {
    pub(crate) fn ecdsa() -> Self {
        let sk = p256::ecdsa::SigningKey::random(&mut OsRng);
        let der = sk.verifying_key().to_public_key_der().unwrap();
        let pk = PublicKey::from_spki_der(der.as_bytes()).unwrap();
        Self::Ecdsa(sk, pk)
    }

    /// An ECDSA key wrapped in a self-signed certificate for `cn`, valid in `[from, to]`.
    pub(crate) fn ecdsa_x509(cn: &str, from: (i32, u8, u8), to: (i32, u8, u8), ca: bool) -> Self {
        let sk = p256::ecdsa::SigningKey::random(&mut OsRng);
        let pem = self_signed_cert(sk.to_pkcs8_der().unwrap().as_bytes(), cn, from, to, ca);
        let pk = PublicKey::from_certificate_pem(&pem).unwrap();
        Self::Ecdsa(sk, pk)
    }

    pub(crate) fn ed25519() -> Self {
        let sk = ed25519_dalek::SigningKey::generate(&mut OsRng);
        let pk = PublicKey::new(
            crate::key::KeyType::Ed25519,
            sk.verifying_key().to_bytes().to_vec(),
        );
        Self::Ed25519(sk, pk)
    }

    pub(crate) fn public(&self) -> &PublicKey {
        match self {
            Self::Ecdsa(_, pk) | Self::Ed25519(_, pk) => pk,
        }
    }

    pub(crate) fn id(&self) -> KeyId {
        self.public().key_id()
    }

    pub(crate) fn sign(&self, msg: &[u8]) -> Signature {
        let (method, sig) = match self {
            Self::Ecdsa(sk, _) => {
                let s: p256::ecdsa::Signature = sk.sign(msg);
                ("ecdsa", s.to_bytes().to_vec())
            }
            Self::Ed25519(sk, _) => (
                "eddsa",
                ed25519_dalek::Signer::sign(sk, msg).to_bytes().to_vec(),
            ),
        };
        Signature {
            keyid: self.id(),
            method: method.into(),
            sig,
        }
    }

    pub(crate) fn sign_envelope<T: Metadata>(&self, env: &mut Envelope<T>) {
        let sig = self.sign(env.signing_bytes());
        env.add_signature(sig);
    }
}

/// PEM of a self-signed certificate for `cn` made from a PKCS#8 key.
pub(crate) fn self_signed_cert(
    pkcs8: &[u8],
    cn: &str,
    from: (i32, u8, u8),
    to: (i32, u8, u8),
    ca: bool,
) -> String {
    let kp = rcgen::KeyPair::try_from(pkcs8).unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    params.not_before = rcgen::date_time_ymd(from.0, from.1, from.2);
    params.not_after = rcgen::date_time_ymd(to.0, to.1, to.2);
    params.is_ca = if ca {
        rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained)
    } else {
        rcgen::IsCa::ExplicitNoCa
    };
    params.self_signed(&kp).unwrap().pem()
}

pub(crate) fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap()
}

pub(crate) fn far_future() -> Expires {
    Expires::from_utc(at(2100, 1, 1))
}

pub(crate) const GUN: &str = "example.com/app";

/// A whole signed repository: one x509 root key, ECDSA targets and snapshot keys, an ed25519
/// timestamp key.
pub(crate) struct Repo {
    pub(crate) root_key: TestKey,
    pub(crate) targets_key: TestKey,
    pub(crate) snapshot_key: TestKey,
    pub(crate) timestamp_key: TestKey,
    pub(crate) root: Envelope<Root>,
    pub(crate) targets: Envelope<Targets>,
    pub(crate) snapshot: Envelope<Snapshot>,
    pub(crate) timestamp: Envelope<Timestamp>,
}

/// Certificate validity used by [`Repo`]: 2020-01-01 to 2040-01-01.
pub(crate) const CERT_FROM: (i32, u8, u8) = (2020, 1, 1);
pub(crate) const CERT_TO: (i32, u8, u8) = (2040, 1, 1);

pub(crate) fn root_doc(keys: &[(&str, &TestKey)]) -> Root {
    let mut root = Root::new(far_future());
    for (name, key) in keys {
        root.keys.insert(key.id(), key.public().clone());
        root.roles
            .entry((*name).to_owned())
            .or_insert_with(|| RoleKeys::new(Vec::new(), 1))
            .keyids
            .push(key.id());
    }
    root
}

impl Repo {
    pub(crate) fn new() -> Self {
        let root_key = TestKey::ecdsa_x509(GUN, CERT_FROM, CERT_TO, false);
        let targets_key = TestKey::ecdsa();
        let snapshot_key = TestKey::ecdsa();
        let timestamp_key = TestKey::ed25519();
        let root_signed = root_doc(&[
            (role::ROOT, &root_key),
            (role::TARGETS, &targets_key),
            (role::SNAPSHOT, &snapshot_key),
            (role::TIMESTAMP, &timestamp_key),
        ]);
        let mut root = Envelope::from_signed(root_signed).unwrap();
        root_key.sign_envelope(&mut root);

        let mut t = Targets::new(1, far_future());
        t.targets
            .insert("hello".into(), FileMeta::from_bytes(b"hello"));
        let mut targets = Envelope::from_signed(t).unwrap();
        targets_key.sign_envelope(&mut targets);

        let mut s = Snapshot::new(1, far_future());
        s.meta.insert(
            role::ROOT.into(),
            FileMeta::from_bytes(&root.to_file_bytes().unwrap()),
        );
        s.meta.insert(
            role::TARGETS.into(),
            FileMeta::from_bytes(&targets.to_file_bytes().unwrap()),
        );
        let mut snapshot = Envelope::from_signed(s).unwrap();
        snapshot_key.sign_envelope(&mut snapshot);

        let ts = Timestamp::new(
            1,
            far_future(),
            FileMeta::from_bytes(&snapshot.to_file_bytes().unwrap()),
        );
        let mut timestamp = Envelope::from_signed(ts).unwrap();
        timestamp_key.sign_envelope(&mut timestamp);
        Self {
            root_key,
            targets_key,
            snapshot_key,
            timestamp_key,
            root,
            targets,
            snapshot,
            timestamp,
        }
    }
}
