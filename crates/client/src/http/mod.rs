//! The HTTP layer under the client's two remote APIs, the Notary server ([`crate::remote`]) and
//! OCI registries ([`crate::registry`]), which sit on top of it as peers:
//!
//! * [`tls`]: root certificates, client certificates and skip-verify, on rustls' `ring`
//!   provider;
//! * [`auth`]: credentials, where they come from, and `WWW-Authenticate` challenges;
//! * [`token`]: docker-distribution bearer tokens and their cache, one session per client;
//! * [`failure`]: why a request got no answer (TLS, wrong scheme, refused, DNS, timeout,
//!   proxy), classified from the typed errors under `reqwest`;
//! * [`client`]: the `reqwest` client both APIs send with, and the helpers that turn transport
//!   failures and bodies into text for errors.

pub mod auth;
pub mod failure;
pub mod tls;
pub mod token;

use std::time::Duration;

use reqwest::header::{HeaderMap, WWW_AUTHENTICATE};

pub use auth::{CredentialSource, Credentials};
pub use tls::{ClientIdentity, TlsOptions};

use auth::Challenge;

/// Builds the HTTP client of one remote: `tls`, no redirects (a redirect could carry
/// credentials elsewhere), the user agent and the timeouts.
///
/// # Errors
///
/// The error chain as text when the TLS configuration or the client cannot be built.
pub(crate) fn client(
    tls: &TlsOptions,
    user_agent: &str,
    connect_timeout: Duration,
    request_timeout: Option<Duration>,
) -> Result<reqwest::Client, ClientBuildError> {
    tls::install_ring_provider();
    let tls_config = tls
        .client_config()
        .map_err(|e| ClientBuildError::Tls(Box::new(e)))?;
    let mut builder = reqwest::Client::builder()
        .use_preconfigured_tls(tls_config)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(user_agent)
        .dns_resolver(failure::Resolver::shared())
        .connect_timeout(connect_timeout);
    if let Some(timeout) = request_timeout {
        builder = builder.timeout(timeout);
    }
    builder
        .build()
        .map_err(|e| ClientBuildError::Client(error_chain(&e)))
}

/// Why [`client`] failed.
pub(crate) enum ClientBuildError {
    /// The TLS files or settings cannot be used.
    Tls(Box<crate::Error>),
    /// `reqwest` refused the configuration (the error chain).
    Client(String),
}

/// Every challenge of every `WWW-Authenticate` header.
pub(crate) fn challenges(headers: &HeaderMap) -> Vec<Challenge> {
    headers
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(auth::parse_challenges)
        .collect()
}

/// Whether a `WWW-Authenticate` header of `headers` reports the bearer error `invalid_token`
/// (an expired token: drop it and fetch another).
pub(crate) fn has_invalid_token(headers: &HeaderMap) -> bool {
    headers
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(auth::bearer_error)
        .any(|e| e == "invalid_token")
}

/// The first `limit` bytes of a response's body (for an error message); the rest is dropped,
/// and a transport failure just ends the body.
pub(crate) async fn read_prefix(response: &mut reqwest::Response, limit: usize) -> Vec<u8> {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = limit.saturating_sub(body.len());
        body.extend_from_slice(chunk.get(..chunk.len().min(room)).unwrap_or_default());
        if room <= chunk.len() {
            break;
        }
    }
    body
}

/// A header's value as a number.
pub(crate) fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// An error and its causes, `: `-separated (a cause already contained in the text is not
/// repeated).
pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
