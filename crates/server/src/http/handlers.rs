//! Handlers of the routes that need more than one call into the repository service.

use std::fmt::Write as _;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt as _;
use serde::Serialize;

use super::AppState;
use super::error::{health_answer, ok};
use super::headers::TEXT_PLAIN;
use super::upload::read_upload;
use crate::error::ServerError;
use crate::store::Change;
use signet_tuf::notary::gun::percent_decode;
use signet_tuf::notary::multipart::MultipartReader;

/// A 200 with a text body.
pub(crate) fn text(body: impl Into<Body>) -> Response {
    let mut resp = ok(body.into());
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(TEXT_PLAIN));
    resp
}

/// A 200 with an empty body and no content type.
pub(crate) fn empty_ok() -> Response {
    let mut resp = ok(());
    resp.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    resp
}

/// How long each health probe may take before the check fails.
const HEALTH_PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// `GET /_notary_server/health`: the database answers a read, and a write could start now
/// (a write path wedged while reads still work is unhealthy).
pub(crate) async fn health(state: &AppState) -> Response {
    let store = state.repo().store();
    let probes = tokio::join!(
        tokio::time::timeout(HEALTH_PROBE_TIMEOUT, store.ping()),
        tokio::time::timeout(HEALTH_PROBE_TIMEOUT, store.write_probe()),
    );
    let describe = |what: &str, outcome: Result<crate::store::StoreResult<()>, _>| match outcome {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(format!("{what}: {e}")),
        Err(_elapsed) => Some(format!(
            "{what}: no answer within {}s",
            HEALTH_PROBE_TIMEOUT.as_secs()
        )),
    };
    let failure = match (describe("read", probes.0), describe("write", probes.1)) {
        (None, None) => None,
        (Some(e), None) | (None, Some(e)) => Some(e),
        (Some(r), Some(w)) => Some(format!("{r}; {w}")),
    };
    let mut resp = match failure {
        None => health_answer(true, "{}".to_owned()),
        Some(err) => {
            tracing::warn!(error = %err, "health check failed");
            let mut map = serde_json::Map::new();
            map.insert("DB operational".into(), err.into());
            health_answer(false, serde_json::Value::Object(map).to_string())
        }
    };
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    resp
}

/// `GET /metrics`.
pub(crate) async fn metrics(state: &AppState) -> Response {
    let mut text = state.inner.metrics.render();
    state
        .inner
        .db_metrics
        .render(state.repo().store(), &mut text)
        .await;
    let mut resp = ok(text);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    resp
}

/// Reads the whole body, refusing more than `limit` bytes.
async fn read_body(gun: &str, req: Request, limit: usize) -> Result<Bytes, ServerError> {
    let too_large = || ServerError::BodyTooLarge {
        gun: gun.to_owned(),
        limit,
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let mut buf = BytesMut::with_capacity(declared.map_or(8192, |n| n.min(1 << 20) as usize));
    let mut stream = req.into_body().into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ServerError::MalformedUpload {
            gun: gun.to_owned(),
            reason: format!("reading the body failed: {e}"),
        })?;
        if buf.len() + chunk.len() > limit {
            return Err(too_large());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// `POST /v2/<gun>/_trust/tuf/`: parses every part, in order, as the Go server does, then
/// hands the files to the repository service.
pub(crate) async fn update(
    state: &AppState,
    gun: &str,
    req: Request,
) -> Result<Response, ServerError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let malformed = |reason: String| ServerError::MalformedUpload {
        gun: gun.to_owned(),
        reason,
    };
    // Refuse a non-multipart request before reading its body.
    MultipartReader::new(content_type.as_deref(), Bytes::new()).map_err(|e| malformed(e.0))?;
    let body = read_body(gun, req, state.settings().max_body_bytes).await?;
    let files = read_upload(gun, content_type.as_deref(), body)?;
    state.repo().update(gun, files).await?;
    Ok(empty_ok())
}

/// `GET /v2/<gun>/_trust/tuf/<role>.key`.
pub(crate) async fn get_key(
    state: &AppState,
    gun: &str,
    role: &str,
) -> Result<Response, ServerError> {
    let key = state.repo().get_or_create_key(gun, role).await?;
    Ok(text(key))
}

/// `POST /v2/<gun>/_trust/tuf/<role>.key`.
pub(crate) async fn rotate_key(
    state: &AppState,
    gun: &str,
    role: &str,
) -> Result<Response, ServerError> {
    let key = state.repo().rotate_key(gun, role).await?;
    Ok(text(key))
}

#[derive(Serialize)]
struct Feed<'a> {
    count: usize,
    records: Vec<Record<'a>>,
}

#[derive(Serialize)]
struct Record<'a> {
    #[serde(rename = "ID")]
    id: String,
    #[serde(rename = "CreatedAt")]
    created_at: String,
    #[serde(rename = "GUN")]
    gun: &'a str,
    #[serde(rename = "Version")]
    version: i64,
    #[serde(rename = "SHA256")]
    sha256: &'a str,
    #[serde(rename = "Category")]
    category: &'a str,
}

/// Go's RFC 3339 with nanoseconds, trailing zeros of the fraction trimmed.
pub(crate) fn go_rfc3339_nano(t: chrono::DateTime<chrono::Utc>) -> String {
    let mut s = t.format("%Y-%m-%dT%H:%M:%S").to_string();
    let nanos = t.timestamp_subsec_nanos();
    if nanos > 0 {
        let frac = format!("{nanos:09}");
        let _ = write!(s, ".{}", frac.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

/// Go's `strconv.ParseInt(s, 10, 32)`, with its error text.
fn parse_int32(s: &str) -> Result<i64, String> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("strconv.ParseInt: parsing {s:?}: invalid syntax"));
    }
    match s.parse::<i32>() {
        Ok(n) => Ok(i64::from(n)),
        Err(_) => Err(format!(
            "strconv.ParseInt: parsing {s:?}: value out of range"
        )),
    }
}

/// The first value of each query parameter, decoded as a form value.
pub(crate) fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = percent_decode(&k.replace('+', " "))?;
        (k == name).then(|| percent_decode(&v.replace('+', " ")).unwrap_or_default())
    })
}

/// `GET /v2/_trust/changefeed` and `GET /v2/<gun>/_trust/changefeed`.
pub(crate) async fn changefeed(
    state: &AppState,
    gun: Option<&str>,
    query: Option<&str>,
) -> Result<Response, ServerError> {
    let bad = |detail: String| ServerError::InvalidParameters {
        gun: gun.unwrap_or_default().to_owned(),
        detail,
    };
    // `records` may be left out (it then means the default of 100); a present but invalid
    // value is refused as in Go.
    let records = match query_param(query, "records") {
        None => 0,
        Some(r) => parse_int32(&r).map_err(|e| bad(format!("invalid records parameter: {e}")))?,
    };
    let change_id = match query_param(query, "change_id") {
        None => 0,
        Some(c) if c.is_empty() => 0,
        Some(c) => parse_int32(&c).map_err(|e| bad(format!("invalid change_id parameter: {e}")))?,
    };
    let changes: Vec<Change> = state.repo().changes(gun, change_id, records).await?;
    let records: Vec<Record<'_>> = changes
        .iter()
        .map(|c| Record {
            id: c.id.to_string(),
            created_at: go_rfc3339_nano(c.created_at),
            gun: &c.gun,
            version: c.version,
            sha256: &c.sha256,
            category: &c.category,
        })
        .collect();
    let body = serde_json::to_vec(&Feed {
        count: records.len(),
        records,
    })
    .map_err(|e| ServerError::Internal(format!("changefeed encoding: {e}")))?;
    Ok(text(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int32_parsing_like_go() {
        assert_eq!(parse_int32("10"), Ok(10));
        assert_eq!(parse_int32("-5"), Ok(-5));
        assert_eq!(parse_int32("+5"), Ok(5));
        assert_eq!(
            parse_int32(""),
            Err("strconv.ParseInt: parsing \"\": invalid syntax".into())
        );
        assert_eq!(
            parse_int32("99999999999"),
            Err("strconv.ParseInt: parsing \"99999999999\": value out of range".into())
        );
        assert!(parse_int32("1_0").is_err());
        assert!(parse_int32("-").is_err());
    }

    #[test]
    fn query_params() {
        assert_eq!(
            query_param(Some("a=1&records=5"), "records"),
            Some("5".into())
        );
        assert_eq!(
            query_param(Some("records="), "records"),
            Some(String::new())
        );
        assert_eq!(query_param(Some("records"), "records"), Some(String::new()));
        assert_eq!(query_param(Some("x=1"), "records"), None);
        assert_eq!(query_param(None, "records"), None);
        assert_eq!(
            query_param(Some("change%5Fid=%2D1"), "change_id"),
            Some("-1".into())
        );
    }

    #[test]
    fn go_time_format() {
        let t = chrono::DateTime::parse_from_rfc3339("2026-11-23T15:15:54.104808700Z")
            .unwrap()
            .to_utc();
        assert_eq!(go_rfc3339_nano(t), "2026-11-23T15:15:54.1048087Z");
        let t = chrono::DateTime::parse_from_rfc3339("2026-11-23T15:15:54Z")
            .unwrap()
            .to_utc();
        assert_eq!(go_rfc3339_nano(t), "2026-11-23T15:15:54Z");
    }
}
