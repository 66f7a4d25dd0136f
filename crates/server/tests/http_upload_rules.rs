//! Upload rules that once let a validly signed request do harm: a snapshot that rolls a role
//! back, an expiry Go cannot read, a version the store cannot hold, and a role named twice.
//! Each is refused with a 4xx and leaves every stored file as it was, on both backends.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::StatusCode;
use common::meta::*;
use common::publish::ClientRepo;
use common::{Reply, TestServer};
use signet_signer::Signer;
use signet_tuf::metadata::{Envelope, Targets};

const GUN: &str = "example.com/rules/app";

/// Every current file of `GUN` (root, targets, snapshot, timestamp, and `extra` roles), and
/// the number of change records: what must not move when an upload is refused.
async fn snapshot_of_store(s: &TestServer, extra: &[&str]) -> (Vec<Option<(i64, Vec<u8>)>>, usize) {
    let mut files = Vec::new();
    for role in ["root", "targets", "snapshot", "timestamp"]
        .iter()
        .chain(extra)
    {
        let f = s.store.latest(GUN, role).await.unwrap();
        files.push(f.map(|f| (f.version, f.data.to_vec())));
    }
    (files, s.change_count(GUN).await)
}

fn assert_refused(r: &Reply, code: &str, detail_part: &str) {
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    assert_eq!(r.error_code(), code, "{}", r.text());
    assert!(
        r.text().contains(detail_part),
        "{:?} lacks {detail_part:?}",
        r.text()
    );
}

/// The current targets as the server serves them (`GET targets.json`).
async fn served_targets_version(s: &TestServer) -> i64 {
    let r = s.get(&format!("/v2/{GUN}/_trust/tuf/targets.json")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    Envelope::<Targets>::parse(&r.body)
        .unwrap()
        .signed()
        .version
}

/// Signs `signed` (canonical JSON, written by hand) with `signers`, into a file.
fn sign_raw(signed: &[u8], signers: &[&dyn Signer]) -> Vec<u8> {
    let sigs: Vec<serde_json::Value> = signers
        .iter()
        .map(|s| serde_json::to_value(s.sign(signed).unwrap()).unwrap())
        .collect();
    let mut out = b"{\"signed\":".to_vec();
    out.extend_from_slice(signed);
    out.extend_from_slice(b",\"signatures\":");
    out.extend_from_slice(&serde_json::to_vec(&sigs).unwrap());
    out.push(b'}');
    out
}

/// A snapshot-only upload, validly signed with the repository's snapshot key, that names an
/// older stored targets (the previous one, or the first) is a rollback and is refused. The
/// same holds for a delegation. A snapshot naming the current files is still accepted.
async fn snapshot_cannot_roll_roles_back(s: TestServer) {
    let repo = ClientRepo::init(&s, GUN).await;
    let v1 = repo.publish(&s, GUN, 1, &["a"]).await;
    let deleg_key = plain_key();
    let mut t2 = targets_doc(2, &["a", "b"]);
    delegate(
        &mut t2,
        "targets/releases",
        deleg_key.public_key(),
        &["releases/"],
    );
    let targets2 = sign(t2, &[repo.targets_key.as_ref()]);
    let rel1 = sign(targets_doc(1, &["releases/1"]), &[deleg_key.as_ref()]);
    let snap2 = repo.snapshot_for(
        2,
        &[
            ("root", &repo.root),
            ("targets", &targets2),
            ("targets/releases", &rel1),
        ],
    );
    let r = s
        .upload(
            GUN,
            &[
                ("targets", &targets2),
                ("targets/releases", &rel1),
                ("snapshot", &snap2),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let rel2 = sign(targets_doc(2, &["releases/2"]), &[deleg_key.as_ref()]);
    let snap3 = repo.snapshot_for(
        3,
        &[
            ("root", &repo.root),
            ("targets", &targets2),
            ("targets/releases", &rel2),
        ],
    );
    let r = s
        .upload(GUN, &[("targets/releases", &rel2), ("snapshot", &snap3)])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let before = snapshot_of_store(&s, &["targets/releases"]).await;

    // Targets back to the first version, then a delegation back to its previous version.
    for (case, files) in [
        (
            "targets 1",
            vec![
                ("root", &repo.root[..]),
                ("targets", &v1.targets[..]),
                ("targets/releases", &rel2[..]),
            ],
        ),
        (
            "targets/releases 1",
            vec![
                ("root", &repo.root[..]),
                ("targets", &targets2[..]),
                ("targets/releases", &rel1[..]),
            ],
        ),
    ] {
        let snapshot = repo.snapshot_for(4, &files);
        let r = s.upload(GUN, &[("snapshot", &snapshot)]).await;
        assert_refused(&r, "INVALID_UPDATE", "older than the current version");
        assert_eq!(
            snapshot_of_store(&s, &["targets/releases"]).await,
            before,
            "{case}"
        );
        assert_eq!(served_targets_version(&s).await, 2, "{case}");
    }

    // The current files in a new snapshot: accepted.
    let snapshot = repo.snapshot_for(
        4,
        &[
            ("root", &repo.root),
            ("targets", &targets2),
            ("targets/releases", &rel2),
        ],
    );
    let r = s.upload(GUN, &[("snapshot", &snapshot)]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(served_targets_version(&s).await, 2);
}

/// An `expires` with second 60, in targets or a delegation, is refused: Go cannot parse it,
/// so storing it would make the repository unreadable for Go and docker clients.
async fn expiry_go_cannot_read_is_refused(s: TestServer) {
    let repo = ClientRepo::init(&s, GUN).await;
    repo.publish(&s, GUN, 1, &["a"]).await;
    let before = snapshot_of_store(&s, &[]).await;
    let mut doc = targets_doc(2, &["b"]);
    doc.expires = signet_tuf::metadata::Expires::parse("2030-01-01T00:00:59Z").unwrap();
    let canonical = Envelope::from_signed(doc).unwrap().signing_bytes().to_vec();
    let text = String::from_utf8(canonical).unwrap();
    assert!(text.contains("2030-01-01T00:00:59Z"));
    let leap = text.replace("2030-01-01T00:00:59Z", "2030-01-01T00:00:60Z");
    let targets = sign_raw(leap.as_bytes(), &[repo.targets_key.as_ref()]);
    let snapshot = repo.snapshot_for(2, &[("root", &repo.root), ("targets", &targets)]);
    for role in ["targets", "targets/releases"] {
        let r = s
            .upload(GUN, &[(role, &targets[..]), ("snapshot", &snapshot[..])])
            .await;
        // As in Go, the body carries the code only; the reason is logged.
        assert_refused(&r, "MALFORMED_JSON", "");
        assert_eq!(snapshot_of_store(&s, &[]).await, before, "{role}");
    }
}

/// A version of 2³¹ in targets or snapshot is a 400 that names the limit, not a 500.
async fn versions_past_the_column_are_refused(s: TestServer) {
    let repo = ClientRepo::init(&s, GUN).await;
    let v1 = repo.publish(&s, GUN, 1, &["a"]).await;
    let before = snapshot_of_store(&s, &[]).await;
    let huge = i64::from(i32::MAX) + 1;

    let targets = repo.targets_v(huge, &["b"]);
    let snapshot = repo.snapshot_for(2, &[("root", &repo.root), ("targets", &targets)]);
    let r = s
        .upload(GUN, &[("targets", &targets), ("snapshot", &snapshot)])
        .await;
    assert_refused(&r, "INVALID_UPDATE", "2147483647");
    assert_eq!(r.json()["errors"][0]["detail"]["Name"], "ErrBadTargets");

    let snapshot = repo.snapshot_for(huge, &[("root", &repo.root), ("targets", &v1.targets)]);
    let r = s.upload(GUN, &[("snapshot", &snapshot)]).await;
    assert_refused(&r, "INVALID_UPDATE", "2147483647");
    assert_eq!(r.json()["errors"][0]["detail"]["Name"], "ErrBadSnapshot");
    assert_eq!(snapshot_of_store(&s, &[]).await, before);

    // The largest version the column holds is fine.
    let top = i64::from(i32::MAX);
    let targets = repo.targets_v(top, &["b"]);
    let snapshot = repo.snapshot_for(2, &[("root", &repo.root), ("targets", &targets)]);
    let r = s
        .upload(GUN, &[("targets", &targets), ("snapshot", &snapshot)])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(served_targets_version(&s).await, top);
}

/// An upload naming a role twice is refused whatever the order of the parts, even when one
/// of them is valid.
async fn a_role_named_twice_is_refused(s: TestServer) {
    let repo = ClientRepo::init(&s, GUN).await;
    repo.publish(&s, GUN, 1, &["a"]).await;
    let before = snapshot_of_store(&s, &[]).await;
    let targets = repo.targets_v(2, &["b"]);
    let snapshot = repo.snapshot_for(2, &[("root", &repo.root), ("targets", &targets)]);
    let garbage = br#"{"signed":{"_type":"Targets","version":2},"signatures":[]}"#;
    for (case, parts) in [
        (
            "garbage first",
            [("targets", &garbage[..]), ("targets", &targets[..])],
        ),
        (
            "garbage last",
            [("targets", &targets[..]), ("targets", &garbage[..])],
        ),
        (
            "both valid",
            [("targets", &targets[..]), ("targets", &targets[..])],
        ),
    ] {
        let mut all = parts.to_vec();
        all.push(("snapshot", &snapshot[..]));
        let r = s.upload(GUN, &all).await;
        assert_refused(&r, "MALFORMED_UPLOAD", "");
        assert_eq!(snapshot_of_store(&s, &[]).await, before, "{case}");
    }
    let r = s
        .upload(
            GUN,
            &[
                ("targets", &targets[..]),
                ("snapshot", &snapshot[..]),
                ("snapshot.json", &snapshot[..]),
            ],
        )
        .await;
    assert_refused(&r, "MALFORMED_UPLOAD", "");
    assert_eq!(snapshot_of_store(&s, &[]).await, before);
}

on_both_backends!(
    snapshot_cannot_roll_roles_back,
    expiry_go_cannot_read_is_refused,
    versions_past_the_column_are_refused,
    a_role_named_twice_is_refused,
);
