//! Minimal PEM reading and writing with Go's `encoding/pem` behaviour.
//!
//! Reading follows `pem.Decode`: a block starts with `-----BEGIN <label>-----` at the start of a
//! line and ends with the matching `-----END <label>-----`; optional `Key: Value` headers are
//! recognised; whitespace inside the base64 body is ignored; a block whose body does not decode
//! is skipped. Writing follows `pem.Encode`: 64-character lines and a trailing newline.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// One decoded PEM block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PemBlock {
    /// The label between `BEGIN ` and `-----`, for example `CERTIFICATE`.
    pub(crate) label: String,
    /// Whether the block carried `Key: Value` headers.
    pub(crate) has_headers: bool,
    /// The decoded body.
    pub(crate) der: Vec<u8>,
}

const BEGIN: &str = "-----BEGIN ";
const DASHES: &str = "-----";

/// Decodes every well-formed PEM block in `text`, in order. Text between blocks is ignored.
pub(crate) fn decode_all(text: &[u8]) -> Vec<PemBlock> {
    let text = String::from_utf8_lossy(text);
    let mut blocks = Vec::new();
    let mut rest: &str = &text;
    while let Some((block, after)) = decode_next(rest) {
        if let Some(block) = block {
            blocks.push(block);
        }
        rest = after;
    }
    blocks
}

/// Finds the next `BEGIN` line in `text`. Returns the decoded block (or `None` when that block
/// was malformed and skipped) and the remaining text; `None` when no further block starts.
fn decode_next(text: &str) -> Option<(Option<PemBlock>, &str)> {
    let start = find_line_start(text, BEGIN)?;
    let after_begin = &text[start + BEGIN.len()..];
    let line_end = after_begin.find('\n').unwrap_or(after_begin.len());
    let line = after_begin[..line_end].trim_end();
    let rest_after_line = after_begin.get(line_end + 1..).unwrap_or("");
    let Some(label) = line.strip_suffix(DASHES) else {
        return Some((None, rest_after_line));
    };
    let end_marker = format!("-----END {label}-----");
    let Some(end_pos) = find_line_start(rest_after_line, &end_marker) else {
        return Some((None, rest_after_line));
    };
    let body = &rest_after_line[..end_pos];
    let after_end = &rest_after_line[end_pos + end_marker.len()..];
    let after_end = match after_end.find('\n') {
        Some(i) => &after_end[i + 1..],
        None => "",
    };

    let mut has_headers = false;
    let mut lines = body.lines().peekable();
    if lines.peek().is_some_and(|l| l.contains(':')) {
        has_headers = true;
        for l in lines.by_ref() {
            if l.trim().is_empty() {
                break;
            }
        }
    }
    let b64: String = lines
        .flat_map(str::chars)
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    match STANDARD.decode(b64.as_bytes()) {
        Ok(der) => Some((
            Some(PemBlock {
                label: label.to_owned(),
                has_headers,
                der,
            }),
            after_end,
        )),
        Err(_) => Some((None, after_end)),
    }
}

/// Byte offset of the first occurrence of `needle` that starts a line.
fn find_line_start(text: &str, needle: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(rel) = text[from..].find(needle) {
        let pos = from + rel;
        if pos == 0 || text.as_bytes()[pos - 1] == b'\n' {
            return Some(pos);
        }
        from = pos + 1;
    }
    None
}

/// Encodes `der` as one PEM block with 64-character lines and a trailing newline.
pub(crate) fn encode(label: &str, der: &[u8], out: &mut String) {
    out.push_str(BEGIN);
    out.push_str(label);
    out.push_str("-----\n");
    let b64 = STANDARD.encode(der);
    for chunk in b64.as_bytes().chunks(64) {
        // base64 output is ASCII, so every chunk is valid UTF-8.
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_wraps_at_64() {
        let der: Vec<u8> = (0..=255u8).collect();
        let mut pem = String::new();
        encode("CERTIFICATE", &der, &mut pem);
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----\n"));
        assert!(pem.ends_with("-----END CERTIFICATE-----\n"));
        assert!(pem.lines().all(|l| l.len() <= 64));
        let blocks = decode_all(pem.as_bytes());
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].der, der);
        assert_eq!(blocks[0].label, "CERTIFICATE");
        assert!(!blocks[0].has_headers);
    }

    #[test]
    fn reads_several_blocks_with_junk_and_crlf() {
        let text = "junk\r\n-----BEGIN A-----\r\nAQI=\r\n-----END A-----\r\nmid\n-----BEGIN B-----\nProc-Type: 4,ENCRYPTED\n\nAw==\n-----END B-----";
        let blocks = decode_all(text.as_bytes());
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0].der, vec![1, 2]);
        assert_eq!(blocks[1].label, "B");
        assert!(blocks[1].has_headers);
        assert_eq!(blocks[1].der, vec![3]);
    }

    #[test]
    fn skips_malformed_blocks() {
        let text = "-----BEGIN A-----\n!!!\n-----END A-----\n-----BEGIN B-----\nAQ==\n-----END B-----\n-----BEGIN C-----\nno end";
        let blocks = decode_all(text.as_bytes());
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].label, "B");
    }
}
