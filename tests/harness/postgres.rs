//! Throw-away databases in the local Postgres cluster, managed through `psql`.

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::command::run_command;
use crate::error::{HarnessError, Result};

/// Time limit for one `psql` invocation.
const PSQL_TIMEOUT: Duration = Duration::from_secs(60);

/// Database that always exists in the test cluster; used for administrative statements.
const MAINTENANCE_DB: &str = "test";

/// A Postgres cluster reachable with `psql` (no password: the test cluster uses trust auth).
#[derive(Debug, Clone)]
pub struct Postgres {
    psql: PathBuf,
    host: String,
    port: u16,
    user: String,
}

impl Postgres {
    /// The local test cluster: 127.0.0.1:5432, user `postgres`.
    pub fn local(psql: PathBuf) -> Self {
        Self {
            psql,
            host: "127.0.0.1".to_owned(),
            port: 5432,
            user: "postgres".to_owned(),
        }
    }

    /// The host name or address.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The user name.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// A `postgres://` URL for `database` (TLS off), as notary-server and sqlx accept it.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://{}@{}:{}/{database}?sslmode=disable",
            self.user, self.host, self.port
        )
    }

    /// Checks that the cluster answers a trivial query.
    pub fn ping(&self) -> Result<()> {
        let answer = self.execute(MAINTENANCE_DB, "SELECT 1")?;
        if answer.trim() == "1" {
            Ok(())
        } else {
            Err(HarnessError::Postgres {
                database: MAINTENANCE_DB.to_owned(),
                stderr: format!("SELECT 1 answered {answer:?}"),
            })
        }
    }

    /// Runs SQL (one or more statements, stopping at the first error) in `database` and returns
    /// psql's unaligned, tuples-only output: one row per line, columns separated by `|`.
    pub fn execute(&self, database: &str, sql: &str) -> Result<String> {
        let mut command = Command::new(&self.psql);
        command
            .args(["--no-psqlrc", "--quiet", "--tuples-only", "--no-align"])
            .args(["--set", "ON_ERROR_STOP=1"])
            .args(["--host", &self.host, "--port", &self.port.to_string()])
            .args(["--username", &self.user, "--dbname", database])
            .env("PGCONNECT_TIMEOUT", "5")
            .env_remove("PGPASSWORD")
            .env_remove("PGSERVICE");
        let output = run_command(&mut command, Some(sql.as_bytes()), PSQL_TIMEOUT)?;
        if output.success() {
            Ok(output.stdout)
        } else {
            Err(HarnessError::Postgres {
                database: database.to_owned(),
                stderr: output.stderr,
            })
        }
    }

    /// Whether a database of this name exists.
    pub fn database_exists(&self, name: &str) -> Result<bool> {
        let sql = format!(
            "SELECT count(*) FROM pg_database WHERE datname = {}",
            quote_literal(name)
        );
        Ok(self.execute(MAINTENANCE_DB, &sql)?.trim() == "1")
    }

    /// Creates an empty database named `<prefix>_<unique suffix>`, dropped when the returned
    /// value is dropped. `prefix` must be a lower-case SQL identifier.
    pub fn create_database(&self, prefix: &str) -> Result<TempDatabase> {
        let name = format!("{prefix}_{}", unique_suffix());
        self.execute(
            MAINTENANCE_DB,
            &format!("CREATE DATABASE {}", quote_ident(&name)),
        )?;
        Ok(TempDatabase {
            postgres: self.clone(),
            name,
        })
    }
}

/// A database that is dropped (disconnecting any remaining sessions) when this value drops.
#[derive(Debug)]
pub struct TempDatabase {
    postgres: Postgres,
    name: String,
}

impl TempDatabase {
    /// The database name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A `postgres://` URL for this database (TLS off).
    pub fn url(&self) -> String {
        self.postgres.url(&self.name)
    }

    /// The cluster holding it.
    pub fn postgres(&self) -> &Postgres {
        &self.postgres
    }

    /// Runs SQL in this database; see [`Postgres::execute`].
    pub fn execute(&self, sql: &str) -> Result<String> {
        self.postgres.execute(&self.name, sql)
    }
}

impl Drop for TempDatabase {
    fn drop(&mut self) {
        let sql = format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            quote_ident(&self.name)
        );
        if let Err(error) = self.postgres.execute(MAINTENANCE_DB, &sql) {
            let _ = writeln!(
                std::io::stderr(),
                "warning: could not drop test database {}: {error}",
                self.name
            );
        }
    }
}

/// Quotes an SQL identifier.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Quotes an SQL string literal.
fn quote_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// A suffix unique across processes and calls: process ID, clock and a counter.
pub(crate) fn unique_suffix() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.subsec_nanos());
    format!(
        "{}_{nanos:09}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_doubles_the_quote_character() {
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_literal("it's"), "'it''s'");
    }

    #[test]
    fn suffixes_are_unique_and_identifier_safe() {
        let a = unique_suffix();
        let b = unique_suffix();
        assert_ne!(a, b);
        assert!(a.chars().all(|c| c.is_ascii_digit() || c == '_'), "{a}");
    }

    #[test]
    fn url_names_the_database() {
        let postgres = Postgres::local(PathBuf::from("psql"));
        assert_eq!(
            postgres.url("db1"),
            "postgres://postgres@127.0.0.1:5432/db1?sslmode=disable"
        );
    }
}
