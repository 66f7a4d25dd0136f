//! The Go `notary-server`, started on a free loopback port with a generated configuration.

use std::path::{Path, PathBuf};

use tempfile::TempDir;

use crate::error::{HarnessError, Result};
use crate::ports::free_port;
use crate::postgres::{Postgres, TempDatabase};
use crate::process::{ServerCommand, ServerProcess};
use crate::require::find_tool;

/// The Go notary-server's Postgres schema, applied in order to a fresh database.
const SCHEMA: [(&str, &str); 2] = [
    (
        "0001_initial.up.sql",
        include_str!("../data/notary-server-schema/postgresql/0001_initial.up.sql"),
    ),
    (
        "0002_changefeed.up.sql",
        include_str!("../data/notary-server-schema/postgresql/0002_changefeed.up.sql"),
    ),
];

/// Start attempts, in case another process takes the picked port first.
const START_ATTEMPTS: usize = 3;

/// A running Go `notary-server` (plain HTTP on loopback, local ed25519 signing, no auth).
/// Dropping it kills the server, then drops its database if it has one.
#[derive(Debug)]
pub struct GoNotaryServer {
    // Field order is drop order: the server goes before its database and its config.
    process: ServerProcess,
    database: Option<TempDatabase>,
    _config_dir: TempDir,
    url: String,
}

impl GoNotaryServer {
    /// Starts a server with in-memory storage.
    pub fn start_memory() -> Result<Self> {
        Self::start(r#"{"backend": "memory"}"#.to_owned(), None)
    }

    /// Creates a fresh database `notary_go_<unique>` in `postgres`, applies the Go server's
    /// schema, and starts a server storing into it. The database is dropped with the server.
    pub fn start_postgres(postgres: &Postgres) -> Result<Self> {
        let database = postgres.create_database("notary_go")?;
        for (file, sql) in SCHEMA {
            database.execute(sql).map_err(|error| match error {
                HarnessError::Postgres { database, stderr } => HarnessError::Postgres {
                    database,
                    stderr: format!("applying {file}: {stderr}"),
                },
                other => other,
            })?;
        }
        let storage = format!(
            r#"{{"backend": "postgres", "db_url": "{}"}}"#,
            database.url()
        );
        Self::start(storage, Some(database))
    }

    fn start(storage: String, database: Option<TempDatabase>) -> Result<Self> {
        let binary = find_tool("notary-server").ok_or_else(|| HarnessError::ToolMissing {
            tool: "notary-server".to_owned(),
        })?;
        let config_dir = tempfile::Builder::new()
            .prefix("signet-e2e-notary-server-")
            .tempdir()
            .map_err(|e| HarnessError::io("create notary-server config directory", e))?;
        let config = config_dir.path().join("server.json");
        let mut attempt = 1;
        loop {
            let port = free_port()?;
            let url = format!("http://127.0.0.1:{port}");
            let json = format!(
                r#"{{
  "server": {{"http_addr": "127.0.0.1:{port}"}},
  "trust_service": {{"type": "local", "key_algorithm": "ed25519"}},
  "storage": {storage},
  "logging": {{"level": "info"}}
}}
"#
            );
            std::fs::write(&config, json)
                .map_err(|e| HarnessError::io(format!("write {}", config.display()), e))?;
            match Self::spawn(&binary, &config, &url) {
                Ok(process) => {
                    return Ok(Self {
                        process,
                        database,
                        _config_dir: config_dir,
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

    fn spawn(binary: &Path, config: &Path, url: &str) -> Result<ServerProcess> {
        ServerCommand::new(PathBuf::from(binary))
            .name("notary-server")
            .arg("-config")
            .arg(config)
            .health_url(format!("{url}/_notary_server/health"))
            .start()
    }

    /// The base URL, `http://127.0.0.1:<port>` (no trailing slash).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The URL of a GUN's TUF folder: `<url>/v2/<gun>/_trust/tuf/`.
    pub fn tuf_url(&self, gun: &str) -> String {
        format!("{}/v2/{gun}/_trust/tuf/", self.url)
    }

    /// The server's database, when it stores into Postgres.
    pub fn database(&self) -> Option<&TempDatabase> {
        self.database.as_ref()
    }

    /// The server process (logs, liveness).
    pub fn process(&self) -> &ServerProcess {
        &self.process
    }
}
