//! Test repositories built with real keys through `signet_tuf::authoring`, a fake server that
//! answers the updater's requests, and a driver loop.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone as _, Utc};
use p256::ecdsa::signature::Signer as _;
use p256::pkcs8::{EncodePrivateKey as _, EncodePublicKey as _};
use rand_core::OsRng;
use sha2::{Digest as _, Sha256};
use signet_tuf::authoring::{self, SnapshotBuilder};
use signet_tuf::metadata::{
    DelegationRole, Envelope, Expires, FileMeta, Metadata, RoleKeys, Root, Snapshot, Targets,
    Timestamp,
};
use signet_tuf::update::{
    CacheWrite, Error, FetchResult, Need, TrustedState, UpdateConfig, UpdateOutcome, Updater,
};
use signet_tuf::{KeyId, KeyType, PublicKey, Signature, role};

pub const GUN: &str = "example.com/signet/app";

pub fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap()
}

/// When test repositories are signed.
pub fn signed_at() -> DateTime<Utc> {
    at(2030, 1, 1) + Duration::nanoseconds(123_456_789)
}

/// A clock one day after signing: everything is valid.
pub fn now() -> DateTime<Utc> {
    signed_at() + Duration::days(1)
}

/// A signing key.
pub enum TestKey {
    Ecdsa(p256::ecdsa::SigningKey, PublicKey),
    Ed25519(ed25519_dalek::SigningKey, PublicKey),
}

impl TestKey {
    pub fn ecdsa() -> Self {
        let sk = p256::ecdsa::SigningKey::random(&mut OsRng);
        let der = sk.verifying_key().to_public_key_der().unwrap();
        Self::Ecdsa(sk, PublicKey::from_spki_der(der.as_bytes()).unwrap())
    }

    pub fn ed25519() -> Self {
        let sk = ed25519_dalek::SigningKey::generate(&mut OsRng);
        let pk = PublicKey::new(KeyType::Ed25519, sk.verifying_key().to_bytes().to_vec());
        Self::Ed25519(sk, pk)
    }

    /// An ECDSA root key in a self-signed certificate for `cn`, valid 2020–2060.
    pub fn root(cn: &str) -> Self {
        Self::root_valid(cn, (2020, 1, 1), (2060, 1, 1))
    }

    pub fn root_valid(cn: &str, from: (i32, u8, u8), to: (i32, u8, u8)) -> Self {
        let sk = p256::ecdsa::SigningKey::random(&mut OsRng);
        let kp = rcgen::KeyPair::try_from(sk.to_pkcs8_der().unwrap().as_bytes()).unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        params.not_before = rcgen::date_time_ymd(from.0, from.1, from.2);
        params.not_after = rcgen::date_time_ymd(to.0, to.1, to.2);
        params.is_ca = rcgen::IsCa::ExplicitNoCa;
        let pem = params.self_signed(&kp).unwrap().pem();
        Self::Ecdsa(sk, PublicKey::from_certificate_pem(&pem).unwrap())
    }

    pub fn public(&self) -> &PublicKey {
        match self {
            Self::Ecdsa(_, pk) | Self::Ed25519(_, pk) => pk,
        }
    }

    pub fn id(&self) -> KeyId {
        self.public().key_id()
    }

    pub fn sign(&self, msg: &[u8]) -> Signature {
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
}

/// Signs `doc` with every key and returns the file bytes.
pub fn sign_file<T: Metadata>(doc: T, keys: &[&TestKey]) -> Vec<u8> {
    let mut env = Envelope::from_signed(doc).unwrap();
    for k in keys {
        let sig = k.sign(env.signing_bytes());
        env.add_signature(sig);
    }
    env.to_file_bytes().unwrap()
}

pub fn expires_at(t: DateTime<Utc>) -> Expires {
    Expires::from_utc(t)
}

/// `bytes` with one base64 character of the last signature changed: same length, other digest.
pub fn tamper(bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let pos = out.len() - 8;
    out[pos] = if out[pos] == b'A' { b'B' } else { b'A' };
    out
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A fake Notary server: file name (without `.json`) → answer.
#[derive(Debug, Clone, Default)]
pub struct Server {
    pub files: BTreeMap<String, FetchResult>,
}

impl Server {
    pub fn put(&mut self, name: impl Into<String>, bytes: Vec<u8>) {
        self.files.insert(name.into(), FetchResult::Bytes(bytes));
    }

    pub fn answer(&self, name: &str) -> FetchResult {
        self.files
            .get(name)
            .cloned()
            .unwrap_or(FetchResult::NotFound)
    }
}

/// The result of driving an update, with the files requested in order.
pub struct Run {
    pub result: Result<UpdateOutcome, Error>,
    pub log: Vec<String>,
}

impl Run {
    pub fn ok(self) -> UpdateOutcome {
        match self.result {
            Ok(o) => o,
            Err(e) => panic!("update failed: {e} ({e:?}); requests: {:?}", self.log),
        }
    }

    pub fn err(self) -> Error {
        match self.result {
            Ok(_) => panic!("update succeeded; requests: {:?}", self.log),
            Err(e) => e,
        }
    }
}

pub fn config(cache: &TrustedState, at: DateTime<Utc>) -> UpdateConfig {
    let mut c = UpdateConfig::new(GUN, at);
    c.trusted = cache.clone();
    c
}

pub fn drive(config: UpdateConfig, server: &Server) -> Run {
    let mut log = Vec::new();
    let result = (|| {
        let mut up = Updater::new(config)?;
        while let Need::Fetch(req) = up.next_request() {
            log.push(req.path());
            let answer = server.answer(&req.name);
            up.provide(&req, answer)?;
        }
        up.finish()
    })();
    Run { result, log }
}

pub fn update(cache: &TrustedState, server: &Server, at: DateTime<Utc>) -> Run {
    drive(config(cache, at), server)
}

pub fn apply(cache: &mut TrustedState, writes: &[CacheWrite]) {
    for w in writes {
        cache.set(&w.role, w.bytes.to_vec());
    }
}

/// A repository as a publisher sees it: keys, typed documents, and the server it publishes to.
pub struct Repo {
    pub signed_at: DateTime<Utc>,
    pub root_keys: Vec<TestKey>,
    pub targets_keys: Vec<TestKey>,
    pub snapshot_key: TestKey,
    pub timestamp_key: TestKey,
    pub root: Root,
    pub root_file: Vec<u8>,
    /// Targets documents (top level and delegations), unsigned.
    pub targets: BTreeMap<String, Targets>,
    /// Signed files of the targets roles as last published.
    pub files: BTreeMap<String, Vec<u8>>,
    pub delegation_keys: BTreeMap<String, Vec<TestKey>>,
    pub snapshot: Option<Snapshot>,
    pub snapshot_file: Vec<u8>,
    pub timestamp: Option<Timestamp>,
    pub timestamp_file: Vec<u8>,
    pub server: Server,
}

impl Repo {
    /// Root v1, empty targets v1, snapshot v1, timestamp v1, published.
    pub fn new() -> Self {
        let root_keys = vec![TestKey::root(GUN)];
        let targets_keys = vec![TestKey::ecdsa()];
        let snapshot_key = TestKey::ecdsa();
        let timestamp_key = TestKey::ed25519();
        let mut root = Root::new(authoring::default_expires(role::ROOT, signed_at()).unwrap());
        root.version = 0;
        for (name, keys) in [
            (role::ROOT, &root_keys),
            (role::TARGETS, &targets_keys),
            (role::SNAPSHOT, &vec![]),
            (role::TIMESTAMP, &vec![]),
        ] {
            let mut ids = Vec::new();
            for k in keys {
                root.keys.insert(k.id(), k.public().clone());
                ids.push(k.id());
            }
            root.roles.insert(name.into(), RoleKeys::new(ids, 1));
        }
        for (name, k) in [
            (role::SNAPSHOT, &snapshot_key),
            (role::TIMESTAMP, &timestamp_key),
        ] {
            root.keys.insert(k.id(), k.public().clone());
            root.roles.get_mut(name).unwrap().keyids.push(k.id());
        }
        let mut targets = BTreeMap::new();
        let mut t = Targets::new(
            0,
            authoring::default_expires(role::TARGETS, signed_at()).unwrap(),
        );
        t.version = 0;
        targets.insert(role::TARGETS.to_owned(), t);
        let mut r = Self {
            signed_at: signed_at(),
            root_keys,
            targets_keys,
            snapshot_key,
            timestamp_key,
            root,
            root_file: Vec::new(),
            targets,
            files: BTreeMap::new(),
            delegation_keys: BTreeMap::new(),
            snapshot: None,
            snapshot_file: Vec::new(),
            timestamp: None,
            timestamp_file: Vec::new(),
            server: Server::default(),
        };
        r.sign_root(&[]);
        r.publish(&[role::TARGETS]);
        r
    }

    /// Bumps and signs root with the current root keys plus `extra`, and serves it.
    pub fn sign_root(&mut self, extra: &[&TestKey]) {
        self.sign_root_edit(extra, |_| {});
    }

    /// As [`sign_root`](Self::sign_root), editing the bumped root before signing.
    pub fn sign_root_edit(&mut self, extra: &[&TestKey], edit: impl FnOnce(&mut Root)) {
        authoring::bump(&mut self.root, role::ROOT, self.signed_at).unwrap();
        edit(&mut self.root);
        let mut keys: Vec<&TestKey> = self.root_keys.iter().collect();
        keys.extend_from_slice(extra);
        self.root_file = sign_file(self.root.clone(), &keys);
        self.serve_root();
    }

    pub fn serve_root(&mut self) {
        let v = self.root.version;
        self.server.put("root", self.root_file.clone());
        self.server.put(format!("{v}.root"), self.root_file.clone());
        self.server.put(
            format!("root.{}", sha256_hex(&self.root_file)),
            self.root_file.clone(),
        );
    }

    /// Replaces the root keys with `new` (signing the new root with old and new keys when
    /// `cross_sign`, otherwise only with the new keys).
    pub fn rotate_root(&mut self, new: Vec<TestKey>, cross_sign: bool) {
        let publics: Vec<PublicKey> = new.iter().map(|k| k.public().clone()).collect();
        authoring::replace_base_keys(&mut self.root, role::ROOT, &publics).unwrap();
        let old = std::mem::replace(&mut self.root_keys, new);
        if cross_sign {
            let extra: Vec<&TestKey> = old.iter().collect();
            self.sign_root(&extra);
        } else {
            self.sign_root(&[]);
        }
    }

    pub fn keys_for(&self, role_name: &str) -> Vec<&TestKey> {
        if role_name == role::TARGETS {
            self.targets_keys.iter().collect()
        } else {
            self.delegation_keys
                .get(role_name)
                .map(|v| v.iter().collect())
                .unwrap_or_default()
        }
    }

    pub fn add_target(&mut self, role_name: &str, name: &str, content: &[u8]) {
        self.targets
            .get_mut(role_name)
            .unwrap()
            .targets
            .insert(name.into(), FileMeta::from_bytes(content));
    }

    /// Declares `name` in its parent with fresh keys (`count` ed25519 keys) and creates its
    /// empty document.
    pub fn add_delegation(&mut self, name: &str, paths: &[&str], threshold: i64, count: usize) {
        let keys: Vec<TestKey> = (0..count).map(|_| TestKey::ed25519()).collect();
        let parent = role::parent(name).unwrap().to_owned();
        let doc = self.targets.get_mut(&parent).unwrap();
        for k in &keys {
            doc.delegations.keys.insert(k.id(), k.public().clone());
        }
        doc.delegations.roles.push(DelegationRole::new(
            name,
            keys.iter().map(TestKey::id).collect(),
            threshold,
            paths.iter().map(|p| (*p).to_owned()).collect(),
        ));
        let mut t = Targets::new(0, authoring::default_expires(name, self.signed_at).unwrap());
        t.version = 0;
        self.targets.insert(name.to_owned(), t);
        self.delegation_keys.insert(name.to_owned(), keys);
    }

    /// Bumps and signs a targets role with its keys.
    pub fn sign_targets(&mut self, role_name: &str) {
        self.sign_targets_edit(role_name, |_| {});
    }

    /// As [`sign_targets`](Self::sign_targets), editing the bumped document before signing.
    pub fn sign_targets_edit(&mut self, role_name: &str, edit: impl FnOnce(&mut Targets)) {
        let doc = self.targets.get_mut(role_name).unwrap();
        authoring::bump(doc, role_name, self.signed_at).unwrap();
        edit(doc);
        let doc = doc.clone();
        let file = sign_file(doc, &self.keys_for(role_name));
        self.files.insert(role_name.to_owned(), file);
    }

    /// Re-signs `roles`, then a new snapshot (over root and every targets file) and timestamp,
    /// and serves everything.
    pub fn publish(&mut self, roles: &[&str]) {
        for r in roles {
            self.sign_targets(r);
        }
        self.publish_snapshot_edit(|_| {});
    }

    /// A new snapshot over root and every targets file (edited before signing), a new
    /// timestamp, and everything served.
    pub fn publish_snapshot_edit(&mut self, edit: impl FnOnce(&mut Snapshot)) {
        let mut b = SnapshotBuilder::new(self.snapshot.as_ref());
        b.set_file(role::ROOT, &self.root_file).unwrap();
        for (name, file) in &self.files {
            b.set_file(name, file).unwrap();
        }
        let mut doc = b.build(self.signed_at).unwrap().signed().clone();
        edit(&mut doc);
        self.snapshot = Some(doc.clone());
        self.snapshot_file = sign_file(doc, &[&self.snapshot_key]);
        self.publish_timestamp();
        self.serve_all();
    }

    pub fn publish_timestamp(&mut self) {
        self.publish_timestamp_edit(|_| {});
    }

    /// A new timestamp for the current snapshot file, edited before signing, served.
    pub fn publish_timestamp_edit(&mut self, edit: impl FnOnce(&mut Timestamp)) {
        let env = authoring::build_timestamp(
            self.timestamp.as_ref(),
            &self.snapshot_file,
            self.signed_at,
        )
        .unwrap();
        let mut doc = env.signed().clone();
        edit(&mut doc);
        self.timestamp = Some(doc.clone());
        self.timestamp_file = sign_file(doc, &[&self.timestamp_key]);
        self.server.put("timestamp", self.timestamp_file.clone());
    }

    /// A cache filled by a successful update against the current server.
    pub fn synced_cache(&self) -> TrustedState {
        let mut cache = TrustedState::default();
        let out = update(&cache, &self.server, now()).ok();
        apply(&mut cache, &out.cache_writes);
        cache
    }

    pub fn serve_all(&mut self) {
        self.serve_root();
        self.server.put(
            format!("snapshot.{}", sha256_hex(&self.snapshot_file)),
            self.snapshot_file.clone(),
        );
        self.server.put("timestamp", self.timestamp_file.clone());
        for (name, file) in &self.files {
            self.server
                .put(format!("{name}.{}", sha256_hex(file)), file.clone());
        }
    }

    /// A cache holding only the current root (a client that trusted it earlier).
    pub fn cache_with_root(&self) -> TrustedState {
        TrustedState {
            root: Some(self.root_file.clone()),
            ..TrustedState::default()
        }
    }
}
