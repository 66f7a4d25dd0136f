//! A repository with delegations and chosen expiries, published through the API, and what the
//! API answers about it: for the tests of the web view.

use std::sync::Arc;

use axum::http::StatusCode;
use base64::Engine as _;
use signet_signer::{PrivateKey, Signer};
use signet_tuf::metadata::Targets;

use super::TestServer;
use super::meta::{RootKey, delegate, expires_in, plain_key, root_doc, sign, snapshot_doc};

/// `gun` as a URL path carries it (as the web view's links do).
pub fn path_of(gun: &str) -> String {
    signet_server::http::route::percent_encode_path(gun)
}

/// The text of `html` from `start` to the next `end` (inclusive).
pub fn section<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let from = html
        .find(start)
        .unwrap_or_else(|| panic!("no {start} in {html}"));
    let len = html[from..]
        .find(end)
        .unwrap_or_else(|| panic!("no {end} after {start}"));
    &html[from..from + len + end.len()]
}

/// Expiries, in days from now, of the roles of a [`publish_delegated`] repository.
#[derive(Clone, Copy, Debug)]
pub struct Expiries {
    pub targets: i64,
    pub releases: i64,
    pub alice: i64,
}

/// What [`publish_delegated`] published.
pub struct Delegated {
    pub alice_key: Arc<PrivateKey>,
    pub releases_key: Arc<PrivateKey>,
}

/// Publishes `gun` as the notary client does (client-held snapshot key, server-held timestamp
/// key) with `targets` signing `tags[0]`, delegations `targets/releases` (every path, signing
/// `tags[0]` with the same digest) and `targets/alice` (every path, signing every tag), each
/// expiring as `expiries` says.
pub async fn publish_delegated(
    s: &TestServer,
    gun: &str,
    tags: &[&str],
    expiries: Expiries,
) -> Delegated {
    let key = s
        .get(&format!("/v2/{}/_trust/tuf/timestamp.key", path_of(gun)))
        .await;
    assert_eq!(key.status, StatusCode::OK, "{}", key.text());
    let timestamp = super::meta::key_from_json(&key.body);
    let root_key = RootKey::new(gun);
    let (targets_key, snapshot_key) = (plain_key(), plain_key());
    let (releases_key, alice_key) = (plain_key(), plain_key());
    let root = sign(
        root_doc(
            1,
            &[&root_key.public],
            targets_key.public_key(),
            snapshot_key.public_key(),
            &timestamp,
        ),
        &[root_key.signer.as_ref()],
    );
    let with = |days: i64, names: &[&str]| {
        let mut t = Targets::new(1, expires_in(days));
        for n in names {
            t.targets.insert(
                (*n).to_owned(),
                signet_tuf::metadata::FileMeta::from_bytes(n.as_bytes()),
            );
        }
        t
    };
    let first = tags.first().copied().unwrap_or("latest");
    let mut top = with(expiries.targets, &[first]);
    delegate(
        &mut top,
        "targets/releases",
        releases_key.public_key(),
        &[""],
    );
    delegate(&mut top, "targets/alice", alice_key.public_key(), &[""]);
    let targets = sign(top, &[targets_key.as_ref() as &dyn Signer]);
    let releases = sign(with(expiries.releases, &[first]), &[releases_key.as_ref()]);
    let alice = sign(with(expiries.alice, tags), &[alice_key.as_ref()]);
    let snapshot = sign(
        snapshot_doc(
            1,
            &[
                ("root", &root),
                ("targets", &targets),
                ("targets/releases", &releases),
                ("targets/alice", &alice),
            ],
        ),
        &[snapshot_key.as_ref()],
    );
    let (ct, body) = super::multipart(&[
        ("root", &root),
        ("targets", &targets),
        ("targets/releases", &releases),
        ("targets/alice", &alice),
        ("snapshot", &snapshot),
    ]);
    let r = s
        .post_raw(
            &format!("/v2/{}/_trust/tuf/", path_of(gun)),
            Some(&ct),
            body,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "upload of {gun}: {}", r.text());
    Delegated {
        alice_key,
        releases_key,
    }
}

/// The `signed` part of the current `role` file of `gun`, as the API serves it.
pub async fn api_signed(s: &TestServer, gun: &str, role: &str) -> serde_json::Value {
    let r = s
        .get(&format!("/v2/{}/_trust/tuf/{role}.json", path_of(gun)))
        .await;
    assert_eq!(r.status, StatusCode::OK, "GET {role}.json: {}", r.text());
    r.json()["signed"].clone()
}

/// The hex SHA-256 of target `name` in a `signed` targets document from the API.
pub fn api_digest(targets: &serde_json::Value, name: &str) -> String {
    let b64 = targets["targets"][name]["hashes"]["sha256"]
        .as_str()
        .unwrap_or_else(|| panic!("no sha256 for {name} in {targets}"));
    hex::encode(
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .expect("base64 digest"),
    )
}

/// The key IDs a `signed` root (`roles.<role>`) or targets (`delegations.roles[name]`)
/// document from the API lists.
pub fn api_key_ids(signed: &serde_json::Value, role: &str) -> Vec<String> {
    let list = if signed["_type"] == "Root" {
        signed["roles"][role]["keyids"].clone()
    } else {
        signed["delegations"]["roles"]
            .as_array()
            .and_then(|roles| roles.iter().find(|r| r["name"] == role))
            .map(|r| r["keyids"].clone())
            .unwrap_or_default()
    };
    list.as_array()
        .unwrap_or_else(|| panic!("no key IDs of {role} in {signed}"))
        .iter()
        .map(|v| v.as_str().expect("key ID").to_owned())
        .collect()
}
