//! `GET /v2/_trust/keys/<keyid>/repositories`: which repositories trust a key, after real
//! uploads (root, targets, snapshot, timestamp and delegation keys), key rotations and
//! deletes; the catalog scope; bad key IDs and parameters; pages; GUN prefixes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::{Method, StatusCode};
use common::TestServer;
use common::meta::{delegate, plain_key, root_doc, sign, targets_doc};
use common::publish::ClientRepo;
use common::token::{Issuer, call, claims, repo_access, server};
use signet_server::http::HttpSettings;
use signet_server::store::FileUpdate;

const GUN: &str = "docker.io/library/app";

/// `(gun, role, listed key ID)` of every entry of the answer for `key_id`.
async fn trusting(s: &TestServer, key_id: &str) -> Vec<(String, String, String)> {
    let r = s
        .get(&format!("/v2/_trust/keys/{key_id}/repositories"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let v = r.json();
    assert_eq!(v["key_id"], key_id.to_ascii_lowercase());
    assert!(v["next"].is_null(), "{v}");
    v["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["gun"].as_str().unwrap().to_owned(),
                e["role"].as_str().unwrap().to_owned(),
                e["key_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// A root whose four roles share one new key, and that key's ID.
fn one_key_root() -> (String, Vec<u8>) {
    let key = plain_key();
    let public = key.public_key();
    let root = sign(
        root_doc(1, &[public], public, public, public),
        &[key.as_ref()],
    );
    (public.key_id().to_string(), root)
}

fn entry(role: &str, key_id: &str) -> (String, String, String) {
    (GUN.to_owned(), role.to_owned(), key_id.to_owned())
}

async fn keys_of_uploads_rotations_and_deletes(s: TestServer) {
    let repo = ClientRepo::init(&s, GUN).await;
    let first = repo.publish(&s, GUN, 1, &["v1"]).await;
    let root_id = repo.root_key.id().to_string();
    let canonical = repo.root_key.public.canonical_key_id().unwrap().to_string();
    let targets_id = repo.targets_key.public_key().key_id().to_string();
    let snapshot_id = repo.snapshot_key.public_key().key_id().to_string();
    let timestamp_id = repo.timestamp.key_id().to_string();
    assert_eq!(trusting(&s, &root_id).await, [entry("root", &root_id)]);
    // The canonical ID of the root certificate's key (what key stores name it by) too.
    assert_eq!(trusting(&s, &canonical).await, [entry("root", &root_id)]);
    assert_eq!(
        trusting(&s, &targets_id).await,
        [entry("targets", &targets_id)]
    );
    assert_eq!(
        trusting(&s, &snapshot_id).await,
        [entry("snapshot", &snapshot_id)]
    );
    assert_eq!(
        trusting(&s, &timestamp_id.to_ascii_uppercase()).await,
        [entry("timestamp", &timestamp_id)]
    );
    // A key nothing trusts: an empty list.
    assert!(trusting(&s, &"0".repeat(64)).await.is_empty());

    // A delegation.
    let signer = plain_key();
    let signer_id = signer.public_key().key_id().to_string();
    let mut t2 = targets_doc(2, &["v1"]);
    delegate(&mut t2, "targets/releases", signer.public_key(), &[""]);
    let t2 = sign(t2, &[repo.targets_key.as_ref()]);
    let snap2 = repo.snapshot_for(2, &[("root", &repo.root), ("targets", &t2)]);
    let r = s
        .upload(GUN, &[("targets", &t2), ("snapshot", &snap2)])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        trusting(&s, &signer_id).await,
        [entry("targets/releases", &signer_id)]
    );
    drop(first);

    // Rotating the targets key: the old key no longer lists the repository.
    let new_targets = plain_key();
    let root2 = sign(
        root_doc(
            2,
            &[&repo.root_key.public],
            new_targets.public_key(),
            repo.snapshot_key.public_key(),
            &repo.timestamp,
        ),
        &[repo.root_key.signer.as_ref()],
    );
    let mut t3 = targets_doc(3, &["v1"]);
    delegate(&mut t3, "targets/releases", signer.public_key(), &[""]);
    let t3 = sign(t3, &[new_targets.as_ref()]);
    let snap3 = repo.snapshot_for(3, &[("root", &root2), ("targets", &t3)]);
    let r = s
        .upload(
            GUN,
            &[("root", &root2), ("targets", &t3), ("snapshot", &snap3)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(trusting(&s, &targets_id).await.is_empty());
    let new_id = new_targets.public_key().key_id().to_string();
    assert_eq!(trusting(&s, &new_id).await, [entry("targets", &new_id)]);
    assert_eq!(trusting(&s, &root_id).await, [entry("root", &root_id)]);

    // After the repository is deleted, nothing.
    let r = s
        .request(Method::DELETE, &format!("/v2/{GUN}/_trust/tuf/"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    for id in [&root_id, &new_id, &snapshot_id, &timestamp_id, &signer_id] {
        assert!(trusting(&s, id).await.is_empty(), "{id}");
    }
}

async fn bad_requests_and_pages(s: TestServer) {
    for bad in ["abc", &"g".repeat(64), &"a".repeat(65)] {
        let r = s.get(&format!("/v2/_trust/keys/{bad}/repositories")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.text());
        assert_eq!(r.error_code(), "INVALID_PARAMETERS");
    }
    let (id, root) = one_key_root();
    for i in 0..3 {
        s.store
            .update_many(
                &format!("example.com/p{i}"),
                &[FileUpdate::new("root", 1, root.clone())],
            )
            .await
            .unwrap();
    }
    for bad in ["limit=0", "limit=1001", "limit=x", "after=%21%21"] {
        let r = s
            .get(&format!("/v2/_trust/keys/{id}/repositories?{bad}"))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.text());
        assert_eq!(r.error_code(), "INVALID_PARAMETERS");
    }
    // 3 repositories × 4 roles, 5 at a time.
    let mut seen = Vec::new();
    let mut query = "limit=5".to_owned();
    let mut pages = 0;
    loop {
        let r = s
            .get(&format!("/v2/_trust/keys/{id}/repositories?{query}"))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let v = r.json();
        pages += 1;
        for e in v["repositories"].as_array().unwrap() {
            seen.push(format!(
                "{} {}",
                e["gun"].as_str().unwrap(),
                e["role"].as_str().unwrap()
            ));
        }
        match v["next"].as_str() {
            Some(next) => query = format!("limit=5&after={next}"),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let mut expected = Vec::new();
    for i in 0..3 {
        for role in ["root", "snapshot", "targets", "timestamp"] {
            expected.push(format!("example.com/p{i} {role}"));
        }
    }
    assert_eq!(seen, expected);
}

on_both_backends!(
    keys_of_uploads_rotations_and_deletes,
    bad_requests_and_pages
);

#[tokio::test]
async fn repositories_outside_the_gun_prefixes_are_left_out() {
    let s = TestServer::with_settings(
        HttpSettings {
            gun_prefixes: vec!["served/".to_owned()],
            ..HttpSettings::default()
        },
        None,
    )
    .await;
    let (id, root) = one_key_root();
    for gun in ["other/x", "served/y"] {
        s.store
            .update_many(gun, &[FileUpdate::new("root", 1, root.clone())])
            .await
            .unwrap();
    }
    let guns: Vec<String> = trusting(&s, &id).await.into_iter().map(|e| e.0).collect();
    assert_eq!(guns, ["served/y"; 4]);
}

#[tokio::test]
async fn the_catalog_scope_is_needed() {
    let iss = Issuer::new();
    let s = server(&iss).await;
    let uri = format!("/v2/_trust/keys/{}/repositories", "a".repeat(64));
    let r = call(&s, Method::GET, &uri, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(
        r.header("www-authenticate")
            .unwrap()
            .contains("scope=\"registry:catalog:*\""),
    );
    // Pulling one repository is not enough: the answer names repositories of the whole
    // server.
    let pull = iss.token(&claims(repo_access(GUN, &["pull"]), 300));
    let r = call(&s, Method::GET, &uri, Some(&pull)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let catalog = iss.token(&claims(
        serde_json::json!([{"type":"registry","name":"catalog","actions":["*"]}]),
        300,
    ));
    let r = call(&s, Method::GET, &uri, Some(&catalog)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["repositories"], serde_json::json!([]));
}
