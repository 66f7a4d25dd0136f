//! Every question the notary-style commands ask, answered by nobody (standard input is not a
//! terminal and holds no answer): the command does nothing and exits 1, and `-y`/`--yes`
//! confirms without asking. A rotation that fails leaves no new key behind. (The `key remove`
//! question is pinned in `keys.rs`, the `trust` ones in `trust.rs`.)

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{ServerSandbox, json};

const GUN: &str = "example.com/confirm";

/// A sandbox with a published repository on a `signet-server`.
fn published() -> ServerSandbox {
    let env = ServerSandbox::start();
    env.ok(&["init", GUN, "-p"]);
    env
}

/// The key IDs of the trust dir (`key list`).
fn key_ids(env: &ServerSandbox) -> BTreeSet<String> {
    let listed = json(&env.sandbox.ok(&["--output", "json", "key", "list"]));
    listed["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["key_id"].as_str().unwrap().to_owned())
        .collect()
}

/// The root version the server serves.
fn root_version(env: &ServerSandbox) -> u64 {
    env.ok(&["list", GUN]);
    env.cached_metadata(GUN, "root")["signed"]["version"]
        .as_u64()
        .unwrap()
}

/// The key files under the trust dir's `private/`.
fn key_files(trust_dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(trust_dir.join("private"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn root_rotation_needs_a_yes() {
    let env = published();
    let keys = key_ids(&env);
    let version = root_version(&env);

    let out = env.fails(&["key", "rotate", GUN, "root"]);
    assert!(out.contains("Are you sure you want to proceed?"), "{out}");
    assert!(out.contains("* fatal: Aborting action."), "{out}");
    assert!(out.contains("-y/--yes"), "{out}");
    let out = env
        .sandbox
        .signet()
        .args(env.args(&["key", "rotate", GUN, "root"]))
        .write_stdin("no\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let out = env.fails(&["--output", "json", "key", "rotate", GUN, "root"]);
    assert_eq!(json(&out)["error"]["message"], "Aborting action.");
    assert_eq!(key_ids(&env), keys, "no key was made");
    assert_eq!(root_version(&env), version, "nothing was published");

    let out = env.ok(&["key", "rotate", GUN, "root", "--yes"]);
    assert!(
        out.contains(&format!(
            "Successfully rotated root key for repository {GUN}"
        )),
        "{out}"
    );
    assert!(!out.contains("Are you sure"), "{out}");
    assert_eq!(root_version(&env), version + 1);
    assert_eq!(
        key_ids(&env).len(),
        keys.len() + 1,
        "old root keys are kept"
    );
}

#[test]
fn failed_rotations_leave_no_new_key() {
    let env = published();
    let files = key_files(&env.sandbox.trust_dir());
    let version = root_version(&env);

    // The old root key cannot be decrypted: the new root key made for the rotation goes.
    for role in ["root", "targets"] {
        let out = env
            .sandbox
            .signet()
            .env("NOTARY_ROOT_PASSPHRASE", "not-the-root-passphrase")
            .args(env.args(&["key", "rotate", GUN, role, "-y"]))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{role}: {text}");
        assert!(text.contains("passphrase"), "{role}: {text}");
        assert_eq!(
            key_files(&env.sandbox.trust_dir()),
            files,
            "{role}: no orphan key"
        );
    }

    // A supplied key that the store did not hold goes too (the file, unencrypted, is read
    // without a passphrase and stored); the file is left alone.
    let supplied = signet_signer::PrivateKey::generate_ecdsa().unwrap();
    env.sandbox.file(
        "new-targets-key.pem",
        signet_signer::keyfile::encode_key_file(&supplied, "targets", None, "")
            .unwrap()
            .as_bytes(),
    );
    let out = env
        .sandbox
        .signet()
        .env("NOTARY_ROOT_PASSPHRASE", "not-the-root-passphrase")
        .args(env.args(&["key", "rotate", GUN, "targets", "-k", "new-targets-key.pem"]))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("root"), "the old root key failed: {text}");
    assert_eq!(key_files(&env.sandbox.trust_dir()), files);
    assert!(env.sandbox.path().join("new-targets-key.pem").exists());
    assert_eq!(root_version(&env), version, "nothing was published");

    // With the right passphrase the same rotation works, and keeps the supplied key.
    env.ok(&["key", "rotate", GUN, "targets", "-k", "new-targets-key.pem"]);
    assert_eq!(root_version(&env), version + 1);
    assert!(
        key_files(&env.sandbox.trust_dir()).contains(&format!("{}.key", supplied.key_id())),
        "the new targets key is stored"
    );
}

#[test]
fn delegation_removal_needs_a_yes() {
    let env = published();
    env.ok(&["key", "generate", "-o", "alice", "-r", "targets/alice"]);
    env.ok(&[
        "delegation",
        "add",
        GUN,
        "targets/alice",
        "alice.pem",
        "--all-paths",
        "-p",
    ]);
    let out = env.fails(&["delegation", "remove", GUN, "targets/alice", "-p"]);
    assert!(out.contains("* fatal: Aborting action."), "{out}");
    let listed = env.ok(&["delegation", "list", GUN]);
    assert!(listed.contains("targets/alice"), "{listed}");

    let out = env.ok(&["delegation", "remove", GUN, "targets/alice", "-p", "--yes"]);
    assert!(out.contains("Confirmed `yes` from flag"), "{out}");
    let listed = env.ok(&["delegation", "list", GUN]);
    assert!(!listed.contains("targets/alice"), "{listed}");
}
