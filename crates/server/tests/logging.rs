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

/// The lines `child` writes to stderr, as they come (read on a thread of their own).
fn stderr_lines(child: &mut Child) -> mpsc::Receiver<String> {
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
    rx
}

/// Reads stderr lines until one contains `until` (or the process ends or 30 s pass), then
/// kills the process. Returns every line read.
fn lines_until(mut child: Child, until: &str) -> Vec<String> {
    let rx = stderr_lines(&mut child);
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

/// The request span names the client's address (the peer of the connection), so that every
/// log line of a request says who sent it.
#[test]
fn request_span_names_the_client_address() {
    use std::io::{Read as _, Write as _};

    let dir = tempfile::tempdir().unwrap();
    let mut child = local_server(dir.path())
        .env("SIGNET_SERVER_LOG_FORMAT", "json")
        .spawn()
        .unwrap();
    let rx = stderr_lines(&mut child);
    let deadline = Instant::now() + Duration::from_secs(30);
    let next = || {
        let left = deadline.checked_duration_since(Instant::now())?;
        rx.recv_timeout(left).ok()
    };
    let mut seen = Vec::new();
    let addr = loop {
        let Some(line) = next() else {
            let _ = child.kill();
            panic!("no listening line: {seen:?}");
        };
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        if let Some(addr) = v["fields"]["addr"].as_str()
            && v["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("listening"))
        {
            break addr.to_owned();
        }
        seen.push(line);
    };
    let mut conn = std::net::TcpStream::connect(&addr).unwrap();
    let client = conn.local_addr().unwrap().to_string();
    conn.write_all(b"GET /_notary_server/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    let _ = conn.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let mut found = None;
    while let Some(line) = next() {
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        if v["span"]["name"] == "request" {
            found = Some(v);
            break;
        }
        seen.push(line);
    }
    let _ = child.kill();
    let _ = child.wait();
    let v = found.unwrap_or_else(|| panic!("no line in the request span: {seen:?}"));
    assert_eq!(v["span"]["client"], client.as_str(), "{v}");
    assert_eq!(v["span"]["path"], "/_notary_server/health", "{v}");
}
