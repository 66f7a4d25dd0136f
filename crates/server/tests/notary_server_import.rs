//! `import-notary-server`: a Go notary-server database (the Go schema from
//! the workspace's `tests/data/notary-server-schema/`, rows written as the Go server writes them, with the
//! metadata the real Go notary-server stored in `tests/data/notary-signer/metadata.json`) is
//! copied into a fresh signet store on PostgreSQL and on SQLite, and served through signet's
//! router byte for byte.
//!
//! The MySQL/MariaDB source is the server at `SIGNET_TEST_MYSQL_URL` (default
//! `mysql://signet:signet@127.0.0.1:3306`, which `scripts/test` sets up); PostgreSQL is the
//! local test database. Without either, the tests that need it fail when `CI` is set and
//! skip otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::str::FromStr as _;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use common::{PgSchema, TestServer};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use signet_server::cache::CacheSettings;
use signet_server::error::{NotaryServerError, RowConflict};
use signet_server::http::HttpSettings;
use signet_server::notary_server::{self, ServerDb, ServerImportOptions, ServerImportReport};
use signet_server::store::{Change, ExpiryRole, FileUpdate, Store};
use sqlx::Row as _;
use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions};
use sqlx::postgres::{PgPool, PgPoolOptions};

const ECDSA_GUN: &str = "example.com/fixtures/ecdsa";
const ED25519_GUN: &str = "example.com/fixtures/ed25519";
const DELETED_GUN: &str = "example.com/fixtures/deleted";
const LATE_GUN: &str = "example.com/fixtures/late";

const MYSQL_SCHEMA: [&str; 5] = [
    include_str!("../../../tests/data/notary-server-schema/mysql/0001_initial.up.sql"),
    include_str!("../../../tests/data/notary-server-schema/mysql/0002_role_on_keys.up.sql"),
    include_str!("../../../tests/data/notary-server-schema/mysql/0003_add_sha256_tuf_files.up.sql"),
    include_str!("../../../tests/data/notary-server-schema/mysql/0004_drop_timestamp_key.up.sql"),
    include_str!("../../../tests/data/notary-server-schema/mysql/0005_changefeed.up.sql"),
];
const PG_SCHEMA: [&str; 2] = [
    include_str!("../../../tests/data/notary-server-schema/postgresql/0001_initial.up.sql"),
    include_str!("../../../tests/data/notary-server-schema/postgresql/0002_changefeed.up.sql"),
];

// ---------------------------------------------------------------------------------------
// The rows of the Go database.

/// One `tuf_files` row of the real Go notary-server.
#[derive(Debug, Clone, Deserialize)]
struct MetaRow {
    gun: String,
    role: String,
    version: i64,
    data: String,
}

fn sha_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// A `tuf_files` row to write into the source.
#[derive(Debug, Clone)]
struct SrcFile {
    gun: String,
    role: String,
    version: i64,
    data: Vec<u8>,
    /// `None`: NULL in the source (computed on import).
    sha256: Option<String>,
    created: NaiveDateTime,
    deleted: Option<NaiveDateTime>,
}

impl SrcFile {
    fn checksum(&self) -> String {
        self.sha256.clone().unwrap_or_else(|| sha_hex(&self.data))
    }
}

/// A changefeed record to write into the source.
#[derive(Debug, Clone)]
struct SrcChange {
    id: i64,
    /// `None`: a MySQL zero date, which reads as Go's zero time.
    created: Option<NaiveDateTime>,
    gun: String,
    version: i64,
    sha256: String,
    category: &'static str,
}

impl SrcChange {
    fn expected(&self) -> Change {
        Change {
            id: self.id,
            created_at: self.created.map_or_else(go_zero_time, |t| t.and_utc()),
            gun: self.gun.clone(),
            version: self.version,
            sha256: self.sha256.clone(),
            category: self.category.to_owned(),
        }
    }
}

fn go_zero_time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("0001-01-01T00:00:00Z")
        .unwrap()
        .to_utc()
}

/// What a Go notary-server database holds: the fixture metadata (published at one-second
/// intervals), a GUN published and then deleted (only its changefeed records remain), a row
/// whose checksum column is NULL, a live delegation and a soft-deleted row. Changefeed IDs
/// have a gap, as a rolled-back Go transaction leaves one. With `fractions`, times carry
/// microseconds (PostgreSQL); without, whole seconds (MySQL `timestamp`), and one record has a
/// zero date.
struct Fixture {
    files: Vec<SrcFile>,
    changes: Vec<SrcChange>,
}

fn fixture(fractions: bool) -> Fixture {
    let meta: Vec<MetaRow> =
        serde_json::from_str(include_str!("data/notary-signer/metadata.json")).unwrap();
    let base = NaiveDateTime::parse_from_str("2026-12-06 18:53:33", "%Y-%m-%d %H:%M:%S").unwrap();
    let at = |i: usize| {
        let t = base + chrono::Duration::seconds(i64::try_from(i).unwrap());
        if fractions {
            t + chrono::Duration::microseconds(123_456 + i64::try_from(i).unwrap())
        } else {
            t
        }
    };
    let mut files = Vec::new();
    let mut changes = Vec::new();
    let mut next_id = 1;
    // The deleted GUN came first: published (a timestamp), then deleted.
    changes.push(SrcChange {
        id: next_id,
        created: if fractions { Some(at(0)) } else { None },
        gun: DELETED_GUN.to_owned(),
        version: 1,
        sha256: sha_hex(b"a timestamp since deleted"),
        category: "update",
    });
    next_id += 1;
    changes.push(SrcChange {
        id: next_id,
        created: Some(at(1)),
        gun: DELETED_GUN.to_owned(),
        version: 0,
        sha256: String::new(),
        category: "deletion",
    });
    next_id += 2; // a gap
    for (i, m) in meta.iter().enumerate() {
        let created = at(10 + i);
        let data = m.data.clone().into_bytes();
        let sha256 = sha_hex(&data);
        if m.role == "timestamp" {
            changes.push(SrcChange {
                id: next_id,
                created: Some(created),
                gun: m.gun.clone(),
                version: m.version,
                sha256: sha256.clone(),
                category: "update",
            });
            next_id += 1;
        }
        // One row without a checksum (the current targets of the ed25519 GUN, so serving
        // it needs the computed one).
        let null_sum = m.gun == ED25519_GUN && m.role == "targets";
        files.push(SrcFile {
            gun: m.gun.clone(),
            role: m.role.clone(),
            version: m.version,
            data,
            sha256: (!null_sum).then_some(sha256),
            created,
            deleted: None,
        });
    }
    let targets = files
        .iter()
        .find(|f| f.gun == ECDSA_GUN && f.role == "targets")
        .unwrap()
        .data
        .clone();
    files.push(SrcFile {
        gun: ECDSA_GUN.to_owned(),
        role: "targets/releases".to_owned(),
        version: 1,
        sha256: Some(sha_hex(&targets)),
        data: targets.clone(),
        created: at(40),
        deleted: None,
    });
    let mut old = targets;
    old.extend_from_slice(b"\n");
    files.push(SrcFile {
        gun: ECDSA_GUN.to_owned(),
        role: "targets/old".to_owned(),
        version: 1,
        sha256: Some(sha_hex(&old)),
        data: old,
        created: at(41),
        deleted: Some(at(42)),
    });
    Fixture { files, changes }
}

// ---------------------------------------------------------------------------------------
// Source databases.

fn mysql_base() -> String {
    std::env::var("SIGNET_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://signet:signet@127.0.0.1:3306".to_owned())
}

/// A MySQL connection as the Go driver makes one: the session keeps the server's time zone.
fn mysql_options(url: &str) -> MySqlConnectOptions {
    MySqlConnectOptions::from_str(url).unwrap().timezone(None)
}

/// A MySQL database dropped (with everything in it) when the value is dropped.
struct MySqlDatabase {
    base: String,
    name: String,
}

impl MySqlDatabase {
    /// Creates the database; `None` (skip) when no MySQL answers and `CI` is unset.
    async fn new() -> Option<Self> {
        use sqlx::Connection as _;
        let base = mysql_base();
        let mut admin = match tokio::time::timeout(
            Duration::from_secs(5),
            sqlx::MySqlConnection::connect_with(&mysql_options(&base)),
        )
        .await
        {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => return common::missing(&format!("no MySQL/MariaDB at {base}: {e}")),
            Err(_) => return common::missing(&format!("no MySQL/MariaDB answers at {base}")),
        };
        let name = common::unique_name("signet_ns");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .unwrap();
        let _ = admin.close().await;
        Some(Self { base, name })
    }

    fn url(&self) -> String {
        format!("{}/{}", self.base, self.name)
    }
}

impl Drop for MySqlDatabase {
    fn drop(&mut self) {
        let (base, name) = (self.base.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                use sqlx::Connection as _;
                if let Ok(mut conn) = sqlx::MySqlConnection::connect(&base).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
                        .execute(&mut conn)
                        .await;
                    let _ = conn.close().await;
                }
            });
        })
        .join();
    }
}

/// A Go notary-server database holding a [`Fixture`].
enum Source {
    MySql(MySqlDatabase, MySqlPool),
    Postgres(PgSchema, PgPool),
}

impl Source {
    /// A MySQL database with the Go schema (its five migrations, in order).
    async fn mysql() -> Option<Self> {
        let db = MySqlDatabase::new().await?;
        let pool = MySqlPoolOptions::new()
            .max_connections(2)
            .connect_with(mysql_options(&db.url()))
            .await
            .unwrap();
        for sql in MYSQL_SCHEMA {
            sqlx::raw_sql(sql).execute(&pool).await.unwrap();
        }
        Some(Self::MySql(db, pool))
    }

    /// A PostgreSQL schema with the Go schema (its two migrations).
    async fn postgres() -> Option<Self> {
        let schema = PgSchema::new().await?;
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .connect(&schema.url)
            .await
            .unwrap();
        for sql in PG_SCHEMA {
            sqlx::raw_sql(sql).execute(&pool).await.unwrap();
        }
        Some(Self::Postgres(schema, pool))
    }

    fn url(&self) -> String {
        match self {
            Self::MySql(db, _) => db.url(),
            Self::Postgres(schema, _) => schema.url.clone(),
        }
    }

    fn is_mysql(&self) -> bool {
        matches!(self, Self::MySql(..))
    }

    /// Inserts a row as gorm does (created_at = updated_at).
    async fn insert_file(&self, f: &SrcFile) {
        match self {
            Self::MySql(_, pool) => {
                sqlx::query(
                    "INSERT INTO tuf_files (created_at, updated_at, deleted_at, gun, role, \
                     version, data, sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                )
                .bind(f.created)
                .bind(f.created)
                .bind(f.deleted)
                .bind(&f.gun)
                .bind(&f.role)
                .bind(f.version)
                .bind(&f.data)
                .bind(&f.sha256)
                .execute(pool)
                .await
                .unwrap();
            }
            Self::Postgres(_, pool) => {
                sqlx::query(
                    "INSERT INTO tuf_files (created_at, updated_at, deleted_at, gun, role, \
                     version, data, sha256) VALUES ($1, $1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(f.created)
                .bind(f.deleted)
                .bind(&f.gun)
                .bind(&f.role)
                .bind(i32::try_from(f.version).unwrap())
                .bind(&f.data)
                .bind(&f.sha256)
                .execute(pool)
                .await
                .unwrap();
            }
        }
    }

    async fn insert_change(&self, c: &SrcChange) {
        match self {
            Self::MySql(_, pool) => {
                let created = c.created.map_or_else(
                    || "0000-00-00 00:00:00".to_owned(),
                    |t| t.format("%Y-%m-%d %H:%M:%S").to_string(),
                );
                sqlx::query(
                    "INSERT INTO changefeed (id, created_at, gun, version, sha256, category) \
                     VALUES (?, ?, ?, ?, ?, ?)",
                )
                .bind(c.id)
                .bind(created)
                .bind(&c.gun)
                .bind(c.version)
                .bind(&c.sha256)
                .bind(c.category)
                .execute(pool)
                .await
                .unwrap();
            }
            Self::Postgres(_, pool) => {
                sqlx::query(
                    "INSERT INTO changefeed (id, created_at, gun, version, sha256, category) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(i32::try_from(c.id).unwrap())
                .bind(c.created.unwrap())
                .bind(&c.gun)
                .bind(i32::try_from(c.version).unwrap())
                .bind(&c.sha256)
                .bind(c.category)
                .execute(pool)
                .await
                .unwrap();
            }
        }
    }

    async fn fill(&self, fixture: &Fixture) {
        for f in &fixture.files {
            self.insert_file(f).await;
        }
        for c in &fixture.changes {
            self.insert_change(c).await;
        }
    }

    /// Changes the data of one stored file and the time of one change record.
    async fn tamper(&self, gun: &str, role: &str, version: i64, change_id: i64) {
        match self {
            Self::MySql(_, pool) => {
                sqlx::query(
                    "UPDATE tuf_files SET data = 'tampered' \
                     WHERE gun = ? AND role = ? AND version = ?",
                )
                .bind(gun)
                .bind(role)
                .bind(version)
                .execute(pool)
                .await
                .unwrap();
                sqlx::query(
                    "UPDATE changefeed SET created_at = created_at + INTERVAL 1 SECOND \
                     WHERE id = ?",
                )
                .bind(change_id)
                .execute(pool)
                .await
                .unwrap();
            }
            Self::Postgres(_, pool) => {
                sqlx::query(
                    "UPDATE tuf_files SET data = 'tampered' \
                     WHERE gun = $1 AND role = $2 AND version = $3",
                )
                .bind(gun)
                .bind(role)
                .bind(i32::try_from(version).unwrap())
                .execute(pool)
                .await
                .unwrap();
                sqlx::query(
                    "UPDATE changefeed SET created_at = created_at + interval '1 second' \
                     WHERE id = $1",
                )
                .bind(i32::try_from(change_id).unwrap())
                .execute(pool)
                .await
                .unwrap();
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Targets: signet stores.

enum Target {
    Postgres(Arc<PgSchema>),
    Sqlite(tempfile::TempDir),
}

impl Target {
    async fn postgres() -> Option<Self> {
        Some(Self::Postgres(Arc::new(PgSchema::new().await?)))
    }

    fn sqlite() -> Self {
        Self::Sqlite(tempfile::tempdir().unwrap())
    }

    fn url(&self) -> String {
        match self {
            Self::Postgres(schema) => schema.url.clone(),
            Self::Sqlite(dir) => format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("signet.db").display()
            ),
        }
    }
}

/// One row of signet's `tuf_files`, every column but `id`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct StoredRow {
    gun: String,
    role: String,
    version: i64,
    data: Vec<u8>,
    sha256: Option<String>,
    created_at: Option<DateTime<Utc>>,
    updated_at: Option<DateTime<Utc>>,
    deleted_at: Option<DateTime<Utc>>,
}

impl From<&SrcFile> for StoredRow {
    fn from(f: &SrcFile) -> Self {
        Self {
            gun: f.gun.clone(),
            role: f.role.clone(),
            version: f.version,
            data: f.data.clone(),
            sha256: Some(f.checksum()),
            created_at: Some(f.created.and_utc()),
            updated_at: Some(f.created.and_utc()),
            deleted_at: f.deleted.map(|t| t.and_utc()),
        }
    }
}

const STORED_ROWS: &str = "SELECT gun, role, version, data, sha256, created_at, updated_at, \
     deleted_at FROM tuf_files ORDER BY gun, role, version";

/// Every row of signet's `tuf_files`.
async fn stored_rows(store: &Store) -> Vec<StoredRow> {
    let trim = |s: Option<String>| s.map(|s| s.trim_end().to_owned());
    match store {
        Store::Postgres(pg) => {
            let rows = sqlx::query(STORED_ROWS).fetch_all(pg.pool()).await.unwrap();
            rows.iter()
                .map(|r| {
                    let t = |c: &str| r.get::<Option<NaiveDateTime>, _>(c).map(|t| t.and_utc());
                    StoredRow {
                        gun: r.get("gun"),
                        role: r.get("role"),
                        version: i64::from(r.get::<i32, _>("version")),
                        data: r.get("data"),
                        sha256: trim(r.get("sha256")),
                        created_at: t("created_at"),
                        updated_at: t("updated_at"),
                        deleted_at: t("deleted_at"),
                    }
                })
                .collect()
        }
        Store::Sqlite(lite) => {
            let rows = sqlx::query(STORED_ROWS)
                .fetch_all(lite.pool())
                .await
                .unwrap();
            rows.iter()
                .map(|r| StoredRow {
                    gun: r.get("gun"),
                    role: r.get("role"),
                    version: r.get("version"),
                    data: r.get("data"),
                    sha256: trim(r.get("sha256")),
                    created_at: r.get("created_at"),
                    updated_at: r.get("updated_at"),
                    deleted_at: r.get("deleted_at"),
                })
                .collect()
        }
    }
}

async fn all_changes(store: &Store) -> Vec<Change> {
    store.changes(None, 0, 100_000).await.unwrap()
}

async fn import(store: &Store, source: &Source, dry_run: bool) -> ServerImportReport {
    try_import(store, source, dry_run)
        .await
        .unwrap_or_else(|e| panic!("import failed: {e}"))
}

async fn try_import(
    store: &Store,
    source: &Source,
    dry_run: bool,
) -> Result<ServerImportReport, NotaryServerError> {
    let db = ServerDb::connect(&source.url()).await.unwrap();
    let outcome = notary_server::import(store, &db, &ServerImportOptions { dry_run }).await;
    db.close().await;
    outcome
}

// ---------------------------------------------------------------------------------------
// The scenario, on every pair of source and target.

async fn scenario(source: Source, target: Target) {
    let fixture = fixture(!source.is_mysql());
    source.fill(&fixture).await;
    let store = Store::connect(&target.url()).await.unwrap();
    let outcome = tokio::spawn(scenario_checks(
        source,
        store.clone(),
        target.url(),
        fixture,
    ))
    .await;
    store.close().await;
    drop(target);
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn scenario_checks(source: Source, store: Store, url: String, fixture: Fixture) {
    let files = fixture.files.len();
    let changes = fixture.changes.len();

    // A dry run reports everything and writes nothing.
    let dry = import(&store, &source, true).await;
    assert!(dry.dry_run);
    assert_eq!(dry.files_read, files, "{dry}");
    assert_eq!(dry.files_copied(), files, "{dry}");
    assert_eq!(dry.copied_of("root"), 4, "{dry}");
    assert_eq!(dry.copied_of("targets"), 2, "{dry}");
    assert_eq!(dry.copied_of("delegations"), 2, "{dry}");
    assert_eq!(dry.copied_of("snapshot"), 4, "{dry}");
    assert_eq!(dry.copied_of("timestamp"), 4, "{dry}");
    assert_eq!(dry.soft_deleted_copied, 1, "{dry}");
    assert_eq!(dry.checksums_computed, 1, "{dry}");
    assert_eq!(dry.guns.len(), 2, "{dry}");
    assert_eq!(dry.changes_read, changes, "{dry}");
    assert_eq!(dry.changes_copied, changes, "{dry}");
    assert_eq!(dry.identical_files + dry.identical_changes, 0, "{dry}");
    assert!(dry.warnings.is_empty(), "{dry}");
    let text = dry.to_string();
    assert!(text.contains("dry run: nothing is written"), "{text}");
    assert!(
        text.contains(&format!("would copy    {ECDSA_GUN}: 12 files")),
        "{text}"
    );
    assert!(stored_rows(&store).await.is_empty());
    assert!(all_changes(&store).await.is_empty());

    // The import copies the same.
    let report = import(&store, &source, false).await;
    assert_eq!(
        report,
        ServerImportReport {
            dry_run: false,
            ..dry.clone()
        }
    );
    let max_id = fixture.changes.iter().map(|c| c.id).max().unwrap();
    assert_eq!(report.copied_change_ids, Some((1, max_id)));

    // Every column of every row, and every changefeed record with its ID.
    let mut want: Vec<StoredRow> = fixture.files.iter().map(StoredRow::from).collect();
    want.sort();
    let stored = stored_rows(&store).await;
    assert_eq!(stored, want);
    let want_changes: Vec<Change> = fixture.changes.iter().map(SrcChange::expected).collect();
    assert_eq!(all_changes(&store).await, want_changes);

    served_as_copied(&store, &fixture).await;
    expiry_recorded(&store, &fixture).await;

    // Again: nothing changes.
    let again = import(&store, &source, false).await;
    assert_eq!(again.files_copied(), 0, "{again}");
    assert_eq!(again.identical_files, files, "{again}");
    assert_eq!(again.changes_copied, 0, "{again}");
    assert_eq!(again.identical_changes, changes, "{again}");
    assert_eq!(again.copied_change_ids, None);
    assert!(
        again
            .to_string()
            .contains(&format!("already held  {ECDSA_GUN}: 12 files")),
        "{again}"
    );
    assert_eq!(stored_rows(&store).await, stored);
    assert_eq!(all_changes(&store).await, want_changes);

    // signet's migrations still apply, and signet writes after the copied records.
    store.migrate().await.unwrap();
    let reopened = Store::connect(&url).await.unwrap();
    reopened.close().await;
    let ts = fixture
        .files
        .iter()
        .find(|f| f.role == "timestamp")
        .unwrap();
    store
        .update_many(
            LATE_GUN,
            &[FileUpdate::new("timestamp", 1, ts.data.clone())],
        )
        .await
        .unwrap();
    let after = all_changes(&store).await;
    let newest = after.last().unwrap();
    assert_eq!(newest.gun, LATE_GUN);
    assert!(newest.id > max_id, "{newest:?} after {max_id}");
    store.delete(LATE_GUN).await.unwrap();
    let stored = stored_rows(&store).await;
    let feed = all_changes(&store).await;

    // Different content under a key signet holds: every conflict is named, nothing is
    // written (not even the rows that are new), also in a dry run.
    let late = SrcFile {
        gun: LATE_GUN.to_owned(),
        role: "root".to_owned(),
        version: 1,
        data: b"late".to_vec(),
        sha256: Some(sha_hex(b"late")),
        created: fixture.files[0].created,
        deleted: None,
    };
    source.insert_file(&late).await;
    let first_update = fixture
        .changes
        .iter()
        .find(|c| c.gun == ECDSA_GUN)
        .unwrap()
        .id;
    source.tamper(ECDSA_GUN, "root", 1, first_update).await;
    for dry_run in [true, false] {
        let err = try_import(&store, &source, dry_run).await.unwrap_err();
        match &err {
            NotaryServerError::Conflicts { conflicts, total } => {
                assert_eq!(*total, 2, "{err}");
                assert!(conflicts.contains(&RowConflict::File {
                    gun: ECDSA_GUN.to_owned(),
                    role: "root".to_owned(),
                    version: 1,
                    columns: vec!["data"],
                }));
                assert!(conflicts.contains(&RowConflict::Change {
                    id: first_update,
                    gun: ECDSA_GUN.to_owned(),
                    columns: vec!["created_at"],
                }));
            }
            other => panic!("expected conflicts, got {other}"),
        }
        let text = err.to_string();
        assert!(text.contains("nothing was written"), "{text}");
        assert!(
            text.contains(&format!("{ECDSA_GUN} root version 1")),
            "{text}"
        );
        assert!(
            text.contains(&format!("changefeed record {first_update}")),
            "{text}"
        );
        assert_eq!(stored_rows(&store).await, stored);
        assert_eq!(all_changes(&store).await, feed);
    }
}

/// signet's router serves every copied file byte for byte (current, by checksum, by version),
/// never a soft-deleted one, and the changefeed with the copied IDs.
/// The import recorded the expiry of the copied metadata for the metrics: the earliest root
/// and targets expiry are those of the copied current files, and a catch-up from the
/// changefeed finds nothing left to do for any GUN.
async fn expiry_recorded(store: &Store, fixture: &Fixture) {
    let latest = |gun: &str, role: &str| {
        fixture
            .files
            .iter()
            .filter(|f| f.gun == gun && f.role == role && f.deleted.is_none())
            .max_by_key(|f| f.version)
            .map(|f| {
                let v: serde_json::Value = serde_json::from_slice(&f.data).unwrap();
                DateTime::parse_from_rfc3339(v["signed"]["expires"].as_str().unwrap())
                    .unwrap()
                    .timestamp()
            })
    };
    let guns: std::collections::BTreeSet<&str> =
        fixture.files.iter().map(|f| f.gun.as_str()).collect();
    let summary = store.expiry_summary(Utc::now()).await.unwrap();
    for (class, role) in [(ExpiryRole::Root, "root"), (ExpiryRole::Targets, "targets")] {
        let want = guns.iter().filter_map(|g| latest(g, role)).min();
        assert!(want.is_some());
        assert_eq!(
            summary.by_role[&class].earliest, want,
            "{role}: {summary:?}"
        );
    }
    for gun in guns {
        assert!(!store.sync_expiry_of(gun).await.unwrap(), "{gun}");
    }
}

async fn served_as_copied(store: &Store, fixture: &Fixture) {
    let server = TestServer::on_store(
        store.clone(),
        CacheSettings::default(),
        HttpSettings::default(),
        None,
    );
    for f in &fixture.files {
        let base = format!("/v2/{}/_trust/tuf", f.gun);
        let by_version = server
            .get(&format!("{base}/{}.{}.json", f.version, f.role))
            .await;
        let by_checksum = server
            .get(&format!("{base}/{}.{}.json", f.role, f.checksum()))
            .await;
        if f.deleted.is_some() {
            assert_eq!(by_version.status, 404, "{f:?}");
            assert_eq!(by_checksum.status, 404, "{f:?}");
        } else {
            assert_eq!(by_version.status, 200, "{f:?}");
            assert_eq!(by_version.body, f.data, "{f:?}");
            assert_eq!(by_checksum.status, 200, "{f:?}");
            assert_eq!(by_checksum.body, f.data, "{f:?}");
        }
    }
    for gun in [ECDSA_GUN, ED25519_GUN] {
        for role in ["root", "targets", "snapshot", "timestamp"] {
            let newest = fixture
                .files
                .iter()
                .filter(|f| f.gun == gun && f.role == role)
                .max_by_key(|f| f.version)
                .unwrap();
            let r = server
                .get(&format!("/v2/{gun}/_trust/tuf/{role}.json"))
                .await;
            assert_eq!(r.status, 200, "{gun} {role}: {}", r.text());
            assert_eq!(r.body, newest.data, "{gun} {role}");
        }
    }

    let r = server.get("/v2/_trust/changefeed?records=1000").await;
    assert_eq!(r.status, 200);
    let feed = r.json();
    let records = feed["records"].as_array().unwrap();
    assert_eq!(records.len(), fixture.changes.len());
    for (got, want) in records.iter().zip(&fixture.changes) {
        let want = want.expected();
        assert_eq!(got["ID"], want.id.to_string());
        assert_eq!(got["GUN"], want.gun);
        assert_eq!(got["Version"], want.version);
        assert_eq!(got["SHA256"], want.sha256);
        assert_eq!(got["Category"], want.category);
        let created = DateTime::parse_from_rfc3339(got["CreatedAt"].as_str().unwrap()).unwrap();
        assert_eq!(created.to_utc(), want.created_at);
    }
    // A client's cursor (the ID of the first record of the deleted GUN) still works.
    let first = fixture.changes[0].id;
    let r = server
        .get(&format!(
            "/v2/_trust/changefeed?records=1&change_id={first}"
        ))
        .await;
    assert_eq!(
        r.json()["records"][0]["ID"],
        fixture.changes[1].id.to_string()
    );
    let r = server
        .get(&format!("/v2/{DELETED_GUN}/_trust/changefeed?records=10"))
        .await;
    let ids: Vec<String> = r.json()["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["ID"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, vec!["1", "2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_into_postgres() {
    let Some(source) = Source::mysql().await else {
        return;
    };
    let Some(target) = Target::postgres().await else {
        return;
    };
    scenario(source, target).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_into_sqlite() {
    let Some(source) = Source::mysql().await else {
        return;
    };
    scenario(source, Target::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_into_sqlite() {
    let Some(source) = Source::postgres().await else {
        return;
    };
    scenario(source, Target::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_into_postgres() {
    let Some(source) = Source::postgres().await else {
        return;
    };
    let Some(target) = Target::postgres().await else {
        return;
    };
    scenario(source, target).await;
}

/// A target that signet already wrote to: its own changefeed IDs clash with the copied ones
/// (so the import refuses, naming them), while its files of other GUNs are no conflict.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changefeed_ids_signet_already_used_are_conflicts() {
    let Some(source) = Source::postgres().await else {
        return;
    };
    let fixture = fixture(true);
    source.fill(&fixture).await;
    let target = Target::sqlite();
    let store = Store::connect(&target.url()).await.unwrap();
    let ts = &fixture
        .files
        .iter()
        .find(|f| f.role == "timestamp")
        .unwrap()
        .data;
    store
        .update_many(LATE_GUN, &[FileUpdate::new("timestamp", 1, ts.clone())])
        .await
        .unwrap();
    let err = try_import(&store, &source, false).await.unwrap_err();
    match &err {
        NotaryServerError::Conflicts { conflicts, total } => {
            assert_eq!(*total, 1, "{err}");
            assert!(
                matches!(&conflicts[0], RowConflict::Change { id: 1, columns, .. }
                    if columns.contains(&"gun")),
                "{err}"
            );
        }
        other => panic!("expected a conflict, got {other}"),
    }
    assert_eq!(stored_rows(&store).await.len(), 1);
    store.close().await;
}

/// The command line: `signet-server import-notary-server` from MySQL into a SQLite database,
/// dry run first, then for real, then again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_line() {
    let Some(source) = Source::mysql().await else {
        return;
    };
    let fixture = fixture(false);
    source.fill(&fixture).await;
    let target = Target::sqlite();
    let run = |extra: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_signet-server"))
            .env_clear()
            .env("RUST_LOG", "warn")
            .args(["import-notary-server", "--server-database-url"])
            .arg(source.url())
            .arg("--database-url")
            .arg(target.url())
            .arg("--data-dir")
            .arg(match &target {
                Target::Sqlite(dir) => dir.path().to_owned(),
                Target::Postgres(_) => unreachable!(),
            })
            .args(extra)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, out, err) = run(&["--dry-run"]);
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("(dry run: nothing is written)"), "{out}");
    assert!(
        out.contains(&format!("files to copy: {}", fixture.files.len())),
        "{out}"
    );
    assert!(
        !err.contains(&source.url()),
        "the URL (with its password) is logged: {err}"
    );

    let (ok, out, err) = run(&[]);
    assert!(ok, "{out}\n{err}");
    assert!(
        out.contains(&format!("files copied: {}", fixture.files.len())),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "changefeed records copied: {}",
            fixture.changes.len()
        )),
        "{out}"
    );

    let (ok, out, err) = run(&[]);
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("files copied: 0"), "{out}");
    assert!(
        out.contains(&format!(
            "files already held, identical (skipped): {}",
            fixture.files.len()
        )),
        "{out}"
    );

    let store = Store::connect(&target.url()).await.unwrap();
    assert_eq!(stored_rows(&store).await.len(), fixture.files.len());
    store.close().await;

    // A bad URL is named by its scheme only.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_signet-server"))
        .env_clear()
        .args([
            "import-notary-server",
            "--server-database-url",
            "oracle://user:secret@host/db",
            "--database-url",
        ])
        .arg(target.url())
        .arg("--data-dir")
        .arg(match &target {
            Target::Sqlite(dir) => dir.path().to_owned(),
            Target::Postgres(_) => unreachable!(),
        })
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("\"oracle\"") && !err.contains("secret"),
        "{err}"
    );
}
