//! Log output of the `signet-server` binary when stderr is a pipe: no colour codes, JSON
//! lines on request, and no secrets (database password, key-encryption key).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const KEK_HEX: &str = "5ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2";
const DB_PASSWORD: &str = "pw-s3cret-do-not-log";

fn server() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_signet-server"));
    cmd.env_remove("NO_COLOR")
        .env_remove("RUST_LOG")
        .env("RUST_LOG", "debug")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("SIGNET_SERVER_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

/// The server on a fresh local data directory `dir`, listening on an ephemeral port.
fn local_server(dir: &std::path::Path) -> Command {
    let mut cmd = server();
    cmd.arg("--data-dir")
        .arg(dir)
        .args(["--listen", "127.0.0.1:0"]);
    cmd
}

/// Reads stderr lines until one contains `until` (or the process ends or 30 s pass), then
/// kills the process. Returns every line read.
fn lines_until(mut child: Child, until: &str) -> Vec<String> {
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut lines = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(line) => {
                let done = line.contains(until);
                lines.push(line);
                if done {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    lines
}

#[test]
fn text_logs_to_a_pipe_have_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let child = local_server(dir.path()).spawn().unwrap();
    let lines = lines_until(child, "listening");
    let all = lines.join("\n");
    assert!(
        lines.iter().any(|l| l.contains("listening (plain HTTP)")),
        "{all}"
    );
    assert!(all.contains("LOCAL DEFAULTS"), "{all}");
    assert!(
        !all.contains('\u{1b}'),
        "ANSI escape in piped log:\n{all:?}"
    );
    // The generated local key-encryption key is never logged.
    let kek = std::fs::read_to_string(dir.path().join("kek")).unwrap();
    assert!(!all.contains(kek.trim()), "{all}");
}

#[test]
fn json_format_writes_one_object_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let kek = dir.path().join("kek");
    std::fs::write(&kek, format!("{KEK_HEX}\n")).unwrap();
    let db = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("signet.db").display()
    );
    let child = server()
        .args(["--log-format", "json", "--listen", "127.0.0.1:0"])
        .arg("--kek-file")
        .arg(&kek)
        .arg("--database-url")
        .arg(&db)
        .spawn()
        .unwrap();
    let lines = lines_until(child, "listening");
    assert!(!lines.is_empty());
    let mut saw_listening = false;
    for line in &lines {
        assert!(!line.contains('\u{1b}'), "{line:?}");
        assert!(!line.contains(KEK_HEX), "key-encryption key logged: {line}");
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(v["level"].is_string(), "{line}");
        assert!(v["timestamp"].is_string(), "{line}");
        saw_listening |= v["fields"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("listening"));
    }
    assert!(saw_listening, "{lines:?}");
}

#[test]
fn log_format_from_environment_and_bad_values_refused() {
    let dir = tempfile::tempdir().unwrap();
    let child = local_server(dir.path())
        .env("SIGNET_SERVER_LOG_FORMAT", "json")
        .spawn()
        .unwrap();
    let lines = lines_until(child, "listening");
    assert!(
        lines
            .iter()
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()),
        "{lines:?}"
    );
    let out = server()
        .args(["--log-format", "xml", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("logging.format"));
}

#[test]
fn database_password_is_not_logged_when_the_database_is_down() {
    let dir = tempfile::tempdir().unwrap();
    let kek = dir.path().join("kek");
    std::fs::write(&kek, KEK_HEX).unwrap();
    // Nothing listens on port 1: connecting fails at once.
    let url = format!("postgres://signet:{DB_PASSWORD}@127.0.0.1:1/notary");
    let out = server()
        .args(["--listen", "127.0.0.1:0", "--database-url", &url])
        .arg("--kek-file")
        .arg(&kek)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(all.contains("storage"), "{all}");
    assert!(!all.contains(DB_PASSWORD), "password logged:\n{all}");
    assert!(!all.contains(KEK_HEX), "key-encryption key logged:\n{all}");
    assert!(!all.contains('\u{1b}'), "{all:?}");
}
