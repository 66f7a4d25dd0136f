//! Docker-distribution bearer tokens, the one token session of the client: fetching a token
//! from the realm a `Bearer` challenge names, and the cache of tokens a client keeps.
//!
//! `GET <realm>?service=<service>&scope=<scope>[&account=<user>]`, basic-authenticated when
//! credentials are known. The answer is `{"token":…}` or `{"access_token":…}`; as in the Go
//! distribution client, `access_token` wins when both are present.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, PoisonError};

use reqwest::Url;
use reqwest::header::{AUTHORIZATION, CONTENT_LENGTH};
use serde::Deserialize;

use super::auth::{self, Credentials};
use super::{error_chain, header_u64, read_prefix};

/// Largest token service answer read (1 MiB).
pub const MAX_TOKEN_RESPONSE_SIZE: u64 = 1 << 20;

/// How much of a refusal's body is kept for the error message.
const MAX_REFUSAL_BODY: usize = 64 << 10;

/// What a token is for: the realm and service of the challenge, the scope, and who asked.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct TokenKey {
    /// The token service URL.
    pub(crate) realm: String,
    /// The `service` parameter of the challenge.
    pub(crate) service: Option<String>,
    /// `repository:<name>:<actions>`.
    pub(crate) scope: String,
    /// The user name the token was fetched with; `None` for an anonymous token.
    pub(crate) user: Option<String>,
}

impl TokenKey {
    /// The key for a request made with `credentials` (or anonymously).
    pub(crate) fn new(
        realm: &str,
        service: Option<&str>,
        scope: String,
        credentials: Option<&Credentials>,
    ) -> Self {
        Self {
            realm: realm.to_owned(),
            service: service.map(str::to_owned),
            scope,
            user: credentials.map(|c| c.username().to_owned()),
        }
    }
}

/// The tokens a client holds, by [`TokenKey`].
#[derive(Default)]
pub(crate) struct TokenCache {
    tokens: Mutex<HashMap<TokenKey, String>>,
}

impl TokenCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<TokenKey, String>> {
        self.tokens.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The `Authorization` header value of a cached token.
    pub(crate) fn header(&self, key: &TokenKey) -> Option<String> {
        self.lock().get(key).map(|t| bearer(t))
    }

    /// Remembers `token`.
    pub(crate) fn insert(&self, key: TokenKey, token: String) {
        self.lock().insert(key, token);
    }

    /// Forgets the token of `key` (the server called it invalid or refused it).
    pub(crate) fn remove(&self, key: &TokenKey) {
        self.lock().remove(key);
    }

    /// The header for `key`: the cached token, or one fetched (and cached) now.
    ///
    /// # Errors
    ///
    /// [`TokenError`] when no token could be had.
    pub(crate) async fn get_or_fetch(
        &self,
        http: &reqwest::Client,
        key: &TokenKey,
        credentials: Option<&Credentials>,
    ) -> Result<String, TokenError> {
        if let Some(header) = self.header(key) {
            return Ok(header);
        }
        let token = fetch(http, key, credentials).await?;
        let header = bearer(&token);
        self.insert(key.clone(), token);
        Ok(header)
    }
}

/// `Bearer <token>`.
fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// Why no token was had. Each API words these its own way (the texts users know); the
/// [`Display`](fmt::Display) form is a neutral one.
#[derive(Debug)]
pub enum TokenError {
    /// The realm is not a URL.
    Realm(String),
    /// The realm is a URL of another scheme than http(s).
    RealmScheme,
    /// The request could not be sent (the error chain).
    Send(String),
    /// The token service answered a status other than 2xx, with (the start of) its body.
    Status {
        /// The status.
        status: u16,
        /// The body, cut to 64 KiB.
        body: Vec<u8>,
    },
    /// The answer is larger than [`MAX_TOKEN_RESPONSE_SIZE`].
    TooLarge,
    /// Reading the answer failed (the error chain).
    Read(String),
    /// The answer is not the JSON of a token.
    NotAToken(serde_json::Error),
    /// The answer holds no token.
    NoToken,
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Realm(e) => write!(f, "the realm is not a URL: {e}"),
            Self::RealmScheme => f.write_str("the realm is not an http(s) URL"),
            Self::Send(reason) | Self::Read(reason) => f.write_str(reason),
            Self::Status { status, .. } => write!(f, "the token service answered {status}"),
            Self::TooLarge => write!(
                f,
                "the token response is larger than {MAX_TOKEN_RESPONSE_SIZE} bytes"
            ),
            Self::NotAToken(e) => write!(f, "the response is not a token: {e}"),
            Self::NoToken => f.write_str("the response holds no token"),
        }
    }
}

/// Fetches a token for `key`, basic-authenticated with `credentials` when given.
///
/// # Errors
///
/// [`TokenError`] saying which step failed.
pub(crate) async fn fetch(
    http: &reqwest::Client,
    key: &TokenKey,
    credentials: Option<&Credentials>,
) -> Result<String, TokenError> {
    let mut url = Url::parse(&key.realm).map_err(|e| TokenError::Realm(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(TokenError::RealmScheme);
    }
    {
        let mut query = url.query_pairs_mut();
        if let Some(service) = &key.service {
            query.append_pair("service", service);
        }
        query.append_pair("scope", &key.scope);
        if let Some(credentials) = credentials {
            query.append_pair("account", credentials.username());
        }
    }
    let mut request = http.get(url);
    if let Some(credentials) = credentials {
        request = request.header(AUTHORIZATION, auth::basic_authorization(credentials));
    }
    let mut response = request
        .send()
        .await
        .map_err(|e| TokenError::Send(error_chain(&e)))?;
    let status = response.status();
    if !status.is_success() {
        return Err(TokenError::Status {
            status: status.as_u16(),
            body: read_prefix(&mut response, MAX_REFUSAL_BODY).await,
        });
    }
    if header_u64(response.headers(), CONTENT_LENGTH.as_str())
        .is_some_and(|length| length > MAX_TOKEN_RESPONSE_SIZE)
    {
        return Err(TokenError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| TokenError::Read(error_chain(&e)))?
    {
        if (body.len() + chunk.len()) as u64 > MAX_TOKEN_RESPONSE_SIZE {
            return Err(TokenError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    parse_token(&body)
}

/// The token of a token service answer: `access_token` when present and non-empty, else
/// `token`.
///
/// # Errors
///
/// [`TokenError::NotAToken`] or [`TokenError::NoToken`].
pub fn parse_token(body: &[u8]) -> Result<String, TokenError> {
    #[derive(Deserialize)]
    struct TokenResponse {
        #[serde(default)]
        token: Option<String>,
        #[serde(default)]
        access_token: Option<String>,
    }
    let parsed: TokenResponse = serde_json::from_slice(body).map_err(TokenError::NotAToken)?;
    parsed
        .access_token
        .filter(|t| !t.is_empty())
        .or(parsed.token)
        .filter(|t| !t.is_empty())
        .ok_or(TokenError::NoToken)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_answers() {
        assert_eq!(parse_token(br#"{"token":"a"}"#).unwrap(), "a");
        assert_eq!(parse_token(br#"{"access_token":"b"}"#).unwrap(), "b");
        assert_eq!(
            parse_token(br#"{"token":"a","access_token":"b"}"#).unwrap(),
            "b",
            "access_token wins, as in the Go distribution client"
        );
        assert_eq!(
            parse_token(br#"{"token":"a","access_token":""}"#).unwrap(),
            "a"
        );
        assert!(matches!(
            parse_token(br#"{"token":""}"#),
            Err(TokenError::NoToken)
        ));
        assert!(matches!(
            parse_token(b"<html>"),
            Err(TokenError::NotAToken(_))
        ));
    }

    #[test]
    fn cache_is_keyed_by_scope_and_user() {
        let cache = TokenCache::default();
        let anonymous = TokenKey::new(
            "https://auth/token",
            Some("reg"),
            "repository:a:pull".into(),
            None,
        );
        let alice = Credentials::new("alice", "pw");
        let user = TokenKey::new(
            "https://auth/token",
            Some("reg"),
            "repository:a:pull".into(),
            Some(&alice),
        );
        cache.insert(anonymous.clone(), "t1".into());
        assert_eq!(cache.header(&anonymous).as_deref(), Some("Bearer t1"));
        assert_eq!(cache.header(&user), None);
        cache.remove(&anonymous);
        assert_eq!(cache.header(&anonymous), None);
    }
}
