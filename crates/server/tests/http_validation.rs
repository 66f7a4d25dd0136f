//! Uploads refused by validation or storage: each answer is a 400 with the right code and
//! detail, and the stored repository is unchanged.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::StatusCode;
use common::meta::*;
use common::publish::{ClientRepo, Published, server_key};
use common::{Reply, TestServer};
use signet_tuf::PublicKey;

const GUN: &str = "example.com/team/app";

/// A published repository: its keys, and the targets 1 and snapshot 1 it uploaded.
struct MetadataService {
    keys: ClientRepo,
    targets: Vec<u8>,
    snapshot: Vec<u8>,
}

impl std::ops::Deref for MetadataService {
    type Target = ClientRepo;

    fn deref(&self) -> &ClientRepo {
        &self.keys
    }
}

/// A server with one published repository (root 1, targets 1, snapshot 1, timestamp 1).
async fn published() -> (TestServer, MetadataService) {
    let s = TestServer::new().await;
    let keys = ClientRepo::init(&s, GUN).await;
    let Published {
        targets, snapshot, ..
    } = keys.publish(&s, GUN, 1, &["a"]).await;
    (
        s,
        MetadataService {
            keys,
            targets,
            snapshot,
        },
    )
}

/// The stored state: the timestamp version and the number of change records.
async fn state(s: &TestServer) -> (Option<i64>, usize) {
    let ts = s
        .store
        .latest(GUN, "timestamp")
        .await
        .unwrap()
        .map(|f| f.version);
    (ts, s.change_count(GUN).await)
}

fn assert_invalid(r: &Reply, name: &str, msg_part: &str) {
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    assert_eq!(r.error_code(), "INVALID_UPDATE", "{}", r.text());
    assert!(r.body.len() < 1024);
    let detail = &r.json()["errors"][0]["detail"];
    assert_eq!(detail["Name"], name, "{}", r.text());
    let msg = detail["Error"]["Msg"].as_str().unwrap_or_default();
    assert!(msg.contains(msg_part), "{msg:?} lacks {msg_part:?}");
}

#[tokio::test]
async fn wrong_signatures_on_targets() {
    let (s, repo) = published().await;
    let before = state(&s).await;
    let other = plain_key();
    let targets = sign(targets_doc(2, &["b"]), &[other.as_ref()]);
    let snapshot = repo.snapshot_for(2, &[("root", &repo.root), ("targets", &targets)]);
    let r = s
        .upload(GUN, &[("targets", &targets), ("snapshot", &snapshot)])
        .await;
    assert_invalid(
        &r,
        "ErrBadTargets",
        "valid signatures did not meet threshold for targets",
    );
    // Unsigned.
    let unsigned = sign(targets_doc(2, &["b"]), &[]);
    let r = s.upload(GUN, &[("targets", &unsigned)]).await;
    assert_invalid(&r, "ErrBadTargets", "no signatures");
    assert_eq!(state(&s).await, before);
    assert_eq!(
        s.get(&format!("/v2/{GUN}/_trust/tuf/targets.json"))
            .await
            .body,
        repo.targets
    );
}

#[tokio::test]
async fn tampered_or_malformed_targets() {
    let (s, repo) = published().await;
    let before = state(&s).await;
    let good = sign(targets_doc(2, &["b"]), &[repo.targets_key.as_ref()]);
    let tampered = String::from_utf8(good.clone())
        .unwrap()
        .replace("\"b\"", "\"c\"");
    let r = s.upload(GUN, &[("targets", tampered.as_bytes())]).await;
    assert_invalid(&r, "ErrBadTargets", "threshold");
    let mut trailing = good.clone();
    trailing.extend_from_slice(b"garbage");
    let r = s.upload(GUN, &[("targets", &trailing)]).await;
    assert_eq!(r.error_code(), "INVALID_UPDATE");
    assert_eq!(r.json()["errors"][0]["detail"]["Name"], "ErrBadTargets");
    let wrong_type = sign(snapshot_doc(2, &[]), &[repo.targets_key.as_ref()]);
    let r = s.upload(GUN, &[("targets", &wrong_type)]).await;
    assert_invalid(&r, "ErrBadTargets", "expected type Targets");
    let mut expired = targets_doc(2, &["b"]);
    expired.expires = expires_in(-1);
    let expired = sign(expired, &[repo.targets_key.as_ref()]);
    let r = s.upload(GUN, &[("targets", &expired)]).await;
    assert_invalid(&r, "ErrBadTargets", "expired at");
    assert_eq!(state(&s).await, before);
}

#[tokio::test]
async fn stale_versions_are_version_conflicts() {
    let (s, repo) = published().await;
    let before = state(&s).await;
    let r = s
        .upload(
            GUN,
            &[("targets", &repo.targets), ("snapshot", &repo.snapshot)],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    assert_eq!(r.error_code(), "VERSION");
    assert_eq!(
        r.text(),
        "{\"errors\":[{\"code\":\"VERSION\",\"message\":\"A newer version of metadata is already available.\",\"detail\":{}}]}\n"
    );
    // Same root version again passes the root rule but fails in storage.
    let r = s
        .upload(GUN, &[("root", &repo.root), ("snapshot", &repo.snapshot)])
        .await;
    assert_eq!(r.error_code(), "VERSION");
    assert_eq!(state(&s).await, before);
}

#[tokio::test]
async fn root_rules() {
    let (s, repo) = published().await;
    let before = state(&s).await;
    let new_key = RootKey::new(GUN);
    // Rotation signed only by the new key.
    let root2 = repo.root_v(2, &[&new_key], &[&new_key]);
    let snap2 = repo.snapshot_for(2, &[("root", &root2), ("targets", &repo.targets)]);
    let r = s
        .upload(GUN, &[("root", &root2), ("snapshot", &snap2)])
        .await;
    assert_invalid(
        &r,
        "ErrBadRoot",
        "could not rotate trust to a new trusted root: failed to validate data with current trusted certificates",
    );
    // Signed only by the old key.
    let root2 = repo.root_v(2, &[&new_key], &[&repo.root_key]);
    let r = s.upload(GUN, &[("root", &root2)]).await;
    assert_invalid(
        &r,
        "ErrBadRoot",
        "could not validate the path to a trusted root: failed to validate integrity of roots",
    );
    // Skipping a version.
    let root3 = repo.root_v(3, &[&repo.root_key], &[&repo.root_key]);
    let r = s.upload(GUN, &[("root", &root3)]).await;
    assert_invalid(
        &r,
        "ErrBadRoot",
        "Root modifications must increment the version. Current 1, new 3",
    );
    // A certificate for another GUN.
    let stranger = RootKey::new("example.com/other");
    let root2 = repo.root_v(2, &[&stranger], &[&repo.root_key, &stranger]);
    let r = s.upload(GUN, &[("root", &root2)]).await;
    assert_invalid(
        &r,
        "ErrBadRoot",
        "unable to retrieve valid leaf certificates",
    );
    // A plain (non-certificate) root key.
    let plain = plain_key();
    let mut doc = root_doc(
        2,
        &[plain.public_key()],
        repo.targets_key.public_key(),
        repo.snapshot_key.public_key(),
        &repo.timestamp,
    );
    doc.keys
        .insert(repo.root_key.id(), repo.root_key.public.clone());
    let root2 = sign(doc, &[plain.as_ref(), repo.root_key.signer.as_ref()]);
    let r = s.upload(GUN, &[("root", &root2)]).await;
    assert_invalid(
        &r,
        "ErrBadRoot",
        "unable to retrieve valid leaf certificates",
    );
    assert_eq!(state(&s).await, before);
    assert_eq!(
        s.get(&format!("/v2/{GUN}/_trust/tuf/root.json")).await.body,
        repo.root
    );
}

#[tokio::test]
async fn first_upload_rules() {
    let s = TestServer::new().await;
    let targets_key = plain_key();
    let targets = sign(targets_doc(1, &["a"]), &[targets_key.as_ref()]);
    let r = s.upload(GUN, &[("targets", &targets)]).await;
    assert_invalid(
        &r,
        "ErrValidation",
        "no pre-existing root and no root provided in update.",
    );

    let timestamp = server_key(&s, GUN, "timestamp").await;
    let root_key = RootKey::new(GUN);
    let snapshot_key = plain_key();
    let make_root = |version: i64, ts: &PublicKey| {
        sign(
            root_doc(
                version,
                &[&root_key.public],
                targets_key.public_key(),
                snapshot_key.public_key(),
                ts,
            ),
            &[root_key.signer.as_ref()],
        )
    };
    // The client holds the snapshot key but sends no snapshot.
    let root = make_root(1, &timestamp);
    let r = s
        .upload(GUN, &[("root", &root), ("targets", &targets)])
        .await;
    assert_invalid(&r, "ErrBadHierarchy", "no snapshot was included in update");
    assert_eq!(
        r.json()["errors"][0]["detail"]["Error"]["Missing"],
        "snapshot"
    );
    // Root version 3 on a fresh repository.
    let root3 = make_root(3, &timestamp);
    let r = s.upload(GUN, &[("root", &root3)]).await;
    assert_invalid(&r, "ErrBadRoot", "Current 1, new 3");
    // A timestamp key the server does not hold.
    let foreign = plain_key();
    let root = make_root(1, foreign.public_key());
    let snapshot = sign(
        snapshot_doc(1, &[("root", &root), ("targets", &targets)]),
        &[snapshot_key.as_ref()],
    );
    let r = s
        .upload(
            GUN,
            &[
                ("root", &root),
                ("targets", &targets),
                ("snapshot", &snapshot),
            ],
        )
        .await;
    assert_invalid(&r, "ErrBadRoot", "timestamp keys exist on the server");
    // A snapshot naming a targets file that exists nowhere.
    let root = make_root(1, &timestamp);
    let snapshot = sign(
        snapshot_doc(1, &[("root", &root), ("targets", b"never uploaded")]),
        &[snapshot_key.as_ref()],
    );
    let r = s
        .upload(GUN, &[("root", &root), ("snapshot", &snapshot)])
        .await;
    assert_invalid(&r, "ErrBadSnapshot", "neither uploaded nor stored");
    assert!(s.store.latest(GUN, "root").await.unwrap().is_none());
    assert_eq!(s.change_count(GUN).await, 0);
}

#[tokio::test]
async fn snapshot_checks() {
    let (s, repo) = published().await;
    let before = state(&s).await;
    let targets = sign(targets_doc(2, &["b"]), &[repo.targets_key.as_ref()]);
    // Checksum of the wrong targets.
    let snapshot = repo.snapshot_for(2, &[("root", &repo.root), ("targets", &repo.targets)]);
    let r = s
        .upload(GUN, &[("targets", &targets), ("snapshot", &snapshot)])
        .await;
    assert_invalid(&r, "ErrBadSnapshot", "checksum for targets did not match");
    // Signed by the wrong key.
    let snapshot = sign(
        snapshot_doc(2, &[("root", &repo.root), ("targets", &targets)]),
        &[repo.targets_key.as_ref()],
    );
    let r = s
        .upload(GUN, &[("targets", &targets), ("snapshot", &snapshot)])
        .await;
    assert_invalid(
        &r,
        "ErrBadSnapshot",
        "valid signatures did not meet threshold for snapshot",
    );
    // Missing root entry.
    let snapshot = repo.snapshot_for(2, &[("targets", &targets)]);
    let r = s
        .upload(GUN, &[("targets", &targets), ("snapshot", &snapshot)])
        .await;
    assert_invalid(
        &r,
        "ErrBadSnapshot",
        "missing root sha256 checksum information",
    );
    // Expired.
    let mut doc = snapshot_doc(2, &[("root", &repo.root), ("targets", &targets)]);
    doc.expires = expires_in(-2);
    let snapshot = sign(doc, &[repo.snapshot_key.as_ref()]);
    let r = s
        .upload(GUN, &[("targets", &targets), ("snapshot", &snapshot)])
        .await;
    assert_invalid(&r, "ErrBadSnapshot", "expired at");
    assert_eq!(state(&s).await, before);
}

#[tokio::test]
async fn delegation_rules() {
    let (s, repo) = published().await;
    let deleg_key = plain_key();
    let mut t = targets_doc(2, &["a"]);
    delegate(
        &mut t,
        "targets/releases",
        deleg_key.public_key(),
        &["releases/"],
    );
    let targets = sign(t, &[repo.targets_key.as_ref()]);
    let snapshot = repo.snapshot_for(2, &[("root", &repo.root), ("targets", &targets)]);
    let r = s
        .upload(GUN, &[("targets", &targets), ("snapshot", &snapshot)])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let before = state(&s).await;

    // Outside the delegated paths (accepted by Go, refused here on purpose).
    let outside = sign(targets_doc(1, &["other/x"]), &[deleg_key.as_ref()]);
    let snap = repo.snapshot_for(
        3,
        &[
            ("root", &repo.root),
            ("targets", &targets),
            ("targets/releases", &outside),
        ],
    );
    let r = s
        .upload(GUN, &[("targets/releases", &outside), ("snapshot", &snap)])
        .await;
    assert_invalid(
        &r,
        "ErrBadTargets",
        "outside the paths delegated to targets/releases",
    );
    // Not declared by its parent.
    let undeclared = sign(targets_doc(1, &["x"]), &[deleg_key.as_ref()]);
    let r = s.upload(GUN, &[("targets/nightly", &undeclared)]).await;
    assert_invalid(&r, "ErrBadTargets", "delegation does not exist");
    // Signed by the wrong key.
    let wrong = sign(
        targets_doc(1, &["releases/v1"]),
        &[repo.targets_key.as_ref()],
    );
    let r = s.upload(GUN, &[("targets/releases", &wrong)]).await;
    assert_invalid(
        &r,
        "ErrBadTargets",
        "valid signatures did not meet threshold for targets/releases",
    );
    assert_eq!(state(&s).await, before);
}

#[tokio::test]
async fn root_key_rotation_must_keep_targets_verifiable() {
    let (s, repo) = published().await;
    let before = state(&s).await;
    let new_targets_key = plain_key();
    let root2 = sign(
        root_doc(
            2,
            &[&repo.root_key.public],
            new_targets_key.public_key(),
            repo.snapshot_key.public_key(),
            &repo.timestamp,
        ),
        &[repo.root_key.signer.as_ref()],
    );
    let snap = repo.snapshot_for(2, &[("root", &root2), ("targets", &repo.targets)]);
    let r = s
        .upload(GUN, &[("root", &root2), ("snapshot", &snap)])
        .await;
    assert_invalid(
        &r,
        "ErrBadHierarchy",
        "targets keys do not verify the current targets",
    );
    assert_eq!(
        r.json()["errors"][0]["detail"]["Error"]["Missing"],
        "targets"
    );
    assert_eq!(state(&s).await, before);
    // With targets re-signed by the new key, the rotation goes through.
    let targets2 = sign(targets_doc(2, &["a"]), &[new_targets_key.as_ref()]);
    let snap = repo.snapshot_for(2, &[("root", &root2), ("targets", &targets2)]);
    let r = s
        .upload(
            GUN,
            &[
                ("root", &root2),
                ("targets", &targets2),
                ("snapshot", &snap),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}
