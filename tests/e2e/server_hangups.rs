//! Clients that hang up in the middle of their requests must not harm anyone else: every
//! later write still works, health tells the truth, and the server still stops on SIGTERM.
//!
//! The trigger once found: keep-alive `DELETE /v2/<gun>/_trust/tuf/` requests for GUNs that
//! do not exist, on connections the client closes without reading the answers. A dropped
//! request used to leave its database transaction open, which stopped every later write.

use std::io::Write as _;
use std::net::TcpStream;
use std::time::Duration;

use signet_e2e::{NotaryCli, SignetServer, is_healthy, require_postgres};

use crate::support::go_notary_available;

/// Connections opened and dropped; each sends several pipelined requests.
const CONNECTIONS: usize = 600;
/// Requests written on each connection before it is closed.
const REQUESTS_PER_CONNECTION: usize = 4;
/// Threads sending them.
const THREADS: usize = 8;

/// Sends the keep-alive DELETEs of `connections` connections and closes each without
/// reading a byte.
fn hang_up_flood(host_port: &str, thread: usize, connections: usize) {
    for c in 0..connections {
        let Ok(mut stream) = TcpStream::connect(host_port) else {
            continue;
        };
        let mut requests = String::new();
        for r in 0..REQUESTS_PER_CONNECTION {
            requests.push_str(&format!(
                "DELETE /v2/hangup.example/absent-{thread}-{c}-{r}/_trust/tuf/ HTTP/1.1\r\n\
                 Host: {host_port}\r\nConnection: keep-alive\r\n\r\n"
            ));
        }
        let _ = stream.write_all(requests.as_bytes());
        drop(stream);
    }
}

/// Publishes `gun` with the Go CLI, floods the server with hang-ups, then checks that a
/// publish to the same and to another GUN lands, that health answers 200, and that SIGTERM
/// stops the server within its grace period plus a margin.
fn hang_ups_harm_no_one(mut server: SignetServer, name: &str) {
    let gun = format!("hangup.example/{name}");
    let cli = NotaryCli::new(server.url()).unwrap();
    cli.init(&gun, true).unwrap();
    cli.add_bytes(&gun, "before", b"before the flood", &[], true)
        .unwrap();

    let started = std::time::Instant::now();
    let host_port = server.host_port().to_owned();
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let host_port = &host_port;
            scope.spawn(move || hang_up_flood(host_port, t, CONNECTIONS / THREADS));
        }
    });

    eprintln!("{name}: flood sent in {:?}", started.elapsed());
    assert!(
        is_healthy(&format!("{}/_notary_server/health", server.url())),
        "{name}: health check failed after the flood"
    );
    cli.add_bytes(&gun, "after", b"after the flood", &[], true)
        .unwrap_or_else(|e| panic!("{name}: publish after the flood failed: {e}"));
    let other = format!("hangup.example/{name}-other");
    cli.init(&other, true)
        .unwrap_or_else(|e| panic!("{name}: a new repository after the flood failed: {e}"));
    let listed: Vec<String> = cli
        .fresh()
        .unwrap()
        .list(&gun)
        .unwrap()
        .into_iter()
        .map(|row| row.name)
        .collect();
    assert_eq!(listed, ["after", "before"], "{name}");

    eprintln!("{name}: publishes done at {:?}", started.elapsed());
    // Graceful shutdown is bounded: 2 s of grace, 5 s of margin, and some slack.
    let stopped = server
        .process_mut()
        .terminate(Duration::from_secs(15))
        .unwrap();
    eprintln!("{name}: stopped after {stopped:?}");
    assert!(stopped.is_some(), "{name}: SIGTERM did not stop the server");
}

/// A configuration file with a short shutdown grace period, in `dir`.
fn short_grace_config(dir: &std::path::Path) -> String {
    let path = dir.join("hangups.toml");
    std::fs::write(&path, "[server]\nshutdown_grace_secs = 2\n").unwrap();
    path.display().to_string()
}

#[test]
fn hang_ups_harm_no_one_on_sqlite() {
    if !go_notary_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = short_grace_config(dir.path());
    let server = SignetServer::start_sqlite_with(&["--config", &config]).unwrap();
    hang_ups_harm_no_one(server, "sqlite");
}

#[test]
fn hang_ups_harm_no_one_on_postgres() {
    if !go_notary_available() {
        return;
    }
    let Some(postgres) = require_postgres() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = short_grace_config(dir.path());
    let server = SignetServer::start_postgres_with(&postgres, &["--config", &config]).unwrap();
    hang_ups_harm_no_one(server, "postgres");
}
