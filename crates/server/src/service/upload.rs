//! The first decode of an uploaded part, matching what the Go server accepts before any
//! validation: `{"signed":{"_type","expires","version"},"signatures":[…]}`.

use base64::Engine as _;
use bytes::Bytes;
use serde_json::{Map, Value};

/// One uploaded metadata file.
#[derive(Debug, Clone)]
pub struct UploadedFile {
    /// The role, from the part's file name.
    pub role: String,
    /// `signed.version` as decoded (0 when absent).
    pub version: i64,
    /// The exact bytes of the part; these are stored and hashed.
    pub data: Bytes,
}

/// Looks a field up as Go's `encoding/json` does: the exact name first, then any name equal
/// under case folding.
fn field<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.get(name).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.to_lowercase() == name.to_lowercase())
            .map(|(_, v)| v)
    })
}

fn opt_string(obj: &Map<String, Value>, name: &str) -> Result<Option<String>, String> {
    match field(obj, name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(format!("{name} must be a string, not {other}")),
    }
}

/// Decodes the common fields of a signed file and returns `signed.version`; the error text
/// says what Go's decoder would have refused. Bytes after the first JSON value are ignored
/// here (they are kept and fail later validation).
pub fn decode_signed_common(data: &[u8]) -> Result<i64, String> {
    let first = serde_json::Deserializer::from_slice(data)
        .into_iter::<Value>()
        .next()
        .ok_or_else(|| "empty part".to_owned())?
        .map_err(|e| e.to_string())?;
    let obj = match first {
        Value::Null => return Ok(0),
        Value::Object(o) => o,
        other => return Err(format!("expected an object, not {other}")),
    };
    if let Some(sigs) = field(&obj, "signatures") {
        match sigs {
            Value::Null => {}
            Value::Array(list) => {
                for sig in list {
                    match sig {
                        Value::Null => {}
                        Value::Object(s) => {
                            opt_string(s, "keyid")?;
                            opt_string(s, "method")?;
                            if let Some(b64) = opt_string(s, "sig")? {
                                base64::engine::general_purpose::STANDARD
                                    .decode(b64.as_bytes())
                                    .map_err(|e| format!("sig is not base64: {e}"))?;
                            }
                        }
                        other => return Err(format!("a signature must be an object, not {other}")),
                    }
                }
            }
            other => return Err(format!("signatures must be a list, not {other}")),
        }
    }
    let signed = match field(&obj, "signed") {
        None | Some(Value::Null) => return Ok(0),
        Some(Value::Object(s)) => s,
        Some(other) => return Err(format!("signed must be an object, not {other}")),
    };
    opt_string(signed, "_type")?;
    if let Some(exp) = opt_string(signed, "expires")? {
        signet_tuf::metadata::parse_go_rfc3339(&exp)
            .map_err(|e| format!("expires {exp:?} is not an RFC 3339 time: {e}"))?;
    }
    match field(signed, "version") {
        None | Some(Value::Null) => Ok(0),
        Some(Value::Number(n)) => n
            .as_i64()
            .ok_or_else(|| format!("version {n} is not an integer")),
        Some(other) => Err(format!("version must be a number, not {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_go_accepts() {
        let ok = br#"{"signed":{"_type":"Targets","expires":"2029-11-22T15:14:34.049829813-05:00","version":3},"signatures":[{"keyid":"a","method":"ecdsa","sig":"AAAA"}]}"#;
        assert_eq!(decode_signed_common(ok), Ok(3));
        assert_eq!(
            decode_signed_common(br#"{"Signed":{"Version":7}}trailing"#),
            Ok(7)
        );
        assert_eq!(decode_signed_common(b"{}"), Ok(0));
        assert_eq!(decode_signed_common(b"null"), Ok(0));
    }

    #[test]
    fn refuses_what_go_refuses() {
        for bad in [
            &b""[..],
            b"not json",
            b"[1]",
            b"{\"signed\":{\"version\":\"1\"}}",
            b"{\"signed\":{\"version\":1.5}}",
            b"{\"signed\":{\"expires\":\"tomorrow\"}}",
            b"{\"signed\":{\"expires\":\"2030-01-01T00:00:60Z\"}}",
            b"{\"signed\":{\"_type\":3}}",
            b"{\"signed\":[]}",
            b"{\"signatures\":{}}",
            b"{\"signatures\":[{\"sig\":\"!!\"}]}",
            b"{\"signed\":{\"version\":1}",
        ] {
            assert!(
                decode_signed_common(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
