//! Canonical JSON exactly as Notary writes it.
//!
//! Notary signs the output of the canonical mode of `github.com/docker/go/canonical/json`
//! (a fork of Go 1.5's `encoding/json`). Its rules, reproduced here:
//!
//! * object keys sorted by byte order, no insignificant whitespace;
//! * in strings only `"` and `\` are escaped (`\"`, `\\`); **every other byte is written raw**,
//!   including `<`, `>`, `&`, U+2028/U+2029, non-ASCII UTF-8 and even ASCII control characters
//!   (so the output is not always valid JSON);
//! * strings are **not** Unicode-normalised;
//! * numbers are integers only: a float that is a whole number is written as an integer, a
//!   fractional float is an error.
//!
//! The `olpc-cjson` crate is not used because its formatter rewrites every string to Unicode
//! NFC. Go notary does not normalise, so a target name or `custom` value that is not in NFC
//! would be hashed over different bytes than the ones that were signed, and a Go-signed
//! document would fail to verify.
//!
//! [`go_html_escape`] turns canonical bytes into the form found inside metadata *files*: Go
//! embeds the canonical `signed` value with `json.Compact` plus HTML escaping.
//!
//! One deliberate difference from Go's verifier: Go decodes `signed` into `float64` before
//! re-encoding, so integers above 2^53 lose precision and such documents never verify in Go.
//! This module keeps integers exact; documents Go can verify give identical bytes.

use serde_json::{Number, Value};

use crate::error::{Error, Result};

/// Serialises `value` as Notary canonical JSON.
///
/// # Errors
///
/// [`Error::NonIntegerNumber`] for fractional floats and floats outside the `i64` range.
pub fn to_canonical(value: &Value) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(256);
    write_value(&mut out, value)?;
    Ok(out)
}

/// Parses `json` and serialises it as Notary canonical JSON.
///
/// # Errors
///
/// [`Error::Json`] when the input is not JSON, and every error of [`to_canonical`].
pub fn canonicalize(json: &[u8]) -> Result<Vec<u8>> {
    let value: Value =
        serde_json::from_slice(json).map_err(|e| Error::json("canonical JSON input", e))?;
    to_canonical(&value)
}

/// Writes `value` as canonical JSON to the end of `out`.
///
/// # Errors
///
/// As [`to_canonical`].
pub fn write_canonical(out: &mut Vec<u8>, value: &Value) -> Result<()> {
    write_value(out, value)
}

fn write_value(out: &mut Vec<u8>, value: &Value) -> Result<()> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_number(out, n)?,
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            // Sort explicitly: serde_json's map may preserve insertion order when another crate
            // in the build enables its `preserve_order` feature.
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(out, k);
                out.push(b':');
                write_value(out, v)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

/// Writes `s` as a canonical JSON string: only `"` and `\` are escaped.
pub(crate) fn write_string(out: &mut Vec<u8>, s: &str) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'"' || b == b'\\' {
            out.extend_from_slice(&bytes[start..i]);
            out.push(b'\\');
            out.push(b);
            start = i + 1;
        }
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

fn write_number(out: &mut Vec<u8>, n: &Number) -> Result<()> {
    if let Some(u) = n.as_u64() {
        out.extend_from_slice(u.to_string().as_bytes());
    } else if let Some(i) = n.as_i64() {
        out.extend_from_slice(i.to_string().as_bytes());
    } else {
        let f = n.as_f64().unwrap_or(f64::NAN);
        // 2^63 is exactly representable; the i64 range is [-2^63, 2^63).
        const LIMIT: f64 = 9_223_372_036_854_775_808.0;
        if !f.is_finite() || f.fract() != 0.0 || !(-LIMIT..LIMIT).contains(&f) {
            return Err(Error::NonIntegerNumber {
                number: n.to_string(),
            });
        }
        #[allow(clippy::cast_possible_truncation)] // integral and range-checked above
        let i = f as i64;
        out.extend_from_slice(i.to_string().as_bytes());
    }
    Ok(())
}

/// Applies Go's `json.Compact` HTML escaping to canonical bytes, giving the form in which Go
/// embeds the `signed` value inside a metadata file.
///
/// `<`, `>` and `&` become `\u003c`, `\u003e` and `\u0026`; U+2028 and U+2029 become `\u2028`
/// and `\u2029`. Like Go, the replacement is byte-level and applies wherever the bytes occur
/// (in valid JSON they can only occur inside strings). Everything else is copied unchanged.
pub fn go_html_escape(canonical: &[u8]) -> Vec<u8> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
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
    use serde_json::json;

    fn canon(v: Value) -> String {
        String::from_utf8(to_canonical(&v).unwrap()).unwrap()
    }

    #[test]
    fn sorts_keys_by_bytes_and_drops_whitespace() {
        let v = json!({"b": 1, "a": [1, 2, {"z": null, "Z": true}], "é": false, "B": "x"});
        assert_eq!(
            canon(v),
            r#"{"B":"x","a":[1,2,{"Z":true,"z":null}],"b":1,"é":false}"#
        );
        let parsed = canonicalize(b" { \"y\" : 1 ,\n \"x\" : { } , \"w\": [ ] } ").unwrap();
        assert_eq!(parsed, br#"{"w":[],"x":{},"y":1}"#);
    }

    #[test]
    fn escapes_only_quote_and_backslash() {
        let v = json!("a\"b\\c<d>e&f/g\u{2028}h\u{7f}");
        assert_eq!(canon(v), "\"a\\\"b\\\\c<d>e&f/g\u{2028}h\u{7f}\"");
    }

    #[test]
    fn control_characters_are_raw() {
        let out = canonicalize(br#"{"k":"\u0001\n\t\u001f"}"#).unwrap();
        assert_eq!(out, b"{\"k\":\"\x01\n\t\x1f\"}");
    }

    #[test]
    fn non_nfc_strings_are_preserved() {
        // "e" + combining acute accent (NFD) must not become U+00E9.
        let nfd = "e\u{301}";
        let out = to_canonical(&json!({ nfd: nfd })).unwrap();
        let expected = format!("{{\"{nfd}\":\"{nfd}\"}}");
        assert_eq!(out, expected.as_bytes());
        assert!(!out.windows(2).any(|w| w == "é".as_bytes()));
    }

    #[test]
    fn whole_floats_become_integers() {
        assert_eq!(
            canonicalize(b"[1.0,-2.0,1e2,-0.0,0]").unwrap(),
            b"[1,-2,100,0,0]"
        );
        assert_eq!(
            canonicalize(b"[18446744073709551615,-9223372036854775808]").unwrap(),
            b"[18446744073709551615,-9223372036854775808]"
        );
    }

    #[test]
    fn fractional_and_huge_floats_are_errors() {
        for bad in [&b"1.5"[..], b"[0.1]", b"{\"a\":1e300}", b"-1e19"] {
            let err = canonicalize(bad).unwrap_err();
            assert!(
                matches!(err, Error::NonIntegerNumber { .. }),
                "{bad:?}: {err}"
            );
        }
    }

    #[test]
    fn invalid_json_is_an_error() {
        assert!(matches!(canonicalize(b"{"), Err(Error::Json { .. })));
    }

    #[test]
    fn html_escape_matches_go() {
        let canonical = "{\"a&b\":\"<x>\u{2028}\u{2029}\u{2027}é\"}".as_bytes();
        let escaped = go_html_escape(canonical);
        assert_eq!(
            String::from_utf8(escaped).unwrap(),
            "{\"a\\u0026b\":\"\\u003cx\\u003e\\u2028\\u2029\u{2027}é\"}"
        );
        assert_eq!(go_html_escape(b"{\"a\":1}"), b"{\"a\":1}");
        // A truncated E2 80 sequence at the end is copied unchanged.
        assert_eq!(go_html_escape(&[b'"', 0xE2, 0x80]), vec![b'"', 0xE2, 0x80]);
    }
}
