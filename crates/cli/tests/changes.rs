//! Staging commands and the changelist: `add`, `addhash`, `remove`, `witness`, `delegation
//! add|remove|purge`, `status`, `reset`, `delete`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Sandbox, json};
use signet_client::changelist::{ChangeType, FileChangelist};
use signet_client::{Gun, TrustDir};

const GUN: &str = "example.com/app";

fn changelist(sandbox: &Sandbox) -> FileChangelist {
    TrustDir::new(sandbox.trust_dir())
        .repo(&Gun::new(GUN).unwrap())
        .changelist()
}

#[test]
fn status_of_a_new_repository() {
    let sandbox = Sandbox::new();
    assert_eq!(
        sandbox.ok(&["status", GUN]),
        "No unpublished changes for example.com/app\n"
    );
    let status = json(&sandbox.ok(&["--output", "json", "status", GUN]));
    assert_eq!(status, serde_json::json!({ "gun": GUN, "changes": [] }));
    // Like notary, opening the repository creates its directories.
    assert!(
        sandbox
            .trust_dir()
            .join("tuf/example.com/app/changelist")
            .is_dir()
    );
    assert!(
        sandbox
            .trust_dir()
            .join("tuf/example.com/app/metadata")
            .is_dir()
    );
}

#[test]
fn add_stages_length_and_hashes_of_the_file() {
    let sandbox = Sandbox::new();
    let payload = b"hello signet\n";
    sandbox.file("payload.txt", payload);
    sandbox.file("custom.json", br#"{"b": 2, "a": [1, 2]}"#);
    let out = sandbox.ok(&["add", GUN, "v1", "payload.txt", "--custom", "custom.json"]);
    assert_eq!(
        out,
        "Addition of target \"v1\" to repository \"example.com/app\" staged for next publish.\n"
    );
    let changes = changelist(&sandbox).changes_for_publish().unwrap();
    assert_eq!(changes.len(), 1);
    let change = &changes[0].change;
    assert_eq!(change.scope, "targets");
    assert_eq!(change.change_type, ChangeType::Target);
    assert_eq!(change.path, "v1");
    let meta = change.target_meta().unwrap();
    assert_eq!(meta.length, i64::try_from(payload.len()).unwrap());
    let expected = signet_tuf::metadata::FileMeta::from_bytes(payload);
    let expected_hashes: std::collections::BTreeMap<String, Vec<u8>> = expected
        .hashes
        .iter()
        .map(|(name, digest)| (name.to_owned(), digest.to_vec()))
        .collect();
    assert_eq!(meta.hashes, expected_hashes);
    // Kept as given, compacted as Go compacts a json.RawMessage (key order unchanged).
    assert_eq!(meta.custom.unwrap().as_str(), r#"{"b":2,"a":[1,2]}"#);

    let staged = json(&sandbox.ok(&[
        "--output",
        "json",
        "add",
        GUN,
        "v2",
        "payload.txt",
        "-r",
        "targets/releases",
    ]));
    assert_eq!(staged["gun"], GUN);
    assert_eq!(staged["target"], "v2");
    assert_eq!(staged["roles"], serde_json::json!(["targets/releases"]));
    assert_eq!(staged["length"], 13);
    assert_eq!(
        staged["hashes"]["sha256"],
        hex::encode(expected.sha256().unwrap())
    );
    assert_eq!(staged["custom"], serde_json::Value::Null);
}

#[test]
fn a_session_of_staged_changes() {
    let sandbox = Sandbox::new();
    sandbox.file("payload.txt", b"payload");
    let key = sandbox.path().join("alice");
    sandbox.ok(&[
        "key",
        "generate",
        "-o",
        key.to_str().unwrap(),
        "--role",
        "alice",
    ]);
    let zeros256 = "0".repeat(64);
    let zeros512 = "0".repeat(128);

    let mut transcript = String::new();
    let mut run = |args: &[&str]| {
        transcript.push_str(&format!("$ signet {}\n", args.join(" ")));
        transcript.push_str(&sandbox.ok(args));
    };
    run(&["add", GUN, "v1", "payload.txt"]);
    run(&[
        "addhash", GUN, "v2", "0x10", "--sha256", &zeros256, "--sha512", &zeros512,
    ]);
    run(&[
        "add",
        GUN,
        "v3",
        "payload.txt",
        "-r",
        "targets/releases,targets/qa",
    ]);
    run(&["remove", GUN, "v1", "-r", "targets/releases"]);
    run(&["witness", GUN, "targets", "targets/releases"]);
    run(&[
        "delegation",
        "add",
        GUN,
        "targets/releases",
        "alice.pem",
        "--all-paths",
    ]);
    run(&[
        "delegation",
        "add",
        GUN,
        "targets/releases",
        "--paths",
        "b,a",
    ]);
    run(&[
        "delegation",
        "remove",
        GUN,
        "targets/releases",
        &zeros256,
        "--paths",
        "a",
    ]);
    run(&["delegation", "remove", GUN, "targets/qa", "-y"]);
    run(&["delegation", "purge", GUN, "--key", "abc,def"]);
    run(&["status", GUN]);
    run(&["reset", GUN, "-n", "1,2"]);
    run(&["status", GUN]);
    insta::assert_snapshot!("staging_session", sandbox.mask(&transcript));

    let status = json(&sandbox.ok(&["--output", "json", "status", GUN]));
    insta::assert_snapshot!(
        "staging_status_json",
        serde_json::to_string_pretty(&status).unwrap()
    );

    let changes = changelist(&sandbox).changes_for_publish().unwrap();
    let delegation = changes
        .iter()
        .find(|c| c.change.change_type == ChangeType::Delegation)
        .unwrap();
    let payload = delegation.change.delegation_change().unwrap();
    assert_eq!(payload.threshold, 1);
    assert_eq!(payload.add_keys.len(), 1);

    assert_eq!(
        sandbox.ok(&["reset", GUN, "--all"]),
        "Successfully reset specified changes for repository example.com/app\n"
    );
    assert_eq!(
        sandbox.ok(&["status", GUN]),
        "No unpublished changes for example.com/app\n"
    );
}

#[test]
fn changes_written_by_notary_0_3_are_listed() {
    let sandbox = Sandbox::new();
    let gun = "docker.com/notary0.3/tst";
    let dir = sandbox.trust_dir().join("tuf").join(gun).join("changelist");
    std::fs::create_dir_all(&dir).unwrap();
    let fixtures =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/notary0.3-changelist");
    for entry in std::fs::read_dir(fixtures).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
    }
    insta::assert_snapshot!("status_notary_0_3", sandbox.ok(&["status", gun]));
    assert_eq!(
        sandbox.ok(&["reset", gun, "-n", "0"]),
        "Successfully reset specified changes for repository docker.com/notary0.3/tst\n"
    );
    let left = json(&sandbox.ok(&["--output", "json", "status", gun]));
    assert_eq!(left["changes"][0]["path"], "Dockerfile");
    assert_eq!(left["changes"].as_array().unwrap().len(), 1);
}

#[test]
fn unreadable_change_files_are_skipped_with_a_warning() {
    let sandbox = Sandbox::new();
    sandbox.file("payload.txt", b"x");
    sandbox.ok(&["add", GUN, "v1", "payload.txt"]);
    let dir = sandbox.trust_dir().join("tuf/example.com/app/changelist");
    std::fs::write(dir.join("00000000000000000000_broken.change"), b"not json").unwrap();
    let out = sandbox.run(&["status", GUN]);
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("1    create    targets    target    v1"),
        "{stdout}"
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("warning: skipping unreadable change"),
        "{stderr}"
    );
}

#[test]
fn delete_removes_local_trust_data_but_not_keys() {
    let sandbox = Sandbox::new();
    let root = sandbox.generate("root");
    sandbox.file("payload.txt", b"x");
    sandbox.ok(&["add", GUN, "v1", "payload.txt"]);
    assert_eq!(
        sandbox.ok(&["delete", GUN]),
        "Deleting trust data for repository example.com/app\nSuccessfully deleted local trust \
         data for repository example.com/app\n"
    );
    assert!(!sandbox.trust_dir().join("tuf/example.com/app").exists());
    assert!(
        sandbox
            .trust_dir()
            .join(format!("private/{root}.key"))
            .exists()
    );
    let deleted = json(&sandbox.ok(&["--output", "json", "delete", GUN]));
    assert_eq!(deleted["deleted_local"], true);
    assert_eq!(deleted["deleted_remote"], false);
}
