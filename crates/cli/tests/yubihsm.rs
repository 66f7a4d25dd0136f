//! A YubiHSM 2 in front of the trust directory, for the notary-style and the docker-style
//! commands alike: configured with `SIGNET_YUBIHSM_*` or the `yubihsm` object of
//! `config.json`. A MockHsm served over HTTP stands in for yubihsm-connector and the device.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::TcpListener;
use std::process::Output;

use assert_cmd::Command;
use common::Sandbox;
use yubihsm::connector::http::Server;
use yubihsm::{Connector, HttpConfig};

const CONNECTOR: &str = "SIGNET_YUBIHSM_CONNECTOR";
const PASSWORD: &str = "SIGNET_YUBIHSM_PASSWORD";
const KEYS: &str = "SIGNET_YUBIHSM_KEYS";
/// Password of the MockHsm's (factory default) authentication key 1.
const MOCK_PASSWORD: &str = "password";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Serves a fresh MockHsm on 127.0.0.1 and returns its connector URL.
fn serve_mockhsm() -> String {
    let port = free_port();
    let config = HttpConfig {
        addr: "127.0.0.1".to_owned(),
        port,
        timeout_ms: 5_000,
    };
    let server = Server::new(&config, Connector::mockhsm()).unwrap();
    std::thread::spawn(move || {
        loop {
            // A failed request ends only that request.
            let _ = server.handle_request();
        }
    });
    format!("http://127.0.0.1:{port}")
}

/// `signet` with the passphrases of the sandbox and no device settings but `settings`.
fn signet(sandbox: &Sandbox, settings: &[(&str, &str)]) -> Command {
    signet_in(sandbox, "td", settings)
}

/// [`signet`] with the trust dir `trust_dir`.
fn signet_in(sandbox: &Sandbox, trust_dir: &str, settings: &[(&str, &str)]) -> Command {
    with_settings(sandbox.signet_in(trust_dir), settings)
}

/// `cmd` with no device settings inherited from the test runner, only `settings`.
fn with_settings(cmd: Command, settings: &[(&str, &str)]) -> Command {
    let cleared = [
        CONNECTOR,
        PASSWORD,
        KEYS,
        "SIGNET_YUBIHSM_AUTH_KEY",
        "SIGNET_YUBIHSM_DOMAIN",
    ];
    common::with_env(cmd, &cleared, settings)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn succeeds(out: Output) -> String {
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// The LOCATION column of `key list` for `key_id`.
fn location(listing: &str, key_id: &str) -> String {
    let line = listing
        .lines()
        .find(|l| l.contains(key_id))
        .unwrap_or_else(|| panic!("{key_id} not listed:\n{listing}"));
    line.split_whitespace().last().unwrap().to_owned()
}

fn generated_key_id(stdout: &str) -> String {
    stdout.trim().rsplit(' ').next().unwrap().to_owned()
}

#[test]
fn an_unreachable_device_is_a_clear_error_naming_its_address() {
    let sandbox = Sandbox::new();
    let connector = format!("http://127.0.0.1:{}", free_port());
    let secret = "do-not-show-this-password";
    let settings = [(CONNECTOR, connector.as_str()), (PASSWORD, secret)];

    let out = signet(&sandbox, &settings)
        .args(["-D", "key", "generate", "--role", "root"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(!stdout.contains(secret) && !stderr.contains(secret));
    let shown = sandbox
        .mask(&stdout)
        .replace(&connector, "http://127.0.0.1:[PORT]");
    let fatal = shown.lines().find(|l| l.starts_with("* fatal:")).unwrap();
    let hint = shown.lines().find(|l| l.starts_with("* hint:")).unwrap();
    assert!(
        fatal.starts_with(
            "* fatal: Failed to create a new root key: key store yubihsm failed: cannot open a \
             session with the YubiHSM 2 at http://127.0.0.1:[PORT] using authentication key 1"
        ),
        "{shown}"
    );
    insta::assert_snapshot!("unreachable_device_hint", hint);

    // Commands that need no keys do not contact the device.
    succeeds(
        signet(&sandbox, &settings)
            .args(["status", "example.com/app"])
            .output()
            .unwrap(),
    );
}

#[test]
fn root_keys_go_on_the_device_and_other_keys_to_disk_unless_all_are_asked_for() {
    let sandbox = Sandbox::new();
    let connector = serve_mockhsm();
    let device = [(CONNECTOR, connector.as_str()), (PASSWORD, MOCK_PASSWORD)];

    let root = generated_key_id(&succeeds(
        signet(&sandbox, &device)
            .args(["key", "generate", "--role", "root"])
            .output()
            .unwrap(),
    ));
    let alice = generated_key_id(&succeeds(
        signet(&sandbox, &device)
            .args(["key", "generate", "--role", "alice"])
            .output()
            .unwrap(),
    ));
    let everything = [
        (CONNECTOR, connector.as_str()),
        (PASSWORD, MOCK_PASSWORD),
        (KEYS, "all"),
    ];
    let bob = generated_key_id(&succeeds(
        signet(&sandbox, &everything)
            .args(["key", "generate", "--role", "bob"])
            .output()
            .unwrap(),
    ));

    let listing = succeeds(
        signet(&sandbox, &device)
            .args(["key", "list"])
            .output()
            .unwrap(),
    );
    assert_eq!(location(&listing, &root), "yubihsm");
    assert_eq!(location(&listing, &bob), "yubihsm");
    assert!(
        location(&listing, &alice).ends_with("/private"),
        "{listing}"
    );

    // Without the device only the disk key is listed.
    let disk_only = succeeds(
        signet(&sandbox, &[])
            .args(["key", "list"])
            .output()
            .unwrap(),
    );
    assert!(
        disk_only.contains(&alice) && !disk_only.contains(&root),
        "{disk_only}"
    );

    // The same device configured in config.json (the password still from the environment).
    let config = sandbox.file(
        "config.json",
        format!(r#"{{"trust_dir": "td", "yubihsm": {{"connector": "{connector}"}}}}"#).as_bytes(),
    );
    let from_config = succeeds(
        signet(&sandbox, &[(PASSWORD, MOCK_PASSWORD)])
            .arg("-c")
            .arg(&config)
            .args(["key", "list"])
            .output()
            .unwrap(),
    );
    assert_eq!(location(&from_config, &root), "yubihsm");
    // ... and turned off for one command.
    let off = succeeds(
        signet(&sandbox, &[(CONNECTOR, "none")])
            .arg("-c")
            .arg(&config)
            .args(["key", "list"])
            .output()
            .unwrap(),
    );
    assert!(!off.contains(&root), "{off}");
}

#[test]
fn a_missing_password_without_a_terminal_says_which_variable_to_set() {
    let sandbox = Sandbox::new();
    let connector = serve_mockhsm();
    let out = signet(&sandbox, &[(CONNECTOR, connector.as_str())])
        .args(["key", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("no password for YubiHSM 2 authentication key 1"),
        "{stdout}"
    );
    assert!(
        stdout.contains("* hint: set SIGNET_YUBIHSM_PASSWORD or run signet on a terminal"),
        "{stdout}"
    );
}

#[test]
fn invalid_settings_are_refused_before_anything_runs() {
    let sandbox = Sandbox::new();
    let out = signet(&sandbox, &[(CONNECTOR, "https://hsm.example.com")])
        .args(["status", "example.com/app"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(
            "invalid YubiHSM 2 setting SIGNET_YUBIHSM_CONNECTOR=\"https://hsm.example.com\""
        ),
        "{stdout}"
    );
}

/// `signet` with docker's trust dir (`home/.docker/trust`) and passphrase variables, and the
/// device settings `settings`.
fn docker(sandbox: &Sandbox, settings: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_signet"));
    for var in ["SIGNET_OUTPUT", "DOCKER_CONFIG"] {
        cmd.env_remove(var);
    }
    cmd.env("HOME", sandbox.path().join("home"))
        .env("DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE", "root-passphrase")
        .env(
            "DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE",
            "repository-passphrase",
        )
        .current_dir(sandbox.path())
        .write_stdin("");
    with_settings(cmd, settings)
}

#[test]
fn trust_commands_use_the_device_as_every_command_does() {
    let sandbox = Sandbox::new();
    let connector = serve_mockhsm();
    let keys = sandbox.path().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let generate = |name: &str, settings: &[(&str, &str)]| {
        let out = docker(&sandbox, settings)
            .args([
                "--output", "json", "trust", "key", "generate", name, "--dir",
            ])
            .arg(&keys)
            .output()
            .unwrap();
        let doc: serde_json::Value = serde_json::from_str(&succeeds(out)).unwrap();
        doc["key_id"].as_str().unwrap().to_owned()
    };
    let everything = [
        (CONNECTOR, connector.as_str()),
        (PASSWORD, MOCK_PASSWORD),
        (KEYS, "all"),
    ];
    let alice = generate("alice", &everything);
    // Root keys only by default: a signer key goes to docker's trust dir.
    let device = [(CONNECTOR, connector.as_str()), (PASSWORD, MOCK_PASSWORD)];
    let bob = generate("bob", &device);

    let listing = succeeds(
        signet_in(&sandbox, "home/.docker/trust", &device)
            .args(["key", "list"])
            .output()
            .unwrap(),
    );
    assert_eq!(location(&listing, &alice), "yubihsm");
    assert!(
        location(&listing, &bob).ends_with(".docker/trust/private"),
        "{listing}"
    );
}
