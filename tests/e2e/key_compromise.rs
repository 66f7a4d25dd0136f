//! The incident guide `docs/key-compromise.md`, run: for each leaked key, a repository on
//! signet-server (TLS) is set up with the Go `notary` CLI, clients that trusted it before the
//! leak keep their trust dirs (Go `notary`, `signet`, docker), the guide's recovery commands
//! run (with `signet`, and with Go `notary` where the guide gives its commands), and then:
//!
//! * the old trust dirs and fresh ones list the same targets as before (`notary list`,
//!   `signet list`, `docker trust inspect`);
//! * uploads built by hand and signed with each leaked key are refused, and change nothing;
//! * `signet-server trusted-by` finds each leaked key in the repository before the recovery
//!   and no longer after it.
//!
//! The recovery is a parameter of each scenario ([`Recovery`]), so that the same scenarios
//! can run any other way of recovering, such as a one-shot command.

use std::sync::Arc;

use serde_json::{Value, json};
use signet_client::Gun;
use signet_client::http::TlsOptions;
use signet_client::remote::{Access, MAX_DOWNLOAD_SIZE, RemoteOptions, RemoteStore};
use signet_e2e::docker_cli::DockerEnv;
use signet_e2e::{
    DelegationPaths, NotaryCli, SignetServer, TargetRow, TrustDir, require_tool, run_signet_server,
};
use signet_server::kek::Kek;
use signet_server::store::Store;
use signet_signer::seal::open_private_key;
use signet_signer::{CryptoService, Signer};
use signet_tuf::PublicKey;

use crate::attack_catalogue::fixture::{Ctx, bump, listed_signers, meta, trust_dir_keys};
use crate::client_support::Signet;
use crate::support::sorted;
use crate::trust_support::{
    TrustServers, docker_available, docker_inspect, shared_trust_servers, signed_tags,
};

/// The delegation of the scenarios that have one.
const RELEASES: &str = "targets/releases";

/// The server the scenarios share (each uses its own GUNs), or `None` when notary, docker or
/// docker-registry is missing outside CI.
fn servers() -> Option<Arc<TrustServers>> {
    if require_tool("notary").is_none() || !docker_available() {
        return None;
    }
    shared_trust_servers()
}

/// Where a scenario's server is: URL, CA, database and data directory.
#[derive(Clone)]
struct ServerInfo {
    url: String,
    ca: std::path::PathBuf,
    database_url: String,
}

impl ServerInfo {
    fn of(server: &SignetServer) -> Self {
        Self {
            url: server.url().to_owned(),
            ca: server.ca_cert().unwrap().to_owned(),
            database_url: server.database_url().to_owned(),
        }
    }
}

/// A Go `notary` CLI with its own trust dir, trusting the server's CA through
/// `~/.notary/config.json` (which `signet` reads too).
fn notary_on(server: &ServerInfo, dir: TrustDir) -> NotaryCli {
    let config = dir.home().join(".notary");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("config.json"),
        serde_json::to_vec(&json!({"remote_server": {"root_ca": server.ca}})).unwrap(),
    )
    .unwrap();
    NotaryCli::with_trust_dir(&server.url, dir).unwrap()
}

fn fresh_notary(server: &ServerInfo) -> NotaryCli {
    notary_on(server, TrustDir::new().unwrap())
}

/// Reads and uploads over HTTPS with the client library, as an attacker with push access
/// would send a hand-made upload.
struct Wire {
    runtime: tokio::runtime::Runtime,
    remote: RemoteStore,
}

impl Wire {
    fn new(server: &ServerInfo) -> Self {
        let options = RemoteOptions {
            tls: TlsOptions {
                skip_verify: true,
                ..TlsOptions::default()
            },
            access: Access::PushPull,
            ..RemoteOptions::default()
        };
        Self {
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
            remote: RemoteStore::new(&server.url, options).unwrap(),
        }
    }

    fn file(&self, gun: &str, role: &str) -> Vec<u8> {
        let gun = Gun::new(gun).unwrap();
        self.runtime
            .block_on(self.remote.get_meta(&gun, role, MAX_DOWNLOAD_SIZE))
            .unwrap_or_else(|e| panic!("GET {role}.json of {gun}: {e}"))
    }

    fn signed(&self, gun: &str, role: &str) -> Value {
        let file: Value = serde_json::from_slice(&self.file(gun, role)).unwrap();
        file["signed"].clone()
    }

    fn upload(
        &self,
        gun: &str,
        parts: &[(String, Vec<u8>)],
    ) -> Result<(), Box<signet_client::Error>> {
        let gun = Gun::new(gun).unwrap();
        self.runtime
            .block_on(self.remote.publish(&gun, parts))
            .map_err(Box::new)
    }
}

/// A leaked key: its role, the ID metadata lists it by, the ID key stores name it by, its
/// public key and a signer holding it (as the attacker does).
struct Leaked {
    role: String,
    listed_id: String,
    canonical_id: String,
    public: Value,
    signer: Arc<dyn Signer>,
}

/// A repository and the clients that trusted it before the leak.
struct Repo {
    gun: String,
    server: ServerInfo,
    wire: Wire,
    /// The owner's trust dir (every client-held key), driven by Go `notary` or by `signet`.
    owner: NotaryCli,
    /// What `list` shows, before and after.
    rows: Vec<TargetRow>,
    old_notary: NotaryCli,
    old_signet: NotaryCli,
    old_docker: DockerEnv,
}

/// What a scenario runs between the leak and the checks: the guide's commands for it.
type Recovery = fn(&Repo, &[Leaked]);

impl Repo {
    /// A repository published with Go `notary` (`init -p`, one target; with `delegation`,
    /// `targets/releases` with a key and one target), read once by an old Go `notary`, an old
    /// `signet` and an old docker trust dir.
    fn setup(server: ServerInfo, gun: &str, delegation: bool) -> Self {
        let owner = fresh_notary(&server);
        owner.init(gun, true).unwrap();
        let mut rows = vec![
            owner
                .add_bytes(gun, "v1", format!("{gun} v1").as_bytes(), &[], true)
                .unwrap(),
        ];
        if delegation {
            let key = owner.generate_delegation_key(RELEASES).unwrap();
            owner
                .delegation_add(
                    gun,
                    RELEASES,
                    &[&key.public_pem],
                    DelegationPaths::All,
                    true,
                )
                .unwrap();
            rows.push(
                owner
                    .add_bytes(
                        gun,
                        "rel",
                        format!("{gun} rel").as_bytes(),
                        &[RELEASES],
                        true,
                    )
                    .unwrap(),
            );
        }
        let rows = sorted(rows);
        let old_notary = fresh_notary(&server);
        assert_eq!(sorted(old_notary.list(gun).unwrap()), rows);
        let old_signet = fresh_notary(&server);
        assert_eq!(sorted(Signet::sharing(&old_signet).list(gun)), rows);
        let old_docker = DockerEnv::new(&server.url, Some(&server.ca)).unwrap();
        let repo = Self {
            gun: gun.to_owned(),
            wire: Wire::new(&server),
            server,
            owner,
            rows,
            old_notary,
            old_signet,
            old_docker,
        };
        repo.check_docker(&repo.old_docker);
        repo
    }

    /// `signet` on the owner's trust dir.
    fn signet(&self) -> Signet {
        Signet::sharing(&self.owner)
    }

    /// The client-held key of `role` in the owner's trust dir, as the current metadata lists
    /// it.
    fn leak_client_key(&self, role: &str) -> Leaked {
        let keys = CryptoService::new(vec![trust_dir_keys(&self.owner)]);
        let listing_role = if role.starts_with("targets/") {
            "targets"
        } else {
            "root"
        };
        let listing = self.wire.signed(&self.gun, listing_role);
        let signers = listed_signers(&keys, &listing, role);
        assert_eq!(signers.len(), 1, "{role} of {}", self.gun);
        let (keys_json, entry) = if role.starts_with("targets/") {
            let entry = listing["delegations"]["roles"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["name"] == role)
                .unwrap()
                .clone();
            (listing["delegations"]["keys"].clone(), entry)
        } else {
            (listing["keys"].clone(), listing["roles"][role].clone())
        };
        let listed_id = entry["keyids"][0].as_str().unwrap().to_owned();
        let public = keys_json[&listed_id].clone();
        let key: PublicKey = serde_json::from_value(public.clone()).unwrap();
        Leaked {
            role: role.to_owned(),
            canonical_id: key.canonical_key_id().unwrap().to_string(),
            listed_id,
            public,
            signer: signers[0].clone(),
        }
    }

    /// The server-held key of `role` as the current root lists it, opened from the server's
    /// database with `kek` (64 hex digits): what a copy of the database and the KEK give.
    fn leak_server_key(&self, role: &str, kek: &str) -> Leaked {
        let root = self.wire.signed(&self.gun, "root");
        let listed_id = root["roles"][role]["keyids"][0]
            .as_str()
            .unwrap()
            .to_owned();
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(kek.trim(), &mut bytes).unwrap();
        let kek = Kek::from_bytes(bytes);
        let row = self.wire.runtime.block_on(async {
            let store = Store::connect(&self.server.database_url).await.unwrap();
            let rows = store.server_keys(&self.gun, role).await.unwrap();
            store.close().await;
            rows.into_iter().find(|r| r.key_id == listed_id).unwrap()
        });
        let key = open_private_key(
            &kek,
            &row.sealed_private_key,
            &self.gun,
            role,
            &listed_id.parse().unwrap(),
        )
        .unwrap();
        Leaked {
            role: role.to_owned(),
            canonical_id: listed_id.clone(),
            listed_id,
            public: root["keys"][root["roles"][role]["keyids"][0].as_str().unwrap()].clone(),
            signer: Arc::new(key),
        }
    }

    /// `signet-server trusted-by KEYID --output json` on the server's database: the GUNs
    /// whose current metadata trusts the key.
    fn trusting(&self, key_id: &str) -> Vec<String> {
        let out = run_signet_server(
            &[
                "--database-url",
                &self.server.database_url,
                "trusted-by",
                key_id,
                "--output",
                "json",
            ],
            &[],
        )
        .unwrap()
        .ok()
        .unwrap();
        let answer: Value = serde_json::from_str(&out.stdout).unwrap();
        answer
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|query| query["repositories"].as_array().unwrap().iter())
            .map(|row| row["gun"].as_str().unwrap().to_owned())
            .collect()
    }

    /// `docker trust inspect` in `env` shows the expected tags and digests.
    fn check_docker(&self, env: &DockerEnv) {
        let inspect = docker_inspect(env, &[&self.gun]);
        let mut shown: Vec<(String, String)> = signed_tags(&inspect)
            .into_iter()
            .map(|(tag, digest, _)| (tag, digest))
            .collect();
        shown.sort();
        let mut expected: Vec<(String, String)> = self
            .rows
            .iter()
            .map(|row| (row.name.clone(), row.sha256.clone()))
            .collect();
        expected.sort();
        expected.dedup();
        assert_eq!(shown, expected, "docker trust inspect {}", self.gun);
    }

    /// Old and fresh trust dirs of every client list the targets of before the leak.
    fn check_clients(&self) {
        let gun = &self.gun;
        assert_eq!(
            sorted(self.old_notary.list(gun).unwrap()),
            self.rows,
            "old notary"
        );
        assert_eq!(
            sorted(fresh_notary(&self.server).list(gun).unwrap()),
            self.rows,
            "fresh notary"
        );
        assert_eq!(
            sorted(Signet::sharing(&self.old_signet).list(gun)),
            self.rows,
            "old signet"
        );
        let fresh = fresh_notary(&self.server);
        assert_eq!(
            sorted(Signet::sharing(&fresh).list(gun)),
            self.rows,
            "fresh signet"
        );
        self.check_docker(&self.old_docker);
        self.check_docker(&DockerEnv::new(&self.server.url, Some(&self.server.ca)).unwrap());
    }

    /// The current `role` at its next version, changed by `edit`, signed by `signers`.
    fn next(
        &self,
        role: &str,
        signers: &[Arc<dyn Signer>],
        edit: impl FnOnce(&mut Value),
    ) -> Vec<u8> {
        let mut signed = self.wire.signed(&self.gun, role);
        bump(&mut signed);
        edit(&mut signed);
        Ctx::sign(&signed, signers)
    }

    /// A snapshot over `files`, signed with the owner's snapshot key; `None` when the server
    /// holds the snapshot key (it then signs the snapshot itself).
    fn snapshot_over(&self, files: &[(&str, &[u8])]) -> Option<Vec<u8>> {
        let keys = CryptoService::new(vec![trust_dir_keys(&self.owner)]);
        let root = self.wire.signed(&self.gun, "root");
        let signers = listed_signers(&keys, &root, "snapshot");
        if signers.is_empty() {
            return None;
        }
        Some(self.next("snapshot", &signers, |snapshot| {
            for (role, bytes) in files {
                snapshot["meta"][*role] = meta(bytes);
            }
        }))
    }

    /// What an attacker holding `leaked` uploads: a root naming the leaked key as the only
    /// root key; targets or the delegation with a target of theirs (with a valid snapshot
    /// over it when the owner signs snapshots); the next snapshot or timestamp.
    fn forged(&self, leaked: &Leaked) -> Vec<(String, Vec<u8>)> {
        let signers = std::slice::from_ref(&leaked.signer);
        let role = leaked.role.as_str();
        let file = match role {
            "root" => self.next(role, signers, |root| {
                root["keys"][&leaked.listed_id] = leaked.public.clone();
                root["roles"]["root"]["keyids"] = json!([leaked.listed_id]);
            }),
            "snapshot" | "timestamp" => self.next(role, signers, |_| {}),
            _ => self.next(role, signers, |targets| {
                targets["targets"]["forged"] = meta(b"the attacker's payload");
            }),
        };
        let mut parts = vec![(role.to_owned(), file.clone())];
        if role != "snapshot"
            && role != "timestamp"
            && let Some(snapshot) = self.snapshot_over(&[(role, &file)])
        {
            parts.push(("snapshot".to_owned(), snapshot));
        }
        parts
    }

    /// The attacker's upload with `leaked`, before the recovery: the server accepts it (the
    /// key is still trusted), which shows the hand-made uploads are otherwise valid.
    fn attack(&self, leaked: &Leaked) {
        let parts = self.forged(leaked);
        if let Err(e) = self.wire.upload(&self.gun, &parts) {
            panic!(
                "{}: the leaked {} key {} should still be trusted: {e}",
                self.gun, leaked.role, leaked.listed_id
            );
        }
    }

    /// Each leaked key's hand-made upload is refused as invalid, and changes nothing.
    fn check_refused(&self, leaked: &[Leaked]) {
        for key in leaked {
            let roles = ["root", "targets", "snapshot", key.role.as_str()];
            let before: Vec<Vec<u8>> = roles.iter().map(|r| self.wire.file(&self.gun, r)).collect();
            let parts = self.forged(key);
            let outcome = self.wire.upload(&self.gun, &parts);
            if key.role == "timestamp" && outcome.is_ok() {
                // The server signs timestamps itself: an uploaded one may be dropped, but the
                // timestamp served must not be the leaked key's.
                let served: Value =
                    serde_json::from_slice(&self.wire.file(&self.gun, "timestamp")).unwrap();
                let signers: Vec<&str> = served["signatures"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(|sig| sig["keyid"].as_str())
                    .collect();
                assert!(
                    !signers.contains(&key.listed_id.as_str()),
                    "{}: the leaked timestamp key signed {served}",
                    self.gun
                );
                continue;
            }
            match outcome {
                Err(e)
                    if matches!(
                        *e,
                        signet_client::Error::Remote(
                            signet_client::error::RemoteError::ServerValidation { .. }
                                | signet_client::error::RemoteError::ServerRejected { .. },
                        )
                    ) => {}
                other => panic!(
                    "{}: upload signed with the leaked {} key {}: {other:?}",
                    self.gun, key.role, key.listed_id
                ),
            }
            let after: Vec<Vec<u8>> = roles.iter().map(|r| self.wire.file(&self.gun, r)).collect();
            assert!(
                before == after,
                "{}: a refused upload changed the metadata",
                self.gun
            );
        }
    }
}

/// The scenario every case runs: the leak (with `attacked`, the attacker publishes with the
/// leaked keys first), `recover`, then the checks of the module documentation.
fn scenario(repo: &Repo, leaked: &[Leaked], attacked: bool, recover: Recovery) {
    for key in leaked {
        assert!(
            repo.trusting(&key.listed_id).contains(&repo.gun),
            "trusted-by {} before the recovery",
            key.listed_id
        );
        if attacked {
            repo.attack(key);
        }
    }
    recover(repo, leaked);
    repo.check_clients();
    repo.check_refused(leaked);
    for key in leaked {
        assert!(
            !repo.trusting(&key.listed_id).contains(&repo.gun),
            "{} still trusts the leaked {} key {}",
            repo.gun,
            key.role,
            key.listed_id
        );
    }
}

fn gun(case: &str) -> String {
    format!("registry.signet-e2e.test/compromise/{case}")
}

// The guide's recoveries, step by step.

/// Root: `signet key rotate GUN root -y`, `signet key remove OLDID -y`.
fn root_with_signet(repo: &Repo, leaked: &[Leaked]) {
    let signet = repo.signet();
    signet.run_ok(&["key", "rotate", &repo.gun, "root", "-y"]);
    for key in leaked {
        signet.run_ok(&["key", "remove", &key.canonical_id, "-y"]);
    }
}

/// `notary key remove KEYID`, its question answered yes.
fn notary_key_remove(notary: &NotaryCli, key_id: &str) {
    notary
        .run_with_stdin(&["key", "remove", key_id], Some("yes\n"))
        .unwrap()
        .ok()
        .unwrap();
}

/// Root: `notary key rotate GUN root`, `notary key remove OLDID` (both answered yes).
fn root_with_notary(repo: &Repo, leaked: &[Leaked]) {
    repo.owner.key_rotate(&repo.gun, "root", false).unwrap();
    for key in leaked {
        notary_key_remove(&repo.owner, &key.canonical_id);
    }
}

/// Targets: `signet key rotate GUN targets` (which removes the old private key), then
/// `signet list GUN` and `signet remove -p GUN NAME` for each target the owner did not sign.
fn targets_with_signet(repo: &Repo, leaked: &[Leaked]) {
    let signet = repo.signet();
    signet.run_ok(&["key", "rotate", &repo.gun, "targets"]);
    assert_gone(repo, leaked);
    remove_unsigned(repo);
}

/// `signet list GUN`, and `signet remove -p GUN NAME` for each target the owner did not sign.
fn remove_unsigned(repo: &Repo) {
    let signet = repo.signet();
    for row in signet.list(&repo.gun) {
        if !repo.rows.contains(&row) {
            signet.run_ok(&["remove", "-p", &repo.gun, &row.name]);
        }
    }
}

/// Targets: `notary key rotate GUN targets`, then `notary list` and `notary remove -p` for
/// each target the owner did not sign.
fn targets_with_notary(repo: &Repo, _: &[Leaked]) {
    repo.owner.key_rotate(&repo.gun, "targets", false).unwrap();
    for row in repo.owner.list(&repo.gun).unwrap() {
        if !repo.rows.contains(&row) {
            repo.owner.remove(&repo.gun, &row.name, &[], true).unwrap();
        }
    }
}

/// Snapshot, client-held: `signet key rotate GUN snapshot` (a new client-held key).
fn snapshot_with_signet(repo: &Repo, leaked: &[Leaked]) {
    repo.signet()
        .run_ok(&["key", "rotate", &repo.gun, "snapshot"]);
    assert_gone(repo, leaked);
}

/// Snapshot: `signet key rotate GUN snapshot -r` (the server holds it from now on).
fn snapshot_to_server_with_signet(repo: &Repo, _: &[Leaked]) {
    repo.signet()
        .run_ok(&["key", "rotate", &repo.gun, "snapshot", "-r"]);
}

/// Snapshot: `notary key rotate GUN snapshot -r`.
fn snapshot_with_notary(repo: &Repo, _: &[Leaked]) {
    repo.owner.key_rotate(&repo.gun, "snapshot", true).unwrap();
}

/// Timestamp: `signet key rotate GUN timestamp -r`.
fn timestamp_with_signet(repo: &Repo, _: &[Leaked]) {
    repo.signet()
        .run_ok(&["key", "rotate", &repo.gun, "timestamp", "-r"]);
}

/// Timestamp: `notary key rotate GUN timestamp -r`.
fn timestamp_with_notary(repo: &Repo, _: &[Leaked]) {
    repo.owner.key_rotate(&repo.gun, "timestamp", true).unwrap();
}

/// A new key for the delegation, generated and imported, added to it, and the delegation
/// re-signed (with the new key too).
fn new_delegation_key_with_signet(repo: &Repo) {
    let signet = repo.signet();
    let gun = repo.gun.as_str();
    let prefix = repo.owner.dirs().files().join("new-releases");
    let prefix = prefix.to_str().unwrap();
    signet.run_ok(&["key", "generate", "ecdsa", "-r", RELEASES, "-o", prefix]);
    signet.run_ok(&["key", "import", &format!("{prefix}-key.pem")]);
    signet.run_ok(&[
        "delegation",
        "add",
        gun,
        RELEASES,
        &format!("{prefix}.pem"),
        "--all-paths",
        "-p",
    ]);
    signet.run_ok(&["resign", gun, "-r", RELEASES]);
}

/// Delegation: a new key added and the delegation re-signed, then the leaked key removed
/// from it and from the trust dir.
fn delegation_with_signet(repo: &Repo, leaked: &[Leaked]) {
    new_delegation_key_with_signet(repo);
    let signet = repo.signet();
    for key in leaked {
        signet.run_ok(&[
            "delegation",
            "remove",
            &repo.gun,
            RELEASES,
            &key.listed_id,
            "-y",
            "-p",
        ]);
        signet.run_ok(&["key", "remove", &key.canonical_id, "-y"]);
    }
}

/// A whole trust dir: root, targets, snapshot (to the server) and the delegation steps.
fn trust_dir_with_signet(repo: &Repo, leaked: &[Leaked]) {
    let signet = repo.signet();
    let gun = repo.gun.as_str();
    // Nothing staged goes out with the rotations.
    signet.run_ok(&["status", gun]);
    signet.run_ok(&["reset", gun, "--all"]);
    signet.run_ok(&["key", "rotate", gun, "root", "-y"]);
    signet.run_ok(&["key", "rotate", gun, "targets"]);
    signet.run_ok(&["key", "rotate", gun, "snapshot", "-r"]);
    new_delegation_key_with_signet(repo);
    for key in leaked.iter().filter(|k| k.role == RELEASES) {
        signet.run_ok(&["delegation", "purge", gun, "--key", &key.listed_id, "-p"]);
    }
    for key in leaked
        .iter()
        .filter(|k| k.role == "root" || k.role == RELEASES)
    {
        signet.run_ok(&["key", "remove", &key.canonical_id, "-y"]);
    }
    let listed = signet.run_ok(&["key", "list"]).stdout;
    for key in leaked {
        assert!(!listed.contains(&key.canonical_id), "{listed}");
    }
}

/// The guide's one step: `signet key compromised GUN --key-id ID… -y --resign yes` (every
/// rotation, removal and re-signing in one publish, the leaked keys moved to the quarantine
/// folder), then, as after any rotation of a key that signed targets, `signet remove -p` of
/// what the owner did not sign.
fn one_step_with_signet(repo: &Repo, leaked: &[Leaked]) {
    let mut args = vec!["key", "compromised", repo.gun.as_str()];
    for key in leaked {
        args.extend(["--key-id", key.listed_id.as_str()]);
    }
    args.extend(["-y", "--resign", "yes"]);
    repo.signet().run_ok(&args);
    assert_gone(repo, leaked);
    remove_unsigned(repo);
}

/// The rotation removed the replaced private key from the trust dir: `signet key list` does
/// not show it.
fn assert_gone(repo: &Repo, leaked: &[Leaked]) {
    let listed = repo.signet().run_ok(&["key", "list"]).stdout;
    for key in leaked {
        assert!(!listed.contains(&key.canonical_id), "{listed}");
    }
}

// The cases.

/// A client-held key leaks; with `attacked`, the attacker publishes with it before the
/// recovery.
fn client_key_case(case: &str, role: &str, delegation: bool, attacked: bool, recover: Recovery) {
    let Some(servers) = servers() else { return };
    let repo = Repo::setup(ServerInfo::of(&servers.server), &gun(case), delegation);
    let leaked = [repo.leak_client_key(role)];
    scenario(&repo, &leaked, attacked, recover);
}

fn server_key_case(case: &str, role: &str, recover: Recovery) {
    let Some(servers) = servers() else { return };
    let repo = Repo::setup(ServerInfo::of(&servers.server), &gun(case), false);
    if role == "snapshot" {
        repo.owner.key_rotate(&repo.gun, "snapshot", true).unwrap();
    }
    let leaked = [repo.leak_server_key(role, SignetServer::test_kek())];
    scenario(&repo, &leaked, false, recover);
}

#[test]
fn root_key_recovered_with_signet() {
    client_key_case("root-signet", "root", false, true, root_with_signet);
}

#[test]
fn root_key_recovered_with_notary() {
    client_key_case("root-notary", "root", false, true, root_with_notary);
}

#[test]
fn targets_key_recovered_with_signet() {
    client_key_case("targets-signet", "targets", true, true, targets_with_signet);
}

#[test]
fn targets_key_recovered_with_notary() {
    client_key_case(
        "targets-notary",
        "targets",
        false,
        true,
        targets_with_notary,
    );
}

#[test]
fn delegation_key_recovered_with_signet() {
    client_key_case(
        "delegation-signet",
        RELEASES,
        true,
        false,
        delegation_with_signet,
    );
}

#[test]
fn client_snapshot_key_recovered_with_signet() {
    client_key_case(
        "snapshot-signet",
        "snapshot",
        false,
        true,
        snapshot_with_signet,
    );
}

#[test]
fn client_snapshot_key_recovered_with_notary() {
    client_key_case(
        "snapshot-notary",
        "snapshot",
        false,
        true,
        snapshot_with_notary,
    );
}

#[test]
fn server_snapshot_key_recovered_with_signet() {
    server_key_case(
        "server-snapshot-signet",
        "snapshot",
        snapshot_to_server_with_signet,
    );
}

#[test]
fn timestamp_key_recovered_with_signet() {
    server_key_case("timestamp-signet", "timestamp", timestamp_with_signet);
}

#[test]
fn timestamp_key_recovered_with_notary() {
    server_key_case("timestamp-notary", "timestamp", timestamp_with_notary);
}

#[test]
fn stolen_trust_dir_recovered_with_signet() {
    let Some(servers) = servers() else { return };
    let repo = Repo::setup(ServerInfo::of(&servers.server), &gun("trust-dir"), true);
    let leaked: Vec<Leaked> = ["root", "targets", "snapshot", RELEASES]
        .into_iter()
        .map(|role| repo.leak_client_key(role))
        .collect();
    scenario(&repo, &leaked, false, trust_dir_with_signet);
}

/// The KEK and a copy of the database leak: `signet-server rotate-kek` re-seals the server
/// keys under a new KEK (the server restarted on it), and the repository rotates its
/// timestamp and snapshot keys. A server of its own, since it is restarted.
#[test]
fn kek_and_database_recovered() {
    if require_tool("notary").is_none() || !docker_available() {
        return;
    }
    let server = SignetServer::start_sqlite_tls().unwrap();
    let info = ServerInfo::of(&server);
    let mut repo = Repo::setup(info.clone(), &gun("kek"), false);
    repo.owner.key_rotate(&repo.gun, "snapshot", true).unwrap();
    let leaked = [
        repo.leak_server_key("timestamp", SignetServer::test_kek()),
        repo.leak_server_key("snapshot", SignetServer::test_kek()),
    ];
    for key in &leaked {
        assert!(repo.trusting(&key.listed_id).contains(&repo.gun));
    }

    let old_kek = server.dir().join("kek.hex");
    let new_kek = server.dir().join("kek.new");
    let rotate = |extra: &[&str]| {
        let mut args = vec![
            "--database-url",
            info.database_url.as_str(),
            "--kek-file",
            old_kek.to_str().unwrap(),
            "rotate-kek",
            "--new-kek-file",
            new_kek.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        run_signet_server(&args, &[]).unwrap().ok().unwrap().stdout
    };
    let planned = rotate(&["--dry-run"]);
    for key in &leaked {
        assert!(
            planned.contains(&format!("{} {}: re-sealed", repo.gun, key.listed_id)),
            "{planned}"
        );
    }
    assert!(!new_kek.exists());
    let done = rotate(&[]);
    assert!(done.contains("server key(s) re-sealed"), "{done}");
    let new_hex = std::fs::read_to_string(&new_kek).unwrap();
    let server = server.restart_with_kek(&new_hex).unwrap();
    assert_eq!(
        server.url(),
        info.url,
        "the server came back on another port"
    );
    // The connections to the stopped server are gone.
    repo.wire = Wire::new(&info);
    // The old KEK opens nothing any more.
    let stale = run_signet_server(
        &[
            "--database-url",
            &info.database_url,
            "--kek-file",
            old_kek.to_str().unwrap(),
            "rotate-kek",
            "--new-kek-file",
            server.dir().join("kek.other").to_str().unwrap(),
            "--dry-run",
        ],
        &[],
    )
    .unwrap();
    assert!(!stale.success(), "{stale:?}");

    let recover: Recovery = |repo, _| {
        let signet = repo.signet();
        signet.run_ok(&["key", "rotate", &repo.gun, "timestamp", "-r"]);
        signet.run_ok(&["key", "rotate", &repo.gun, "snapshot", "-r"]);
    };
    recover(&repo, &leaked);
    repo.check_clients();
    repo.check_refused(&leaked);
    for key in &leaked {
        assert!(!repo.trusting(&key.listed_id).contains(&repo.gun));
    }
    drop(server);
}

/// The root key is lost (and may have leaked): nobody can sign a root old clients accept. The
/// repository is deleted and initialised again by a new trust dir; old clients refuse the new
/// root until they drop their trust for the GUN, then read the new data.
#[test]
fn lost_root_key_means_starting_again() {
    let Some(servers) = servers() else { return };
    let repo = Repo::setup(ServerInfo::of(&servers.server), &gun("root-lost"), false);
    let gun = repo.gun.as_str();
    let owner = fresh_notary(&repo.server);
    let signet = Signet::sharing(&owner);
    signet.run_ok(&["delete", gun, "--remote"]);
    signet.run_ok(&["init", "-p", gun]);
    let row = &repo.rows[0];
    let file = owner
        .dirs()
        .write_file("v1", format!("{gun} v1").as_bytes())
        .unwrap();
    signet.run_ok(&["add", "-p", gun, &row.name, file.to_str().unwrap()]);

    // Old clients refuse the new root...
    let notary = repo.old_notary.run(&["list", gun]).unwrap();
    assert!(!notary.success(), "{notary:?}");
    let old_signet = Signet::sharing(&repo.old_signet);
    let listed = old_signet.run(&["list", gun]);
    assert!(!listed.success(), "{listed:?}");
    let docker = repo.old_docker.docker(&["trust", "inspect", gun]).unwrap();
    assert!(!docker.success(), "{docker:?}");
    // ...until they drop their trust for the GUN.
    repo.old_notary.run_ok(&["delete", gun]).unwrap();
    old_signet.run_ok(&["delete", gun]);
    std::fs::remove_dir_all(repo.old_docker.trust_dir().join("tuf").join(gun)).unwrap();
    repo.check_clients();
}

// The same cases recovered in one step.

#[test]
fn root_key_recovered_in_one_step() {
    client_key_case("root-one-step", "root", false, true, one_step_with_signet);
}

#[test]
fn targets_key_recovered_in_one_step() {
    client_key_case(
        "targets-one-step",
        "targets",
        false,
        true,
        one_step_with_signet,
    );
}

#[test]
fn client_snapshot_key_recovered_in_one_step() {
    client_key_case(
        "snapshot-one-step",
        "snapshot",
        false,
        true,
        one_step_with_signet,
    );
}
