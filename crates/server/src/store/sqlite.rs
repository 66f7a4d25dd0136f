//! The SQLite backend: the same tables as PostgreSQL, one writer at a time.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::StreamExt as _;
use futures_util::stream::BoxStream;
use sqlx::Connection as _;
use sqlx::FromRow as _;
use sqlx::Row as _;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
};

use super::checks::hsm_ref;
use super::checks::{self as batch, check_key_names, found_key};
use super::copy_compare::{change_differences, classify, file_differences, file_key};
use super::error::{StorageFault, StoreError, StoreResult};
use super::expiry::{
    EARLIEST, ExpiryPlan, ExpirySummary, PoolStats, SERVER_SNAPSHOT, SNAPSHOT_ROLE, ServerKeyCount,
    superseded, windows,
};
use super::key_trust::{
    KeyRow, Planner, TrustCursor, TrustingRole, backfill_resumes_after, written_files,
};
use super::listing::RepositoryQuery;
use super::types::HsmKeyRef;
use super::types::{
    CATEGORY_DELETION, CATEGORY_UPDATE, Change, ChangeQuery, CopiedChange, CopiedFile, CopyOutcome,
    KeyState, NewServerKey, ResealedKey, ServerKey, StoredFile, StoredRoot, checksum_of,
    is_sha256_hex, stored_sha256, zero_time,
};
use super::{FileUpdate, KeyUse, StoreOptions};

/// Embedded SQLite migrations.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");

const LATEST: &str = "SELECT role, version, sha256, data, created_at FROM tuf_files \
     WHERE gun = ?1 AND role = ?2 AND deleted_at IS NULL ORDER BY version DESC LIMIT 1";

const BY_CHECKSUM: &str = "SELECT role, version, sha256, data, created_at FROM tuf_files \
     WHERE gun = ?1 AND role = ?2 AND sha256 = ?3 AND deleted_at IS NULL LIMIT 1";

const BY_VERSION: &str = "SELECT role, version, sha256, data, created_at FROM tuf_files \
     WHERE gun = ?1 AND role = ?2 AND version = ?3 AND deleted_at IS NULL";

const MAX_VERSION: &str = "SELECT version FROM tuf_files WHERE gun = ?1 AND role = ?2 \
     ORDER BY version DESC LIMIT 1";

const INSERT_FILE: &str = "INSERT INTO tuf_files \
     (created_at, updated_at, gun, role, version, data, sha256) \
     VALUES (?1, ?1, ?2, ?3, ?4, ?5, ?6)";

const INSERT_CHANGE: &str = "INSERT INTO changefeed (created_at, gun, version, sha256, category) \
     VALUES (?1, ?2, ?3, ?4, ?5)";

/// Marks a server-held key that signed an update active and records its use, inside the
/// update's transaction.
const MARK_KEY_USED: &str = "UPDATE signet_server_keys SET state = ?4, last_used = ?5 \
     WHERE gun = ?1 AND role = ?2 AND key_id = ?3";

const CHANGES_AFTER: &str = "SELECT id, created_at, gun, version, sha256, category FROM changefeed \
     WHERE id > ?1 ORDER BY id ASC LIMIT ?2";
const CHANGES_BEFORE: &str = "SELECT id, created_at, gun, version, sha256, category FROM changefeed \
     WHERE id < ?1 ORDER BY id DESC LIMIT ?2";
const GUN_CHANGES_AFTER: &str = "SELECT id, created_at, gun, version, sha256, category \
     FROM changefeed WHERE gun = ?3 AND id > ?1 ORDER BY id ASC LIMIT ?2";
const GUN_CHANGES_BEFORE: &str = "SELECT id, created_at, gun, version, sha256, category \
     FROM changefeed WHERE gun = ?3 AND id < ?1 ORDER BY id DESC LIMIT ?2";

const KEYS_BY_ROLE: &str = "SELECT gun, role, key_id, algorithm, public_key, sealed_private_key, \
     state, created_at, last_used, hsm_object_id, hsm_label FROM signet_server_keys WHERE gun = ?1 AND role = ?2 \
     ORDER BY created_at, key_id";

const KEY_BY_ID: &str = "SELECT gun, role, key_id, algorithm, public_key, sealed_private_key, \
     state, created_at, last_used, hsm_object_id, hsm_label FROM signet_server_keys \
     WHERE gun = ?1 AND role = ?2 AND key_id = ?3";

const ALL_ROOTS: &str =
    "SELECT gun, version, data FROM tuf_files WHERE role = 'root' AND deleted_at IS NULL";

/// One page of repositories ([`RepositoryQuery`]); `only` and the prefixes are JSON arrays.
/// Walks the unique index on (gun, role, version) in GUN order and stops after the page.
const REPOSITORY_PAGE: &str = "SELECT DISTINCT gun FROM tuf_files \
     WHERE deleted_at IS NULL AND gun > ?1 AND (?2 = '' OR instr(gun, ?2) > 0) \
     AND (?3 IS NULL OR gun IN (SELECT value FROM json_each(?3))) \
     AND (?4 = '[]' OR EXISTS (SELECT 1 FROM json_each(?4) AS p \
       WHERE substr(gun, 1, length(p.value)) = p.value)) \
     ORDER BY gun LIMIT ?5";

/// The earliest expiry of the metadata the owners of each of some repositories (a JSON
/// array) sign (server snapshots left out), from the primary key of `signet_metadata_expiry`.
const EARLIEST_OF: &str = "SELECT gun, MIN(expires) AS earliest FROM signet_metadata_expiry \
     WHERE gun IN (SELECT value FROM json_each(?1)) AND kind <> 'server_snapshot' GROUP BY gun";

const ALL_KEYS: &str = "SELECT gun, role, key_id, algorithm, public_key, sealed_private_key, \
     state, created_at, last_used, hsm_object_id, hsm_label FROM signet_server_keys ORDER BY gun, role, created_at, key_id";

const INSERT_KEY_IF_ABSENT: &str = "INSERT INTO signet_server_keys (gun, role, key_id, \
     algorithm, public_key, sealed_private_key, state, created_at, last_used, hsm_object_id, \
     hsm_label) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) ON CONFLICT (gun, role, key_id) DO NOTHING";

const COPY_STORED_FILE: &str = "SELECT gun, role, version, data, sha256, created_at, \
     updated_at, deleted_at FROM tuf_files WHERE gun = ?1 AND role = ?2 AND version = ?3";

const COPY_INSERT_FILE: &str = "INSERT INTO tuf_files \
     (created_at, updated_at, deleted_at, gun, role, version, data, sha256) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";

const COPY_STORED_CHANGE: &str = "SELECT id, created_at, gun, version, sha256, category \
     FROM changefeed WHERE id = ?1";

const COPY_INSERT_CATEGORY: &str = "INSERT OR IGNORE INTO change_category (category) VALUES (?1)";

/// An explicit ID above the AUTOINCREMENT counter moves the counter up with it.
const COPY_INSERT_CHANGE: &str = "INSERT INTO changefeed \
     (id, created_at, gun, version, sha256, category) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

const EXPIRY_ROLES: &str = "SELECT role FROM signet_metadata_expiry WHERE gun = ?1";

const DELETE_EXPIRY_ROLE: &str = "DELETE FROM signet_metadata_expiry WHERE gun = ?1 AND role = ?2";

const DELETE_EXPIRY: &str = "DELETE FROM signet_metadata_expiry WHERE gun = ?1";

const SNAPSHOT_KEY_IDS: &str =
    "SELECT key_id FROM signet_server_keys WHERE gun = ?1 AND role = 'snapshot'";

/// Writes one expiry row, never back to an older version.
const UPSERT_EXPIRY: &str = "INSERT INTO signet_metadata_expiry \
     (gun, role, kind, version, expires) VALUES (?1, ?2, ?3, ?4, ?5) \
     ON CONFLICT (gun, role) DO UPDATE SET kind = excluded.kind, version = excluded.version, \
     expires = excluded.expires WHERE excluded.version >= signet_metadata_expiry.version";

/// The recorded snapshot version of a GUN and its latest stored one.
const EXPIRY_VERSIONS: &str = "SELECT \
     (SELECT version FROM signet_metadata_expiry WHERE gun = ?1 AND role = 'snapshot') AS recorded, \
     (SELECT version FROM tuf_files WHERE gun = ?1 AND role = 'snapshot' AND deleted_at IS NULL \
      ORDER BY version DESC LIMIT 1) AS latest";

const EXPIRY_CURSOR: &str = "SELECT change_id FROM signet_metadata_expiry_cursor WHERE id = 1";

const ADVANCE_EXPIRY_CURSOR: &str =
    "UPDATE signet_metadata_expiry_cursor SET change_id = MAX(change_id, ?1) WHERE id = 1";

const EXPIRY_BACKLOG: &str = "SELECT COALESCE((SELECT MAX(id) FROM changefeed), 0) \
     - COALESCE((SELECT change_id FROM signet_metadata_expiry_cursor WHERE id = 1), 0)";

/// Repositories per kind with a file expired, expiring within 7 days and within 30 days:
/// only the index range of rows expiring within 30 days is read.
const EXPIRY_WINDOWS: &str = "SELECT kind, \
     COUNT(DISTINCT CASE WHEN expires < ?1 THEN gun END) AS expired, \
     COUNT(DISTINCT CASE WHEN expires >= ?1 AND expires <= ?2 THEN gun END) AS within_7d, \
     COUNT(DISTINCT CASE WHEN expires >= ?1 THEN gun END) AS within_30d \
     FROM signet_metadata_expiry \
     WHERE kind IN ('root', 'targets', 'delegation', 'snapshot') AND expires <= ?3 \
     GROUP BY kind";

const KEY_COUNTS: &str = "SELECT role, state, hsm_object_id IS NOT NULL AS on_device, \
     length(sealed_private_key) > 0 AS sealed, COUNT(*) AS n \
     FROM signet_server_keys GROUP BY 1, 2, 3, 4";

/// The latest stored file of a role, for the key index.
const LATEST_DATA: &str = "SELECT data FROM tuf_files \
     WHERE gun = ?1 AND role = ?2 AND deleted_at IS NULL ORDER BY version DESC LIMIT 1";

const KEY_TRUST_ROWS: &str =
    "SELECT role, key_id, listed_key_id, source FROM signet_key_trust WHERE gun = ?1";

const DELETE_KEY_TRUST_ROW: &str =
    "DELETE FROM signet_key_trust WHERE gun = ?1 AND role = ?2 AND key_id = ?3";

const INSERT_KEY_TRUST_ROW: &str = "INSERT INTO signet_key_trust \
     (gun, role, key_id, listed_key_id, source) VALUES (?1, ?2, ?3, ?4, ?5) \
     ON CONFLICT (gun, role, key_id) DO NOTHING";

const DELETE_KEY_TRUST: &str = "DELETE FROM signet_key_trust WHERE gun = ?1";

/// One page of the roles trusting a key: a range of `signet_key_trust_key_id_idx`.
const TRUSTED_BY: &str = "SELECT gun, role, listed_key_id FROM signet_key_trust \
     WHERE key_id = ?1 AND (gun, role) > (?2, ?3) ORDER BY gun, role LIMIT ?4";

const BACKFILL_STATE: &str = "SELECT done, last_gun FROM signet_key_trust_backfill WHERE id = 1";

/// The next GUNs of the backfill, from the unique index of `tuf_files`.
const BACKFILL_GUNS: &str =
    "SELECT DISTINCT gun FROM tuf_files WHERE gun > ?1 ORDER BY gun LIMIT ?2";

const BACKFILL_ADVANCE: &str = "UPDATE signet_key_trust_backfill SET last_gun = ?1 WHERE id = 1";

const BACKFILL_DONE: &str = "UPDATE signet_key_trust_backfill SET done = 1 WHERE id = 1";

const BACKFILL_RESTART: &str =
    "UPDATE signet_key_trust_backfill SET done = 0, last_gun = '' WHERE id = 1";

/// Runs a key index plan of `gun` inside a write transaction: reads the stored files it asks
/// for, then deletes and inserts its rows.
async fn index_keys(
    conn: &mut sqlx::SqliteConnection,
    gun: &str,
    mut plan: Planner,
) -> Result<(), sqlx::Error> {
    while let Some(source) = plan.missing() {
        let data: Option<Vec<u8>> = sqlx::query_scalar(LATEST_DATA)
            .bind(gun)
            .bind(&source)
            .fetch_optional(&mut *conn)
            .await?;
        plan.add_file(&source, data.as_deref());
    }
    let (delete, insert) = plan.changes();
    for r in &delete {
        sqlx::query(DELETE_KEY_TRUST_ROW)
            .bind(gun)
            .bind(&r.role)
            .bind(&r.key_id)
            .execute(&mut *conn)
            .await?;
    }
    for r in &insert {
        sqlx::query(INSERT_KEY_TRUST_ROW)
            .bind(gun)
            .bind(&r.role)
            .bind(&r.key_id)
            .bind(&r.listed_key_id)
            .bind(&r.source)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// The key index rows of `gun`.
async fn key_rows(
    conn: &mut sqlx::SqliteConnection,
    gun: &str,
) -> Result<Vec<KeyRow>, sqlx::Error> {
    let rows = sqlx::query(KEY_TRUST_ROWS)
        .bind(gun)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(KeyRow::from_row).collect()
}

/// Applies an expiry plan of `gun` inside a write transaction.
async fn apply_expiry(
    conn: &mut sqlx::SqliteConnection,
    gun: &str,
    plan: &ExpiryPlan,
) -> Result<(), sqlx::Error> {
    if plan.is_empty() {
        return Ok(());
    }
    if plan.current_roles.is_some() {
        let stored: Vec<String> = sqlx::query_scalar(EXPIRY_ROLES)
            .bind(gun)
            .fetch_all(&mut *conn)
            .await?;
        for role in plan.stale(&stored) {
            sqlx::query(DELETE_EXPIRY_ROLE)
                .bind(gun)
                .bind(role)
                .execute(&mut *conn)
                .await?;
        }
    }
    let has_snapshot = plan.rows.iter().any(|r| r.role == SNAPSHOT_ROLE);
    let server_signed = if has_snapshot && !plan.snapshot_signers.is_empty() {
        let keys: Vec<String> = sqlx::query_scalar(SNAPSHOT_KEY_IDS)
            .bind(gun)
            .fetch_all(&mut *conn)
            .await?;
        plan.server_signed(keys.iter().map(String::as_str))
    } else {
        false
    };
    for row in &plan.rows {
        let kind = if row.role == SNAPSHOT_ROLE && server_signed {
            SERVER_SNAPSHOT
        } else {
            row.kind
        };
        sqlx::query(UPSERT_EXPIRY)
            .bind(gun)
            .bind(&row.role)
            .bind(kind)
            .bind(row.version)
            .bind(row.expires)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// A metadata store on SQLite. Writes go through a single connection and take the database
/// write lock when they begin (`BEGIN IMMEDIATE`), so concurrent uploads queue up instead of
/// failing part-way.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    reader: SqlitePool,
    writer: SqlitePool,
    /// Set when an update or delete failed on the storage (full, read-only, I/O), cleared when
    /// one commits: while set, the write probe commits a real write to find out whether the
    /// storage took writes again.
    write_fault: Arc<AtomicBool>,
    /// The database file (none in memory), to tell a read-only file system from other I/O
    /// errors.
    path: Option<Arc<std::path::Path>>,
}

impl SqliteStore {
    /// Lazily connecting pools for `url` (`sqlite://path?mode=rwc`, `sqlite::memory:`).
    pub(crate) fn open(url: &str, opts: &StoreOptions) -> StoreResult<Self> {
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let mut connect =
            SqliteConnectOptions::from_str(url).map_err(|source| StoreError::Config { source })?;
        if in_memory {
            // One connection holds the whole database: never let the pool close it.
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .acquire_timeout(opts.acquire_timeout)
                .connect_lazy_with(connect);
            return Ok(Self {
                reader: pool.clone(),
                writer: pool,
                write_fault: Arc::default(),
                path: None,
            });
        }
        let path = Some(Arc::from(connect.get_filename()));
        connect = connect
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(opts.acquire_timeout);
        let write_fault: Arc<AtomicBool> = Arc::default();
        let faulted = Arc::clone(&write_fault);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(opts.acquire_timeout)
            .test_before_acquire(false)
            // A connection that comes back inside a transaction (a write cut short) is closed,
            // which rolls the transaction back, instead of being handed to the next writer.
            // So is every connection while the storage refuses writes: SQLite opens a file it
            // cannot write read-only and keeps it so, and the next write must open the files
            // again to see whether they take writes.
            .after_release(move |conn, _| {
                let keep = !conn.is_in_transaction() && !faulted.load(Ordering::Relaxed);
                Box::pin(async move { Ok(keep) })
            })
            .connect_lazy_with(connect.clone());
        let reader = SqlitePoolOptions::new()
            .max_connections(opts.max_connections)
            .acquire_timeout(opts.acquire_timeout)
            .test_before_acquire(false)
            .connect_lazy_with(connect);
        Ok(Self {
            reader,
            writer,
            write_fault,
            path,
        })
    }

    /// Notes a failed write: a storage fault makes the write probe test the storage for real
    /// until a write commits again.
    ///
    /// SQLite reports a write refused by a file system that turned read-only under it as an
    /// I/O error; such an error is reported as [`StorageFault::ReadOnly`] when the database file
    /// cannot be opened for writing because its file system is read-only.
    fn write_failed(&self, err: StoreError) -> StoreError {
        if err.storage_fault().is_none() {
            return err;
        }
        self.write_fault.store(true, Ordering::Relaxed);
        match err {
            StoreError::Storage {
                context,
                fault: StorageFault::Io,
                source,
            } if self.on_read_only_file_system() => StoreError::Storage {
                context,
                fault: StorageFault::ReadOnly,
                source,
            },
            err => err,
        }
    }

    /// Whether the database file is on a read-only file system. Opening it for appending
    /// writes nothing.
    fn on_read_only_file_system(&self) -> bool {
        self.path.as_deref().is_some_and(|path| {
            std::fs::OpenOptions::new()
                .append(true)
                .open(path)
                .is_err_and(|e| e.kind() == std::io::ErrorKind::ReadOnlyFilesystem)
        })
    }

    /// The embedded migrations.
    pub(crate) fn migrator() -> &'static sqlx::migrate::Migrator {
        &MIGRATOR
    }

    /// Applies pending migrations.
    pub(crate) async fn migrate(&self) -> StoreResult<()> {
        MIGRATOR
            .run(&self.writer)
            .await
            .map_err(StoreError::from_migrate)
    }

    /// The pool used for reads, for callers that need raw access (tests, metrics).
    #[must_use]
    pub fn pool(&self) -> &SqlitePool {
        &self.reader
    }

    pub(crate) async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.reader)
            .await
            .map(|_| ())
            .map_err(|e| StoreError::from_sqlx("ping", e))
    }

    /// Takes the write lock and rolls back. After a write failed on the storage, commits a
    /// real write instead (the header field `user_version` rewritten with its own value), so
    /// that health reports the write path down until the storage takes writes again.
    pub(crate) async fn write_probe(&self) -> StoreResult<()> {
        let err = |e| self.write_failed(StoreError::from_sqlx("write probe", e));
        let mut tx = self
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(err)?;
        if !self.write_fault.load(Ordering::Relaxed) {
            return tx.rollback().await.map_err(err);
        }
        let version: i64 = sqlx::query_scalar("PRAGMA user_version")
            .fetch_one(&mut *tx)
            .await
            .map_err(err)?;
        sqlx::query(&format!("PRAGMA user_version = {version}"))
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        tx.commit().await.map_err(err)?;
        self.write_fault.store(false, Ordering::Relaxed);
        Ok(())
    }

    pub(crate) async fn update_many(
        &self,
        gun: &str,
        updates: &[FileUpdate],
        used: &[KeyUse],
    ) -> StoreResult<()> {
        let batch = batch::prepare(gun, updates)?;
        if batch.rows.is_empty() {
            return Ok(());
        }
        let expiry = ExpiryPlan::of_files(batch.rows.iter().map(|r| (r.role, r.version, r.data)));
        let err = |e| self.write_failed(StoreError::from_sqlx(format!("update of {gun}"), e));
        let mut tx = self
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(err)?;
        for &role in batch.min_version.keys() {
            let max: Option<i64> = sqlx::query_scalar(MAX_VERSION)
                .bind(gun)
                .bind(role)
                .fetch_optional(&mut *tx)
                .await
                .map_err(err)?;
            batch.check_stored(gun, role, max)?;
        }
        let now = Utc::now();
        for row in &batch.rows {
            let inserted = sqlx::query(INSERT_FILE)
                .bind(now)
                .bind(gun)
                .bind(row.role)
                .bind(row.version)
                .bind(row.data)
                .bind(&row.sha256)
                .execute(&mut *tx)
                .await;
            match inserted {
                Ok(_) => {}
                Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                    return Err(StoreError::OldVersion {
                        gun: gun.to_owned(),
                        role: row.role.to_owned(),
                        version: i64::from(row.version),
                    });
                }
                Err(e) => return Err(err(e)),
            }
            if row.is_timestamp() {
                sqlx::query(INSERT_CHANGE)
                    .bind(now)
                    .bind(gun)
                    .bind(row.version)
                    .bind(&row.sha256)
                    .bind(CATEGORY_UPDATE)
                    .execute(&mut *tx)
                    .await
                    .map_err(err)?;
            }
        }
        apply_expiry(&mut tx, gun, &expiry).await.map_err(err)?;
        let written = written_files(batch.rows.iter().map(|r| (r.role, r.version, r.data)));
        if !written.is_empty() {
            let stored = key_rows(&mut tx, gun).await.map_err(err)?;
            index_keys(&mut tx, gun, Planner::update(stored, written))
                .await
                .map_err(err)?;
        }
        for u in used {
            sqlx::query(MARK_KEY_USED)
                .bind(gun)
                .bind(&u.role)
                .bind(&u.key_id)
                .bind(KeyState::Active.as_str())
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(err)?;
        }
        tx.commit().await.map_err(err)?;
        self.write_fault.store(false, Ordering::Relaxed);
        Ok(())
    }

    async fn fetch_file<'q>(
        &self,
        query: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
        gun: &str,
        what: impl FnOnce() -> String,
    ) -> StoreResult<Option<StoredFile>> {
        let row = query
            .fetch_optional(&self.reader)
            .await
            .map_err(|e| StoreError::from_sqlx(what(), e))?;
        row.map(|r| file_from_row(gun, &r)).transpose()
    }

    pub(crate) async fn latest(&self, gun: &str, role: &str) -> StoreResult<Option<StoredFile>> {
        let q = sqlx::query(LATEST).bind(gun).bind(role);
        self.fetch_file(q, gun, || format!("read of {gun} {role}"))
            .await
    }

    pub(crate) async fn by_checksum(
        &self,
        gun: &str,
        role: &str,
        sha256_hex: &str,
    ) -> StoreResult<Option<StoredFile>> {
        if !is_sha256_hex(sha256_hex) {
            return Ok(None);
        }
        let q = sqlx::query(BY_CHECKSUM)
            .bind(gun)
            .bind(role)
            .bind(sha256_hex);
        self.fetch_file(q, gun, || format!("read of {gun} {role}.{sha256_hex}"))
            .await
    }

    pub(crate) async fn by_version(
        &self,
        gun: &str,
        role: &str,
        version: i64,
    ) -> StoreResult<Option<StoredFile>> {
        let q = sqlx::query(BY_VERSION).bind(gun).bind(role).bind(version);
        self.fetch_file(q, gun, || format!("read of {gun} {version}.{role}"))
            .await
    }

    pub(crate) async fn delete(&self, gun: &str) -> StoreResult<bool> {
        let err = |e| self.write_failed(StoreError::from_sqlx(format!("delete of {gun}"), e));
        let mut tx = self
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(err)?;
        let deleted = sqlx::query("DELETE FROM tuf_files WHERE gun = ?1")
            .bind(gun)
            .execute(&mut *tx)
            .await
            .map_err(err)?
            .rows_affected();
        sqlx::query(DELETE_EXPIRY)
            .bind(gun)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        sqlx::query(DELETE_KEY_TRUST)
            .bind(gun)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        if deleted > 0 {
            sqlx::query(INSERT_CHANGE)
                .bind(Utc::now())
                .bind(gun)
                .bind(0_i64)
                .bind("")
                .bind(CATEGORY_DELETION)
                .execute(&mut *tx)
                .await
                .map_err(err)?;
        }
        tx.commit().await.map_err(err)?;
        self.write_fault.store(false, Ordering::Relaxed);
        Ok(deleted > 0)
    }

    pub(crate) async fn changes(
        &self,
        gun: Option<&str>,
        change_id: i64,
        records: i64,
    ) -> StoreResult<Vec<Change>> {
        let q = ChangeQuery::new(change_id, records);
        let sql = match (gun.is_some(), q.reversed) {
            (false, false) => CHANGES_AFTER,
            (false, true) => CHANGES_BEFORE,
            (true, false) => GUN_CHANGES_AFTER,
            (true, true) => GUN_CHANGES_BEFORE,
        };
        let ctx = || format!("changefeed read of {}", gun.unwrap_or("all GUNs"));
        let query = sqlx::query(sql).bind(q.bound).bind(q.limit);
        let query = match gun {
            Some(g) => query.bind(g),
            None => query,
        };
        let rows = query
            .fetch_all(&self.reader)
            .await
            .map_err(|e| StoreError::from_sqlx(ctx(), e))?;
        let mut out = rows
            .iter()
            .map(change_from_row)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| StoreError::from_sqlx(ctx(), e))?;
        if q.reversed {
            out.reverse();
        }
        Ok(out)
    }

    pub(crate) async fn put_server_key(&self, key: &NewServerKey) -> StoreResult<()> {
        check_key_names(&key.gun, &key.role, &key.key_id)?;
        let result = sqlx::query(
            "INSERT INTO signet_server_keys \
             (gun, role, key_id, algorithm, public_key, sealed_private_key, state, created_at, \
             hsm_object_id, hsm_label) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )
        .bind(&key.gun)
        .bind(&key.role)
        .bind(&key.key_id)
        .bind(&key.algorithm)
        .bind(key.public_key.as_ref())
        .bind(key.sealed_private_key.as_ref())
        .bind(key.state.as_str())
        .bind(Utc::now())
        .bind(key.hsm.as_ref().map(|h| i32::from(h.object_id)))
        .bind(key.hsm.as_ref().map(|h| h.label.as_str()))
        .execute(&self.writer)
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                Err(StoreError::KeyExists {
                    gun: key.gun.clone(),
                    role: key.role.clone(),
                    key_id: key.key_id.clone(),
                })
            }
            Err(e) => Err(StoreError::from_sqlx(
                format!("store of {} {} key {}", key.gun, key.role, key.key_id),
                e,
            )),
        }
    }

    pub(crate) async fn server_keys(&self, gun: &str, role: &str) -> StoreResult<Vec<ServerKey>> {
        let rows = sqlx::query(KEYS_BY_ROLE)
            .bind(gun)
            .bind(role)
            .fetch_all(&self.reader)
            .await
            .map_err(|e| StoreError::from_sqlx(format!("read of {gun} {role} keys"), e))?;
        rows.iter().map(key_from_row).collect()
    }

    pub(crate) async fn server_key(
        &self,
        gun: &str,
        role: &str,
        key_id: &str,
    ) -> StoreResult<Option<ServerKey>> {
        let row = sqlx::query(KEY_BY_ID)
            .bind(gun)
            .bind(role)
            .bind(key_id)
            .fetch_optional(&self.reader)
            .await
            .map_err(|e| StoreError::from_sqlx(format!("read of {gun} {role} key {key_id}"), e))?;
        row.as_ref().map(key_from_row).transpose()
    }

    pub(crate) async fn mark_key_state(
        &self,
        gun: &str,
        role: &str,
        key_id: &str,
        state: KeyState,
    ) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE signet_server_keys SET state = ?4 WHERE gun = ?1 AND role = ?2 AND key_id = ?3",
        )
        .bind(gun)
        .bind(role)
        .bind(key_id)
        .bind(state.as_str())
        .execute(&self.writer)
        .await
        .map_err(|e| {
            StoreError::from_sqlx(format!("state change of {gun} {role} key {key_id}"), e)
        })?;
        found_key(done.rows_affected(), gun, role, key_id)
    }

    pub(crate) async fn touch_server_key(
        &self,
        gun: &str,
        role: &str,
        key_id: &str,
    ) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE signet_server_keys SET last_used = ?4 \
             WHERE gun = ?1 AND role = ?2 AND key_id = ?3",
        )
        .bind(gun)
        .bind(role)
        .bind(key_id)
        .bind(Utc::now())
        .execute(&self.writer)
        .await
        .map_err(|e| StoreError::from_sqlx(format!("use of {gun} {role} key {key_id}"), e))?;
        found_key(done.rows_affected(), gun, role, key_id)
    }

    pub(crate) async fn put_key_on_device(
        &self,
        gun: &str,
        role: &str,
        key_id: &str,
        hsm: &HsmKeyRef,
        remove_sealed: bool,
    ) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE signet_server_keys SET hsm_object_id = ?4, hsm_label = ?5, \
             sealed_private_key = CASE WHEN ?6 THEN X'' ELSE sealed_private_key END \
             WHERE gun = ?1 AND role = ?2 AND key_id = ?3",
        )
        .bind(gun)
        .bind(role)
        .bind(key_id)
        .bind(i32::from(hsm.object_id))
        .bind(hsm.label.as_str())
        .bind(remove_sealed)
        .execute(&self.writer)
        .await
        .map_err(|e| {
            StoreError::from_sqlx(
                format!("move of {gun} {role} key {key_id} to the YubiHSM 2"),
                e,
            )
        })?;
        found_key(done.rows_affected(), gun, role, key_id)
    }

    pub(crate) async fn take_key_off_device(
        &self,
        gun: &str,
        role: &str,
        key_id: &str,
    ) -> StoreResult<bool> {
        let ctx = || format!("move of {gun} {role} key {key_id} off the YubiHSM 2");
        let done = sqlx::query(
            "UPDATE signet_server_keys SET hsm_object_id = NULL, hsm_label = NULL \
             WHERE gun = ?1 AND role = ?2 AND key_id = ?3 \
             AND hsm_object_id IS NOT NULL AND length(sealed_private_key) > 0",
        )
        .bind(gun)
        .bind(role)
        .bind(key_id)
        .execute(&self.writer)
        .await
        .map_err(|e| StoreError::from_sqlx(ctx(), e))?;
        if done.rows_affected() > 0 {
            return Ok(true);
        }
        self.server_key(gun, role, key_id)
            .await?
            .map(|_| false)
            .ok_or_else(|| StoreError::KeyNotFound {
                gun: gun.to_owned(),
                role: role.to_owned(),
                key_id: key_id.to_owned(),
            })
    }

    pub(crate) fn roots(&self) -> BoxStream<'_, StoreResult<StoredRoot>> {
        let what = "read of the stored roots";
        sqlx::query(ALL_ROOTS)
            .fetch(&self.reader)
            .map(move |row| {
                let row = row.map_err(|e| StoreError::from_sqlx(what, e))?;
                let decode = |e| StoreError::from_sqlx(what, e);
                let data: Vec<u8> = row.try_get("data").map_err(decode)?;
                Ok(StoredRoot {
                    gun: row.try_get("gun").map_err(decode)?,
                    version: row.try_get("version").map_err(decode)?,
                    data: Bytes::from(data),
                })
            })
            .boxed()
    }

    pub(crate) async fn repositories(&self, q: &RepositoryQuery) -> StoreResult<Vec<String>> {
        let what = "read of the repository list";
        let json = |v: &[String]| {
            serde_json::to_string(v)
                .map_err(|e| StoreError::from_sqlx(what, sqlx::Error::Encode(e.into())))
        };
        let only = q.only.as_deref().map(json).transpose()?;
        let rows = sqlx::query(REPOSITORY_PAGE)
            .bind(q.after_bound())
            .bind(q.contains.as_str())
            .bind(only)
            .bind(json(&q.prefixes)?)
            .bind(q.bound_limit())
            .fetch_all(&self.reader)
            .await
            .map_err(|e| StoreError::from_sqlx(what, e))?;
        rows.iter()
            .map(|r| r.try_get::<String, _>("gun"))
            .collect::<Result<_, _>>()
            .map_err(|e| StoreError::from_sqlx(what, e))
    }

    pub(crate) async fn earliest_expiries(
        &self,
        guns: &[String],
    ) -> StoreResult<Vec<(String, i64)>> {
        let what = "read of the expiry records of a repository page";
        let list = serde_json::to_string(guns)
            .map_err(|e| StoreError::from_sqlx(what, sqlx::Error::Encode(e.into())))?;
        let rows = sqlx::query(EARLIEST_OF)
            .bind(list)
            .fetch_all(&self.reader)
            .await
            .map_err(|e| StoreError::from_sqlx(what, e))?;
        rows.iter()
            .map(|r| Ok((r.try_get("gun")?, r.try_get("earliest")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(|e| StoreError::from_sqlx(what, e))
    }

    pub(crate) async fn all_server_keys(&self) -> StoreResult<Vec<ServerKey>> {
        let rows = sqlx::query(ALL_KEYS)
            .fetch_all(&self.reader)
            .await
            .map_err(|e| StoreError::from_sqlx("read of every server key", e))?;
        rows.iter().map(key_from_row).collect()
    }

    pub(crate) async fn reseal_server_keys(&self, keys: &[ResealedKey]) -> StoreResult<bool> {
        for k in keys {
            check_key_names(&k.gun, &k.role, &k.key_id)?;
        }
        let ctx = || format!("re-sealing of {} server keys", keys.len());
        let mut tx = self
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| StoreError::from_sqlx(ctx(), e))?;
        for k in keys {
            let done = sqlx::query(
                "UPDATE signet_server_keys SET sealed_private_key = ?5 \
                 WHERE gun = ?1 AND role = ?2 AND key_id = ?3 AND sealed_private_key = ?4",
            )
            .bind(&k.gun)
            .bind(&k.role)
            .bind(&k.key_id)
            .bind(k.current.as_ref())
            .bind(k.resealed.as_ref())
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                StoreError::from_sqlx(
                    format!("re-sealing of {} {} key {}", k.gun, k.role, k.key_id),
                    e,
                )
            })?;
            if done.rows_affected() != 1 {
                return Ok(false);
            }
        }
        let sealed: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM signet_server_keys WHERE length(sealed_private_key) > 0",
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| StoreError::from_sqlx(ctx(), e))?;
        if usize::try_from(sealed).ok() != Some(keys.len()) {
            return Ok(false);
        }
        tx.commit()
            .await
            .map_err(|e| StoreError::from_sqlx(ctx(), e))?;
        Ok(true)
    }

    pub(crate) async fn put_server_keys_if_absent(
        &self,
        keys: &[ServerKey],
    ) -> StoreResult<Vec<bool>> {
        for k in keys {
            check_key_names(&k.gun, &k.role, &k.key_id)?;
        }
        let ctx = || format!("store of {} server keys", keys.len());
        let mut tx = self
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| StoreError::from_sqlx(ctx(), e))?;
        let mut inserted = Vec::with_capacity(keys.len());
        for k in keys {
            let done = sqlx::query(INSERT_KEY_IF_ABSENT)
                .bind(&k.gun)
                .bind(&k.role)
                .bind(&k.key_id)
                .bind(&k.algorithm)
                .bind(k.public_key.as_ref())
                .bind(k.sealed_private_key.as_ref())
                .bind(k.state.as_str())
                .bind(k.created_at)
                .bind(k.last_used)
                .bind(k.hsm.as_ref().map(|h| i32::from(h.object_id)))
                .bind(k.hsm.as_ref().map(|h| h.label.as_str()))
                .execute(&mut *tx)
                .await
                .map_err(|e| {
                    StoreError::from_sqlx(
                        format!("store of {} {} key {}", k.gun, k.role, k.key_id),
                        e,
                    )
                })?;
            inserted.push(done.rows_affected() > 0);
        }
        tx.commit()
            .await
            .map_err(|e| StoreError::from_sqlx(ctx(), e))?;
        Ok(inserted)
    }

    pub(crate) async fn expiry_versions(
        &self,
        gun: &str,
    ) -> StoreResult<(Option<i64>, Option<i64>)> {
        let row = sqlx::query(EXPIRY_VERSIONS)
            .bind(gun)
            .fetch_one(&self.reader)
            .await
            .map_err(|e| {
                StoreError::from_sqlx(format!("read of the expiry records of {gun}"), e)
            })?;
        let decode = |e| StoreError::from_sqlx(format!("decode of the expiry records of {gun}"), e);
        Ok((
            row.try_get("recorded").map_err(decode)?,
            row.try_get("latest").map_err(decode)?,
        ))
    }

    /// Rewrites the expiry records of `gun` with `plan`, made from its files up to snapshot
    /// `snapshot_version` (`None`: it had none), unless its latest stored snapshot is another
    /// one by now (see [`superseded`]). Returns whether the records were rewritten.
    pub(crate) async fn replace_expiry(
        &self,
        gun: &str,
        snapshot_version: Option<i32>,
        plan: &ExpiryPlan,
    ) -> StoreResult<bool> {
        let err =
            |e| self.write_failed(StoreError::from_sqlx(format!("expiry records of {gun}"), e));
        let mut tx = self
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(err)?;
        let row = sqlx::query(EXPIRY_VERSIONS)
            .bind(gun)
            .fetch_one(&mut *tx)
            .await
            .map_err(err)?;
        let latest: Option<i64> = row.try_get("latest").map_err(err)?;
        if superseded(snapshot_version, latest) {
            tx.rollback().await.map_err(err)?;
            return Ok(false);
        }
        sqlx::query(DELETE_EXPIRY)
            .bind(gun)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        apply_expiry(&mut tx, gun, plan).await.map_err(err)?;
        tx.commit().await.map_err(err)?;
        Ok(true)
    }

    pub(crate) async fn expiry_cursor(&self) -> StoreResult<i64> {
        let cursor: Option<i64> = sqlx::query_scalar(EXPIRY_CURSOR)
            .fetch_optional(&self.reader)
            .await
            .map_err(|e| StoreError::from_sqlx("read of the expiry cursor", e))?;
        Ok(cursor.unwrap_or(0))
    }

    pub(crate) async fn advance_expiry_cursor(&self, to: i64) -> StoreResult<()> {
        sqlx::query(ADVANCE_EXPIRY_CURSOR)
            .bind(to)
            .execute(&self.writer)
            .await
            .map(|_| ())
            .map_err(|e| self.write_failed(StoreError::from_sqlx("move of the expiry cursor", e)))
    }

    pub(crate) async fn expiry_backlog(&self) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar(EXPIRY_BACKLOG)
            .fetch_one(&self.reader)
            .await
            .map_err(|e| StoreError::from_sqlx("read of the expiry backlog", e))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    pub(crate) async fn expiry_summary(&self, now: i64) -> StoreResult<ExpirySummary> {
        let what = "read of the metadata expiry";
        let err = |e| StoreError::from_sqlx(what, e);
        let (now, in_7d, in_30d) = windows(now);
        let windows_rows = sqlx::query(EXPIRY_WINDOWS)
            .bind(now)
            .bind(in_7d)
            .bind(in_30d)
            .fetch_all(&self.reader)
            .await
            .map_err(err)?;
        let earliest = sqlx::query(EARLIEST)
            .fetch_all(&self.reader)
            .await
            .map_err(err)?;
        ExpirySummary::from_rows(now, &windows_rows, &earliest).map_err(err)
    }

    /// Indexes the keys of `gun` again from its stored files.
    pub(crate) async fn reindex_keys(&self, gun: &str) -> StoreResult<()> {
        let err = |e| self.write_failed(StoreError::from_sqlx(format!("key index of {gun}"), e));
        let mut tx = self
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(err)?;
        let stored = key_rows(&mut tx, gun).await.map_err(err)?;
        index_keys(&mut tx, gun, Planner::rebuild(stored))
            .await
            .map_err(err)?;
        tx.commit().await.map_err(err)
    }

    /// One step of the key index backfill: indexes the next `batch` GUNs in one transaction.
    /// `None` when the backfill is done; `Some(0)` when this step found the end.
    pub(crate) async fn backfill_keys_step(&self, batch: u32) -> StoreResult<Option<usize>> {
        let err = |e| self.write_failed(StoreError::from_sqlx("key index backfill", e));
        let mut tx = self
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(err)?;
        let state = sqlx::query(BACKFILL_STATE)
            .fetch_optional(&mut *tx)
            .await
            .map_err(err)?;
        let Some(last) = backfill_resumes_after(state.as_ref()).map_err(err)? else {
            tx.rollback().await.map_err(err)?;
            return Ok(None);
        };
        let guns: Vec<String> = sqlx::query_scalar(BACKFILL_GUNS)
            .bind(&last)
            .bind(i64::from(batch.max(1)))
            .fetch_all(&mut *tx)
            .await
            .map_err(err)?;
        if let Some(end) = guns.last() {
            for gun in &guns {
                let stored = key_rows(&mut tx, gun).await.map_err(err)?;
                index_keys(&mut tx, gun, Planner::rebuild(stored))
                    .await
                    .map_err(err)?;
            }
            sqlx::query(BACKFILL_ADVANCE)
                .bind(end)
                .execute(&mut *tx)
                .await
                .map_err(err)?;
        } else {
            sqlx::query(BACKFILL_DONE)
                .execute(&mut *tx)
                .await
                .map_err(err)?;
        }
        tx.commit().await.map_err(err)?;
        Ok(Some(guns.len()))
    }

    /// Up to `limit` roles trusting `key_id`, after `after`.
    pub(crate) async fn trusted_by(
        &self,
        key_id: &str,
        after: &TrustCursor,
        limit: i64,
    ) -> StoreResult<Vec<TrustingRole>> {
        let err = |e| StoreError::from_sqlx(format!("read of the roles trusting key {key_id}"), e);
        let rows = sqlx::query(TRUSTED_BY)
            .bind(key_id)
            .bind(&after.gun)
            .bind(&after.role)
            .bind(limit)
            .fetch_all(&self.reader)
            .await
            .map_err(err)?;
        rows.iter()
            .map(TrustingRole::from_row)
            .collect::<Result<_, sqlx::Error>>()
            .map_err(err)
    }

    pub(crate) async fn server_key_counts(&self) -> StoreResult<Vec<ServerKeyCount>> {
        let err = |e| StoreError::from_sqlx("count of the server keys", e);
        let rows = sqlx::query(KEY_COUNTS)
            .fetch_all(&self.reader)
            .await
            .map_err(err)?;
        rows.iter()
            .map(ServerKeyCount::from_row)
            .collect::<Result<_, sqlx::Error>>()
            .map_err(err)
    }

    pub(crate) fn pool_stats(&self) -> Vec<PoolStats> {
        if self.path.is_none() {
            return vec![PoolStats::of("main", &self.reader)];
        }
        vec![
            PoolStats::of("reader", &self.reader),
            PoolStats::of("writer", &self.writer),
        ]
    }

    /// Begins the transaction of a [`super::CopySession`]: a read transaction on the reader
    /// pool for a dry run, else the write lock on the writer connection.
    pub(crate) async fn begin_copy(&self, dry_run: bool) -> StoreResult<SqliteCopy> {
        let err = |e| StoreError::from_sqlx("copy of notary-server rows", e);
        let tx = if dry_run {
            self.reader.begin().await.map_err(err)?
        } else {
            self.writer
                .begin_with("BEGIN IMMEDIATE")
                .await
                .map_err(err)?
        };
        Ok(SqliteCopy { tx, dry_run })
    }

    pub(crate) async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }
}

/// The transaction of a [`super::CopySession`] on SQLite.
pub(crate) struct SqliteCopy {
    tx: sqlx::Transaction<'static, sqlx::Sqlite>,
    dry_run: bool,
}

impl SqliteCopy {
    pub(crate) async fn files(&mut self, rows: &[CopiedFile]) -> StoreResult<Vec<CopyOutcome>> {
        let err = |e| StoreError::from_sqlx("copy of tuf_files rows", e);
        let mut by_key = HashMap::new();
        for r in rows {
            let stored = sqlx::query(COPY_STORED_FILE)
                .bind(&r.gun)
                .bind(&r.role)
                .bind(r.version)
                .fetch_optional(&mut *self.tx)
                .await
                .map_err(err)?;
            if let Some(row) = stored {
                let f = copied_file_from_row(&row)?;
                by_key.insert(file_key(&f), f);
            }
        }
        let (outcomes, insert) = classify(rows, file_key, &by_key, file_differences);
        if self.dry_run {
            return Ok(outcomes);
        }
        for r in insert.iter().filter_map(|&i| rows.get(i)) {
            sqlx::query(COPY_INSERT_FILE)
                .bind(r.created_at)
                .bind(r.updated_at)
                .bind(r.deleted_at)
                .bind(&r.gun)
                .bind(&r.role)
                .bind(r.version)
                .bind(r.data.as_ref())
                .bind(&r.sha256)
                .execute(&mut *self.tx)
                .await
                .map_err(|e| {
                    StoreError::from_sqlx(
                        format!("copy of {} {} version {}", r.gun, r.role, r.version),
                        e,
                    )
                })?;
        }
        Ok(outcomes)
    }

    pub(crate) async fn changes(&mut self, rows: &[CopiedChange]) -> StoreResult<Vec<CopyOutcome>> {
        let err = |e| StoreError::from_sqlx("copy of changefeed records", e);
        let mut by_id = HashMap::new();
        for r in rows {
            let stored = sqlx::query(COPY_STORED_CHANGE)
                .bind(r.id)
                .fetch_optional(&mut *self.tx)
                .await
                .map_err(err)?;
            if let Some(row) = stored {
                let c = copied_change_from_row(&row).map_err(err)?;
                by_id.insert(c.id, c);
            }
        }
        let (outcomes, insert) = classify(rows, |r| r.id, &by_id, change_differences);
        if self.dry_run {
            return Ok(outcomes);
        }
        for r in insert.iter().filter_map(|&i| rows.get(i)) {
            sqlx::query(COPY_INSERT_CATEGORY)
                .bind(&r.category)
                .execute(&mut *self.tx)
                .await
                .map_err(err)?;
            sqlx::query(COPY_INSERT_CHANGE)
                .bind(r.id)
                .bind(r.created_at)
                .bind(&r.gun)
                .bind(r.version)
                .bind(r.sha256.as_deref())
                .bind(&r.category)
                .execute(&mut *self.tx)
                .await
                .map_err(|e| StoreError::from_sqlx(format!("copy of change {}", r.id), e))?;
        }
        Ok(outcomes)
    }

    pub(crate) async fn finish(mut self) -> StoreResult<()> {
        let err = |e| StoreError::from_sqlx("commit of the copied notary-server rows", e);
        if self.dry_run {
            return self.tx.rollback().await.map_err(err);
        }
        // The copied files are indexed by the key index backfill, which runs again.
        sqlx::query(BACKFILL_RESTART)
            .execute(&mut *self.tx)
            .await
            .map_err(err)?;
        self.tx.commit().await.map_err(err)
    }

    pub(crate) async fn abort(self) {
        if let Err(e) = self.tx.rollback().await {
            tracing::warn!(error = %e, "rolling back the copy of notary-server rows failed");
        }
    }
}

fn copied_file_from_row(row: &SqliteRow) -> StoreResult<CopiedFile> {
    let decode = |e| StoreError::from_sqlx("decode of a stored tuf_files row", e);
    let data: Vec<u8> = row.try_get("data").map_err(decode)?;
    let sha256: Option<String> = row.try_get("sha256").map_err(decode)?;
    Ok(CopiedFile {
        gun: row.try_get("gun").map_err(decode)?,
        role: row.try_get("role").map_err(decode)?,
        version: row.try_get("version").map_err(decode)?,
        sha256: stored_sha256(sha256, &data),
        data: Bytes::from(data),
        created_at: row.try_get("created_at").map_err(decode)?,
        updated_at: row.try_get("updated_at").map_err(decode)?,
        deleted_at: row.try_get("deleted_at").map_err(decode)?,
    })
}

fn copied_change_from_row(row: &SqliteRow) -> Result<CopiedChange, sqlx::Error> {
    let sha256: Option<String> = row.try_get("sha256")?;
    Ok(CopiedChange {
        id: row.try_get("id")?,
        created_at: row.try_get("created_at")?,
        gun: row.try_get("gun")?,
        version: row.try_get("version")?,
        sha256: sha256.map(|s| s.trim_end().to_owned()),
        category: row.try_get("category")?,
    })
}

fn file_from_row(gun: &str, row: &SqliteRow) -> StoreResult<StoredFile> {
    let decode = |e| StoreError::from_sqlx(format!("decode of a {gun} row"), e);
    let role: String = row.try_get("role").map_err(decode)?;
    let version: i64 = row.try_get("version").map_err(decode)?;
    let sha256: Option<String> = row.try_get("sha256").map_err(decode)?;
    let data: Vec<u8> = row.try_get("data").map_err(decode)?;
    let created_at: Option<DateTime<Utc>> = row.try_get("created_at").map_err(decode)?;
    Ok(StoredFile {
        sha256: checksum_of(sha256.as_deref(), &data),
        role,
        version,
        data: Bytes::from(data),
        created_at: created_at.unwrap_or_else(zero_time),
    })
}

fn change_from_row(row: &SqliteRow) -> Result<Change, sqlx::Error> {
    let created_at: Option<DateTime<Utc>> = row.try_get("created_at")?;
    let sha256: Option<String> = row.try_get("sha256")?;
    Ok(Change {
        id: row.try_get("id")?,
        created_at: created_at.unwrap_or_else(zero_time),
        gun: row.try_get("gun")?,
        version: row.try_get("version")?,
        sha256: sha256.map(|s| s.trim_end().to_owned()).unwrap_or_default(),
        category: row.try_get("category")?,
    })
}

fn key_from_row(row: &SqliteRow) -> StoreResult<ServerKey> {
    let decode = |e| StoreError::from_sqlx("decode of a server key row", e);
    let gun: String = row.try_get("gun").map_err(decode)?;
    let role: String = row.try_get("role").map_err(decode)?;
    let state: String = row.try_get("state").map_err(decode)?;
    let state = state.parse().map_err(|e| StoreError::Corrupt {
        gun: gun.clone(),
        role: role.clone(),
        detail: format!("server key: {e}"),
    })?;
    let public_key: Vec<u8> = row.try_get("public_key").map_err(decode)?;
    let sealed: Vec<u8> = row.try_get("sealed_private_key").map_err(decode)?;
    let object_id: Option<i64> = row.try_get("hsm_object_id").map_err(decode)?;
    let label: Option<String> = row.try_get("hsm_label").map_err(decode)?;
    let hsm = hsm_ref(&gun, &role, object_id, label)?;
    Ok(ServerKey {
        key_id: row.try_get("key_id").map_err(decode)?,
        algorithm: row.try_get("algorithm").map_err(decode)?,
        public_key: Bytes::from(public_key),
        sealed_private_key: Bytes::from(sealed),
        state,
        created_at: row.try_get("created_at").map_err(decode)?,
        last_used: row.try_get("last_used").map_err(decode)?,
        hsm,
        gun,
        role,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The query plan of `sql` with every parameter bound to a placeholder value.
    async fn plan(store: &SqliteStore, sql: &str, params: usize) -> String {
        let explain = format!("EXPLAIN QUERY PLAN {sql}");
        let mut q = sqlx::query(&explain);
        for _ in 0..params {
            q = q.bind("x");
        }
        let rows = q.fetch_all(&store.reader).await.unwrap();
        rows.iter()
            .map(|r| r.get::<String, _>(3))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[tokio::test]
    async fn hot_queries_use_indexes_without_sorting() {
        let store = SqliteStore::open("sqlite::memory:", &StoreOptions::default()).unwrap();
        store.migrate().await.unwrap();
        for (sql, params) in [(LATEST, 2), (BY_VERSION, 3), (MAX_VERSION, 2)] {
            let p = plan(&store, sql, params).await;
            assert!(p.contains("INDEX sqlite_autoindex_tuf_files"), "{sql}: {p}");
            assert!(!p.contains("TEMP B-TREE"), "{sql}: {p}");
        }
        let p = plan(&store, BY_CHECKSUM, 3).await;
        assert!(p.contains("signet_tuf_files_gun_role_sha256_idx"), "{p}");
        let p = plan(&store, TRUSTED_BY, 4).await;
        assert!(p.contains("signet_key_trust_key_id_idx"), "{p}");
        assert!(!p.contains("TEMP B-TREE"), "{p}");
        for sql in [GUN_CHANGES_AFTER, GUN_CHANGES_BEFORE] {
            let p = plan(&store, sql, 3).await;
            assert!(p.contains("signet_changefeed_gun_id_idx"), "{sql}: {p}");
            assert!(!p.contains("TEMP B-TREE"), "{sql}: {p}");
        }
        for sql in [CHANGES_AFTER, CHANGES_BEFORE] {
            let p = plan(&store, sql, 2).await;
            assert!(
                p.contains("PRIMARY KEY") || p.contains("INTEGER PRIMARY"),
                "{sql}: {p}"
            );
            assert!(!p.contains("TEMP B-TREE"), "{sql}: {p}");
        }
    }
}
