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
//! It also orders keys by their serialized form (quotes and escapes included), where Go orders
//! raw bytes. Wherever neither
//! difference applies, `tests/cjson_reference.rs` checks that both give the same bytes.
//!
//! [`crate::notary::gojson::html_escape`] turns canonical bytes into the form found inside metadata *files*: Go
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

/// Canonicalises JSON text in a single pass, without building a [`Value`] tree.
///
/// Gives exactly the bytes of [`canonicalize`] (objects whose keys are already in order are
/// written in place, others are rewritten sorted one level at a time; a duplicate key keeps its
/// last value, as a parsed [`Value`] does) at a fraction of the allocations and copies, which
/// matters for targets files with many entries.
///
/// # Errors
///
/// As [`canonicalize`].
pub fn canonicalize_str(json: &str) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(json.len());
    let mut bad = Vec::new();
    let mut de = serde_json::Deserializer::from_str(json);
    serde::de::DeserializeSeed::deserialize(
        Canon {
            out: &mut out,
            bad: &mut bad,
        },
        &mut de,
    )
    .and_then(|()| de.end())
    .map_err(|e| Error::json("canonical JSON input", e))?;
    // The first number that cannot be written, in output order, as `to_canonical` reports.
    match bad.into_iter().next() {
        Some(number) => Err(Error::NonIntegerNumber { number }),
        None => Ok(out),
    }
}

/// Serialises `doc` as Notary canonical JSON without an intermediate [`Value`] tree.
///
/// # Errors
///
/// [`Error::Json`] if the document cannot be serialised and [`Error::NonIntegerNumber`] if it
/// holds a fractional number.
pub fn to_canonical_from<T: serde::Serialize + ?Sized>(doc: &T) -> Result<Vec<u8>> {
    let text = serde_json::to_string(doc).map_err(|e| Error::json("signed document", e))?;
    canonicalize_str(&text)
}

/// A `DeserializeSeed` that writes the canonical form of whatever it is fed to `out`.
///
/// A number canonical JSON cannot hold is not an error straight away: it is noted in `bad`
/// (in output order) and the document read on, because a later duplicate key can replace the
/// value that holds it, as in a parsed [`Value`]. Only numbers that survive make the result an
/// error.
struct Canon<'o> {
    out: &'o mut Vec<u8>,
    bad: &'o mut Vec<String>,
}

impl<'de> serde::de::DeserializeSeed<'de> for Canon<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl Canon<'_> {
    fn number<E: serde::de::Error>(self, n: &Number) -> Result<(), E> {
        match write_number(self.out, n) {
            Ok(()) => Ok(()),
            Err(Error::NonIntegerNumber { number }) => {
                self.bad.push(number);
                Ok(())
            }
            Err(other) => Err(E::custom(other)),
        }
    }
}

/// An object key, borrowed from the input when it holds no escapes.
struct Key<'de>(std::borrow::Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> serde::de::Visitor<'de> for Canon<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<(), E> {
        self.visit_unit()
    }

    fn visit_bool<E>(self, v: bool) -> Result<(), E> {
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<(), E> {
        self.number(&Number::from(v))
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<(), E> {
        self.number(&Number::from(v))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<(), E> {
        match Number::from_f64(v) {
            Some(n) => self.number(&n),
            // Not reachable from JSON text (no NaN or infinity literals); mirrors Value::Null.
            None => self.visit_unit(),
        }
    }

    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        write_string(self.out, v);
        Ok(())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.out.push(b'[');
        let mut first = true;
        loop {
            let mark = self.out.len();
            if !first {
                self.out.push(b',');
            }
            let element = Canon {
                out: self.out,
                bad: self.bad,
            };
            if seq.next_element_seed(element)?.is_none() {
                self.out.truncate(mark);
                break;
            }
            first = false;
        }
        self.out.push(b']');
        Ok(())
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        // Entries are written straight to `out` in input order. Input that is already
        // canonical (sorted, no duplicate keys: every file Notary writes) is then done, without
        // a copy; otherwise the object is moved aside and written again in sorted order.
        let base = self.out.len();
        let bad_base = self.bad.len();
        self.out.push(b'{');
        // Key, value bytes (relative to `base`), bad numbers of the value (from `bad_base`).
        let mut entries: Vec<(Key<'de>, usize, usize, usize, usize)> = Vec::new();
        let mut sorted = true;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            if let Some((last, ..)) = entries.last() {
                sorted &= last.0.as_bytes() < key.0.as_bytes();
                self.out.push(b',');
            }
            write_string(self.out, &key.0);
            self.out.push(b':');
            let start = self.out.len();
            let bad_start = self.bad.len();
            map.next_value_seed(Canon {
                out: self.out,
                bad: self.bad,
            })?;
            entries.push((
                key,
                start - base,
                self.out.len() - base,
                bad_start - bad_base,
                self.bad.len() - bad_base,
            ));
        }
        if sorted {
            self.out.push(b'}');
            return Ok(());
        }
        let written = self.out.split_off(base);
        let noted = self.bad.split_off(bad_base);
        // Stable: equal keys stay in input order, so the last one of a run is the last written.
        entries.sort_by(|a, b| a.0.0.as_bytes().cmp(b.0.0.as_bytes()));
        self.out.push(b'{');
        let mut first = true;
        for (i, (key, start, end, bad_start, bad_end)) in entries.iter().enumerate() {
            if entries.get(i + 1).is_some_and(|next| next.0.0 == key.0) {
                // Replaced by a later duplicate: neither its bytes nor its bad numbers count.
                continue;
            }
            if !first {
                self.out.push(b',');
            }
            first = false;
            write_string(self.out, &key.0);
            self.out.push(b':');
            self.out.extend_from_slice(&written[*start..*end]);
            self.bad.extend_from_slice(&noted[*bad_start..*bad_end]);
        }
        self.out.push(b'}');
        Ok(())
    }
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
        write_integer(out, u, false);
    } else if let Some(i) = n.as_i64() {
        write_integer(out, i.unsigned_abs(), i < 0);
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
        write_integer(out, i.unsigned_abs(), i < 0);
    }
    Ok(())
}

/// Writes an integer in decimal without allocating (`-0` cannot occur: zero is never negative).
fn write_integer(out: &mut Vec<u8>, magnitude: u64, negative: bool) {
    let mut digits = [0_u8; 20];
    let mut at = digits.len();
    let mut rest = magnitude;
    loop {
        at -= 1;
        // `rest % 10` is a single digit.
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if negative {
        out.push(b'-');
    }
    out.extend_from_slice(&digits[at..]);
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

    /// A small deterministic generator of JSON texts: nested objects and arrays, escaped and
    /// non-ASCII strings, duplicate keys, whole floats and exponents, odd whitespace.
    struct Gen(u64);

    impl Gen {
        fn next(&mut self, n: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (self.0 >> 33) % n
        }

        fn ws(&mut self, out: &mut String) {
            out.push_str([" ", "", "\n\t ", "\r", ""][self.next(5) as usize]);
        }

        fn string(&mut self, out: &mut String) {
            const PARTS: [&str; 12] = [
                "a",
                "B",
                "\\\"",
                "\\\\",
                "\\u00e9",
                "é",
                "e\u{301}",
                "<&>",
                "\\ud83d\\ude00",
                "\\n",
                "\u{2028}",
                "\\/",
            ];
            out.push('"');
            for _ in 0..self.next(4) {
                out.push_str(PARTS[self.next(PARTS.len() as u64) as usize]);
            }
            out.push('"');
        }

        fn value(&mut self, out: &mut String, depth: u32) {
            self.ws(out);
            let kind = if depth > 4 {
                self.next(6)
            } else {
                self.next(8)
            };
            match kind {
                0 => out.push_str("null"),
                1 => out.push_str(["true", "false"][self.next(2) as usize]),
                2 => out.push_str(
                    [
                        "0",
                        "-0",
                        "17",
                        "-9223372036854775808",
                        "18446744073709551615",
                        "1.0",
                        "1e2",
                        "-2.0E1",
                        "0.0",
                    ][self.next(9) as usize],
                ),
                3..=5 => self.string(out),
                6 => {
                    out.push('[');
                    for i in 0..self.next(4) {
                        if i > 0 {
                            out.push(',');
                        }
                        self.value(out, depth + 1);
                    }
                    self.ws(out);
                    out.push(']');
                }
                _ => {
                    out.push('{');
                    for i in 0..self.next(6) {
                        if i > 0 {
                            out.push(',');
                        }
                        self.ws(out);
                        // Few distinct keys, so duplicates are common.
                        if self.next(3) == 0 {
                            self.string(out);
                        } else {
                            out.push_str(
                                ["\"k\"", "\"a\"", "\"_type\"", "\"\\u006b\""]
                                    [self.next(4) as usize],
                            );
                        }
                        self.ws(out);
                        out.push(':');
                        self.value(out, depth + 1);
                    }
                    self.ws(out);
                    out.push('}');
                }
            }
            self.ws(out);
        }
    }

    #[test]
    fn streaming_matches_value_path_on_generated_documents() {
        let mut g = Gen(0x5eed);
        let mut compared = 0;
        for _ in 0..5000 {
            let mut text = String::new();
            g.value(&mut text, 0);
            let expected = canonicalize(text.as_bytes());
            let streamed = canonicalize_str(&text);
            match (expected, streamed) {
                (Ok(a), Ok(b)) => {
                    assert_eq!(a, b, "input: {text}");
                    compared += 1;
                }
                (Err(a), Err(b)) => assert_eq!(
                    std::mem::discriminant(&a),
                    std::mem::discriminant(&b),
                    "input: {text}: {a} vs {b}"
                ),
                (a, b) => panic!("input {text}: {a:?} vs {b:?}"),
            }
        }
        assert!(compared > 4000, "only {compared} documents compared");
    }

    #[test]
    fn streaming_duplicate_keys_keep_the_last_value() {
        let text = r#"{"b":1,"a":{"x":1,"x":[2]},"b":{"z":0,"y":0},"\u0062":"last"}"#;
        assert_eq!(
            canonicalize_str(text).unwrap(),
            br#"{"a":{"x":[2]},"b":"last"}"#
        );
        assert_eq!(
            canonicalize_str(text).unwrap(),
            canonicalize(text.as_bytes()).unwrap()
        );
    }

    #[test]
    fn streaming_ignores_bad_numbers_a_duplicate_key_replaces() {
        // Found by the `cjson` fuzz target: the one-pass path refused a number that a later
        // duplicate key replaces, which a parsed `Value` (and Go's map) never holds.
        let text =
            r#"{"x":[{"y":1111111111111111111111111111,"y":{"b":[],"a":""}}],"z":1.5,"z":2}"#;
        assert_eq!(
            canonicalize_str(text).unwrap(),
            br#"{"x":[{"y":{"a":"","b":[]}}],"z":2}"#
        );
        assert_eq!(
            canonicalize_str(text).unwrap(),
            canonicalize(text.as_bytes()).unwrap()
        );
        // A bad number that stays is still refused, the first one in output order.
        match canonicalize_str(r#"{"b":2.5,"a":0.5,"b":1.5}"#) {
            Err(Error::NonIntegerNumber { number }) => assert_eq!(number, "0.5"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn streaming_errors_match_value_path() {
        for bad in [
            "1.5",
            "[0.1]",
            "{\"a\":1e300}",
            "-1e19",
            "{\"a\":[1,{\"b\":2.5}]}",
        ] {
            match canonicalize_str(bad) {
                Err(Error::NonIntegerNumber { number }) => assert!(!number.is_empty(), "{bad}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
        for bad in ["{", "[1,]", "{\"a\" 1}", "1 2", "\"\\x\"", ""] {
            assert!(
                matches!(canonicalize_str(bad), Err(Error::Json { .. })),
                "{bad}"
            );
        }
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(matches!(canonicalize_str(&deep), Err(Error::Json { .. })));
    }

    #[test]
    fn typed_serialisation_matches_value_path() {
        let v = json!({"z": [1, {"b": "<\"\\>", "a": null}], "a": 2.0, "é": -3});
        assert_eq!(to_canonical_from(&v).unwrap(), to_canonical(&v).unwrap());
    }
}
