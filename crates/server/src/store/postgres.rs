//! The PostgreSQL backend. Shares its tables with the Go notary-server.

use std::collections::HashMap;
use std::future::Future;
use std::str::FromStr;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, NaiveDateTime, Utc};
use futures_util::StreamExt as _;
use futures_util::stream::BoxStream;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{Connection as _, Executor as _, FromRow as _, Row as _};

use super::checks::hsm_ref;
use super::checks::{self as batch, check_key_names, found_key};
use super::copy_compare::{change_differences, classify, file_differences, file_key};
use super::error::{StoreError, StoreResult, is_broken_connection};
use super::expiry::{
    EARLIEST, ExpiryPlan, ExpirySummary, PoolStats, ServerKeyCount, superseded, windows,
};
use super::key_trust::{
    KeyRow, Planner, TrustCursor, TrustingRole, backfill_resumes_after, written_files,
};
use super::listing::RepositoryQuery;
use super::types::HsmKeyRef;
use super::types::{
    CATEGORY_DELETION, Change, ChangeQuery, CopiedChange, CopiedFile, CopyOutcome, KeyState,
    NewServerKey, ResealedKey, ServerKey, StoredFile, StoredRoot, checksum_of, is_sha256_hex,
    stored_sha256, zero_time,
};
use super::{FileUpdate, KeyUse, StoreOptions};

/// Embedded PostgreSQL migrations.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");

/// Advisory-lock class (first key of `pg_advisory_xact_lock(int, int)`) for GUN writers.
const GUN_LOCK_CLASS: i32 = 0x5347_4e54; // "SGNT"

const LATEST: &str = "SELECT role, version, sha256, data, created_at FROM tuf_files \
     WHERE gun = $1 AND role = $2 AND deleted_at IS NULL ORDER BY version DESC LIMIT 1";

const BY_CHECKSUM: &str = "SELECT role, version, sha256, data, created_at FROM tuf_files \
     WHERE gun = $1 AND role = $2 AND sha256 = $3::bpchar AND deleted_at IS NULL LIMIT 1";

const BY_VERSION: &str = "SELECT role, version, sha256, data, created_at FROM tuf_files \
     WHERE gun = $1 AND role = $2 AND version = $3 AND deleted_at IS NULL";

/// The highest stored version of each role: one backward index probe per role, however many
/// versions are stored.
const MAX_VERSIONS: &str = "SELECT r.role, \
       (SELECT t.version FROM tuf_files t WHERE t.gun = $1 AND t.role = r.role \
        ORDER BY t.version DESC LIMIT 1) AS version \
     FROM UNNEST($2::text[]) AS r(role)";

/// Inserts the batch in upload order, and one `update` change per timestamp row.
const INSERT_FILES: &str = "WITH clock AS (SELECT (now() AT TIME ZONE 'UTC') AS t), \
     ins AS ( \
       INSERT INTO tuf_files (created_at, updated_at, gun, role, version, data, sha256) \
       SELECT clock.t, clock.t, $1, u.role, u.version, u.data, u.sha256 \
       FROM clock, UNNEST($2::text[], $3::int4[], $4::bytea[], $5::text[]) \
         WITH ORDINALITY AS u(role, version, data, sha256, ord) \
       ORDER BY u.ord \
       RETURNING created_at, role, version, sha256) \
     INSERT INTO changefeed (created_at, gun, version, sha256, category) \
     SELECT created_at, $1, version, sha256, 'update' FROM ins \
     WHERE role = 'timestamp' ORDER BY version";

/// Marks the server-held keys that signed an update active and records their use, inside
/// the update's transaction.
const MARK_KEYS_USED: &str = "UPDATE signet_server_keys AS k SET state = $4, last_used = now() \
     FROM UNNEST($2::text[], $3::text[]) AS u(role, key_id) \
     WHERE k.gun = $1 AND k.role = u.role AND k.key_id = u.key_id";

const CHANGES_AFTER: &str = "SELECT id, created_at, gun, version, sha256, category FROM changefeed \
     WHERE id > $1 ORDER BY id ASC LIMIT $2";
const CHANGES_BEFORE: &str = "SELECT id, created_at, gun, version, sha256, category FROM changefeed \
     WHERE id < $1 ORDER BY id DESC LIMIT $2";
const GUN_CHANGES_AFTER: &str = "SELECT id, created_at, gun, version, sha256, category \
     FROM changefeed WHERE gun = $3 AND id > $1 ORDER BY id ASC LIMIT $2";
const GUN_CHANGES_BEFORE: &str = "SELECT id, created_at, gun, version, sha256, category \
     FROM changefeed WHERE gun = $3 AND id < $1 ORDER BY id DESC LIMIT $2";

const KEYS_BY_ROLE: &str = "SELECT gun, role, key_id, algorithm, public_key, sealed_private_key, \
     state, created_at, last_used, hsm_object_id, hsm_label FROM signet_server_keys WHERE gun = $1 AND role = $2 \
     ORDER BY created_at, key_id";

const KEY_BY_ID: &str = "SELECT gun, role, key_id, algorithm, public_key, sealed_private_key, \
     state, created_at, last_used, hsm_object_id, hsm_label FROM signet_server_keys \
     WHERE gun = $1 AND role = $2 AND key_id = $3";

const ALL_ROOTS: &str =
    "SELECT gun, version, data FROM tuf_files WHERE role = 'root' AND deleted_at IS NULL";

/// One page of repositories ([`RepositoryQuery`]): walks the unique index on
/// (gun, role, version) in GUN order and stops after the page.
const REPOSITORY_PAGE: &str = "SELECT DISTINCT gun FROM tuf_files \
     WHERE deleted_at IS NULL AND gun > $1 AND strpos(gun, $2) > 0 \
     AND ($3::text[] IS NULL OR gun = ANY($3::text[])) \
     AND (cardinality($4::text[]) = 0 OR EXISTS (SELECT 1 FROM unnest($4::text[]) AS p(prefix) \
       WHERE left(gun, length(p.prefix)) = p.prefix)) \
     ORDER BY gun LIMIT $5";

/// The earliest expiry of the metadata the owners of each of some repositories sign (server
/// snapshots left out), from the primary key of `signet_metadata_expiry`.
const EARLIEST_OF: &str = "SELECT gun, MIN(expires) AS earliest FROM signet_metadata_expiry \
     WHERE gun = ANY($1::text[]) AND kind <> 'server_snapshot' GROUP BY gun";

const ALL_KEYS: &str = "SELECT gun, role, key_id, algorithm, public_key, sealed_private_key, \
     state, created_at, last_used, hsm_object_id, hsm_label FROM signet_server_keys ORDER BY gun, role, created_at, key_id";

const INSERT_KEY_IF_ABSENT: &str = "INSERT INTO signet_server_keys (gun, role, key_id, \
     algorithm, public_key, sealed_private_key, state, created_at, last_used, hsm_object_id, \
     hsm_label) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (gun, role, key_id) DO NOTHING";

/// The stored `tuf_files` rows with the given keys (one unique-index probe each).
const COPY_STORED_FILES: &str = "SELECT t.gun, t.role, t.version, t.data, t.sha256, \
     t.created_at, t.updated_at, t.deleted_at \
     FROM UNNEST($1::text[], $2::text[], $3::int4[]) AS k(gun, role, version) \
     JOIN tuf_files t ON t.gun = k.gun AND t.role = k.role AND t.version = k.version";

/// Inserts copied `tuf_files` rows in the order given; `id`s are the table's own.
const COPY_INSERT_FILES: &str = "INSERT INTO tuf_files \
     (created_at, updated_at, deleted_at, gun, role, version, data, sha256) \
     SELECT u.created_at, u.updated_at, u.deleted_at, u.gun, u.role, u.version, u.data, u.sha256 \
     FROM UNNEST($1::timestamp[], $2::timestamp[], $3::timestamp[], $4::text[], $5::text[], \
       $6::int4[], $7::bytea[], $8::text[]) \
       WITH ORDINALITY AS u(created_at, updated_at, deleted_at, gun, role, version, data, \
       sha256, ord) \
     ORDER BY u.ord";

const COPY_STORED_CHANGES: &str = "SELECT id, created_at, gun, version, sha256, category \
     FROM changefeed WHERE id = ANY($1::int4[])";

const COPY_INSERT_CATEGORIES: &str = "INSERT INTO change_category (category) \
     SELECT DISTINCT c FROM UNNEST($1::text[]) AS c ON CONFLICT DO NOTHING";

/// Inserts copied changefeed records with their own IDs.
const COPY_INSERT_CHANGES: &str = "INSERT INTO changefeed \
     (id, created_at, gun, version, sha256, category) \
     SELECT * FROM UNNEST($1::int4[], $2::timestamp[], $3::text[], $4::int4[], $5::text[], \
       $6::text[]) ORDER BY 1";

/// Moves the changefeed ID sequence to the highest stored ID (never backwards), so that the
/// next record written gets a higher ID than every copied one.
const COPY_ADVANCE_SEQUENCE: &str = "SELECT setval(s.seq, GREATEST(m.max_id, \
       COALESCE(pg_sequence_last_value(s.seq), 0)), true) \
     FROM (SELECT pg_get_serial_sequence('changefeed', 'id')::regclass AS seq) s, \
          (SELECT MAX(id) AS max_id FROM changefeed) m \
     WHERE m.max_id IS NOT NULL AND s.seq IS NOT NULL";

/// Applies an expiry plan of GUN `$1` in one statement: deletes the rows of roles the new
/// snapshot no longer names (`$2`: the plan has a snapshot; `$3`: the roles it names), and
/// writes the new rows (`$5`–`$8`), never back to an older version; a snapshot signed by one
/// of the GUN's server keys (`$4`: its signers) gets kind `server_snapshot`.
const APPLY_EXPIRY: &str = "WITH stale AS ( \
       DELETE FROM signet_metadata_expiry \
       WHERE gun = $1 AND $2 AND role <> 'snapshot' AND role <> ALL($3::text[])), \
     server_signed AS ( \
       SELECT EXISTS (SELECT 1 FROM signet_server_keys \
         WHERE gun = $1 AND role = 'snapshot' AND key_id = ANY($4::text[])) AS yes) \
     INSERT INTO signet_metadata_expiry (gun, role, kind, version, expires) \
     SELECT $1, u.role, \
       CASE WHEN u.role = 'snapshot' AND s.yes THEN 'server_snapshot' ELSE u.kind END, \
       u.version, u.expires \
     FROM UNNEST($5::text[], $6::text[], $7::int4[], $8::int8[]) AS u(role, kind, version, expires), \
       server_signed s \
     ON CONFLICT (gun, role) DO UPDATE SET kind = EXCLUDED.kind, version = EXCLUDED.version, \
       expires = EXCLUDED.expires WHERE signet_metadata_expiry.version <= EXCLUDED.version";

const DELETE_EXPIRY: &str = "DELETE FROM signet_metadata_expiry WHERE gun = $1";

/// The recorded snapshot version of a GUN and its latest stored one.
const EXPIRY_VERSIONS: &str = "SELECT \
     (SELECT version FROM signet_metadata_expiry WHERE gun = $1 AND role = 'snapshot') AS recorded, \
     (SELECT version FROM tuf_files WHERE gun = $1 AND role = 'snapshot' AND deleted_at IS NULL \
      ORDER BY version DESC LIMIT 1) AS latest";

const EXPIRY_CURSOR: &str = "SELECT change_id FROM signet_metadata_expiry_cursor WHERE id = 1";

const ADVANCE_EXPIRY_CURSOR: &str =
    "UPDATE signet_metadata_expiry_cursor SET change_id = GREATEST(change_id, $1) WHERE id = 1";

const EXPIRY_BACKLOG: &str = "SELECT COALESCE((SELECT MAX(id) FROM changefeed), 0)::int8 \
     - COALESCE((SELECT change_id FROM signet_metadata_expiry_cursor WHERE id = 1), 0)";

/// Repositories per kind with a file expired, expiring within 7 days and within 30 days:
/// only the index range of rows expiring within 30 days is read.
const EXPIRY_WINDOWS: &str = "SELECT kind::text AS kind, \
     COUNT(DISTINCT CASE WHEN expires < $1 THEN gun END) AS expired, \
     COUNT(DISTINCT CASE WHEN expires >= $1 AND expires <= $2 THEN gun END) AS within_7d, \
     COUNT(DISTINCT CASE WHEN expires >= $1 THEN gun END) AS within_30d \
     FROM signet_metadata_expiry \
     WHERE kind IN ('root', 'targets', 'delegation', 'snapshot') AND expires <= $3 \
     GROUP BY kind";

const KEY_COUNTS: &str = "SELECT role::text AS role, state::text AS state, \
     hsm_object_id IS NOT NULL AS on_device, octet_length(sealed_private_key) > 0 AS sealed, \
     COUNT(*) AS n FROM signet_server_keys GROUP BY 1, 2, 3, 4";

/// The latest stored file of a role, for the key index.
const LATEST_DATA: &str = "SELECT data FROM tuf_files \
     WHERE gun = $1 AND role = $2 AND deleted_at IS NULL ORDER BY version DESC LIMIT 1";

/// The latest stored root and targets of each GUN of a backfill batch.
const LATEST_ROOTS_AND_TARGETS: &str = "SELECT DISTINCT ON (gun, role) gun, role, data \
     FROM tuf_files WHERE gun = ANY($1::text[]) AND role IN ('root', 'targets') \
     AND deleted_at IS NULL ORDER BY gun, role, version DESC";

const KEY_TRUST_ROWS: &str = "SELECT gun, role, key_id, listed_key_id, source \
     FROM signet_key_trust WHERE gun = ANY($1::text[])";

const DELETE_KEY_TRUST_ROWS: &str = "DELETE FROM signet_key_trust t \
     USING UNNEST($1::text[], $2::text[], $3::text[]) AS d(gun, role, key_id) \
     WHERE t.gun = d.gun AND t.role = d.role AND t.key_id = d.key_id";

const INSERT_KEY_TRUST_ROWS: &str = "INSERT INTO signet_key_trust \
     (gun, role, key_id, listed_key_id, source) \
     SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) \
     ON CONFLICT (gun, role, key_id) DO NOTHING";

const DELETE_KEY_TRUST: &str = "DELETE FROM signet_key_trust WHERE gun = $1";

/// One page of the roles trusting a key: a range of `signet_key_trust_key_id_idx`.
const TRUSTED_BY: &str = "SELECT gun, role, listed_key_id FROM signet_key_trust \
     WHERE key_id = $1 AND (gun, role) > ($2, $3) ORDER BY gun, role LIMIT $4";

/// The backfill state, locked against another server's backfill until the step commits.
const BACKFILL_STATE: &str =
    "SELECT done, last_gun FROM signet_key_trust_backfill WHERE id = 1 FOR UPDATE";

/// The next GUNs of the backfill, from the unique index of `tuf_files`.
const BACKFILL_GUNS: &str =
    "SELECT DISTINCT gun FROM tuf_files WHERE gun > $1 ORDER BY gun LIMIT $2";

const BACKFILL_ADVANCE: &str = "UPDATE signet_key_trust_backfill SET last_gun = $1 WHERE id = 1";

const BACKFILL_DONE: &str = "UPDATE signet_key_trust_backfill SET done = true WHERE id = 1";

const BACKFILL_RESTART: &str =
    "UPDATE signet_key_trust_backfill SET done = false, last_gun = '' WHERE id = 1";

/// Takes the writer locks of several GUNs, in key order.
const LOCK_GUNS: &str = "SELECT pg_advisory_xact_lock($1, k) \
     FROM (SELECT k FROM UNNEST($2::int4[]) AS k ORDER BY k) AS s";

/// The key index rows of `guns`, with their GUN.
async fn key_rows(
    conn: &mut sqlx::PgConnection,
    guns: &[&str],
) -> Result<HashMap<String, Vec<KeyRow>>, sqlx::Error> {
    let rows = sqlx::query(KEY_TRUST_ROWS)
        .bind(guns)
        .fetch_all(&mut *conn)
        .await?;
    let mut by_gun: HashMap<String, Vec<KeyRow>> = HashMap::new();
    for r in &rows {
        by_gun
            .entry(r.try_get("gun")?)
            .or_default()
            .push(KeyRow::from_row(r)?);
    }
    Ok(by_gun)
}

/// Runs a key index plan of `gun` inside a write transaction: the files it asks for come
/// from `read` when there, else from the database. Returns the rows to delete and to insert.
async fn plan_keys(
    conn: &mut sqlx::PgConnection,
    gun: &str,
    mut plan: Planner,
    read: &HashMap<(String, String), Vec<u8>>,
) -> Result<(Vec<KeyRow>, Vec<KeyRow>), sqlx::Error> {
    while let Some(source) = plan.missing() {
        if let Some(data) = read.get(&(gun.to_owned(), source.clone())) {
            plan.add_file(&source, Some(data));
            continue;
        }
        let data: Option<Vec<u8>> = sqlx::query_scalar(LATEST_DATA)
            .bind(gun)
            .bind(&source)
            .fetch_optional(&mut *conn)
            .await?;
        plan.add_file(&source, data.as_deref());
    }
    Ok(plan.changes())
}

/// Deletes and inserts key index rows of several GUNs, in two statements.
async fn write_key_rows(
    conn: &mut sqlx::PgConnection,
    changes: &[(&str, Vec<KeyRow>, Vec<KeyRow>)],
) -> Result<(), sqlx::Error> {
    let deleted = changes
        .iter()
        .flat_map(|(g, d, _)| d.iter().map(move |r| (*g, r)));
    let (mut guns, mut roles, mut ids) = (Vec::new(), Vec::new(), Vec::new());
    for (g, r) in deleted {
        guns.push(g);
        roles.push(r.role.as_str());
        ids.push(r.key_id.as_str());
    }
    if !guns.is_empty() {
        sqlx::query(DELETE_KEY_TRUST_ROWS)
            .bind(&guns)
            .bind(&roles)
            .bind(&ids)
            .execute(&mut *conn)
            .await?;
    }
    let inserted = changes
        .iter()
        .flat_map(|(g, _, i)| i.iter().map(move |r| (*g, r)));
    let (mut guns, mut roles, mut ids, mut listed, mut sources) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (g, r) in inserted {
        guns.push(g);
        roles.push(r.role.as_str());
        ids.push(r.key_id.as_str());
        listed.push(r.listed_key_id.as_str());
        sources.push(r.source.as_str());
    }
    if !guns.is_empty() {
        sqlx::query(INSERT_KEY_TRUST_ROWS)
            .bind(&guns)
            .bind(&roles)
            .bind(&ids)
            .bind(&listed)
            .bind(&sources)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Takes the transaction-scoped lock that serialises the writers of `gun`.
async fn lock_gun(conn: &mut sqlx::PgConnection, gun: &str) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock($1, $2)")
        .bind(GUN_LOCK_CLASS)
        .bind(batch::gun_lock_key(gun))
        .execute(conn)
        .await
        .map(|_| ())
}

/// Applies an expiry plan of `gun` inside a write transaction.
async fn apply_expiry(
    conn: &mut sqlx::PgConnection,
    gun: &str,
    plan: &ExpiryPlan,
) -> Result<(), sqlx::Error> {
    if plan.is_empty() {
        return Ok(());
    }
    let current: Vec<&str> = plan
        .current_roles
        .iter()
        .flatten()
        .map(String::as_str)
        .collect();
    let signers: Vec<&str> = plan.snapshot_signers.iter().map(String::as_str).collect();
    let roles: Vec<&str> = plan.rows.iter().map(|r| r.role.as_str()).collect();
    let kinds: Vec<&str> = plan.rows.iter().map(|r| r.kind).collect();
    let versions: Vec<i32> = plan.rows.iter().map(|r| r.version).collect();
    let expires: Vec<i64> = plan.rows.iter().map(|r| r.expires).collect();
    sqlx::query(APPLY_EXPIRY)
        .bind(gun)
        .bind(plan.current_roles.is_some())
        .bind(current.as_slice())
        .bind(signers.as_slice())
        .bind(roles.as_slice())
        .bind(kinds.as_slice())
        .bind(versions.as_slice())
        .bind(expires.as_slice())
        .execute(&mut *conn)
        .await
        .map(|_| ())
}

/// Set on every new connection: a session idle inside a transaction for this long is ended by
/// the database. signet never waits between the statements of a transaction, so only a leak
/// can reach it.
const IDLE_IN_TRANSACTION_TIMEOUT: &str = "SET idle_in_transaction_session_timeout = '60s'";

/// A metadata store on PostgreSQL.
#[derive(Clone, Debug)]
pub struct PgStore {
    pool: PgPool,
    /// Attempts for a read whose pooled connection turns out to be broken.
    attempts: u32,
}

/// The health check's write: an update of no rows, which still needs a writable transaction.
const WRITE_PROBE: &str =
    "UPDATE signet_metadata_expiry_cursor SET change_id = change_id WHERE false";

impl PgStore {
    /// A lazily connecting pool for `url`; nothing is sent to the database yet.
    pub(crate) fn open(url: &str, opts: &StoreOptions) -> StoreResult<Self> {
        let connect =
            PgConnectOptions::from_str(url).map_err(|source| StoreError::Config { source })?;
        let pool = PgPoolOptions::new()
            .max_connections(opts.max_connections)
            .acquire_timeout(opts.acquire_timeout)
            .idle_timeout(Some(Duration::from_secs(300)))
            // Connections are checked when released; a read that meets one broken since is
            // retried on another connection, so each read is one round trip.
            .test_before_acquire(false)
            // A connection that comes back inside a transaction (a write cut short) is closed,
            // which rolls the transaction back, instead of being handed to the next writer.
            .after_release(|conn, _| Box::pin(async move { Ok(!conn.is_in_transaction()) }))
            // Should a session still sit idle inside a transaction, the database ends it
            // rather than let it hold its locks and block every writer of its GUN.
            .after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute(IDLE_IN_TRANSACTION_TIMEOUT).await?;
                    Ok(())
                })
            })
            .connect_lazy_with(connect);
        Ok(Self {
            pool,
            attempts: opts.max_connections.saturating_add(1),
        })
    }

    /// Opens one connection to the database of `url` and closes it, so that a database that
    /// cannot be reached is reported with its address and the driver's error (the pool would
    /// only say that it timed out waiting for a connection).
    pub(crate) async fn probe(url: &str, timeout: Duration) -> StoreResult<()> {
        let options =
            PgConnectOptions::from_str(url).map_err(|source| StoreError::Config { source })?;
        let address = match options.get_socket() {
            Some(socket) => socket.display().to_string(),
            None => format!("{}:{}", options.get_host(), options.get_port()),
        };
        let failed = |reason: String| StoreError::Connect {
            backend: "Postgres",
            address: address.clone(),
            reason,
        };
        match tokio::time::timeout(timeout, sqlx::PgConnection::connect_with(&options)).await {
            Err(_) => Err(failed(format!(
                "no answer within {} s",
                timeout.as_secs_f32()
            ))),
            Ok(Err(e)) => Err(failed(connect_reason(&e))),
            Ok(Ok(connection)) => {
                // The probe was all it was for; a failure to say goodbye is no failure.
                let _ = connection.close().await;
                Ok(())
            }
        }
    }

    /// The embedded migrations.
    pub(crate) fn migrator() -> &'static sqlx::migrate::Migrator {
        &MIGRATOR
    }

    /// Applies pending migrations.
    pub(crate) async fn migrate(&self) -> StoreResult<()> {
        MIGRATOR
            .run(&self.pool)
            .await
            .map_err(StoreError::from_migrate)
    }

    /// The connection pool, for callers that need raw access (tests, metrics).
    #[must_use]
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Runs `op`, again on another connection while the error says the connection it got
    /// was broken (a restarted server leaves stale connections in the pool).
    async fn retry<T, F, Fut>(&self, mut op: F) -> Result<T, sqlx::Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, sqlx::Error>>,
    {
        let mut left = self.attempts;
        loop {
            match op().await {
                Err(e) if left > 1 && is_broken_connection(&e) => left -= 1,
                other => return other,
            }
        }
    }

    /// Runs `op` with [`Self::retry`]; a failure becomes a store error about `what`.
    async fn query<T, F, Fut>(&self, what: impl FnOnce() -> String, op: F) -> StoreResult<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, sqlx::Error>>,
    {
        self.retry(op)
            .await
            .map_err(|e| StoreError::from_sqlx(what(), e))
    }

    /// Reads at most one file row of `gun` with [`Self::query`].
    async fn file<F, Fut>(
        &self,
        gun: &str,
        what: impl FnOnce() -> String,
        op: F,
    ) -> StoreResult<Option<StoredFile>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Option<PgRow>, sqlx::Error>>,
    {
        let row = self.query(what, op).await?;
        row.map(|r| file_from_row(gun, &r)).transpose()
    }

    async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        self.retry(|| self.pool.begin()).await
    }

    pub(crate) async fn ping(&self) -> StoreResult<()> {
        self.query(
            || "ping".to_owned(),
            || sqlx::query("SELECT 1").execute(&self.pool),
        )
        .await
        .map(|_| ())
    }

    pub(crate) async fn write_probe(&self) -> StoreResult<()> {
        let err = |e| StoreError::from_sqlx("write probe", e);
        let mut tx = self.begin().await.map_err(err)?;
        // A write of no rows: PostgreSQL refuses it (`25006`) when transactions are read-only
        // (`default_transaction_read_only`, a hot standby), as it would refuse an update.
        sqlx::query(WRITE_PROBE)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        tx.rollback().await.map_err(err)
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
        let ctx = || format!("update of {gun}");
        let err = |e| StoreError::from_sqlx(ctx(), e);
        let mut tx = self.begin().await.map_err(err)?;
        lock_gun(&mut tx, gun).await.map_err(err)?;

        let roles: Vec<&str> = batch.min_version.keys().copied().collect();
        let stored = sqlx::query(MAX_VERSIONS)
            .bind(gun)
            .bind(roles.as_slice())
            .fetch_all(&mut *tx)
            .await
            .map_err(err)?;
        for row in &stored {
            let role: String = row.try_get("role").map_err(err)?;
            let max: Option<i32> = row.try_get("version").map_err(err)?;
            batch.check_stored(gun, &role, max.map(i64::from))?;
        }

        let roles: Vec<&str> = batch.rows.iter().map(|r| r.role).collect();
        let versions: Vec<i32> = batch.rows.iter().map(|r| r.version).collect();
        let datas: Vec<&[u8]> = batch.rows.iter().map(|r| r.data).collect();
        let sums: Vec<&str> = batch.rows.iter().map(|r| r.sha256.as_str()).collect();
        let inserted = sqlx::query(INSERT_FILES)
            .bind(gun)
            .bind(roles.as_slice())
            .bind(versions.as_slice())
            .bind(datas.as_slice())
            .bind(sums.as_slice())
            .execute(&mut *tx)
            .await;
        match inserted {
            Ok(_) => {}
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                return Err(batch.first_conflict(gun));
            }
            Err(e) => return Err(err(e)),
        }
        apply_expiry(&mut tx, gun, &expiry).await.map_err(err)?;
        let written = written_files(batch.rows.iter().map(|r| (r.role, r.version, r.data)));
        if !written.is_empty() {
            let stored = key_rows(&mut tx, &[gun])
                .await
                .map_err(err)?
                .remove(gun)
                .unwrap_or_default();
            let plan = Planner::update(stored, written);
            let (delete, insert) = plan_keys(&mut tx, gun, plan, &HashMap::new())
                .await
                .map_err(err)?;
            write_key_rows(&mut tx, &[(gun, delete, insert)])
                .await
                .map_err(err)?;
        }
        if !used.is_empty() {
            let roles: Vec<&str> = used.iter().map(|u| u.role.as_str()).collect();
            let ids: Vec<&str> = used.iter().map(|u| u.key_id.as_str()).collect();
            sqlx::query(MARK_KEYS_USED)
                .bind(gun)
                .bind(roles.as_slice())
                .bind(ids.as_slice())
                .bind(KeyState::Active.as_str())
                .execute(&mut *tx)
                .await
                .map_err(err)?;
        }
        tx.commit().await.map_err(err)
    }

    pub(crate) async fn latest(&self, gun: &str, role: &str) -> StoreResult<Option<StoredFile>> {
        self.file(
            gun,
            || format!("read of {gun} {role}"),
            || {
                sqlx::query(LATEST)
                    .bind(gun)
                    .bind(role)
                    .fetch_optional(&self.pool)
            },
        )
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
        self.file(
            gun,
            || format!("read of {gun} {role}.{sha256_hex}"),
            || {
                sqlx::query(BY_CHECKSUM)
                    .bind(gun)
                    .bind(role)
                    .bind(sha256_hex)
                    .fetch_optional(&self.pool)
            },
        )
        .await
    }

    pub(crate) async fn by_version(
        &self,
        gun: &str,
        role: &str,
        version: i64,
    ) -> StoreResult<Option<StoredFile>> {
        let Ok(version) = i32::try_from(version) else {
            return Ok(None);
        };
        self.file(
            gun,
            || format!("read of {gun} {version}.{role}"),
            || {
                sqlx::query(BY_VERSION)
                    .bind(gun)
                    .bind(role)
                    .bind(version)
                    .fetch_optional(&self.pool)
            },
        )
        .await
    }

    pub(crate) async fn delete(&self, gun: &str) -> StoreResult<bool> {
        let err = |e| StoreError::from_sqlx(format!("delete of {gun}"), e);
        let mut tx = self.begin().await.map_err(err)?;
        lock_gun(&mut tx, gun).await.map_err(err)?;
        let deleted = sqlx::query("DELETE FROM tuf_files WHERE gun = $1")
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
            sqlx::query(
                "INSERT INTO changefeed (created_at, gun, version, sha256, category) \
                 VALUES (now() AT TIME ZONE 'UTC', $1, 0, '', $2)",
            )
            .bind(gun)
            .bind(CATEGORY_DELETION)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        }
        tx.commit().await.map_err(err)?;
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
        let rows = self
            .query(ctx, || {
                let query = sqlx::query(sql).bind(q.bound).bind(q.limit);
                let query = match gun {
                    Some(g) => query.bind(g),
                    None => query,
                };
                query.fetch_all(&self.pool)
            })
            .await?;
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
        // Not retried: an insert whose connection broke may have committed.
        let result = sqlx::query(
            "INSERT INTO signet_server_keys \
             (gun, role, key_id, algorithm, public_key, sealed_private_key, state, \
             hsm_object_id, hsm_label) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&key.gun)
        .bind(&key.role)
        .bind(&key.key_id)
        .bind(&key.algorithm)
        .bind(key.public_key.as_ref())
        .bind(key.sealed_private_key.as_ref())
        .bind(key.state.as_str())
        .bind(key.hsm.as_ref().map(|h| i32::from(h.object_id)))
        .bind(key.hsm.as_ref().map(|h| h.label.as_str()))
        .execute(&self.pool)
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
        let rows = self
            .query(
                || format!("read of {gun} {role} keys"),
                || {
                    sqlx::query(KEYS_BY_ROLE)
                        .bind(gun)
                        .bind(role)
                        .fetch_all(&self.pool)
                },
            )
            .await?;
        rows.iter().map(key_from_row).collect()
    }

    pub(crate) async fn server_key(
        &self,
        gun: &str,
        role: &str,
        key_id: &str,
    ) -> StoreResult<Option<ServerKey>> {
        let row = self
            .query(
                || format!("read of {gun} {role} key {key_id}"),
                || {
                    sqlx::query(KEY_BY_ID)
                        .bind(gun)
                        .bind(role)
                        .bind(key_id)
                        .fetch_optional(&self.pool)
                },
            )
            .await?;
        row.as_ref().map(key_from_row).transpose()
    }

    pub(crate) async fn mark_key_state(
        &self,
        gun: &str,
        role: &str,
        key_id: &str,
        state: KeyState,
    ) -> StoreResult<()> {
        let done = self
            .query(
                || format!("state change of {gun} {role} key {key_id}"),
                || {
                    sqlx::query(
                        "UPDATE signet_server_keys SET state = $4 \
                         WHERE gun = $1 AND role = $2 AND key_id = $3",
                    )
                    .bind(gun)
                    .bind(role)
                    .bind(key_id)
                    .bind(state.as_str())
                    .execute(&self.pool)
                },
            )
            .await?;
        found_key(done.rows_affected(), gun, role, key_id)
    }

    pub(crate) async fn touch_server_key(
        &self,
        gun: &str,
        role: &str,
        key_id: &str,
    ) -> StoreResult<()> {
        let done = self
            .query(
                || format!("use of {gun} {role} key {key_id}"),
                || {
                    sqlx::query(
                        "UPDATE signet_server_keys SET last_used = now() \
                         WHERE gun = $1 AND role = $2 AND key_id = $3",
                    )
                    .bind(gun)
                    .bind(role)
                    .bind(key_id)
                    .execute(&self.pool)
                },
            )
            .await?;
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
        let done = self
            .query(
                || format!("move of {gun} {role} key {key_id} to the YubiHSM 2"),
                || {
                    sqlx::query(
                        "UPDATE signet_server_keys SET hsm_object_id = $4, hsm_label = $5, \
                         sealed_private_key = CASE WHEN $6 THEN ''::bytea \
                         ELSE sealed_private_key END \
                         WHERE gun = $1 AND role = $2 AND key_id = $3",
                    )
                    .bind(gun)
                    .bind(role)
                    .bind(key_id)
                    .bind(i32::from(hsm.object_id))
                    .bind(hsm.label.as_str())
                    .bind(remove_sealed)
                    .execute(&self.pool)
                },
            )
            .await?;
        found_key(done.rows_affected(), gun, role, key_id)
    }

    pub(crate) async fn take_key_off_device(
        &self,
        gun: &str,
        role: &str,
        key_id: &str,
    ) -> StoreResult<bool> {
        let done = self
            .query(
                || format!("move of {gun} {role} key {key_id} off the YubiHSM 2"),
                || {
                    sqlx::query(
                        "UPDATE signet_server_keys SET hsm_object_id = NULL, hsm_label = NULL \
                         WHERE gun = $1 AND role = $2 AND key_id = $3 \
                         AND hsm_object_id IS NOT NULL AND octet_length(sealed_private_key) > 0",
                    )
                    .bind(gun)
                    .bind(role)
                    .bind(key_id)
                    .execute(&self.pool)
                },
            )
            .await?;
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
            .fetch(&self.pool)
            .map(move |row| {
                let row = row.map_err(|e| StoreError::from_sqlx(what, e))?;
                let decode = |e| StoreError::from_sqlx(what, e);
                let version: i32 = row.try_get("version").map_err(decode)?;
                let data: Vec<u8> = row.try_get("data").map_err(decode)?;
                Ok(StoredRoot {
                    gun: row.try_get("gun").map_err(decode)?,
                    version: i64::from(version),
                    data: Bytes::from(data),
                })
            })
            .boxed()
    }

    pub(crate) async fn repositories(&self, q: &RepositoryQuery) -> StoreResult<Vec<String>> {
        let rows = self
            .query(
                || "read of the repository list".to_owned(),
                || {
                    sqlx::query(REPOSITORY_PAGE)
                        .bind(q.after_bound())
                        .bind(q.contains.as_str())
                        .bind(q.only.as_deref())
                        .bind(q.prefixes.as_slice())
                        .bind(q.bound_limit())
                        .fetch_all(&self.pool)
                },
            )
            .await?;
        rows.iter()
            .map(|r| r.try_get::<String, _>("gun"))
            .collect::<Result<_, _>>()
            .map_err(|e| StoreError::from_sqlx("read of the repository list", e))
    }

    pub(crate) async fn earliest_expiries(
        &self,
        guns: &[String],
    ) -> StoreResult<Vec<(String, i64)>> {
        let what = "read of the expiry records of a repository page";
        let rows = self
            .query(
                || what.to_owned(),
                || sqlx::query(EARLIEST_OF).bind(guns).fetch_all(&self.pool),
            )
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("gun")?, r.try_get("earliest")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(|e| StoreError::from_sqlx(what, e))
    }

    pub(crate) async fn all_server_keys(&self) -> StoreResult<Vec<ServerKey>> {
        let rows = self
            .query(
                || "read of every server key".to_owned(),
                || sqlx::query(ALL_KEYS).fetch_all(&self.pool),
            )
            .await?;
        rows.iter().map(key_from_row).collect()
    }

    pub(crate) async fn reseal_server_keys(&self, keys: &[ResealedKey]) -> StoreResult<bool> {
        for k in keys {
            check_key_names(&k.gun, &k.role, &k.key_id)?;
        }
        let ctx = || format!("re-sealing of {} server keys", keys.len());
        // Not retried: a transaction whose connection broke at its commit may have committed.
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(|e| StoreError::from_sqlx(ctx(), e))?;
        // No key is created or changed while the keys are replaced and counted.
        sqlx::query("LOCK TABLE signet_server_keys IN SHARE ROW EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await
            .map_err(|e| StoreError::from_sqlx(ctx(), e))?;
        for k in keys {
            let done = sqlx::query(
                "UPDATE signet_server_keys SET sealed_private_key = $5 \
                 WHERE gun = $1 AND role = $2 AND key_id = $3 AND sealed_private_key = $4",
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
            "SELECT COUNT(*) FROM signet_server_keys WHERE octet_length(sealed_private_key) > 0",
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
        // Not retried: a transaction whose connection broke at its commit may have committed.
        let mut tx = self
            .pool
            .begin()
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
        let row = self
            .query(
                || format!("read of the expiry records of {gun}"),
                || sqlx::query(EXPIRY_VERSIONS).bind(gun).fetch_one(&self.pool),
            )
            .await?;
        versions_of(&row).map_err(|e| StoreError::from_sqlx(format!("expiry records of {gun}"), e))
    }

    /// Rewrites the expiry records of `gun` with `plan`, made from its files up to snapshot
    /// `snapshot_version` (`None`: it had none), unless its latest stored snapshot is another
    /// one by now (see [`superseded`]). Holds the GUN's writer lock. Returns whether the records were rewritten.
    pub(crate) async fn replace_expiry(
        &self,
        gun: &str,
        snapshot_version: Option<i32>,
        plan: &ExpiryPlan,
    ) -> StoreResult<bool> {
        let err = |e| StoreError::from_sqlx(format!("expiry records of {gun}"), e);
        let mut tx = self.begin().await.map_err(err)?;
        lock_gun(&mut tx, gun).await.map_err(err)?;
        let row = sqlx::query(EXPIRY_VERSIONS)
            .bind(gun)
            .fetch_one(&mut *tx)
            .await
            .map_err(err)?;
        let (_, latest) = versions_of(&row).map_err(err)?;
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

    /// Indexes the keys of `gun` again from its stored files.
    pub(crate) async fn reindex_keys(&self, gun: &str) -> StoreResult<()> {
        let err = |e| StoreError::from_sqlx(format!("key index of {gun}"), e);
        let mut tx = self.begin().await.map_err(err)?;
        lock_gun(&mut tx, gun).await.map_err(err)?;
        let stored = key_rows(&mut tx, &[gun])
            .await
            .map_err(err)?
            .remove(gun)
            .unwrap_or_default();
        let (delete, insert) = plan_keys(&mut tx, gun, Planner::rebuild(stored), &HashMap::new())
            .await
            .map_err(err)?;
        write_key_rows(&mut tx, &[(gun, delete, insert)])
            .await
            .map_err(err)?;
        tx.commit().await.map_err(err)
    }

    /// One step of the key index backfill: indexes the next `batch` GUNs in one transaction.
    /// `None` when the backfill is done; `Some(0)` when this step found the end.
    pub(crate) async fn backfill_keys_step(&self, batch: u32) -> StoreResult<Option<usize>> {
        let err = |e| StoreError::from_sqlx("key index backfill", e);
        let mut tx = self.begin().await.map_err(err)?;
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
        let Some(end) = guns.last() else {
            sqlx::query(BACKFILL_DONE)
                .execute(&mut *tx)
                .await
                .map_err(err)?;
            tx.commit().await.map_err(err)?;
            return Ok(Some(0));
        };
        let names: Vec<&str> = guns.iter().map(String::as_str).collect();
        let mut locks: Vec<i32> = names.iter().map(|g| batch::gun_lock_key(g)).collect();
        locks.sort_unstable();
        locks.dedup();
        sqlx::query(LOCK_GUNS)
            .bind(GUN_LOCK_CLASS)
            .bind(&locks)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        let mut read = HashMap::new();
        for r in sqlx::query(LATEST_ROOTS_AND_TARGETS)
            .bind(&names)
            .fetch_all(&mut *tx)
            .await
            .map_err(err)?
        {
            let key: (String, String) = (
                r.try_get("gun").map_err(err)?,
                r.try_get("role").map_err(err)?,
            );
            read.insert(key, r.try_get::<Vec<u8>, _>("data").map_err(err)?);
        }
        let mut stored = key_rows(&mut tx, &names).await.map_err(err)?;
        let mut changes = Vec::with_capacity(names.len());
        for gun in &names {
            let plan = Planner::rebuild(stored.remove(*gun).unwrap_or_default());
            let (delete, insert) = plan_keys(&mut tx, gun, plan, &read).await.map_err(err)?;
            changes.push((*gun, delete, insert));
        }
        write_key_rows(&mut tx, &changes).await.map_err(err)?;
        sqlx::query(BACKFILL_ADVANCE)
            .bind(end)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
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
        let rows = self
            .query(
                || format!("read of the roles trusting key {key_id}"),
                || {
                    sqlx::query(TRUSTED_BY)
                        .bind(key_id)
                        .bind(&after.gun)
                        .bind(&after.role)
                        .bind(limit)
                        .fetch_all(&self.pool)
                },
            )
            .await?;
        rows.iter()
            .map(TrustingRole::from_row)
            .collect::<Result<_, sqlx::Error>>()
            .map_err(|e| {
                StoreError::from_sqlx(format!("decode of the roles trusting key {key_id}"), e)
            })
    }

    pub(crate) async fn expiry_cursor(&self) -> StoreResult<i64> {
        let cursor: Option<i64> = self
            .query(
                || "read of the expiry cursor".to_owned(),
                || sqlx::query_scalar(EXPIRY_CURSOR).fetch_optional(&self.pool),
            )
            .await?;
        Ok(cursor.unwrap_or(0))
    }

    pub(crate) async fn advance_expiry_cursor(&self, to: i64) -> StoreResult<()> {
        self.query(
            || "move of the expiry cursor".to_owned(),
            || {
                sqlx::query(ADVANCE_EXPIRY_CURSOR)
                    .bind(to)
                    .execute(&self.pool)
            },
        )
        .await
        .map(|_| ())
    }

    pub(crate) async fn expiry_backlog(&self) -> StoreResult<u64> {
        let n: i64 = self
            .query(
                || "read of the expiry backlog".to_owned(),
                || sqlx::query_scalar(EXPIRY_BACKLOG).fetch_one(&self.pool),
            )
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    pub(crate) async fn expiry_summary(&self, now: i64) -> StoreResult<ExpirySummary> {
        let what = || "read of the metadata expiry".to_owned();
        let err = |e| StoreError::from_sqlx(what(), e);
        let (now, in_7d, in_30d) = windows(now);
        let windows_rows = self
            .query(what, || {
                sqlx::query(EXPIRY_WINDOWS)
                    .bind(now)
                    .bind(in_7d)
                    .bind(in_30d)
                    .fetch_all(&self.pool)
            })
            .await?;
        let earliest = self
            .query(what, || sqlx::query(EARLIEST).fetch_all(&self.pool))
            .await?;
        ExpirySummary::from_rows(now, &windows_rows, &earliest).map_err(err)
    }

    pub(crate) async fn server_key_counts(&self) -> StoreResult<Vec<ServerKeyCount>> {
        let what = || "count of the server keys".to_owned();
        let rows = self
            .query(what, || sqlx::query(KEY_COUNTS).fetch_all(&self.pool))
            .await?;
        rows.iter()
            .map(ServerKeyCount::from_row)
            .collect::<Result<_, sqlx::Error>>()
            .map_err(|e| StoreError::from_sqlx(what(), e))
    }

    pub(crate) fn pool_stats(&self) -> Vec<PoolStats> {
        vec![PoolStats::of("main", &self.pool)]
    }

    /// Begins the transaction of a [`super::CopySession`]: a read-only snapshot for a dry
    /// run; else a transaction that keeps other writers out of `tuf_files` and `changefeed`
    /// (readers go on) and may sit idle between batches while the source is read.
    pub(crate) async fn begin_copy(&self, dry_run: bool) -> StoreResult<PgCopy> {
        let err = |e| StoreError::from_sqlx("copy of notary-server rows", e);
        let tx = if dry_run {
            self.pool
                .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                .await
                .map_err(err)?
        } else {
            let mut tx = self.begin().await.map_err(err)?;
            for sql in [
                "SET LOCAL idle_in_transaction_session_timeout = '10min'",
                "LOCK TABLE tuf_files, changefeed IN SHARE ROW EXCLUSIVE MODE",
            ] {
                sqlx::query(sql).execute(&mut *tx).await.map_err(err)?;
            }
            tx
        };
        Ok(PgCopy { tx, dry_run })
    }

    pub(crate) async fn close(&self) {
        self.pool.close().await;
    }
}

/// The recorded and the latest snapshot version of an [`EXPIRY_VERSIONS`] row.
fn versions_of(row: &PgRow) -> Result<(Option<i64>, Option<i64>), sqlx::Error> {
    let recorded: Option<i32> = row.try_get("recorded")?;
    let latest: Option<i32> = row.try_get("latest")?;
    Ok((recorded.map(i64::from), latest.map(i64::from)))
}

/// The transaction of a [`super::CopySession`] on PostgreSQL.
pub(crate) struct PgCopy {
    tx: sqlx::Transaction<'static, sqlx::Postgres>,
    dry_run: bool,
}

impl PgCopy {
    pub(crate) async fn files(&mut self, rows: &[CopiedFile]) -> StoreResult<Vec<CopyOutcome>> {
        let err = |e| StoreError::from_sqlx("copy of tuf_files rows", e);
        let guns: Vec<&str> = rows.iter().map(|r| r.gun.as_str()).collect();
        let roles: Vec<&str> = rows.iter().map(|r| r.role.as_str()).collect();
        let versions: Vec<i32> = rows.iter().map(|r| version32(r.version)).collect();
        let stored = sqlx::query(COPY_STORED_FILES)
            .bind(guns.as_slice())
            .bind(roles.as_slice())
            .bind(versions.as_slice())
            .fetch_all(&mut *self.tx)
            .await
            .map_err(err)?;
        let mut by_key = HashMap::with_capacity(stored.len());
        for row in &stored {
            let f = copied_file_from_row(row)?;
            by_key.insert(file_key(&f), f);
        }
        let (outcomes, insert) = classify(rows, file_key, &by_key, file_differences);
        if insert.is_empty() || self.dry_run {
            return Ok(outcomes);
        }
        let new: Vec<&CopiedFile> = insert.iter().filter_map(|&i| rows.get(i)).collect();
        let naive = |t: Option<DateTime<Utc>>| t.map(|t| t.naive_utc());
        let created: Vec<Option<NaiveDateTime>> = new.iter().map(|r| naive(r.created_at)).collect();
        let updated: Vec<Option<NaiveDateTime>> = new.iter().map(|r| naive(r.updated_at)).collect();
        let deleted: Vec<Option<NaiveDateTime>> = new.iter().map(|r| naive(r.deleted_at)).collect();
        let guns: Vec<&str> = new.iter().map(|r| r.gun.as_str()).collect();
        let roles: Vec<&str> = new.iter().map(|r| r.role.as_str()).collect();
        let versions: Vec<i32> = new.iter().map(|r| version32(r.version)).collect();
        let datas: Vec<&[u8]> = new.iter().map(|r| r.data.as_ref()).collect();
        let sums: Vec<&str> = new.iter().map(|r| r.sha256.as_str()).collect();
        sqlx::query(COPY_INSERT_FILES)
            .bind(created.as_slice())
            .bind(updated.as_slice())
            .bind(deleted.as_slice())
            .bind(guns.as_slice())
            .bind(roles.as_slice())
            .bind(versions.as_slice())
            .bind(datas.as_slice())
            .bind(sums.as_slice())
            .execute(&mut *self.tx)
            .await
            .map_err(err)?;
        Ok(outcomes)
    }

    pub(crate) async fn changes(&mut self, rows: &[CopiedChange]) -> StoreResult<Vec<CopyOutcome>> {
        let err = |e| StoreError::from_sqlx("copy of changefeed records", e);
        let ids: Vec<i32> = rows.iter().map(|r| version32(r.id)).collect();
        let stored = sqlx::query(COPY_STORED_CHANGES)
            .bind(ids.as_slice())
            .fetch_all(&mut *self.tx)
            .await
            .map_err(err)?;
        let mut by_id = HashMap::with_capacity(stored.len());
        for row in &stored {
            let c = copied_change_from_row(row).map_err(err)?;
            by_id.insert(c.id, c);
        }
        let (outcomes, insert) = classify(rows, |r| r.id, &by_id, change_differences);
        if insert.is_empty() || self.dry_run {
            return Ok(outcomes);
        }
        let new: Vec<&CopiedChange> = insert.iter().filter_map(|&i| rows.get(i)).collect();
        let categories: Vec<&str> = new.iter().map(|r| r.category.as_str()).collect();
        sqlx::query(COPY_INSERT_CATEGORIES)
            .bind(categories.as_slice())
            .execute(&mut *self.tx)
            .await
            .map_err(err)?;
        let ids: Vec<i32> = new.iter().map(|r| version32(r.id)).collect();
        let created: Vec<Option<NaiveDateTime>> = new
            .iter()
            .map(|r| r.created_at.map(|t| t.naive_utc()))
            .collect();
        let guns: Vec<&str> = new.iter().map(|r| r.gun.as_str()).collect();
        let versions: Vec<i32> = new.iter().map(|r| version32(r.version)).collect();
        let sums: Vec<Option<&str>> = new.iter().map(|r| r.sha256.as_deref()).collect();
        sqlx::query(COPY_INSERT_CHANGES)
            .bind(ids.as_slice())
            .bind(created.as_slice())
            .bind(guns.as_slice())
            .bind(versions.as_slice())
            .bind(sums.as_slice())
            .bind(categories.as_slice())
            .execute(&mut *self.tx)
            .await
            .map_err(err)?;
        Ok(outcomes)
    }

    pub(crate) async fn finish(mut self) -> StoreResult<()> {
        let err = |e| StoreError::from_sqlx("commit of the copied notary-server rows", e);
        if self.dry_run {
            return self.tx.rollback().await.map_err(err);
        }
        sqlx::query(COPY_ADVANCE_SEQUENCE)
            .execute(&mut *self.tx)
            .await
            .map_err(err)?;
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

/// A version or ID already checked to fit the `integer` columns.
fn version32(v: i64) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

fn copied_file_from_row(row: &PgRow) -> StoreResult<CopiedFile> {
    let decode = |e| StoreError::from_sqlx("decode of a stored tuf_files row", e);
    let version: i32 = row.try_get("version").map_err(decode)?;
    let data: Vec<u8> = row.try_get("data").map_err(decode)?;
    let sha256: Option<String> = row.try_get("sha256").map_err(decode)?;
    let time = |col: &str| -> StoreResult<Option<DateTime<Utc>>> {
        let t: Option<NaiveDateTime> = row.try_get(col).map_err(decode)?;
        Ok(t.map(|t| t.and_utc()))
    };
    Ok(CopiedFile {
        gun: row.try_get("gun").map_err(decode)?,
        role: row.try_get("role").map_err(decode)?,
        version: i64::from(version),
        sha256: stored_sha256(sha256, &data),
        data: Bytes::from(data),
        created_at: time("created_at")?,
        updated_at: time("updated_at")?,
        deleted_at: time("deleted_at")?,
    })
}

fn copied_change_from_row(row: &PgRow) -> Result<CopiedChange, sqlx::Error> {
    let id: i32 = row.try_get("id")?;
    let created_at: Option<NaiveDateTime> = row.try_get("created_at")?;
    let version: i32 = row.try_get("version")?;
    let sha256: Option<String> = row.try_get("sha256")?;
    Ok(CopiedChange {
        id: i64::from(id),
        created_at: created_at.map(|t| t.and_utc()),
        gun: row.try_get("gun")?,
        version: i64::from(version),
        sha256: sha256.map(|s| s.trim_end().to_owned()),
        category: row.try_get("category")?,
    })
}

fn file_from_row(gun: &str, row: &PgRow) -> StoreResult<StoredFile> {
    let decode = |e| StoreError::from_sqlx(format!("decode of a {gun} row"), e);
    let role: String = row.try_get("role").map_err(decode)?;
    let version: i32 = row.try_get("version").map_err(decode)?;
    let sha256: Option<String> = row.try_get("sha256").map_err(decode)?;
    let data: Vec<u8> = row.try_get("data").map_err(decode)?;
    let created_at: Option<NaiveDateTime> = row.try_get("created_at").map_err(decode)?;
    Ok(StoredFile {
        sha256: checksum_of(sha256.as_deref(), &data),
        role,
        version: i64::from(version),
        data: Bytes::from(data),
        created_at: created_at.map_or_else(zero_time, |t| t.and_utc()),
    })
}

fn change_from_row(row: &PgRow) -> Result<Change, sqlx::Error> {
    let id: i32 = row.try_get("id")?;
    let created_at: Option<NaiveDateTime> = row.try_get("created_at")?;
    let version: i32 = row.try_get("version")?;
    let sha256: Option<String> = row.try_get("sha256")?;
    Ok(Change {
        id: i64::from(id),
        created_at: created_at.map_or_else(zero_time, |t| t.and_utc()),
        gun: row.try_get("gun")?,
        version: i64::from(version),
        sha256: sha256.map(|s| s.trim_end().to_owned()).unwrap_or_default(),
        category: row.try_get("category")?,
    })
}

fn key_from_row(row: &PgRow) -> StoreResult<ServerKey> {
    let gun: String = row.try_get("gun").map_err(key_decode)?;
    let role: String = row.try_get("role").map_err(key_decode)?;
    let state: String = row.try_get("state").map_err(key_decode)?;
    let state = state.parse().map_err(|e| StoreError::Corrupt {
        gun: gun.clone(),
        role: role.clone(),
        detail: format!("server key: {e}"),
    })?;
    let public_key: Vec<u8> = row.try_get("public_key").map_err(key_decode)?;
    let sealed: Vec<u8> = row.try_get("sealed_private_key").map_err(key_decode)?;
    let created_at: DateTime<Utc> = row.try_get("created_at").map_err(key_decode)?;
    let object_id: Option<i32> = row.try_get("hsm_object_id").map_err(key_decode)?;
    let label: Option<String> = row.try_get("hsm_label").map_err(key_decode)?;
    let hsm = hsm_ref(&gun, &role, object_id.map(i64::from), label)?;
    Ok(ServerKey {
        key_id: row.try_get("key_id").map_err(key_decode)?,
        algorithm: row.try_get("algorithm").map_err(key_decode)?,
        public_key: Bytes::from(public_key),
        sealed_private_key: Bytes::from(sealed),
        state,
        created_at,
        last_used: row.try_get("last_used").map_err(key_decode)?,
        hsm,
        gun,
        role,
    })
}

fn key_decode(e: sqlx::Error) -> StoreError {
    StoreError::from_sqlx("decode of a server key row", e)
}

/// The driver's error on connecting, in words: an I/O error by its kind where that says it all.
fn connect_reason(error: &sqlx::Error) -> String {
    match error {
        sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            "connection refused (nothing listens there)".to_owned()
        }
        sqlx::Error::Io(io) => io.to_string(),
        sqlx::Error::Database(db) => db.message().to_owned(),
        other => other.to_string(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const BASE: &str = "postgres://postgres@127.0.0.1:5432/test";

    enum P {
        S(&'static str),
        I4(i32),
        I8(i64),
        A(&'static [&'static str]),
    }

    /// A migrated store in a fresh schema, and an admin pool to drop it; `None` (with a
    /// notice) when Postgres is down and CI is unset.
    async fn fresh() -> Option<(PgStore, PgPool, String)> {
        let admin = match PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(3))
            .connect(BASE)
            .await
        {
            Ok(p) => p,
            Err(e) if std::env::var_os("CI").is_some() => {
                panic!("CI is set and Postgres at {BASE} is unreachable: {e}")
            }
            Err(e) => {
                eprintln!("skipping: Postgres at {BASE} is unreachable: {e}");
                return None;
            }
        };
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let schema = format!("signet_u_{}_{nanos}", std::process::id());
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&admin)
            .await
            .unwrap();
        let url = format!("{BASE}?options=-c%20search_path%3D{schema}");
        let store = PgStore::open(&url, &StoreOptions::default()).unwrap();
        store.migrate().await.unwrap();
        Some((store, admin, schema))
    }

    async fn plan(store: &PgStore, sql: &str, params: &[P]) -> String {
        let mut conn = store.pool.acquire().await.unwrap();
        sqlx::query("SET enable_seqscan = off")
            .execute(&mut *conn)
            .await
            .unwrap();
        let explain = format!("EXPLAIN {sql}");
        let mut q = sqlx::query(&explain);
        for p in params {
            q = match p {
                P::S(s) => q.bind(*s),
                P::I4(n) => q.bind(*n),
                P::I8(n) => q.bind(*n),
                P::A(a) => q.bind(*a),
            };
        }
        let rows = q.fetch_all(&mut *conn).await.unwrap();
        sqlx::query("RESET enable_seqscan")
            .execute(&mut *conn)
            .await
            .unwrap();
        rows.iter()
            .map(|r| r.get::<String, _>(0))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[tokio::test]
    async fn hot_queries_use_indexes() {
        let Some((store, admin, schema)) = fresh().await else {
            return;
        };
        let outcome = tokio::spawn(check_plans(store.clone())).await;
        store.close().await;
        sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
            .execute(&admin)
            .await
            .unwrap();
        if let Err(e) = outcome {
            std::panic::resume_unwind(e.into_panic());
        }
    }

    async fn check_plans(store: PgStore) {
        // Realistic statistics: many GUNs, roles and versions.
        sqlx::raw_sql(
            "INSERT INTO tuf_files (created_at, updated_at, gun, role, version, data, sha256) \
             SELECT now(), now(), 'gun' || g, r, v, convert_to(g || r || v, 'UTF8'), \
                    encode(sha256(convert_to(g || r || v, 'UTF8')), 'hex') \
             FROM generate_series(1, 50) g, unnest(ARRAY['root', 'targets', 'snapshot', \
                  'timestamp']) r, generate_series(1, 20) v; \
             INSERT INTO changefeed (created_at, gun, version, sha256) \
             SELECT now(), 'gun' || g, v, '' FROM generate_series(1, 500) v, \
                    generate_series(1, 50) g ORDER BY v, g; \
             INSERT INTO changefeed (created_at, gun, version, sha256) \
             SELECT now(), 'rare', v, '' FROM generate_series(1, 5) v; \
             ANALYZE tuf_files; ANALYZE changefeed;",
        )
        .execute(&store.pool)
        .await
        .unwrap();
        let sum = "ab".repeat(32).leak();
        // (query, parameters, the index it must use without sorting; None: any index).
        let cases: [(&str, Vec<P>, Option<&str>); 8] = [
            (
                LATEST,
                vec![P::S("gun7"), P::S("targets")],
                Some("tuf_files_gun_role_version_key"),
            ),
            (
                BY_VERSION,
                vec![P::S("gun7"), P::S("targets"), P::I4(3)],
                Some("tuf_files_gun_role_version_key"),
            ),
            (
                BY_CHECKSUM,
                vec![P::S("gun7"), P::S("targets"), P::S(sum)],
                Some("signet_tuf_files_gun_role_sha256_idx"),
            ),
            (
                MAX_VERSIONS,
                vec![P::S("gun7"), P::A(&["root", "timestamp"])],
                Some("tuf_files_gun_role_version_key"),
            ),
            (
                CHANGES_AFTER,
                vec![P::I8(5), P::I8(10)],
                Some("changefeed_pkey"),
            ),
            (
                CHANGES_BEFORE,
                vec![P::I8(i64::MAX), P::I8(10)],
                Some("changefeed_pkey"),
            ),
            // Whether the per-GUN pages walk the primary key or a GUN index depends on how
            // many records the GUN has.
            (
                GUN_CHANGES_AFTER,
                vec![P::I8(5), P::I8(10), P::S("rare")],
                None,
            ),
            (
                GUN_CHANGES_BEFORE,
                vec![P::I8(i64::MAX), P::I8(10), P::S("gun7")],
                None,
            ),
        ];
        for (sql, params, index) in &cases {
            let p = plan(&store, sql, params).await;
            assert!(!p.contains("Seq Scan"), "{sql}:\n{p}");
            if let Some(index) = index {
                assert!(!p.contains("Sort"), "{sql}:\n{p}");
                assert!(p.contains(index), "{sql}: expected {index}:\n{p}");
            }
        }
        // The checksum is compared inside the index, not filtered afterwards.
        let p = plan(
            &store,
            BY_CHECKSUM,
            &[P::S("gun7"), P::S("targets"), P::S(sum)],
        )
        .await;
        assert!(
            p.lines()
                .any(|l| l.contains("Index Cond") && l.contains("sha256")),
            "{p}"
        );

        // A page of the roles trusting a key many repositories trust is one range of the key
        // ID index, in order, the cursor compared inside it.
        sqlx::raw_sql(
            "INSERT INTO signet_key_trust (gun, role, key_id, listed_key_id, source) \
             SELECT 'gun' || g, 'root', 'fleet', 'fleet', 'root' \
               FROM generate_series(1, 20000) g; \
             INSERT INTO signet_key_trust (gun, role, key_id, listed_key_id, source) \
             SELECT 'gun' || g, 'targets', 'key' || g, 'key' || g, 'root' \
               FROM generate_series(1, 20000) g; \
             ANALYZE signet_key_trust;",
        )
        .execute(&store.pool)
        .await
        .unwrap();
        let p = plan(
            &store,
            TRUSTED_BY,
            &[P::S("fleet"), P::S("gun10"), P::S("root"), P::I8(101)],
        )
        .await;
        assert!(p.contains("signet_key_trust_key_id_idx"), "{p}");
        assert!(!p.contains("Sort") && !p.contains("Seq Scan"), "{p}");
        assert!(
            p.lines()
                .any(|l| l.contains("Index Cond") && l.contains("gun")),
            "{p}"
        );
    }
}
