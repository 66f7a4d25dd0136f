//! The one place where the server's HTTP statuses are chosen.
//!
//! Errors become responses here: [`classify`] gives each [`ServerError`] (about the request)
//! and [`classify_repo`] each [`ServiceError`] (of the repository service) its Notary error code,
//! and with it the status, message and detail, sent in the docker-distribution errcode
//! envelope `{"errors":[{"code":…,"message":…,"detail":…}]}` followed by `\n`. The few answers
//! that are not errors get their status here too: `ok` (200), `health_answer` (200 or 503),
//! `moved_permanently` (301), `method_not_allowed` (405) and `TIMED_OUT_STATUS` (503).

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::value::RawValue;

use signet_tuf::notary::envelope::{self, ValidationError as WireValidation, clip};

use crate::error::{ServerError, ServiceError, ValidationError};

/// The error codes the server sends, with their fixed status and message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// `NO_FILENAME`, 400.
    NoFilename,
    /// `INVALID_ROLE`, 400.
    InvalidRole,
    /// `MALFORMED_JSON`, 400.
    MalformedJson,
    /// `UPDATING`, 500.
    Updating,
    /// `VERSION`, 400.
    Version,
    /// `METADATA_NOT_FOUND`, 404.
    MetadataNotFound,
    /// `INVALID_UPDATE`, 400.
    InvalidUpdate,
    /// `MALFORMED_UPLOAD`, 400.
    MalformedUpload,
    /// `INVALID_GUN`, 400.
    InvalidGun,
    /// `INVALID_PARAMETERS`, 400.
    InvalidParameters,
    /// `UNKNOWN`, 500.
    Unknown,
    /// `UNAUTHORIZED`, 401.
    Unauthorized,
    /// `UNAVAILABLE`, 503.
    Unavailable,
    /// `TOO_LARGE`, 413: the request body exceeds the configured limit.
    TooLarge,
}

impl ErrorCode {
    /// The code string on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoFilename => "NO_FILENAME",
            Self::InvalidRole => "INVALID_ROLE",
            Self::MalformedJson => "MALFORMED_JSON",
            Self::Updating => "UPDATING",
            Self::Version => "VERSION",
            Self::MetadataNotFound => "METADATA_NOT_FOUND",
            Self::InvalidUpdate => "INVALID_UPDATE",
            Self::MalformedUpload => "MALFORMED_UPLOAD",
            Self::InvalidGun => "INVALID_GUN",
            Self::InvalidParameters => "INVALID_PARAMETERS",
            Self::Unknown => "UNKNOWN",
            Self::Unauthorized => "UNAUTHORIZED",
            Self::Unavailable => "UNAVAILABLE",
            Self::TooLarge => "TOO_LARGE",
        }
    }

    /// The fixed message of the code.
    pub fn message(self) -> &'static str {
        match self {
            Self::NoFilename => "No file/role name provided.",
            Self::InvalidRole => "The role you are attempting to operate on is invalid.",
            Self::MalformedJson => "JSON sent by the client could not be parsed by the server",
            Self::Updating => "An error has occurred while updating the TUF repository.",
            Self::Version => "A newer version of metadata is already available.",
            Self::MetadataNotFound => "You have requested metadata that does not exist.",
            Self::InvalidUpdate => "Update sent by the client is invalid.",
            Self::MalformedUpload => "The body of your request is malformed.",
            Self::InvalidGun => "The server does not support actions on images of this name.",
            Self::InvalidParameters => "The parameters provided are not valid.",
            Self::Unknown => "unknown error",
            Self::Unauthorized => "authentication required",
            Self::Unavailable => "service unavailable",
            Self::TooLarge => "The request body is too large.",
        }
    }

    /// The HTTP status of the code.
    pub fn status(self) -> StatusCode {
        match self {
            Self::NoFilename
            | Self::InvalidRole
            | Self::MalformedJson
            | Self::Version
            | Self::InvalidUpdate
            | Self::MalformedUpload
            | Self::InvalidGun
            | Self::InvalidParameters => StatusCode::BAD_REQUEST,
            Self::MetadataNotFound => StatusCode::NOT_FOUND,
            Self::Updating | Self::Unknown => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        }
    }
}

#[derive(Serialize)]
struct Empty {}

#[derive(Serialize)]
struct AtoiError<'a> {
    #[serde(rename = "Func")]
    func: &'static str,
    #[serde(rename = "Num")]
    num: &'a str,
    #[serde(rename = "Err")]
    err: Empty,
}

/// A detail value; field order is kept as written.
pub type Detail = Box<RawValue>;

/// Serialises a detail, keeping struct field order.
pub fn to_detail<T: Serialize + ?Sized>(v: &T) -> Option<Detail> {
    serde_json::value::to_raw_value(v).ok()
}

fn validation_detail(e: &ValidationError) -> Option<Detail> {
    let wire = match e.clone() {
        ValidationError::BadRoot { msg, .. } => WireValidation::BadRoot { msg },
        ValidationError::BadTargets { msg, .. } => WireValidation::BadTargets { msg },
        ValidationError::BadSnapshot { msg, .. } => WireValidation::BadSnapshot { msg },
        ValidationError::Validation { msg, .. } => WireValidation::Validation { msg },
        ValidationError::BadHierarchy { missing, msg, .. } => {
            WireValidation::BadHierarchy { missing, msg }
        }
        ValidationError::StoredUnusable { .. } => return None,
    };
    wire.to_detail()
}

fn empty_detail() -> Option<Detail> {
    RawValue::from_string("{}".to_owned()).ok()
}

fn text_detail(s: &str) -> Option<Detail> {
    to_detail(clip(s))
}

/// The code and detail for an error of the HTTP side; a [`ServerError::MetadataService`] gets those of
/// [`classify_repo`].
pub fn classify(err: &ServerError) -> (ErrorCode, Option<Detail>) {
    match err {
        ServerError::NoFilename { .. } => (ErrorCode::NoFilename, None),
        ServerError::InvalidRole { role, .. } => (ErrorCode::InvalidRole, text_detail(role)),
        ServerError::MalformedJson { .. } => (ErrorCode::MalformedJson, None),
        ServerError::MalformedUpload { .. } => (ErrorCode::MalformedUpload, None),
        ServerError::BodyTooLarge { limit, .. } => (
            ErrorCode::TooLarge,
            to_detail(&serde_json::json!({ "limit": limit })),
        ),
        ServerError::InvalidGun { reason, .. } => (ErrorCode::InvalidGun, text_detail(reason)),
        ServerError::BadVersionNumber { text, .. } => (
            ErrorCode::MetadataNotFound,
            to_detail(&AtoiError {
                func: "Atoi",
                num: clip(text),
                err: Empty {},
            }),
        ),
        ServerError::InvalidParameters { detail, .. }
        | ServerError::InvalidTrustQuery { detail, .. } => {
            (ErrorCode::InvalidParameters, text_detail(detail))
        }
        ServerError::InvalidKeyId { .. } => {
            (ErrorCode::InvalidParameters, text_detail(&err.to_string()))
        }
        ServerError::Unauthorized(ch) => (ErrorCode::Unauthorized, to_detail(&ch.detail())),
        ServerError::Internal(_) => (ErrorCode::Unknown, text_detail(&err.to_string())),
        ServerError::MetadataService(e) => classify_repo(e),
    }
}

/// The code and detail for an error of the repository service.
pub fn classify_repo(err: &ServiceError) -> (ErrorCode, Option<Detail>) {
    match err {
        ServiceError::MetadataNotFound { .. } => (ErrorCode::MetadataNotFound, empty_detail()),
        ServiceError::DuplicateRole { .. } => (ErrorCode::MalformedUpload, None),
        ServiceError::OldVersion { .. } => (ErrorCode::Version, empty_detail()),
        ServiceError::Invalid(v) => (ErrorCode::InvalidUpdate, validation_detail(v)),
        ServiceError::Updating { .. } => (ErrorCode::Updating, None),
        // A storage fault says what is wrong (full, read-only, …) and that nothing was stored.
        ServiceError::Unavailable { source, .. } => (
            ErrorCode::Unavailable,
            source
                .storage_fault()
                .and_then(|f| text_detail(f.client_message())),
        ),
        ServiceError::Storage { .. }
        | ServiceError::Signing { .. }
        | ServiceError::ServerKey { .. }
        | ServiceError::StoredUnparsable { .. }
        | ServiceError::ResignSource { .. } => (ErrorCode::Unknown, text_detail(&err.to_string())),
    }
}

/// Builds the envelope body (with its trailing newline) for a code and detail.
pub fn envelope_body(code: ErrorCode, detail: Option<&RawValue>) -> Vec<u8> {
    envelope::encode(code.as_str(), code.message(), detail)
}

/// The response for a code and detail.
pub fn envelope_response(code: ErrorCode, detail: Option<&RawValue>) -> Response {
    let mut resp = (code.status(), envelope_body(code, detail)).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    resp
}

/// A 200 with `body`; the caller sets the headers.
pub(crate) fn ok(body: impl IntoResponse) -> Response {
    (StatusCode::OK, body).into_response()
}

/// The answer of the health check: 200 when the database is healthy, 503 when not.
pub(crate) fn health_answer(healthy: bool, body: impl IntoResponse) -> Response {
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, body).into_response()
}

/// A 301 with an empty body to `location`, the canonical form of the path asked for.
pub(crate) fn moved_permanently(location: &str) -> Response {
    let mut resp = StatusCode::MOVED_PERMANENTLY.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

/// A 405 with an empty body: a Notary path asked for with a method it does not take.
pub(crate) fn method_not_allowed() -> Response {
    (StatusCode::METHOD_NOT_ALLOWED, Body::empty()).into_response()
}

/// The status of a request that takes longer than the configured timeout, answered with an
/// empty body by the timeout layer: 503.
pub(crate) const TIMED_OUT_STATUS: StatusCode = StatusCode::SERVICE_UNAVAILABLE;

impl IntoResponse for ServerError {
    fn into_response(self) -> Response {
        let (code, detail) = classify(&self);
        let fault = match &self {
            Self::MetadataService(ServiceError::Unavailable { source, .. }) => {
                source.storage_fault()
            }
            _ => None,
        };
        if let Some(fault) = fault {
            tracing::error!(
                error = %self,
                code = code.as_str(),
                storage = fault.as_str(),
                "request failed: {fault}"
            );
        } else if code.status().is_server_error() {
            tracing::error!(error = %self, code = code.as_str(), "request failed");
        } else if code == ErrorCode::MetadataNotFound {
            tracing::debug!(error = %self, "not found");
        } else {
            tracing::info!(error = %self, code = code.as_str(), "request refused");
        }
        let mut resp = envelope_response(code, detail.as_deref());
        if let Self::Unauthorized(ch) = &self
            && let Ok(v) = HeaderValue::from_str(&ch.header_value())
        {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(err: impl Into<ServerError>) -> (StatusCode, String) {
        let (code, detail) = classify(&err.into());
        (
            code.status(),
            String::from_utf8(envelope_body(code, detail.as_deref())).unwrap(),
        )
    }

    #[test]
    fn version_conflict_is_byte_exact() {
        let (status, b) = body(ServiceError::OldVersion {
            gun: "g".into(),
            role: "targets".into(),
        });
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            b,
            "{\"errors\":[{\"code\":\"VERSION\",\"message\":\"A newer version of metadata is already available.\",\"detail\":{}}]}\n"
        );
        assert_eq!(b.len(), 106);
    }

    #[test]
    fn bad_hierarchy_detail() {
        let (status, b) = body(ServiceError::Invalid(ValidationError::BadHierarchy {
            gun: "g".into(),
            missing: "snapshot".into(),
            msg: "no snapshot was included in update and server does not hold current snapshot key for repository".into(),
        }));
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            b,
            "{\"errors\":[{\"code\":\"INVALID_UPDATE\",\"message\":\"Update sent by the client is invalid.\",\"detail\":{\"Name\":\"ErrBadHierarchy\",\"Error\":{\"Missing\":\"snapshot\",\"Msg\":\"no snapshot was included in update and server does not hold current snapshot key for repository\"}}}]}\n"
        );
    }

    #[test]
    fn detail_less_errors() {
        let (_, b) = body(ServerError::NoFilename { gun: "g".into() });
        assert_eq!(
            b,
            "{\"errors\":[{\"code\":\"NO_FILENAME\",\"message\":\"No file/role name provided.\"}]}\n"
        );
        let (s, b) = body(ServiceError::Invalid(ValidationError::StoredUnusable {
            gun: "g".into(),
            role: "root".into(),
            msg: "x".into(),
        }));
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(!b.contains("detail"));
    }

    #[test]
    fn long_messages_stay_under_one_kib() {
        let (_, b) = body(ServiceError::Invalid(ValidationError::BadTargets {
            gun: "g".into(),
            role: "targets".into(),
            msg: "é".repeat(5000),
        }));
        assert!(b.len() < 1024, "{}", b.len());
        let (_, b) = body(ServerError::InvalidRole {
            gun: "g".into(),
            role: "x".repeat(5000),
        });
        assert!(b.len() < 1024);
    }

    #[test]
    fn storage_faults_are_503_with_their_cause() {
        use crate::store::StoreError;
        use sqlx::ConnectOptions as _;

        // A real SQLITE_READONLY error: a write on a connection opened read-only.
        let dir = tempfile::tempdir().unwrap();
        let opts = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(dir.path().join("db.sqlite"))
            .create_if_missing(true);
        let source = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(async {
                drop(opts.connect().await.unwrap());
                let mut ro = opts.read_only(true).connect().await.unwrap();
                sqlx::query("CREATE TABLE t (x INTEGER)")
                    .execute(&mut ro)
                    .await
                    .unwrap_err()
            });
        let err = ServiceError::from_store_write("g", StoreError::from_sqlx("update of g", source));
        let (status, b) = body(err);
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            b,
            "{\"errors\":[{\"code\":\"UNAVAILABLE\",\"message\":\"service unavailable\",\"detail\":\"storage read-only: the server's database cannot be written; nothing was stored\"}]}\n"
        );

        // Connection trouble stays a 503 without a detail.
        let (status, b) = body(ServiceError::from_store_read(
            "g",
            StoreError::from_sqlx("read of g root", sqlx::Error::PoolTimedOut),
        ));
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(!b.contains("detail"), "{b}");
    }

    #[test]
    fn atoi_detail() {
        let (s, b) = body(ServerError::BadVersionNumber {
            gun: "g".into(),
            role: "root".into(),
            text: "99999999999999999999".into(),
        });
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert!(b.contains(
            "\"detail\":{\"Func\":\"Atoi\",\"Num\":\"99999999999999999999\",\"Err\":{}}"
        ));
    }
}
