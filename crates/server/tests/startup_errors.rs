//! Start-up errors of the `signet-server` binary name what is wrong and where: a database that
//! cannot be reached by its address and the driver's error (never the URL's password), and
//! the local-defaults warning only what really is defaulted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Stdio};

const DB_PASSWORD: &str = "pw-s3cret-do-not-log";

/// Runs the server (it must fail) with `args` on a fresh data directory and returns its
/// standard error without timestamps, the data directory shown as `DATA`.
fn fails(args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_signet-server"));
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("SIGNET_SERVER_") {
            cmd.env_remove(k);
        }
    }
    let out = cmd
        .env("RUST_LOG", "warn")
        .env("NO_COLOR", "1")
        .arg("--data-dir")
        .arg(dir.path())
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(!stderr.contains(DB_PASSWORD), "{stderr}");
    stderr
        .lines()
        // `2026-…Z  WARN target: message` → `WARN target: message`
        .map(|line| match line.find("Z ") {
            Some(at) if line.starts_with(|c: char| c.is_ascii_digit()) => {
                line[at + 1..].trim_start()
            }
            _ => line,
        })
        .map(|line| line.replace(&dir.path().display().to_string(), "DATA") + "\n")
        .collect()
}

#[test]
fn postgres_on_a_closed_port_is_named_with_the_cause() {
    // Nothing listens on port 1 of the loopback address.
    let url = format!("postgres://signet:{DB_PASSWORD}@127.0.0.1:1/signet");
    let only_database = fails(&["--database-url", &url]);
    assert!(
        only_database.contains("cannot connect to Postgres at 127.0.0.1:1: connection refused")
    );
    insta::assert_snapshot!("postgres_closed_port", only_database);

    let kek = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(kek.path(), "07".repeat(32)).unwrap();
    let nothing_defaulted = fails(&[
        "--database-url",
        &url,
        "--kek-file",
        kek.path().to_str().unwrap(),
    ]);
    assert!(
        !nothing_defaulted.contains("LOCAL DEFAULT"),
        "{nothing_defaulted}"
    );
    assert!(nothing_defaulted.contains("cannot connect to Postgres at 127.0.0.1:1"));
}

#[test]
fn unresolvable_database_hosts_are_named() {
    let url = format!("postgres://signet:{DB_PASSWORD}@signet-db.invalid:5432/signet");
    let text = fails(&["--database-url", &url]);
    assert!(
        text.contains("cannot connect to Postgres at signet-db.invalid:5432: "),
        "{text}"
    );
}
