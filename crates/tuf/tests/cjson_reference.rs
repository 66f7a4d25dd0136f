//! signet's canonical JSON against the `olpc-cjson` crate as a reference encoder.
//!
//! The two are meant to differ in two ways:
//!
//! * `olpc-cjson` rewrites every string to Unicode NFC, while Go notary (and so signet) writes
//!   strings as they are. A document holding a string that NFC changes would otherwise be hashed
//!   over other bytes than the ones that were signed.
//! * `olpc-cjson` orders object keys by their serialized form (quotes and escapes included), Go
//!   by their raw bytes. Keys holding `"` or `\`, or a character below `"` (a space, say)
//!   right after a prefix another key ends with, can therefore sort differently.
//!
//! On every document whose strings NFC leaves unchanged and whose keys hold none of those
//! characters the two encoders must agree byte for byte; that is what this property test
//! checks, over documents from a seeded generator.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use olpc_cjson::CanonicalFormatter;
use serde::Serialize as _;
use serde_json::{Map, Number, Value};
use unicode_normalization::{UnicodeNormalization as _, is_nfc};

/// A small deterministic generator (xorshift64*), so a failure names a reproducible seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Characters that stress the string writer: quotes, backslashes, HTML-sensitive ASCII, DEL,
/// non-ASCII in several planes, U+2028/U+2029, and combining marks that make NFC act.
const CHARS: &[char] = &[
    'a',
    'Z',
    '0',
    ' ',
    '/',
    '"',
    '\\',
    '<',
    '>',
    '&',
    '\u{7f}',
    'é',
    'ß',
    'ø',
    '日',
    '本',
    '\u{2028}',
    '\u{2029}',
    '😀',
    '\u{10ffff}',
    'e',
    '\u{301}',
    'A',
    '\u{30a}',
    '\u{1100}',
    '\u{1161}',
    'Ω',
    '\u{212b}',
];

fn string(rng: &mut Rng) -> String {
    let len = rng.below(12);
    (0..len)
        .map(|_| CHARS[usize::try_from(rng.below(CHARS.len() as u64)).unwrap()])
        .collect()
}

fn value(rng: &mut Rng, depth: u32) -> Value {
    let pick = if depth >= 4 {
        rng.below(4)
    } else {
        rng.below(6)
    };
    match pick {
        0 => Value::Null,
        1 => Value::Bool(rng.below(2) == 1),
        2 => {
            let n = rng.next();
            if rng.below(2) == 0 {
                Value::Number(Number::from(n >> rng.below(64)))
            } else {
                Value::Number(Number::from(-i64::try_from(n >> 2).unwrap()))
            }
        }
        3 => Value::String(string(rng)),
        4 => Value::Array((0..rng.below(5)).map(|_| value(rng, depth + 1)).collect()),
        _ => {
            let mut map = Map::new();
            for _ in 0..rng.below(6) {
                // Keys without `"`, `\` and space, whose serialized and raw forms sort alike.
                let key: String = string(rng)
                    .chars()
                    .filter(|c| !matches!(c, '"' | '\\' | ' '))
                    .collect();
                map.insert(key, value(rng, depth + 1));
            }
            Value::Object(map)
        }
    }
}

fn all_strings_nfc(v: &Value) -> bool {
    match v {
        Value::String(s) => is_nfc(s),
        Value::Array(items) => items.iter().all(all_strings_nfc),
        Value::Object(map) => map.iter().all(|(k, v)| is_nfc(k) && all_strings_nfc(v)),
        _ => true,
    }
}

fn olpc(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, CanonicalFormatter::new());
    v.serialize(&mut ser).unwrap();
    out
}

#[test]
fn agrees_with_olpc_cjson_wherever_nfc_changes_nothing() {
    let mut compared = 0;
    let mut skipped = 0;
    for seed in 1..=20_000_u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let doc = value(&mut rng, 0);
        if !all_strings_nfc(&doc) {
            skipped += 1;
            continue;
        }
        let ours = signet_tuf::cjson::to_canonical(&doc).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&olpc(&doc)),
            "seed {seed}: {doc}"
        );
        compared += 1;
    }
    // The generator must exercise both sides of the property.
    assert!(compared > 5_000, "only {compared} documents compared");
    assert!(
        skipped > 1_000,
        "only {skipped} documents with non-NFC strings"
    );
}

#[test]
fn orders_keys_by_raw_bytes_where_olpc_cjson_orders_them_escaped() {
    // `"` (0x22) sorts before `&` (0x26) raw; escaped it is `\"`, and `\` (0x5c) sorts after.
    // A space after a shared prefix: raw, "" comes before " "; serialized, `" "` comes first.
    let doc = serde_json::json!({ "\"q": 1, "&a": 2 });
    let ours = signet_tuf::cjson::to_canonical(&doc).unwrap();
    assert_eq!(ours, br#"{"\"q":1,"&a":2}"#.to_vec());
    assert_eq!(olpc(&doc), br#"{"&a":2,"\"q":1}"#.to_vec());
    let prefixed = serde_json::json!({ "": 1, " ": 2 });
    assert_eq!(
        signet_tuf::cjson::to_canonical(&prefixed).unwrap(),
        br#"{"":1," ":2}"#.to_vec()
    );
    assert_eq!(olpc(&prefixed), br#"{" ":2,"":1}"#.to_vec());
}

#[test]
fn differs_from_olpc_cjson_exactly_where_nfc_changes_a_string() {
    // "e" + combining acute accent: NFC composes it to "é". Go signs the two code points.
    let decomposed = "e\u{301}";
    assert!(!is_nfc(decomposed));
    let doc = serde_json::json!({ "name": decomposed });
    let ours = signet_tuf::cjson::to_canonical(&doc).unwrap();
    assert_eq!(ours, format!("{{\"name\":\"{decomposed}\"}}").into_bytes());
    let reference = olpc(&doc);
    let composed: String = decomposed.nfc().collect();
    assert_eq!(
        reference,
        format!("{{\"name\":\"{composed}\"}}").into_bytes()
    );
    assert_ne!(ours, reference);
}
