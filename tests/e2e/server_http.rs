//! A tiny HTTP/1.1 client for raw requests (any method, headers and body) and a multipart
//! builder shaped like the Notary client's uploads.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::Value;
use signet_e2e::http_get;

/// The boundary used by [`multipart`].
pub(crate) const BOUNDARY: &str = "signet-e2e-boundary-7d1f";

/// A response read in full.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
}

impl Reply {
    /// The Notary error code of an error envelope (`errors[0].code`), or `""`.
    pub(crate) fn error_code(&self) -> String {
        serde_json::from_slice::<Value>(&self.body)
            .ok()
            .and_then(|json| json["errors"][0]["code"].as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    /// `(status, error code)`, the pair the parity checks compare.
    pub(crate) fn outcome(&self) -> (u16, String) {
        (self.status, self.error_code())
    }
}

/// Sends `method url` with optional `Content-Type` and a body; reads the whole response.
pub(crate) fn request(method: &str, url: &str, content_type: Option<&str>, body: &[u8]) -> Reply {
    let rest = url.strip_prefix("http://").unwrap();
    let slash = rest.find('/').unwrap();
    let (authority, path) = (&rest[..slash], &rest[slash..]);
    let mut stream = TcpStream::connect(authority).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(content_type) = content_type {
        head.push_str(&format!("Content-Type: {content_type}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    // A server refusing an oversize body may close before reading all of it.
    let _ = stream.write_all(body);
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    parse(&raw)
}

fn parse(raw: &[u8]) -> Reply {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let mut body = raw[end + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut decoded = Vec::new();
        let mut rest = &body[..];
        loop {
            let line_end = rest.windows(2).position(|w| w == b"\r\n").unwrap();
            let size =
                usize::from_str_radix(std::str::from_utf8(&rest[..line_end]).unwrap().trim(), 16)
                    .unwrap();
            rest = &rest[line_end + 2..];
            if size == 0 {
                break;
            }
            decoded.extend_from_slice(&rest[..size]);
            rest = &rest[size + 2..];
        }
        body = decoded;
    }
    Reply { status, body }
}

/// A multipart body with one `files` part per `(file name, contents)`, as the Notary client
/// uploads metadata (the file name is the role).
pub(crate) fn multipart(parts: &[(&str, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, contents) in parts {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(contents);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// `Content-Type` for [`multipart`] bodies.
pub(crate) fn multipart_type() -> String {
    format!("multipart/form-data; boundary={BOUNDARY}")
}

/// POSTs `parts` to a GUN's TUF folder (`tuf_url` ends in `/_trust/tuf/`).
pub(crate) fn upload(tuf_url: &str, parts: &[(&str, &[u8])]) -> Reply {
    request("POST", tuf_url, Some(&multipart_type()), &multipart(parts))
}

/// GETs `<tuf_url><file>` and returns the body, asserting 200.
pub(crate) fn get_ok(tuf_url: &str, file: &str) -> Vec<u8> {
    let response = http_get(&format!("{tuf_url}{file}")).unwrap();
    assert_eq!(
        response.status,
        200,
        "GET {tuf_url}{file}: {}",
        response.text()
    );
    response.body
}

/// The current root, targets, snapshot and timestamp files of a repository.
pub(crate) fn current_files(tuf_url: &str) -> Vec<(&'static str, Vec<u8>)> {
    ["root", "targets", "snapshot", "timestamp"]
        .into_iter()
        .map(|role| (role, get_ok(tuf_url, &format!("{role}.json"))))
        .collect()
}
