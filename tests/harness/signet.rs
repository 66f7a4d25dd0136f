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
use crate::tls::TlsFiles;

/// Start attempts, in case another process takes the picked port first.
const START_ATTEMPTS: usize = 3;

/// How long a `cargo build -p signet-server` may take.
const BUILD_TIMEOUT: Duration = Duration::from_secs(1800);

/// A fixed key-encryption key for test servers (64 hex digits). Test data only.
const TEST_KEK: &str = "5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e";

/// A running `signet-server` on loopback, no auth, plain HTTP or (with
/// [`start_sqlite_tls`](Self::start_sqlite_tls)) TLS with a per-server test CA. Dropping it
/// kills the server, then drops its Postgres database or SQLite directory.
#[derive(Debug)]
pub struct SignetServer {
    // Field order is drop order: the server goes before its database and its directory.
    process: ServerProcess,
    database: Option<TempDatabase>,
    dir: TempDir,
    url: String,
    database_url: String,
    extra_args: Vec<String>,
    envs: Vec<(String, String)>,
    kek: PathBuf,
    tls: Option<TlsFiles>,
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
        Self::start(url, None, dir, extra_args, None, TEST_KEK)
    }

    /// Starts a TLS server on a fresh SQLite database. A CA and a server certificate for
    /// `127.0.0.1`/`localhost`/`::1` are generated into the server's directory; clients trust
    /// [`ca_cert`](Self::ca_cert). The URL is `https://127.0.0.1:<port>`.
    pub fn start_sqlite_tls() -> Result<Self> {
        let dir = data_dir()?;
        let tls = TlsFiles::generate(dir.path())?;
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("signet.sqlite").display()
        );
        Self::start(url, None, dir, &[], Some(tls), TEST_KEK)
    }

    /// Creates a fresh database `signet_<unique>` in `postgres` and starts a server storing into
    /// it (the server applies its migrations). The database is dropped with the server.
    pub fn start_postgres(postgres: &Postgres) -> Result<Self> {
        Self::start_postgres_with(postgres, &[])
    }

    /// Like [`start_postgres`](Self::start_postgres) with extra command-line arguments.
    pub fn start_postgres_with(postgres: &Postgres, extra_args: &[&str]) -> Result<Self> {
        let database = postgres.create_database("signet")?;
        let url = database.url();
        Self::start(url, Some(database), data_dir()?, extra_args, None, TEST_KEK)
    }

    /// Starts a server on an existing database URL (`postgres://…` or `sqlite://…`); nothing is
    /// dropped afterwards except the server's temporary directory.
    pub fn start_on(database_url: &str) -> Result<Self> {
        Self::start(
            database_url.to_owned(),
            None,
            data_dir()?,
            &[],
            None,
            TEST_KEK,
        )
    }

    /// Like [`start_on`](Self::start_on) with `kek` (the contents of a key-encryption key
    /// file, 64 hex digits) instead of the test key: the key a test's `import-notary-signer`
    /// sealed the keys with.
    pub fn start_on_with_kek(database_url: &str, kek: &str) -> Result<Self> {
        Self::start(database_url.to_owned(), None, data_dir()?, &[], None, kek)
    }

    fn start(
        database_url: String,
        database: Option<TempDatabase>,
        dir: TempDir,
        extra_args: &[&str],
        tls: Option<TlsFiles>,
        kek_hex: &str,
    ) -> Result<Self> {
        let extra_args: Vec<String> = extra_args.iter().map(|a| (*a).to_owned()).collect();
        let kek = write_kek(dir.path(), "kek.hex", kek_hex)?;
        let (process, url) = launch(
            &database_url,
            dir.path(),
            &kek,
            &extra_args,
            &[],
            tls.as_ref(),
            None,
        )?;
        Ok(Self {
            process,
            database,
            dir,
            url,
            database_url,
            extra_args,
            envs: Vec::new(),
            kek,
            tls,
        })
    }

    /// Stops the server and starts it again on the same database, directory, TLS files and
    /// (if still free) port, with `kek_hex` (64 hex digits) as its key-encryption key. With a
    /// different key than before, the server can no longer open the private keys it holds,
    /// which is how a test makes it unable to re-sign metadata.
    pub fn restart_with_kek(self, kek_hex: &str) -> Result<Self> {
        self.process.stop();
        let kek = write_kek(self.dir.path(), "kek-restart.hex", kek_hex)?;
        let port = self
            .url
            .rsplit(':')
            .next()
            .and_then(|port| port.parse::<u16>().ok());
        let (process, url) = launch(
            &self.database_url,
            self.dir.path(),
            &kek,
            &self.extra_args,
            &self.envs,
            self.tls.as_ref(),
            port,
        )?;
        Ok(Self {
            process,
            url,
            kek,
            ..self
        })
    }

    /// Stops the server and starts it again on the same database, directory, key-encryption
    /// key, TLS files and (if still free) port, with `envs` added to its environment in place
    /// of any given to an earlier restart. A test moves the server's clock this way, with
    /// `LD_PRELOAD` of libfaketime and `FAKETIME` (see
    /// [`require_libfaketime`](crate::require_libfaketime)).
    pub fn restart_with_env(self, envs: &[(&str, &str)]) -> Result<Self> {
        self.process.stop();
        let envs: Vec<(String, String)> = envs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect();
        let port = self
            .url
            .rsplit(':')
            .next()
            .and_then(|port| port.parse::<u16>().ok());
        let (process, url) = launch(
            &self.database_url,
            self.dir.path(),
            &self.kek,
            &self.extra_args,
            &envs,
            self.tls.as_ref(),
            port,
        )?;
        Ok(Self {
            process,
            url,
            envs,
            ..self
        })
    }

    /// The CA certificate a client must trust for a TLS server (`None` for plain HTTP).
    pub fn ca_cert(&self) -> Option<&Path> {
        self.tls.as_ref().map(|tls| tls.ca_cert.as_path())
    }

    /// The database URL the server stores into.
    pub fn database_url(&self) -> &str {
        &self.database_url
    }

    /// The key-encryption key test servers start with (64 hex digits).
    pub fn test_kek() -> &'static str {
        TEST_KEK
    }

    /// The base URL, `http://127.0.0.1:<port>` or `https://127.0.0.1:<port>` (no trailing
    /// slash).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `127.0.0.1:<port>`, the directory name docker looks up under `<config>/tls/`.
    pub fn host_port(&self) -> &str {
        self.url
            .split_once("://")
            .map_or(self.url.as_str(), |(_, rest)| rest)
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

/// Runs `signet-server <args>` (a subcommand such as `migrate` or `import-notary-signer`) to
/// completion with `envs` added to its environment and `SIGNET_SERVER_*` variables of the test
/// process removed; a non-zero exit is returned, not an error.
pub fn run_signet_server<S: AsRef<std::ffi::OsStr>>(
    args: &[S],
    envs: &[(&str, &str)],
) -> Result<crate::command::CommandOutput> {
    let mut command = Command::new(signet_server_binary()?);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("SIGNET_SERVER_") {
            command.env_remove(key);
        }
    }
    command
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .envs(envs.iter().copied());
    run_command(&mut command, None, crate::command::DEFAULT_COMMAND_TIMEOUT)
}

fn write_kek(dir: &Path, name: &str, kek_hex: &str) -> Result<PathBuf> {
    let path = dir.join(name);
    std::fs::write(&path, kek_hex)
        .map_err(|e| HarnessError::io(format!("write {}", path.display()), e))?;
    Ok(path)
}

/// Starts the binary; `port` first tries that port, later attempts (and `None`) pick a free
/// one. Returns the process and its base URL.
fn launch(
    database_url: &str,
    dir: &Path,
    kek: &Path,
    extra_args: &[String],
    envs: &[(String, String)],
    tls: Option<&TlsFiles>,
    mut port: Option<u16>,
) -> Result<(ServerProcess, String)> {
    let binary = signet_server_binary()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let mut attempt = 1;
    loop {
        let chosen = match port.take() {
            Some(port) => port,
            None => free_port()?,
        };
        let url = format!("{scheme}://127.0.0.1:{chosen}");
        let mut command = ServerCommand::new(&binary)
            .name("signet-server")
            .arg("--listen")
            .arg(format!("127.0.0.1:{chosen}"))
            .arg("--database-url")
            .arg(database_url)
            .arg("--data-dir")
            .arg(dir)
            .arg("--kek-file")
            .arg(kek)
            .args(extra_args.iter())
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .health_url(format!("{url}/_notary_server/health"));
        for (key, value) in envs {
            command = command.env(key, value);
        }
        if let Some(tls) = tls {
            command = command
                .arg("--tls-cert")
                .arg(&tls.server_cert)
                .arg("--tls-key")
                .arg(&tls.server_key);
        }
        match command.start() {
            Ok(process) => return Ok((process, url)),
            Err(HarnessError::ServerExited { .. }) if attempt < START_ATTEMPTS => {
                attempt += 1;
            }
            Err(error) => return Err(error),
        }
    }
}

fn data_dir() -> Result<TempDir> {
    tempfile::Builder::new()
        .prefix("signet-e2e-signet-server-")
        .tempdir()
        .map_err(|e| HarnessError::io("create signet-server directory", e))
}

/// The workspace root: the parent of this crate's manifest directory.
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// Where cargo puts the debug build of binary `name`: under `$CARGO_TARGET_DIR` (relative to
/// the workspace root unless absolute), otherwise under the workspace's `target/`.
pub fn debug_binary(name: &str) -> PathBuf {
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
    target.join("debug").join(name)
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
    let binary = debug_binary("signet-server");
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
