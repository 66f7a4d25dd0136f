//! `signet trust key export-public` and the help of the sigstore commands, offline (the export
//! itself is tested against a real registry and trust server in the e2e suite,
//! `trust_sigstore`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Sandbox;

/// `signet -d td trust <args>` with docker's passphrase variables.
fn trust(sandbox: &Sandbox, args: &[&str]) -> std::process::Output {
    sandbox
        .bare()
        .env("DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE", "root-passphrase")
        .env(
            "DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE",
            "repository-passphrase",
        )
        .arg("trust")
        .args(args)
        .output()
        .unwrap()
}

fn ok(sandbox: &Sandbox, args: &[&str]) -> String {
    let out = trust(sandbox, args);
    assert!(out.status.success(), "{args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// The base64 body of a PEM block, headers and armour left out.
fn pem_body(text: &str) -> String {
    text.lines()
        .filter(|line| !line.starts_with("-----") && !line.contains(": ") && !line.is_empty())
        .collect()
}

#[test]
fn export_public_writes_the_generated_signer_key() {
    let sandbox = Sandbox::new();
    let keys = sandbox.path().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    ok(
        &sandbox,
        &["key", "generate", "alice", "--dir", keys.to_str().unwrap()],
    );
    let generated = std::fs::read_to_string(keys.join("alice.pub")).unwrap();

    // Standard output: the same key, without the role header.
    let printed = ok(&sandbox, &["key", "export-public", "alice"]);
    assert!(
        printed.starts_with("-----BEGIN PUBLIC KEY-----\n") && !printed.contains("role:"),
        "{printed}"
    );
    assert!(printed.ends_with("-----END PUBLIC KEY-----\n"), "{printed}");
    assert_eq!(pem_body(&printed), pem_body(&generated));

    // A file, and the JSON report naming the key.
    let file = sandbox.path().join("alice-cosign.pem");
    let out = ok(
        &sandbox,
        &[
            "key",
            "export-public",
            "-o",
            file.to_str().unwrap(),
            "alice",
            "--output",
            "json",
        ],
    );
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["name"], "alice");
    assert_eq!(report["public_key"], printed.as_str());
    assert_eq!(std::fs::read_to_string(&file).unwrap(), printed);
    let key_id = report["key_id"].as_str().unwrap();
    assert_eq!(key_id.len(), 64, "{report}");

    // The key ID names it too.
    assert_eq!(ok(&sandbox, &["key", "export-public", key_id]), printed);

    // An unknown name changes nothing and says so.
    let out = trust(&sandbox, &["key", "export-public", "bob"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("no key named bob"), "{stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn sigstore_help() {
    let sandbox = Sandbox::new();
    for args in [
        vec!["trust", "export-sigstore", "--help"],
        vec!["trust", "key", "export-public", "--help"],
    ] {
        let out = sandbox.bare().args(&args).output().unwrap();
        assert!(out.status.success());
        let name = std::iter::once("sigstore_help")
            .chain(args[1..args.len() - 1].iter().copied())
            .collect::<Vec<_>>()
            .join("_")
            .replace('-', "_");
        insta::assert_snapshot!(name, String::from_utf8(out.stdout).unwrap());
    }
}
