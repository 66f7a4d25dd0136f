//! Server-held keys: `GET`/`POST .key`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::{Method, StatusCode};
use common::TestServer;
use signet_server::config::ServerKeyAlgorithm;
use signet_server::http::HttpSettings;
use signet_server::store::KeyState;

async fn get_key_creates_one_pending_key_and_reuses_it(s: TestServer) {
    let a = s.get("/v2/example.com/app/_trust/tuf/timestamp.key").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(
        a.header("content-type").as_deref(),
        Some("text/plain; charset=utf-8")
    );
    let key = a.json();
    assert_eq!(key["keytype"], "ecdsa");
    assert!(key["keyval"]["private"].is_null());
    assert!(key["keyval"]["public"].as_str().unwrap().len() > 40);
    assert!(
        a.text()
            .starts_with("{\"keytype\":\"ecdsa\",\"keyval\":{\"public\":")
    );
    let b = s.get("/v2/example.com/app/_trust/tuf/timestamp.key").await;
    assert_eq!(a.body, b.body, "a pending key is handed out again");
    let rotated = s
        .request(Method::POST, "/v2/example.com/app/_trust/tuf/timestamp.key")
        .await;
    assert_eq!(rotated.status, StatusCode::OK);
    assert_eq!(
        rotated.body, a.body,
        "rotation reuses the unused pending key"
    );

    let rows = s
        .store
        .server_keys("example.com/app", "timestamp")
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].state, KeyState::Pending);
    assert!(
        !rows[0]
            .sealed_private_key
            .windows(8)
            .any(|w| w == b"PRIVATE "),
        "the private key is sealed"
    );
    // Snapshot keys are separate from timestamp keys, and GUNs from each other.
    let snap = s.get("/v2/example.com/app/_trust/tuf/snapshot.key").await;
    assert_ne!(snap.body, a.body);
    let other = s
        .get("/v2/example.com/other/_trust/tuf/timestamp.key")
        .await;
    assert_ne!(other.body, a.body);
}

#[tokio::test]
async fn ed25519_keys_when_configured() {
    let s = TestServer::build(HttpSettings::default(), None, ServerKeyAlgorithm::Ed25519).await;
    let r = s.get("/v2/g/_trust/tuf/snapshot.key").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["keytype"], "ed25519");
}

async fn key_routes_fail_cleanly_without_database(s: TestServer) {
    s.store.close().await;
    let r = s.get("/v2/g/_trust/tuf/timestamp.key").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.error_code(), "UNAVAILABLE");
}

// Each flow above, on SQLite and on PostgreSQL (a fresh schema per test).
on_both_backends!(
    get_key_creates_one_pending_key_and_reuses_it,
    key_routes_fail_cleanly_without_database,
);
