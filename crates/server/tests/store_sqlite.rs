//! The store suite on SQLite: a database file per test, and an in-memory database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod store_common;

use std::future::Future;
use std::time::Duration;

use signet_server::store::{Backend, Store, StoreError, StoreOptions};

/// Runs `test` on a fresh migrated database file in a temporary directory.
async fn on_file<F, Fut>(test: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("signet.db").display()
    );
    let store = Store::connect(&url).await.unwrap();
    assert_eq!(store.backend(), Backend::Sqlite);
    let outcome = tokio::spawn(test(store.clone())).await;
    store.close().await;
    drop(dir);
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// Runs `test` on a fresh in-memory database.
async fn in_memory<F, Fut>(test: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let store = Store::connect("sqlite::memory:").await.unwrap();
    test(store).await;
}

mod file {
    use super::*;
    store_suite!(on_file);
}

mod memory {
    use super::*;
    store_suite!(in_memory);
}

#[tokio::test]
async fn reopening_keeps_data_and_migrations() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("keep.db").display());
    let store = Store::connect(&url).await.unwrap();
    store
        .update_many(
            "g",
            &[signet_server::store::FileUpdate::new("root", 1, &b"r"[..])],
        )
        .await
        .unwrap();
    store.close().await;
    let store = Store::connect(&url).await.unwrap();
    assert_eq!(store.latest("g", "root").await.unwrap().unwrap().version, 1);
    store.close().await;
}

#[tokio::test]
async fn unopenable_database_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    // No `mode=rwc` and no such directory: the file cannot be opened.
    let url = format!("sqlite://{}", dir.path().join("missing/x.db").display());
    let opts = StoreOptions {
        acquire_timeout: Duration::from_secs(1),
        run_migrations: false,
        ..StoreOptions::default()
    };
    let store = Store::connect_with(&url, &opts).await.unwrap();
    let err = store.ping().await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    let err = Store::connect(&url).await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
}

#[tokio::test]
async fn unsupported_url_is_refused() {
    let err = Store::connect("mysql://root:hunter2@localhost/db")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::UnsupportedUrl { .. }), "{err:?}");
    assert!(!err.to_string().contains("hunter2"));
}

/// A database written before the key index existed (migrations up to 0005, files inserted
/// as an older signet or a copy wrote them) is indexed once when it is opened, and the
/// backfill is recorded as done.
#[tokio::test]
async fn backfill_indexes_a_database_from_before_the_key_index() {
    use store_common::key_trust::{kid, root_doc, targets_doc};

    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("migrations");
    std::fs::create_dir(&old).unwrap();
    let all = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations/sqlite");
    for entry in std::fs::read_dir(&all).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if name.as_str() < "0006" {
            std::fs::copy(&path, old.join(&name)).unwrap();
        }
    }
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("old.db").display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::migrate::Migrator::new(old.as_path())
        .await
        .unwrap()
        .run(&pool)
        .await
        .unwrap();
    // More GUNs than one backfill batch.
    let guns: Vec<String> = (0..1203)
        .map(|i| format!("example.com/old/{i:05}"))
        .collect();
    let mut tx = pool.begin().await.unwrap();
    for gun in &guns {
        for (role, data) in [
            ("root", root_doc(1, &["old-root"], &["t"], &["s"])),
            (
                "targets",
                targets_doc(1, &[("targets/releases", &["old-signer"])]),
            ),
        ] {
            sqlx::query("INSERT INTO tuf_files (gun, role, version, data) VALUES (?1, ?2, 1, ?3)")
                .bind(gun)
                .bind(role)
                .bind(data)
                .execute(&mut *tx)
                .await
                .unwrap();
        }
    }
    tx.commit().await.unwrap();
    pool.close().await;

    let store = Store::connect(&url).await.unwrap();
    let mut found = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .trusted_by(&kid("old-signer"), after.as_ref(), 1000)
            .await
            .unwrap();
        found.extend(page.roles.into_iter().map(|r| (r.gun, r.role)));
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    let expected: Vec<(String, String)> = guns
        .iter()
        .map(|g| (g.clone(), "targets/releases".to_owned()))
        .collect();
    assert_eq!(found, expected);
    // Recorded as done: opening the database again indexes nothing.
    assert_eq!(store.backfill_key_trust().await.unwrap(), 0);
    store.close().await;
    let store = Store::connect(&url).await.unwrap();
    assert_eq!(store.backfill_key_trust().await.unwrap(), 0);
    assert_eq!(
        store
            .trusted_by(&kid("old-root"), None, 5)
            .await
            .unwrap()
            .roles
            .len(),
        5
    );
    store.close().await;
}
