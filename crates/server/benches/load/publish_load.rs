//! Publish throughput of Notary servers, side by side in one run.
//!
//! For each server named with `--server NAME=URL`, and for each of `--guns` GUNs, the
//! generator initialises a repository (root, targets and snapshot keys held here, the
//! timestamp key held by the server, as `notary init -p` leaves it) and pre-computes a chain
//! of signed uploads: targets version *n* with one target more than version *n − 1*, and the
//! snapshot version *n* naming it. Nothing is signed while the clock runs. Then one client
//! per GUN posts its chain, in order, all GUNs at once, and the generator reports publishes
//! per second, latency percentiles and the ratio of every server to the first one.
//!
//! Afterwards it checks, through the read API, that every publish landed: per GUN the served
//! timestamp, snapshot and targets verify against the served root, their versions are the
//! chain's last, and the targets are exactly the last uploaded bytes.
//!
//! ```sh
//! cargo run --release -p signet-server --example publish_load -- \
//!     --server go=http://127.0.0.1:4443 --server signet=http://127.0.0.1:4444 \
//!     --guns 64 --publishes 1000 --rounds 2
//! ```
//!
//! With several rounds the servers take turns going first (ABBA…), each round on new GUNs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{Duration as TimeDelta, Utc};
use clap::Parser;
use signet_signer::cert::generate_root_certificate;
use signet_signer::{CertifiedSigner, PrivateKey, Signer};
use signet_tuf::key::PublicKey;
use signet_tuf::metadata::{
    Envelope, Expires, FileMeta, Metadata, RoleKeys, Root, Snapshot, Targets, Timestamp,
};
use signet_tuf::verify::{verify_snapshot, verify_targets, verify_timestamp};

/// Multipart boundary of every upload.
const BOUNDARY: &str = "signetloadboundary7f3a";

#[derive(Parser, Debug)]
#[command(about = "Publish throughput of Notary servers, side by side")]
struct Args {
    /// A server to measure, `NAME=URL`; repeat for each. Ratios are against the first.
    #[arg(long = "server", required = true)]
    servers: Vec<String>,
    /// GUNs per server and round, one concurrent client each.
    #[arg(long, default_value_t = 64)]
    guns: usize,
    /// Publishes per server and round, spread evenly over the GUNs.
    #[arg(long, default_value_t = 1000)]
    publishes: usize,
    /// Rounds; the servers take turns going first.
    #[arg(long, default_value_t = 1)]
    rounds: usize,
    /// Prefix of the GUNs (a unique run ID is appended).
    #[arg(long, default_value = "load.example.com")]
    prefix: String,
}

/// One repository being published to: its GUN and the pre-computed upload bodies.
struct Chain {
    gun: String,
    uploads: Vec<Bytes>,
    /// The last uploaded targets file, and its version.
    last_targets: Vec<u8>,
    last_version: i64,
    /// Target names in the last targets file.
    target_count: usize,
}

/// What firing the chains at one server measured.
#[derive(Default, Clone)]
struct Measured {
    publishes: usize,
    failures: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Measured {
    fn merge(&mut self, other: &Self) {
        self.publishes += other.publishes;
        self.failures += other.failures;
        self.elapsed += other.elapsed;
        self.latencies.extend_from_slice(&other.latencies);
    }

    fn per_second(&self) -> f64 {
        self.publishes as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }

    fn percentile(&self, p: f64) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        if sorted.is_empty() {
            return Duration::ZERO;
        }
        let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        sorted[index.min(sorted.len() - 1)]
    }
}

fn expires_in(days: i64) -> Expires {
    Expires::from_utc(Utc::now() + TimeDelta::days(days))
}

/// Signs `doc` with every signer and returns the file bytes.
fn sign<T: Metadata>(doc: T, signers: &[&dyn Signer]) -> Vec<u8> {
    let mut env = Envelope::from_signed(doc).expect("envelope");
    for s in signers {
        env.add_signature(s.sign(env.signing_bytes()).expect("sign"));
    }
    env.to_file_bytes().expect("file bytes")
}

/// A multipart/form-data body with one `files` part per `(role, bytes)`, as notary sends it.
fn multipart(parts: &[(&str, &[u8])]) -> Bytes {
    let mut body = Vec::new();
    for (name, data) in parts {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"files\"; \
                 filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    Bytes::from(body)
}

fn tuf_url(base: &str, gun: &str, file: &str) -> String {
    format!("{base}/v2/{gun}/_trust/tuf/{file}")
}

async fn get(client: &reqwest::Client, url: &str) -> Vec<u8> {
    let resp = client.get(url).send().await.expect("GET");
    let status = resp.status();
    let body = resp.bytes().await.expect("GET body");
    assert!(
        status.is_success(),
        "GET {url}: {status} {}",
        String::from_utf8_lossy(&body)
    );
    body.to_vec()
}

async fn post(client: &reqwest::Client, url: &str, body: Bytes) -> Result<(), String> {
    let resp = client
        .post(url)
        .header(
            "Content-Type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(body)
        .send()
        .await
        .map_err(|e| format!("POST {url}: {e}"))?;
    let status = resp.status();
    if status.is_success() {
        // Drain the body so the connection is reused.
        let _ = resp.bytes().await;
        Ok(())
    } else {
        let body = resp.bytes().await.unwrap_or_default();
        Err(format!(
            "POST {url}: {status} {}",
            String::from_utf8_lossy(&body)
        ))
    }
}

/// Initialises `gun` on `base` (root, targets and snapshot version 1 in one upload) and
/// returns `publishes` signed uploads that follow it.
async fn prepare(client: &reqwest::Client, base: &str, gun: String, publishes: usize) -> Chain {
    let timestamp_key: PublicKey =
        serde_json::from_slice(&get(client, &tuf_url(base, &gun, "timestamp.key")).await)
            .expect("timestamp key JSON");
    tokio::task::spawn_blocking(move || build_chain(gun, &timestamp_key, publishes))
        .await
        .expect("chain task")
        .finish(client, base)
        .await
}

/// The signed files of one GUN: the initial upload and the chain after it.
struct Prepared {
    gun: String,
    initial: Bytes,
    chain: Chain,
}

impl Prepared {
    async fn finish(self, client: &reqwest::Client, base: &str) -> Chain {
        post(client, &tuf_url(base, &self.gun, ""), self.initial)
            .await
            .expect("initial publish");
        self.chain
    }
}

fn build_chain(gun: String, timestamp_key: &PublicKey, publishes: usize) -> Prepared {
    let root_key: Arc<dyn Signer> = Arc::new(PrivateKey::generate_ecdsa().expect("root key"));
    let cert = generate_root_certificate(root_key.as_ref(), &gun).expect("root certificate");
    let root_signer =
        CertifiedSigner::new(root_key, cert.public_key.clone()).expect("certified root key");
    let targets_key = PrivateKey::generate_ecdsa().expect("targets key");
    let snapshot_key = PrivateKey::generate_ecdsa().expect("snapshot key");

    let mut root = Root::new(expires_in(3650));
    root.version = 1;
    for (role, key) in [
        ("root", &cert.public_key),
        ("targets", targets_key.public_key()),
        ("snapshot", snapshot_key.public_key()),
        ("timestamp", timestamp_key),
    ] {
        root.keys.insert(key.key_id(), key.clone());
        root.roles
            .insert(role.to_owned(), RoleKeys::new(vec![key.key_id()], 1));
    }
    let root_bytes = sign(root, &[&root_signer]);

    let targets_expiry = expires_in(3 * 365);
    let snapshot_expiry = expires_in(3 * 365);
    let mut targets = Targets::new(1, targets_expiry);
    let snapshot_for = |version: i64, targets_bytes: &[u8]| {
        let mut snapshot = Snapshot::new(version, snapshot_expiry.clone());
        snapshot
            .meta
            .insert("root".to_owned(), FileMeta::from_bytes(&root_bytes));
        snapshot
            .meta
            .insert("targets".to_owned(), FileMeta::from_bytes(targets_bytes));
        sign(snapshot, &[&snapshot_key])
    };
    let targets_bytes = sign(targets.clone(), &[&targets_key]);
    let snapshot_bytes = snapshot_for(1, &targets_bytes);
    let initial = multipart(&[
        ("root", &root_bytes),
        ("targets", &targets_bytes),
        ("snapshot", &snapshot_bytes),
    ]);

    let mut uploads = Vec::with_capacity(publishes);
    let mut last_targets = targets_bytes;
    for n in 0..publishes {
        let name = format!("release-{n}.tar.gz");
        let contents = format!("{gun} release {n}");
        targets
            .targets
            .insert(name, FileMeta::from_bytes(contents.as_bytes()));
        targets.version += 1;
        let targets_bytes = sign(targets.clone(), &[&targets_key]);
        let snapshot_bytes = snapshot_for(targets.version, &targets_bytes);
        uploads.push(multipart(&[
            ("targets", &targets_bytes),
            ("snapshot", &snapshot_bytes),
        ]));
        last_targets = targets_bytes;
    }
    Prepared {
        gun: gun.clone(),
        initial,
        chain: Chain {
            gun,
            uploads,
            last_targets,
            last_version: targets.version,
            target_count: targets.targets.len(),
        },
    }
}

/// Sets up `guns` repositories on `base` with `publishes` uploads spread over them.
async fn prepare_all(
    client: &reqwest::Client,
    base: &str,
    prefix: &str,
    guns: usize,
    publishes: usize,
) -> Vec<Chain> {
    // A few at a time: setting up is not measured, and a burst of 64 first publishes only
    // makes the Go server open as many database connections.
    let limit = Arc::new(tokio::sync::Semaphore::new(8));
    let mut tasks = Vec::with_capacity(guns);
    for g in 0..guns {
        let gun = format!("{prefix}/app-{g}");
        let count = publishes / guns + usize::from(g < publishes % guns);
        let (client, base, limit) = (client.clone(), base.to_owned(), Arc::clone(&limit));
        tasks.push(tokio::spawn(async move {
            let _permit = limit.acquire_owned().await.expect("semaphore");
            prepare(&client, &base, gun, count).await
        }));
    }
    let mut chains = Vec::with_capacity(guns);
    for t in tasks {
        chains.push(t.await.expect("prepare task"));
    }
    chains
}

/// Posts every chain to `base`, one concurrent client per GUN, in order within a GUN.
async fn fire(client: &reqwest::Client, base: &str, chains: &[Chain]) -> Measured {
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(chains.len());
    for chain in chains {
        let url = tuf_url(base, &chain.gun, "");
        let uploads = chain.uploads.clone();
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let mut measured = Measured::default();
            for body in uploads {
                let sent = Instant::now();
                match post(&client, &url, body).await {
                    Ok(()) => {
                        measured.publishes += 1;
                        measured.latencies.push(sent.elapsed());
                    }
                    Err(e) => {
                        if measured.failures == 0 {
                            eprintln!("{e}");
                        }
                        measured.failures += 1;
                    }
                }
            }
            measured
        }));
    }
    let mut total = Measured::default();
    for t in tasks {
        total.merge(&t.await.expect("publish task"));
    }
    total.elapsed = start.elapsed();
    total
}

/// Checks through the read API that every publish of every chain landed on `base`.
async fn verify(client: &reqwest::Client, base: &str, chains: &[Chain]) -> Result<(), String> {
    let now = Utc::now();
    for chain in chains {
        let gun = &chain.gun;
        let root_bytes = get(client, &tuf_url(base, gun, "root.json")).await;
        let root = Envelope::<Root>::parse(&root_bytes).map_err(|e| format!("{gun} root: {e}"))?;
        let root = root.signed();
        let ts_bytes = get(client, &tuf_url(base, gun, "timestamp.json")).await;
        let ts =
            Envelope::<Timestamp>::parse(&ts_bytes).map_err(|e| format!("{gun} timestamp: {e}"))?;
        verify_timestamp(&ts, root).map_err(|e| format!("{gun} timestamp: {e}"))?;
        let expected = chain.last_version;
        if ts.signed().version != expected {
            return Err(format!(
                "{gun}: timestamp version {} after {} publishes, expected {expected}",
                ts.signed().version,
                chain.uploads.len()
            ));
        }
        let snap_sum = ts
            .signed()
            .snapshot_meta()
            .and_then(FileMeta::sha256)
            .map(hex::encode)
            .ok_or_else(|| format!("{gun}: timestamp names no snapshot"))?;
        let snap_bytes = get(
            client,
            &tuf_url(base, gun, &format!("snapshot.{snap_sum}.json")),
        )
        .await;
        let snap =
            Envelope::<Snapshot>::parse(&snap_bytes).map_err(|e| format!("{gun} snapshot: {e}"))?;
        verify_snapshot(&snap, root).map_err(|e| format!("{gun} snapshot: {e}"))?;
        let targets_meta = snap
            .signed()
            .meta
            .get("targets")
            .ok_or_else(|| format!("{gun}: snapshot names no targets"))?;
        let targets_sum = targets_meta.sha256().map(hex::encode).unwrap_or_default();
        let targets_bytes = get(
            client,
            &tuf_url(base, gun, &format!("targets.{targets_sum}.json")),
        )
        .await;
        targets_meta
            .check_hashes("targets", &targets_bytes)
            .map_err(|e| format!("{gun} targets: {e}"))?;
        let targets = Envelope::<Targets>::parse(&targets_bytes)
            .map_err(|e| format!("{gun} targets: {e}"))?;
        verify_targets(&targets, root).map_err(|e| format!("{gun} targets: {e}"))?;
        for (role, expires) in [
            ("timestamp", &ts.signed().expires),
            ("snapshot", &snap.signed().expires),
            ("targets", &targets.signed().expires),
        ] {
            if expires.is_expired(now) {
                return Err(format!("{gun}: served {role} is expired"));
            }
        }
        if snap.signed().version != expected
            || targets.signed().version != expected
            || targets.signed().targets.len() != chain.target_count
            || targets_bytes != chain.last_targets
        {
            return Err(format!(
                "{gun}: served snapshot v{} / targets v{} with {} targets, expected v{expected} \
                 with {} targets",
                snap.signed().version,
                targets.signed().version,
                targets.signed().targets.len(),
                chain.target_count
            ));
        }
    }
    Ok(())
}

fn millis(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let servers: Vec<(String, String)> = args
        .servers
        .iter()
        .map(|s| {
            let (name, url) = s.split_once('=').expect("--server NAME=URL");
            (name.to_owned(), url.trim_end_matches('/').to_owned())
        })
        .collect();
    assert!(args.guns > 0, "--guns must be at least 1");
    // reqwest is built without a default TLS provider; plain HTTP still needs one installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.guns * 2)
        .timeout(Duration::from_secs(120))
        .build()
        .expect("HTTP client");
    let run_id = format!(
        "{}-{}",
        std::process::id(),
        Utc::now().timestamp_millis() % 1_000_000
    );
    let mut totals: BTreeMap<usize, Measured> = BTreeMap::new();
    let mut failed = false;
    for round in 0..args.rounds {
        let mut order: Vec<usize> = (0..servers.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for index in order {
            let (name, url) = &servers[index];
            let prefix = format!("{}/{run_id}/r{round}/{name}", args.prefix);
            eprintln!("round {round}: preparing {} GUNs on {name}...", args.guns);
            let chains = prepare_all(&client, url, &prefix, args.guns, args.publishes).await;
            eprintln!("round {round}: publishing to {name}...");
            let measured = fire(&client, url, &chains).await;
            eprintln!(
                "round {round}: {name}: {} publishes in {:.2} s = {:.1}/s ({} failed)",
                measured.publishes,
                measured.elapsed.as_secs_f64(),
                measured.per_second(),
                measured.failures
            );
            if measured.failures > 0 {
                failed = true;
            }
            match verify(&client, url, &chains).await {
                Ok(()) => eprintln!(
                    "round {round}: {name}: every publish verified from the served metadata"
                ),
                Err(e) => {
                    eprintln!("round {round}: {name}: verification failed: {e}");
                    failed = true;
                }
            }
            totals.entry(index).or_default().merge(&measured);
        }
    }

    println!(
        "{} GUNs, one client each; {} publishes per server and round; {} round(s)",
        args.guns, args.publishes, args.rounds
    );
    println!();
    println!("| server | publishes | seconds | publishes/s | p50 | p99 | ratio |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let base_rate = totals.get(&0).map_or(0.0, Measured::per_second);
    for (index, (name, _)) in servers.iter().enumerate() {
        let Some(m) = totals.get(&index) else {
            continue;
        };
        println!(
            "| {name} | {} | {:.2} | {:.1} | {} | {} | {:.2}× |",
            m.publishes,
            m.elapsed.as_secs_f64(),
            m.per_second(),
            millis(m.percentile(0.5)),
            millis(m.percentile(0.99)),
            m.per_second() / base_rate.max(f64::EPSILON)
        );
    }
    if failed {
        eprintln!("some publishes failed or did not verify");
        std::process::exit(1);
    }
}
