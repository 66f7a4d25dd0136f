//! `signet` and the Go `notary` client side by side on the same trust directories: the same
//! commands must print the same text and write the same files. Skipped (with a notice) when
//! the Go client is not installed, and failing instead when `CI` is set.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Output;

use common::{
    DELEGATION_PASSPHRASE, ROOT_PASSPHRASE, SNAPSHOT_PASSPHRASE, Sandbox, TARGETS_PASSPHRASE,
};

const GUN: &str = "example.com/interop";

/// Runs the Go client with the sandbox's passphrases against trust dir `trust_dir`.
fn notary(notary: &Path, sandbox: &Sandbox, trust_dir: &str, args: &[&str]) -> Output {
    let out = std::process::Command::new(notary)
        .current_dir(sandbox.path())
        .env("HOME", sandbox.path().join("home"))
        .env("NOTARY_ROOT_PASSPHRASE", ROOT_PASSPHRASE)
        .env("NOTARY_TARGETS_PASSPHRASE", TARGETS_PASSPHRASE)
        .env("NOTARY_SNAPSHOT_PASSPHRASE", SNAPSHOT_PASSPHRASE)
        .env("NOTARY_DELEGATION_PASSPHRASE", DELEGATION_PASSPHRASE)
        .arg("-d")
        .arg(trust_dir)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "notary {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn key_lists_are_identical_and_keys_are_shared() {
    let Some(go) = common::go_notary() else {
        return;
    };
    let sandbox = Sandbox::new();
    notary(&go, &sandbox, "td", &["key", "generate", "--role", "root"]);
    notary(&go, &sandbox, "td", &["key", "generate", "--role", "alice"]);
    let ours = sandbox.generate("root");
    sandbox.generate("bob");

    let go_list = stdout(&notary(&go, &sandbox, "td", &["key", "list"]));
    assert_eq!(sandbox.ok(&["key", "list"]), go_list);
    assert!(go_list.contains(&ours));

    // Each client decrypts and re-encrypts the other's keys.
    notary(&go, &sandbox, "td", &["key", "passwd", &ours]);
    let go_key = go_list
        .lines()
        .find(|l| l.starts_with("alice"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap()
        .to_owned();
    assert!(
        sandbox
            .ok(&["key", "passwd", &go_key])
            .contains("Successfully updated")
    );
    assert_eq!(sandbox.ok(&["key", "list"]), go_list);

    // What notary exports, signet imports.
    notary(
        &go,
        &sandbox,
        "td",
        &["key", "export", "--key", &go_key, "-o", "from-go.pem"],
    );
    let imported = sandbox
        .signet_in("td3")
        .args(["key", "import", "from-go.pem"])
        .output()
        .unwrap();
    assert!(imported.status.success());
    let listed = sandbox
        .signet_in("td3")
        .args(["key", "list"])
        .output()
        .unwrap();
    assert!(stdout(&listed).contains(&go_key));

    // What signet exports, notary imports.
    sandbox.ok(&["key", "export", "--key", &ours, "-o", "exported.pem"]);
    notary(&go, &sandbox, "td2", &["key", "import", "exported.pem"]);
    let imported = stdout(&notary(&go, &sandbox, "td2", &["key", "list"]));
    assert!(imported.contains(&ours), "{imported}");
}

#[test]
fn staging_prints_and_writes_what_notary_does() {
    let Some(go) = common::go_notary() else {
        return;
    };
    let sandbox = Sandbox::new();
    sandbox.file("payload.txt", b"interop payload\n");
    sandbox.file("custom.json", br#"{"b": 2, "a": "<x>"}"#);
    sandbox.ok(&["key", "generate", "-o", "alice", "--role", "alice"]);
    let zeros256 = "0".repeat(64);
    let zeros512 = "0".repeat(128);
    let commands: Vec<Vec<&str>> = vec![
        vec!["status", GUN],
        vec!["add", GUN, "v1", "payload.txt", "--custom", "custom.json"],
        vec![
            "addhash", GUN, "v2", "0x10", "--sha256", &zeros256, "--sha512", &zeros512,
        ],
        vec![
            "add",
            GUN,
            "v3",
            "payload.txt",
            "-r",
            "targets/releases,targets/qa",
        ],
        vec!["remove", GUN, "v1", "-r", "targets/releases"],
        vec!["witness", GUN, "targets", "targets/releases"],
        vec![
            "delegation",
            "add",
            GUN,
            "targets/releases",
            "alice.pem",
            "--all-paths",
        ],
        vec![
            "delegation",
            "add",
            GUN,
            "targets/releases",
            "--paths",
            "b,a",
        ],
        vec![
            "delegation",
            "remove",
            GUN,
            "targets/releases",
            &zeros256,
            "--paths",
            "a",
        ],
        vec!["delegation", "remove", GUN, "targets/qa", "-y"],
        vec!["delegation", "purge", GUN, "--key", "abc,def"],
        vec!["status", GUN],
        vec!["reset", GUN, "-n", "1,2"],
        vec!["status", GUN],
    ];
    for args in &commands {
        let theirs = stdout(&notary(&go, &sandbox, "go", args));
        let ours = sandbox.signet_in("ours").args(args).output().unwrap();
        assert!(ours.status.success(), "signet {args:?}");
        // notary names the hashes of `addhash` in Go map order, which varies from run to run;
        // signet always names them sha256 first.
        let theirs = theirs.replace("by sha512, sha256 hash", "by sha256, sha512 hash");
        assert_eq!(stdout(&ours), theirs, "output of {args:?}");
    }

    // The change files hold the same bytes, in the same order.
    let files = |dir: &str| -> Vec<Vec<u8>> {
        let dir = sandbox
            .path()
            .join(dir)
            .join("tuf")
            .join(GUN)
            .join("changelist");
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        names.sort();
        names.iter().map(|p| std::fs::read(p).unwrap()).collect()
    };
    let (go_files, our_files) = (files("go"), files("ours"));
    assert_eq!(go_files.len(), 12);
    assert_eq!(go_files, our_files);

    // Each client reads the other's changelist.
    let go_status = stdout(&notary(&go, &sandbox, "ours", &["status", GUN]));
    let ours = sandbox
        .signet_in("go")
        .args(["status", GUN])
        .output()
        .unwrap();
    assert_eq!(stdout(&ours), go_status);
}

#[test]
fn legacy_key_layouts_are_migrated_alike() {
    let Some(go) = common::go_notary() else {
        return;
    };
    let sandbox = Sandbox::new();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/notary0.1-private");
    for dir in ["go", "ours"] {
        copy_dir(&fixtures, &sandbox.path().join(dir).join("private"));
    }
    let theirs = stdout(&notary(&go, &sandbox, "go", &["key", "list"]));
    let ours = stdout(
        &sandbox
            .signet_in("ours")
            .args(["key", "list"])
            .output()
            .unwrap(),
    );
    assert_eq!(ours.replace("/ours/", "/go/"), theirs);
    let names = |dir: &str| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(sandbox.path().join(dir).join("private"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(names("ours"), names("go"));
}

fn copy_dir(from: &Path, to: &Path) {
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
