//! `GET /v2/_trust/keys/<keyid>/repositories`: which repositories trust a key.
//!
//! The answer (documented in the server README) is one page of
//! [`crate::store::Store::trusted_by`]:
//!
//! ```json
//! {"key_id": "<keyid>",
//!  "repositories": [{"gun": "<gun>", "role": "<role>", "key_id": "<ID the metadata lists>"}],
//!  "next": "<cursor>" | null}
//! ```
//!
//! `limit` (1 to 1000, default 100) bounds a page; `after=<next>` asks for the page after
//! one. With GUN prefixes configured, repositories outside them are left out (a page may then
//! hold fewer entries than the limit; `next` still says whether more may follow).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use signet_tuf::KeyId;

use super::AppState;
use super::handlers::{query_param, text};
use crate::error::ServerError;
use crate::store::TrustCursor;
use axum::response::Response;

/// Entries of a page when `limit` is not given.
pub(crate) const DEFAULT_LIMIT: u32 = 100;

#[derive(Serialize)]
struct Answer<'a> {
    key_id: &'a str,
    repositories: Vec<Entry<'a>>,
    next: Option<String>,
}

#[derive(Serialize)]
struct Entry<'a> {
    gun: &'a str,
    role: &'a str,
    key_id: &'a str,
}

/// The key ID of the path, lowercased: 64 hex digits.
pub(crate) fn parse_key_id(text: &str) -> Result<KeyId, ServerError> {
    text.to_ascii_lowercase()
        .parse()
        .map_err(|_| ServerError::InvalidKeyId {
            key_id: text.chars().take(100).collect(),
        })
}

/// The opaque text of a cursor: URL-safe base64 of the JSON `[gun, role]`.
pub(crate) fn encode_cursor(c: &TrustCursor) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::json!([c.gun, c.role]).to_string())
}

/// A cursor from its text, `None` when it is not one.
pub(crate) fn decode_cursor(text: &str) -> Option<TrustCursor> {
    let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
    let (gun, role): (String, String) = serde_json::from_slice(&bytes).ok()?;
    Some(TrustCursor { gun, role })
}

/// Answers `GET /v2/_trust/keys/<keyid>/repositories`.
pub(crate) async fn answer(
    state: &AppState,
    key_id: &str,
    query: Option<&str>,
) -> Result<Response, ServerError> {
    let id = parse_key_id(key_id)?;
    let bad = |detail: String| ServerError::InvalidTrustQuery {
        key_id: id.to_string(),
        detail,
    };
    let limit = match query_param(query, "limit") {
        None => DEFAULT_LIMIT,
        Some(l) => l
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=crate::store::MAX_TRUST_PAGE).contains(n))
            .ok_or_else(|| {
                bad(format!(
                    "invalid limit {l:?}: a number from 1 to {}",
                    crate::store::MAX_TRUST_PAGE
                ))
            })?,
    };
    let after = match query_param(query, "after") {
        None => None,
        Some(a) => Some(decode_cursor(&a).ok_or_else(|| bad(format!("invalid after {a:?}")))?),
    };
    let page = state
        .repo()
        .trusted_by(id.as_str(), after.as_ref(), limit)
        .await?;
    let prefixes = &state.settings().gun_prefixes;
    let served = |gun: &str| prefixes.is_empty() || prefixes.iter().any(|p| gun.starts_with(p));
    let body = serde_json::to_vec(&Answer {
        key_id: id.as_str(),
        repositories: page
            .roles
            .iter()
            .filter(|r| served(&r.gun))
            .map(|r| Entry {
                gun: &r.gun,
                role: &r.role,
                key_id: &r.listed_key_id,
            })
            .collect(),
        next: page.next.as_ref().map(encode_cursor),
    })
    .map_err(|e| ServerError::Internal(format!("key trust encoding: {e}")))?;
    Ok(text(body))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn key_ids_are_64_hex_digits_in_any_case() {
        let upper = "AB".repeat(32);
        assert_eq!(parse_key_id(&upper).unwrap().as_str(), "ab".repeat(32));
        for bad in ["", "abc", &"g".repeat(64), &"a".repeat(65)] {
            assert!(matches!(
                parse_key_id(bad),
                Err(ServerError::InvalidKeyId { .. })
            ));
        }
    }

    #[test]
    fn cursors_round_trip() {
        let c = TrustCursor {
            gun: "docker.io/a b&c".into(),
            role: "targets/x".into(),
        };
        let text = encode_cursor(&c);
        assert!(
            text.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(decode_cursor(&text), Some(c));
        assert_eq!(decode_cursor("!!"), None);
        assert_eq!(decode_cursor(&URL_SAFE_NO_PAD.encode("[1]")), None);
    }
}
