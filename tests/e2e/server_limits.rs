//! Slow and flooding clients cannot exhaust signet-server: headers have a deadline, bodies are
//! bounded by the request timeout, connections past the limit are closed at once, and a flood
//! of bad requests leaves memory flat.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use signet_e2e::{SignetServer, is_healthy};

/// Starts a signet-server on SQLite with `server_toml` as its `[server]` section.
fn start_with(server_toml: &str) -> (SignetServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("limits.toml");
    std::fs::write(&config, format!("[server]\n{server_toml}")).unwrap();
    let server =
        SignetServer::start_sqlite_with(&["--config", &config.display().to_string()]).unwrap();
    (server, dir)
}

/// Reads from `stream` until it closes or `wait` passes; returns what was read and whether
/// the server closed the connection.
fn read_until_closed(stream: &mut TcpStream, wait: Duration) -> (Vec<u8>, bool) {
    let deadline = Instant::now() + wait;
    let mut got = Vec::new();
    let mut buf = [0_u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return (got, false);
        }
        stream.set_read_timeout(Some(left)).unwrap();
        match stream.read(&mut buf) {
            Ok(0) => return (got, true),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return (got, true),
            Err(_) => return (got, false),
        }
    }
}

#[test]
fn slow_clients_are_cut_off_and_the_connection_limit_holds() {
    let (server, _dir) =
        start_with("max_connections = 8\nheader_read_timeout_secs = 2\nrequest_timeout_secs = 3\n");
    let host_port = server.host_port().to_owned();
    let health = format!("{}/_notary_server/health", server.url());

    // Eight clients that never finish their headers take every connection.
    let started = Instant::now();
    let mut slow: Vec<TcpStream> = (0..8)
        .map(|_| {
            let mut s = TcpStream::connect(&host_port).unwrap();
            s.write_all(b"GET /_notary_server/health HTTP/1.1\r\nHost: slow\r\n")
                .unwrap();
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));

    // A ninth connection is closed at once, without an answer.
    let mut ninth = TcpStream::connect(&host_port).unwrap();
    let _ = ninth.write_all(b"GET /_notary_server/health HTTP/1.1\r\nHost: ninth\r\n\r\n");
    let (answer, closed) = read_until_closed(&mut ninth, Duration::from_secs(1));
    assert!(closed, "the connection past the limit was not closed");
    assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));

    // The slow clients are cut off at the header deadline, and the server serves again.
    for s in &mut slow {
        let (_, closed) = read_until_closed(s, Duration::from_secs(6));
        assert!(closed, "a client slow with its headers kept its connection");
    }
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
    assert!(is_healthy(&health), "the server did not recover");

    // A slow body is cut off by the request timeout.
    let mut body = TcpStream::connect(&host_port).unwrap();
    body.write_all(
        b"POST /v2/example.com/slow/_trust/tuf/ HTTP/1.1\r\nHost: slow\r\n\
          Content-Type: multipart/form-data; boundary=x\r\nContent-Length: 100000\r\n\r\n--x",
    )
    .unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    let mut closed = false;
    while started.elapsed() < Duration::from_secs(8) && !closed {
        if body.write_all(b"slow").is_err() {
            closed = true;
            break;
        }
        let (got, c) = read_until_closed(&mut body, Duration::from_millis(400));
        answer.extend(got);
        closed = c || !answer.is_empty();
    }
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        closed && (answer.is_empty() || answer.starts_with("HTTP/1.1 503")),
        "slow body not cut off in {:?}: {answer}",
        started.elapsed()
    );
    assert!(is_healthy(&health));
}

/// Sends `count` bad requests, each on its own connection, and reads every answer; returns
/// how many were answered with a refusal (4xx, or a redirect to the cleaned path).
fn bad_requests(host_port: &str, thread: usize, count: usize) -> usize {
    let mut answered = 0;
    for i in 0..count {
        let request = match i % 4 {
            0 => {
                let body = "--b\r\nnot a part at all, just junk\r\n";
                format!(
                    "POST /v2/example.com/flood/{thread}/_trust/tuf/ HTTP/1.1\r\nHost: f\r\n\
                     Content-Type: multipart/form-data; boundary=b\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
            }
            1 => format!(
                "GET /v2/example.com/flood/{i}/_trust/tuf/nope.json HTTP/1.1\r\nHost: f\r\n\
                 Connection: close\r\n\r\n"
            ),
            2 => {
                "DELETE /v2/../../etc/_trust/tuf/ HTTP/1.1\r\nHost: f\r\nConnection: close\r\n\r\n"
                    .to_owned()
            }
            _ => format!(
                "GET /v2/example.com/flood/_trust/changefeed?records=x{i} HTTP/1.1\r\nHost: f\r\n\
                 Connection: close\r\n\r\n"
            ),
        };
        let Ok(mut s) = TcpStream::connect(host_port) else {
            continue;
        };
        if s.write_all(request.as_bytes()).is_err() {
            continue;
        }
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        // A 4xx, or the 301 to the cleaned path for `..` segments: never a 5xx.
        if out.starts_with(b"HTTP/1.1 4") || out.starts_with(b"HTTP/1.1 301") {
            answered += 1;
        }
    }
    answered
}

#[test]
fn a_flood_of_bad_requests_leaves_memory_flat() {
    let (server, _dir) = start_with("");
    let host_port = server.host_port().to_owned();
    // Warm up allocator pools and caches, then measure.
    bad_requests(&host_port, 99, 400);
    let before = server.process().rss_kib().unwrap();
    let started = Instant::now();
    let answered: usize = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let host_port = &host_port;
                scope.spawn(move || bad_requests(host_port, t, 2500))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    let after = server.process().rss_kib().unwrap();
    eprintln!(
        "10,000 bad requests in {:?}: {answered} refused; RSS {before} KiB before, {after} KiB \
         after",
        started.elapsed()
    );
    assert_eq!(answered, 10_000, "every bad request is refused");
    assert!(
        after < before + 16 * 1024,
        "RSS grew from {before} KiB to {after} KiB"
    );
    assert!(is_healthy(&format!(
        "{}/_notary_server/health",
        server.url()
    )));
}
