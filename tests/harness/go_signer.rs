//! The Go `notary-signer`, with the mutual-TLS material it and the Go `notary-server` need, and
//! the Go pair's storage settings (Postgres or MySQL/MariaDB).
//!
//! ```no_run
//! use signet_e2e::{GoNotaryServer, GoNotarySigner, GoStorage, require_postgres};
//!
//! let postgres = require_postgres().unwrap();
//! let signer_db = postgres.create_database("go_signer").unwrap();
//! let server_db = postgres.create_database("go_server").unwrap();
//! GoNotarySigner::prepare_postgres(&signer_db).unwrap();
//! GoNotaryServer::prepare_postgres(&server_db).unwrap();
//! let signer = GoNotarySigner::start(&GoStorage::postgres(&signer_db), "alias1", "secret").unwrap();
//! let server = GoNotaryServer::start_remote(&GoStorage::postgres(&server_db), &signer).unwrap();
//! # drop(server);
//! ```

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rcgen::{
    CertificateParams, DnType, ExtendedKeyUsagePurpose, KeyPair, KeyUsagePurpose,
    PKCS_ECDSA_P256_SHA256, SanType,
};
use tempfile::TempDir;

use crate::error::{HarnessError, Result};
use crate::mysql::TempMySqlDatabase;
use crate::ports::free_port;
use crate::postgres::TempDatabase;
use crate::process::{DEFAULT_STARTUP_TIMEOUT, ServerCommand, ServerProcess};
use crate::require::find_tool;

/// notary-signer's Postgres schema.
const POSTGRES_SCHEMA: [(&str, &str); 1] = [(
    "0001_initial.up.sql",
    include_str!("../data/notary-signer-schema/postgresql/0001_initial.up.sql"),
)];

/// notary-signer's MySQL/MariaDB schema, applied in order.
const MYSQL_SCHEMA: [(&str, &str); 2] = [
    (
        "0001_initial.up.sql",
        include_str!("../data/notary-signer-schema/mysql/0001_initial.up.sql"),
    ),
    (
        "0002_gun_role_on_keys.up.sql",
        include_str!("../data/notary-signer-schema/mysql/0002_gun_role_on_keys.up.sql"),
    ),
];

/// Start attempts, in case another process takes the picked port first.
const START_ATTEMPTS: usize = 3;

/// The `storage` section of a Go notary-server or notary-signer configuration: a backend and
/// the Go driver's connection string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoStorage {
    backend: &'static str,
    db_url: String,
}

impl GoStorage {
    /// Postgres (`"backend": "postgres"`) with the database's `postgres://` URL.
    pub fn postgres(database: &TempDatabase) -> Self {
        Self::postgres_url(database.url())
    }

    /// Postgres with any `postgres://…?sslmode=…` URL.
    pub fn postgres_url(url: String) -> Self {
        Self {
            backend: "postgres",
            db_url: url,
        }
    }

    /// MySQL/MariaDB (`"backend": "mysql"`) with the database's Go DSN
    /// (`user:pw@tcp(host:port)/db?parseTime=True`).
    pub fn mysql(database: &TempMySqlDatabase) -> Self {
        Self {
            backend: "mysql",
            db_url: database.go_dsn(),
        }
    }

    /// `"backend"`: `postgres` or `mysql`.
    pub fn backend(&self) -> &str {
        self.backend
    }

    /// `"db_url"`, the Go connection string.
    pub fn db_url(&self) -> &str {
        &self.db_url
    }

    /// The JSON members `"backend": …, "db_url": …` (without braces).
    pub(crate) fn json_members(&self) -> String {
        format!(
            r#""backend": {}, "db_url": {}"#,
            json_string(self.backend),
            json_string(&self.db_url)
        )
    }
}

/// The PEM files of a mutual-TLS setup between notary-server (client) and notary-signer
/// (server): one CA issuing both certificates.
#[derive(Debug, Clone)]
pub struct SignerTls {
    /// The CA both sides trust (`ca.crt`).
    pub ca_cert: PathBuf,
    /// notary-signer's certificate (`signer.crt`, SAN IP 127.0.0.1, server auth).
    pub signer_cert: PathBuf,
    /// notary-signer's private key (`signer.key`).
    pub signer_key: PathBuf,
    /// notary-server's client certificate (`server-client.crt`, client auth).
    pub client_cert: PathBuf,
    /// notary-server's client private key (`server-client.key`).
    pub client_key: PathBuf,
}

impl SignerTls {
    /// Generates an ECDSA P-256 CA, a server certificate for `127.0.0.1` and a client
    /// certificate, and writes them into `dir`.
    pub fn generate(dir: &Path) -> Result<Self> {
        let fail = crate::tls::tls_error;
        let ca = crate::tls::test_ca("signet e2e notary-signer CA")?;

        let issue = |name: &str, usage: ExtendedKeyUsagePurpose, san: Option<SanType>| {
            let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)
                .map_err(|e| fail("generate a leaf key", e))?;
            let mut params = CertificateParams::new(Vec::<String>::new())
                .map_err(|e| fail("leaf parameters", e))?;
            params.distinguished_name.push(DnType::CommonName, name);
            params.subject_alt_names = san.into_iter().collect();
            params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            params.extended_key_usages = vec![usage];
            let cert = params
                .signed_by(&key, &ca)
                .map_err(|e| fail("issue a leaf certificate", e))?;
            Ok::<_, HarnessError>((cert.pem(), key.serialize_pem()))
        };
        let (signer_cert, signer_key) = issue(
            "notary-signer",
            ExtendedKeyUsagePurpose::ServerAuth,
            Some(SanType::IpAddress([127, 0, 0, 1].into())),
        )?;
        let (client_cert, client_key) =
            issue("notary-server", ExtendedKeyUsagePurpose::ClientAuth, None)?;

        let files = Self {
            ca_cert: dir.join("ca.crt"),
            signer_cert: dir.join("signer.crt"),
            signer_key: dir.join("signer.key"),
            client_cert: dir.join("server-client.crt"),
            client_key: dir.join("server-client.key"),
        };
        write(&files.ca_cert, &ca.pem())?;
        write(&files.signer_cert, &signer_cert)?;
        write(&files.signer_key, &signer_key)?;
        write(&files.client_cert, &client_cert)?;
        write(&files.client_key, &client_key)?;
        Ok(files)
    }
}

/// A running Go `notary-signer`: gRPC over mutual TLS on a free loopback port, keys in a SQL
/// database, encrypted under one passphrase alias. Dropping it kills the process (the database
/// is the caller's).
#[derive(Debug)]
pub struct GoNotarySigner {
    // Field order is drop order: the process goes before its configuration and certificates.
    process: ServerProcess,
    grpc_port: u16,
    tls: SignerTls,
    alias: String,
    dir: TempDir,
}

impl GoNotarySigner {
    /// Applies notary-signer's Postgres schema to an empty database.
    pub fn prepare_postgres(database: &TempDatabase) -> Result<()> {
        for (file, sql) in POSTGRES_SCHEMA {
            database
                .execute(sql)
                .map_err(|error| in_file(error, file))?;
        }
        Ok(())
    }

    /// Applies notary-signer's MySQL/MariaDB schema to an empty database.
    pub fn prepare_mysql(database: &TempMySqlDatabase) -> Result<()> {
        for (file, sql) in MYSQL_SCHEMA {
            database
                .execute(sql)
                .map_err(|error| in_file(error, file))?;
        }
        Ok(())
    }

    /// Starts notary-signer on `storage` with `alias` as its `default_alias` and `passphrase`
    /// in `NOTARY_SIGNER_<ALIAS>`, with fresh mutual-TLS certificates, and waits until it
    /// accepts connections.
    pub fn start(storage: &GoStorage, alias: &str, passphrase: &str) -> Result<Self> {
        let binary = find_tool("notary-signer").ok_or_else(|| HarnessError::ToolMissing {
            tool: "notary-signer".to_owned(),
        })?;
        let dir = tempfile::Builder::new()
            .prefix("signet-e2e-notary-signer-")
            .tempdir()
            .map_err(|e| HarnessError::io("create notary-signer config directory", e))?;
        let tls = SignerTls::generate(dir.path())?;
        let config = dir.path().join("signer.json");
        let mut attempt = 1;
        loop {
            let grpc_port = free_port()?;
            let json = format!(
                r#"{{
  "server": {{"grpc_addr": "127.0.0.1:{grpc_port}", "tls_cert_file": {cert},
              "tls_key_file": {key}, "client_ca_file": {ca}}},
  "storage": {{{storage}, "default_alias": {alias}}},
  "logging": {{"level": "info"}}
}}
"#,
                cert = json_path(&tls.signer_cert),
                key = json_path(&tls.signer_key),
                ca = json_path(&tls.ca_cert),
                storage = storage.json_members(),
                alias = json_string(alias),
            );
            std::fs::write(&config, json)
                .map_err(|e| HarnessError::io(format!("write {}", config.display()), e))?;
            let mut process = ServerCommand::new(&binary)
                .name("notary-signer")
                .arg("-config")
                .arg(&config)
                .env(passphrase_variable(alias), passphrase)
                .start()?;
            match wait_listening(&mut process, grpc_port, DEFAULT_STARTUP_TIMEOUT) {
                Ok(()) => {
                    return Ok(Self {
                        process,
                        grpc_port,
                        tls,
                        alias: alias.to_owned(),
                        dir,
                    });
                }
                Err(HarnessError::ServerExited { .. }) if attempt < START_ATTEMPTS => {
                    attempt += 1;
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// The gRPC port on 127.0.0.1.
    pub fn grpc_port(&self) -> u16 {
        self.grpc_port
    }

    /// The certificates: notary-server needs `ca_cert`, `client_cert` and `client_key`.
    pub fn tls(&self) -> &SignerTls {
        &self.tls
    }

    /// The passphrase alias new keys are encrypted under.
    pub fn alias(&self) -> &str {
        &self.alias
    }

    /// The configuration directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The process (logs, liveness).
    pub fn process(&self) -> &ServerProcess {
        &self.process
    }
}

/// The environment variable notary-signer reads the passphrase of `alias` from:
/// `NOTARY_SIGNER_<ALIAS in upper case>`.
pub fn passphrase_variable(alias: &str) -> String {
    format!("NOTARY_SIGNER_{}", alias.to_ascii_uppercase())
}

/// Polls the gRPC port until it accepts a TCP connection, failing if the process exits or
/// `timeout` passes. notary-server dials the signer once at start and backs off after a refusal,
/// so it must only start once this returns.
fn wait_listening(process: &mut ServerProcess, port: u16, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    loop {
        if !process.is_running() {
            return Err(HarnessError::ServerExited {
                name: process.name().to_owned(),
                status: "exited".to_owned(),
                log: process.logs(),
            });
        }
        if TcpStream::connect_timeout(&address, Duration::from_millis(500)).is_ok() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(HarnessError::ServerTimeout {
                name: process.name().to_owned(),
                health_url: format!("tcp://{address}"),
                timeout,
                log: process.logs(),
            });
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn in_file(error: HarnessError, file: &str) -> HarnessError {
    match error {
        HarnessError::Postgres { database, stderr } => HarnessError::Postgres {
            database,
            stderr: format!("applying {file}: {stderr}"),
        },
        HarnessError::MySql { database, stderr } => HarnessError::MySql {
            database,
            stderr: format!("applying {file}: {stderr}"),
        },
        other => other,
    }
}

/// A JSON string literal.
pub(crate) fn json_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A path as a JSON string literal.
pub(crate) fn json_path(path: &Path) -> String {
    json_string(&path.to_string_lossy())
}

fn write(path: &Path, contents: &str) -> Result<()> {
    std::fs::write(path, contents)
        .map_err(|e| HarnessError::io(format!("write {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(json_string(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(json_string("tab\t"), r#""tab\u0009""#);
    }

    #[test]
    fn passphrase_variable_is_upper_case() {
        assert_eq!(passphrase_variable("alias1"), "NOTARY_SIGNER_ALIAS1");
    }

    #[test]
    fn generates_the_mutual_tls_files() {
        let dir = tempfile::tempdir().unwrap();
        let tls = SignerTls::generate(dir.path()).unwrap();
        for path in [&tls.ca_cert, &tls.signer_cert, &tls.client_cert] {
            let pem = std::fs::read_to_string(path).unwrap();
            assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
        }
        for path in [&tls.signer_key, &tls.client_key] {
            let pem = std::fs::read_to_string(path).unwrap();
            assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "{pem}");
        }
    }
}
