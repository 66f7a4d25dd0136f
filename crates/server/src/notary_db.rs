//! A Go notary database, notary-signer's or notary-server's, on PostgreSQL or MySQL/MariaDB:
//! the connection that `import-notary-signer`, `export-notary-signer` and
//! `import-notary-server` share, and how times are read from MySQL.
//!
//! The URL is a sqlx URL (`postgres://user:pw@host/db`, `mysql://user:pw@host:3306/db`,
//! `mariadb://…`), not a Go DSN.
//!
//! **Times.** The time columns are `timestamp`/`datetime` without a time zone. The Go services
//! write wall-clock times into them (UTC in the usual container deployments; Go's MySQL driver
//! formats them in UTC by default, `loc=UTC`), and signet takes the values as UTC. A MySQL
//! session of signet keeps the server's own time zone, as the Go driver's session does (sqlx
//! would otherwise switch it to `+00:00`, which shifts every `timestamp` column of a server
//! running in another zone), so it sees the values Go wrote. A `timezone=…` parameter in the
//! URL sets the session time zone explicitly (for a Go DSN that set `time_zone`).

use std::str::FromStr as _;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use crate::error::NotaryDbError;

/// A connection pool on a Go notary database.
#[derive(Clone, Debug)]
pub enum NotaryDb {
    /// PostgreSQL.
    Postgres(PgPool),
    /// MySQL or MariaDB.
    MySql(MySqlPool),
}

/// The SQL expression (a string literal) reading the MySQL time column `$col` as text
/// (`%Y-%m-%d %H:%i:%s.%f`) under its own name: zero dates (`0000-00-00`), which no time type
/// holds, survive as text.
macro_rules! mysql_time_text {
    ($col:literal) => {
        concat!("DATE_FORMAT(", $col, ", '%Y-%m-%d %H:%i:%s.%f') AS ", $col)
    };
}
pub(crate) use mysql_time_text;

/// Whether the query string of `url` sets the MySQL session time zone.
fn sets_timezone(url: &str) -> bool {
    url.split_once('?').is_some_and(|(_, query)| {
        query.split('&').any(|kv| {
            let key = kv.split_once('=').map_or(kv, |(k, _)| k);
            matches!(key, "timezone" | "time-zone")
        })
    })
}

impl NotaryDb {
    /// Connects to `url`: `postgres://…`/`postgresql://…` or `mysql://…`/`mariadb://…`.
    pub async fn connect(url: &str) -> Result<Self, NotaryDbError> {
        let scheme = url.split_once(':').map_or("", |(s, _)| s);
        let connect = |source| NotaryDbError::Connect { source };
        match scheme.to_ascii_lowercase().as_str() {
            "postgres" | "postgresql" => {
                let opts = PgConnectOptions::from_str(url).map_err(connect)?;
                let pool = PgPoolOptions::new()
                    .max_connections(2)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(opts)
                    .await
                    .map_err(connect)?;
                Ok(Self::Postgres(pool))
            }
            "mysql" | "mariadb" => {
                let url = url.replacen(scheme, "mysql", 1);
                let mut opts = MySqlConnectOptions::from_str(&url).map_err(connect)?;
                if !sets_timezone(&url) {
                    opts = opts.timezone(None);
                }
                let pool = MySqlPoolOptions::new()
                    .max_connections(2)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(opts)
                    .await
                    .map_err(connect)?;
                Ok(Self::MySql(pool))
            }
            _ => Err(NotaryDbError::Scheme {
                scheme: scheme.chars().take(32).collect(),
            }),
        }
    }

    /// `postgres` or `mysql`, for reports.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Postgres(_) => "postgres",
            Self::MySql(_) => "mysql",
        }
    }

    /// Closes the pool.
    pub async fn close(&self) {
        match self {
            Self::Postgres(p) => p.close().await,
            Self::MySql(p) => p.close().await,
        }
    }
}

/// A MySQL time read with [`mysql_time_text`], as UTC; `None` for NULL, a zero date or
/// anything else that is no time.
pub(crate) fn parse_mysql_time(text: Option<String>) -> Option<DateTime<Utc>> {
    let text = text?;
    NaiveDateTime::parse_from_str(&text, "%Y-%m-%d %H:%M:%S%.f")
        .ok()
        .map(|t| t.and_utc())
}

/// A MySQL time read with [`mysql_time_text`], as UTC, read as Go reads it (`parseTime=true`):
/// NULL is `None`; a zero date (`0000-00-00 00:00:00`) is Go's zero time,
/// 0001-01-01T00:00:00Z; anything else that is no time is an error.
pub(crate) fn parse_mysql_time_as_go(text: Option<&str>) -> Result<Option<DateTime<Utc>>, String> {
    let Some(text) = text else {
        return Ok(None);
    };
    if text.starts_with("0000-00-00")
        && text
            .bytes()
            .all(|b| matches!(b, b'0' | b'-' | b':' | b'.' | b' '))
    {
        return Ok(Some(go_zero_time()));
    }
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
        .map(|t| Some(t.and_utc()))
        .map_err(|e| format!("the time {text:?} cannot be read: {e}"))
}

/// Go's zero `time.Time`: 0001-01-01T00:00:00Z.
pub(crate) fn go_zero_time() -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(-62_135_596_800, 0).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timezone_parameter_is_noticed() {
        assert!(!sets_timezone("mysql://u:p@h/db"));
        assert!(!sets_timezone("mysql://u:p@h/db?ssl-mode=disabled"));
        assert!(sets_timezone("mysql://u:p@h/db?timezone=%2B00:00"));
        assert!(sets_timezone("mysql://u:p@h/db?a=b&time-zone=SYSTEM"));
    }

    #[test]
    fn mysql_times() {
        assert_eq!(parse_mysql_time_as_go(None), Ok(None));
        assert_eq!(
            parse_mysql_time_as_go(Some("0000-00-00 00:00:00.000000")),
            Ok(Some(go_zero_time()))
        );
        assert_eq!(
            parse_mysql_time_as_go(Some("2026-12-06 18:53:33.000000"))
                .unwrap()
                .unwrap()
                .to_rfc3339(),
            "2026-12-06T18:53:33+00:00"
        );
        assert!(parse_mysql_time_as_go(Some("2026-00-00 00:00:00.000000")).is_err());
        assert_eq!(
            parse_mysql_time(Some("0000-00-00 00:00:00.000000".into())),
            None
        );
        assert_eq!(go_zero_time().to_rfc3339(), "0001-01-01T00:00:00+00:00");
    }
}
