//! The repositories every case runs against, their keys, and the helpers that build validly
//! signed metadata from what the server currently serves.
//!
//! Each server gets five repositories, published once with the Go `notary` CLI (so the trust
//! dir holds their real keys) plus a few raw uploads signed here:
//!
//! * [`OWNER`]: client-held snapshot, one target, delegation `targets/releases` (paths
//!   `releases/`, two versions) and `targets/releases/nightly` below it;
//! * [`SERVER_SNAP`]: snapshot key rotated to the server (`key rotate snapshot -r`);
//! * [`QUORUM`]: root threshold 2 (two root certificates) and delegation `targets/quorum`
//!   with two keys, threshold 2;
//! * [`VICTIM`]: a bare repository whose GUN other GUNs are prefixes of;
//! * [`HANGUP`]: published to after a flood of abandoned connections.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use signet_e2e::{DelegationPaths, NotaryCli};
use signet_signer::cert::{generate_root_certificate, generate_root_certificate_with_validity};
use signet_signer::passphrase::{EnvFlavour, EnvRetriever};
use signet_signer::{
    CertifiedSigner, CryptoService, FileKeyStore, KeyStore, MemoryKeyStore, PrivateKey, Signer,
};
use signet_tuf::metadata::FileMeta;
use signet_tuf::{KeyId, PublicKey, Signature, cjson};

use super::wire::{self, Outcome};

/// Client-held snapshot, with delegations.
pub(crate) const OWNER: &str = "attack.example/owner";
/// Server-managed snapshot.
pub(crate) const SERVER_SNAP: &str = "attack.example/server-snap";
/// Root and delegation thresholds of 2.
pub(crate) const QUORUM: &str = "attack.example/quorum";
/// A repository other GUNs are prefixes of.
pub(crate) const VICTIM: &str = "attack.example/victim";
/// Published to after the hang-up flood.
pub(crate) const HANGUP: &str = "attack.example/hangup";

/// The delegation of [`OWNER`] (paths `releases/`).
pub(crate) const RELEASES: &str = "targets/releases";
/// The delegation below [`RELEASES`] (paths `releases/nightly/`).
pub(crate) const NIGHTLY: &str = "targets/releases/nightly";
/// The threshold-2 delegation of [`QUORUM`].
pub(crate) const QUORUM_ROLE: &str = "targets/quorum";

/// Every repository and the roles whose current files are compared before and after a case.
pub(crate) const REPOS: [(&str, &[&str]); 5] = [
    (
        OWNER,
        &[
            "root",
            "targets",
            "snapshot",
            "timestamp",
            RELEASES,
            NIGHTLY,
        ],
    ),
    (SERVER_SNAP, &["root", "targets", "snapshot", "timestamp"]),
    (
        QUORUM,
        &["root", "targets", "snapshot", "timestamp", QUORUM_ROLE],
    ),
    (VICTIM, &["root", "targets", "snapshot", "timestamp"]),
    (HANGUP, &["root", "targets", "snapshot", "timestamp"]),
];

/// The newest changefeed record: any write anywhere on the server changes it.
const CHANGEFEED_PROBE: &str = "/v2/_trust/changefeed?change_id=-1&records=1";

/// What one server serves for every repository: `(path, status, body)` per file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct State(Vec<(String, Option<u16>, Vec<u8>)>);

impl State {
    /// The paths whose answers differ between `self` and `other`, skipping those under
    /// `except` (a TUF folder prefix).
    pub(crate) fn changed(&self, other: &Self, except: Option<&str>) -> Vec<String> {
        self.0
            .iter()
            .zip(&other.0)
            .filter(|(a, b)| a != b)
            .map(|(a, _)| a.0.clone())
            .filter(|path| {
                except.is_none_or(|gun| {
                    !path.starts_with(&format!("/v2/{gun}/")) && !path.contains("changefeed")
                })
            })
            .collect()
    }
}

/// One server with its repositories and keys.
pub(crate) struct Ctx {
    /// Display name (`signet-server (SQLite)`).
    pub(crate) server: String,
    /// `127.0.0.1:<port>`.
    pub(crate) host_port: String,
    keys: CryptoService,
    /// Keys held only by this test (quorum keys, attacker keys).
    memory: Arc<MemoryKeyStore>,
    /// A key no repository knows.
    pub(crate) stranger: Arc<PrivateKey>,
    /// The snapshot key [`SERVER_SNAP`] used before the server took its snapshot over.
    pub(crate) former_snapshot_key: Option<Arc<dyn Signer>>,
    /// The CLI that published the repositories; its trust dir holds their keys.
    _cli: NotaryCli,
    /// The uploads that rebuild each repository as set up, in order (see [`Ctx::restore`]).
    history: Vec<(&'static str, Vec<Upload>)>,
}

/// One upload: `(role, file)` parts.
type Upload = Vec<(String, Vec<u8>)>;

impl Ctx {
    /// Publishes the repositories on the server at `url` and loads their keys.
    pub(crate) fn setup(server: &str, url: &str) -> Self {
        let host_port = url.trim_start_matches("http://").to_owned();
        let cli = NotaryCli::new(url).unwrap();
        publish_with_cli(&cli);
        let store = trust_dir_keys(&cli);
        let memory = Arc::new(MemoryKeyStore::new());
        let former_snapshot_key = store
            .list_keys()
            .unwrap()
            .into_iter()
            .filter(|info| info.role == "snapshot" && info.gun.as_deref() == Some(SERVER_SNAP))
            .find_map(|info| store.signer(&info.key_id).ok());
        let keys = CryptoService::new(vec![store, memory.clone()]);
        let ctx = Self {
            server: server.to_owned(),
            host_port,
            keys,
            memory,
            stranger: Arc::new(PrivateKey::generate_ecdsa().unwrap()),
            former_snapshot_key,
            _cli: cli,
            history: Vec::new(),
        };
        ctx.setup_quorum();
        let history = REPOS
            .iter()
            .map(|(gun, roles)| (*gun, ctx.history_of(gun, roles)))
            .collect();
        Self { history, ..ctx }
    }

    /// `/v2/<gun>/_trust/tuf/`.
    pub(crate) fn tuf(gun: &str) -> String {
        format!("/v2/{gun}/_trust/tuf/")
    }

    /// Sends one request (see [`wire::request_bytes`]).
    pub(crate) fn send(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Outcome {
        let bytes = wire::request_bytes(&self.host_port, method, target, headers, body);
        wire::exchange(&self.host_port, &bytes)
    }

    /// Sends raw bytes.
    pub(crate) fn raw(&self, bytes: &[u8]) -> Outcome {
        wire::exchange(&self.host_port, bytes)
    }

    /// `GET <path>`.
    pub(crate) fn get(&self, path: &str) -> Outcome {
        self.send("GET", path, &[], &[])
    }

    /// POSTs a multipart body with the usual content type to a GUN's TUF folder.
    pub(crate) fn post_form(&self, gun: &str, body: &[u8]) -> Outcome {
        self.send(
            "POST",
            &Self::tuf(gun),
            &[("Content-Type", &wire::form_type())],
            body,
        )
    }

    /// Uploads `parts` (role, contents) to `gun`.
    pub(crate) fn upload<R: AsRef<str>, C: AsRef<[u8]>>(
        &self,
        gun: &str,
        parts: &[(R, C)],
    ) -> Outcome {
        self.post_form(gun, &wire::form(parts))
    }

    /// The current `<role>.json` of `gun`, which must exist.
    pub(crate) fn file(&self, gun: &str, role: &str) -> Vec<u8> {
        self.must_get(&format!("{}{role}.json", Self::tuf(gun)))
    }

    /// `<version>.<role>.json` of `gun`, which must exist.
    pub(crate) fn versioned(&self, gun: &str, role: &str, version: i64) -> Vec<u8> {
        self.must_get(&format!("{}{version}.{role}.json", Self::tuf(gun)))
    }

    fn must_get(&self, path: &str) -> Vec<u8> {
        match self.get(path) {
            Outcome::Reply {
                status: 200, body, ..
            } => body,
            other => panic!("GET {path} on {}: {}", self.server, other.describe()),
        }
    }

    /// The oldest version of a role the server still serves by version.
    pub(crate) fn first_version(&self, gun: &str, role: &str) -> i64 {
        let current = self.version(gun, role);
        (1..=current)
            .find(|v| {
                self.get(&format!("{}{v}.{role}.json", Self::tuf(gun)))
                    .status()
                    == Some(200)
            })
            .unwrap_or(current)
    }

    /// The `signed` member of the current `<role>.json`.
    pub(crate) fn signed(&self, gun: &str, role: &str) -> Value {
        let file: Value = serde_json::from_slice(&self.file(gun, role)).unwrap();
        file["signed"].clone()
    }

    /// The current version of a role.
    pub(crate) fn version(&self, gun: &str, role: &str) -> i64 {
        self.signed(gun, role)["version"].as_i64().unwrap()
    }

    /// The signers this test holds for `role` of `gun`, as the current metadata lists its
    /// keys (root for base roles, the parent's delegations for delegations).
    pub(crate) fn signers(&self, gun: &str, role: &str) -> Vec<Arc<dyn Signer>> {
        let listing = match signet_tuf::role::parent(role) {
            Some(parent) if role.starts_with("targets/") => self.signed(gun, parent),
            _ => self.signed(gun, "root"),
        };
        listed_signers(&self.keys, &listing, role)
    }

    /// Signatures over `msg` by each signer.
    pub(crate) fn signatures(msg: &[u8], signers: &[Arc<dyn Signer>]) -> Vec<Signature> {
        signers.iter().map(|s| s.sign(msg).unwrap()).collect()
    }

    /// A file `{"signed":<signed_text>,"signatures":<signatures>}` with the text verbatim.
    pub(crate) fn envelope(signed_text: &[u8], signatures: &[Signature]) -> Vec<u8> {
        let mut out = b"{\"signed\":".to_vec();
        out.extend_from_slice(signed_text);
        out.extend_from_slice(b",\"signatures\":");
        out.extend_from_slice(&signet_tuf::notary::gojson::html_escape(
            &serde_json::to_vec(signatures).unwrap(),
        ));
        out.push(b'}');
        out
    }

    /// `signed` in canonical form, signed by `signers`, framed as Go writes files. A value
    /// canonical JSON cannot express (a fractional number) is written and signed as plain
    /// JSON.
    pub(crate) fn sign(signed: &Value, signers: &[Arc<dyn Signer>]) -> Vec<u8> {
        let canonical =
            cjson::to_canonical(signed).unwrap_or_else(|_| serde_json::to_vec(signed).unwrap());
        let signatures = Self::signatures(&canonical, signers);
        Self::envelope(
            &signet_tuf::notary::gojson::html_escape(&canonical),
            &signatures,
        )
    }

    /// The current `role` of `gun` at version + 1, changed by `edit`, signed with the role's
    /// real keys.
    pub(crate) fn next(&self, gun: &str, role: &str, edit: impl FnOnce(&mut Value)) -> Vec<u8> {
        let mut signed = self.signed(gun, role);
        bump(&mut signed);
        edit(&mut signed);
        Self::sign(&signed, &self.signers(gun, role))
    }

    /// The current snapshot of `gun` at version + 1 naming `files` (role, bytes), changed by
    /// `edit`, signed with the real snapshot key (or `signers` when given).
    pub(crate) fn snapshot_over(
        &self,
        gun: &str,
        files: &[(&str, &[u8])],
        edit: impl FnOnce(&mut Value),
    ) -> Vec<u8> {
        let mut signed = self.signed(gun, "snapshot");
        bump(&mut signed);
        for (role, bytes) in files {
            signed["meta"][*role] = meta(bytes);
        }
        edit(&mut signed);
        Self::sign(&signed, &self.signers(gun, "snapshot"))
    }

    /// A valid publish of `gun` (client-held snapshot): the next targets (changed by
    /// `edit`) and a snapshot over it.
    pub(crate) fn publish(
        &self,
        gun: &str,
        edit: impl FnOnce(&mut Value),
    ) -> Vec<(String, Vec<u8>)> {
        let targets = self.next(gun, "targets", edit);
        let snapshot = self.snapshot_over(gun, &[("targets", &targets)], |_| {});
        vec![
            ("targets".to_owned(), targets),
            ("snapshot".to_owned(), snapshot),
        ]
    }

    /// A valid publish of delegation `role` of `gun`: the next delegation (changed by
    /// `edit`) and a snapshot over it.
    pub(crate) fn publish_delegation(
        &self,
        gun: &str,
        role: &str,
        edit: impl FnOnce(&mut Value),
    ) -> Vec<(String, Vec<u8>)> {
        let delegation = self.next(gun, role, edit);
        let snapshot = self.snapshot_over(gun, &[(role, &delegation)], |_| {});
        vec![
            (role.to_owned(), delegation),
            ("snapshot".to_owned(), snapshot),
        ]
    }

    /// Every file of every repository, and the newest changefeed record.
    pub(crate) fn state(&self) -> State {
        let mut paths: Vec<String> = REPOS
            .iter()
            .flat_map(|(gun, roles)| {
                roles
                    .iter()
                    .map(move |role| format!("{}{role}.json", Self::tuf(gun)))
            })
            .collect();
        paths.push(CHANGEFEED_PROBE.to_owned());
        State(
            paths
                .into_iter()
                .map(|path| match self.get(&path) {
                    Outcome::Reply { status, body, .. } => (path, Some(status), body),
                    other => {
                        let text = other.describe().into_bytes();
                        (path, None, text)
                    }
                })
                .collect(),
        )
    }

    /// The uploads that rebuild `gun` as it is now, in order, read back from the server:
    /// one per snapshot version, with the files that snapshot names for the first time and
    /// the snapshot itself.
    fn history_of(&self, gun: &str, roles: &[&str]) -> Vec<Upload> {
        // Every stored version of every role, by the base64 SHA-256 snapshots name it with.
        let mut by_hash: BTreeMap<String, (String, Vec<u8>)> = BTreeMap::new();
        for role in roles
            .iter()
            .filter(|r| **r != "timestamp" && **r != "snapshot")
        {
            for v in 1..=self.version(gun, role) {
                if let Outcome::Reply {
                    status: 200, body, ..
                } = self.get(&format!("{}{v}.{role}.json", Self::tuf(gun)))
                {
                    by_hash.insert(sha256_b64(&body), ((*role).to_owned(), body));
                }
            }
        }
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        let mut uploads = Vec::new();
        for v in 1..=self.version(gun, "snapshot") {
            let Outcome::Reply {
                status: 200, body, ..
            } = self.get(&format!("{}{v}.snapshot.json", Self::tuf(gun)))
            else {
                continue;
            };
            let file: Value = serde_json::from_slice(&body).unwrap();
            let mut parts: Upload = Vec::new();
            if let Some(meta) = file["signed"]["meta"].as_object() {
                for (role, entry) in meta {
                    let hash = entry["hashes"]["sha256"].as_str().unwrap_or_default();
                    if seen.get(role).map(String::as_str) == Some(hash) {
                        continue;
                    }
                    seen.insert(role.clone(), hash.to_owned());
                    if let Some((role, bytes)) = by_hash.get(hash) {
                        parts.push((role.clone(), bytes.clone()));
                    }
                }
            }
            parts.sort_by_key(|(role, _)| (role != "root", role.matches('/').count()));
            // Whether the client or the server signed it, the snapshot goes along; a server
            // that refuses it (it holds the snapshot key) gets the upload without it.
            if !parts.is_empty() {
                parts.push(("snapshot".to_owned(), body));
                uploads.push(parts);
            }
        }
        uploads
    }

    /// Deletes `gun` and replays the uploads that built it, so that a case the server
    /// wrongly accepted does not change what later cases see. Returns what went wrong.
    pub(crate) fn restore(&self, gun: &str) -> Result<(), String> {
        let Some((_, uploads)) = self.history.iter().find(|(g, _)| *g == gun) else {
            return Ok(());
        };
        let deleted = self.send("DELETE", &Self::tuf(gun), &[], &[]);
        if deleted.status() != Some(200) {
            return Err(format!("DELETE {gun}: {}", deleted.describe()));
        }
        for (i, parts) in uploads.iter().enumerate() {
            let mut reply = self.upload(gun, parts);
            if reply.status() != Some(200) {
                reply = self.upload(gun, &parts[..parts.len() - 1]);
            }
            if reply.status() != Some(200) {
                return Err(format!(
                    "replaying upload {i} of {gun}: {} {}",
                    reply.describe(),
                    reply.body_excerpt()
                ));
            }
        }
        Ok(())
    }

    /// Whether the server still answers its health check.
    pub(crate) fn healthy(&self) -> bool {
        self.get("/_notary_server/health").status() == Some(200)
    }

    /// The key nobody knows, as a signer list.
    pub(crate) fn stranger_signers(&self) -> Vec<Arc<dyn Signer>> {
        vec![self.stranger.clone()]
    }

    /// Adds a test-held key for `role` of `gun`.
    pub(crate) fn hold(&self, key: Arc<PrivateKey>, role: &str, gun: &str) {
        self.memory.insert(key, role, Some(gun));
    }

    /// [`QUORUM`]: a delegation with two keys and threshold 2, then a root with two
    /// certificates and threshold 2.
    fn setup_quorum(&self) {
        let k1 = Arc::new(PrivateKey::generate_ecdsa().unwrap());
        let k2 = Arc::new(PrivateKey::generate_ecdsa().unwrap());
        self.hold(k1.clone(), QUORUM_ROLE, QUORUM);
        self.hold(k2.clone(), QUORUM_ROLE, QUORUM);
        let targets = self.next(QUORUM, "targets", |t| {
            let d = &mut t["delegations"];
            if !d["keys"].is_object() {
                d["keys"] = json!({});
            }
            for k in [&k1, &k2] {
                d["keys"][k.key_id().as_str()] = serde_json::to_value(k.public_key()).unwrap();
            }
            d["roles"] = json!([{
                "name": QUORUM_ROLE,
                "keyids": [k1.key_id().as_str(), k2.key_id().as_str()],
                "threshold": 2,
                "paths": [""],
            }]);
        });
        let signers: Vec<Arc<dyn Signer>> = vec![k1, k2];
        let quorum = Self::sign(
            &json!({"_type": "Targets", "delegations": {"keys": {}, "roles": []},
                    "expires": "2035-01-01T00:00:00Z", "targets": {}, "version": 1}),
            &signers,
        );
        let snapshot = self.snapshot_over(
            QUORUM,
            &[("targets", &targets), (QUORUM_ROLE, &quorum)],
            |_| {},
        );
        let reply = self.upload(
            QUORUM,
            &[
                ("targets", targets),
                (QUORUM_ROLE, quorum),
                ("snapshot", snapshot),
            ],
        );
        assert_eq!(
            reply.status(),
            Some(200),
            "{}: quorum delegation: {}",
            self.server,
            reply.body_excerpt()
        );

        // Root: the CLI's certificate plus a second one, threshold 2, signed by both.
        let second = Arc::new(PrivateKey::generate_ecdsa().unwrap());
        self.hold(second.clone(), "root", QUORUM);
        let certificate = generate_root_certificate(second.as_ref(), QUORUM).unwrap();
        let mut root = self.signed(QUORUM, "root");
        let old_signers = self.signers(QUORUM, "root");
        bump(&mut root);
        let cert_id = certificate.public_key.key_id();
        root["keys"][cert_id.as_str()] = serde_json::to_value(&certificate.public_key).unwrap();
        root["roles"]["root"]["keyids"]
            .as_array_mut()
            .unwrap()
            .push(json!(cert_id.as_str()));
        root["roles"]["root"]["threshold"] = json!(2);
        let mut signers = old_signers;
        signers.push(Arc::new(
            CertifiedSigner::new(second, certificate.public_key).unwrap(),
        ));
        let root = Self::sign(&root, &signers);
        let snapshot = self.snapshot_over(QUORUM, &[("root", &root)], |_| {});
        let reply = self.upload(QUORUM, &[("root", root), ("snapshot", snapshot)]);
        assert_eq!(
            reply.status(),
            Some(200),
            "{}: quorum root: {}",
            self.server,
            reply.body_excerpt()
        );
    }

    /// A fresh root key with a certificate for `gun` (valid, or expired when `expired`), the
    /// signer presenting it, and the certificate's TUF key.
    pub(crate) fn new_root_key(gun: &str, expired: bool) -> (Arc<dyn Signer>, PublicKey) {
        let key = Arc::new(PrivateKey::generate_ecdsa().unwrap());
        let certificate = if expired {
            let year = Duration::from_secs(365 * 24 * 3600);
            generate_root_certificate_with_validity(
                key.as_ref(),
                gun,
                std::time::SystemTime::now() - 2 * year,
                year,
            )
            .unwrap()
        } else {
            generate_root_certificate(key.as_ref(), gun).unwrap()
        };
        let public = certificate.public_key.clone();
        (
            Arc::new(CertifiedSigner::new(key, certificate.public_key).unwrap()),
            public,
        )
    }
}

/// The key store of the trust dir `cli` publishes with, unlocked with its passphrases.
pub(crate) fn trust_dir_keys(cli: &NotaryCli) -> Arc<FileKeyStore> {
    let passphrases = cli.passphrases().clone();
    let retriever = EnvRetriever::from_lookup(EnvFlavour::Notary, move |var| {
        Some(match var {
            "NOTARY_ROOT_PASSPHRASE" => passphrases.root.clone(),
            "NOTARY_TARGETS_PASSPHRASE" => passphrases.targets.clone(),
            "NOTARY_SNAPSHOT_PASSPHRASE" => passphrases.snapshot.clone(),
            "NOTARY_DELEGATION_PASSPHRASE" => passphrases.delegation.clone(),
            _ => return None,
        })
    });
    Arc::new(FileKeyStore::open(cli.trust_dir(), Arc::new(retriever)).unwrap())
}

/// The signers `keys` holds for `role`, as `listing` lists the role's keys: the `signed` part
/// of root for a base role, of the delegating role for a delegation.
pub(crate) fn listed_signers(
    keys: &CryptoService,
    listing: &Value,
    role: &str,
) -> Vec<Arc<dyn Signer>> {
    let (keys_json, role_entry) = if role.starts_with("targets/") {
        let delegations = &listing["delegations"];
        let entry = delegations["roles"]
            .as_array()
            .and_then(|roles| roles.iter().find(|r| r["name"] == role).cloned())
            .unwrap_or(Value::Null);
        (delegations["keys"].clone(), entry)
    } else {
        (listing["keys"].clone(), listing["roles"][role].clone())
    };
    let public: BTreeMap<KeyId, PublicKey> = serde_json::from_value(keys_json).unwrap_or_default();
    let ids: Vec<KeyId> = serde_json::from_value(role_entry["keyids"].clone()).unwrap_or_default();
    keys.signers_for_ids(&ids, &public).unwrap()
}

/// Adds one to `signed.version`.
pub(crate) fn bump(signed: &mut Value) {
    let version = signed["version"].as_i64().unwrap();
    signed["version"] = json!(version + 1);
}

/// The base64 SHA-256 of `bytes`, as snapshot meta writes it.
fn sha256_b64(bytes: &[u8]) -> String {
    meta(bytes)["hashes"]["sha256"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Snapshot meta (`hashes`, `length`) for `bytes`.
pub(crate) fn meta(bytes: &[u8]) -> Value {
    serde_json::to_value(FileMeta::from_bytes(bytes)).unwrap()
}

fn publish_with_cli(cli: &NotaryCli) {
    // OWNER: a target, a delegation with two versions, a nested delegation.
    cli.init(OWNER, true).unwrap();
    cli.add_bytes(OWNER, "payload", b"attack catalogue", &[], true)
        .unwrap();
    let releases = cli.generate_delegation_key(RELEASES).unwrap();
    cli.delegation_add(
        OWNER,
        RELEASES,
        &[&releases.public_pem],
        DelegationPaths::Prefixes(&["releases/"]),
        true,
    )
    .unwrap();
    cli.add_bytes(OWNER, "releases/v1", b"release one", &[RELEASES], true)
        .unwrap();
    cli.add_bytes(OWNER, "releases/v2", b"release two", &[RELEASES], true)
        .unwrap();
    let nightly = cli.generate_delegation_key(NIGHTLY).unwrap();
    cli.delegation_add(
        OWNER,
        NIGHTLY,
        &[&nightly.public_pem],
        DelegationPaths::Prefixes(&["releases/nightly/"]),
        true,
    )
    .unwrap();
    cli.add_bytes(OWNER, "releases/nightly/n1", b"nightly", &[NIGHTLY], true)
        .unwrap();
    // SERVER_SNAP: the server takes the snapshot over.
    cli.init(SERVER_SNAP, true).unwrap();
    cli.key_rotate(SERVER_SNAP, "snapshot", true).unwrap();
    cli.add_bytes(SERVER_SNAP, "payload", b"server snapshot", &[], true)
        .unwrap();
    for gun in [QUORUM, VICTIM, HANGUP] {
        cli.init(gun, true).unwrap();
    }
}
