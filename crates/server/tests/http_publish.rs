//! Publishing as the notary and docker clients do, and reading the result back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::{Method, StatusCode};
use common::TestServer;
use common::meta::*;
use common::publish::{ClientRepo, ServerManaged};
use signet_tuf::metadata::{Envelope, FileMeta, Root, Snapshot, Timestamp};
use signet_tuf::verify::{verify_snapshot, verify_timestamp};

const GUN: &str = "docker.io/library/app";

fn current_ts(body: &[u8]) -> Envelope<Timestamp> {
    Envelope::<Timestamp>::parse(body).expect("timestamp")
}

async fn notary_init_and_publish_then_read_back(s: TestServer) {
    assert_eq!(
        s.get(&format!("/v2/{GUN}/_trust/tuf/root.json"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let repo = ClientRepo::init(&s, GUN).await;
    let published = repo.publish(&s, GUN, 2, &["v1"]).await;
    let (targets, snapshot) = (published.targets, published.snapshot);
    assert!(published.reply.body.is_empty());

    // Current reads serve the exact uploaded bytes.
    let root = s.get(&format!("/v2/{GUN}/_trust/tuf/root.json")).await;
    assert_eq!(root.status, StatusCode::OK);
    assert_eq!(root.body, repo.root);
    assert_eq!(
        root.header("cache-control").as_deref(),
        Some("public, max-age=300, s-maxage=300, must-revalidate")
    );
    assert!(root.header("last-modified").unwrap().ends_with(" GMT"));
    assert_eq!(
        root.header("content-type").as_deref(),
        Some("text/plain; charset=utf-8")
    );
    let t = s.get(&format!("/v2/{GUN}/_trust/tuf/targets.json")).await;
    assert_eq!(t.body, targets);
    let snap = s.get(&format!("/v2/{GUN}/_trust/tuf/snapshot.json")).await;
    assert_eq!(snap.body, snapshot);

    // The server's timestamp is signed by the key it handed out and names the snapshot.
    let ts = s.get(&format!("/v2/{GUN}/_trust/tuf/timestamp.json")).await;
    assert_eq!(ts.status, StatusCode::OK);
    let ts_env = current_ts(&ts.body);
    let root_env = Envelope::<Root>::parse(&repo.root).unwrap();
    verify_timestamp(&ts_env, root_env.signed()).expect("server timestamp verifies");
    assert_eq!(ts_env.signed().version, 1);
    assert_eq!(
        ts_env.signed().snapshot_meta().unwrap().sha256().unwrap(),
        &hex::decode(sha256_hex(&snapshot)).unwrap()[..]
    );
    assert_eq!(ts_env.signatures()[0].keyid, repo.timestamp.key_id());

    // Consistent reads by checksum and by version.
    let by_hash = s
        .get(&format!(
            "/v2/{GUN}/_trust/tuf/targets.{}.json",
            sha256_hex(&targets)
        ))
        .await;
    assert_eq!(by_hash.body, targets);
    assert_eq!(
        by_hash.header("cache-control").as_deref(),
        Some("public, max-age=2592000, s-maxage=2592000")
    );
    let by_version = s.get(&format!("/v2/{GUN}/_trust/tuf/1.root.json")).await;
    assert_eq!(by_version.body, repo.root);
    let by_version = s.get(&format!("/v2/{GUN}/_trust/tuf/01.root.json")).await;
    assert_eq!(by_version.body, repo.root);
    let wrong_role = s
        .get(&format!(
            "/v2/{GUN}/_trust/tuf/root.{}.json",
            sha256_hex(&targets)
        ))
        .await;
    assert_eq!(wrong_role.status, StatusCode::NOT_FOUND);

    // The changefeed has one update for the timestamp.
    let feed = s
        .get(&format!("/v2/{GUN}/_trust/changefeed?records=10"))
        .await;
    let feed = feed.json();
    assert_eq!(feed["count"], 1);
    assert_eq!(feed["records"][0]["Category"], "update");
    assert_eq!(feed["records"][0]["GUN"], GUN);
    assert_eq!(feed["records"][0]["Version"], 1);
    assert_eq!(feed["records"][0]["SHA256"], sha256_hex(&ts.body));
    assert!(feed["records"][0]["ID"].is_string());

    // A later publish of targets and snapshot only.
    let targets3 = repo.targets_v(3, &["v1", "v2"]);
    let snapshot3 = repo.snapshot_for(3, &[("root", &repo.root), ("targets", &targets3)]);
    let r = s
        .upload(GUN, &[("targets", &targets3), ("snapshot", &snapshot3)])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let t = s.get(&format!("/v2/{GUN}/_trust/tuf/targets.json")).await;
    assert_eq!(t.body, targets3);
    let ts = current_ts(
        &s.get(&format!("/v2/{GUN}/_trust/tuf/timestamp.json"))
            .await
            .body,
    );
    assert_eq!(ts.signed().version, 2);

    // The timestamp key is now listed in root: GET .key answers it, POST .key makes a new
    // pending key without changing what GET answers.
    let k = s.get(&format!("/v2/{GUN}/_trust/tuf/timestamp.key")).await;
    assert_eq!(key_from_json(&k.body).key_id(), repo.timestamp.key_id());
    let rotated = s
        .request(Method::POST, &format!("/v2/{GUN}/_trust/tuf/timestamp.key"))
        .await;
    assert_ne!(
        key_from_json(&rotated.body).key_id(),
        repo.timestamp.key_id()
    );
    let k = s.get(&format!("/v2/{GUN}/_trust/tuf/timestamp.key")).await;
    assert_eq!(key_from_json(&k.body).key_id(), repo.timestamp.key_id());
    let again = s
        .request(Method::POST, &format!("/v2/{GUN}/_trust/tuf/timestamp.key"))
        .await;
    assert_eq!(again.body, rotated.body, "the pending key is reused");
    let _ = repo.root_key.id();
}

async fn docker_style_server_managed_snapshot(s: TestServer) {
    let ServerManaged {
        targets_key,
        root,
        targets,
    } = ServerManaged::publish(&s, GUN, &["latest"]).await;

    let root_env = Envelope::<Root>::parse(&root).unwrap();
    let snap = s.get(&format!("/v2/{GUN}/_trust/tuf/snapshot.json")).await;
    let snap_env = Envelope::<Snapshot>::parse(&snap.body).unwrap();
    verify_snapshot(&snap_env, root_env.signed()).expect("server snapshot verifies");
    assert_eq!(snap_env.signed().version, 1);
    assert_eq!(
        hex::encode(snap_env.signed().meta["targets"].sha256().unwrap()),
        sha256_hex(&targets)
    );
    assert_eq!(
        hex::encode(snap_env.signed().meta["root"].sha256().unwrap()),
        sha256_hex(&root)
    );
    let days = (snap_env.signed().expires.utc() - chrono::Utc::now()).num_days();
    assert!((1090..=1096).contains(&days), "{days}");
    let ts = current_ts(
        &s.get(&format!("/v2/{GUN}/_trust/tuf/timestamp.json"))
            .await
            .body,
    );
    let days = (ts.signed().expires.utc() - chrono::Utc::now()).num_days();
    assert!((13..=14).contains(&days), "{days}");

    // Targets only: the server signs snapshot 2 and timestamp 2.
    let targets2 = sign(targets_doc(2, &["latest", "v2"]), &[targets_key.as_ref()]);
    let r = s.upload(GUN, &[("targets", &targets2)]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let snap = Envelope::<Snapshot>::parse(
        &s.get(&format!("/v2/{GUN}/_trust/tuf/snapshot.json"))
            .await
            .body,
    )
    .unwrap();
    assert_eq!(snap.signed().version, 2);
    assert_eq!(
        hex::encode(snap.signed().meta["targets"].sha256().unwrap()),
        sha256_hex(&targets2)
    );

    // An empty upload touches the repository.
    let r = s.upload(GUN, &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let snap = Envelope::<Snapshot>::parse(
        &s.get(&format!("/v2/{GUN}/_trust/tuf/snapshot.json"))
            .await
            .body,
    )
    .unwrap();
    assert_eq!(snap.signed().version, 3);
    let ts = current_ts(
        &s.get(&format!("/v2/{GUN}/_trust/tuf/timestamp.json"))
            .await
            .body,
    );
    assert_eq!(ts.signed().version, 3);

    // An uploaded timestamp is ignored.
    let fake_ts = sign(
        Timestamp::new(99, expires_in(10), FileMeta::from_bytes(b"x")),
        &[targets_key.as_ref()],
    );
    let r = s.upload(GUN, &[("timestamp", &fake_ts)]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let ts = current_ts(
        &s.get(&format!("/v2/{GUN}/_trust/tuf/timestamp.json"))
            .await
            .body,
    );
    assert_eq!(ts.signed().version, 4);
    verify_timestamp(&ts, root_env.signed()).unwrap();
}

async fn delete_removes_everything_and_allows_a_fresh_start(s: TestServer) {
    let repo = ClientRepo::init(&s, GUN).await;
    repo.publish(&s, GUN, 1, &["a"]).await;
    // Warm the caches.
    let by_version = format!("/v2/{GUN}/_trust/tuf/1.targets.json");
    assert_eq!(s.get(&by_version).await.status, StatusCode::OK);
    assert_eq!(
        s.get(&format!("/v2/{GUN}/_trust/tuf/root.json"))
            .await
            .status,
        StatusCode::OK
    );

    let r = s
        .request(Method::DELETE, &format!("/v2/{GUN}/_trust/tuf/"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    for uri in [
        format!("/v2/{GUN}/_trust/tuf/root.json"),
        format!("/v2/{GUN}/_trust/tuf/timestamp.json"),
        by_version.clone(),
    ] {
        assert_eq!(s.get(&uri).await.status, StatusCode::NOT_FOUND, "{uri}");
    }
    let feed = s
        .get(&format!("/v2/{GUN}/_trust/changefeed?records=10"))
        .await
        .json();
    assert_eq!(feed["count"], 2);
    assert_eq!(feed["records"][1]["Category"], "deletion");
    assert_eq!(feed["records"][1]["Version"], 0);

    // The same versions can be published again; the by-version read sees the new bytes.
    let targets_b = repo.publish(&s, GUN, 1, &["b"]).await.targets;
    assert_eq!(s.get(&by_version).await.body, targets_b);
    // Deleting one GUN leaves a GUN sharing its prefix alone.
    let other = format!("{GUN}x");
    assert_eq!(
        s.request(Method::DELETE, &format!("/v2/{other}/_trust/tuf/"))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(s.get(&by_version).await.status, StatusCode::OK);
}

async fn root_rotation_signed_by_old_and_new_keys(s: TestServer) {
    let repo = ClientRepo::init(&s, GUN).await;
    let targets = repo.publish(&s, GUN, 1, &["a"]).await.targets;
    let new_key = RootKey::new(GUN);
    let root2 = repo.root_v(2, &[&new_key], &[&repo.root_key, &new_key]);
    let snapshot2 = repo.snapshot_for(2, &[("root", &root2), ("targets", &targets)]);
    let r = s
        .upload(GUN, &[("root", &root2), ("snapshot", &snapshot2)])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        s.get(&format!("/v2/{GUN}/_trust/tuf/root.json")).await.body,
        root2
    );
    assert_eq!(
        s.get(&format!("/v2/{GUN}/_trust/tuf/1.root.json"))
            .await
            .body,
        repo.root
    );
    assert_eq!(
        s.get(&format!("/v2/{GUN}/_trust/tuf/2.root.json"))
            .await
            .body,
        root2
    );
}

async fn delegations_publish_and_read(s: TestServer) {
    let repo = ClientRepo::init(&s, GUN).await;
    let deleg_key = plain_key();
    let mut t = targets_doc(1, &[]);
    delegate(
        &mut t,
        "targets/releases",
        deleg_key.public_key(),
        &["releases/"],
    );
    let targets = sign(t, &[repo.targets_key.as_ref()]);
    let releases = sign(targets_doc(1, &["releases/v1"]), &[deleg_key.as_ref()]);
    let snapshot = repo.snapshot_for(
        1,
        &[
            ("root", &repo.root),
            ("targets", &targets),
            ("targets/releases", &releases),
        ],
    );
    let r = s
        .upload(
            GUN,
            &[
                ("targets/releases", &releases),
                ("root", &repo.root),
                ("snapshot", &snapshot),
                ("targets", &targets),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let got = s
        .get(&format!("/v2/{GUN}/_trust/tuf/targets/releases.json"))
        .await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.body, releases);
    let missing = s
        .get(&format!("/v2/{GUN}/_trust/tuf/targets/nope.json"))
        .await;
    assert_eq!(
        missing.status,
        StatusCode::NOT_FOUND,
        "a role missing from the snapshot is 404"
    );

    // A later delegation-only publish: the parent comes from the store.
    let releases2 = sign(
        targets_doc(2, &["releases/v1", "releases/v2"]),
        &[deleg_key.as_ref()],
    );
    let snapshot2 = repo.snapshot_for(
        2,
        &[
            ("root", &repo.root),
            ("targets", &targets),
            ("targets/releases", &releases2),
        ],
    );
    let r = s
        .upload(
            GUN,
            &[("targets/releases", &releases2), ("snapshot", &snapshot2)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        s.get(&format!("/v2/{GUN}/_trust/tuf/targets/releases.json"))
            .await
            .body,
        releases2
    );
}

// Each flow above, on SQLite and on PostgreSQL (a fresh schema per test).
on_both_backends!(
    notary_init_and_publish_then_read_back,
    docker_style_server_managed_snapshot,
    delete_removes_everything_and_allows_a_fresh_start,
    root_rotation_signed_by_old_and_new_keys,
    delegations_publish_and_read,
);
