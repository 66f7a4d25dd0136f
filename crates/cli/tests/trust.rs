//! `signet trust …` against a `signet-server` (TLS, started by the harness) and an in-process
//! fake OCI registry on loopback.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "../../client/tests/registry_fake/mod.rs"]
mod registry_fake;

use std::path::Path;
use std::process::Output;

use assert_cmd::Command;
use common::{Sandbox, mask_key_ids};
use registry_fake::{AuthMode, FakeRegistry, Served, sha256_digest};
use signet_e2e::SignetServer;

const MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
const ROOT_PASS: &str = "root-passphrase";
const REPO_PASS: &str = "repository-passphrase";

/// A sandbox whose docker config dir (`home/.docker`) trusts the server's CA.
struct Env {
    sandbox: Sandbox,
    server: SignetServer,
}

impl Env {
    fn new() -> Self {
        let sandbox = Sandbox::new();
        let server = SignetServer::start_sqlite_tls().expect("signet-server starts");
        let tls_dir = docker_dir(&sandbox).join("tls").join(server.host_port());
        std::fs::create_dir_all(&tls_dir).unwrap();
        std::fs::copy(server.ca_cert().unwrap(), tls_dir.join("ca.crt")).unwrap();
        Self { sandbox, server }
    }

    fn cmd(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_signet"));
        for var in [
            "NOTARY_ROOT_PASSPHRASE",
            "NOTARY_TARGETS_PASSPHRASE",
            "NOTARY_DELEGATION_PASSPHRASE",
            "SIGNET_OUTPUT",
            "DOCKER_CONFIG",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("HOME", self.sandbox.path().join("home"))
            .env("DOCKER_CONTENT_TRUST_SERVER", self.server.url())
            .env("DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE", ROOT_PASS)
            .env("DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE", REPO_PASS)
            .current_dir(self.sandbox.path())
            .write_stdin("");
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd().arg("trust").args(args).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "signet trust {args:?} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs a command that must fail; returns stdout + stderr.
    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "signet trust {args:?} should fail:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }
}

fn docker_dir(sandbox: &Sandbox) -> std::path::PathBuf {
    sandbox.path().join("home").join(".docker")
}

fn manifest(content: &str) -> Vec<u8> {
    format!(
        "{{\"schemaVersion\":2,\"mediaType\":\"{MEDIA_TYPE}\",\"config\":{{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:{}\",\"size\":2}},\"layers\":[],\"annotations\":{{\"c\":\"{content}\"}}}}",
        "0".repeat(64)
    )
    .into_bytes()
}

fn digest_hex(bytes: &[u8]) -> String {
    sha256_digest(bytes)
        .trim_start_matches("sha256:")
        .to_owned()
}

fn mask(env: &Env, registry: &str, text: &str) -> String {
    mask_key_ids(
        &text
            .replace(registry, "[REGISTRY]")
            .replace(&env.sandbox.path().display().to_string(), "[SANDBOX]"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_inspect_verify_repush_revoke() {
    let env = Env::new();
    let registry = FakeRegistry::start(AuthMode::Open).await;
    let domain = registry.domain();
    let image = format!("{domain}/team/app");
    let v1 = manifest("one");
    registry.serve("team/app", "v1", Served::new(&v1, MEDIA_TYPE));

    let out = env.ok(&["sign", &format!("{image}:v1")]);
    assert!(
        out.contains(&format!("Successfully signed {image}:v1")),
        "{out}"
    );

    // Inspect: docker's JSON document.
    let out = env.ok(&["inspect", &format!("{image}:v1")]);
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc[0]["Name"], format!("{image}:v1"));
    assert_eq!(doc[0]["SignedTags"][0]["SignedTag"], "v1");
    assert_eq!(doc[0]["SignedTags"][0]["Digest"], digest_hex(&v1));
    assert_eq!(doc[0]["SignedTags"][0]["Signers"][0], "Repo Admin");
    assert_eq!(doc[0]["AdministrativeKeys"][0]["Name"], "Root");
    assert_eq!(doc[0]["AdministrativeKeys"][1]["Name"], "Repository");
    assert!(out.starts_with("[\n    {\n        \"Name\""), "{out}");
    insta::assert_snapshot!("trust_inspect_json", mask(&env, &domain, &out));
    let pretty = env.ok(&["inspect", "--pretty", &format!("{image}:v1")]);
    insta::assert_snapshot!("trust_inspect_pretty", mask(&env, &domain, &pretty));

    // Verify prints the pinned reference.
    let out = env.ok(&["verify", &format!("{image}:v1")]);
    assert_eq!(out, format!("{image}@{}\n", sha256_digest(&v1)));
    let out = env
        .cmd()
        .args([
            "--output",
            "json",
            "trust",
            "verify",
            &format!("{image}:v1"),
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["digest"], sha256_digest(&v1));
    assert_eq!(json["role"], "targets");

    // The registry now serves other content for the tag.
    let v1b = manifest("other");
    registry.serve("team/app", "v1", Served::new(&v1b, MEDIA_TYPE));
    let text = env.fails(&["verify", &format!("{image}:v1")]);
    assert!(text.contains(&sha256_digest(&v1)), "{text}");
    assert!(text.contains(&sha256_digest(&v1b)), "{text}");

    // An unsigned tag and an unknown repository.
    registry.serve("team/app", "v2", Served::new(&v1, MEDIA_TYPE));
    let text = env.fails(&["verify", &format!("{image}:v2")]);
    assert!(text.contains("no signed trust data for tag v2"), "{text}");
    let text = env.fails(&["verify", &format!("{domain}/team/none:v1")]);
    assert!(text.contains("does not have trust data"), "{text}");
    let out = env.run(&["inspect", &format!("{domain}/team/none")]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "[]\n");
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!(
        "no signatures or cannot access {domain}/team/none"
    )));

    // Digest references are refused.
    let text = env.fails(&["sign", &format!("{image}@{}", sha256_digest(&v1))]);
    assert!(text.contains("cannot use a digest reference"), "{text}");

    // Revoke: verify fails afterwards.
    registry.serve("team/app", "v1", Served::new(&v1, MEDIA_TYPE));
    env.ok(&["verify", &format!("{image}:v1")]);
    let out = env.ok(&["revoke", &format!("{image}:v1")]);
    assert!(out.contains("Successfully deleted signature"), "{out}");
    let text = env.fails(&["verify", &format!("{image}:v1")]);
    assert!(text.contains("no signed trust data for tag v1"), "{text}");
    let text = env.fails(&["revoke", "-y", &image]);
    assert!(text.contains("no signed tags to remove"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signers_and_keys() {
    let env = Env::new();
    let registry = FakeRegistry::start(AuthMode::Open).await;
    let domain = registry.domain();
    let image = format!("{domain}/team/signed");
    let v1 = manifest("signed");
    registry.serve("team/signed", "v1", Served::new(&v1, MEDIA_TYPE));
    let keys = env.sandbox.path().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let keys_dir = keys.display().to_string();

    // key generate: public key file, refusal to overwrite.
    let out = env.ok(&["key", "generate", "alice", "--dir", &keys_dir]);
    assert!(
        out.contains("Successfully generated and loaded private key"),
        "{out}"
    );
    let public = std::fs::read_to_string(keys.join("alice.pub")).unwrap();
    assert!(
        public.starts_with("-----BEGIN PUBLIC KEY-----\nrole: alice\n"),
        "{public}"
    );
    let text = env.fails(&["key", "generate", "alice", "--dir", &keys_dir]);
    assert!(text.contains("already exists"), "{text}");
    let text = env.fails(&["key", "generate", "Alice", "--dir", &keys_dir]);
    assert!(text.contains("must start with lowercase"), "{text}");

    // signer add initialises the repository; sign goes into alice and releases.
    let alice_pub = keys.join("alice.pub").display().to_string();
    let out = env.ok(&["signer", "add", "--key", &alice_pub, "alice", &image]);
    assert!(out.contains("Successfully added signer: alice"), "{out}");
    env.ok(&["sign", &format!("{image}:v1")]);
    let out = env.ok(&["inspect", &image]);
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        doc[0]["SignedTags"][0]["Signers"],
        serde_json::json!(["alice"])
    );
    assert_eq!(doc[0]["Signers"][0]["Name"], "alice");
    env.ok(&["verify", &format!("{image}:v1")]);

    // A second signer with a loaded (unencrypted, then encrypted) key.
    let bob = signet_signer::PrivateKey::generate_ecdsa().unwrap();
    let plain = signet_signer::keyfile::encode_key_file(&bob, "", None, "").unwrap();
    let bob_file = keys.join("bob.key");
    write_private(&bob_file, &plain);
    let out = env.ok(&[
        "key",
        "load",
        "--name",
        "bob",
        &bob_file.display().to_string(),
    ]);
    assert!(out.contains("Successfully imported key"), "{out}");
    let carol = signet_signer::PrivateKey::generate_ecdsa().unwrap();
    let encrypted =
        signet_signer::keyfile::encode_key_file(&carol, "carol", None, REPO_PASS).unwrap();
    let carol_file = keys.join("carol.key");
    write_private(&carol_file, &encrypted);
    env.ok(&[
        "key",
        "load",
        "--name",
        "carol",
        &carol_file.display().to_string(),
    ]);
    std::fs::write(&bob_file, &plain).unwrap();
    set_mode(&bob_file, 0o644);
    let text = env.fails(&["key", "load", &bob_file.display().to_string()]);
    assert!(
        text.contains("must not be readable or writable by others"),
        "{text}"
    );

    let bob_pub = keys.join("bob.pub");
    std::fs::write(
        &bob_pub,
        signet_client::trust::keys::public_key_pem(bob.public_key(), "bob", &bob_pub).unwrap(),
    )
    .unwrap();
    env.ok(&[
        "signer",
        "add",
        "--key",
        &bob_pub.display().to_string(),
        "bob",
        &image,
    ]);
    let out = env.ok(&["inspect", &image]);
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc[0]["Signers"][0]["Name"], "bob");
    assert_eq!(doc[0]["Signers"][1]["Name"], "alice");

    // Remove bob (not the last signer: no prompt needed).
    let out = env.ok(&["signer", "remove", "bob", &image]);
    assert!(out.contains("Successfully removed bob"), "{out}");
    let out = env.ok(&["inspect", &image]);
    assert!(!out.contains("\"bob\""), "{out}");

    // alice signed the last release: refused without -f and without a terminal.
    let text = env.fails(&["signer", "remove", "alice", &image]);
    assert!(text.contains("pass -f"), "{text}");
    let out = env.ok(&["signer", "remove", "-f", "alice", &image]);
    assert!(out.contains("Successfully removed alice"), "{out}");
    let out = env.ok(&["inspect", &image]);
    assert!(!out.contains("\"alice\""), "{out}");
    let text = env.fails(&["signer", "add", "--key", &alice_pub, "releases", &image]);
    assert!(text.contains("reserved"), "{text}");
}

fn write_private(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    set_mode(path, 0o600);
}

fn set_mode(path: &Path, mode: u32) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
}

#[test]
fn trust_help() {
    let sandbox = Sandbox::new();
    for args in [
        vec!["trust", "--help"],
        vec!["trust", "sign", "--help"],
        vec!["trust", "inspect", "--help"],
        vec!["trust", "revoke", "--help"],
        vec!["trust", "verify", "--help"],
        vec!["trust", "signer", "add", "--help"],
        vec!["trust", "signer", "remove", "--help"],
        vec!["trust", "key", "generate", "--help"],
        vec!["trust", "key", "load", "--help"],
    ] {
        let out = sandbox.bare().args(&args).output().unwrap();
        assert!(out.status.success());
        let name = std::iter::once("trust_help")
            .chain(args[1..args.len() - 1].iter().copied())
            .collect::<Vec<_>>()
            .join("_");
        insta::assert_snapshot!(name, String::from_utf8(out.stdout).unwrap());
    }
}
