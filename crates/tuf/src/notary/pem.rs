//! PEM blocks with RFC 1421 headers, read and written the way Go's `encoding/pem` does: the one
//! PEM codec of signet, for key files, certificates and public keys alike.
//!
//! Notary key files carry `role:`, `gun:` and (on export) `path:` headers, and legacy files carry
//! `Proc-Type:` and `DEK-Info:`. Strict RFC 7468 parsers reject headers, so this module has its
//! own codec:
//!
//! * Reading: a block starts at a line beginning with `-----BEGIN <label>-----`; the following
//!   lines containing `:` are headers (key and value trimmed); the body up to the line
//!   `-----END <label>-----` is base64 with all whitespace ignored. A block whose body does not
//!   decode is skipped, as Go does.
//! * Writing: the `BEGIN` line, then `Proc-Type` (if present) followed by the other headers in
//!   byte order, each as `key: value`, then one empty line if there were headers, then the body
//!   in 64-character base64 lines, then the `END` line and a newline.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use crate::error::PemEncodeError;

/// PEM label of an encrypted PKCS#8 key.
pub const ENCRYPTED_PRIVATE_KEY: &str = "ENCRYPTED PRIVATE KEY";
/// PEM label of an unencrypted PKCS#8 key.
pub const PRIVATE_KEY: &str = "PRIVATE KEY";
/// PEM label of a legacy SEC1 ECDSA key.
pub const EC_PRIVATE_KEY: &str = "EC PRIVATE KEY";
/// PEM label of a legacy PKCS#1 RSA key.
pub const RSA_PRIVATE_KEY: &str = "RSA PRIVATE KEY";
/// PEM label of a legacy raw Ed25519 key (96 bytes: public ‖ seed ‖ public).
pub const ED25519_PRIVATE_KEY: &str = "ED25519 PRIVATE KEY";
/// PEM label of an X.509 certificate.
pub const CERTIFICATE: &str = "CERTIFICATE";
/// PEM label of a SubjectPublicKeyInfo.
pub const PUBLIC_KEY: &str = "PUBLIC KEY";

/// Header holding the key's role.
pub const ROLE_HEADER: &str = "role";
/// Header holding the key's GUN (targets, snapshot and timestamp keys only).
pub const GUN_HEADER: &str = "gun";
/// Header added on export: the key's path under `private/` without `.key`.
pub const PATH_HEADER: &str = "path";
/// Legacy RFC 1423 header marking an encrypted block.
pub const PROC_TYPE_HEADER: &str = "Proc-Type";
/// Legacy RFC 1423 header naming cipher and IV.
pub const DEK_INFO_HEADER: &str = "DEK-Info";

const BEGIN: &str = "-----BEGIN ";
const END: &str = "-----END ";
const DASHES: &str = "-----";
const LINE_WIDTH: usize = 64;

/// One PEM block: label, headers and decoded contents.
///
/// The contents are zeroized on drop because an unencrypted `PRIVATE KEY` block holds the key
/// itself. `Debug` shows only the label, the headers and the content length.
#[derive(Clone, PartialEq, Eq)]
pub struct PemBlock {
    /// The label between `BEGIN ` and `-----`, for example `ENCRYPTED PRIVATE KEY`.
    pub label: String,
    /// RFC 1421 headers (`role`, `gun`, `path`, `Proc-Type`, `DEK-Info`, ...).
    pub headers: BTreeMap<String, String>,
    /// The base64-decoded body.
    pub contents: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for PemBlock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PemBlock")
            .field("label", &self.label)
            .field("headers", &self.headers)
            .field("contents_len", &self.contents.len())
            .finish()
    }
}

impl PemBlock {
    /// A block without headers.
    pub fn new(label: impl Into<String>, contents: Vec<u8>) -> Self {
        Self {
            label: label.into(),
            headers: BTreeMap::new(),
            contents: Zeroizing::new(contents),
        }
    }

    /// The value of header `name`, if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    /// Sets header `name` to `value`, replacing any previous value.
    pub fn set_header(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.headers.insert(name.into(), value.into());
    }

    /// Whether this is a legacy RFC 1423 encrypted block (`Proc-Type: 4,ENCRYPTED`).
    pub fn is_legacy_encrypted(&self) -> bool {
        self.header(PROC_TYPE_HEADER)
            .is_some_and(|v| v.split(',').nth(1).is_some_and(|t| t.trim() == "ENCRYPTED"))
    }

    /// Encodes the block exactly as Go's `pem.Encode` does.
    ///
    /// # Errors
    ///
    /// [`PemEncodeError`] if a header name contains `:` or a header name or value contains a
    /// line break, which would produce a block that cannot be read back.
    pub fn encode(&self) -> Result<String, PemEncodeError> {
        for (name, value) in &self.headers {
            if name.contains([':', '\n', '\r']) || value.contains(['\n', '\r']) || name.is_empty() {
                return Err(PemEncodeError {
                    label: self.label.clone(),
                    header: name.clone(),
                });
            }
        }
        let body = STANDARD.encode(self.contents.as_slice());
        let mut out = String::with_capacity(body.len() + body.len() / LINE_WIDTH + 128);
        out.push_str(BEGIN);
        out.push_str(&self.label);
        out.push_str("-----\n");
        if let Some(proc_type) = self.headers.get(PROC_TYPE_HEADER) {
            push_header(&mut out, PROC_TYPE_HEADER, proc_type);
        }
        for (name, value) in &self.headers {
            if name != PROC_TYPE_HEADER {
                push_header(&mut out, name, value);
            }
        }
        if !self.headers.is_empty() {
            out.push('\n');
        }
        push_body(&mut out, &self.label, &body);
        Ok(out)
    }
}

/// Encodes `der` as one header-less PEM block, as Go's `pem.Encode` does (64-character lines,
/// trailing newline). Unlike [`PemBlock::encode`] this cannot fail.
pub fn encode_plain(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut out = String::with_capacity(body.len() + body.len() / LINE_WIDTH + 64);
    out.push_str(BEGIN);
    out.push_str(label);
    out.push_str("-----\n");
    push_body(&mut out, label, &body);
    out
}

/// Appends the base64 body in 64-character lines and the `END` line.
fn push_body(out: &mut String, label: &str, body: &str) {
    let mut rest = body;
    while !rest.is_empty() {
        let (line, tail) = rest.split_at(rest.len().min(LINE_WIDTH));
        out.push_str(line);
        out.push('\n');
        rest = tail;
    }
    out.push_str(END);
    out.push_str(label);
    out.push_str("-----\n");
}

fn push_header(out: &mut String, name: &str, value: &str) {
    out.push_str(name);
    out.push_str(": ");
    out.push_str(value);
    out.push('\n');
}

/// Decodes every well-formed PEM block in `text`, in order. Text around blocks is ignored and
/// malformed blocks are skipped.
pub fn decode_all(text: &str) -> Vec<PemBlock> {
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some((block, after)) = decode_next(rest) {
        blocks.extend(block);
        rest = after;
    }
    blocks
}

/// [`decode_all`] for bytes that may not be UTF-8 (invalid sequences become U+FFFD, which can
/// only spoil the block they stand in).
pub fn decode_all_lossy(bytes: &[u8]) -> Vec<PemBlock> {
    decode_all(&String::from_utf8_lossy(bytes))
}

/// Decodes the first well-formed PEM block in `text`.
pub fn decode_first(text: &str) -> Option<PemBlock> {
    let mut rest = text;
    while let Some((block, after)) = decode_next(rest) {
        if block.is_some() {
            return block;
        }
        rest = after;
    }
    None
}

/// Byte offset of the first occurrence of `needle` at the start of a line in `text`.
fn find_line_start(text: &str, needle: &str) -> Option<usize> {
    if text.starts_with(needle) {
        return Some(0);
    }
    let pattern = format!("\n{needle}");
    text.find(&pattern).map(|i| i + 1)
}

/// Splits off the first line (without its terminator, trailing spaces, tabs and `\r` trimmed).
fn next_line(text: &str) -> (&str, &str) {
    let (line, rest) = match text.find('\n') {
        Some(i) => (&text[..i], &text[i + 1..]),
        None => (text, ""),
    };
    (line.trim_end_matches([' ', '\t', '\r']), rest)
}

/// Decodes the next block. Returns `None` when no further `BEGIN` line exists, otherwise the
/// block (or `None` for a malformed block that was skipped) and the text after it.
fn decode_next(text: &str) -> Option<(Option<PemBlock>, &str)> {
    let start = find_line_start(text, BEGIN)?;
    let (type_line, mut rest) = next_line(&text[start + BEGIN.len()..]);
    let after_begin = rest;
    let Some(label) = type_line.strip_suffix(DASHES) else {
        return Some((None, after_begin));
    };

    let mut headers = BTreeMap::new();
    loop {
        let (line, tail) = next_line(rest);
        let Some((name, value)) = line.split_once(':') else {
            break;
        };
        headers.insert(name.trim().to_owned(), value.trim().to_owned());
        rest = tail;
        if rest.is_empty() {
            break;
        }
    }

    let end_marker = format!("{END}{label}{DASHES}");
    let Some(end_pos) = find_line_start(rest, &end_marker) else {
        return Some((None, after_begin));
    };
    let body: Zeroizing<String> = Zeroizing::new(
        rest[..end_pos]
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect(),
    );
    let (_, after_end) = next_line(&rest[end_pos..]);
    match STANDARD.decode(body.as_bytes()) {
        Ok(contents) => Some((
            Some(PemBlock {
                label: label.to_owned(),
                headers,
                contents: Zeroizing::new(contents),
            }),
            after_end,
        )),
        Err(_) => Some((None, after_begin)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_matches_go_layout() {
        let mut block = PemBlock::new(ENCRYPTED_PRIVATE_KEY, vec![7u8; 60]);
        block.set_header(ROLE_HEADER, "targets");
        block.set_header(GUN_HEADER, "example.com/org/app");
        let text = block.encode().unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "-----BEGIN ENCRYPTED PRIVATE KEY-----");
        assert_eq!(lines[1], "gun: example.com/org/app");
        assert_eq!(lines[2], "role: targets");
        assert_eq!(lines[3], "");
        assert_eq!(lines[4].len(), 64);
        assert_eq!(lines[5].len(), 16);
        assert_eq!(lines[6], "-----END ENCRYPTED PRIVATE KEY-----");
        assert!(text.ends_with("-----\n"));
    }

    #[test]
    fn proc_type_is_written_first() {
        let mut block = PemBlock::new(EC_PRIVATE_KEY, vec![1, 2, 3]);
        block.set_header(ROLE_HEADER, "root");
        block.set_header(DEK_INFO_HEADER, "AES-256-CBC,00");
        block.set_header(PROC_TYPE_HEADER, "4,ENCRYPTED");
        block.set_header(GUN_HEADER, "a/b");
        let text = block.encode().unwrap();
        let headers: Vec<&str> = text.lines().skip(1).take(4).collect();
        assert_eq!(
            headers,
            [
                "Proc-Type: 4,ENCRYPTED",
                "DEK-Info: AES-256-CBC,00",
                "gun: a/b",
                "role: root"
            ]
        );
        assert!(block.is_legacy_encrypted());
    }

    #[test]
    fn round_trip_with_and_without_headers() {
        let mut block = PemBlock::new(PRIVATE_KEY, (0..=255u8).collect());
        assert_eq!(decode_first(&block.encode().unwrap()), Some(block.clone()));
        block.set_header(PATH_HEADER, "abc");
        block.set_header(GUN_HEADER, "registry:5000/x");
        assert_eq!(decode_first(&block.encode().unwrap()), Some(block));
    }

    #[test]
    fn reads_crlf_and_surrounding_text_and_skips_broken_blocks() {
        let text = "junk\r\n-----BEGIN X-----\r\n!!!!\r\n-----END X-----\r\n\
                    -----BEGIN Y-----\r\nrole:  root \r\n\r\nAQID\r\n-----END Y-----\r\ntrailer";
        let blocks = decode_all(text);
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].label, "Y");
        assert_eq!(blocks[0].header(ROLE_HEADER), Some("root"));
        assert_eq!(blocks[0].contents.as_slice(), &[1, 2, 3]);
    }

    #[test]
    fn rejects_unencodable_headers() {
        let mut block = PemBlock::new(PRIVATE_KEY, vec![1]);
        block.set_header(ROLE_HEADER, "a\nb");
        let err = block.encode().unwrap_err();
        assert_eq!(err.header, ROLE_HEADER);
        assert_eq!(
            err.to_string(),
            "invalid PEM in PRIVATE KEY block: header \"role\" cannot be encoded"
        );
    }

    #[test]
    fn missing_end_line_yields_nothing() {
        assert_eq!(decode_first("-----BEGIN X-----\nAQID\n"), None);
        assert_eq!(decode_first("no pem here"), None);
    }

    #[test]
    fn plain_blocks_round_trip_and_wrap_at_64() {
        let der: Vec<u8> = (0..=255u8).collect();
        let pem = encode_plain(CERTIFICATE, &der);
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----\n"));
        assert!(pem.ends_with("-----END CERTIFICATE-----\n"));
        assert!(pem.lines().all(|l| l.len() <= 64));
        let blocks = decode_all_lossy(pem.as_bytes());
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].contents.as_slice(), der.as_slice());
        assert_eq!(blocks[0].label, CERTIFICATE);
        assert!(blocks[0].headers.is_empty());
        assert_eq!(
            PemBlock::new(CERTIFICATE, der).encode().unwrap(),
            pem,
            "a block without headers encodes the same either way"
        );
    }

    #[test]
    fn reads_several_blocks_with_junk_and_crlf() {
        let text = "junk\r\n-----BEGIN A-----\r\nAQI=\r\n-----END A-----\r\nmid\n-----BEGIN B-----\nProc-Type: 4,ENCRYPTED\n\nAw==\n-----END B-----";
        let blocks = decode_all_lossy(text.as_bytes());
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0].contents.as_slice(), &[1, 2]);
        assert_eq!(blocks[1].label, "B");
        assert!(!blocks[1].headers.is_empty());
        assert_eq!(blocks[1].contents.as_slice(), &[3]);
    }

    #[test]
    fn skips_malformed_blocks() {
        let text = "-----BEGIN A-----\n!!!\n-----END A-----\n-----BEGIN B-----\nAQ==\n-----END B-----\n-----BEGIN C-----\nno end";
        let blocks = decode_all(text);
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].label, "B");
    }

    #[test]
    fn debug_hides_contents() {
        let block = PemBlock::new(PRIVATE_KEY, vec![0xAB; 4]);
        let shown = format!("{block:?}");
        assert!(shown.contains("contents_len: 4"));
        assert!(!shown.contains("171"));
    }
}
