//! `signet-server`, started on a free loopback port with SQLite or Postgres storage.
//!
//! The binary is `target/debug/signet-server` of this workspace (or `$SIGNET_SERVER_BIN`). When
//! it is missing or older than the server's sources it is built once per test process with
//! `cargo build -p signet-server`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use tempfile::TempDir;

use crate::command::run_command;
use crate::error::{HarnessError, Result};
use crate::ports::free_port;
use crate::postgres::{Postgres, TempDatabase};
use crate::process::{ServerCommand, ServerProcess};

/// Start attempts, in case another process takes the picked port first.
const START_ATTEMPTS: usize = 3;

/// How long a `cargo build -p signet-server` may take.
const BUILD_TIMEOUT: Duration = Duration::from_secs(1800);

/// A fixed key-encryption key for test servers (64 hex digits). Test data only.
const TEST_KEK: &str = "5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e";

/// A running `signet-server` (plain HTTP on loopback, no auth). Dropping it kills the server,
/// then drops its Postgres database or SQLite directory.
#[derive(Debug)]
pub struct SignetServer {
    // Field order is drop order: the server goes before its database and its directory.
    process: ServerProcess,
    database: Option<TempDatabase>,
    dir: TempDir,
    url: String,
}

impl SignetServer {
    /// Starts a server on a fresh SQLite database in a temporary directory.
    pub fn start_sqlite() -> Result<Self> {
        Self::start_sqlite_with(&[])
    }

    /// Like [`start_sqlite`](Self::start_sqlite) with extra command-line arguments (for
    /// example `--max-body-bytes 4096`).
    pub fn start_sqlite_with(extra_args: &[&str]) -> Result<Self> {
        let dir = data_dir()?;
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("signet.sqlite").display()
        );
        Self::start(url, None, dir, extra_args)
    }

    /// Creates a fresh database `signet_<unique>` in `postgres` and starts a server storing into
    /// it (the server applies its migrations). The database is dropped with the server.
    pub fn start_postgres(postgres: &Postgres) -> Result<Self> {
        let database = postgres.create_database("signet")?;
        let url = database.url();
        Self::start(url, Some(database), data_dir()?, &[])
    }

    /// Starts a server on an existing database URL (`postgres://…` or `sqlite://…`); nothing is
    /// dropped afterwards except the server's temporary directory.
    pub fn start_on(database_url: &str) -> Result<Self> {
        Self::start(database_url.to_owned(), None, data_dir()?, &[])
    }

    fn start(
        database_url: String,
        database: Option<TempDatabase>,
        dir: TempDir,
        extra_args: &[&str],
    ) -> Result<Self> {
        let binary = signet_server_binary()?;
        let kek = dir.path().join("kek.hex");
        std::fs::write(&kek, TEST_KEK)
            .map_err(|e| HarnessError::io(format!("write {}", kek.display()), e))?;
        let mut attempt = 1;
        loop {
            let port = free_port()?;
            let url = format!("http://127.0.0.1:{port}");
            let started = ServerCommand::new(&binary)
                .name("signet-server")
                .arg("--listen")
                .arg(format!("127.0.0.1:{port}"))
                .arg("--database-url")
                .arg(&database_url)
                .arg("--data-dir")
                .arg(dir.path())
                .arg("--kek-file")
                .arg(&kek)
                .args(extra_args.iter().copied())
                .env("RUST_LOG", "info")
                .env("NO_COLOR", "1")
                .health_url(format!("{url}/_notary_server/health"))
                .start();
            match started {
                Ok(process) => {
                    return Ok(Self {
                        process,
                        database,
                        dir,
                        url,
                    });
                }
                Err(HarnessError::ServerExited { .. }) if attempt < START_ATTEMPTS => {
                    attempt += 1;
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// The base URL, `http://127.0.0.1:<port>` (no trailing slash).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The URL of a GUN's TUF folder: `<url>/v2/<gun>/_trust/tuf/`.
    pub fn tuf_url(&self, gun: &str) -> String {
        format!("{}/v2/{gun}/_trust/tuf/", self.url)
    }

    /// The server's Postgres database, when it has its own.
    pub fn database(&self) -> Option<&TempDatabase> {
        self.database.as_ref()
    }

    /// The server's private directory (key-encryption key, SQLite database).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The server process (logs, liveness).
    pub fn process(&self) -> &ServerProcess {
        &self.process
    }

    /// Mutable access to the server process (liveness checks).
    pub fn process_mut(&mut self) -> &mut ServerProcess {
        &mut self.process
    }
}

fn data_dir() -> Result<TempDir> {
    tempfile::Builder::new()
        .prefix("signet-e2e-signet-server-")
        .tempdir()
        .map_err(|e| HarnessError::io("create signet-server directory", e))
}

/// The workspace root: the parent of this crate's manifest directory.
fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// Path of the `signet-server` binary, building it once per process when it is missing or
/// older than the sources. `$SIGNET_SERVER_BIN` names a binary to use as is.
pub fn signet_server_binary() -> Result<PathBuf> {
    static BINARY: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();
    if let Some(path) = std::env::var_os("SIGNET_SERVER_BIN") {
        return Ok(PathBuf::from(path));
    }
    BINARY
        .get_or_init(|| locate_or_build().map_err(|error| error.to_string()))
        .clone()
        .map_err(|reason| HarnessError::ToolMissing {
            tool: format!("signet-server ({reason})"),
        })
}

fn locate_or_build() -> Result<PathBuf> {
    let root = workspace_root();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|dir| {
            if dir.is_absolute() {
                dir
            } else {
                root.join(dir)
            }
        })
        .unwrap_or_else(|| root.join("target"));
    let binary = target.join("debug").join("signet-server");
    let built = modified(&binary);
    let sources = [
        "crates/server/src",
        "crates/tuf/src",
        "crates/signer/src",
        "migrations",
    ]
    .iter()
    .filter_map(|dir| newest_source(&root.join(dir)))
    .max();
    let stale = match (built, sources) {
        (None, _) => true,
        (Some(built), Some(sources)) => sources > built,
        (Some(_), None) => false,
    };
    if !stale {
        return Ok(binary);
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .args(["build", "-p", "signet-server", "--bin", "signet-server"])
        .current_dir(&root);
    let output = run_command(&mut command, None, BUILD_TIMEOUT)?;
    if output.success() || binary.is_file() {
        // A failed rebuild (for example sources mid-edit) falls back to the last good binary.
        if !output.success() {
            eprintln!(
                "warning: `cargo build -p signet-server` failed; using the existing {}:\n{}",
                binary.display(),
                output.stderr
            );
        }
        Ok(binary)
    } else {
        output.ok().map(|_| binary)
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    path.metadata().and_then(|meta| meta.modified()).ok()
}

/// The newest modification time of any file below `dir` (skipping `target` folders).
fn newest_source(dir: &Path) -> Option<SystemTime> {
    let mut newest = None;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(file_type) = entry.file_type() else {
                continue;
            };
            if file_type.is_dir() {
                if entry.file_name() != "target" {
                    pending.push(path);
                }
            } else if let Some(time) = modified(&path) {
                newest = newest.max(Some(time));
            }
        }
    }
    newest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_root_holds_the_server_crate() {
        assert!(workspace_root().join("crates/server/Cargo.toml").is_file());
    }

    #[test]
    fn newest_source_sees_files_in_subdirectories() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(newest_source(dir.path()), None);
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/file"), b"x").unwrap();
        assert!(newest_source(dir.path()).is_some());
    }
}
