//! Kubernetes `AdmissionReview` v1: the request the API server sends and the response it
//! expects (`admission.k8s.io/v1`). Only the fields the webhook reads or writes are modelled;
//! the object under review stays JSON.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ReviewError;

/// The API version this webhook speaks.
pub const API_VERSION: &str = "admission.k8s.io/v1";

/// Warnings longer than this are cut (the API server truncates them at 256 characters).
const MAX_WARNING_CHARS: usize = 250;

/// Denial messages longer than this are cut, ending with a note of how much was left out.
const MAX_MESSAGE_CHARS: usize = 8 * 1024;

/// The envelope.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope {
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    request: Option<Value>,
}

/// The group, version and kind of the object under review.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct GroupVersionKind {
    /// `""` for the core group (Pods), `apps`, `batch`.
    #[serde(default)]
    pub group: String,
    /// `v1`.
    #[serde(default)]
    pub version: String,
    /// `Pod`, `Deployment`, …
    #[serde(default)]
    pub kind: String,
}

impl GroupVersionKind {
    /// `apps/v1 Deployment`, `v1 Pod`.
    pub fn describe(&self) -> String {
        if self.group.is_empty() {
            format!("{} {}", self.version, self.kind)
        } else {
            format!("{}/{} {}", self.group, self.version, self.kind)
        }
    }
}

/// What the API server asks about.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionRequest {
    /// Echoed in the response.
    pub uid: String,
    /// The object's kind.
    pub kind: GroupVersionKind,
    /// `CREATE`, `UPDATE`, `DELETE` or `CONNECT`.
    pub operation: String,
    /// The namespace, for namespaced objects.
    #[serde(default)]
    pub namespace: Option<String>,
    /// The object's name (empty when the API server generates it).
    #[serde(default)]
    pub name: Option<String>,
    /// The subresource, if any (`ephemeralcontainers`).
    #[serde(default)]
    pub sub_resource: Option<String>,
    /// The object as it would be stored (absent on DELETE).
    #[serde(default)]
    pub object: Option<Value>,
}

impl AdmissionRequest {
    /// `Deployment default/web`, for messages and logs.
    pub fn subject(&self) -> String {
        let name = self.name.as_deref().filter(|n| !n.is_empty());
        match (self.namespace.as_deref(), name) {
            (Some(ns), Some(name)) => format!("{} {ns}/{name}", self.kind.kind),
            (None, Some(name)) => format!("{} {name}", self.kind.kind),
            (Some(ns), None) => format!("{} in {ns}", self.kind.kind),
            (None, None) => self.kind.kind.clone(),
        }
    }
}

/// Reads the request of an `AdmissionReview` v1 body.
///
/// # Errors
///
/// [`ReviewError`] when the body is not JSON of an `AdmissionReview`, is of another version, or
/// carries no request.
pub fn parse(body: &[u8]) -> Result<AdmissionRequest, ReviewError> {
    let envelope: Envelope =
        serde_json::from_slice(body).map_err(|e| ReviewError::NotAReview(e.to_string()))?;
    if envelope.api_version != API_VERSION {
        return Err(ReviewError::Version {
            api_version: envelope.api_version,
        });
    }
    let request = envelope.request.ok_or(ReviewError::NoRequest)?;
    serde_json::from_value(request).map_err(|e| ReviewError::NotAReview(format!("request: {e}")))
}

/// The result of a review.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionResponse {
    /// The request's UID.
    pub uid: String,
    /// Whether the object is admitted.
    pub allowed: bool,
    /// Why not, when denied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// `JSONPatch` when a patch is given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch_type: Option<String>,
    /// The base64 of the JSON Patch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch: Option<String>,
    /// Shown to the user (audit-mode denials).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Recorded in the API server's audit log.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub audit_annotations: BTreeMap<String, String>,
}

/// The status of a denial.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Status {
    /// 403.
    pub code: u16,
    /// `Forbidden`.
    pub reason: String,
    /// What was denied and why.
    pub message: String,
}

impl AdmissionResponse {
    /// Admits the request of `uid`.
    pub fn allow(uid: &str) -> Self {
        Self {
            uid: uid.to_owned(),
            allowed: true,
            ..Self::default()
        }
    }

    /// Denies the request of `uid` with `message`.
    pub fn deny(uid: &str, message: &str) -> Self {
        Self {
            uid: uid.to_owned(),
            allowed: false,
            status: Some(Status {
                code: 403,
                reason: "Forbidden".to_owned(),
                message: cut(message, MAX_MESSAGE_CHARS),
            }),
            ..Self::default()
        }
    }

    /// Adds a warning shown to the user (cut to what the API server keeps).
    pub fn warn(&mut self, warning: &str) {
        self.warnings.push(cut(warning, MAX_WARNING_CHARS));
    }

    /// Sets the JSON Patch (the bytes of a JSON array of operations).
    pub fn set_patch(&mut self, patch: &[u8]) {
        self.patch_type = Some("JSONPatch".to_owned());
        self.patch = Some(base64::engine::general_purpose::STANDARD.encode(patch));
    }

    /// The `AdmissionReview` v1 that carries this response.
    pub fn into_review(self) -> Value {
        serde_json::json!({
            "apiVersion": API_VERSION,
            "kind": "AdmissionReview",
            "response": self,
        })
    }
}

/// `text` cut to `max` characters, saying so.
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let kept: String = text.chars().take(max.saturating_sub(20)).collect();
    format!("{kept}… (cut)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_v1_review_and_refuses_others() {
        let body = br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview",
            "request":{"uid":"u-1","kind":{"group":"apps","version":"v1","kind":"Deployment"},
            "operation":"CREATE","namespace":"ns","name":"web","object":{"spec":{}}}}"#;
        let request = parse(body).unwrap();
        assert_eq!(request.uid, "u-1");
        assert_eq!(request.kind.describe(), "apps/v1 Deployment");
        assert_eq!(request.subject(), "Deployment ns/web");
        assert!(request.object.is_some());

        let v1beta1 = br#"{"apiVersion":"admission.k8s.io/v1beta1","request":{"uid":"u"}}"#;
        assert_eq!(
            parse(v1beta1).unwrap_err(),
            ReviewError::Version {
                api_version: "admission.k8s.io/v1beta1".into()
            }
        );
        assert_eq!(
            parse(br#"{"apiVersion":"admission.k8s.io/v1"}"#).unwrap_err(),
            ReviewError::NoRequest
        );
        assert!(matches!(parse(b"{"), Err(ReviewError::NotAReview(_))));
        let no_uid = br#"{"apiVersion":"admission.k8s.io/v1","request":{"operation":"CREATE"}}"#;
        assert!(matches!(parse(no_uid), Err(ReviewError::NotAReview(_))));
    }

    #[test]
    fn responses_have_the_v1_shape() {
        let mut denied = AdmissionResponse::deny("u-2", "image x: unsigned");
        denied.warn(&"w".repeat(1000));
        let review = denied.into_review();
        assert_eq!(review["apiVersion"], API_VERSION);
        assert_eq!(review["kind"], "AdmissionReview");
        let response = &review["response"];
        assert_eq!(response["uid"], "u-2");
        assert_eq!(response["allowed"], false);
        assert_eq!(response["status"]["code"], 403);
        assert_eq!(response["status"]["message"], "image x: unsigned");
        assert!(response.get("patch").is_none());
        assert!(response["warnings"][0].as_str().unwrap().chars().count() <= MAX_WARNING_CHARS);

        let mut allowed = AdmissionResponse::allow("u-3");
        allowed.set_patch(br#"[{"op":"replace","path":"/spec","value":1}]"#);
        let response = allowed.into_review()["response"].clone();
        assert_eq!(response["allowed"], true);
        assert_eq!(response["patchType"], "JSONPatch");
        let patch = base64::engine::general_purpose::STANDARD
            .decode(response["patch"].as_str().unwrap())
            .unwrap();
        assert_eq!(patch, br#"[{"op":"replace","path":"/spec","value":1}]"#);
        assert!(response.get("status").is_none());
    }
}
