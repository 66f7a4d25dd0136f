//! Response headers of metadata GETs: content type, `Cache-Control` and `Last-Modified`.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use chrono::{DateTime, Utc};

use super::error::ok;
use crate::service::Served;

/// The content type Go's sniffing gives every metadata and key response.
pub(crate) const TEXT_PLAIN: &str = "text/plain; charset=utf-8";

/// The `Cache-Control` value for a max-age; current metadata must be revalidated.
pub(crate) fn cache_control(max_age: u32, must_revalidate: bool) -> String {
    if max_age == 0 {
        return "max-age=0, no-cache, no-store".to_owned();
    }
    let mut v = format!("public, max-age={max_age}, s-maxage={max_age}");
    if must_revalidate {
        v.push_str(", must-revalidate");
    }
    v
}

/// `Last-Modified` in the HTTP date format (always GMT).
pub(crate) fn http_date(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

fn set(headers: &mut HeaderMap, name: header::HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}

/// A 200 serving the exact stored bytes.
pub(crate) fn metadata(served: Served, max_age: u32, current: bool) -> Response {
    let body = Body::from(served.file.file.data.clone());
    let mut resp = ok(body);
    let h = resp.headers_mut();
    set(h, header::CONTENT_TYPE, TEXT_PLAIN);
    set(h, header::CACHE_CONTROL, &cache_control(max_age, current));
    if max_age == 0 {
        set(h, header::PRAGMA, "no-cache");
    }
    set(h, header::LAST_MODIFIED, &http_date(served.last_modified));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control_values() {
        assert_eq!(
            cache_control(300, true),
            "public, max-age=300, s-maxage=300, must-revalidate"
        );
        assert_eq!(
            cache_control(2_592_000, false),
            "public, max-age=2592000, s-maxage=2592000"
        );
        assert_eq!(cache_control(0, true), "max-age=0, no-cache, no-store");
    }

    #[test]
    fn http_dates_are_gmt() {
        let t = DateTime::parse_from_rfc3339("2026-11-23T15:14:34.5+09:00")
            .unwrap()
            .to_utc();
        assert_eq!(http_date(t), "Mon, 23 Nov 2026 06:14:34 GMT");
    }
}
