//! `signet` on a trust dir written by notary 0.3: offline listing from the cache, and
//! publishing its staged changelist to a fresh server.

use std::path::Path;

use signet_e2e::{GoNotaryServer, NotaryCli, Passphrases, SignetServer, TrustDir, http_get};

use crate::client_support::Signet;
use crate::support::go_notary_available;

const GUN: &str = "docker.com/notary0.3/tst";

fn fixture() -> TrustDir {
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../crates/tuf/tests/data/notary-compat/notary0.3");
    TrustDir::copy_of(&source).unwrap()
}

fn passphrases() -> Passphrases {
    Passphrases {
        root: "password".to_owned(),
        targets: "password".to_owned(),
        snapshot: "password".to_owned(),
        delegation: "password".to_owned(),
    }
}

#[test]
fn notary_0_3_trust_dir_lists_offline_from_the_cache() {
    let dir = fixture();
    // Nothing listens on the discard port.
    let signet = Signet::on("http://127.0.0.1:9", &dir).with_passphrases(passphrases());
    let out = signet.run_ok(&["list", GUN]);
    let rows = signet_e2e::parse_target_list(&out.stdout).unwrap();
    let names: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r.name.as_str(), r.role.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("LICENSE", "targets"),
            ("change", "targets"),
            ("hello", "targets/releases")
        ]
    );
    assert!(out.stderr.contains("expired"), "{}", out.stderr);
}

/// The root key ID (certificate key) of the fixture's root, whose certificate expired in
/// July 2026.
const OLD_ROOT_KEY_ID: &str = "354e203ba09dbe17807b6a9d191bff887167c06d121e738d849446a9c76c2866";

/// The targets (name, role) a client sees after the fixture's staged changes were published:
/// the cached ones, `MAINTAINERS` added to targets and `Dockerfile` to targets/releases.
fn expected_names() -> Vec<(String, String)> {
    [
        ("Dockerfile", "targets/releases"),
        ("LICENSE", "targets"),
        ("MAINTAINERS", "targets"),
        ("change", "targets"),
        ("hello", "targets/releases"),
    ]
    .iter()
    .map(|(n, r)| ((*n).to_owned(), (*r).to_owned()))
    .collect()
}

fn names(rows: &[signet_e2e::TargetRow]) -> Vec<(String, String)> {
    let mut names: Vec<(String, String)> = rows
        .iter()
        .map(|r| (r.name.clone(), r.role.clone()))
        .collect();
    names.sort();
    names
}

/// Publishes the fixture's staged changes to the fresh server at `url` (`tuf_root` is the URL
/// of its `root.json` for the GUN) and checks what signet, a fresh signet and Go notary see.
fn publish_fixture_and_check(url: &str, tuf_root: &str) {
    let dir = fixture();
    let signet = Signet::on(url, &dir).with_passphrases(passphrases());
    let out = signet.run_ok(&["publish", GUN]);
    // The expired certificate was renewed for the same key; the user is told.
    assert!(
        out.stderr.contains(OLD_ROOT_KEY_ID) && out.stderr.contains("renewed"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("valid until"), "{}", out.stderr);
    assert!(
        !signet
            .run_ok(&["status", GUN])
            .stdout
            .contains("MAINTAINERS"),
        "the published changes stay staged"
    );

    // The new root lists a new certificate key for the same private key and is signed by the
    // old and the new certificate key IDs.
    let root = http_get(tuf_root).unwrap();
    assert_eq!(root.status, 200, "{}", root.text());
    let root: serde_json::Value = serde_json::from_slice(&root.body).unwrap();
    let root_ids: Vec<&str> = root["signed"]["roles"]["root"]["keyids"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(serde_json::Value::as_str)
        .collect();
    assert_eq!(root_ids.len(), 1, "{root}");
    let new_id = root_ids[0];
    assert_ne!(new_id, OLD_ROOT_KEY_ID);
    assert_eq!(root["signed"]["version"], 2, "{root}");
    let signers: Vec<&str> = root["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["keyid"].as_str())
        .collect();
    assert!(
        signers.contains(&new_id) && signers.contains(&OLD_ROOT_KEY_ID),
        "{signers:?}"
    );
    assert!(out.stderr.contains(new_id), "{}", out.stderr);

    // The same trust dir (old root cached) follows the rotation; a fresh one trusts the new
    // root; Go notary lists the same.
    let same = names(&signet.list(GUN));
    let fresh = names(&signet.fresh().list(GUN));
    assert_eq!(same, expected_names());
    assert_eq!(fresh, expected_names());
    let go = NotaryCli::new(url).unwrap();
    assert_eq!(names(&go.list(GUN).unwrap()), expected_names());
}

/// The fixture's root certificate expired in July 2026: the publish renews it for the same
/// root key (a root rotation signed by both certificate key IDs), lists the fresh server's
/// timestamp key, and publishes the staged changes.
#[test]
fn notary_0_3_staged_changes_publish_to_a_fresh_signet_server() {
    let server = SignetServer::start_sqlite().unwrap();
    publish_fixture_and_check(server.url(), &format!("{}root.json", server.tuf_url(GUN)));
}

/// As above, against the Go notary-server.
#[test]
fn notary_0_3_staged_changes_publish_to_a_fresh_go_notary_server() {
    if !go_notary_available() {
        return;
    }
    let server = GoNotaryServer::start_memory().unwrap();
    publish_fixture_and_check(server.url(), &format!("{}root.json", server.tuf_url(GUN)));
}

/// Without the root key the expired certificate cannot be renewed: the publish says so and
/// how to go on, and the staged changes stay staged.
#[test]
fn notary_0_3_publish_without_the_root_key_names_it() {
    let server = SignetServer::start_sqlite().unwrap();
    let dir = fixture();
    let root_keys = dir.path().join("private/root_keys");
    std::fs::remove_dir_all(&root_keys).unwrap();
    let signet = Signet::on(server.url(), &dir).with_passphrases(passphrases());
    let out = signet.run(&["publish", GUN]);
    assert!(!out.success(), "{out:?}");
    let text = format!("{}{}", out.stdout, out.stderr);
    assert!(
        text.contains("f4eaf871a74aa3b3a0ff95cef2455a1e4d461639f5625418e76756fc5c948690"),
        "{text}"
    );
    assert!(text.contains("is not available"), "{text}");
    assert!(
        text.contains(&format!("signet key rotate {GUN} root")),
        "{text}"
    );
    assert!(
        signet
            .run_ok(&["status", GUN])
            .stdout
            .contains("MAINTAINERS")
    );
}
