//! The Go `notary-server`, started on a free loopback port with a generated configuration.

use std::path::{Path, PathBuf};

use tempfile::TempDir;

use crate::error::{HarnessError, Result};
use crate::go_signer::{GoNotarySigner, GoStorage, json_path};
use crate::mysql::TempMySqlDatabase;
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

/// The Go notary-server's MySQL/MariaDB schema, applied in order to a fresh database.
const MYSQL_SCHEMA: [(&str, &str); 5] = [
    (
        "0001_initial.up.sql",
        include_str!("../data/notary-server-schema/mysql/0001_initial.up.sql"),
    ),
    (
        "0002_role_on_keys.up.sql",
        include_str!("../data/notary-server-schema/mysql/0002_role_on_keys.up.sql"),
    ),
    (
        "0003_add_sha256_tuf_files.up.sql",
        include_str!("../data/notary-server-schema/mysql/0003_add_sha256_tuf_files.up.sql"),
    ),
    (
        "0004_drop_timestamp_key.up.sql",
        include_str!("../data/notary-server-schema/mysql/0004_drop_timestamp_key.up.sql"),
    ),
    (
        "0005_changefeed.up.sql",
        include_str!("../data/notary-server-schema/mysql/0005_changefeed.up.sql"),
    ),
];

/// Local signing with ed25519 keys held in memory.
const LOCAL_TRUST_SERVICE: &str = r#"{"type": "local", "key_algorithm": "ed25519"}"#;

/// Start attempts, in case another process takes the picked port first.
const START_ATTEMPTS: usize = 3;

/// A running Go `notary-server` (plain HTTP on loopback, no auth; local ed25519 signing, or a
/// Go notary-signer over mutual TLS).
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
        Self::start(
            r#"{"backend": "memory"}"#.to_owned(),
            LOCAL_TRUST_SERVICE.to_owned(),
            None,
        )
    }

    /// Creates a fresh database `notary_go_<unique>` in `postgres`, applies the Go server's
    /// schema, and starts a server storing into it. The database is dropped with the server.
    pub fn start_postgres(postgres: &Postgres) -> Result<Self> {
        let database = postgres.create_database("notary_go")?;
        Self::prepare_postgres(&database)?;
        let storage = format!(
            r#"{{"backend": "postgres", "db_url": "{}"}}"#,
            database.url()
        );
        Self::start(storage, LOCAL_TRUST_SERVICE.to_owned(), Some(database))
    }

    /// Applies the Go server's Postgres schema to an empty database.
    pub fn prepare_postgres(database: &TempDatabase) -> Result<()> {
        for (file, sql) in SCHEMA {
            database.execute(sql).map_err(|error| match error {
                HarnessError::Postgres { database, stderr } => HarnessError::Postgres {
                    database,
                    stderr: format!("applying {file}: {stderr}"),
                },
                other => other,
            })?;
        }
        Ok(())
    }

    /// Applies the Go server's MySQL/MariaDB schema to an empty database.
    pub fn prepare_mysql(database: &TempMySqlDatabase) -> Result<()> {
        for (file, sql) in MYSQL_SCHEMA {
            database.execute(sql).map_err(|error| match error {
                HarnessError::MySql { database, stderr } => HarnessError::MySql {
                    database,
                    stderr: format!("applying {file}: {stderr}"),
                },
                other => other,
            })?;
        }
        Ok(())
    }

    /// Starts a server storing into `storage` (a database the caller owns, already holding the
    /// Go schema) that keeps its timestamp and snapshot keys in `signer`: `trust_service`
    /// `remote` over mutual TLS with the signer's certificates, `key_algorithm` `ecdsa`.
    pub fn start_remote(storage: &GoStorage, signer: &GoNotarySigner) -> Result<Self> {
        let tls = signer.tls();
        let trust_service = format!(
            r#"{{"type": "remote", "hostname": "127.0.0.1", "port": "{port}",
                   "tls_ca_file": {ca}, "tls_client_cert": {cert}, "tls_client_key": {key},
                   "key_algorithm": "ecdsa"}}"#,
            port = signer.grpc_port(),
            ca = json_path(&tls.ca_cert),
            cert = json_path(&tls.client_cert),
            key = json_path(&tls.client_key),
        );
        Self::start(
            format!("{{{}}}", storage.json_members()),
            trust_service,
            None,
        )
    }

    fn start(
        storage: String,
        trust_service: String,
        database: Option<TempDatabase>,
    ) -> Result<Self> {
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
  "trust_service": {trust_service},
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
