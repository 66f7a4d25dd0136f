//! Publishing repositories to a [`TestServer`] as the notary and docker clients do.

use std::sync::Arc;

use axum::http::StatusCode;
use signet_signer::{PrivateKey, Signer};
use signet_tuf::PublicKey;

use super::meta::{RootKey, key_from_json, plain_key, root_doc, sign, snapshot_doc, targets_doc};
use super::{Reply, TestServer};

/// The public key the server hands out for `role` of `gun` (`GET <role>.key`).
pub async fn server_key(s: &TestServer, gun: &str, role: &str) -> PublicKey {
    let r = s.get(&format!("/v2/{gun}/_trust/tuf/{role}.key")).await;
    assert_eq!(r.status, StatusCode::OK, "GET {role}.key: {}", r.text());
    key_from_json(&r.body)
}

/// Signs `doc` with the newest server key of `role` for `gun` (opened with the test
/// key-encryption key `[7; 32]`), as the server itself would.
pub async fn server_sign<T: signet_tuf::metadata::Metadata>(
    s: &TestServer,
    gun: &str,
    role: &str,
    doc: T,
) -> Vec<u8> {
    let rows = s.store.server_keys(gun, role).await.expect("server keys");
    let row = rows.last().expect("a server key");
    let key = signet_signer::seal::open_private_key(
        &signet_signer::seal::Kek::from_bytes([7; 32]),
        &row.sealed_private_key,
        gun,
        role,
        &row.key_id.parse().expect("key ID"),
    )
    .expect("open the server key");
    sign(doc, &[&key])
}

/// A repository as the notary client sets it up (`notary init -p`): client-held snapshot
/// key, server-held timestamp key, and root version 1 (not uploaded yet).
pub struct ClientRepo {
    pub root_key: RootKey,
    pub targets_key: Arc<PrivateKey>,
    pub snapshot_key: Arc<PrivateKey>,
    pub timestamp: PublicKey,
    pub root: Vec<u8>,
}

/// What [`ClientRepo::publish`] uploaded, and the server's answer.
pub struct Published {
    pub targets: Vec<u8>,
    pub snapshot: Vec<u8>,
    pub reply: Reply,
}

impl ClientRepo {
    /// New keys for `gun`, with the timestamp key the server hands out.
    pub async fn init(s: &TestServer, gun: &str) -> Self {
        let mut repo = Self {
            timestamp: server_key(s, gun, "timestamp").await,
            root_key: RootKey::new(gun),
            targets_key: plain_key(),
            snapshot_key: plain_key(),
            root: Vec::new(),
        };
        repo.root = repo.root_v(1, &[&repo.root_key], &[&repo.root_key]);
        repo
    }

    /// Root `version` listing `keys` as root keys, signed by `signers`.
    pub fn root_v(&self, version: i64, keys: &[&RootKey], signers: &[&RootKey]) -> Vec<u8> {
        let publics: Vec<&PublicKey> = keys.iter().map(|k| &k.public).collect();
        let signers: Vec<&dyn Signer> = signers.iter().map(|k| k.signer.as_ref()).collect();
        sign(
            root_doc(
                version,
                &publics,
                self.targets_key.public_key(),
                self.snapshot_key.public_key(),
                &self.timestamp,
            ),
            &signers,
        )
    }

    /// Targets `version` listing `names`, signed by the targets key.
    pub fn targets_v(&self, version: i64, names: &[&str]) -> Vec<u8> {
        sign(targets_doc(version, names), &[self.targets_key.as_ref()])
    }

    /// Snapshot `version` of `files`, signed by the snapshot key.
    pub fn snapshot_for(&self, version: i64, files: &[(&str, &[u8])]) -> Vec<u8> {
        sign(snapshot_doc(version, files), &[self.snapshot_key.as_ref()])
    }

    /// Uploads root, targets `version` listing `names` and a snapshot `version` of both, and
    /// asserts the upload succeeded.
    pub async fn publish(
        &self,
        s: &TestServer,
        gun: &str,
        version: i64,
        names: &[&str],
    ) -> Published {
        let targets = self.targets_v(version, names);
        let snapshot = self.snapshot_for(version, &[("root", &self.root), ("targets", &targets)]);
        let reply = s
            .upload(
                gun,
                &[
                    ("root", &self.root),
                    ("targets", &targets),
                    ("snapshot", &snapshot),
                ],
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        Published {
            targets,
            snapshot,
            reply,
        }
    }
}

/// A repository published as docker does: the server holds the snapshot and timestamp keys.
pub struct ServerManaged {
    pub targets_key: Arc<PrivateKey>,
    pub root: Vec<u8>,
    pub targets: Vec<u8>,
}

impl ServerManaged {
    /// Uploads root 1 and targets 1 listing `names` for `gun`, and asserts the upload
    /// succeeded.
    pub async fn publish(s: &TestServer, gun: &str, names: &[&str]) -> Self {
        let timestamp = server_key(s, gun, "timestamp").await;
        let snapshot = server_key(s, gun, "snapshot").await;
        let root_key = RootKey::new(gun);
        let targets_key = plain_key();
        let root = sign(
            root_doc(
                1,
                &[&root_key.public],
                targets_key.public_key(),
                &snapshot,
                &timestamp,
            ),
            &[root_key.signer.as_ref()],
        );
        let targets = sign(targets_doc(1, names), &[targets_key.as_ref()]);
        let r = s
            .upload(gun, &[("root", &root), ("targets", &targets)])
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        Self {
            targets_key,
            root,
            targets,
        }
    }
}
