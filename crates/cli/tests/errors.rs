//! Error messages: notary's `* fatal:` line (exit status 1) and signet's `* hint:` line, and the
//! JSON error document.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Sandbox, json};

/// Runs each command (all must fail with status 1) and returns the transcript.
fn transcript(sandbox: &Sandbox, commands: &[&[&str]]) -> String {
    let mut text = String::new();
    for args in commands {
        text.push_str(&format!("$ signet {}\n", args.join(" ")));
        text.push_str(&sandbox.fails(args));
    }
    sandbox.mask(&text)
}

#[test]
fn missing_arguments() {
    let sandbox = Sandbox::new();
    let text = transcript(
        &sandbox,
        &[
            &["add"],
            &["add", "gun", "target"],
            &["addhash", "gun", "target", "12"],
            &["remove", "gun"],
            &["status"],
            &["reset", "gun"],
            &["reset"],
            &["publish"],
            &["init"],
            &["list"],
            &["lookup", "gun"],
            &["verify", "gun"],
            &["delete"],
            &["witness", "gun"],
            &["key", "generate", "ecdsa", "rsa"],
            &["key", "import"],
            &["key", "export", "extra"],
            &["key", "passwd"],
            &["key", "remove"],
            &["key", "rotate", "gun"],
            &["delegation", "list"],
            &["delegation", "add", "gun", "targets/releases"],
            &["delegation", "remove", "gun"],
            &["delegation", "purge", "gun"],
            &["delegation", "purge", "gun", "other", "--key", "abc"],
        ],
    );
    insta::assert_snapshot!("missing_arguments", text);
}

#[test]
fn invalid_values() {
    let sandbox = Sandbox::new();
    sandbox.file("payload.txt", b"x");
    sandbox.file("bad.json", b"{\"a\":1");
    sandbox.file(
        "not-a-key.pem",
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    );
    let zeros = "0".repeat(64);
    let text = transcript(
        &sandbox,
        &[
            &["key", "generate", "rsa"],
            &["key", "passwd", "abc"],
            &["key", "passwd", &zeros],
            &["key", "remove", "abc"],
            &["key", "export", "--gun", "g", "--key", "k"],
            &["add", "example.com/app", "v1", "missing.txt"],
            &["add", "example.com/app", "v1", "payload.txt", "-r", "foo"],
            &["add", "example.com/app", "v1", "payload.txt", "-r", "root"],
            &[
                "add",
                "example.com/app",
                "v1",
                "payload.txt",
                "--custom",
                "bad.json",
            ],
            &["add", "../escape", "v1", "payload.txt"],
            &["addhash", "example.com/app", "v1", "12", "--sha256", "abcd"],
            &["addhash", "example.com/app", "v1", "12", "--sha512", "abcd"],
            &[
                "addhash",
                "example.com/app",
                "v1",
                "12x",
                "--sha256",
                &zeros,
            ],
            &["reset", "example.com/app", "-n", "-1"],
            &["reset", "example.com/app", "-n", "5"],
            &["witness", "example.com/app", "snapshot"],
            &[
                "delegation",
                "add",
                "example.com/app",
                "releases",
                "--all-paths",
            ],
            &[
                "delegation",
                "add",
                "example.com/app",
                "targets/releases",
                "missing.pem",
            ],
            &[
                "delegation",
                "add",
                "example.com/app",
                "targets/releases",
                "not-a-key.pem",
            ],
            &[
                "delegation",
                "remove",
                "example.com/app",
                "targets/releases",
            ],
        ],
    );
    insta::assert_snapshot!("invalid_values", text);
}

#[test]
fn passphrases_without_environment_or_terminal() {
    let sandbox = Sandbox::new();
    let out = sandbox.bare().args(["key", "generate"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    insta::assert_snapshot!(
        "no_passphrase_source",
        sandbox.mask(&String::from_utf8(out.stdout).unwrap())
    );
    let out = sandbox
        .bare()
        .env("NOTARY_ROOT_PASSPHRASE", "root-passphrase")
        .args(["key", "generate", "--role", "targets/releases"])
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("* hint: set NOTARY_DELEGATION_PASSPHRASE"),
        "delegation keys use the delegation variable:\n{stdout}"
    );
}

#[test]
fn online_commands_without_a_server() {
    let sandbox = Sandbox::new();
    sandbox.file("payload.txt", b"x");
    // Nothing listens on the discard port of the loopback address.
    let server = ["-s", "http://127.0.0.1:9"];
    let mut text = String::new();
    for args in [
        &["init", "example.com/app"][..],
        &["publish", "example.com/app"],
        &["list", "example.com/app"],
        &["add", "example.com/app", "v1", "payload.txt", "-p"],
    ] {
        let out = sandbox.signet().args(server).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        text.push_str(&format!("$ signet {}\n", args.join(" ")));
        text.push_str(&String::from_utf8(out.stdout).unwrap());
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(
            stderr.contains("warning: could not reach http://127.0.0.1:9"),
            "{args:?}: {stderr}"
        );
    }
    insta::assert_snapshot!("server_unreachable", sandbox.mask(&text));
    // The staged change of `add -p` stays staged.
    let status = json(&sandbox.ok(&["--output", "json", "status", "example.com/app"]));
    assert_eq!(status["changes"][0]["path"], "v1");
    // A negative legacy count is refused before anything else happens.
    let out = sandbox.fails(&["key", "rotate", "example.com/app", "root", "-l", "-1"]);
    assert!(
        out.contains("invalid number of legacy root versions: -1"),
        "{out}"
    );
}

#[test]
fn parse_errors_are_fatal_with_status_1() {
    let sandbox = Sandbox::new();
    let text = transcript(
        &sandbox,
        &[
            &["frobnicate"],
            &["key", "list", "--bogus"],
            &["reset", "gun", "-n", "x"],
            &["--output", "yaml", "key", "list"],
        ],
    );
    insta::assert_snapshot!("parse_errors", text);
}

#[test]
fn config_errors() {
    let sandbox = Sandbox::new();
    sandbox.file("broken.json", b"{ not json");
    sandbox.file(
        "bad-types.json",
        br#"{"trust_pinning": {"certs": {"g": "not-a-list"}}}"#,
    );
    let text = transcript(
        &sandbox,
        &[
            &["-c", "missing.json", "key", "list"],
            &["-c", "broken.json", "key", "list"],
            &["-c", "bad-types.json", "key", "list"],
        ],
    );
    insta::assert_snapshot!("config_errors", text);
}

#[test]
fn json_error_documents() {
    let sandbox = Sandbox::new();
    let out = sandbox.fails(&["--output", "json", "key", "passwd", "abc"]);
    let doc = json(&out);
    assert_eq!(doc["error"]["message"], "invalid key ID provided: abc");
    assert!(
        doc["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("signet key list")
    );

    let out = sandbox.fails(&["--output", "json", "status"]);
    assert_eq!(json(&out)["error"]["message"], "Must specify a GUN");

    let out = sandbox.fails(&["--output", "json", "key", "list", "--bogus"]);
    assert!(
        json(&out)["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--bogus")
    );

    let out = sandbox
        .bare()
        .env("SIGNET_OUTPUT", "json")
        .args(["key", "generate"])
        .output()
        .unwrap();
    let doc = json(&String::from_utf8(out.stdout).unwrap());
    assert!(
        doc["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("NOTARY_ROOT_PASSPHRASE")
    );
}

#[test]
fn config_file_trust_dir_and_flag_precedence() {
    let sandbox = Sandbox::new();
    sandbox.file("config.json", br#"{"trust_dir": "from-config"}"#);
    let out = sandbox
        .signet()
        .args(["-c", "config.json", "--output", "json", "key", "generate"])
        .output()
        .unwrap();
    assert!(out.status.success());
    // `-d td` (set by the sandbox) wins over the config file.
    assert!(sandbox.trust_dir().join("private").is_dir());
    assert!(!sandbox.path().join("from-config").exists());

    let mut cmd = assert_cmd::Command::new(env!("CARGO_BIN_EXE_signet"));
    let out = cmd
        .current_dir(sandbox.path())
        .env("HOME", sandbox.path().join("home"))
        .env("NOTARY_ROOT_PASSPHRASE", "root-passphrase")
        .args(["-c", "config.json", "key", "generate"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(sandbox.path().join("from-config/private").is_dir());

    // Without -d and -c, the trust dir is ~/.notary.
    let mut cmd = assert_cmd::Command::new(env!("CARGO_BIN_EXE_signet"));
    let out = cmd
        .current_dir(sandbox.path())
        .env("HOME", sandbox.path().join("home"))
        .args(["key", "list"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(sandbox.path().join("home/.notary/private").is_dir());
}

/// Serves `GET /v2/` on a free loopback port, over TLS with the example server certificate
/// (whose CA signet is not given) when `tls`, else in plain HTTP.
fn serve(tls: bool) -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../../keys-example");
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let app = axum::Router::new().route("/v2/", axum::routing::get(|| async { "{}" }));
            if tls {
                let _ = rustls::crypto::ring::default_provider().install_default();
                let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(
                    format!("{examples}/server.crt"),
                    format!("{examples}/server.key"),
                )
                .await
                .unwrap();
                axum_server::from_tcp_rustls(listener, config)
                    .unwrap()
                    .serve(app.into_make_service())
                    .await
                    .unwrap();
            } else {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(listener, app).await.unwrap();
            }
        });
    });
    address
}

/// Each way of failing to reach the trust server names the server, the cause and the flag or
/// setting that fixes it, against real failing endpoints: a TLS server whose CA is unknown, a
/// plain-HTTP port spoken to with https, a TLS port spoken to with http, a closed port and a
/// host name that does not resolve.
#[test]
fn connection_failures_name_the_cause_and_the_fix() {
    let sandbox = Sandbox::new();
    let tls = serve(true);
    let plain = serve(false);
    let servers = [
        format!("https://{tls}"),
        format!("http://{tls}"),
        format!("https://{plain}"),
        // Nothing listens on the discard port of the loopback address.
        "http://127.0.0.1:9".to_owned(),
        // `.invalid` never resolves (RFC 2606).
        "https://notary.invalid:4443".to_owned(),
    ];
    let mut text = String::new();
    for server in &servers {
        for args in [
            &["list", "example.com/app"][..],
            &["init", "example.com/app"],
        ] {
            let out = sandbox
                .signet()
                .args(["-s", server])
                .args(args)
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(1), "{server} {args:?}");
            text.push_str(&format!("$ signet -s {server} {}\n", args.join(" ")));
            text.push_str(&String::from_utf8(out.stdout).unwrap());
        }
    }
    // A proxy chosen by the environment that cannot be used.
    let out = sandbox
        .signet()
        .env("HTTPS_PROXY", "http://127.0.0.1:9")
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .args(["-s", &servers[0], "list", "example.com/app"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    text.push_str("$ HTTPS_PROXY=http://127.0.0.1:9 signet -s https://TLS list example.com/app\n");
    text.push_str(&String::from_utf8(out.stdout).unwrap());
    // docker's wording, for `signet trust`.
    let out = sandbox
        .signet()
        .args(["-s", &servers[0], "trust", "sign", "example.com/app:v1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    text.push_str("$ signet -s https://TLS trust sign example.com/app:v1\n");
    text.push_str(&String::from_utf8(out.stderr).unwrap());
    // The resolver's own words differ between systems (no such name, no DNS at all).
    let resolving = "cannot resolve the host name notary.invalid: ";
    let text: String = text
        .replace(&tls.to_string(), "127.0.0.1:TLS")
        .replace(&plain.to_string(), "127.0.0.1:HTTP")
        .lines()
        .map(|line| match line.find(resolving) {
            Some(at) => format!("{}<resolver error>\n", &line[..at + resolving.len()]),
            None => format!("{line}\n"),
        })
        .collect();
    insta::assert_snapshot!("connection_failures", sandbox.mask(&text));
}

/// `signet` (no terminal) with docker's passphrase variables and the key file's own one set as
/// given, every other passphrase variable cleared.
fn with_passphrases(sandbox: &Sandbox, vars: &[(&str, &str)]) -> assert_cmd::Command {
    let cleared = [
        "DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE",
        "DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE",
        "SIGNET_KEY_FILE_PASSPHRASE",
    ];
    common::with_env(sandbox.bare(), &cleared, vars)
}

/// The example delegation key (encrypted with `example-passphrase`), readable only by its
/// owner as `trust key load` requires.
fn example_key_file(sandbox: &Sandbox) -> std::path::PathBuf {
    let text = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../keys-example/delegation-key.pem"
    ))
    .unwrap();
    let path = sandbox.file("delegation-key.pem", &text);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    path
}

/// Passphrases from the environment obey the rules of prompted ones, and a wrong one is
/// blamed on the one variable that was read.
#[test]
fn environment_passphrases_are_checked_and_named() {
    let sandbox = Sandbox::new();
    let key_file = example_key_file(&sandbox);
    let key_file = key_file.to_str().unwrap();
    let mut text = String::new();
    let mut run = |title: &str, vars: &[(&str, &str)], args: &[&str]| {
        let out = with_passphrases(&sandbox, vars)
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{title}: {out:?}");
        text.push_str(&format!("$ {title}\n"));
        text.push_str(&String::from_utf8(out.stdout).unwrap());
        text.push_str(&String::from_utf8(out.stderr).unwrap());
    };
    // The README's placeholder, taken literally.
    run(
        "NOTARY_ROOT_PASSPHRASE=… signet key generate",
        &[("NOTARY_ROOT_PASSPHRASE", "…")],
        &["key", "generate"],
    );
    run(
        "DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE=short signet trust key generate alice",
        &[("DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE", "short")],
        &["trust", "key", "generate", "alice", "--dir", "."],
    );
    run(
        "DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE=wrong-passphrase signet trust key load",
        &[(
            "DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE",
            "wrong-passphrase",
        )],
        &["trust", "key", "load", key_file, "--name", "alice"],
    );
    run(
        "SIGNET_KEY_FILE_PASSPHRASE=wrong-passphrase signet trust key load",
        &[
            ("SIGNET_KEY_FILE_PASSPHRASE", "wrong-passphrase"),
            (
                "DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE",
                "example-passphrase",
            ),
        ],
        &["trust", "key", "load", key_file, "--name", "alice"],
    );
    assert!(!text.contains("chmod"), "{text}");
    insta::assert_snapshot!("environment_passphrases", sandbox.mask(&text));
}

/// `trust key load` decrypts the file with `SIGNET_KEY_FILE_PASSPHRASE` and stores the key
/// under the repository passphrase, so one variable need not hold two values.
#[test]
fn key_files_are_loaded_with_their_own_passphrase() {
    let sandbox = Sandbox::new();
    let key_file = example_key_file(&sandbox);
    let out = with_passphrases(
        &sandbox,
        &[
            ("SIGNET_KEY_FILE_PASSPHRASE", "example-passphrase"),
            (
                "DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE",
                "repository-passphrase",
            ),
        ],
    )
    .args(["trust", "key", "load", key_file.to_str().unwrap()])
    .args(["--name", "alice"])
    .output()
    .unwrap();
    assert!(out.status.success(), "{out:?}");
    let private = sandbox.trust_dir().join("private");
    let stored: Vec<_> = std::fs::read_dir(&private)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "key"))
        .collect();
    assert_eq!(stored.len(), 1, "{stored:?}");
    let text = std::fs::read_to_string(&stored[0]).unwrap();
    let block = signet_tuf::notary::pem::decode_first(&text).unwrap();
    assert_eq!(block.header("role"), Some("alice"));
    assert!(
        signet_signer::keyfile::decode_key_block(&block, "repository-passphrase", "alice").is_ok()
    );
    assert!(
        signet_signer::keyfile::decode_key_block(&block, "example-passphrase", "alice").is_err()
    );
}
