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

    /// `signet -d <trust_dir> trust <args>`: another user, with a trust dir of their own.
    fn run_as(&self, trust_dir: &str, args: &[&str]) -> Output {
        self.cmd()
            .args(["-d", trust_dir, "trust"])
            .args(args)
            .output()
            .unwrap()
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
    /// `notary list GUN` by the Go notary client with trust dir `trust_dir` (under the
    /// sandbox), when it is installed: the targets it trusts, by name.
    fn go_list(&self, trust_dir: &str, gun: &str) -> Option<Vec<String>> {
        let notary = common::go_notary()?;
        let out = std::process::Command::new(notary)
            .current_dir(self.sandbox.path())
            .args(["-d", trust_dir, "-s", self.server.url(), "--tlscacert"])
            .arg(self.server.ca_cert().unwrap())
            .args(["list", gun])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "notary list {gun}: {stdout}");
        if stdout.contains("No targets present in this repository.") {
            return Some(Vec::new());
        }
        Some(
            stdout
                .lines()
                .skip(2)
                .filter_map(|line| line.split_whitespace().next().map(str::to_owned))
                .collect(),
        )
    }

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

    add_signer(&env, &keys, "bob", &bob, &image);
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

/// Standard output and standard error of a run, and whether it succeeded.
fn texts(out: &Output) -> (bool, String, String) {
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The reproduction: the repository admin signed `1.0` into `targets`; a signer who
/// holds only their own key revokes it. The tag stays trusted, so the revocation fails naming
/// `targets` and its key, and nothing is reported deleted. The same for the admin when the
/// signer's roles still sign it; once every holder has revoked, it is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_never_reports_a_tag_that_stays_trusted() {
    let env = Env::new();
    let registry = FakeRegistry::start(AuthMode::Open).await;
    let domain = registry.domain();
    let image = format!("{domain}/team/app");
    let tag = format!("{image}:1.0");
    let v1 = manifest("one");
    registry.serve("team/app", "1.0", Served::new(&v1, MEDIA_TYPE));
    let keys = env.sandbox.path().join("keys");
    std::fs::create_dir_all(&keys).unwrap();

    // The admin signs 1.0 into targets and adds bob as a signer.
    env.ok(&["sign", &tag]);
    let bob = signet_signer::PrivateKey::generate_ecdsa().unwrap();
    let bob_file = keys.join("bob.key");
    write_private(
        &bob_file,
        &signet_signer::keyfile::encode_key_file(&bob, "bob", None, REPO_PASS).unwrap(),
    );
    add_signer(&env, &keys, "bob", &bob, &image);
    let doc: serde_json::Value = serde_json::from_str(&env.ok(&["inspect", &image])).unwrap();
    let targets_key = doc[0]["AdministrativeKeys"][1]["Keys"][0]["ID"]
        .as_str()
        .unwrap()
        .to_owned();

    // Bob, with only his key, cannot revoke what the admin signed.
    let out = env.run_as(
        "bob-td",
        &[
            "key",
            "load",
            "--name",
            "bob",
            &bob_file.display().to_string(),
        ],
    );
    assert!(out.status.success(), "{:?}", texts(&out));
    let (ok, stdout, stderr) = texts(&env.run_as("bob-td", &["revoke", &tag]));
    assert!(!ok, "the revocation did not take effect:\n{stdout}{stderr}");
    assert!(!stdout.contains("Successfully"), "{stdout}");
    assert!(
        stderr.contains("1.0 is still signed in targets"),
        "the role is named: {stderr}"
    );
    assert!(stderr.contains(&targets_key), "its key is named: {stderr}");
    assert!(
        stderr.contains(&format!("signet trust revoke {image}:1.0")),
        "{stderr}"
    );
    let out = env.ok(&["inspect", &image]);
    assert!(
        out.contains("\"SignedTag\": \"1.0\""),
        "still trusted: {out}"
    );
    env.ok(&["verify", &tag]);
    // Go notary agrees (this trust dir also keeps the data trusted before the revocations).
    if let Some(listed) = env.go_list("go-td", &image) {
        assert_eq!(listed, vec!["1.0"]);
    }

    // Bob signs 1.0 too (targets/releases and targets/bob). The admin's revocation removes
    // it from targets, publishes that, and fails naming bob's roles and key.
    let out = env.run_as("bob-td", &["sign", &tag]);
    assert!(out.status.success(), "{:?}", texts(&out));
    let (ok, stdout, stderr) = texts(&env.run(&["revoke", &tag]));
    assert!(!ok, "{stdout}{stderr}");
    assert!(!stdout.contains("Successfully"), "{stdout}");
    let bob_id = bob.key_id().to_string();
    assert!(
        stderr.contains("1.0 is still signed in targets/releases"),
        "{stderr}"
    );
    assert!(
        stderr.contains("1.0 is still signed in targets/bob"),
        "{stderr}"
    );
    assert!(stderr.contains(&bob_id), "{stderr}");
    assert!(
        stderr.contains("removed and published: 1.0 from targets)"),
        "{stderr}"
    );
    env.ok(&["verify", &tag]);

    // Bob's revocation now takes the last signatures away: reported, and true.
    let out = env.run_as("bob-td", &["revoke", &tag]);
    let (ok, stdout, stderr) = texts(&out);
    assert!(ok, "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!("Successfully deleted signature for {tag}")),
        "{stdout}"
    );
    let text = env.fails(&["verify", &tag]);
    assert!(text.contains("no signed trust data for tag 1.0"), "{text}");
    let out = env.ok(&["inspect", &image]);
    assert!(!out.contains("\"1.0\""), "{out}");
    // Go notary, with the trust dir that trusted 1.0 and with a fresh one, lists it no more.
    for trust_dir in ["go-td", "go-fresh-td"] {
        if let Some(listed) = env.go_list(trust_dir, &image) {
            assert_eq!(listed, Vec::<String>::new(), "{trust_dir}");
        }
    }
}

/// `signer remove` says which tags lose every signature before asking, fails without a
/// terminal or on a "no", and removes with `--yes`; a refused whole-repository revocation
/// fails too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signer_removal_names_the_tags_it_unsigns() {
    let env = Env::new();
    let registry = FakeRegistry::start(AuthMode::Open).await;
    let domain = registry.domain();
    let image = format!("{domain}/team/lib");
    for tag in ["v1", "v2"] {
        registry.serve("team/lib", tag, Served::new(&manifest(tag), MEDIA_TYPE));
    }
    let keys = env.sandbox.path().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let keys_dir = keys.display().to_string();
    env.ok(&["key", "generate", "alice", "--dir", &keys_dir]);
    env.ok(&["key", "generate", "carol", "--dir", &keys_dir]);
    for name in ["alice", "carol"] {
        let public = keys.join(format!("{name}.pub")).display().to_string();
        env.ok(&["signer", "add", "--key", &public, name, &image]);
    }
    // This trust dir holds both signers' keys: v1 and v2 go into releases, alice and carol.
    env.ok(&["sign", &format!("{image}:v1")]);
    env.ok(&["sign", &format!("{image}:v2")]);

    // carol's key still signs releases and carol's role still signs both tags: nothing is
    // lost by removing alice, so there is no question.
    let out = env.ok(&["signer", "remove", "alice", &image]);
    assert!(out.contains("Successfully removed alice"), "{out}");

    // A whole-repository revocation asks first: without a terminal nothing happens, and the
    // exit status says so.
    let text = env.fails(&["revoke", &image]);
    assert!(text.contains("Aborting action."), "{text}");
    env.ok(&["verify", &format!("{image}:v2")]);

    // carol is now the last signer: both tags would lose every signature.
    let (ok, stdout, stderr) = texts(&env.run(&["signer", "remove", "carol", &image]));
    assert!(!ok, "refused without a terminal: {stdout}{stderr}");
    assert!(
        stderr.contains(&format!(
            "Removing signer \"carol\" leaves these tags of {image} without any signature: v1, v2"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("pass -f (or --yes)"), "{stderr}");
    env.ok(&["verify", &format!("{image}:v1")]);
    // Without a terminal a piped answer is not taken (docker asks only on a terminal).
    let out = env
        .cmd()
        .args(["trust", "signer", "remove", "carol", &image])
        .write_stdin("no\n")
        .output()
        .unwrap();
    assert!(!out.status.success(), "{:?}", texts(&out));
    env.ok(&["verify", &format!("{image}:v1")]);

    let out = env
        .cmd()
        .args([
            "--output", "json", "trust", "signer", "remove", "--yes", "carol", &image,
        ])
        .output()
        .unwrap();
    let (ok, stdout, stderr) = texts(&out);
    assert!(ok, "{stdout}{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["removed"], serde_json::json!([image.as_str()]));
    assert_eq!(
        doc["unsigned_tags"][&image],
        serde_json::json!(["v1", "v2"])
    );
    env.fails(&["verify", &format!("{image}:v1")]);
}

/// Writes `name`'s public key into `keys` and adds `name` as a signer of `image` with it.
fn add_signer(env: &Env, keys: &Path, name: &str, key: &signet_signer::PrivateKey, image: &str) {
    let public = keys.join(format!("{name}.pub"));
    std::fs::write(
        &public,
        signet_client::trust::keys::public_key_pem(key.public_key(), name, &public).unwrap(),
    )
    .unwrap();
    env.ok(&[
        "signer",
        "add",
        "--key",
        &public.display().to_string(),
        name,
        image,
    ]);
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
