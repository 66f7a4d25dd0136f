//! The store suite on PostgreSQL (127.0.0.1:5432, user postgres, database `test`), each test
//! in a schema of its own that is dropped afterwards, so a Go notary-server using `public`
//! is never touched. Without Postgres the tests fail when `CI` is set and skip otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod store_common;

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use chrono::{NaiveDateTime, Utc};
use sha2::{Digest, Sha256};
use signet_server::store::{Backend, FileUpdate, Store, StoreError, StoreOptions};
use sqlx::postgres::{PgPool, PgPoolOptions};

const BASE: &str = "postgres://postgres@127.0.0.1:5432/test";

/// An admin pool on the default schema, or `None` (after a notice) when Postgres is down
/// and `CI` is unset.
async fn admin() -> Option<PgPool> {
    match PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_secs(3))
        .connect(BASE)
        .await
    {
        Ok(pool) => Some(pool),
        Err(e) if std::env::var_os("CI").is_some() => {
            panic!("CI is set and Postgres at {BASE} is unreachable: {e}")
        }
        Err(e) => {
            eprintln!("skipping Postgres store test: {BASE} is unreachable: {e}");
            None
        }
    }
}

/// A schema name unique to this run and call.
fn schema_name() -> String {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "signet_t_{}_{nanos}_{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// The URL of a store working in `schema`; connections are named after it.
fn url_for(schema: &str) -> String {
    format!("{BASE}?options=-c%20search_path%3D{schema}&application_name={schema}")
}

/// A fresh, empty schema that is dropped when the closure's future ends (also on panic).
async fn in_schema<F, Fut>(admin: &PgPool, test: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let schema = schema_name();
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(admin)
        .await
        .unwrap();
    let outcome = tokio::spawn(test(schema.clone())).await;
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(admin)
        .await
        .unwrap();
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// Runs a suite function on a freshly migrated store in its own schema.
async fn on_postgres<F, Fut>(test: F)
where
    F: FnOnce(Store) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(admin) = admin().await else {
        return;
    };
    in_schema(&admin, |schema| async move {
        let store = Store::connect(&url_for(&schema)).await.unwrap();
        assert_eq!(store.backend(), Backend::Postgres);
        test(store.clone()).await;
        store.close().await;
    })
    .await;
}

mod suite {
    use super::*;
    store_suite!(on_postgres);
}

/// The Go notary-server schema, kept once for the whole repository beside the end-to-end suite.
fn go_schema_sql(file: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/notary-server-schema/postgresql")
        .join(file);
    std::fs::read_to_string(path).unwrap()
}

/// Applies Go notary-server migration files to `schema`.
async fn apply_go_schema(schema: &str, files: &[&str]) {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(&url_for(schema))
        .await
        .unwrap();
    for f in files {
        sqlx::raw_sql(&go_schema_sql(f))
            .execute(&pool)
            .await
            .unwrap();
    }
    pool.close().await;
}

/// The Go notary-server schema (with its changefeed) in `schema`, and a pool on it to write
/// as the Go server does.
async fn go_database(schema: &str) -> PgPool {
    apply_go_schema(schema, &["0001_initial.up.sql", "0002_changefeed.up.sql"]).await;
    PgPoolOptions::new()
        .max_connections(1)
        .connect(&url_for(schema))
        .await
        .unwrap()
}

/// Inserts a metadata row (and for a timestamp a change record) the way the Go server does.
async fn insert_like_go(
    pool: &PgPool,
    gun: &str,
    role: &str,
    version: i32,
    data: &[u8],
) -> NaiveDateTime {
    let now = Utc::now().naive_utc();
    let sum = hex::encode(Sha256::digest(data));
    sqlx::query(
        "INSERT INTO tuf_files (created_at, updated_at, gun, role, version, data, sha256) \
         VALUES ($1, $1, $2, $3, $4, $5, $6)",
    )
    .bind(now)
    .bind(gun)
    .bind(role)
    .bind(version)
    .bind(data)
    .bind(&sum)
    .execute(pool)
    .await
    .unwrap();
    if role == "timestamp" {
        sqlx::query(
            "INSERT INTO changefeed (created_at, gun, version, sha256, category) \
             VALUES ($1, $2, $3, $4, 'update')",
        )
        .bind(now)
        .bind(gun)
        .bind(version)
        .bind(&sum)
        .execute(pool)
        .await
        .unwrap();
    }
    now
}

#[tokio::test]
async fn adopts_a_go_notary_database() {
    let Some(admin) = admin().await else {
        return;
    };
    in_schema(&admin, |schema| async move {
        let go = go_database(&schema).await;
        let gun = "docker.io/library/alpine";
        let ts = br#"{"signed":{"_type":"Timestamp","version":1},"signatures":[]}"#;
        let written = insert_like_go(&go, gun, "root", 1, b"{\"root\":1}").await;
        insert_like_go(&go, gun, "timestamp", 1, ts).await;

        let store = Store::connect(&url_for(&schema)).await.unwrap();
        let root = store.latest(gun, "root").await.unwrap().unwrap();
        assert_eq!(root.data, &b"{\"root\":1}"[..]);
        assert_eq!(root.version, 1);
        // Postgres keeps microseconds.
        assert_eq!(
            root.created_at.timestamp_micros(),
            written.and_utc().timestamp_micros()
        );
        let ts_hex = hex::encode(Sha256::digest(ts));
        let by_sum = store
            .by_checksum(gun, "timestamp", &ts_hex)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(by_sum.data, &ts[..]);

        // The existing changefeed is kept, not back-filled a second time.
        let changes = store.changes(None, 0, 100).await.unwrap();
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].sha256, ts_hex);
        assert_eq!(changes[0].version, 1);

        // Both servers keep writing to the same tables.
        store
            .update_many(gun, &[FileUpdate::new("timestamp", 2, &b"ts2"[..])])
            .await
            .unwrap();
        let err = store
            .update_many(gun, &[FileUpdate::new("root", 1, &b"again"[..])])
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::OldVersion { .. }), "{err:?}");
        insert_like_go(&go, gun, "timestamp", 3, b"ts3").await;
        assert_eq!(
            store_common::latest_version(&store, gun, "timestamp").await,
            3
        );
        let changes = store.changes(Some(gun), 0, 100).await.unwrap();
        assert_eq!(
            changes.iter().map(|c| c.version).collect::<Vec<_>>(),
            [1, 2, 3]
        );
        // Rows signet wrote read back through the Go server's own query shape.
        let (sha, created): (String, Option<NaiveDateTime>) = sqlx::query_as(
            "SELECT sha256, created_at FROM tuf_files \
             WHERE gun = $1 AND role = 'timestamp' AND version = 2 AND deleted_at IS NULL",
        )
        .bind(gun)
        .fetch_one(&go)
        .await
        .unwrap();
        assert_eq!(sha, hex::encode(Sha256::digest(b"ts2")));
        assert!(created.is_some());

        // A second start finds nothing to do.
        store.close().await;
        let again = Store::connect(&url_for(&schema)).await.unwrap();
        assert_eq!(again.latest(gun, "root").await.unwrap().unwrap().version, 1);
        again.close().await;
        go.close().await;
    })
    .await;
}

/// The keys of a database adopted from Go notary are indexed once, when signet first opens
/// it; later writes of the Go server sharing it are caught up with the expiry records.
#[tokio::test]
async fn adopted_go_notary_keys_are_indexed() {
    use store_common::key_trust::{kid, root_doc, targets_doc};

    let Some(admin) = admin().await else {
        return;
    };
    in_schema(&admin, |schema| async move {
        let go = go_database(&schema).await;
        let snapshot = |v: i64| {
            serde_json::to_vec(&serde_json::json!({
                "signed": {"_type": "Snapshot", "version": v, "expires": "2100-01-01T00:00:00Z",
                           "meta": {"root": {}, "targets": {}}},
                "signatures": [],
            }))
            .unwrap()
        };
        let guns: Vec<String> = (0..700).map(|i| format!("docker.io/go/{i:04}")).collect();
        for gun in &guns {
            let root = root_doc(1, &["go-root"], &["go-targets"], &["go-snapshot"]);
            insert_like_go(&go, gun, "root", 1, &root).await;
            let targets = targets_doc(1, &[("targets/releases", &["go-signer"])]);
            insert_like_go(&go, gun, "targets", 1, &targets).await;
            insert_like_go(&go, gun, "snapshot", 1, &snapshot(1)).await;
            insert_like_go(&go, gun, "timestamp", 1, b"{}").await;
        }

        let store = Store::connect(&url_for(&schema)).await.unwrap();
        let page = store
            .trusted_by(&kid("go-signer"), None, 1000)
            .await
            .unwrap();
        assert_eq!(page.roles.len(), guns.len());
        assert!(page.next.is_none());
        assert_eq!(page.roles[0].gun, guns[0]);
        assert_eq!(page.roles[0].role, "targets/releases");
        assert_eq!(store.backfill_key_trust().await.unwrap(), 0);

        // The Go server rotates the targets key of one repository.
        let gun = &guns[0];
        let root = root_doc(2, &["go-root"], &["go-targets-2"], &["go-snapshot"]);
        insert_like_go(&go, gun, "root", 2, &root).await;
        insert_like_go(&go, gun, "snapshot", 2, &snapshot(2)).await;
        insert_like_go(&go, gun, "timestamp", 2, b"{}").await;
        while store.sync_expiry(1000).await.unwrap().records > 0 {}
        let page = store
            .trusted_by(&kid("go-targets-2"), None, 10)
            .await
            .unwrap();
        assert_eq!(page.roles.len(), 1);
        assert_eq!(&page.roles[0].gun, gun);
        let old = store
            .trusted_by(&kid("go-targets"), None, 1000)
            .await
            .unwrap();
        assert_eq!(old.roles.len(), guns.len() - 1);
        assert!(old.roles.iter().all(|r| &r.gun != gun));
        store.close().await;
        go.close().await;
    })
    .await;
}

#[tokio::test]
async fn backfills_changefeed_of_a_pre_changefeed_go_database() {
    let Some(admin) = admin().await else {
        return;
    };
    in_schema(&admin, |schema| async move {
        apply_go_schema(&schema, &["0001_initial.up.sql"]).await;
        let go = PgPoolOptions::new()
            .max_connections(1)
            .connect(&url_for(&schema))
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO tuf_files (created_at, updated_at, gun, role, version, data, sha256) \
             VALUES (now(), now(), 'g', 'timestamp', 4, 'x', $1)",
        )
        .bind(hex::encode(Sha256::digest(b"x")))
        .execute(&go)
        .await
        .unwrap();
        go.close().await;

        let store = Store::connect(&url_for(&schema)).await.unwrap();
        let changes = store.changes(None, 0, 100).await.unwrap();
        assert_eq!(changes.len(), 1);
        assert_eq!((changes[0].gun.as_str(), changes[0].version), ("g", 4));
        assert_eq!(changes[0].category, "update");
        store.close().await;
    })
    .await;
}

/// Columns, constraints and indexes of the notary tables in `schema`, with the schema name
/// taken out of default expressions.
async fn describe(admin: &PgPool, schema: &str) -> Vec<String> {
    type Column = (String, String, String, Option<i32>, String, Option<String>);
    let columns: Vec<Column> =
        sqlx::query_as(
            "SELECT table_name::text, column_name::text, data_type::text, \
                    character_maximum_length, is_nullable::text, column_default::text \
             FROM information_schema.columns \
             WHERE table_schema = $1 AND table_name IN ('tuf_files', 'changefeed', 'change_category') \
             ORDER BY table_name, ordinal_position",
        )
        .bind(schema)
        .fetch_all(admin)
        .await
        .unwrap();
    let constraints: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT conrelid::regclass::text, conname::text, pg_get_constraintdef(oid) \
         FROM pg_constraint WHERE connamespace = $1::regnamespace \
           AND conrelid::regclass::text LIKE ANY (ARRAY['%tuf_files', '%changefeed', '%change_category']) \
         ORDER BY conname",
    )
    .bind(schema)
    .fetch_all(admin)
    .await
    .unwrap();
    let indexes: Vec<(String, String)> = sqlx::query_as(
        "SELECT indexname::text, indexdef FROM pg_indexes \
         WHERE schemaname = $1 AND tablename IN ('tuf_files', 'changefeed', 'change_category') \
           AND indexname NOT LIKE 'signet_%' ORDER BY indexname",
    )
    .bind(schema)
    .fetch_all(admin)
    .await
    .unwrap();
    let categories: Vec<(String,)> = sqlx::query_as(&format!(
        "SELECT category::text FROM {schema}.change_category ORDER BY 1"
    ))
    .fetch_all(admin)
    .await
    .unwrap();
    columns
        .into_iter()
        .map(|c| format!("{c:?}"))
        .chain(constraints.into_iter().map(|c| format!("{c:?}")))
        .chain(indexes.into_iter().map(|c| format!("{c:?}")))
        .chain(categories.into_iter().map(|c| format!("{c:?}")))
        .map(|s| s.replace(&format!("{schema}."), ""))
        .collect()
}

#[tokio::test]
async fn fresh_schema_matches_the_go_schema() {
    let Some(admin) = admin().await else {
        return;
    };
    let admin2 = admin.clone();
    in_schema(&admin, |go_schema| async move {
        let admin3 = admin2.clone();
        in_schema(&admin2, |our_schema| async move {
            apply_go_schema(
                &go_schema,
                &["0001_initial.up.sql", "0002_changefeed.up.sql"],
            )
            .await;
            let store = Store::connect(&url_for(&our_schema)).await.unwrap();
            store.close().await;
            let go = describe(&admin3, &go_schema).await;
            let ours = describe(&admin3, &our_schema).await;
            assert!(go.len() > 15, "{go:#?}");
            assert!(
                go.iter()
                    .any(|l| l.contains("tuf_files_gun_role_version_key")),
                "{go:#?}"
            );
            assert_eq!(go, ours);
        })
        .await;
    })
    .await;
}

#[tokio::test]
async fn recovers_when_connections_are_killed() {
    let Some(admin) = admin().await else {
        return;
    };
    let admin2 = admin.clone();
    in_schema(&admin, |schema| async move {
        let store = Store::connect(&url_for(&schema)).await.unwrap();
        let gun = "example.com/restart";
        store
            .update_many(gun, &[FileUpdate::new("root", 1, &b"r1"[..])])
            .await
            .unwrap();
        assert!(store.latest(gun, "root").await.unwrap().is_some());

        // What a database restart does to pooled connections.
        let kill = || async {
            let killed: Vec<(bool,)> = sqlx::query_as(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE application_name = $1",
            )
            .bind(&schema)
            .fetch_all(&admin2)
            .await
            .unwrap();
            assert!(!killed.is_empty(), "no pooled connection to kill");
            // Let the terminations land.
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        kill().await;
        assert_eq!(
            store.latest(gun, "root").await.unwrap().unwrap().data,
            &b"r1"[..]
        );
        kill().await;
        store
            .update_many(gun, &[FileUpdate::new("root", 2, &b"r2"[..])])
            .await
            .unwrap();
        kill().await;
        assert!(store.delete(gun).await.unwrap());
        kill().await;
        assert_eq!(store.changes(Some(gun), 0, 10).await.unwrap().len(), 1);
        store.ping().await.unwrap();
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn unreachable_database_is_unavailable() {
    // Nothing listens on port 1: no Postgres is needed for this test.
    let url = "postgres://postgres@127.0.0.1:1/test";
    let opts = StoreOptions {
        acquire_timeout: Duration::from_millis(500),
        run_migrations: false,
        ..StoreOptions::default()
    };
    let store = Store::connect_with(url, &opts).await.unwrap();
    for err in [
        store.ping().await.unwrap_err(),
        store.latest("g", "root").await.unwrap_err(),
        store
            .update_many("g", &[FileUpdate::new("root", 1, &b"r"[..])])
            .await
            .unwrap_err(),
        store.changes(None, 0, 10).await.unwrap_err(),
    ] {
        assert!(matches!(err, StoreError::Unavailable { .. }), "{err:?}");
        assert!(err.is_unavailable());
    }
    let err = Store::connect_with(
        url,
        &StoreOptions {
            run_migrations: true,
            ..opts
        },
    )
    .await
    .unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
}
