//! Output of Go's standard `encoding/json` (`json.Marshal`), for files Go notary reads and
//! writes with it (changelist entries and their payloads), and the HTML escaping with which Go
//! embeds canonical `signed` bytes in a metadata file ([`html_escape`]).
//!
//! Go writes struct fields in declaration order, map keys sorted, `[]byte` as padded standard
//! base64, and escapes strings for HTML: `<`, `>`, `&`, U+2028 and U+2029 become `\u003c`,
//! `\u003e`, `\u0026`, `\u2028`, `\u2029`; control characters use `\n`, `\r`, `\t`, `\b`, `\f`
//! or `\u00XX`. A `json.RawMessage` is compacted (whitespace outside strings dropped) with the
//! same HTML escaping, but its keys are not reordered.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use crate::key::{KeyType, PublicKey};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `s` as a Go-escaped JSON string.
pub fn write_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            '<' | '>' | '&' | '\u{0}'..='\u{1f}' => {
                let b = c as u32;
                out.extend_from_slice(b"\\u00");
                out.push(HEX[((b >> 4) & 0xF) as usize]);
                out.push(HEX[(b & 0xF) as usize]);
            }
            '\u{2028}' => out.extend_from_slice(b"\\u2028"),
            '\u{2029}' => out.extend_from_slice(b"\\u2029"),
            _ => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}

/// Appends `bytes` as a base64 JSON string (Go's encoding of `[]byte`).
pub fn write_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    out.extend_from_slice(STANDARD.encode(bytes).as_bytes());
    out.push(b'"');
}

/// Appends a list of strings.
pub fn write_string_list(out: &mut Vec<u8>, items: &[String]) {
    out.push(b'[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_string(out, item);
    }
    out.push(b']');
}

/// Appends a TUF public key as Go's `data.TUFKey` marshals it:
/// `{"keytype":T,"keyval":{"public":"<b64>","private":null}}`.
pub fn write_key(out: &mut Vec<u8>, key: &PublicKey) {
    out.extend_from_slice(b"{\"keytype\":");
    write_string(out, key.keytype().as_str());
    out.extend_from_slice(b",\"keyval\":{\"public\":");
    write_bytes(out, key.public());
    out.extend_from_slice(b",\"private\":null}}");
}

/// Reads a TUF public key from its JSON object (field order free; `private` ignored).
///
/// # Errors
///
/// A message naming the missing or malformed field.
pub fn parse_key(value: &Value) -> Result<PublicKey, String> {
    let keytype = value
        .get("keytype")
        .and_then(Value::as_str)
        .ok_or("key has no \"keytype\" string")?;
    let public = value
        .get("keyval")
        .and_then(|v| v.get("public"))
        .and_then(Value::as_str)
        .ok_or("key has no \"keyval.public\" string")?;
    let public = STANDARD
        .decode(public)
        .map_err(|e| format!("key's public value is not base64: {e}"))?;
    Ok(PublicKey::new(KeyType::parse(keytype), public))
}

/// Go's `json.Compact` with HTML escaping, as applied when marshalling a `json.RawMessage`.
/// The input must be valid JSON.
pub fn compact_raw(raw: &[u8]) -> Vec<u8> {
    let mut compact = Vec::with_capacity(raw.len());
    let mut in_string = false;
    let mut escaped = false;
    for &b in raw {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if b == b'"' {
            in_string = true;
        } else if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            continue;
        }
        compact.push(b);
    }
    html_escape(&compact)
}

/// Applies Go's `json.Compact` HTML escaping to canonical bytes, giving the form in which Go
/// embeds the `signed` value inside a metadata file.
///
/// `<`, `>` and `&` become `\u003c`, `\u003e` and `\u0026`; U+2028 and U+2029 become `\u2028`
/// and `\u2029`. Like Go, the replacement is byte-level and applies wherever the bytes occur
/// (in valid JSON they can only occur inside strings). Everything else is copied unchanged.
pub fn html_escape(canonical: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(canonical.len() + canonical.len() / 64);
    let mut i = 0;
    while i < canonical.len() {
        let c = canonical[i];
        match c {
            b'<' | b'>' | b'&' => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(c >> 4)]);
                out.push(HEX[usize::from(c & 0xF)]);
            }
            0xE2 if canonical.get(i + 1) == Some(&0x80)
                && canonical.get(i + 2).is_some_and(|b| b & !1 == 0xA8) =>
            {
                out.extend_from_slice(b"\\u202");
                out.push(HEX[usize::from(canonical[i + 2] & 0xF)]);
                i += 3;
                continue;
            }
            _ => out.push(c),
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> String {
        let mut out = Vec::new();
        write_string(&mut out, text);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn strings_are_escaped_like_go() {
        assert_eq!(s("plain/é"), "\"plain/é\"");
        assert_eq!(s("a<b>&c"), r#""a\u003cb\u003e\u0026c""#);
        assert_eq!(s("q\"b\\"), r#""q\"b\\""#);
        assert_eq!(
            s("\n\r\t\u{8}\u{c}\u{1}\u{1f}"),
            r#""\n\r\t\b\f\u0001\u001f""#
        );
        assert_eq!(s("\u{2028}\u{2029}"), r#""\u2028\u2029""#);
        // Whatever Go writes, serde reads back the same string.
        let text = "x<\u{1}>\u{2028}&\"\\";
        let back: String = serde_json::from_str(&s(text)).unwrap();
        assert_eq!(back, text);
    }

    #[test]
    fn raw_messages_are_compacted_not_sorted() {
        let raw = b"{ \"b\" : 1,\n \"a\" : \"x < y & \\\" z \" , \"c\": [ 1 , 2 ] }";
        assert_eq!(
            String::from_utf8(compact_raw(raw)).unwrap(),
            r#"{"b":1,"a":"x \u003c y \u0026 \" z ","c":[1,2]}"#
        );
        assert_eq!(
            compact_raw("\"\u{2028}\"".as_bytes()),
            br#""\u2028""#.to_vec()
        );
    }

    #[test]
    fn keys_round_trip() {
        let key = PublicKey::new(KeyType::Ecdsa, vec![1, 2, 3]);
        let mut out = Vec::new();
        write_key(&mut out, &key);
        assert_eq!(
            String::from_utf8(out.clone()).unwrap(),
            r#"{"keytype":"ecdsa","keyval":{"public":"AQID","private":null}}"#
        );
        let value: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(parse_key(&value).unwrap(), key);
        assert!(parse_key(&serde_json::json!({"keytype": "ecdsa"})).is_err());
    }

    #[test]
    fn html_escape_matches_go() {
        let canonical = "{\"a&b\":\"<x>\u{2028}\u{2029}\u{2027}é\"}".as_bytes();
        let escaped = html_escape(canonical);
        assert_eq!(
            String::from_utf8(escaped).unwrap(),
            "{\"a\\u0026b\":\"\\u003cx\\u003e\\u2028\\u2029\u{2027}é\"}"
        );
        assert_eq!(html_escape(b"{\"a\":1}"), b"{\"a\":1}");
        // A truncated E2 80 sequence at the end is copied unchanged.
        assert_eq!(html_escape(&[b'"', 0xE2, 0x80]), vec![b'"', 0xE2, 0x80]);
    }
}
