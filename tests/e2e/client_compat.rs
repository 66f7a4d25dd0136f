//! `signet` on trust dirs written by notary 0.1 and 0.3: the old private key layout, offline
//! listing from the cache, and publishing their staged changelists to a fresh server (at least
//! what Go notary's own backwards-compatibility tests ask of the 0.1 trust dir); and what an
//! offline `list` shows right after a publish, next to Go notary in the same situation.

use std::path::Path;

use signet_e2e::{GoNotaryServer, NotaryCli, Passphrases, SignetServer, TrustDir, http_get};

use crate::client_support::Signet;
use crate::support::go_notary_available;

const GUN: &str = "docker.com/notary0.3/tst";

/// A copy of the fixture trust dir `notary<version>` (`0.1` or `0.3`).
fn fixture_copy(version: &str) -> TrustDir {
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../crates/tuf/tests/data/notary-compat")
        .join(format!("notary{version}"));
    TrustDir::copy_of(&source).unwrap()
}

/// The same passphrase for every key.
fn same_passphrase(passphrase: &str) -> Passphrases {
    Passphrases {
        root: passphrase.to_owned(),
        targets: passphrase.to_owned(),
        snapshot: passphrase.to_owned(),
        delegation: passphrase.to_owned(),
    }
}

fn fixture() -> TrustDir {
    fixture_copy("0.3")
}

fn passphrases() -> Passphrases {
    same_passphrase("password")
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
    assert!(
        !out.stderr.contains("could not be refreshed"),
        "the cache follows the publish: {}",
        out.stderr
    );
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

// ---- notary 0.1 ---------------------------------------------------------------------------

const GUN_0_1: &str = "docker.com/notary0.1/samplerepo";

const ROOT_KEY_0_1: &str = "d0c623c8e70c70d42a8a8125c44a8598588b3f6e31d5c21a83cbc338dfde8a68";
const TARGETS_KEY_0_1: &str = "7fc757801b9bab4ec9e35bfe7a6b61668ff6f4c81b5632af19e6c728ab799599";
const SNAPSHOT_KEY_0_1: &str = "a55ccf652b0be4b6c4d356cbb02d9ea432bb84a2571665be3df7c7396af8e8b8";
/// The timestamp key the 0.1 root lists (held by the server it was published to, not by a
/// fresh one).
const TIMESTAMP_KEY_0_1: &str = "1192c9d6a8e45e4fa80fd3eb7fff45778ccad29c84f4ce7afcf45f62210a4955";

/// A copy of the trust dir notary 0.1 wrote: keys under `private/root_keys` and
/// `private/tuf_keys/<gun>/`, certificates under `trusted_certificates/`, one published target
/// (`LICENSE`) and a staged `.gitignore`.
fn fixture_0_1() -> TrustDir {
    fixture_copy("0.1")
}

fn passphrases_0_1() -> Passphrases {
    same_passphrase("randompass")
}

/// The keys of the old layout are found and, as Go notary does, moved to `private/<id>.key`
/// with `role` (and, but for root, `gun`) headers.
#[test]
fn notary_0_1_keys_are_read_from_the_old_layout() {
    let dir = fixture_0_1();
    let signet = Signet::on("http://127.0.0.1:9", &dir).with_passphrases(passphrases_0_1());
    let out = signet.run_ok(&["--output", "json", "key", "list"]);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let mut keys: Vec<(String, String, Option<String>)> = doc["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["key_id"].as_str().unwrap().to_owned(),
                k["role"].as_str().unwrap().to_owned(),
                k["gun"].as_str().map(str::to_owned),
            )
        })
        .collect();
    keys.sort();
    let gun = Some(GUN_0_1.to_owned());
    assert_eq!(
        keys,
        [
            (
                TARGETS_KEY_0_1.to_owned(),
                "targets".to_owned(),
                gun.clone()
            ),
            (SNAPSHOT_KEY_0_1.to_owned(), "snapshot".to_owned(), gun),
            (ROOT_KEY_0_1.to_owned(), "root".to_owned(), None),
        ]
    );

    let private = dir.path().join("private");
    assert!(!private.join("root_keys").exists());
    assert!(!private.join("tuf_keys").exists());
    let mut files: Vec<String> = std::fs::read_dir(&private)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            format!("{TARGETS_KEY_0_1}.key"),
            format!("{SNAPSHOT_KEY_0_1}.key"),
            format!("{ROOT_KEY_0_1}.key"),
        ]
    );
    for (id, role, with_gun) in [
        (TARGETS_KEY_0_1, "targets", true),
        (SNAPSHOT_KEY_0_1, "snapshot", true),
        (ROOT_KEY_0_1, "root", false),
    ] {
        let text = std::fs::read_to_string(private.join(format!("{id}.key"))).unwrap();
        assert!(text.contains(&format!("role: {role}")), "{text}");
        assert_eq!(
            text.contains(&format!("gun: {GUN_0_1}")),
            with_gun,
            "{role}: {text}"
        );
        assert_eq!(text.contains("gun:"), with_gun, "{role}: {text}");
    }
    // The moved keys still decrypt with the fixture's passphrase.
    let exported = signet.run_ok(&["key", "export", "--key", TARGETS_KEY_0_1]);
    assert!(exported.stdout.contains("PRIVATE KEY"), "{exported:?}");
}

/// Offline, `list` verifies the cached 0.1 trust data and `status` shows the staged change.
#[test]
fn notary_0_1_lists_offline_and_shows_its_staged_change() {
    let dir = fixture_0_1();
    // Nothing listens on the discard port.
    let signet = Signet::on("http://127.0.0.1:9", &dir).with_passphrases(passphrases_0_1());
    let out = signet.run_ok(&["list", GUN_0_1]);
    let rows = signet_e2e::parse_target_list(&out.stdout).unwrap();
    assert_eq!(rows.len(), 1, "{}", out.stdout);
    assert_eq!(rows[0].name, "LICENSE");
    assert_eq!(rows[0].role, "targets");
    assert_eq!(
        rows[0].sha256,
        "9395bac6fccb26bcb55efb083d1b4b0fe72a1c25f959f056c016120b3bb56a62"
    );
    assert_eq!(rows[0].size, 11309);
    assert!(out.stderr.contains("offline"), "{}", out.stderr);

    let status = signet.run_ok(&["status", GUN_0_1]);
    let line = status
        .stdout
        .lines()
        .find(|l| l.contains(".gitignore"))
        .unwrap_or_else(|| panic!("no staged .gitignore:\n{}", status.stdout));
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(words, ["0", "create", "targets", "target", ".gitignore"]);
}

fn sorted_names(rows: &[signet_e2e::TargetRow]) -> Vec<String> {
    let mut names: Vec<String> = rows.iter().map(|r| r.name.clone()).collect();
    names.sort();
    names
}

/// Publishes the 0.1 fixture's staged change to the fresh server at `url`, then does what Go
/// notary's `Test0Dot1RepoFormat` does next: rotates the targets key, then hands the snapshot
/// key to the server, publishing each time; signet, a fresh signet and Go notary list the
/// same targets throughout.
fn publish_0_1_fixture_and_check(url: &str, tuf_root: &str) {
    let dir = fixture_0_1();
    let signet = Signet::on(url, &dir).with_passphrases(passphrases_0_1());
    let out = signet.run_ok(&["publish", GUN_0_1]);
    assert!(
        !out.stderr.contains("could not be refreshed"),
        "the cache follows the publish: {}",
        out.stderr
    );
    // The fresh server does not hold the 0.1 timestamp key: root now lists the server's.
    assert!(
        out.stderr.contains(TIMESTAMP_KEY_0_1) && out.stderr.contains("timestamp key"),
        "{}",
        out.stderr
    );
    assert!(
        !signet
            .run_ok(&["status", GUN_0_1])
            .stdout
            .contains(".gitignore"),
        "the published change is no longer staged"
    );
    let root = http_get(tuf_root).unwrap();
    assert_eq!(root.status, 200, "{}", root.text());
    let root: serde_json::Value = serde_json::from_slice(&root.body).unwrap();
    assert_eq!(root["signed"]["version"], 2, "{root}");
    let timestamp_ids = root["signed"]["roles"]["timestamp"]["keyids"].to_string();
    assert!(!timestamp_ids.contains(TIMESTAMP_KEY_0_1), "{root}");

    let expected = [".gitignore".to_owned(), "LICENSE".to_owned()];
    let go = NotaryCli::new(url).unwrap();
    let check = |when: &str| {
        assert_eq!(sorted_names(&signet.list(GUN_0_1)), expected, "{when}");
        assert_eq!(
            sorted_names(&signet.fresh().list(GUN_0_1)),
            expected,
            "{when}"
        );
        assert_eq!(sorted_names(&go.list(GUN_0_1).unwrap()), expected, "{when}");
    };
    check("after the publish");

    signet.run_ok(&["key", "rotate", GUN_0_1, "targets"]);
    let keys = signet.run_ok(&["key", "list"]).stdout;
    assert!(
        !keys.contains(TARGETS_KEY_0_1),
        "old targets key retired:\n{keys}"
    );
    check("after rotating the targets key");

    signet.run_ok(&["key", "rotate", GUN_0_1, "snapshot", "-r"]);
    let keys = signet.run_ok(&["key", "list"]).stdout;
    assert!(
        !keys.contains(SNAPSHOT_KEY_0_1),
        "snapshot key handed to the server:\n{keys}"
    );
    // A change published with the server signing the snapshot.
    let file = signet.write_file("NOTICE", b"notice\n");
    signet.run_ok(&["add", GUN_0_1, "NOTICE", file.to_str().unwrap(), "-p"]);
    let expected = [
        ".gitignore".to_owned(),
        "LICENSE".to_owned(),
        "NOTICE".to_owned(),
    ];
    assert_eq!(sorted_names(&signet.list(GUN_0_1)), expected);
    assert_eq!(sorted_names(&signet.fresh().list(GUN_0_1)), expected);
    assert_eq!(sorted_names(&go.list(GUN_0_1).unwrap()), expected);
}

#[test]
fn notary_0_1_staged_changes_publish_to_a_fresh_signet_server() {
    let server = SignetServer::start_sqlite().unwrap();
    publish_0_1_fixture_and_check(
        server.url(),
        &format!("{}root.json", server.tuf_url(GUN_0_1)),
    );
}

#[test]
fn notary_0_1_staged_changes_publish_to_a_fresh_go_notary_server() {
    if !go_notary_available() {
        return;
    }
    let server = GoNotaryServer::start_memory().unwrap();
    publish_0_1_fixture_and_check(
        server.url(),
        &format!("{}root.json", server.tuf_url(GUN_0_1)),
    );
}

// ---- the cache right after a publish ------------------------------------------------------

const FRESH_GUN: &str = "example.com/compat/after-publish";

/// Right after a publish, with the server gone, signet lists what it published: the publish
/// refreshed the cache with the server's new timestamp and snapshot and the uploaded targets,
/// all verified. Go notary leaves its cache as the update before its upload found it, and so
/// lists the targets as they were before its own publish.
#[test]
fn offline_list_right_after_a_publish_shows_the_published_targets() {
    if !go_notary_available() {
        return;
    }
    let server = SignetServer::start_sqlite().unwrap();
    let dir = TrustDir::new().unwrap();
    let signet = Signet::on(server.url(), &dir);
    let one = signet.write_file("one.txt", b"one\n");
    let two = signet.write_file("two.txt", b"two\n");
    signet.run_ok(&["init", FRESH_GUN, "-p"]);
    signet.run_ok(&["add", FRESH_GUN, "one", one.to_str().unwrap(), "-p"]);
    signet.run_ok(&["add", FRESH_GUN, "two", two.to_str().unwrap(), "-p"]);

    // The same steps with Go notary, on another GUN of the same server.
    let gun_go = format!("{FRESH_GUN}-go");
    let go = NotaryCli::new(server.url()).unwrap();
    go.init(&gun_go, true).unwrap();
    go.add_bytes(&gun_go, "one", b"one\n", &[], true).unwrap();
    go.add_bytes(&gun_go, "two", b"two\n", &[], true).unwrap();

    // The cache holds exactly what the server serves now.
    let metadata = dir.path().join("tuf").join(FRESH_GUN).join("metadata");
    for role in ["timestamp", "snapshot", "targets", "root"] {
        let served = http_get(&format!("{}{role}.json", server.tuf_url(FRESH_GUN))).unwrap();
        assert_eq!(served.status, 200, "{role}: {}", served.text());
        let cached = std::fs::read(metadata.join(format!("{role}.json"))).unwrap();
        assert!(
            cached == served.body,
            "cached {role} differs from the server's"
        );
    }
    drop(server);

    let out = signet.run_ok(&["list", FRESH_GUN]);
    assert!(out.stderr.contains("offline"), "{}", out.stderr);
    let rows = signet_e2e::parse_target_list(&out.stdout).unwrap();
    assert_eq!(sorted_names(&rows), ["one", "two"], "{}", out.stdout);

    let rows = go.list(&gun_go).unwrap();
    assert_eq!(
        sorted_names(&rows),
        ["one"],
        "Go notary lists its cache as the update before its last upload left it"
    );
}
