//! `key list | generate | export | passwd | remove` against a temporary trust directory.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{DELEGATION_PASSPHRASE, ROOT_PASSPHRASE, Sandbox, json};
use signet_tuf::notary::pem;

#[test]
fn empty_key_list() {
    let sandbox = Sandbox::new();
    let text = sandbox.ok(&["key", "list"]);
    assert_eq!(text, "\nNo signing keys found.\n\n");
    insta::assert_snapshot!("key_list_empty", text);
    let listed = json(&sandbox.ok(&["--output", "json", "key", "list"]));
    assert_eq!(listed, serde_json::json!({ "keys": [] }));
}

#[test]
fn generated_keys_are_listed_root_first() {
    let sandbox = Sandbox::new();
    let root = sandbox.generate("root");
    let alice = sandbox.generate("alice");
    let out = sandbox.ok(&["key", "generate", "ecdsa", "--role", "targets"]);
    assert!(
        out.starts_with("Generated new ecdsa targets key with keyID: "),
        "{out}"
    );

    let table = sandbox.ok(&["key", "list"]);
    // notary surrounds the table with empty lines.
    assert!(
        table.starts_with("\nROLE ") && table.ends_with("/private\n\n"),
        "{table:?}"
    );
    insta::assert_snapshot!("key_list", sandbox.mask(&table));
    let root_line = table.lines().position(|l| l.contains(&root)).unwrap();
    let alice_line = table.lines().position(|l| l.contains(&alice)).unwrap();
    assert!(root_line < alice_line, "root keys come first:\n{table}");

    let listed = json(&sandbox.ok(&["--output", "json", "key", "list"]));
    let keys = listed["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 3);
    assert_eq!(keys[0]["role"], "root");
    assert_eq!(keys[0]["key_id"], root.as_str());
    assert_eq!(keys[0]["gun"], serde_json::Value::Null);
    let location = sandbox.trust_dir().join("private");
    assert_eq!(keys[0]["location"], location.display().to_string());
    insta::assert_snapshot!(
        "key_list_json",
        sandbox.mask(&serde_json::to_string_pretty(&listed).unwrap())
    );

    // The key file is what notary writes: PKCS#8, encrypted with the role's passphrase.
    let text = std::fs::read_to_string(location.join(format!("{root}.key"))).unwrap();
    let block = pem::decode_first(&text).unwrap();
    assert_eq!(block.label, pem::ENCRYPTED_PRIVATE_KEY);
    assert_eq!(block.header("role"), Some("root"));
    assert_eq!(block.header("gun"), None);
    let key = signet_signer::keyfile::decode_key_block(&block, ROOT_PASSPHRASE, "root").unwrap();
    assert_eq!(key.key_id().as_str(), root);
}

#[test]
fn generate_in_json() {
    let sandbox = Sandbox::new();
    let out = json(&sandbox.ok(&["--output", "json", "key", "generate", "--role", "bob"]));
    assert_eq!(out["role"], "bob");
    assert_eq!(out["algorithm"], "ecdsa");
    let key_id = out["key_id"].as_str().unwrap();
    assert!(
        sandbox
            .trust_dir()
            .join(format!("private/{key_id}.key"))
            .exists()
    );
}

#[test]
fn generate_to_files() {
    let sandbox = Sandbox::new();
    let out = sandbox.ok(&["key", "generate", "-o", "alice", "--role", "alice"]);
    assert_eq!(out, "", "notary prints nothing for -o");
    let public = std::fs::read_to_string(sandbox.path().join("alice.pem")).unwrap();
    let private = std::fs::read_to_string(sandbox.path().join("alice-key.pem")).unwrap();
    let public_block = pem::decode_first(&public).unwrap();
    assert_eq!(public_block.label, pem::PUBLIC_KEY);
    assert_eq!(public_block.header("role"), Some("alice"));
    let private_block = pem::decode_first(&private).unwrap();
    assert_eq!(private_block.header("role"), Some("alice"));
    // The empty alias notary uses here selects the delegation passphrase.
    let key =
        signet_signer::keyfile::decode_key_block(&private_block, DELEGATION_PASSPHRASE, "alice")
            .unwrap();
    assert_eq!(key.public_key().public(), public_block.contents.as_slice());
    #[cfg(unix)]
    for name in ["alice.pem", "alice-key.pem"] {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(sandbox.path().join(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name}");
    }
    // Nothing went into the key store.
    assert_eq!(
        json(&sandbox.ok(&["--output", "json", "key", "list"]))["keys"],
        serde_json::json!([])
    );

    let json_out = json(&sandbox.ok(&["--output", "json", "key", "generate", "-o", "bob"]));
    assert_eq!(json_out["role"], "root");
    assert!(
        json_out["public_key_file"]
            .as_str()
            .unwrap()
            .ends_with("bob.pem")
    );
    assert!(
        json_out["private_key_file"]
            .as_str()
            .unwrap()
            .ends_with("bob-key.pem")
    );
}

#[test]
fn export_all_by_key_and_by_gun() {
    let sandbox = Sandbox::new();
    let root = sandbox.generate("root");
    let alice = sandbox.generate("alice");

    let all = sandbox.ok(&["key", "export"]);
    let blocks = pem::decode_all(&all);
    assert_eq!(blocks.len(), 2);
    let mut paths: Vec<&str> = blocks.iter().map(|b| b.header("path").unwrap()).collect();
    paths.sort_unstable();
    let mut expected = vec![root.as_str(), alice.as_str()];
    expected.sort_unstable();
    assert_eq!(paths, expected);

    let one = sandbox.ok(&["key", "export", "--key", &alice]);
    let blocks = pem::decode_all(&one);
    assert_eq!(blocks.len(), 1);
    assert_eq!(blocks[0].header("path"), Some(alice.as_str()));
    assert_eq!(blocks[0].header("role"), Some("alice"));
    insta::assert_snapshot!(
        "key_export_headers",
        sandbox.mask(one.lines().take(4).collect::<Vec<_>>().join("\n").as_str())
    );

    // Root and delegation keys have no GUN, so a GUN filter selects nothing.
    assert_eq!(
        sandbox.ok(&["key", "export", "--gun", "example.com/app"]),
        ""
    );

    // Unknown IDs are skipped with a warning, as notary skips them.
    let out = sandbox.run(&["key", "export", "--key", &"0".repeat(64)]);
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no key with ID"));

    sandbox.ok(&["key", "export", "--key", &root, "-o", "root.pem"]);
    let file = std::fs::read_to_string(sandbox.path().join("root.pem")).unwrap();
    assert_eq!(
        pem::decode_all(&file)[0].header("path"),
        Some(root.as_str())
    );

    let exported = json(&sandbox.ok(&["--output", "json", "key", "export", "--key", &root]));
    assert_eq!(exported["keys"][0]["key_id"], root.as_str());
    assert_eq!(exported["keys"][0]["role"], "root");
    assert!(
        exported["keys"][0]["pem"]
            .as_str()
            .unwrap()
            .contains("path: ")
    );
}

#[test]
fn passwd_re_encrypts_the_key() {
    let sandbox = Sandbox::new();
    let alice = sandbox.generate("alice");
    let out = sandbox
        .signet()
        .env("NOTARY_DELEGATION_PASSPHRASE", DELEGATION_PASSPHRASE)
        .args(["key", "passwd", &alice])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        sandbox.mask(&String::from_utf8(out.stdout).unwrap()),
        "\nSuccessfully updated passphrase for key ID: [KEY ID]\n"
    );
    let wrong = sandbox
        .signet()
        .env("NOTARY_DELEGATION_PASSPHRASE", "not-the-passphrase")
        .args(["key", "passwd", &alice])
        .output()
        .unwrap();
    assert_eq!(wrong.status.code(), Some(1));
    insta::assert_snapshot!(
        "key_passwd_wrong_passphrase",
        sandbox.mask(&String::from_utf8(wrong.stdout).unwrap())
    );
}

#[test]
fn remove_asks_for_confirmation() {
    let sandbox = Sandbox::new();
    let alice = sandbox.generate("alice");
    let declined = sandbox
        .signet()
        .args(["key", "remove", &alice])
        .write_stdin("no\n")
        .output()
        .unwrap();
    assert_eq!(
        declined.status.code(),
        Some(1),
        "a refused removal is a failure"
    );
    insta::assert_snapshot!(
        "key_remove_declined",
        sandbox.mask(&String::from_utf8(declined.stdout).unwrap())
    );
    assert!(
        sandbox
            .trust_dir()
            .join(format!("private/{alice}.key"))
            .exists()
    );

    let accepted = sandbox
        .signet()
        .args(["key", "remove", &alice])
        .write_stdin("yes\n")
        .output()
        .unwrap();
    assert!(accepted.status.success());
    insta::assert_snapshot!(
        "key_remove_accepted",
        sandbox.mask(&String::from_utf8(accepted.stdout).unwrap())
    );
    assert!(
        !sandbox
            .trust_dir()
            .join(format!("private/{alice}.key"))
            .exists()
    );

    let gone = sandbox.fails(&["key", "remove", &alice]);
    insta::assert_snapshot!("key_remove_missing", sandbox.mask(&gone));

    // Without a terminal nor an answer, nothing is removed and the exit status says so;
    // -y/--yes confirms without a question.
    let bob = sandbox.generate("bob");
    let bob_file = sandbox.trust_dir().join(format!("private/{bob}.key"));
    let out = sandbox.fails(&["key", "remove", &bob]);
    assert!(out.contains("* fatal: Aborting action."), "{out}");
    assert!(out.contains("--yes"), "the hint names the flag: {out}");
    assert!(bob_file.exists());
    let json_out = sandbox
        .signet()
        .args(["--output", "json", "key", "remove", &bob])
        .output()
        .unwrap();
    assert_eq!(json_out.status.code(), Some(1));
    assert_eq!(
        json(&String::from_utf8(json_out.stdout).unwrap())["error"]["message"],
        "Aborting action."
    );
    assert!(bob_file.exists());
    let out = sandbox.ok(&["key", "remove", "--yes", &bob]);
    assert!(out.contains(&format!("Deleted {bob}")), "{out}");
    assert!(!bob_file.exists());
}

#[test]
fn legacy_trust_dirs_are_migrated_and_listed() {
    let sandbox = Sandbox::new();
    let fixtures =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/notary0.1-private");
    let private = sandbox.trust_dir().join("private");
    copy_dir(&fixtures, &private);
    let table = sandbox.ok(&["key", "list"]);
    insta::assert_snapshot!("key_list_legacy", sandbox.mask(&table));
    assert!(!private.join("root_keys").exists());
    assert!(!private.join("tuf_keys").exists());
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn import_what_export_wrote_and_unencrypted_keys() {
    let sandbox = Sandbox::new();
    let alice = sandbox.generate("alice");
    sandbox.ok(&["key", "export", "-o", "exported.pem"]);
    let other = sandbox
        .signet_in("other")
        .args(["key", "import", "exported.pem"])
        .output()
        .unwrap();
    assert!(
        other.status.success(),
        "{}",
        String::from_utf8_lossy(&other.stdout)
    );
    assert!(other.stdout.is_empty(), "notary prints nothing on success");
    let listed = json(
        &String::from_utf8(
            sandbox
                .signet_in("other")
                .args(["--output", "json", "key", "list"])
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap(),
    );
    assert_eq!(listed["keys"][0]["key_id"], alice.as_str());
    assert_eq!(listed["keys"][0]["role"], "alice");

    // An unencrypted PKCS#8 key takes --role/--gun and is encrypted on import.
    let key = signet_signer::PrivateKey::generate_ecdsa().unwrap();
    let plain = signet_signer::keyfile::encode_key_file(&key, "", None, "").unwrap();
    sandbox.file("plain.pem", plain.as_bytes());
    let refused = sandbox.fails(&["key", "import", "plain.pem", "--role", "targets"]);
    insta::assert_snapshot!("key_import_targets_without_gun", refused);
    let out = json(&sandbox.ok(&[
        "--output",
        "json",
        "key",
        "import",
        "plain.pem",
        "-r",
        "targets",
        "-g",
        "example.com/app",
    ]));
    assert_eq!(out["imported"][0]["locations"][0], key.key_id().as_str());
    let stored = std::fs::read_to_string(
        sandbox
            .trust_dir()
            .join(format!("private/{}.key", key.key_id())),
    )
    .unwrap();
    let block = pem::decode_first(&stored).unwrap();
    assert_eq!(block.label, pem::ENCRYPTED_PRIVATE_KEY);
    assert_eq!(block.header("role"), Some("targets"));
    assert_eq!(block.header("gun"), Some("example.com/app"));
    signet_signer::keyfile::decode_key_block(&block, common::TARGETS_PASSPHRASE, "k").unwrap();
}

#[test]
fn import_what_generate_wrote() {
    let sandbox = Sandbox::new();
    let generated = json(&sandbox.ok(&[
        "--output",
        "json",
        "key",
        "generate",
        "-o",
        "bob",
        "-r",
        "targets/bob",
    ]));
    let key_id = generated["key_id"].as_str().unwrap().to_owned();
    let out = sandbox.ok(&[
        "key",
        "import",
        "bob-key.pem",
        "-r",
        "targets/bob",
        "--gun",
        "example.com/app",
    ]);
    assert_eq!(out, "", "notary prints nothing on success");
    let listed = json(&sandbox.ok(&["--output", "json", "key", "list"]));
    assert_eq!(listed["keys"][0]["key_id"], key_id.as_str());
    assert_eq!(listed["keys"][0]["role"], "targets/bob");
    // The stored key is the one generated, readable with the passphrase it was written with.
    let stored =
        std::fs::read_to_string(sandbox.trust_dir().join(format!("private/{key_id}.key"))).unwrap();
    let block = pem::decode_first(&stored).unwrap();
    let key = signet_signer::keyfile::decode_key_block(&block, DELEGATION_PASSPHRASE, "k").unwrap();
    assert_eq!(key.key_id().as_str(), key_id);

    // Without its passphrase the file cannot be read: an error, and nothing imported.
    sandbox.ok(&["key", "generate", "-o", "carol", "-r", "targets/carol"]);
    let out = sandbox
        .signet_in("other")
        .env("NOTARY_DELEGATION_PASSPHRASE", "not-the-passphrase")
        .args(["key", "import", "carol-key.pem"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("carol-key.pem"), "{text}");
    let listed = sandbox
        .signet_in("other")
        .args(["--output", "json", "key", "list"])
        .output()
        .unwrap();
    assert_eq!(
        json(&String::from_utf8(listed.stdout).unwrap())["keys"],
        serde_json::json!([])
    );
}

#[test]
fn import_of_a_file_without_keys_is_an_error() {
    let sandbox = Sandbox::new();
    sandbox.file("empty.pem", b"");
    sandbox.file("garbage.pem", b"\x00\x01 this is not a key\n");
    let certificate = pem::PemBlock::new(pem::CERTIFICATE, vec![1, 2, 3])
        .encode()
        .unwrap();
    sandbox.file("cert.pem", certificate.as_bytes());
    for name in ["empty.pem", "garbage.pem"] {
        let out = sandbox.fails(&["key", "import", name]);
        assert!(
            out.contains(&format!("cannot import keys from {name}")),
            "{out}"
        );
        for format in ["ENCRYPTED PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY"] {
            assert!(out.contains(format), "the formats tried are named: {out}");
        }
    }
    let out = sandbox.fails(&["key", "import", "cert.pem"]);
    assert!(
        out.contains("cannot import keys from cert.pem: failed to import all keys: CERTIFICATE block is not a private key"),
        "{out}"
    );
    let out = sandbox.fails(&["key", "import", "missing.pem"]);
    assert!(out.contains("missing.pem"), "{out}");
    insta::assert_snapshot!(
        "key_import_garbage",
        sandbox.mask(&sandbox.fails(&["key", "import", "garbage.pem"]))
    );
    assert_eq!(
        json(&sandbox.ok(&["--output", "json", "key", "list"]))["keys"],
        serde_json::json!([])
    );
}
