//! Raw HTTP/1.1 on the wire: any bytes out, and an [`Outcome`] that tells an answer from a
//! dropped connection or a server that stayed silent. Also the multipart framing of uploads.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long a request may wait for its answer unless a case says otherwise.
pub(crate) const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// What came back for a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A status line (and whatever body arrived).
    Reply {
        /// The status code.
        status: u16,
        /// The Notary error code (`errors[0].code`), or `""`.
        code: String,
        /// The body (de-chunked when possible).
        body: Vec<u8>,
    },
    /// The connection closed (or was reset) before a status line arrived.
    Dropped,
    /// Nothing arrived before the client gave up.
    Silent,
}

impl Outcome {
    /// The status code of a reply.
    pub(crate) fn status(&self) -> Option<u16> {
        match self {
            Self::Reply { status, .. } => Some(*status),
            Self::Dropped | Self::Silent => None,
        }
    }

    /// A one-line description for tables: `400 INVALID_UPDATE`, `dropped`, `silent`.
    pub(crate) fn describe(&self) -> String {
        match self {
            Self::Reply { status, code, .. } if code.is_empty() => status.to_string(),
            Self::Reply { status, code, .. } => format!("{status} {code}"),
            Self::Dropped => "dropped".to_owned(),
            Self::Silent => "silent".to_owned(),
        }
    }

    /// The start of the body, for failure messages.
    pub(crate) fn body_excerpt(&self) -> String {
        match self {
            Self::Reply { body, .. } => {
                let text = String::from_utf8_lossy(body);
                text.chars().take(400).collect()
            }
            Self::Dropped | Self::Silent => String::new(),
        }
    }
}

/// Connects to `host_port` (`127.0.0.1:port`).
fn connect(host_port: &str) -> Option<TcpStream> {
    let stream = TcpStream::connect(host_port).ok()?;
    let _ = stream.set_nodelay(true);
    let _ = stream.set_write_timeout(Some(ANSWER_TIMEOUT));
    Some(stream)
}

/// Sends `pieces` in order, sleeping after each as told, then reads the answer for at most
/// `timeout` (counted from the last write).
pub(crate) fn exchange_paced(
    host_port: &str,
    pieces: &[(&[u8], Duration)],
    timeout: Duration,
) -> Outcome {
    let Some(mut stream) = connect(host_port) else {
        return Outcome::Dropped;
    };
    for (bytes, pause) in pieces {
        // A server refusing early may close before reading everything; read what it said.
        if write_in_chunks(&mut stream, bytes).is_err() {
            break;
        }
        if !pause.is_zero() {
            std::thread::sleep(*pause);
        }
    }
    read_answer(&mut stream, timeout)
}

/// Sends `bytes` and reads the answer.
pub(crate) fn exchange(host_port: &str, bytes: &[u8]) -> Outcome {
    exchange_paced(host_port, &[(bytes, Duration::ZERO)], ANSWER_TIMEOUT)
}

/// Sends `bytes`, half-closes the connection, and reads the answer.
pub(crate) fn exchange_then_half_close(host_port: &str, bytes: &[u8]) -> Outcome {
    let Some(mut stream) = connect(host_port) else {
        return Outcome::Dropped;
    };
    let _ = write_in_chunks(&mut stream, bytes);
    let _ = stream.shutdown(Shutdown::Write);
    read_answer(&mut stream, ANSWER_TIMEOUT)
}

fn write_in_chunks(stream: &mut TcpStream, bytes: &[u8]) -> std::io::Result<()> {
    for chunk in bytes.chunks(256 * 1024) {
        stream.write_all(chunk)?;
    }
    Ok(())
}

/// Reads one response: up to the end of its body when its length is known, otherwise to
/// the end of the stream.
fn read_answer(stream: &mut TcpStream, timeout: Duration) -> Outcome {
    let deadline = Instant::now() + timeout;
    let mut raw = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    loop {
        if response_complete(&raw) {
            break;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let _ = stream.set_read_timeout(Some(left));
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                if raw.is_empty() {
                    return Outcome::Silent;
                }
                break;
            }
            Err(_) => break,
        }
    }
    parse(&raw).unwrap_or(Outcome::Dropped)
}

/// The end of the head, if it has arrived.
fn head_end(raw: &[u8]) -> Option<usize> {
    raw.windows(4).position(|w| w == b"\r\n\r\n")
}

fn header_value(head: &str, name: &str) -> Option<String> {
    head.split("\r\n").skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| value.trim().to_owned())
    })
}

fn response_complete(raw: &[u8]) -> bool {
    let Some(end) = head_end(raw) else {
        return false;
    };
    let head = String::from_utf8_lossy(&raw[..end]);
    let body = &raw[end + 4..];
    if let Some(length) = header_value(&head, "content-length").and_then(|v| v.parse().ok()) {
        return body.len() >= length;
    }
    if header_value(&head, "transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    {
        return body.ends_with(b"0\r\n\r\n");
    }
    // 1xx-less statuses without a body.
    let status = head.split(' ').nth(1).unwrap_or_default();
    status == "204" || status == "304"
}

fn parse(raw: &[u8]) -> Option<Outcome> {
    let end = head_end(raw)?;
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let status: u16 = head.split(' ').nth(1)?.parse().ok()?;
    let mut body = raw[end + 4..].to_vec();
    if header_value(&head, "transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    {
        body = dechunk(&body).unwrap_or(body);
    } else if let Some(length) = header_value(&head, "content-length").and_then(|v| v.parse().ok())
    {
        body.truncate(length);
    }
    let code = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|json| json["errors"][0]["code"].as_str().map(str::to_owned))
        .unwrap_or_default();
    Some(Outcome::Reply { status, code, body })
}

fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
        let text = std::str::from_utf8(&rest[..line_end]).ok()?;
        let size = usize::from_str_radix(text.split(';').next()?.trim(), 16).ok()?;
        rest = rest.get(line_end + 2..)?;
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}

/// A request with `Host`, `Connection: close` and (when there is a body or the method is
/// POST) `Content-Length`, plus `headers` in order.
pub(crate) fn request_bytes(
    host_port: &str,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Vec<u8> {
    let mut out =
        format!("{method} {target} HTTP/1.1\r\nHost: {host_port}\r\nConnection: close\r\n");
    if !body.is_empty() || method == "POST" {
        out.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// The boundary of [`form`] bodies.
pub(crate) const BOUNDARY: &str = "attack-catalogue-7f3a";

/// `Content-Type` for [`form`] bodies.
pub(crate) fn form_type() -> String {
    format!("multipart/form-data; boundary={BOUNDARY}")
}

/// One part as the Notary client frames it (filename = role), boundary line included.
pub(crate) fn part(role: &str, contents: &[u8]) -> Vec<u8> {
    part_with_disposition(
        &format!("form-data; name=\"files\"; filename=\"{role}\""),
        contents,
    )
}

/// One part with a hand-written `Content-Disposition` value.
pub(crate) fn part_with_disposition(disposition: &str, contents: &[u8]) -> Vec<u8> {
    part_with_headers(
        &format!(
            "Content-Disposition: {disposition}\r\nContent-Type: application/octet-stream\r\n"
        ),
        contents,
    )
}

/// One part with hand-written header lines (each ending in CRLF).
pub(crate) fn part_with_headers(header_lines: &str, contents: &[u8]) -> Vec<u8> {
    let mut out = format!("--{BOUNDARY}\r\n{header_lines}\r\n").into_bytes();
    out.extend_from_slice(contents);
    out.extend_from_slice(b"\r\n");
    out
}

/// The closing delimiter.
pub(crate) fn closing() -> Vec<u8> {
    format!("--{BOUNDARY}--\r\n").into_bytes()
}

/// A whole multipart body, one part per `(role, contents)`.
pub(crate) fn form<R: AsRef<str>, C: AsRef<[u8]>>(parts: &[(R, C)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (role, contents) in parts {
        out.extend_from_slice(&part(role.as_ref(), contents.as_ref()));
    }
    out.extend_from_slice(&closing());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_chunked_and_sized_answers() {
        let sized =
            b"HTTP/1.1 400 Bad Request\r\nContent-Length: 26\r\n\r\n{\"errors\":[{\"code\":\"X\"}]}\n";
        assert!(response_complete(sized));
        let outcome = parse(sized).unwrap();
        assert_eq!(outcome.describe(), "400 X");
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n";
        assert!(response_complete(chunked));
        assert_eq!(
            parse(chunked).unwrap(),
            Outcome::Reply {
                status: 200,
                code: String::new(),
                body: b"{}".to_vec()
            }
        );
        assert!(parse(b"HTTP/1.1 200").is_none());
    }
}
