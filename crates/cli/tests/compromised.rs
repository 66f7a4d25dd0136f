//! `signet key compromised` against a `signet-server`: each kind of leaked key (targets, a
//! delegation's, root, the whole trust dir) is replaced in one publish, the leaked private keys
//! end up in the quarantine folder, clients old and new follow, and uploads signed with a
//! leaked key are refused afterwards. `--dry-run`, a missing confirmation and a failed publish
//! change nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{ROOT_PASSPHRASE, ServerSandbox, TARGETS_PASSPHRASE, json};
use serde_json::Value;
use signet_client::Gun;
use signet_client::remote::{RemoteOptions, RemoteStore};
use signet_signer::passphrase::ConstantRetriever;
use signet_signer::rotation::read_key_file;
use signet_tuf::metadata::{Envelope, Root, Targets};

const GUN: &str = "example.com/compromised";

/// A published repository with target `base` in targets and, with `delegation`, a delegation
/// `targets/releases` (its key in the trust dir) signing `rel-app`.
fn published(delegation: bool) -> ServerSandbox {
    let env = ServerSandbox::start();
    env.ok(&["init", GUN, "-p"]);
    env.sandbox.file("a.txt", b"a\n");
    env.ok(&["add", GUN, "base", "a.txt", "-p"]);
    if delegation {
        env.delegate_to_new_key(GUN, "targets/releases", "rel");
        env.ok(&[
            "add",
            GUN,
            "rel-app",
            "a.txt",
            "-r",
            "targets/releases",
            "-p",
        ]);
    }
    env.ok(&["list", GUN]);
    env
}

/// Key IDs of the trust dir by role.
fn keys_by_role(env: &ServerSandbox) -> BTreeMap<String, Vec<String>> {
    let listed = json(&env.sandbox.ok(&["--output", "json", "key", "list"]));
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for key in listed["keys"].as_array().unwrap() {
        out.entry(key["role"].as_str().unwrap().to_owned())
            .or_default()
            .push(key["key_id"].as_str().unwrap().to_owned());
    }
    out
}

fn key_of(env: &ServerSandbox, role: &str) -> String {
    let keys = keys_by_role(env);
    assert_eq!(keys[role].len(), 1, "{keys:?}");
    keys[role][0].clone()
}

/// Every file under `dir` with its bytes.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let name = path.strip_prefix(dir).unwrap().display().to_string();
                out.insert(name, std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

fn copy_dir(from: &Path, to: &Path) {
    for (name, bytes) in files(from) {
        let path = to.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn remote(env: &ServerSandbox) -> RemoteStore {
    RemoteStore::new(env.server.url(), RemoteOptions::default()).unwrap()
}

/// The server's current `role.json`, or `None` when it has none.
fn server_file(env: &ServerSandbox, role: &str) -> Option<Vec<u8>> {
    let gun = Gun::new(GUN).unwrap();
    runtime()
        .block_on(remote(env).get_meta(&gun, role, 1 << 20))
        .ok()
}

/// The server's root, targets, snapshot and timestamp files.
fn server_files(env: &ServerSandbox) -> Vec<Option<Vec<u8>>> {
    [
        "root",
        "targets",
        "snapshot",
        "timestamp",
        "targets/releases",
    ]
    .iter()
    .map(|role| server_file(env, role))
    .collect()
}

fn server_version(env: &ServerSandbox, role: &str) -> i64 {
    let bytes = server_file(env, role).unwrap();
    serde_json::from_slice::<Value>(&bytes).unwrap()["signed"]["version"]
        .as_i64()
        .unwrap()
}

/// `signet key compromised GUN <args> --output json`, which must succeed.
fn recover(env: &ServerSandbox, args: &[&str]) -> Value {
    let mut all = vec!["--output", "json", "key", "compromised", GUN];
    all.extend_from_slice(args);
    json(&env.ok(&all))
}

/// Uploads by hand `role` (`current` with its version bumped and its targets dropped) signed
/// with the leaked key in `key_file` (passphrase `passphrase`), and asserts that the server
/// refuses it and keeps what it had.
fn assert_refused_when_signed_with(
    env: &ServerSandbox,
    role: &str,
    current: &[u8],
    key_file: &Path,
    passphrase: &str,
) {
    let key = read_key_file(key_file, GUN, role, &ConstantRetriever::new(passphrase)).unwrap();
    let (mut doc, _) = Envelope::<Targets>::parse(current).unwrap().into_parts();
    doc.version += 1;
    doc.targets.clear();
    let mut envelope = Envelope::from_signed(doc).unwrap();
    envelope.add_signature(key.sign(envelope.signing_bytes()).unwrap());
    let bytes = envelope.to_file_bytes().unwrap();
    let gun = Gun::new(GUN).unwrap();
    let before = server_files(env);
    let answer = runtime().block_on(remote(env).publish(&gun, &[(role.to_owned(), bytes)]));
    assert!(
        answer.is_err(),
        "the server took {role} signed by the leaked key"
    );
    assert_eq!(
        server_files(env),
        before,
        "the refused upload changed nothing"
    );
}

/// The quarantine folders of the trust dir.
fn quarantine_folders(env: &ServerSandbox) -> Vec<std::path::PathBuf> {
    let dir = env.sandbox.trust_dir().join("quarantine");
    match std::fs::read_dir(dir) {
        Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    }
}

/// `list GUN` from another trust dir of the sandbox (created when missing).
fn fresh_list(env: &ServerSandbox, trust_dir: &str) -> String {
    let out = env
        .sandbox
        .signet_in(trust_dir)
        .args(["-s", env.server.url(), "list", GUN])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn a_leaked_targets_key_is_replaced_and_quarantined() {
    let env = published(false);
    let old_targets = key_of(&env, "targets");
    let root_version = server_version(&env, "root");
    let old_targets_file = server_file(&env, "targets").unwrap();

    let report = recover(&env, &["--key-id", &old_targets, "--yes"]);
    assert_eq!(report["recovered"], true);
    assert_eq!(report["plan"]["leaked"][0]["key_id"], old_targets.as_str());
    assert_eq!(report["plan"]["leaked"][0]["roles"][0], "targets");
    let rotated = report["rotated"].as_array().unwrap();
    assert_eq!(rotated.len(), 1);
    assert_eq!(rotated[0]["role"], "targets");
    assert_eq!(rotated[0]["old_key_ids"][0], old_targets.as_str());
    let new_targets = rotated[0]["new_key_ids"][0].as_str().unwrap().to_owned();
    assert_ne!(new_targets, old_targets);
    assert_eq!(report["versions_before"]["root"], root_version);
    assert_eq!(report["versions_after"]["root"], root_version + 1);
    assert_eq!(
        report["published_roles"],
        serde_json::json!(["root", "targets", "snapshot"])
    );
    assert!(
        report["clients"]
            .as_str()
            .unwrap()
            .contains("signed with the leaked keys are refused")
    );

    // The server's root lists the new targets key only.
    let root: Envelope<Root> = Envelope::parse(&server_file(&env, "root").unwrap()).unwrap();
    let (keys, _) = root.signed().role_keys("targets").unwrap();
    let ids: Vec<String> = keys.keys().map(ToString::to_string).collect();
    assert_eq!(ids, std::slice::from_ref(&new_targets));

    // The leaked key left private/ for the quarantine folder, with a manifest.
    assert_eq!(keys_by_role(&env)["targets"], [new_targets]);
    let folders = quarantine_folders(&env);
    assert_eq!(folders.len(), 1, "{folders:?}");
    let folder = &folders[0];
    assert_eq!(report["quarantine"], folder.display().to_string());
    let moved = folder.join(format!("{old_targets}.key"));
    assert!(moved.is_file());
    assert_eq!(report["keys"][0]["disposal"], "quarantined");
    assert_eq!(report["keys"][0]["path"], moved.display().to_string());
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(folder.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["gun"], GUN);
    assert_eq!(manifest["keys"][0]["key_id"], old_targets.as_str());
    assert_eq!(manifest["keys"][0]["roles"][0], "targets");
    assert!(manifest["reason"].as_str().unwrap().contains("leaked"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(folder).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }

    // Clients see the target; the trust dir keeps working.
    assert!(fresh_list(&env, "fresh").contains("base"));
    env.ok(&["add", GUN, "after", "a.txt", "-p"]);
    assert!(fresh_list(&env, "fresh").contains("after"));

    // An upload signed with the leaked key is refused and changes nothing.
    assert_refused_when_signed_with(
        &env,
        "targets",
        &old_targets_file,
        &moved,
        TARGETS_PASSPHRASE,
    );
}

#[test]
fn a_leaked_delegation_key_removes_the_delegation_and_resigns_its_targets() {
    let env = published(true);
    let leaked = key_of(&env, "targets/releases");
    let releases_file = server_file(&env, "targets/releases").unwrap();

    let report = recover(&env, &["--key-id", &leaked, "--yes", "--resign", "yes"]);
    assert!(report["rotated"].as_array().unwrap().is_empty());
    let repair = &report["plan"]["delegations"][0];
    assert_eq!(repair["role"], "targets/releases");
    assert_eq!(repair["removed"], true);
    assert_eq!(report["resigned_targets"], serde_json::json!(["rel-app"]));
    assert!(report["untrusted_targets"].as_array().unwrap().is_empty());
    assert_eq!(report["plan"]["orphaned_targets"][0]["into"], "targets");

    // The delegation is gone; its target is now signed by targets.
    let listed = fresh_list(&env, "fresh");
    assert!(listed.contains("rel-app"), "{listed}");
    assert!(!listed.contains("targets/releases"), "{listed}");
    let delegations = env.ok(&["delegation", "list", GUN]);
    assert!(!delegations.contains("targets/releases"), "{delegations}");
    assert!(!keys_by_role(&env).contains_key("targets/releases"));

    // The leaked key can no longer sign the delegation.
    let moved = quarantine_folders(&env)[0].join(format!("{leaked}.key"));
    assert!(moved.is_file());
    assert_refused_when_signed_with(
        &env,
        "targets/releases",
        &releases_file,
        &moved,
        common::DELEGATION_PASSPHRASE,
    );
}

#[test]
fn targets_not_resigned_are_reported_as_no_longer_trusted() {
    let env = published(true);
    let leaked = key_of(&env, "targets/releases");

    // Nobody to ask and no --resign: refused, naming the choice.
    let text = env.fails(&["key", "compromised", GUN, "--key-id", &leaked]);
    assert!(text.contains("rel-app"), "{text}");
    assert!(text.contains("--resign yes"), "{text}");
    assert!(text.contains("--resign no"), "{text}");
    // `--yes` confirms the plan, but does not decide for the user that targets an attacker
    // may have signed stay trusted.
    let text = env.fails(&["key", "compromised", GUN, "--key-id", &leaked, "--yes"]);
    assert!(text.contains("--resign yes"), "{text}");

    let out = env.ok(&[
        "key",
        "compromised",
        GUN,
        "--key-id",
        &leaked,
        "-y",
        "--resign",
        "no",
    ]);
    assert!(
        out.contains(
            "Targets that will no longer be trusted:\n  rel-app (was in targets/releases)"
        ),
        "{out}"
    );
    let listed = fresh_list(&env, "fresh");
    assert!(!listed.contains("rel-app"), "{listed}");
    assert!(listed.contains("base"), "{listed}");
}

#[test]
fn a_leaked_root_key_gives_a_root_old_clients_accept() {
    let env = published(false);
    let old_root = key_of(&env, "root");
    // A client that trusts only the current root.
    copy_dir(&env.sandbox.trust_dir(), &env.sandbox.path().join("old"));
    let old_root_doc: Envelope<Root> =
        Envelope::parse(&server_file(&env, "root").unwrap()).unwrap();
    let (old_root_keys, _) = old_root_doc.signed().role_keys("root").unwrap();

    let report = recover(&env, &["--key-id", &old_root, "--yes"]);
    let roles: Vec<&str> = report["rotated"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["root"]);

    // Signed by the old and the new root keys.
    let root: Envelope<Root> = Envelope::parse(&server_file(&env, "root").unwrap()).unwrap();
    let (new_root_keys, _) = root.signed().role_keys("root").unwrap();
    let signers: Vec<_> = root.signatures().iter().map(|s| s.keyid.clone()).collect();
    for id in old_root_keys.keys().chain(new_root_keys.keys()) {
        assert!(signers.contains(id), "{id} did not sign the new root");
    }
    assert!(
        old_root_keys
            .keys()
            .all(|id| !new_root_keys.contains_key(id))
    );

    // The old client follows the rotation.
    assert!(fresh_list(&env, "old").contains("base"));
    assert!(
        quarantine_folders(&env)[0]
            .join(format!("{old_root}.key"))
            .is_file()
    );
    assert!(!keys_by_role(&env)["root"].contains(&old_root));
}

#[test]
fn all_local_replaces_every_key_of_the_trust_dir() {
    let env = published(true);
    let before = keys_by_role(&env);

    let report = recover(&env, &["--all-local", "--yes", "--resign", "yes"]);
    let mut roles: Vec<&str> = report["rotated"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["role"].as_str().unwrap())
        .collect();
    roles.sort_unstable();
    assert_eq!(roles, ["root", "snapshot", "targets"]);
    assert_eq!(report["plan"]["leaked"].as_array().unwrap().len(), 4);
    assert_eq!(report["resigned_targets"], serde_json::json!(["rel-app"]));

    // No key of before is left in private/; each went to quarantine.
    let after = keys_by_role(&env);
    let folder = &quarantine_folders(&env)[0];
    for ids in before.values() {
        for id in ids {
            assert!(
                !after.values().flatten().any(|a| a == id),
                "{id} still held"
            );
            assert!(folder.join(format!("{id}.key")).is_file(), "{id} not moved");
        }
    }
    let listed = fresh_list(&env, "fresh");
    assert!(
        listed.contains("base") && listed.contains("rel-app"),
        "{listed}"
    );
    // The recovered trust dir publishes with its new keys.
    env.ok(&["add", GUN, "after", "a.txt", "-p"]);
    assert!(fresh_list(&env, "fresh").contains("after"));
}

#[test]
fn dry_run_and_a_missing_confirmation_change_nothing() {
    let env = published(true);
    let leaked = key_of(&env, "targets");
    let trust_dir = files(&env.sandbox.trust_dir());
    let server = server_files(&env);

    let out = env.ok(&["key", "compromised", GUN, "--all-local", "--dry-run"]);
    assert!(out.contains(&format!("Recovery plan for {GUN}")), "{out}");
    assert!(
        out.contains("The new root is signed by the old and the new root keys"),
        "{out}"
    );
    assert!(out.contains("targets/releases"), "{out}");
    let plan = recover(&env, &["--key-id", &leaked, "--dry-run"]);
    assert_eq!(plan["dry_run"], true);
    assert_eq!(plan["plan"]["rotations"][0]["role"], "targets");
    assert_eq!(files(&env.sandbox.trust_dir()), trust_dir);
    assert_eq!(server_files(&env), server);

    // No terminal, no --yes: refused after showing the plan.
    let text = env.fails(&["key", "compromised", GUN, "--key-id", &leaked]);
    assert!(text.contains("Recovery plan"), "{text}");
    assert!(text.contains("* fatal: Aborting action."), "{text}");
    assert!(text.contains("-y/--yes"), "{text}");
    assert!(text.contains("--dry-run"), "{text}");
    assert_eq!(files(&env.sandbox.trust_dir()), trust_dir);
    assert_eq!(server_files(&env), server);
}

#[test]
fn a_wrong_root_passphrase_publishes_nothing_and_leaves_no_key() {
    let env = published(false);
    let leaked = key_of(&env, "targets");
    let private = files(&env.sandbox.trust_dir().join("private"));
    let server = server_files(&env);

    let out = env
        .sandbox
        .signet()
        .env("NOTARY_ROOT_PASSPHRASE", format!("not-{ROOT_PASSPHRASE}"))
        .args([
            "-s",
            env.server.url(),
            "key",
            "compromised",
            GUN,
            "--key-id",
            &leaked,
            "-y",
        ])
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert_eq!(files(&env.sandbox.trust_dir().join("private")), private);
    assert_eq!(server_files(&env), server);
    assert!(quarantine_folders(&env).is_empty());
}

#[test]
fn an_untrusted_key_is_an_error_naming_the_trusted_keys() {
    let env = published(false);
    let targets = key_of(&env, "targets");
    let stranger = "0".repeat(64);
    let out = env.fails(&[
        "key",
        "compromised",
        GUN,
        "--key-id",
        &targets,
        "--key-id",
        &stranger,
        "-y",
    ]);
    assert!(
        out.contains(&format!("{GUN} does not trust key {stranger}")),
        "{out}"
    );
    assert!(out.contains(&format!("{targets} (targets)")), "{out}");
    assert!(out.contains("--all-local"), "{out}");
    assert_eq!(key_of(&env, "targets"), targets, "nothing was done");

    let out = env.fails(&["key", "compromised", GUN]);
    assert!(out.contains("--key-id"), "{out}");
    let out = env.fails(&["key", "compromised", GUN, "--key-id", "abc"]);
    assert!(out.contains("invalid key ID provided: abc"), "{out}");
}

#[test]
fn a_leaked_snapshot_key_can_go_to_the_server_with_a_new_timestamp_key() {
    let env = published(false);
    let snapshot = key_of(&env, "snapshot");
    let role_keys = |role: &str| -> Vec<String> {
        let root: Envelope<Root> = Envelope::parse(&server_file(&env, "root").unwrap()).unwrap();
        let (keys, _) = root.signed().role_keys(role).unwrap();
        keys.keys().map(ToString::to_string).collect()
    };
    let old_timestamp = role_keys("timestamp");

    let report = recover(&env, &["--key-id", &snapshot, "-r", "--timestamp", "--yes"]);
    let rotated: Vec<(&str, bool)> = report["rotated"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["role"].as_str().unwrap(),
                r["server_managed"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(rotated, [("snapshot", true), ("timestamp", true)]);

    // Both keys are the server's now: none is held here, root lists new ones.
    let new_snapshot = role_keys("snapshot");
    assert_eq!(new_snapshot.len(), 1);
    assert_ne!(new_snapshot[0], snapshot);
    assert_eq!(
        report["rotated"][0]["new_key_ids"][0],
        new_snapshot[0].as_str()
    );
    assert!(!keys_by_role(&env).contains_key("snapshot"));
    assert_ne!(role_keys("timestamp"), old_timestamp);
    assert!(
        quarantine_folders(&env)[0]
            .join(format!("{snapshot}.key"))
            .is_file()
    );

    // The server signs the snapshot from now on.
    env.ok(&["add", GUN, "after", "a.txt", "-p"]);
    let listed = fresh_list(&env, "fresh");
    assert!(
        listed.contains("base") && listed.contains("after"),
        "{listed}"
    );
}
