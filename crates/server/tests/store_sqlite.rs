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
