//! Throw-away databases on a MySQL/MariaDB server, managed through the `mysql` client.
//!
//! The server is named by `SIGNET_TEST_MYSQL_URL` (default
//! `mysql://signet:signet@127.0.0.1:3306`): a TCP user allowed to create and drop databases.

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::command::run_command;
use crate::error::{HarnessError, Result};

/// Time limit for one `mysql` invocation.
const MYSQL_TIMEOUT: Duration = Duration::from_secs(60);

/// The server used when `SIGNET_TEST_MYSQL_URL` is not set.
pub const DEFAULT_MYSQL_URL: &str = "mysql://signet:signet@127.0.0.1:3306";

/// A MySQL/MariaDB server reachable over TCP with the `mysql` client.
#[derive(Debug, Clone)]
pub struct MySql {
    client: PathBuf,
    host: String,
    port: u16,
    user: String,
    password: String,
}

impl MySql {
    /// Parses `mysql://user[:password]@host[:port][/…]` (no percent-encoding) and uses `client`
    /// (the `mysql` program) to reach it. A database path in the URL is ignored.
    pub fn from_url(client: PathBuf, url: &str) -> Result<Self> {
        let bad = |reason: &str| HarnessError::MySql {
            database: String::new(),
            stderr: format!(
                "SIGNET_TEST_MYSQL_URL is not a mysql://user:password@host:port URL: {reason}"
            ),
        };
        let rest = url
            .strip_prefix("mysql://")
            .ok_or_else(|| bad("no mysql:// scheme"))?;
        let authority = rest.split('/').next().unwrap_or_default();
        let (credentials, address) = authority
            .rsplit_once('@')
            .ok_or_else(|| bad("no user@ part"))?;
        let (user, password) = credentials.split_once(':').unwrap_or((credentials, ""));
        let (host, port) = match address.rsplit_once(':') {
            Some((host, port)) => (
                host,
                port.parse::<u16>()
                    .map_err(|_| bad("the port is not a number"))?,
            ),
            None => (address, 3306),
        };
        if user.is_empty() || host.is_empty() {
            return Err(bad("empty user or host"));
        }
        Ok(Self {
            client,
            host: host.to_owned(),
            port,
            user: user.to_owned(),
            password: password.to_owned(),
        })
    }

    /// The server of `SIGNET_TEST_MYSQL_URL` (or [`DEFAULT_MYSQL_URL`]).
    pub fn from_env(client: PathBuf) -> Result<Self> {
        let url = std::env::var("SIGNET_TEST_MYSQL_URL")
            .ok()
            .filter(|url| !url.is_empty())
            .unwrap_or_else(|| DEFAULT_MYSQL_URL.to_owned());
        Self::from_url(client, &url)
    }

    /// `host:port`, for messages.
    pub fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// The user name.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// A sqlx URL for `database`: `mysql://user:password@host:port/database`.
    pub fn url(&self, database: &str) -> String {
        format!(
            "mysql://{}:{}@{}:{}/{database}",
            self.user, self.password, self.host, self.port
        )
    }

    /// A Go MySQL DSN for `database`, as notary-server and notary-signer read it:
    /// `user:password@tcp(host:port)/database?parseTime=True`.
    pub fn go_dsn(&self, database: &str) -> String {
        format!(
            "{}:{}@tcp({}:{})/{database}?parseTime=True",
            self.user, self.password, self.host, self.port
        )
    }

    /// Checks that the server answers a trivial query.
    pub fn ping(&self) -> Result<()> {
        let answer = self.execute(None, "SELECT 1")?;
        if answer.trim() == "1" {
            Ok(())
        } else {
            Err(HarnessError::MySql {
                database: String::new(),
                stderr: format!("SELECT 1 answered {answer:?}"),
            })
        }
    }

    /// Runs SQL (one or more statements, stopping at the first error) in `database` (or none)
    /// and returns the client's batch output: one row per line, columns separated by tabs, no
    /// header.
    pub fn execute(&self, database: Option<&str>, sql: &str) -> Result<String> {
        let mut command = Command::new(&self.client);
        command
            .args(["--protocol=TCP", "--batch", "--skip-column-names", "--raw"])
            .args(["--connect-timeout=5", "--default-character-set=utf8mb4"])
            .args(["--host", &self.host, "--port", &self.port.to_string()])
            .args(["--user", &self.user])
            .env("MYSQL_PWD", &self.password);
        if let Some(database) = database {
            command.arg(database);
        }
        let output = run_command(&mut command, Some(sql.as_bytes()), MYSQL_TIMEOUT)?;
        if output.success() {
            Ok(output.stdout)
        } else {
            Err(HarnessError::MySql {
                database: database.unwrap_or_default().to_owned(),
                stderr: output.stderr,
            })
        }
    }

    /// Creates an empty database named `<prefix>_<unique suffix>`, dropped when the returned
    /// value is dropped. `prefix` must be a lower-case SQL identifier.
    pub fn create_database(&self, prefix: &str) -> Result<TempMySqlDatabase> {
        let name = format!("{prefix}_{}", crate::postgres::unique_suffix());
        self.execute(None, &format!("CREATE DATABASE `{name}`"))?;
        Ok(TempMySqlDatabase {
            mysql: self.clone(),
            name,
        })
    }
}

/// A MySQL/MariaDB database that is dropped when this value drops.
#[derive(Debug)]
pub struct TempMySqlDatabase {
    mysql: MySql,
    name: String,
}

impl TempMySqlDatabase {
    /// The database name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A sqlx URL for this database (`mysql://…`).
    pub fn url(&self) -> String {
        self.mysql.url(&self.name)
    }

    /// A Go MySQL DSN for this database (`user:password@tcp(host:port)/db?parseTime=True`).
    pub fn go_dsn(&self) -> String {
        self.mysql.go_dsn(&self.name)
    }

    /// The server holding it.
    pub fn mysql(&self) -> &MySql {
        &self.mysql
    }

    /// Runs SQL in this database; see [`MySql::execute`].
    pub fn execute(&self, sql: &str) -> Result<String> {
        self.mysql.execute(Some(&self.name), sql)
    }
}

impl Drop for TempMySqlDatabase {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS `{}`", self.name);
        if let Err(error) = self.mysql.execute(None, &sql) {
            let _ = writeln!(
                std::io::stderr(),
                "warning: could not drop test database {}: {error}",
                self.name
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_default_url() {
        let mysql = MySql::from_url(PathBuf::from("mysql"), DEFAULT_MYSQL_URL).unwrap();
        assert_eq!(mysql.address(), "127.0.0.1:3306");
        assert_eq!(mysql.user(), "signet");
        assert_eq!(mysql.url("db1"), "mysql://signet:signet@127.0.0.1:3306/db1");
        assert_eq!(
            mysql.go_dsn("db1"),
            "signet:signet@tcp(127.0.0.1:3306)/db1?parseTime=True"
        );
    }

    #[test]
    fn port_defaults_and_path_is_ignored() {
        let mysql = MySql::from_url(PathBuf::from("mysql"), "mysql://root@db.internal/x").unwrap();
        assert_eq!(mysql.address(), "db.internal:3306");
        assert_eq!(mysql.url("y"), "mysql://root:@db.internal:3306/y");
    }

    #[test]
    fn rejects_other_schemes_and_missing_users() {
        assert!(MySql::from_url(PathBuf::from("mysql"), "postgres://u@h/db").is_err());
        assert!(MySql::from_url(PathBuf::from("mysql"), "mysql://h:3306").is_err());
    }
}
