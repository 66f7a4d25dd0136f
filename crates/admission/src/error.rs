//! The errors of the admission webhook: what keeps it from starting, and what makes a request
//! unreadable. Denials are not errors: they are answers ([`crate::review`]).

use std::path::PathBuf;

/// Why the webhook could not start or serve.
#[derive(Debug, thiserror::Error)]
pub enum AdmissionError {
    /// The trust policy could not be loaded.
    #[error("trust policy {}: {source}", path.display())]
    Policy {
        /// The policy file.
        path: PathBuf,
        /// Why.
        #[source]
        source: signet_client::policy::PolicyError,
    },
    /// The registry configuration (docker's config dir) could not be read.
    #[error("registry configuration: {0}")]
    Registry(String),
    /// A setting is out of range.
    #[error("{setting}: {reason}")]
    Setting {
        /// The setting (as its command-line flag).
        setting: &'static str,
        /// Why it is refused.
        reason: String,
    },
    /// Listening or TLS failed.
    #[error(transparent)]
    Serve(#[from] signet_server::error::RunError),
}

/// Why an HTTP request carried no usable `AdmissionReview`: answered 400.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReviewError {
    /// The body is not JSON of an `AdmissionReview`.
    #[error("the body is not an AdmissionReview: {0}")]
    NotAReview(String),
    /// The review is of another version.
    #[error("AdmissionReview {api_version} is not supported: send admission.k8s.io/v1")]
    Version {
        /// The `apiVersion` given.
        api_version: String,
    },
    /// The review has no `request`.
    #[error("the AdmissionReview has no request")]
    NoRequest,
}

impl axum::response::IntoResponse for ReviewError {
    /// Every unusable review is the sender's mistake: 400, with the reason as text.
    fn into_response(self) -> axum::response::Response {
        (axum::http::StatusCode::BAD_REQUEST, self.to_string()).into_response()
    }
}
