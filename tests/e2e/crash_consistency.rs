//! Crash consistency: signet-server killed with SIGKILL at random points during publishes, and
//! the `signet` client killed in the middle of its own publishes.
//!
//! After every server restart a fresh trust dir must verify the repository, and at the end
//! every publish a client saw acknowledged must be there. After every client kill the trust
//! dir and changelist must still be readable, and a retried publish must land.
//!
//! CI runs a short version; `SIGNET_CRASH_KILLS=200 SIGNET_CRASH_CLIENT_KILLS=50` runs the
//! long one (see `crates/server/README.md`, "Crash consistency").

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use signet_e2e::{NotaryCli, SignetServer, require_postgres};

use crate::client_support::Signet;
use crate::support::go_notary_available;

/// Server kills per backend (`SIGNET_CRASH_KILLS`, default 15).
fn server_kills() -> usize {
    env_count("SIGNET_CRASH_KILLS", 15)
}

/// Client kills (`SIGNET_CRASH_CLIENT_KILLS`, default 12).
fn client_kills() -> usize {
    env_count("SIGNET_CRASH_CLIENT_KILLS", 12)
}

fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A small deterministic generator (xorshift), seeded per run and printed, so that a failing
/// schedule can be replayed with `SIGNET_CRASH_SEED`.
struct Rng(u64);

impl Rng {
    fn seeded() -> Self {
        let seed = std::env::var("SIGNET_CRASH_SEED")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| d.as_nanos() as u64)
            })
            | 1;
        eprintln!("crash schedule seed: SIGNET_CRASH_SEED={seed}");
        Self(seed)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// Publishes `t0`, `t1`, … to `gun` with the Go CLI until `stop`; returns the names whose
/// publish was acknowledged (exit status 0).
fn publish_until(cli: &NotaryCli, gun: &str, stop: &AtomicBool, acked: &Mutex<Vec<String>>) {
    let mut i = 0;
    while !stop.load(Ordering::Relaxed) {
        let name = format!("t{i}");
        if cli
            .add_bytes(gun, &name, name.as_bytes(), &[], true)
            .is_ok()
        {
            acked.lock().unwrap().push(name);
        }
        i += 1;
    }
}

/// Kills the server `kills` times at random points while a Go client publishes, restarting it
/// on the same database each time, and checks the repository after every restart.
fn server_crashes(mut server: SignetServer, name: &str) {
    let gun = format!("crash.example/{name}");
    let owner = NotaryCli::new(server.url()).unwrap();
    owner.init(&gun, true).unwrap();
    let mut rng = Rng::seeded();
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    let kills = server_kills();
    // The scope hands the (restarted) server back, so that it still runs for the final check.
    let server = std::thread::scope(|scope| {
        scope.spawn(|| publish_until(&owner, &gun, &stop, &acked));
        for kill in 0..kills {
            std::thread::sleep(Duration::from_millis(50 + rng.below(400)));
            server = server
                .restart_with_kek(SignetServer::test_kek())
                .unwrap_or_else(|e| panic!("{name}: restart {kill} failed: {e}"));
            // A fresh trust dir verifies the whole chain the server now serves.
            let listed = Signet::new(server.url()).run(&["list", &gun]);
            assert!(
                listed.success(),
                "{name}: after kill {kill} the repository does not verify: {}",
                listed.stderr
            );
        }
        stop.store(true, Ordering::Relaxed);
        server
    });
    let acked = acked.lock().unwrap().clone();
    let listed: Vec<String> = Signet::new(server.url())
        .list(&gun)
        .into_iter()
        .map(|row| row.name)
        .collect();
    for name_acked in &acked {
        assert!(
            listed.contains(name_acked),
            "{name}: acknowledged {name_acked} is missing after the crashes: {listed:?}"
        );
    }
    eprintln!(
        "{name}: {kills} kills in {:?}; {} publishes acknowledged, {} targets listed",
        started.elapsed(),
        acked.len(),
        listed.len()
    );
    assert!(!acked.is_empty(), "{name}: no publish was acknowledged");
}

#[test]
fn server_killed_during_publishes_on_sqlite() {
    if !go_notary_available() {
        return;
    }
    server_crashes(SignetServer::start_sqlite().unwrap(), "sqlite");
}

#[test]
fn server_killed_during_publishes_on_postgres() {
    if !go_notary_available() {
        return;
    }
    let Some(postgres) = require_postgres() else {
        return;
    };
    server_crashes(SignetServer::start_postgres(&postgres).unwrap(), "postgres");
}

/// Kills `signet publish` at random points; after each kill the changelist is still readable
/// and a retried publish lands with the staged target.
#[test]
fn client_killed_during_publish_recovers() {
    let server = SignetServer::start_sqlite().unwrap();
    let gun = "crash.example/client";
    let owner = Signet::new(server.url());
    owner.run_ok(&["init", "-p", gun]);
    let file = owner.write_file("payload", b"client crash");
    let mut rng = Rng::seeded();
    let mut killed = 0;
    for i in 0..client_kills() {
        let target = format!("c{i}");
        owner.run_ok(&["add", gun, &target, &file.display().to_string()]);
        let after = Duration::from_millis(rng.below(120));
        if owner.run_killed_after(&["publish", gun], after) {
            killed += 1;
        }
        let status = owner.run(&["status", gun]);
        assert!(
            status.success(),
            "status after a killed publish: {}",
            status.stderr
        );
        owner.run_ok(&["publish", gun]);
        let listed = owner.fresh().list(gun);
        assert!(
            listed.iter().any(|row| row.name == target),
            "{target} missing after a retried publish"
        );
        let status = owner.run_ok(&["status", gun]);
        assert!(
            !status.stdout.contains(&target),
            "{target} still staged after the retried publish: {}",
            status.stdout
        );
    }
    eprintln!(
        "client: {killed} of {} publishes killed mid-way",
        client_kills()
    );
}
