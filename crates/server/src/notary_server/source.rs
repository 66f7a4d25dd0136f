//! A Go notary-server database (PostgreSQL, or MySQL/MariaDB): its `tuf_files` and
//! `changefeed` tables, read in one consistent snapshot.
//!
//! Times are read as UTC, as [`crate::notary_db`] describes. A MySQL zero date
//! (`0000-00-00 00:00:00`, which MySQL accepts outside strict `NO_ZERO_DATE` modes) is read as
//! Go reads it with `parseTime=true`: Go's zero time, 0001-01-01T00:00:00Z. So a zero
//! `deleted_at` still marks the row deleted (Go's `deleted_at IS NULL` filter skips it), and
//! a zero `created_at` is served as Go serves it.

use std::borrow::Cow;

use bytes::Bytes;
use chrono::{DateTime, NaiveDateTime, Utc};
use futures_util::StreamExt as _;
use futures_util::stream::BoxStream;
use sqlx::Row as _;
use sqlx::mysql::MySqlRow;
use sqlx::postgres::PgRow;

use crate::error::{NotaryDbError, NotaryServerError};
use crate::notary_db::{NotaryDb, mysql_time_text, parse_mysql_time_as_go};
use crate::store::CopiedChange;

/// A connection pool on a Go notary-server database.
#[derive(Clone, Debug)]
pub struct ServerDb {
    db: NotaryDb,
}

/// One `tuf_files` row as the Go notary-server stored it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SourceFile {
    /// The row's `id` (not copied: the target assigns its own).
    pub(crate) id: i64,
    pub(crate) gun: String,
    pub(crate) role: String,
    pub(crate) version: i64,
    pub(crate) data: Bytes,
    /// The `sha256` column as stored (padding removed), `None` when NULL.
    pub(crate) sha256: Option<String>,
    pub(crate) created_at: Option<DateTime<Utc>>,
    pub(crate) updated_at: Option<DateTime<Utc>>,
    pub(crate) deleted_at: Option<DateTime<Utc>>,
}

const PG_FILES: &str = "SELECT id, gun, role, version, data, sha256, created_at, updated_at, \
     deleted_at FROM tuf_files ORDER BY id";
const PG_CHANGES: &str =
    "SELECT id, created_at, gun, version, sha256, category FROM changefeed ORDER BY id";

const MYSQL_FILES: &str = concat!(
    "SELECT id, gun, role, version, data, sha256, ",
    mysql_time_text!("created_at"),
    ", ",
    mysql_time_text!("updated_at"),
    ", ",
    mysql_time_text!("deleted_at"),
    " FROM tuf_files ORDER BY id"
);
const MYSQL_CHANGES: &str = concat!(
    "SELECT id, ",
    mysql_time_text!("created_at"),
    ", gun, version, sha256, category FROM changefeed ORDER BY id"
);

fn source_error(context: &'static str) -> impl Fn(sqlx::Error) -> NotaryServerError {
    move |source| NotaryServerError::SourceDatabase {
        context: context.to_owned(),
        source,
    }
}

fn trimmed(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim_end().to_owned())
}

impl ServerDb {
    /// Connects to `url`: `postgres://…`/`postgresql://…` or `mysql://…`/`mariadb://…` (a
    /// sqlx URL, not a Go DSN: `mysql://server:pw@mysql:3306/notaryserver`).
    pub async fn connect(url: &str) -> Result<Self, NotaryServerError> {
        match NotaryDb::connect(url).await {
            Ok(db) => Ok(Self { db }),
            Err(NotaryDbError::Scheme { scheme }) => Err(NotaryServerError::SourceUrl { scheme }),
            Err(NotaryDbError::Connect { source }) => Err(NotaryServerError::SourceDatabase {
                context: "connecting".to_owned(),
                source,
            }),
        }
    }

    /// `postgres` or `mysql`.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        self.db.kind()
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.db.close().await;
    }

    /// Opens a read-only transaction that sees one consistent state of both tables.
    pub(crate) async fn snapshot(&self) -> Result<Snapshot, NotaryServerError> {
        let err = source_error("starting a read-only snapshot");
        match &self.db {
            NotaryDb::Postgres(pool) => Ok(Snapshot::Postgres(
                pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await
                    .map_err(&err)?,
            )),
            NotaryDb::MySql(pool) => {
                let mut conn = pool.acquire().await.map_err(&err)?;
                // A consistent snapshot holds across statements only in REPEATABLE READ.
                sqlx::query("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                    .execute(&mut *conn)
                    .await
                    .map_err(&err)?;
                let tx = sqlx::Transaction::begin(
                    conn,
                    Some(Cow::Borrowed(
                        "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY",
                    )),
                )
                .await
                .map_err(&err)?;
                Ok(Snapshot::MySql(tx))
            }
        }
    }
}

/// A read-only transaction on the notary-server database.
pub(crate) enum Snapshot {
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
    MySql(sqlx::Transaction<'static, sqlx::MySql>),
}

impl Snapshot {
    /// Every `tuf_files` row, soft-deleted ones included, in `id` order, streamed.
    pub(crate) fn files(&mut self) -> BoxStream<'_, Result<SourceFile, NotaryServerError>> {
        let err = source_error("reading tuf_files");
        match self {
            Self::Postgres(tx) => sqlx::query(PG_FILES)
                .fetch(&mut **tx)
                .map(move |row| pg_file(&row.map_err(&err)?).map_err(&err))
                .boxed(),
            Self::MySql(tx) => sqlx::query(MYSQL_FILES)
                .fetch(&mut **tx)
                .map(move |row| mysql_file(&row.map_err(&err)?, &err))
                .boxed(),
        }
    }

    /// Every changefeed record, in `id` order, streamed.
    pub(crate) fn changes(&mut self) -> BoxStream<'_, Result<CopiedChange, NotaryServerError>> {
        let err = source_error("reading changefeed");
        match self {
            Self::Postgres(tx) => sqlx::query(PG_CHANGES)
                .fetch(&mut **tx)
                .map(move |row| pg_change(&row.map_err(&err)?).map_err(&err))
                .boxed(),
            Self::MySql(tx) => sqlx::query(MYSQL_CHANGES)
                .fetch(&mut **tx)
                .map(move |row| mysql_change(&row.map_err(&err)?, &err))
                .boxed(),
        }
    }

    /// Ends the transaction.
    pub(crate) async fn end(self) {
        let ended = match self {
            Self::Postgres(tx) => tx.rollback().await,
            Self::MySql(tx) => tx.rollback().await,
        };
        if let Err(e) = ended {
            tracing::debug!(error = %e, "ending the notary-server snapshot");
        }
    }
}

fn pg_file(row: &PgRow) -> Result<SourceFile, sqlx::Error> {
    let id: i32 = row.try_get("id")?;
    let version: i32 = row.try_get("version")?;
    let data: Vec<u8> = row.try_get("data")?;
    let time = |col: &str| -> Result<Option<DateTime<Utc>>, sqlx::Error> {
        let t: Option<NaiveDateTime> = row.try_get(col)?;
        Ok(t.map(|t| t.and_utc()))
    };
    Ok(SourceFile {
        id: i64::from(id),
        gun: row.try_get("gun")?,
        role: row.try_get("role")?,
        version: i64::from(version),
        data: Bytes::from(data),
        sha256: trimmed(row.try_get("sha256")?),
        created_at: time("created_at")?,
        updated_at: time("updated_at")?,
        deleted_at: time("deleted_at")?,
    })
}

fn pg_change(row: &PgRow) -> Result<CopiedChange, sqlx::Error> {
    let id: i32 = row.try_get("id")?;
    let version: i32 = row.try_get("version")?;
    let created_at: Option<NaiveDateTime> = row.try_get("created_at")?;
    Ok(CopiedChange {
        id: i64::from(id),
        created_at: created_at.map(|t| t.and_utc()),
        gun: row.try_get("gun")?,
        version: i64::from(version),
        sha256: trimmed(row.try_get("sha256")?),
        category: row.try_get("category")?,
    })
}

/// A time column read with [`mysql_time_text`]; a bad value names the row.
fn mysql_time(
    row: &MySqlRow,
    col: &str,
    table: &'static str,
    id: i64,
    gun: &str,
    err: &impl Fn(sqlx::Error) -> NotaryServerError,
) -> Result<Option<DateTime<Utc>>, NotaryServerError> {
    let text: Option<String> = row.try_get(col).map_err(err)?;
    parse_mysql_time_as_go(text.as_deref()).map_err(|reason| NotaryServerError::SourceRow {
        table,
        id,
        gun: gun.to_owned(),
        reason: format!("{col}: {reason}"),
    })
}

fn mysql_file(
    row: &MySqlRow,
    err: &impl Fn(sqlx::Error) -> NotaryServerError,
) -> Result<SourceFile, NotaryServerError> {
    let id: i32 = row.try_get("id").map_err(err)?;
    let id = i64::from(id);
    let gun: String = row.try_get("gun").map_err(err)?;
    let version: i32 = row.try_get("version").map_err(err)?;
    let data: Vec<u8> = row.try_get("data").map_err(err)?;
    let time = |col| mysql_time(row, col, "tuf_files", id, &gun, err);
    Ok(SourceFile {
        id,
        role: row.try_get("role").map_err(err)?,
        version: i64::from(version),
        data: Bytes::from(data),
        sha256: trimmed(row.try_get("sha256").map_err(err)?),
        created_at: time("created_at")?,
        updated_at: time("updated_at")?,
        deleted_at: time("deleted_at")?,
        gun,
    })
}

fn mysql_change(
    row: &MySqlRow,
    err: &impl Fn(sqlx::Error) -> NotaryServerError,
) -> Result<CopiedChange, NotaryServerError> {
    let id: i32 = row.try_get("id").map_err(err)?;
    let id = i64::from(id);
    let gun: String = row.try_get("gun").map_err(err)?;
    let version: i32 = row.try_get("version").map_err(err)?;
    Ok(CopiedChange {
        id,
        created_at: mysql_time(row, "created_at", "changefeed", id, &gun, err)?,
        version: i64::from(version),
        sha256: trimmed(row.try_get("sha256").map_err(err)?),
        category: row.try_get("category").map_err(err)?,
        gun,
    })
}
