//! `cjson`: Notary canonical JSON, the bytes every signature covers.
//!
//! Input: any bytes, read as the JSON text of a `signed` document. Invariants: the one-pass
//! [`canonicalize_str`] and the tree-based [`canonicalize`] agree (both accept with the same
//! bytes, or both refuse); canonicalising canonical output that is still JSON gives it back
//! unchanged; the Go HTML-escaped file form of canonical output reads back as the same value.

use serde_json::Value;
use signet_tuf::cjson::{canonicalize, canonicalize_str, to_canonical};
use signet_tuf::notary::gojson::html_escape as go_html_escape;

/// Runs one input; `true` when it canonicalised.
pub fn run(data: &[u8]) -> bool {
    let tree = canonicalize(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let one_pass = canonicalize_str(text);
        match (&tree, &one_pass) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "canonicalize and canonicalize_str disagree"),
            (Err(_), Err(_)) => {}
            _ => panic!(
                "canonicalize and canonicalize_str disagree: {:?} / {:?}",
                tree.as_ref().err(),
                one_pass.as_ref().err()
            ),
        }
    }
    let Ok(canonical) = tree else {
        return false;
    };
    // Canonical output holds raw control characters when the input had escaped ones; it is
    // then not JSON, which is what Notary signs too. Otherwise it is a fixed point.
    if let Ok(value) = serde_json::from_slice::<Value>(&canonical) {
        match to_canonical(&value) {
            Ok(again) => assert_eq!(again, canonical, "canonical JSON is not idempotent"),
            Err(e) => panic!("canonical output does not canonicalise again: {e}"),
        }
        let escaped = go_html_escape(&canonical);
        match serde_json::from_slice::<Value>(&escaped) {
            Ok(same) => assert_eq!(same, value, "HTML escaping changed the value"),
            Err(e) => panic!("the HTML-escaped form is not JSON: {e}"),
        }
    }
    true
}
