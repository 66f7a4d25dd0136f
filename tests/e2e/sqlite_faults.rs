//! Database faults on SQLite: a full disk, a read-only file system and write-protected
//! database files under a running signet-server.
//!
//! The database lives on a small tmpfs (or, for the read-only and write-protected cases while
//! the server runs, an ext4 image on a loop device) that the test mounts, fills, remounts or
//! `chattr +i`s. Mounting needs root:
//! without it the tests fail under CI and skip with a notice otherwise. Every mount is
//! unmounted when the test ends, also when it panics.
//!
//! What the server must do (see `crates/server/README.md`, "Database faults"): answer the
//! failing write with 503 and a Notary error envelope whose detail names the cause, log that
//! cause, keep serving reads, report the write path down in its health check, lose nothing it
//! acknowledged, leave a database that passes `PRAGMA integrity_check`, and take writes again
//! once the storage does, without a restart.

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use signet_e2e::{SignetServer, TrustDir, http_get, in_ci, run_tool as run};

use crate::client_support::Signet;

/// What a client is told when the disk is full.
const FULL_DETAIL: &str =
    "storage full: the server's database has no space left; nothing was stored";
/// What a client is told when the database cannot be written.
const READ_ONLY_DETAIL: &str =
    "storage read-only: the server's database cannot be written; nothing was stored";

/// The roles whose every version the tests fetch.
/// What a client is told when the database files cannot be written.
const IO_DETAIL: &str =
    "storage I/O error: the server's database files could not be read or written";
const ROLES: [&str; 4] = ["root", "targets", "snapshot", "timestamp"];

/// Skips the test (a failure under CI) when a mount cannot be made.
fn cannot_mount(why: &str) {
    assert!(!in_ci(), "cannot mount the test file system: {why}");
    eprintln!("SKIPPED: cannot mount the test file system (this test needs root): {why}");
}

/// A file system mounted on a temporary directory for one test, unmounted on drop (lazily if
/// something still holds it), with its loop device detached.
struct Mounted {
    dir: tempfile::TempDir,
    loop_device: Option<String>,
    _image: Option<tempfile::TempDir>,
}

impl Mounted {
    /// A tmpfs of `size` (`mount -o size=…`).
    fn tmpfs(size: &str) -> Result<Self, String> {
        let dir = mount_point()?;
        let target = dir.path().display().to_string();
        run(
            "mount",
            &[
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size}"),
                "tmpfs",
                &target,
            ],
        )?;
        Ok(Self {
            dir,
            loop_device: None,
            _image: None,
        })
    }

    /// An ext4 image of `mib` MiB on a loop device, mounted with `errors=remount-ro` so that
    /// a file system error makes the kernel turn it read-only under the running server.
    fn ext4(mib: u64) -> Result<Self, String> {
        let image_dir = tempfile::Builder::new()
            .prefix("signet-e2e-ext4-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let image = image_dir.path().join("fs.img");
        std::fs::File::create(&image)
            .and_then(|f| f.set_len(mib << 20))
            .map_err(|e| e.to_string())?;
        let image = image.display().to_string();
        run("mkfs.ext4", &["-q", "-F", &image])?;
        let out = Command::new("losetup")
            .args(["--find", "--show", &image])
            .output()
            .map_err(|e| format!("losetup: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "losetup: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let device = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let dir = match mount_point() {
            Ok(dir) => dir,
            Err(e) => {
                let _ = run("losetup", &["-d", &device]);
                return Err(e);
            }
        };
        let target = dir.path().display().to_string();
        if let Err(e) = run(
            "mount",
            &["-t", "ext4", "-o", "errors=remount-ro", &device, &target],
        ) {
            let _ = run("losetup", &["-d", &device]);
            return Err(e);
        }
        Ok(Self {
            dir,
            loop_device: Some(device),
            _image: Some(image_dir),
        })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn target(&self) -> String {
        self.path().display().to_string()
    }

    /// `mount -o remount,<how>`.
    fn remount(&self, how: &str) -> Result<(), String> {
        run("mount", &["-o", &format!("remount,{how}"), &self.target()])
    }

    /// Unmounts the file system, repairs it with `e2fsck` and mounts it again (an ext4 file
    /// system the kernel turned read-only stays so until it is unmounted).
    fn mount_again(&self) -> Result<(), String> {
        let device = self.loop_device.as_deref().ok_or("not a loop device")?;
        let target = self.target();
        run("umount", &[&target])?;
        // 0: clean, 1: errors corrected.
        let fsck = Command::new("e2fsck")
            .args(["-f", "-y", device])
            .output()
            .map_err(|e| format!("e2fsck: {e}"))?;
        if !matches!(fsck.status.code(), Some(0 | 1)) {
            return Err(format!(
                "e2fsck {device}: {}: {}",
                fsck.status,
                String::from_utf8_lossy(&fsck.stdout)
            ));
        }
        run(
            "mount",
            &["-t", "ext4", "-o", "errors=remount-ro", device, &target],
        )
    }

    /// Makes the kernel turn the ext4 file system read-only, as it does on a disk error.
    fn trigger_fs_error(&self) -> Result<(), String> {
        let device = self.loop_device.as_deref().ok_or("not a loop device")?;
        let name = device.trim_start_matches("/dev/");
        std::fs::write(
            format!("/sys/fs/ext4/{name}/trigger_fs_error"),
            "signet-e2e: simulated disk error",
        )
        .map_err(|e| format!("trigger_fs_error on {name}: {e}"))
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let target = self.target();
        if run("umount", &[&target]).is_err() {
            let _ = run("umount", &["-l", &target]);
        }
        if let Some(device) = &self.loop_device {
            let _ = run("losetup", &["-d", device]);
        }
    }
}

fn mount_point() -> Result<tempfile::TempDir, String> {
    tempfile::Builder::new()
        .prefix("signet-e2e-mnt-")
        .tempdir()
        .map_err(|e| e.to_string())
}

fn sqlite_url(db: &Path) -> String {
    format!("sqlite://{}?mode=rwc", db.display())
}

/// Fills the file system holding `dir` with one file until it has no space left.
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).unwrap();
    for size in [64 * 1024, 512] {
        let chunk = vec![0_u8; size];
        loop {
            match file.write_all(&chunk) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::StorageFull => break,
                Err(e) => panic!("filling {}: {e}", path.display()),
            }
        }
    }
    path
}

/// A TCP relay in front of the server that keeps every byte the server answered, so that a
/// test sees the exact response a client got.
struct Recorder {
    url: String,
    seen: Arc<Mutex<Vec<u8>>>,
    stop: Arc<AtomicBool>,
}

impl Recorder {
    fn start(upstream: &str) -> Self {
        let upstream = upstream
            .strip_prefix("http://")
            .expect("plain HTTP server")
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (record, stopped) = (Arc::clone(&seen), Arc::clone(&stop));
        std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => relay(client, &upstream, Arc::clone(&record)),
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Self { url, seen, stop }
    }

    /// Everything the server answered since the last call, as text.
    fn take(&self) -> String {
        let bytes = std::mem::take(&mut *self.seen.lock().unwrap());
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn relay(client: TcpStream, upstream: &str, seen: Arc<Mutex<Vec<u8>>>) {
    client.set_nonblocking(false).unwrap();
    let Ok(server) = TcpStream::connect(upstream) else {
        return;
    };
    let (mut client_in, mut server_out) =
        (client.try_clone().unwrap(), server.try_clone().unwrap());
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut client_in, &mut server_out);
        let _ = server_out.shutdown(std::net::Shutdown::Write);
    });
    let (mut server_in, mut client_out) = (server, client);
    std::thread::spawn(move || {
        let mut buf = [0_u8; 16 * 1024];
        loop {
            match server_in.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    seen.lock().unwrap().extend_from_slice(&buf[..n]);
                    if client_out.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = client_out.shutdown(std::net::Shutdown::Write);
    });
}

/// Every stored file of `guns` as the server serves it: each role's current file and every
/// version of it, keyed by path.
fn fetch_all(server: &str, guns: &[&str]) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for gun in guns {
        for role in ROLES {
            let path = format!("{gun}/{role}.json");
            let got = http_get(&format!("{server}/v2/{gun}/_trust/tuf/{role}.json")).unwrap();
            assert_eq!(got.status, 200, "GET {path}: {}", got.text());
            files.insert(path, got.body);
            for version in 1.. {
                let path = format!("{gun}/{version}.{role}.json");
                let got = http_get(&format!(
                    "{server}/v2/{gun}/_trust/tuf/{version}.{role}.json"
                ))
                .unwrap();
                if got.status == 404 {
                    break;
                }
                assert_eq!(got.status, 200, "GET {path}: {}", got.text());
                files.insert(path, got.body);
            }
        }
    }
    files
}

/// Asserts that every file of `before` is still served, byte for byte.
fn assert_kept(before: &BTreeMap<String, Vec<u8>>, now: &BTreeMap<String, Vec<u8>>, when: &str) {
    for (path, bytes) in before {
        let current = path.split('/').next_back().is_some_and(|f| {
            ROLES
                .iter()
                .any(|role| f == format!("{role}.json").as_str())
        });
        if current {
            continue;
        }
        assert_eq!(
            now.get(path),
            Some(bytes),
            "{when}: {path} is no longer served as it was"
        );
    }
}

/// `PRAGMA integrity_check` on the database file, through a connection of its own.
fn integrity_check(db: &Path) -> String {
    use sqlx::ConnectOptions as _;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(db)
            .read_only(true)
            .connect()
            .await
            .unwrap_or_else(|e| panic!("open {} for the integrity check: {e}", db.display()));
        let rows: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_all(&mut conn)
            .await
            .unwrap();
        rows.join("; ")
    })
}

fn health(server: &str) -> (u16, String) {
    let got = http_get(&format!("{server}/_notary_server/health")).unwrap();
    (got.status, got.text())
}

/// A server on `signet.sqlite` in `mount`, a recording relay in front of it and a client that
/// speaks through the relay; with the database path.
fn serve_from(mount: &Mounted) -> (PathBuf, SignetServer, Recorder, Signet) {
    let db = mount.path().join("signet.sqlite");
    let server = SignetServer::start_on(&sqlite_url(&db)).unwrap();
    let recorder = Recorder::start(server.url());
    let owner = Signet::new(&recorder.url);
    (db, server, recorder, owner)
}

/// Publishes target `name` of `gun`; returns whether the publish was acknowledged, with what
/// the client printed.
fn publish(owner: &Signet, gun: &str, name: &str) -> (bool, String) {
    let file = owner.write_file(name, format!("contents of {name}").as_bytes());
    owner.run_ok(&["add", gun, name, &file.display().to_string()]);
    let out = owner.run(&["publish", gun]);
    (out.success(), format!("{}{}", out.stdout, out.stderr))
}

/// Asserts that a fresh trust dir verifies `gun` and lists every name of `acked`.
fn assert_listed(server: &str, gun: &str, acked: &[String]) {
    let listed: Vec<String> = Signet::new(server)
        .list(gun)
        .into_iter()
        .map(|row| row.name)
        .collect();
    for name in acked {
        assert!(
            listed.contains(name),
            "{gun}: acknowledged {name} lost: {listed:?}"
        );
    }
}

#[test]
fn sqlite_disk_full_refuses_writes_clearly_and_recovers() {
    let mount = match Mounted::tmpfs("8m") {
        Ok(m) => m,
        Err(why) => return cannot_mount(&why),
    };
    let (db, server, recorder, owner) = serve_from(&mount);
    let guns = ["full.example/one", "full.example/two", "full.example/three"];
    let mut acked: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for gun in guns {
        owner.run_ok(&["init", "-p", gun]);
        for i in 0..2 {
            let name = format!("before-{i}");
            let (ok, stderr) = publish(&owner, gun, &name);
            assert!(
                ok,
                "{gun}: publish of {name} failed with space left: {stderr}"
            );
            acked.entry(gun).or_default().push(name);
        }
    }
    let before = fetch_all(server.url(), &guns);

    // No space left: the next publish must fail, clearly, and store nothing.
    let filler = fill(mount.path());
    let gun = guns[0];
    let mut refused = None;
    for i in 0..10 {
        let name = format!("full-{i}");
        recorder.take();
        let (ok, stderr) = publish(&owner, gun, &name);
        if ok {
            acked.entry(gun).or_default().push(name);
        } else {
            refused = Some((name, stderr, recorder.take()));
            break;
        }
    }
    let (pending, stderr, answer) = refused.expect("publishes kept succeeding on a full disk");
    eprintln!("disk full: the client said: {}", stderr.trim());
    assert!(answer.contains("HTTP/1.1 503"), "server answer: {answer}");
    assert!(
        answer.contains(r#""code":"UNAVAILABLE""#) && answer.contains(FULL_DETAIL),
        "server answer: {answer}"
    );
    assert!(
        server.process().logs().contains("storage full"),
        "the server log does not name the cause:\n{}",
        server.process().logs()
    );
    let (status, body) = health(server.url());
    assert_eq!(status, 503, "health on a full disk: {body}");
    assert!(
        body.contains("storage full"),
        "health on a full disk: {body}"
    );

    // Reads keep working, and nothing acknowledged changed or went missing.
    let during = fetch_all(server.url(), &guns);
    assert_kept(&before, &during, "on the full disk");
    for (gun, names) in &acked {
        assert_listed(server.url(), gun, names);
    }
    assert_eq!(integrity_check(&db), "ok", "on the full disk");

    // Space again: the staged change publishes, without a restart.
    std::fs::remove_file(&filler).unwrap();
    owner.run_ok(&["publish", gun]);
    acked.entry(gun).or_default().push(pending);
    let (ok, stderr) = publish(&owner, guns[1], "after");
    assert!(ok, "publish after freeing space: {stderr}");
    acked.entry(guns[1]).or_default().push("after".to_owned());
    let (status, body) = health(server.url());
    assert_eq!(status, 200, "health after freeing space: {body}");
    let after = fetch_all(server.url(), &guns);
    assert_kept(&before, &after, "after freeing space");
    for (gun, names) in &acked {
        assert_listed(server.url(), gun, names);
    }
    drop(recorder);
    drop(server);
    assert_eq!(integrity_check(&db), "ok", "after the server stopped");
}

/// The kernel turns the file system read-only under the running server (what `errors=
/// remount-ro` does on a disk error; an operator's `mount -o remount,ro` is refused with
/// EBUSY while SQLite holds the database open for writing). Writes answer 503 naming the
/// cause, reads and the stored data stay, health reports the write path down. Such a file
/// system stays read-only until it is unmounted, so the server is restarted on it once it is
/// mounted read-write again.
#[test]
fn sqlite_read_only_file_system_refuses_writes_and_keeps_reads() {
    for tool in ["mkfs.ext4", "e2fsck", "losetup"] {
        if signet_e2e::find_tool(tool).is_none() {
            return cannot_mount(&format!("program `{tool}` is not on PATH"));
        }
    }
    let mount = match Mounted::ext4(32) {
        Ok(m) => m,
        Err(why) => return cannot_mount(&why),
    };
    let db = mount.path().join("signet.sqlite");
    let url = sqlite_url(&db);
    let server = SignetServer::start_on(&url).unwrap();
    let recorder = Recorder::start(server.url());
    let trust = TrustDir::new().unwrap();
    let owner = Signet::on(&recorder.url, &trust);
    let gun = "readonly.example/app";
    owner.run_ok(&["init", "-p", gun]);
    let mut acked = Vec::new();
    for i in 0..2 {
        let name = format!("before-{i}");
        let (ok, stderr) = publish(&owner, gun, &name);
        assert!(ok, "publish of {name}: {stderr}");
        acked.push(name);
    }
    let before = fetch_all(server.url(), &[gun]);

    mount.trigger_fs_error().unwrap();
    recorder.take();
    let (ok, stderr) = publish(&owner, gun, "refused");
    assert!(!ok, "a publish on a read-only file system was acknowledged");
    let answer = recorder.take();
    eprintln!("read-only: the client said: {}", stderr.trim());
    assert!(answer.contains("HTTP/1.1 503"), "server answer: {answer}");
    assert!(
        answer.contains(r#""code":"UNAVAILABLE""#) && answer.contains(READ_ONLY_DETAIL),
        "server answer: {answer}"
    );
    assert!(
        server.process().logs().contains("storage read-only"),
        "the server log does not name the cause:\n{}",
        server.process().logs()
    );
    let (status, body) = health(server.url());
    assert_eq!(status, 503, "health on a read-only file system: {body}");
    assert!(
        body.contains("write") && body.contains("storage read-only"),
        "health on a read-only file system: {body}"
    );
    let during = fetch_all(server.url(), &[gun]);
    assert_kept(&before, &during, "on the read-only file system");
    assert_eq!(during, before, "a refused publish changed what is served");
    assert_listed(server.url(), gun, &acked);
    drop(recorder);
    drop(server);

    // Unmounted, checked and mounted read-write again: the server starts on the same
    // database, nothing acknowledged is lost and publishes work.
    mount.mount_again().unwrap();
    assert_eq!(integrity_check(&db), "ok", "after the file system error");
    let server = SignetServer::start_on(&url).unwrap();
    assert_kept(
        &before,
        &fetch_all(server.url(), &[gun]),
        "after the restart",
    );
    let owner = Signet::on(server.url(), &trust);
    owner.run_ok(&["publish", gun]);
    acked.push("refused".to_owned());
    assert_listed(server.url(), gun, &acked);
}

/// A server started on a database whose file system is read-only refuses to start, saying
/// why; once the file system is writable it starts on the same database with nothing lost.
#[test]
fn sqlite_start_on_read_only_file_system_fails_clearly() {
    let mount = match Mounted::tmpfs("8m") {
        Ok(m) => m,
        Err(why) => return cannot_mount(&why),
    };
    let db = mount.path().join("signet.sqlite");
    let url = sqlite_url(&db);
    let mut server = SignetServer::start_on(&url).unwrap();
    let trust = TrustDir::new().unwrap();
    let owner = Signet::on(server.url(), &trust);
    let gun = "readonly.example/start";
    owner.run_ok(&["init", "-p", gun]);
    let (ok, stderr) = publish(&owner, gun, "before");
    assert!(ok, "{stderr}");
    let before = fetch_all(server.url(), &[gun]);
    // A clean stop closes the database (and removes its -wal and -shm files).
    server
        .process_mut()
        .terminate(Duration::from_secs(15))
        .unwrap()
        .expect("the server did not stop on SIGTERM");
    drop(server);

    mount.remount("ro").unwrap();
    let refused = SignetServer::start_on(&url).expect_err("started on a read-only file system");
    let shown = refused.to_string();
    eprintln!("read-only start: {shown}");
    assert!(shown.contains("read-only file system"), "{shown}");

    mount.remount("rw").unwrap();
    let server = SignetServer::start_on(&url).unwrap();
    assert_eq!(fetch_all(server.url(), &[gun]), before);
    let owner = Signet::on(server.url(), &trust);
    let (ok, stderr) = publish(&owner, gun, "after");
    assert!(ok, "{stderr}");
    assert_listed(
        server.url(),
        gun,
        &["before".to_owned(), "after".to_owned()],
    );
    drop(server);
    assert_eq!(integrity_check(&db), "ok");
}

/// Database files made immutable (`chattr +i`) for as long as it lives, also when the test
/// panics (the mount could not be cleaned up otherwise).
struct WriteProtected(Vec<PathBuf>);

impl WriteProtected {
    /// `chattr +i` on every file of `files` that exists.
    fn new(files: Vec<PathBuf>) -> Self {
        let files: Vec<PathBuf> = files.into_iter().filter(|f| f.exists()).collect();
        for file in &files {
            run("chattr", &["+i", &file.display().to_string()]).unwrap();
        }
        Self(files)
    }
}

impl Drop for WriteProtected {
    fn drop(&mut self) {
        for file in &self.0 {
            let _ = run("chattr", &["-i", &file.display().to_string()]);
        }
    }
}

/// The database files write-protected under the running server (`chattr +i`: what an operator
/// protecting a volume does, and the only way to make files SQLite holds open refuse writes
/// without unmounting). Writes answer 503 naming the cause, reads keep working, health reports
/// the write path down, nothing stored changes; once the files are writable again, the staged
/// change publishes and health recovers, with no restart.
#[test]
fn sqlite_write_protected_database_refuses_writes_and_resumes() {
    let mount = match Mounted::ext4(64) {
        Ok(m) => m,
        Err(why) => return cannot_mount(&why),
    };
    let (db, server, recorder, owner) = serve_from(&mount);
    let gun = "protected.example/app";
    owner.run_ok(&["init", "-p", gun]);
    let (ok, said) = publish(&owner, gun, "before");
    assert!(ok, "publish before: {said}");
    let before = fetch_all(server.url(), &[gun]);

    let files: Vec<PathBuf> = ["", "-wal", "-shm"]
        .iter()
        .map(|suffix| mount.path().join(format!("signet.sqlite{suffix}")))
        .collect();
    let protected = WriteProtected::new(files);
    recorder.take();
    let (ok, said) = publish(&owner, gun, "during");
    let answer = recorder.take();
    assert!(
        !ok,
        "publish to write-protected database files succeeded: {said}"
    );
    assert!(answer.contains("HTTP/1.1 503"), "server answer: {answer}");
    assert!(
        answer.contains(r#""code":"UNAVAILABLE""#) && answer.contains(IO_DETAIL),
        "server answer: {answer}"
    );
    let (status, body) = health(server.url());
    assert_eq!(status, 503, "health with the files write-protected: {body}");
    assert_kept(&before, &fetch_all(server.url(), &[gun]), "write-protected");
    assert_listed(server.url(), gun, &["before".to_owned()]);

    drop(protected);
    let (status, body) = health(server.url());
    assert_eq!(status, 200, "health once the files are writable: {body}");
    owner.run_ok(&["publish", gun]);
    let (ok, said) = publish(&owner, gun, "after");
    assert!(ok, "publish once the files are writable: {said}");
    assert_kept(&before, &fetch_all(server.url(), &[gun]), "writable again");
    assert_listed(
        server.url(),
        gun,
        &["before".to_owned(), "during".to_owned(), "after".to_owned()],
    );
    drop(recorder);
    drop(server);
    assert_eq!(integrity_check(&db), "ok", "after the server stopped");
}
