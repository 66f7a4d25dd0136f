//! PostgreSQL restarted under steady read and publish load: signet-server keeps running,
//! reads recover within 5 seconds of the database being back, and no publish the client saw
//! acknowledged is lost.
//!
//! The database is a private PostgreSQL cluster of this test (its own data directory and
//! port), so restarting it disturbs no other test.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use signet_e2e::{NotaryCli, SignetServer, find_tool, free_port, http_get, in_ci, run_tool as run};

use crate::client_support::Signet;
use crate::support::go_notary_available;

/// How long reads may fail once the database is back.
const RECOVERY: Duration = Duration::from_secs(5);

/// A PostgreSQL cluster in a temporary directory, stopped on drop.
struct PrivateCluster {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
}

/// The directory holding `initdb` and `pg_ctl` of the installed PostgreSQL server.
fn postgres_bin() -> Option<PathBuf> {
    if let Some(pg_ctl) = find_tool("pg_ctl") {
        return pg_ctl.parent().map(Path::to_path_buf);
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("pg_ctl").is_file() && bin.join("initdb").is_file())
        .collect();
    found.sort();
    found.pop()
}

impl PrivateCluster {
    /// Creates and starts a cluster on a free port, or explains why it cannot.
    fn start() -> Result<Self, String> {
        let bin = postgres_bin().ok_or("the PostgreSQL server binaries (initdb, pg_ctl)")?;
        let dir = tempfile::Builder::new()
            .prefix("signet-e2e-pg-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        if is_root() {
            // initdb refuses to run as root: the cluster belongs to the postgres user.
            run(
                "chown",
                &["-R", "postgres:postgres", &dir.path().display().to_string()],
            )?;
        }
        let cluster = Self {
            bin,
            dir,
            port: free_port().map_err(|e| e.to_string())?,
        };
        cluster.pg(
            "initdb",
            &[
                "-D",
                &cluster.data(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
        )?;
        cluster.ctl(&["start"])?;
        Ok(cluster)
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// `pg_ctl <action>` with this cluster's options, waiting for it to finish.
    fn ctl(&self, action: &[&str]) -> Result<(), String> {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("postgres.log").display().to_string();
        let data = self.data();
        let mut args = vec!["-D", &data, "-l", &log, "-o", &options, "-w", "-m", "fast"];
        args.extend_from_slice(action);
        self.pg("pg_ctl", &args)
    }

    /// Runs a PostgreSQL program as the cluster's owner.
    fn pg(&self, program: &str, args: &[&str]) -> Result<(), String> {
        let path = self.bin.join(program).display().to_string();
        if is_root() {
            let mut all = vec!["-u", "postgres", "--", path.as_str()];
            all.extend_from_slice(args);
            run("runuser", &all)
        } else {
            run(&path, args)
        }
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        let _ = self.ctl(&["stop"]);
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

#[test]
fn postgres_restart_under_load_loses_nothing() {
    if !go_notary_available() {
        return;
    }
    let cluster = match PrivateCluster::start() {
        Ok(c) => c,
        Err(why) => {
            assert!(!in_ci(), "cannot run a private PostgreSQL cluster: {why}");
            eprintln!("SKIPPED: cannot run a private PostgreSQL cluster: {why}");
            return;
        }
    };
    let server = SignetServer::start_on(&cluster.url()).unwrap();
    let gun = "restart.example/app";
    let owner = NotaryCli::new(server.url()).unwrap();
    owner.init(gun, true).unwrap();
    owner.add_bytes(gun, "first", b"first", &[], true).unwrap();

    let stop = AtomicBool::new(false);
    let acked = Mutex::new(Vec::new());
    // (when, whether the read succeeded)
    let reads: Mutex<Vec<(Instant, bool)>> = Mutex::new(Vec::new());
    let timestamp = format!("{}/v2/{gun}/_trust/tuf/timestamp.json", server.url());
    let back = Arc::new(Mutex::new(None::<Instant>));
    std::thread::scope(|scope| {
        scope.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                let ok = http_get(&timestamp).is_ok_and(|r| r.status == 200);
                reads.lock().unwrap().push((Instant::now(), ok));
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        scope.spawn(|| {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let name = format!("w{i}");
                if owner
                    .add_bytes(gun, &name, name.as_bytes(), &[], true)
                    .is_ok()
                {
                    acked.lock().unwrap().push(name);
                }
                i += 1;
            }
        });
        std::thread::sleep(Duration::from_secs(2));
        cluster.ctl(&["restart"]).unwrap();
        *back.lock().unwrap() = Some(Instant::now());
        std::thread::sleep(RECOVERY + Duration::from_secs(3));
        stop.store(true, Ordering::Relaxed);
    });

    let back = back.lock().unwrap().unwrap();
    let reads = reads.into_inner().unwrap();
    let failed_after = reads
        .iter()
        .filter(|(at, ok)| !ok && *at > back)
        .map(|(at, _)| at.duration_since(back))
        .max();
    let ok_late = reads
        .iter()
        .filter(|(at, ok)| *ok && *at > back + RECOVERY)
        .count();
    let failed = reads.iter().filter(|(_, ok)| !ok).count();
    eprintln!(
        "postgres restart: {} reads, {failed} failed, the last failure {failed_after:?} after \
         the database was back; {} publishes acknowledged",
        reads.len(),
        acked.lock().unwrap().len()
    );
    assert!(
        failed_after.is_none_or(|d| d <= RECOVERY),
        "reads still failed {failed_after:?} after the database was back"
    );
    assert!(ok_late > 0, "no successful read after the recovery window");

    // Every acknowledged publish is there, and a publish after the restart works.
    owner
        .add_bytes(gun, "after", b"after", &[], true)
        .expect("publish after the restart");
    let listed: Vec<String> = Signet::new(server.url())
        .list(gun)
        .into_iter()
        .map(|row| row.name)
        .collect();
    for name in acked.lock().unwrap().iter() {
        assert!(
            listed.contains(name),
            "acknowledged {name} lost: {listed:?}"
        );
    }
    assert!(listed.contains(&"after".to_owned()));
}
