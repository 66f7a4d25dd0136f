//! GET of timestamp.json and snapshot.json re-signs expired server-held metadata.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::StatusCode;
use common::TestServer;
use common::meta::*;
use common::publish::{ServerManaged, server_sign};
use signet_server::store::FileUpdate;
use signet_tuf::metadata::{Envelope, FileMeta, Root, Snapshot, Timestamp};
use signet_tuf::verify::{verify_snapshot, verify_timestamp};

const GUN: &str = "example.com/expiring";

/// Publishes a repository whose snapshot and timestamp keys are both server-held; returns
/// its root.
async fn publish(s: &TestServer) -> Vec<u8> {
    ServerManaged::publish(s, GUN, &["x"]).await.root
}

#[tokio::test]
async fn expired_timestamp_is_resigned_on_get() {
    let s = TestServer::new().await;
    let root = publish(&s).await;
    let snap_bytes = s
        .get(&format!("/v2/{GUN}/_trust/tuf/snapshot.json"))
        .await
        .body;
    // Warm the cached timestamp, and watch the changefeed as a replica does.
    assert_eq!(
        s.get(&format!("/v2/{GUN}/_trust/tuf/timestamp.json"))
            .await
            .status,
        StatusCode::OK
    );
    let repo = s.state.repo().clone();
    let watcher = tokio::spawn(async move {
        repo.watch_changes(std::time::Duration::from_millis(20))
            .await;
    });
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;

    let mut expired = Timestamp::new(2, expires_in(1), FileMeta::from_bytes(&snap_bytes));
    expired.expires =
        signet_tuf::metadata::Expires::from_utc(chrono::Utc::now() - chrono::Duration::hours(1));
    let expired = server_sign(&s, GUN, "timestamp", expired).await;
    // Written past this server, as another replica would.
    s.store
        .update_many(GUN, &[FileUpdate::new("timestamp", 2, expired)])
        .await
        .unwrap();
    let changes = s.change_count(GUN).await;
    let started = std::time::Instant::now();
    let mut seen = false;
    while started.elapsed() < std::time::Duration::from_millis(1500) {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let ts = s.get(&format!("/v2/{GUN}/_trust/tuf/timestamp.json")).await;
        if Envelope::<Timestamp>::parse(&ts.body)
            .unwrap()
            .signed()
            .version
            != 1
        {
            seen = true;
            break;
        }
    }
    watcher.abort();
    assert!(
        seen,
        "the changefeed watcher dropped the cached timestamp before its TTL"
    );

    let r = s.get(&format!("/v2/{GUN}/_trust/tuf/timestamp.json")).await;
    assert_eq!(r.status, StatusCode::OK);
    let ts = Envelope::<Timestamp>::parse(&r.body).unwrap();
    assert_eq!(
        ts.signed().version,
        3,
        "the expired version 2 was re-signed"
    );
    assert!(!ts.signed().expires.is_expired(chrono::Utc::now()));
    verify_timestamp(&ts, Envelope::<Root>::parse(&root).unwrap().signed()).unwrap();
    assert_eq!(
        s.change_count(GUN).await,
        changes + 1,
        "the new timestamp was stored"
    );
    assert_eq!(
        s.store
            .latest(GUN, "timestamp")
            .await
            .unwrap()
            .unwrap()
            .data,
        r.body
    );
    // A second GET serves the stored one.
    let again = s.get(&format!("/v2/{GUN}/_trust/tuf/timestamp.json")).await;
    assert_eq!(again.body, r.body);
}

#[tokio::test]
async fn expired_server_snapshot_is_resigned_on_get() {
    let s = TestServer::new().await;
    let root = publish(&s).await;
    let current = s
        .get(&format!("/v2/{GUN}/_trust/tuf/snapshot.json"))
        .await
        .body;
    let mut doc = Envelope::<Snapshot>::parse(&current)
        .unwrap()
        .into_parts()
        .0;
    doc.version = 2;
    doc.expires =
        signet_tuf::metadata::Expires::from_utc(chrono::Utc::now() - chrono::Duration::hours(1));
    let old_snapshot = server_sign(&s, GUN, "snapshot", doc).await;
    let ts = server_sign(
        &s,
        GUN,
        "timestamp",
        Timestamp::new(2, expires_in(14), FileMeta::from_bytes(&old_snapshot)),
    )
    .await;
    s.store
        .update_many(
            GUN,
            &[
                FileUpdate::new("snapshot", 2, old_snapshot.clone()),
                FileUpdate::new("timestamp", 2, ts),
            ],
        )
        .await
        .unwrap();
    // As a replica would learn from the changefeed.
    s.state.repo().cache().invalidate_current(GUN);

    let r = s.get(&format!("/v2/{GUN}/_trust/tuf/snapshot.json")).await;
    assert_eq!(r.status, StatusCode::OK);
    let snap = Envelope::<Snapshot>::parse(&r.body).unwrap();
    let root = Envelope::<Root>::parse(&root).unwrap();
    assert_eq!(snap.signed().version, 3);
    verify_snapshot(&snap, root.signed()).unwrap();
    let ts = Envelope::<Timestamp>::parse(
        &s.get(&format!("/v2/{GUN}/_trust/tuf/timestamp.json"))
            .await
            .body,
    )
    .unwrap();
    assert_eq!(ts.signed().version, 3);
    assert_eq!(
        hex::encode(ts.signed().snapshot_meta().unwrap().sha256().unwrap()),
        sha256_hex(&r.body)
    );
}
