//! The docker-distribution error envelope that Notary servers answer with,
//! `{"errors":[{"code":…,"message":…,"detail":…}]}`, and the validation error carried in the
//! `detail` of an `INVALID_UPDATE` (Go's `validation.SerializableError`,
//! `{"Name":"ErrBadTargets","Error":{"Msg":"…"}}`).
//!
//! The server encodes with [`encode`] and [`ValidationError::to_detail`]; the client decodes
//! with [`decode`]. Both sides therefore agree on every byte.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

pub use crate::error::ValidationError;

/// Longest message placed in a detail, so that a 400 body stays under 1 KiB (the Notary client
/// reads no more of an error body).
pub const MAX_DETAIL_MSG: usize = 600;

/// `s` cut to at most [`MAX_DETAIL_MSG`] bytes, on a character boundary.
pub fn clip(s: &str) -> &str {
    if s.len() <= MAX_DETAIL_MSG {
        return s;
    }
    let mut end = MAX_DETAIL_MSG;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default()
}

#[derive(Serialize)]
struct SerializableError<E: Serialize> {
    #[serde(rename = "Name")]
    name: &'static str,
    #[serde(rename = "Error")]
    error: E,
}

#[derive(Serialize)]
struct MsgOnly<'a> {
    #[serde(rename = "Msg")]
    msg: &'a str,
}

#[derive(Serialize)]
struct MissingMsg<'a> {
    #[serde(rename = "Missing")]
    missing: &'a str,
    #[serde(rename = "Msg")]
    msg: &'a str,
}

impl ValidationError {
    /// Go's name of the kind (`ErrBadRoot`, …), the `Name` of the detail.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Validation { .. } => "ErrValidation",
            Self::BadHierarchy { .. } => "ErrBadHierarchy",
            Self::BadRoot { .. } => "ErrBadRoot",
            Self::BadTargets { .. } => "ErrBadTargets",
            Self::BadSnapshot { .. } => "ErrBadSnapshot",
        }
    }

    /// The detail as the Go server writes it, field order kept, messages [`clip`]ped.
    pub fn to_detail(&self) -> Option<Box<RawValue>> {
        let name = self.name();
        match self {
            Self::BadHierarchy { missing, msg } => {
                serde_json::value::to_raw_value(&SerializableError {
                    name,
                    error: MissingMsg {
                        missing: clip(missing),
                        msg: clip(msg),
                    },
                })
            }
            Self::Validation { msg }
            | Self::BadRoot { msg }
            | Self::BadTargets { msg }
            | Self::BadSnapshot { msg } => serde_json::value::to_raw_value(&SerializableError {
                name,
                error: MsgOnly { msg: clip(msg) },
            }),
        }
        .ok()
    }

    /// Reads a detail; `None` when it is not a validation error of a known kind.
    pub fn from_detail(detail: &Value) -> Option<Self> {
        let name = detail.get("Name")?.as_str()?;
        let error = detail.get("Error")?;
        let field = |key: &str| -> Option<String> {
            match error.get(key) {
                None | Some(Value::Null) => Some(String::new()),
                Some(Value::String(s)) => Some(s.clone()),
                Some(_) => None,
            }
        };
        let msg = field("Msg")?;
        Some(match name {
            "ErrValidation" => Self::Validation { msg },
            "ErrBadHierarchy" => Self::BadHierarchy {
                missing: field("Missing")?,
                msg,
            },
            "ErrBadRoot" => Self::BadRoot { msg },
            "ErrBadTargets" => Self::BadTargets { msg },
            "ErrBadSnapshot" => Self::BadSnapshot { msg },
            _ => return None,
        })
    }
}

/// One entry of an error envelope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorEntry {
    /// `code`, such as `INVALID_UPDATE` or `METADATA_NOT_FOUND`.
    pub code: String,
    /// `message`.
    pub message: String,
    /// `detail` as raw JSON text, when present.
    pub detail: Option<String>,
}

/// A decoded error body.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ErrorEnvelope {
    /// The entries (empty when the body was not an envelope).
    pub errors: Vec<ErrorEntry>,
    /// The validation error decoded from the single entry's `detail`, if it is one.
    pub validation: Option<ValidationError>,
}

impl ErrorEnvelope {
    /// The server's messages joined for display (`code: message`), empty when there are none.
    pub fn summary(&self) -> String {
        self.errors
            .iter()
            .map(|e| format!("{}: {}", e.code, e.message))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

#[derive(Serialize)]
struct WireOut<'a> {
    errors: [EntryOut<'a>; 1],
}

#[derive(Serialize)]
struct EntryOut<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a RawValue>,
}

/// The body of an error answer with one entry, followed by `\n` as Go's encoder writes it.
pub fn encode(code: &str, message: &str, detail: Option<&RawValue>) -> Vec<u8> {
    let wire = WireOut {
        errors: [EntryOut {
            code,
            message,
            detail,
        }],
    };
    let mut body = serde_json::to_vec(&wire).unwrap_or_else(|_| b"{\"errors\":[]}".to_vec());
    body.push(b'\n');
    body
}

#[derive(Deserialize)]
struct WireIn {
    #[serde(default)]
    errors: Vec<WireEntry>,
}

#[derive(Deserialize)]
struct WireEntry {
    #[serde(default)]
    code: Value,
    #[serde(default)]
    message: String,
    #[serde(default)]
    detail: Option<Value>,
}

/// Decodes an error body (the caller cuts it to the size it is willing to read). Anything that
/// is not an envelope gives an empty [`ErrorEnvelope`].
pub fn decode(body: &[u8]) -> ErrorEnvelope {
    let Ok(wire) = serde_json::from_slice::<WireIn>(body) else {
        return ErrorEnvelope::default();
    };
    let validation = match wire.errors.as_slice() {
        [only] => only.detail.as_ref().and_then(ValidationError::from_detail),
        _ => None,
    };
    let errors = wire
        .errors
        .into_iter()
        .map(|e| ErrorEntry {
            code: match e.code {
                Value::String(s) => s,
                Value::Null => String::new(),
                other => other.to_string(),
            },
            message: e.message,
            detail: e.detail.map(|d| d.to_string()),
        })
        .collect();
    ErrorEnvelope { errors, validation }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_validation_detail() {
        let body = br#"{"errors":[{"code":"INVALID_UPDATE","message":"Update sent by the client is invalid.","detail":{"Name":"ErrBadHierarchy","Error":{"Missing":"snapshot","Msg":"no snapshot was included in update and server does not hold current snapshot key for repository"}}}]}
"#;
        let response = decode(body);
        assert_eq!(response.errors.len(), 1);
        assert_eq!(response.errors[0].code, "INVALID_UPDATE");
        assert_eq!(
            response.errors[0].message,
            "Update sent by the client is invalid."
        );
        let validation = response.validation.unwrap();
        assert_eq!(
            validation,
            ValidationError::BadHierarchy {
                missing: "snapshot".into(),
                msg: "no snapshot was included in update and server does not hold current snapshot key for repository".into()
            }
        );
        assert_eq!(
            validation.to_string(),
            "Metadata hierarchy is incomplete: no snapshot was included in update and server does not hold current snapshot key for repository"
        );
    }

    #[test]
    fn every_validation_name() {
        for (name, text) in [
            ("ErrValidation", "An error occurred during validation: m"),
            ("ErrBadRoot", "The root metadata is invalid: m"),
            ("ErrBadTargets", "The targets metadata is invalid: m"),
            ("ErrBadSnapshot", "The snapshot metadata is invalid: m"),
        ] {
            let body = format!(
                r#"{{"errors":[{{"code":"INVALID_UPDATE","message":"x","detail":{{"Name":"{name}","Error":{{"Msg":"m"}}}}}}]}}"#
            );
            assert_eq!(
                decode(body.as_bytes()).validation.unwrap().to_string(),
                text
            );
        }
    }

    #[test]
    fn envelopes_without_validation() {
        let response = decode(
            br#"{"errors":[{"code":"VERSION","message":"A newer version of metadata is already available.","detail":{}}]}"#,
        );
        assert!(response.validation.is_none());
        assert_eq!(response.errors[0].detail.as_deref(), Some("{}"));
        assert_eq!(
            response.summary(),
            "VERSION: A newer version of metadata is already available."
        );
        // Two entries: Go refuses to pick one.
        let two = decode(
            br#"{"errors":[{"code":"A","message":"a","detail":{"Name":"ErrBadRoot","Error":{"Msg":"m"}}},{"code":"B","message":"b"}]}"#,
        );
        assert!(two.validation.is_none());
        assert_eq!(two.errors.len(), 2);
        assert_eq!(decode(b"<html>oops</html>"), ErrorEnvelope::default());
        assert_eq!(
            decode(br#"{"errors":[{"code":"X","mes"#),
            ErrorEnvelope::default()
        );
        let unknown = decode(
            br#"{"errors":[{"code":"INVALID_UPDATE","message":"x","detail":{"Name":"ErrOther","Error":{"Msg":"m"}}}]}"#,
        );
        assert!(unknown.validation.is_none());
    }

    #[test]
    fn what_the_server_encodes_the_client_decodes() {
        for v in [
            ValidationError::Validation { msg: "a".into() },
            ValidationError::BadHierarchy {
                missing: "snapshot".into(),
                msg: "b <&>".into(),
            },
            ValidationError::BadRoot { msg: "c".into() },
            ValidationError::BadTargets { msg: "d".into() },
            ValidationError::BadSnapshot { msg: "e".into() },
        ] {
            let detail = v.to_detail().unwrap();
            let body = encode(
                "INVALID_UPDATE",
                "Update sent by the client is invalid.",
                Some(&detail),
            );
            assert!(body.ends_with(b"}]}\n"));
            let back = decode(&body);
            assert_eq!(back.validation.as_ref(), Some(&v));
            assert_eq!(back.errors[0].code, "INVALID_UPDATE");
        }
        let clipped = ValidationError::BadTargets {
            msg: "é".repeat(5000),
        };
        let body = encode("INVALID_UPDATE", "x", clipped.to_detail().as_deref());
        assert!(body.len() < 1024, "{}", body.len());
    }
}
