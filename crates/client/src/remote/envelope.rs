//! Decoding of Notary error bodies: `{"errors":[{"code":…,"message":…,"detail":…}]}`, with
//! the `detail` of a single error decoded as a validation error when it is one
//! (`{"Name":"ErrBadTargets","Error":{"Msg":"…"}}`).

use serde::Deserialize;
use serde_json::Value;

use crate::error::{ServerErrorEntry, ServerResponse, ValidationError};

#[derive(Deserialize)]
struct Envelope {
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

/// Decodes an error body (already cut to the 1 KiB limit). Anything that is not an envelope
/// gives an empty response.
pub(crate) fn decode(body: &[u8]) -> ServerResponse {
    let Ok(envelope) = serde_json::from_slice::<Envelope>(body) else {
        return ServerResponse::default();
    };
    let validation = match envelope.errors.as_slice() {
        [only] => only.detail.as_ref().and_then(decode_validation),
        _ => None,
    };
    let errors = envelope
        .errors
        .into_iter()
        .map(|e| ServerErrorEntry {
            code: match e.code {
                Value::String(s) => s,
                Value::Null => String::new(),
                other => other.to_string(),
            },
            message: e.message,
            detail: e.detail.map(|d| d.to_string()),
        })
        .collect();
    ServerResponse { errors, validation }
}

fn decode_validation(detail: &Value) -> Option<ValidationError> {
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
        "ErrValidation" => ValidationError::Validation { msg },
        "ErrBadHierarchy" => ValidationError::BadHierarchy {
            missing: field("Missing")?,
            msg,
        },
        "ErrBadRoot" => ValidationError::BadRoot { msg },
        "ErrBadTargets" => ValidationError::BadTargets { msg },
        "ErrBadSnapshot" => ValidationError::BadSnapshot { msg },
        _ => return None,
    })
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
        assert_eq!(decode(b"<html>oops</html>"), ServerResponse::default());
        assert_eq!(
            decode(br#"{"errors":[{"code":"X","mes"#),
            ServerResponse::default()
        );
        let unknown = decode(
            br#"{"errors":[{"code":"INVALID_UPDATE","message":"x","detail":{"Name":"ErrOther","Error":{"Msg":"m"}}}]}"#,
        );
        assert!(unknown.validation.is_none());
    }
}
