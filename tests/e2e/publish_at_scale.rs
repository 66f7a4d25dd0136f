//! Concurrency at scale: 64 clients (the `signet_client` library, each with its own copy of
//! the trust dir) publish to a real `signet-server`, on SQLite and on PostgreSQL.
//!
//! * **One GUN**: every client publishes to the same repository, as docker does by default
//!   (server-managed snapshot: the client signs targets, the server signs snapshot and
//!   timestamp). Each client loops: update (fetch and verify the current trust data), stage a
//!   target, publish; a client that lost a race gets the `VERSION` conflict and publishes its
//!   still-staged change again.
//! * **64 GUNs**: each client publishes to its own repository, as the `notary` CLI does by
//!   default (client-held snapshot: the client signs targets and snapshot, the server signs the
//!   timestamp).
//!
//! The total number of acknowledged publishes per layout is `SIGNET_SCALE_PUBLISHES` (128 by
//! default, so the suite stays quick on a debug build; `crates/server/benches/load/scale.sh`
//! runs 1,000 on a release build and prints the figures).
//!
//! After the run, for every repository: every version 1..N of timestamp, snapshot and targets
//! exists exactly once (version N + 1 does not) and verifies; timestamp *v* names snapshot
//! *v*, and each snapshot names the targets version that was current, one higher than its
//! predecessor's; each targets version adds exactly one target to the previous one and that
//! target's publish was acknowledged, and every acknowledged target is there (so nothing was
//! lost and no refused upload left anything behind); a fresh client verifies the whole
//! repository and lists exactly the acknowledged targets. Every refusal seen was the
//! `VERSION` conflict.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256, Sha512};
use signet_client::changelist::{Change, TargetMeta};
use signet_client::config::TrustPinning;
use signet_client::remote::{RemoteOptions, RemoteStore};
use signet_client::repository::InitOptions;
use signet_client::{Gun, Repository, TrustDir};
use signet_e2e::{SignetServer, copy_dir_all, http_get, require_postgres};
use signet_signer::passphrase::ConstantRetriever;
use signet_signer::{CryptoService, FileKeyStore};
use signet_tuf::metadata::{Envelope, Root, Snapshot, Targets, Timestamp};
use signet_tuf::verify::{verify_snapshot, verify_targets, verify_timestamp};

/// Concurrent clients.
const CLIENTS: usize = 64;
/// Acknowledged publishes per layout unless `SIGNET_SCALE_PUBLISHES` says otherwise.
const DEFAULT_PUBLISHES: usize = 128;
/// Publish attempts one change may need before the test gives up on it.
const MAX_ATTEMPTS: usize = 500;
const PASSPHRASE: &str = "scale-test-passphrase";

fn publishes() -> usize {
    std::env::var("SIGNET_SCALE_PUBLISHES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_PUBLISHES)
}

fn crypto(trust: &TrustDir) -> CryptoService {
    let store = FileKeyStore::open(trust.path(), Arc::new(ConstantRetriever::new(PASSPHRASE)))
        .expect("key store");
    CryptoService::new(vec![Arc::new(store)])
}

async fn open(trust: &TrustDir, gun: &Gun, url: &str) -> Repository {
    let remote = RemoteStore::connect(url, RemoteOptions::default())
        .await
        .unwrap();
    Repository::open(
        trust,
        gun.clone(),
        remote,
        TrustPinning::default(),
        crypto(trust),
    )
    .unwrap()
}

fn meta_of(contents: &[u8]) -> TargetMeta {
    let mut hashes = BTreeMap::new();
    hashes.insert("sha256".to_owned(), Sha256::digest(contents).to_vec());
    hashes.insert("sha512".to_owned(), Sha512::digest(contents).to_vec());
    TargetMeta {
        length: contents.len() as i64,
        hashes,
        custom: None,
    }
}

/// What one client did.
#[derive(Debug, Default)]
struct ClientLog {
    /// `(gun, target)` of every acknowledged (2xx) publish.
    acknowledged: Vec<(String, String)>,
    /// Uploads refused with the `VERSION` conflict (each one was retried).
    conflicts: usize,
}

/// The figures of one layout.
#[derive(Debug)]
struct Figures {
    publishes: usize,
    conflicts: usize,
    elapsed: Duration,
}

impl std::fmt::Display for Figures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} publishes in {:.1} s ({:.1}/s), {} conflicts retried",
            self.publishes,
            self.elapsed.as_secs_f64(),
            self.publishes as f64 / self.elapsed.as_secs_f64(),
            self.conflicts
        )
    }
}

/// Publishes `target` (already staged) until the server acknowledges it. After a `VERSION`
/// conflict the client waits a random time of up to its last attempt's duration times 2, 4,
/// 8 or 16 (at most two seconds), as a client backing off from a busy repository would, and
/// publishes again. Any other error fails the test.
async fn publish_until_acknowledged(
    repo: &mut Repository,
    client: usize,
    target: &str,
    log: &mut ClientLog,
) {
    let mut seed = (client as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    for attempt in 0..MAX_ATTEMPTS {
        let started = Instant::now();
        match repo.publish().await {
            Ok(_) => {
                log.acknowledged
                    .push((repo.gun().to_string(), target.to_owned()));
                return;
            }
            Err(e) if e.is_version_conflict() => {
                log.conflicts += 1;
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let took = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                let window = took.saturating_mul(2 << attempt.min(3)).min(2000);
                tokio::time::sleep(Duration::from_millis(seed % (window + 1))).await;
            }
            Err(e) => panic!(
                "client {client}: publishing {target} to {} failed with something other than \
                 a version conflict: {e} ({e:?})",
                repo.gun()
            ),
        }
    }
    panic!("client {client}: {target} was refused {MAX_ATTEMPTS} times");
}

/// Initialises `gun` from `owner` and publishes one base target; returns its name.
async fn initialise(owner: &TrustDir, gun: &Gun, url: &str, server_snapshot: bool) -> String {
    let mut repo = open(owner, gun, url).await;
    repo.initialize(InitOptions {
        server_managed_snapshot: server_snapshot,
        ..InitOptions::default()
    })
    .await
    .unwrap();
    let base = "base".to_owned();
    repo.stage(&Change::add_target("targets", &base, &meta_of(b"base")))
        .unwrap();
    repo.publish().await.unwrap();
    base
}

/// 64 clients, `total` acknowledged publishes to one GUN (server-managed snapshot). Returns
/// the acknowledged targets and the figures.
async fn one_gun(url: &str, gun: &Gun, total: usize) -> (BTreeSet<String>, Figures) {
    let owner_dir = tempfile::tempdir().unwrap();
    let owner = TrustDir::new(owner_dir.path().join("trust"));
    let base = initialise(&owner, gun, url, true).await;

    let tickets = Arc::new(AtomicUsize::new(total));
    let start = Instant::now();
    let mut tasks = Vec::new();
    let mut dirs = Vec::new();
    for client in 0..CLIENTS {
        let dir = tempfile::tempdir().unwrap();
        copy_dir_all(owner.path(), &dir.path().join("trust")).unwrap();
        let trust = TrustDir::new(dir.path().join("trust"));
        dirs.push(dir);
        let (gun, url, tickets) = (gun.clone(), url.to_owned(), Arc::clone(&tickets));
        tasks.push(tokio::spawn(async move {
            let mut repo = open(&trust, &gun, &url).await;
            let mut log = ClientLog::default();
            let mut n = 0;
            while tickets
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |t| t.checked_sub(1))
                .is_ok()
            {
                let target = format!("client-{client}/release-{n}");
                n += 1;
                repo.stage(&Change::add_target(
                    "targets",
                    &target,
                    &meta_of(target.as_bytes()),
                ))
                .unwrap();
                publish_until_acknowledged(&mut repo, client, &target, &mut log).await;
            }
            log
        }));
    }
    let mut acknowledged = BTreeSet::from([base]);
    let mut figures = Figures {
        publishes: 0,
        conflicts: 0,
        elapsed: Duration::ZERO,
    };
    for task in tasks {
        let log = task.await.unwrap();
        figures.publishes += log.acknowledged.len();
        figures.conflicts += log.conflicts;
        for (_, target) in log.acknowledged {
            assert!(acknowledged.insert(target), "a target acknowledged twice");
        }
    }
    figures.elapsed = start.elapsed();
    assert_eq!(figures.publishes, total);
    (acknowledged, figures)
}

/// 64 clients, each on its own GUN (client-held snapshot), `total` acknowledged publishes
/// spread over them. Returns the acknowledged targets per GUN and the figures.
async fn many_guns(
    url: &str,
    prefix: &str,
    total: usize,
) -> (BTreeMap<Gun, BTreeSet<String>>, Figures) {
    let mut tasks = Vec::new();
    let start = Instant::now();
    for client in 0..CLIENTS {
        let gun = Gun::new(format!("{prefix}/app-{client}")).unwrap();
        let count = total / CLIENTS + usize::from(client < total % CLIENTS);
        let url = url.to_owned();
        tasks.push(tokio::spawn(async move {
            let dir = tempfile::tempdir().unwrap();
            let trust = TrustDir::new(dir.path().join("trust"));
            let base = initialise(&trust, &gun, &url, false).await;
            let mut repo = open(&trust, &gun, &url).await;
            let mut log = ClientLog::default();
            for n in 0..count {
                let target = format!("release-{n}");
                repo.stage(&Change::add_target(
                    "targets",
                    &target,
                    &meta_of(target.as_bytes()),
                ))
                .unwrap();
                publish_until_acknowledged(&mut repo, client, &target, &mut log).await;
            }
            (gun, base, log)
        }));
    }
    let mut acknowledged = BTreeMap::new();
    let mut figures = Figures {
        publishes: 0,
        conflicts: 0,
        elapsed: Duration::ZERO,
    };
    for task in tasks {
        let (gun, base, log) = task.await.unwrap();
        figures.publishes += log.acknowledged.len();
        figures.conflicts += log.conflicts;
        let mut names = BTreeSet::from([base]);
        names.extend(log.acknowledged.into_iter().map(|(_, t)| t));
        acknowledged.insert(gun, names);
    }
    figures.elapsed = start.elapsed();
    assert_eq!(figures.publishes, total);
    (acknowledged, figures)
}

/// Every stored version of `role` by the by-version route: from the first one that exists
/// (the client's first publish may start a role at version 2, as Go notary's does) on
/// without a gap, up to the first missing one.
fn all_versions(url: &str, gun: &Gun, role: &str) -> Vec<(i64, Vec<u8>)> {
    let get = |version: i64| {
        let resp = http_get(&format!("{url}/v2/{gun}/_trust/tuf/{version}.{role}.json")).unwrap();
        match resp.status {
            200 => Some(resp.body),
            404 => None,
            other => panic!("{gun} {version}.{role}.json: {other} {}", resp.text()),
        }
    };
    let Some((first, bytes)) = (1..=3).find_map(|v| get(v).map(|b| (v, b))) else {
        panic!("{gun}: no {role} among the first versions");
    };
    let mut out = vec![(first, bytes)];
    while let Some(bytes) = get(first + out.len() as i64) {
        out.push((first + out.len() as i64, bytes));
    }
    out
}

fn sha256_of(bytes: &[u8]) -> Vec<u8> {
    Sha256::digest(bytes).to_vec()
}

/// Versions of the files of one role by their SHA-256; every file must differ.
fn by_checksum(gun: &Gun, role: &str, files: &[(i64, Vec<u8>)]) -> BTreeMap<Vec<u8>, i64> {
    let map: BTreeMap<Vec<u8>, i64> = files.iter().map(|(v, b)| (sha256_of(b), *v)).collect();
    assert_eq!(map.len(), files.len(), "{gun}: two equal {role} files");
    map
}

/// Checks the stored history of `gun` (see the module documentation) and that a fresh client
/// lists exactly `acknowledged`, which holds one target per publish (the initial one too).
async fn check_history(url: &str, gun: &Gun, acknowledged: &BTreeSet<String>) {
    let root_bytes = http_get(&format!("{url}/v2/{gun}/_trust/tuf/root.json"))
        .unwrap()
        .body;
    let root = Envelope::<Root>::parse(&root_bytes).unwrap();
    let root = root.signed();
    let timestamps = all_versions(url, gun, "timestamp");
    let snapshots = all_versions(url, gun, "snapshot");
    let targets = all_versions(url, gun, "targets");
    // Every acknowledged publish stored exactly one file of each role; refused ones none.
    let publishes = acknowledged.len();
    assert_eq!(timestamps.len(), publishes, "{gun}: timestamp versions");
    assert_eq!(snapshots.len(), publishes, "{gun}: snapshot versions");
    assert_eq!(targets.len(), publishes, "{gun}: targets versions");
    let snapshot_by_sum = by_checksum(gun, "snapshot", &snapshots);
    let targets_by_sum = by_checksum(gun, "targets", &targets);

    for (index, (version, bytes)) in timestamps.iter().enumerate() {
        let ts = Envelope::<Timestamp>::parse(bytes).unwrap();
        verify_timestamp(&ts, root).unwrap();
        assert_eq!(ts.signed().version, *version);
        let named = ts
            .signed()
            .snapshot_meta()
            .and_then(|m| m.sha256())
            .unwrap();
        assert_eq!(
            snapshot_by_sum.get(named),
            Some(&snapshots[index].0),
            "{gun}: timestamp {version} names another snapshot"
        );
    }
    let mut previous: Option<(i64, BTreeSet<String>)> = None;
    let mut added = BTreeSet::new();
    for (version, bytes) in &snapshots {
        let snap = Envelope::<Snapshot>::parse(bytes).unwrap();
        verify_snapshot(&snap, root).unwrap();
        assert_eq!(snap.signed().version, *version);
        let named = snap.signed().meta["targets"].sha256().unwrap();
        let &targets_version = targets_by_sum
            .get(named)
            .unwrap_or_else(|| panic!("{gun}: snapshot {version} names unknown targets"));
        let first = targets[0].0;
        let doc =
            Envelope::<Targets>::parse(&targets[(targets_version - first) as usize].1).unwrap();
        verify_targets(&doc, root).unwrap();
        assert_eq!(doc.signed().version, targets_version);
        let names: BTreeSet<String> = doc.signed().targets.keys().cloned().collect();
        match &previous {
            None => {
                assert_eq!(targets_version, first, "{gun}: first snapshot");
                added.extend(names.iter().cloned());
            }
            Some((before_version, before)) => {
                assert_eq!(
                    targets_version,
                    before_version + 1,
                    "{gun}: snapshot {version} names targets {targets_version} after \
                     {before_version}"
                );
                assert!(
                    before.is_subset(&names),
                    "{gun}: targets {targets_version} lost one"
                );
                let new: Vec<&String> = names.difference(before).collect();
                assert_eq!(
                    new.len(),
                    1,
                    "{gun}: targets {targets_version} adds {new:?}"
                );
                added.insert(new[0].clone());
            }
        }
        previous = Some((targets_version, names));
    }
    let (_, names) = previous.unwrap();
    assert_eq!(&names, acknowledged, "{gun}: final targets");
    assert_eq!(&added, acknowledged, "{gun}: targets added along the chain");

    // A newcomer verifies everything and sees exactly the acknowledged targets.
    let fresh_dir = tempfile::tempdir().unwrap();
    let fresh = TrustDir::new(fresh_dir.path().join("trust"));
    let mut reader = open(&fresh, gun, url).await;
    reader.update().await.unwrap();
    let listed: BTreeSet<String> = reader
        .list_targets(&[])
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(&listed, acknowledged, "{gun}: a fresh client's list");
}

/// Both layouts against `server`; prints the figures.
fn at_scale(server: &SignetServer, backend: &str, total: usize) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let url = server.url();
        let gun = Gun::new(format!("example.com/scale/{backend}/shared")).unwrap();
        let (acknowledged, figures) = one_gun(url, &gun, total).await;
        eprintln!("{backend}: {CLIENTS} clients, one GUN: {figures}");
        check_history(url, &gun, &acknowledged).await;

        let prefix = format!("example.com/scale/{backend}/own");
        let (per_gun, figures) = many_guns(url, &prefix, total).await;
        eprintln!("{backend}: {CLIENTS} clients, {CLIENTS} GUNs: {figures}");
        for (gun, acknowledged) in &per_gun {
            check_history(url, gun, acknowledged).await;
        }
    });
}

#[test]
fn sixty_four_clients_publish_on_sqlite() {
    let server = SignetServer::start_sqlite().unwrap();
    at_scale(&server, "sqlite", publishes());
}

#[test]
fn sixty_four_clients_publish_on_postgres() {
    let Some(postgres) = require_postgres() else {
        return;
    };
    let server = SignetServer::start_postgres(&postgres).unwrap();
    at_scale(&server, "postgres", publishes());
}
