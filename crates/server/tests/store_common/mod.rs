//! The store test suite, run against each backend by `store_sqlite.rs` and `store_postgres.rs`.
//! Every function receives a fresh, empty, migrated store.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code, unreachable_pub)]

use std::sync::Arc;

use bytes::Bytes;
use chrono::{Duration, Utc};
use futures_util::TryStreamExt as _;
use sha2::{Digest, Sha256};
use signet_server::store::{
    CATEGORY_DELETION, CATEGORY_UPDATE, Change, CopiedChange, CopiedFile, CopyOutcome, FileUpdate,
    KeyState, KeyUse, NewServerKey, ServerKey, Store, StoreError,
};
use tokio::sync::Barrier;

pub mod key_trust;
pub use key_trust::{
    key_trust_follows_writes, key_trust_of_certificates, key_trust_of_copied_metadata,
    key_trust_pages,
};

/// Expands to one `#[tokio::test]` per suite function, each run through `$harness`, an
/// `async fn(impl FnOnce(Store) -> impl Future<Output = ()>)` that supplies the store.
#[macro_export]
macro_rules! store_suite {
    ($harness:path) => {
        $crate::store_suite!($harness;
            version_rules, batch_is_atomic, duplicate_in_batch_writes_nothing, lookups,
            exact_bytes_and_times, delete_is_exact, changefeed_records_timestamps,
            changefeed_paging, changefeed_per_gun, concurrent_writers_one_winner,
            server_keys, name_and_version_limits, ping_and_close,
            cancelled_writes_leave_nothing_open, roots_stream, server_keys_in_bulk,
            copy_sessions, key_use_is_recorded_with_the_update, key_trust_follows_writes,
            key_trust_pages, key_trust_of_certificates, key_trust_of_copied_metadata);
    };
    ($harness:path; $($name:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                $harness(store_common::$name).await;
            }
        )+
    };
}

fn up(role: &str, version: i64) -> FileUpdate {
    FileUpdate::new(
        role,
        version,
        format!("{{\"{role}\":{version}}}").into_bytes(),
    )
}

fn sha_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn assert_old_version(err: StoreError, gun: &str, role: &str, version: i64) {
    match err {
        StoreError::OldVersion {
            gun: g,
            role: r,
            version: v,
        } => assert_eq!((g.as_str(), r.as_str(), v), (gun, role, version)),
        other => panic!("expected OldVersion for {gun} {role} {version}, got {other:?}"),
    }
}

/// The version of the latest stored file of `role` (which must exist).
pub async fn latest_version(store: &Store, gun: &str, role: &str) -> i64 {
    store.latest(gun, role).await.unwrap().unwrap().version
}

async fn all_changes(store: &Store) -> Vec<Change> {
    store.changes(None, 0, 10_000).await.unwrap()
}

pub async fn version_rules(store: Store) {
    let gun = "example.com/versions";
    store.update_many(gun, &[up("root", 1)]).await.unwrap();

    // Equal and lower versions are refused.
    let err = store.update_many(gun, &[up("root", 1)]).await.unwrap_err();
    assert_old_version(err, gun, "root", 1);
    let err = store.update_many(gun, &[up("root", 0)]).await.unwrap_err();
    assert_old_version(err, gun, "root", 0);

    // Skipping ahead is allowed.
    store.update_many(gun, &[up("root", 3)]).await.unwrap();
    let latest = store.latest(gun, "root").await.unwrap().unwrap();
    assert_eq!(latest.version, 3);
    assert_eq!(latest.data, up("root", 3).data);
    assert!(store.by_version(gun, "root", 2).await.unwrap().is_none());
    assert_eq!(
        store
            .by_version(gun, "root", 1)
            .await
            .unwrap()
            .unwrap()
            .data,
        up("root", 1).data
    );

    // After v3, v2 is refused: versions never go back.
    let err = store.update_many(gun, &[up("root", 2)]).await.unwrap_err();
    assert_old_version(err, gun, "root", 2);

    // Roles and GUNs are independent.
    store.update_many(gun, &[up("targets", 1)]).await.unwrap();
    store
        .update_many("example.com/other", &[up("root", 1)])
        .await
        .unwrap();
    assert!(store.latest(gun, "snapshot").await.unwrap().is_none());
    assert!(
        store
            .latest("example.com/none", "root")
            .await
            .unwrap()
            .is_none()
    );

    // Two versions of one role in one batch: the lowest is compared with the stored rows.
    store
        .update_many(gun, &[up("targets", 3), up("targets", 2)])
        .await
        .unwrap();
    assert_eq!(latest_version(&store, gun, "targets").await, 3);
    let err = store
        .update_many(gun, &[up("targets", 9), up("targets", 3)])
        .await
        .unwrap_err();
    assert_old_version(err, gun, "targets", 3);

    // An empty batch is a no-op.
    store.update_many(gun, &[]).await.unwrap();
}

pub async fn batch_is_atomic(store: Store) {
    let gun = "example.com/atomic";
    store
        .update_many(
            gun,
            &[
                up("root", 1),
                up("targets", 1),
                up("snapshot", 5),
                up("timestamp", 1),
            ],
        )
        .await
        .unwrap();
    let before = all_changes(&store).await;

    // The snapshot row is too old: the new targets and timestamp must not be written.
    let err = store
        .update_many(
            gun,
            &[up("targets", 2), up("snapshot", 4), up("timestamp", 2)],
        )
        .await
        .unwrap_err();
    assert_old_version(err, gun, "snapshot", 4);
    assert!(store.by_version(gun, "targets", 2).await.unwrap().is_none());
    assert!(
        store
            .by_version(gun, "timestamp", 2)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(latest_version(&store, gun, "targets").await, 1);
    assert_eq!(latest_version(&store, gun, "timestamp").await, 1);
    assert_eq!(all_changes(&store).await, before);

    // The same upload with a fresh snapshot succeeds as a whole.
    store
        .update_many(
            gun,
            &[up("targets", 2), up("snapshot", 6), up("timestamp", 2)],
        )
        .await
        .unwrap();
    assert_eq!(latest_version(&store, gun, "targets").await, 2);
    assert_eq!(latest_version(&store, gun, "snapshot").await, 6);
    assert_eq!(all_changes(&store).await.len(), before.len() + 1);
}

pub async fn duplicate_in_batch_writes_nothing(store: Store) {
    let gun = "example.com/dup";
    let a = FileUpdate::new("targets", 1, &b"first"[..]);
    let b = FileUpdate::new("targets", 1, &b"second"[..]);
    let err = store
        .update_many(gun, &[up("root", 1), a, b])
        .await
        .unwrap_err();
    assert_old_version(err, gun, "targets", 1);
    assert!(store.latest(gun, "root").await.unwrap().is_none());
    assert!(store.latest(gun, "targets").await.unwrap().is_none());
}

pub async fn lookups(store: Store) {
    let gun = "example.com/lookups";
    let ts1 = up("timestamp", 1);
    let ts2 = up("timestamp", 2);
    store
        .update_many(gun, &[up("root", 1), ts1.clone()])
        .await
        .unwrap();
    store
        .update_many(gun, std::slice::from_ref(&ts2))
        .await
        .unwrap();

    let h1 = sha_hex(&ts1.data);
    let f1 = store
        .by_checksum(gun, "timestamp", &h1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(f1.version, 1);
    assert_eq!(f1.role, "timestamp");
    assert_eq!(f1.data, ts1.data);
    assert_eq!(f1.sha256_hex(), h1);
    assert_eq!(f1.sha256[..], Sha256::digest(&ts1.data)[..]);

    let latest = store.latest(gun, "timestamp").await.unwrap().unwrap();
    assert_eq!(latest.version, 2);
    assert_eq!(latest.sha256_hex(), sha_hex(&ts2.data));

    // The role, the GUN and the exact lowercase form all matter.
    assert!(store.by_checksum(gun, "root", &h1).await.unwrap().is_none());
    assert!(
        store
            .by_checksum("example.com/lookups2", "timestamp", &h1)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .by_checksum(gun, "timestamp", &h1.to_uppercase())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .by_checksum(gun, "timestamp", &h1[..63])
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .by_checksum(gun, "timestamp", "")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .by_checksum(gun, "timestamp", &sha_hex(b"nothing"))
            .await
            .unwrap()
            .is_none()
    );

    let v2 = store
        .by_version(gun, "timestamp", 2)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(v2, latest);
    assert!(
        store
            .by_version(gun, "timestamp", 3)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .by_version(gun, "timestamp", -1)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .by_version(gun, "timestamp", i64::MAX)
            .await
            .unwrap()
            .is_none()
    );
}

pub async fn exact_bytes_and_times(store: Store) {
    let gun = "example.com/bytes";
    // Not canonical JSON, with trailing whitespace and a NUL: stored and hashed as given.
    let raw = Bytes::from_static(b"{ \"signed\" : {\"b\":1,  \"a\":2} }\n\0  ");
    let before = Utc::now() - Duration::seconds(2);
    store
        .update_many(gun, &[FileUpdate::new("targets/releases", 4, raw.clone())])
        .await
        .unwrap();
    let after = Utc::now() + Duration::seconds(2);
    let f = store
        .latest(gun, "targets/releases")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(f.data, raw);
    assert_eq!(f.sha256_hex(), sha_hex(&raw));
    assert!(
        f.created_at > before && f.created_at < after,
        "created_at {} not between {before} and {after}",
        f.created_at
    );
    let by_sum = store
        .by_checksum(gun, "targets/releases", &sha_hex(&raw))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_sum.created_at, f.created_at);
}

pub async fn delete_is_exact(store: Store) {
    for gun in ["pre.example/a", "pre.example/ab", "pre.example"] {
        store
            .update_many(gun, &[up("root", 1), up("timestamp", 1)])
            .await
            .unwrap();
    }
    let before = all_changes(&store).await;
    assert_eq!(before.len(), 3);

    assert!(store.delete("pre.example/a").await.unwrap());
    assert!(
        store
            .latest("pre.example/a", "root")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .latest("pre.example/a", "timestamp")
            .await
            .unwrap()
            .is_none()
    );
    for gun in ["pre.example/ab", "pre.example"] {
        assert_eq!(latest_version(&store, gun, "root").await, 1);
        assert_eq!(latest_version(&store, gun, "timestamp").await, 1);
    }

    let after = all_changes(&store).await;
    assert_eq!(after.len(), 4);
    let del = &after[3];
    assert_eq!(del.gun, "pre.example/a");
    assert_eq!(del.version, 0);
    assert_eq!(del.sha256, "");
    assert_eq!(del.category, CATEGORY_DELETION);
    assert!(del.id > before[2].id);

    // Deleting again, or a GUN that never existed, deletes nothing and records nothing.
    assert!(!store.delete("pre.example/a").await.unwrap());
    assert!(!store.delete("pre.example/zzz").await.unwrap());
    assert!(!store.delete("pre.example/").await.unwrap());
    assert!(!store.delete("pre.example/%").await.unwrap());
    assert_eq!(all_changes(&store).await.len(), 4);

    // A deleted GUN starts again from any version.
    store
        .update_many("pre.example/a", &[up("root", 1)])
        .await
        .unwrap();
    assert_eq!(
        store
            .latest("pre.example/a", "root")
            .await
            .unwrap()
            .unwrap()
            .version,
        1
    );
}

pub async fn changefeed_records_timestamps(store: Store) {
    let gun = "example.com/feed";
    assert!(all_changes(&store).await.is_empty());
    // Non-timestamp rows write no change record.
    store
        .update_many(gun, &[up("root", 1), up("targets", 1), up("snapshot", 1)])
        .await
        .unwrap();
    assert!(all_changes(&store).await.is_empty());

    let ts = up("timestamp", 7);
    let before = Utc::now() - Duration::seconds(2);
    store
        .update_many(gun, std::slice::from_ref(&ts))
        .await
        .unwrap();
    let changes = all_changes(&store).await;
    assert_eq!(changes.len(), 1);
    let c = &changes[0];
    assert_eq!(c.gun, gun);
    assert_eq!(c.version, 7);
    assert_eq!(c.sha256, sha_hex(&ts.data));
    assert_eq!(c.category, CATEGORY_UPDATE);
    assert!(c.created_at > before && c.created_at < Utc::now() + Duration::seconds(2));
}

/// Writes `n` timestamp versions alternating between GUNs `x` and `y`; returns the IDs.
async fn fill_feed(store: &Store, n: i64) -> Vec<i64> {
    for v in 1..=n {
        let gun = if v % 2 == 1 { "x" } else { "y" };
        store.update_many(gun, &[up("timestamp", v)]).await.unwrap();
    }
    let all = all_changes(store).await;
    assert_eq!(all.len() as i64, n);
    all.iter().map(|c| c.id).collect()
}

fn versions(changes: &[Change]) -> Vec<i64> {
    changes.iter().map(|c| c.version).collect()
}

pub async fn changefeed_paging(store: Store) {
    let ids = fill_feed(&store, 10).await;
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids grow: {ids:?}");

    // Forwards from the start, page by page, the last ID excluded each time.
    let p1 = store.changes(None, 0, 4).await.unwrap();
    assert_eq!(versions(&p1), [1, 2, 3, 4]);
    let p2 = store.changes(None, p1[3].id, 4).await.unwrap();
    assert_eq!(versions(&p2), [5, 6, 7, 8]);
    let p3 = store.changes(None, p2[3].id, 4).await.unwrap();
    assert_eq!(versions(&p3), [9, 10]);
    assert!(store.changes(None, p3[1].id, 4).await.unwrap().is_empty());

    // 0 records means the default of 100.
    assert_eq!(store.changes(None, 0, 0).await.unwrap().len(), 10);

    // Backwards from the newest (change_id -1, or records < 0 with change_id 0), output
    // oldest first.
    let newest = store.changes(None, -1, 3).await.unwrap();
    assert_eq!(versions(&newest), [8, 9, 10]);
    assert_eq!(
        versions(&store.changes(None, 0, -3).await.unwrap()),
        [8, 9, 10]
    );
    assert_eq!(
        versions(&store.changes(None, -1, -3).await.unwrap()),
        [8, 9, 10]
    );

    // Backwards before an ID (excluded).
    let before = store.changes(None, newest[0].id, -3).await.unwrap();
    assert_eq!(versions(&before), [5, 6, 7]);
    let first = store.changes(None, ids[2], -10).await.unwrap();
    assert_eq!(versions(&first), [1, 2]);
    assert!(store.changes(None, ids[0], -10).await.unwrap().is_empty());

    // Beyond the end in either direction.
    assert!(
        store
            .changes(None, ids[9] + 100, 5)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.changes(None, ids[9] + 100, -2).await.unwrap().len(),
        2
    );
    assert_eq!(store.changes(None, 0, i64::MAX).await.unwrap().len(), 10);
    assert_eq!(
        store.changes(None, i64::MIN, i64::MIN).await.unwrap().len(),
        10
    );
}

pub async fn changefeed_per_gun(store: Store) {
    let ids = fill_feed(&store, 10).await;
    let x = store.changes(Some("x"), 0, 100).await.unwrap();
    assert_eq!(versions(&x), [1, 3, 5, 7, 9]);
    assert!(x.iter().all(|c| c.gun == "x"));
    let y = store.changes(Some("y"), x[1].id, 2).await.unwrap();
    assert_eq!(versions(&y), [4, 6]);
    let y_back = store.changes(Some("y"), -1, 2).await.unwrap();
    assert_eq!(versions(&y_back), [8, 10]);
    let y_before = store.changes(Some("y"), ids[7], -10).await.unwrap();
    assert_eq!(versions(&y_before), [2, 4, 6]);
    assert!(store.changes(Some("z"), 0, 10).await.unwrap().is_empty());
    assert!(store.changes(Some("x "), 0, 10).await.unwrap().is_empty());

    store.delete("x").await.unwrap();
    let x = store.changes(Some("x"), -1, 2).await.unwrap();
    assert_eq!(versions(&x), [9, 0]);
    assert_eq!(x[1].category, CATEGORY_DELETION);
}

pub async fn concurrent_writers_one_winner(store: Store) {
    const TASKS: usize = 16;
    let gun = "example.com/race";
    store
        .update_many(gun, &[up("root", 1), up("snapshot", 1), up("timestamp", 1)])
        .await
        .unwrap();
    let barrier = Arc::new(Barrier::new(TASKS));
    let mut handles = Vec::new();
    for i in 0..TASKS {
        let store = store.clone();
        let barrier = barrier.clone();
        handles.push(tokio::spawn(async move {
            let snap = FileUpdate::new("snapshot", 2, format!("snapshot-2-from-{i}").into_bytes());
            let ts = FileUpdate::new("timestamp", 2, format!("timestamp-2-from-{i}").into_bytes());
            // Some tasks also upload targets, so a loser with a longer batch would show up as
            // a stray targets row.
            let mut batch = Vec::new();
            if i % 2 == 0 {
                batch.push(FileUpdate::new(
                    "targets",
                    2 + i as i64,
                    format!("t-{i}").into_bytes(),
                ));
            }
            batch.extend([snap, ts]);
            barrier.wait().await;
            (i, store.update_many(gun, &batch).await)
        }));
    }
    let mut winners = Vec::new();
    for h in handles {
        let (i, result) = h.await.unwrap();
        match result {
            Ok(()) => winners.push(i),
            Err(err) => {
                assert!(
                    matches!(&err, StoreError::OldVersion { gun: g, .. } if g == gun),
                    "task {i}: {err:?}"
                );
            }
        }
    }
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    let w = winners[0];
    let ts = store.latest(gun, "timestamp").await.unwrap().unwrap();
    assert_eq!(ts.version, 2);
    assert_eq!(ts.data, format!("timestamp-2-from-{w}").into_bytes());
    let snap = store.latest(gun, "snapshot").await.unwrap().unwrap();
    assert_eq!(snap.data, format!("snapshot-2-from-{w}").into_bytes());
    // Only the winner's targets row exists, if it sent one.
    let targets = store.latest(gun, "targets").await.unwrap();
    if w % 2 == 0 {
        let t = targets.unwrap();
        assert_eq!(t.version, 2 + w as i64);
        assert_eq!(t.data, format!("t-{w}").into_bytes());
    } else {
        assert!(targets.is_none());
    }
    for i in (0..TASKS).filter(|i| *i != w && i % 2 == 0) {
        assert!(
            store
                .by_version(gun, "targets", 2 + i as i64)
                .await
                .unwrap()
                .is_none()
        );
    }
    let changes = store.changes(Some(gun), 0, 100).await.unwrap();
    assert_eq!(versions(&changes), [1, 2]);
    assert_eq!(changes[1].sha256, ts.sha256_hex());
}

fn key(gun: &str, role: &str, key_id: &str, state: KeyState) -> NewServerKey {
    NewServerKey {
        gun: gun.to_owned(),
        role: role.to_owned(),
        key_id: key_id.to_owned(),
        algorithm: "ecdsa".to_owned(),
        public_key: Bytes::from(format!("{{\"keytype\":\"ecdsa\",\"id\":\"{key_id}\"}}")),
        sealed_private_key: Bytes::from(format!("sealed-secret-{key_id}").into_bytes()),
        state,
        hsm: None,
    }
}

/// The use of the keys that signed an update is recorded in the update's transaction: an
/// accepted update marks them active and sets `last_used`; a refused one changes nothing.
pub async fn key_use_is_recorded_with_the_update(store: Store) {
    let gun = "example.com/key-use";
    store
        .put_server_key(&key(gun, "timestamp", "t1", KeyState::Pending))
        .await
        .unwrap();
    store
        .put_server_key(&key(gun, "snapshot", "s1", KeyState::Pending))
        .await
        .unwrap();
    let used = |role: &str, key_id: &str| KeyUse {
        role: role.to_owned(),
        key_id: key_id.to_owned(),
    };
    let state = |keys: Vec<ServerKey>| {
        keys.into_iter()
            .map(|k| (k.key_id, k.state, k.last_used.is_some()))
            .collect::<Vec<_>>()
    };
    store.update_many(gun, &[up("root", 1)]).await.unwrap();
    // Refused (root 1 exists): nothing recorded.
    let err = store
        .update_many_using_keys(gun, &[up("root", 1)], &[used("timestamp", "t1")])
        .await
        .unwrap_err();
    assert_old_version(err, gun, "root", 1);
    assert_eq!(
        state(store.server_keys(gun, "timestamp").await.unwrap()),
        [("t1".to_owned(), KeyState::Pending, false)]
    );
    // Accepted: both keys active and used; a key ID the store does not hold is ignored.
    let before = Utc::now() - Duration::seconds(2);
    store
        .update_many_using_keys(
            gun,
            &[up("snapshot", 1), up("timestamp", 1)],
            &[
                used("timestamp", "t1"),
                used("snapshot", "s1"),
                used("timestamp", "unknown"),
            ],
        )
        .await
        .unwrap();
    for role in ["timestamp", "snapshot"] {
        let keys = store.server_keys(gun, role).await.unwrap();
        assert_eq!(keys.len(), 1, "{role}");
        assert_eq!(keys[0].state, KeyState::Active, "{role}");
        assert!(keys[0].last_used.is_some_and(|t| t > before), "{role}");
    }
    assert_eq!(latest_version(&store, gun, "timestamp").await, 1);
}

pub async fn server_keys(store: Store) {
    let gun = "example.com/keys";
    assert!(
        store
            .server_keys(gun, "timestamp")
            .await
            .unwrap()
            .is_empty()
    );
    let k1 = key(gun, "timestamp", "k1", KeyState::Active);
    let k2 = key(gun, "timestamp", "k2", KeyState::Pending);
    let before = Utc::now() - Duration::seconds(2);
    store.put_server_key(&k1).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    store.put_server_key(&k2).await.unwrap();
    store
        .put_server_key(&key(gun, "snapshot", "k1", KeyState::Active))
        .await
        .unwrap();
    store
        .put_server_key(&key(
            "example.com/keys2",
            "timestamp",
            "k3",
            KeyState::Active,
        ))
        .await
        .unwrap();

    match store.put_server_key(&k1).await {
        Err(StoreError::KeyExists {
            gun: g,
            role,
            key_id,
        }) => {
            assert_eq!(
                (g.as_str(), role.as_str(), key_id.as_str()),
                (gun, "timestamp", "k1")
            );
        }
        other => panic!("expected KeyExists, got {other:?}"),
    }

    let keys = store.server_keys(gun, "timestamp").await.unwrap();
    assert_eq!(
        keys.iter().map(|k| k.key_id.as_str()).collect::<Vec<_>>(),
        ["k1", "k2"]
    );
    let got = &keys[0];
    assert_eq!(got.gun, gun);
    assert_eq!(got.role, "timestamp");
    assert_eq!(got.algorithm, "ecdsa");
    assert_eq!(got.public_key, k1.public_key);
    assert_eq!(got.sealed_private_key, k1.sealed_private_key);
    assert_eq!(got.state, KeyState::Active);
    assert_eq!(keys[1].state, KeyState::Pending);
    assert!(got.created_at > before && got.created_at < Utc::now() + Duration::seconds(2));
    assert!(got.last_used.is_none());
    // Debug output never shows the sealed key.
    assert!(!format!("{got:?}").contains("sealed-secret"));
    assert!(!format!("{k1:?}").contains("sealed-secret"));

    store
        .mark_key_state(gun, "timestamp", "k2", KeyState::Active)
        .await
        .unwrap();
    store
        .mark_key_state(gun, "timestamp", "k1", KeyState::Retired)
        .await
        .unwrap();
    let k1_now = store
        .server_key(gun, "timestamp", "k1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(k1_now.state, KeyState::Retired);
    let k2_now = store
        .server_key(gun, "timestamp", "k2")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(k2_now.state, KeyState::Active);
    // The snapshot key with the same ID is untouched.
    assert_eq!(
        store
            .server_key(gun, "snapshot", "k1")
            .await
            .unwrap()
            .unwrap()
            .state,
        KeyState::Active
    );
    assert!(
        store
            .server_key(gun, "snapshot", "k2")
            .await
            .unwrap()
            .is_none()
    );

    store
        .touch_server_key(gun, "timestamp", "k2")
        .await
        .unwrap();
    let used = store
        .server_key(gun, "timestamp", "k2")
        .await
        .unwrap()
        .unwrap()
        .last_used
        .unwrap();
    assert!(used > before && used < Utc::now() + Duration::seconds(2));

    for result in [
        store
            .mark_key_state(gun, "timestamp", "nope", KeyState::Active)
            .await,
        store.touch_server_key(gun, "timestamp", "nope").await,
    ] {
        assert!(
            matches!(&result, Err(StoreError::KeyNotFound { key_id, .. }) if key_id == "nope"),
            "{result:?}"
        );
    }

    // Deleting a GUN's metadata keeps its keys.
    store.update_many(gun, &[up("root", 1)]).await.unwrap();
    assert!(store.delete(gun).await.unwrap());
    assert_eq!(store.server_keys(gun, "timestamp").await.unwrap().len(), 2);
}

pub async fn name_and_version_limits(store: Store) {
    let long = "g".repeat(256);
    let err = store
        .update_many(&long, &[up("root", 1)])
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::InvalidName { what: "GUN", .. }),
        "{err:?}"
    );
    let err = store
        .update_many("g", &[up(&"r".repeat(256), 1)])
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::InvalidName { what: "role", .. }),
        "{err:?}"
    );
    let err = store
        .update_many("g", &[up("root", 1 << 31)])
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::VersionOutOfRange { version, .. } if version == 1 << 31),
        "{err:?}"
    );
    // 255 multi-byte characters fit.
    let gun = "é".repeat(255);
    store
        .update_many(&gun, &[up("root", i64::from(i32::MAX))])
        .await
        .unwrap();
    assert_eq!(
        store.latest(&gun, "root").await.unwrap().unwrap().version,
        i64::from(i32::MAX)
    );
    // Reads of over-long names find nothing rather than failing.
    assert!(store.latest(&long, "root").await.unwrap().is_none());
    assert!(!store.delete(&long).await.unwrap());

    // NUL characters cannot be stored; reads of such names find nothing.
    let err = store
        .update_many("g\0", &[up("root", 1)])
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::InvalidName { what: "GUN", .. }),
        "{err:?}"
    );
    let err = store.update_many("g", &[up("ro\0t", 1)]).await.unwrap_err();
    assert!(
        matches!(err, StoreError::InvalidName { what: "role", .. }),
        "{err:?}"
    );
    assert!(store.latest("g\0", "root").await.unwrap().is_none());
    assert!(store.by_version("g", "ro\0t", 1).await.unwrap().is_none());
    assert!(store.changes(Some("g\0"), 0, 10).await.unwrap().is_empty());
    assert!(!store.delete("g\0").await.unwrap());
    assert!(
        store
            .server_keys("g\0", "timestamp")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .server_key("g", "timestamp", "k\0")
            .await
            .unwrap()
            .is_none()
    );
}

pub async fn ping_and_close(store: Store) {
    store.ping().await.unwrap();
    // Migrations are idempotent.
    store.migrate().await.unwrap();
    assert_eq!(
        store
            .migrations()
            .iter()
            .map(|(v, _)| *v)
            .collect::<Vec<_>>(),
        [1, 2, 3, 4, 5, 6]
    );
    store.close().await;
    let err = store.ping().await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    let err = store.latest("g", "root").await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable { .. }), "{err:?}");
}

/// Writes cut short at every point, from before they start to after they commit (as when a
/// client hangs up or a request times out), leave no transaction, lock or connection behind:
/// every later write still goes through, on the same GUN and on others.
pub async fn cancelled_writes_leave_nothing_open(store: Store) {
    let gun = "example.com/cancelled";
    store.update_many(gun, &[up("root", 1)]).await.unwrap();
    let key = NewServerKey {
        gun: gun.to_owned(),
        role: "timestamp".to_owned(),
        key_id: "c".repeat(64),
        algorithm: "ecdsa".to_owned(),
        public_key: Bytes::from_static(b"public"),
        sealed_private_key: Bytes::from_static(b"sealed"),
        state: KeyState::Active,
        hsm: None,
    };
    store.put_server_key(&key).await.unwrap();
    for i in 0..400_u64 {
        let write = async {
            match i % 4 {
                0 => store
                    .delete(&format!("example.com/absent-{i}"))
                    .await
                    .map(drop),
                1 => store.update_many(gun, &[up("targets", 1 + i as i64)]).await,
                2 => store.touch_server_key(gun, "timestamp", &key.key_id).await,
                _ => store.write_probe().await,
            }
        };
        let pause = std::time::Duration::from_micros([0, 10, 30, 80, 200][(i / 4 % 5) as usize]);
        cut_short(write, 1 + (i / 20 % 6) as usize, pause).await;
    }
    let probe = within_10s("write probe", store.write_probe()).await;
    probe.unwrap();
    within_10s(
        "update of another GUN",
        store.update_many("example.com/other", &[up("root", 1)]),
    )
    .await
    .unwrap();
    within_10s(
        "update of the same GUN",
        store.update_many(gun, &[up("targets", 1_000_000)]),
    )
    .await
    .unwrap();
    assert_eq!(latest_version(&store, gun, "targets").await, 1_000_000);
    assert!(
        within_10s("delete", store.delete("example.com/other"))
            .await
            .unwrap()
    );
    assert!(
        store
            .latest("example.com/other", "root")
            .await
            .unwrap()
            .is_none()
    );
}

/// The output of `op`, which must finish within 10 seconds.
async fn within_10s<T>(what: &str, op: impl Future<Output = T>) -> T {
    tokio::time::timeout(std::time::Duration::from_secs(10), op)
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within 10 s"))
}

/// Polls `op` at most `polls` times, sleeping `pause` between polls while the database works,
/// then drops it: a write cut short at a point chosen by the caller.
async fn cut_short<F: Future>(op: F, polls: usize, pause: std::time::Duration) {
    let mut op = std::pin::pin!(op);
    for _ in 0..polls {
        let done =
            std::future::poll_fn(|cx| std::task::Poll::Ready(op.as_mut().poll(cx).is_ready()))
                .await;
        if done {
            return;
        }
        std::thread::sleep(pause);
    }
}

/// Every stored root of every GUN, streamed; other roles left out.
pub async fn roots_stream(store: Store) {
    assert!(store.roots().try_next().await.unwrap().is_none());
    store
        .update_many("example.com/r1", &[up("root", 1), up("targets", 1)])
        .await
        .unwrap();
    store
        .update_many("example.com/r1", &[up("root", 2)])
        .await
        .unwrap();
    store
        .update_many("example.com/r2", &[up("root", 7), up("timestamp", 1)])
        .await
        .unwrap();
    let mut roots: Vec<(String, i64, Vec<u8>)> = store
        .roots()
        .map_ok(|r| (r.gun, r.version, r.data.to_vec()))
        .try_collect()
        .await
        .unwrap();
    roots.sort();
    let row = |gun: &str, v: i64| (gun.to_owned(), v, format!("{{\"root\":{v}}}").into_bytes());
    assert_eq!(
        roots,
        vec![
            row("example.com/r1", 1),
            row("example.com/r1", 2),
            row("example.com/r2", 7)
        ]
    );
}

fn held_key(key_id: &str, state: KeyState, created: i64, used: Option<i64>) -> ServerKey {
    let at = |s: i64| chrono::DateTime::<Utc>::from_timestamp(s, 123_456_000).unwrap();
    ServerKey {
        gun: "example.com/bulk".to_owned(),
        role: "timestamp".to_owned(),
        key_id: key_id.to_owned(),
        algorithm: "ed25519".to_owned(),
        public_key: Bytes::from(format!("public-{key_id}")),
        sealed_private_key: Bytes::from(format!("sealed-secret-{key_id}")),
        state,
        created_at: at(created),
        last_used: used.map(at),
        hsm: None,
    }
}

/// Keys stored with their own state and times; keys already held stay exactly as they are.
pub async fn server_keys_in_bulk(store: Store) {
    assert!(store.all_server_keys().await.unwrap().is_empty());
    assert!(
        store
            .put_server_keys_if_absent(&[])
            .await
            .unwrap()
            .is_empty()
    );
    let a = held_key("a", KeyState::Active, 1_700_000_000, Some(1_700_000_100));
    let b = held_key("b", KeyState::Pending, 1_700_000_001, None);
    assert_eq!(
        store
            .put_server_keys_if_absent(&[a.clone(), b.clone()])
            .await
            .unwrap(),
        vec![true, true]
    );
    // "a" again with other content, and a new "c": only "c" goes in.
    let mut changed = held_key("a", KeyState::Retired, 1_700_000_050, None);
    changed.sealed_private_key = Bytes::from_static(b"other");
    let c = held_key("c", KeyState::Retired, 1_600_000_000, Some(1_600_000_001));
    assert_eq!(
        store
            .put_server_keys_if_absent(&[changed, c.clone()])
            .await
            .unwrap(),
        vec![false, true]
    );
    // Ordered by GUN, role, creation time and key ID; every column as given.
    assert_eq!(store.all_server_keys().await.unwrap(), vec![c, a, b]);

    // One bad name refuses the whole batch.
    let d = held_key("d", KeyState::Pending, 1_700_000_002, None);
    let bad = held_key(&"x".repeat(300), KeyState::Pending, 1_700_000_002, None);
    assert!(matches!(
        store.put_server_keys_if_absent(&[d, bad]).await,
        Err(StoreError::InvalidName { .. })
    ));
    assert_eq!(store.all_server_keys().await.unwrap().len(), 3);
}

fn copied(gun: &str, role: &str, version: i64, data: &str) -> CopiedFile {
    let t = chrono::DateTime::<Utc>::from_timestamp(1_700_000_000, 654_321_000).unwrap();
    CopiedFile {
        gun: gun.to_owned(),
        role: role.to_owned(),
        version,
        data: Bytes::from(data.to_owned()),
        sha256: sha_hex(data.as_bytes()),
        created_at: Some(t),
        updated_at: Some(t),
        deleted_at: None,
    }
}

fn copied_change(id: i64, gun: &str, version: i64) -> CopiedChange {
    CopiedChange {
        id,
        created_at: chrono::DateTime::<Utc>::from_timestamp(1_700_000_000 + id, 0),
        gun: gun.to_owned(),
        version,
        sha256: Some(sha_hex(gun.as_bytes())),
        category: CATEGORY_UPDATE.to_owned(),
    }
}

/// A copy session: nothing is visible before its finish, nothing is left when it is dropped
/// or is a dry run; identical rows are skipped, different ones reported and left alone;
/// changefeed IDs are kept and new records come after them.
pub async fn copy_sessions(store: Store) {
    use CopyOutcome::{Differs, Identical, New};
    let gun = "example.com/copied";
    let root = copied(gun, "root", 1, "root one");
    let mut deleted = copied(gun, "targets", 3, "old targets");
    deleted.deleted_at = root.created_at;
    let feed = vec![copied_change(5, gun, 1), copied_change(7, gun, 2)];

    // Dropped half-way: rolled back.
    let mut s = store.copy_session(false).await.unwrap();
    assert!(!s.dry_run());
    assert_eq!(s.files(vec![root.clone()]).await.unwrap(), vec![New]);
    assert_eq!(s.changes(feed.clone()).await.unwrap(), vec![New, New]);
    drop(s);
    assert!(store.latest(gun, "root").await.unwrap().is_none());
    assert!(all_changes(&store).await.is_empty());

    // A dry run classifies and writes nothing.
    let mut s = store.copy_session(true).await.unwrap();
    assert!(s.dry_run());
    assert_eq!(s.files(vec![root.clone()]).await.unwrap(), vec![New]);
    assert_eq!(s.changes(feed.clone()).await.unwrap(), vec![New, New]);
    s.finish().await.unwrap();
    assert!(store.latest(gun, "root").await.unwrap().is_none());
    assert!(all_changes(&store).await.is_empty());

    // Committed: every column as given, IDs kept; a soft-deleted row is stored but not served.
    let mut s = store.copy_session(false).await.unwrap();
    assert_eq!(
        s.files(vec![root.clone(), deleted.clone(), root.clone()])
            .await
            .unwrap(),
        vec![New, New, Identical]
    );
    assert_eq!(s.changes(feed.clone()).await.unwrap(), vec![New, New]);
    s.finish().await.unwrap();
    let got = store.latest(gun, "root").await.unwrap().unwrap();
    assert_eq!(got.data, root.data);
    assert_eq!(got.sha256_hex(), root.sha256);
    assert_eq!(Some(got.created_at), root.created_at);
    assert!(store.by_version(gun, "targets", 3).await.unwrap().is_none());
    let changes = all_changes(&store).await;
    assert_eq!(changes.iter().map(|c| c.id).collect::<Vec<_>>(), vec![5, 7]);
    assert_eq!(Some(changes[0].created_at), feed[0].created_at);

    // Again: identical rows are skipped; other content is reported and left alone.
    let mut other = root.clone();
    other.data = Bytes::from_static(b"root two");
    other.sha256 = sha_hex(b"root two");
    let mut moved = feed[1].clone();
    moved.gun = "example.com/elsewhere".to_owned();
    let mut s = store.copy_session(false).await.unwrap();
    assert_eq!(
        s.files(vec![root.clone(), deleted.clone(), other])
            .await
            .unwrap(),
        vec![Identical, Identical, Differs(vec!["data", "sha256"])]
    );
    assert_eq!(
        s.changes(vec![feed[0].clone(), moved]).await.unwrap(),
        vec![Identical, Differs(vec!["gun"])]
    );
    // A row the store cannot hold ends the session.
    let bad = copied(&"g".repeat(300), "root", 1, "x");
    assert!(matches!(
        s.files(vec![bad]).await,
        Err(StoreError::InvalidName { .. })
    ));
    assert!(matches!(
        s.finish().await,
        Err(StoreError::WriteTask { .. })
    ));
    assert_eq!(
        store.latest(gun, "root").await.unwrap().unwrap().data,
        root.data
    );

    // New records are numbered after the copied ones.
    store
        .update_many("example.com/later", &[up("timestamp", 1)])
        .await
        .unwrap();
    let last = all_changes(&store).await.pop().unwrap();
    assert!(last.id > 7, "{last:?}");
}
