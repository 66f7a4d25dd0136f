//! Building signed Notary metadata for tests with signet-tuf and signet-signer, as the notary
//! client would.

use std::sync::Arc;

use chrono::{Duration, Utc};
use signet_signer::cert::generate_root_certificate;
use signet_signer::{CertifiedSigner, PrivateKey, Signer};
use signet_tuf::key::{KeyId, PublicKey};
use signet_tuf::metadata::{
    DelegationRole, Envelope, Expires, FileMeta, Metadata, RoleKeys, Root, Snapshot, Targets,
};

/// A root key: a P-256 key and its certificate for a GUN.
pub struct RootKey {
    pub signer: Arc<dyn Signer>,
    pub public: PublicKey,
}

impl RootKey {
    pub fn new(gun: &str) -> Self {
        let key: Arc<dyn Signer> = Arc::new(PrivateKey::generate_ecdsa().expect("key"));
        let cert = generate_root_certificate(key.as_ref(), gun).expect("certificate");
        let certified = CertifiedSigner::new(key, cert.public_key.clone()).expect("certified");
        Self {
            signer: Arc::new(certified),
            public: cert.public_key,
        }
    }

    pub fn id(&self) -> KeyId {
        self.public.key_id()
    }
}

/// A plain key (targets, snapshot, delegation).
pub fn plain_key() -> Arc<PrivateKey> {
    Arc::new(PrivateKey::generate_ecdsa().expect("key"))
}

/// Parses the public key JSON answered by `GET .key`.
pub fn key_from_json(body: &[u8]) -> PublicKey {
    serde_json::from_slice(body).expect("public key JSON")
}

/// Signs a document with every signer and returns the file bytes.
pub fn sign<T: Metadata>(doc: T, signers: &[&dyn Signer]) -> Vec<u8> {
    let mut env = Envelope::from_signed(doc).expect("envelope");
    for s in signers {
        let sig = s.sign(env.signing_bytes()).expect("sign");
        env.add_signature(sig);
    }
    env.to_file_bytes().expect("file bytes")
}

pub fn expires_in(days: i64) -> Expires {
    Expires::from_utc(Utc::now() + Duration::days(days))
}

/// A root listing `root_keys` (threshold 1 unless given) and one key per other role.
pub fn root_doc(
    version: i64,
    root_keys: &[&PublicKey],
    targets: &PublicKey,
    snapshot: &PublicKey,
    timestamp: &PublicKey,
) -> Root {
    let mut root = Root::new(expires_in(3650));
    root.version = version;
    let mut add = |role: &str, keys: &[&PublicKey]| {
        let ids: Vec<KeyId> = keys.iter().map(|k| k.key_id()).collect();
        for k in keys {
            root.keys.insert(k.key_id(), (*k).clone());
        }
        root.roles.insert(role.to_owned(), RoleKeys::new(ids, 1));
    };
    add("root", root_keys);
    add("targets", &[targets]);
    add("snapshot", &[snapshot]);
    add("timestamp", &[timestamp]);
    root
}

/// A targets document with the given target names (each pointing at its own name's bytes).
pub fn targets_doc(version: i64, names: &[&str]) -> Targets {
    let mut t = Targets::new(version, expires_in(1095));
    for n in names {
        t.targets
            .insert((*n).to_owned(), FileMeta::from_bytes(n.as_bytes()));
    }
    t
}

/// Adds a delegation to a targets document.
pub fn delegate(doc: &mut Targets, name: &str, key: &PublicKey, paths: &[&str]) {
    doc.delegations.keys.insert(key.key_id(), key.clone());
    doc.delegations.roles.push(DelegationRole::new(
        name,
        vec![key.key_id()],
        1,
        paths.iter().map(|p| (*p).to_owned()).collect(),
    ));
}

/// A snapshot recording the exact bytes of each `(role, file)`.
pub fn snapshot_doc(version: i64, files: &[(&str, &[u8])]) -> Snapshot {
    let mut s = Snapshot::new(version, expires_in(1095));
    for (role, bytes) in files {
        s.meta
            .insert((*role).to_owned(), FileMeta::from_bytes(bytes));
    }
    s
}

/// Lowercase hex SHA-256 of bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}
