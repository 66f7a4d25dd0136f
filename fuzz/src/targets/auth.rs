//! `auth`: what a trust server or registry answers when authentication is needed: the
//! `WWW-Authenticate` header of a 401 and the token service's JSON response.
//!
//! Input: any bytes, read (when UTF-8) as one `WWW-Authenticate` value, and as the body of a
//! token response (one parser serves the trust-server client and the registry client).
//! Invariant: an accepted token is non-empty.

use signet_client::http::{auth, token};

/// Runs one input; `true` when it held a challenge or a token.
pub fn run(data: &[u8]) -> bool {
    let mut accepted = false;
    if let Ok(header) = std::str::from_utf8(data) {
        let challenges = auth::parse_challenges(header);
        let _ = auth::bearer_error(header);
        accepted |= !challenges.is_empty();
    }
    if let Ok(token) = token::parse_token(data) {
        assert!(!token.is_empty(), "an empty token was accepted");
        accepted = true;
    }
    accepted
}
