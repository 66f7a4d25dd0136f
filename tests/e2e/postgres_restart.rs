//! PostgreSQL restarted under steady read and publish load: signet-server keeps running,
//! reads recover within 5 seconds of the database being back, and no publish the client saw
//! acknowledged is lost. And PostgreSQL turned read-only under a running server: writes get
//! 503 naming the cause, reads keep working, health reports the write path down, and writes
//! resume as soon as the database takes them again, with no restart.
//!
//! The database is a private PostgreSQL cluster of each test (its own data directory and
//! port), so restarting it or changing its settings disturbs no other test.

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

    /// Runs one SQL statement with `psql`, in a session that may write whatever the cluster's
    /// defaults say.
    fn sql(&self, statement: &str) -> Result<(), String> {
        let psql = Some(self.bin.join("psql"))
            .filter(|path| path.is_file())
            .or_else(|| find_tool("psql"))
            .ok_or("psql is not installed")?
            .display()
            .to_string();
        let port = self.port.to_string();
        let mut args = vec![
            "PGOPTIONS=-c default_transaction_read_only=off",
            psql.as_str(),
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            statement,
        ];
        if is_root() {
            args.splice(0..0, ["-u", "postgres", "--", "env"]);
            run("runuser", &args)
        } else {
            run("env", &args)
        }
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

/// A private cluster, or `None` (a skip notice; a failure under CI) when one cannot run here.
fn private_cluster() -> Option<PrivateCluster> {
    match PrivateCluster::start() {
        Ok(cluster) => Some(cluster),
        Err(why) => {
            assert!(!in_ci(), "cannot run a private PostgreSQL cluster: {why}");
            eprintln!("SKIPPED: cannot run a private PostgreSQL cluster: {why}");
            None
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
    let Some(cluster) = private_cluster() else {
        return;
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

/// Polls the health check until its status is `want`, for up to [`RECOVERY`]; the last answer.
fn health_becomes(server: &str, want: u16) -> (u16, String) {
    let deadline = Instant::now() + RECOVERY;
    loop {
        let got = http_get(&format!("{server}/_notary_server/health")).unwrap();
        if got.status == want || Instant::now() >= deadline {
            return (got.status, got.text());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Makes every transaction of the cluster read-only (`on`) or not (`off`), without a
/// restart: what a database switched to read-only under the server looks like.
fn set_read_only(cluster: &PrivateCluster, on: bool) {
    let statement = if on {
        "ALTER SYSTEM SET default_transaction_read_only = on"
    } else {
        "ALTER SYSTEM RESET default_transaction_read_only"
    };
    cluster.sql(statement).unwrap();
    cluster.sql("SELECT pg_reload_conf()").unwrap();
}

#[test]
fn postgres_read_only_refuses_writes_and_resumes_without_a_restart() {
    let Some(cluster) = private_cluster() else {
        return;
    };
    let server = SignetServer::start_on(&cluster.url()).unwrap();
    let gun = "read-only.example/app";
    let owner = Signet::new(server.url());
    owner.run_ok(&["init", "-p", gun]);
    let first = owner.write_file("first", b"first");
    owner.run_ok(&["add", "-p", gun, "first", &first.display().to_string()]);

    set_read_only(&cluster, true);
    let (status, body) = health_becomes(server.url(), 503);
    assert_eq!(status, 503, "health on a read-only database: {body}");
    assert!(
        body.contains("read-only"),
        "health does not name the cause: {body}"
    );

    // A publish is refused, naming the cause, and stores nothing; reads keep working.
    let second = owner.write_file("second", b"second");
    owner.run_ok(&["add", gun, "second", &second.display().to_string()]);
    let refused = owner.run(&["publish", gun]);
    assert!(
        !refused.success(),
        "publish on a read-only database succeeded"
    );
    let said = format!("{}{}", refused.stdout, refused.stderr);
    assert!(
        said.contains("read-only"),
        "the client was not told why: {said}"
    );
    assert!(
        server.process().logs().contains("storage read-only"),
        "the server log does not name the cause:\n{}",
        server.process().logs()
    );
    let names = |listing: Vec<signet_e2e::TargetRow>| -> Vec<String> {
        listing.into_iter().map(|row| row.name).collect()
    };
    assert_eq!(names(Signet::new(server.url()).list(gun)), ["first"]);

    // Writable again: the staged change publishes, with no restart of signet-server.
    set_read_only(&cluster, false);
    let (status, body) = health_becomes(server.url(), 200);
    assert_eq!(status, 200, "health once the database is writable: {body}");
    owner.run_ok(&["publish", gun]);
    let mut listed = names(Signet::new(server.url()).list(gun));
    listed.sort();
    assert_eq!(listed, ["first", "second"]);
}
