//! Authentication against a trust server or a registry: `WWW-Authenticate` challenges,
//! docker-distribution bearer tokens (fetched in [`super::token`]) and HTTP basic auth, and
//! where credentials come from.
//!
//! On a 401 the server names a scheme:
//!
//! * `Bearer realm="…",service="…",scope="…"`: a token is fetched with
//!   `GET <realm>?service=<service>&scope=repository:<gun>:<actions>` (basic-authenticated
//!   when credentials are known, with `account=<user>`), and the request is retried with
//!   `Authorization: Bearer <token>`. The response is `{"token":…}` or `{"access_token":…}`.
//! * `Basic realm="…"`: the request is retried with `Authorization: Basic …`.
//!
//! Read-only access first tries anonymously and only then with credentials, as the notary
//! CLI does.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use crate::error::{Error, RemoteError, Result};

/// The environment variable holding `base64(user:password)` for the notary CLI.
pub const NOTARY_AUTH_ENV: &str = "NOTARY_AUTH";

/// A user name and password.
#[derive(Clone)]
pub struct Credentials {
    username: String,
    password: Zeroizing<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// Credentials from a user name and password.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            username: username.into(),
            password: Zeroizing::new(password.into()),
        }
    }

    /// The user name.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// The password.
    pub fn password(&self) -> &str {
        &self.password
    }

    /// Decodes a `NOTARY_AUTH` value: standard base64 of `user:password` (the password is
    /// trimmed of surrounding white space, as the notary CLI does).
    ///
    /// # Errors
    ///
    /// [`RemoteError::InvalidCredentials`] for bad base64, a missing `:` or an empty user name.
    pub fn from_notary_auth(value: &str) -> Result<Self> {
        let decoded = Zeroizing::new(STANDARD.decode(value.trim()).map_err(|_| {
            Error::Remote(RemoteError::InvalidCredentials {
                reason: "could not base64-decode authentication string".to_owned(),
            })
        })?);
        let text = std::str::from_utf8(&decoded).map_err(|_| {
            Error::Remote(RemoteError::InvalidCredentials {
                reason: "authentication string is not UTF-8".to_owned(),
            })
        })?;
        match text.find(':') {
            Some(0) => Err(Error::Remote(RemoteError::InvalidCredentials {
                reason: "authentication string with zero-length username".to_owned(),
            })),
            Some(i) => Ok(Self::new(&text[..i], text[i + 1..].trim())),
            None => Err(Error::Remote(RemoteError::InvalidCredentials {
                reason: "malformatted authentication string; format must be <username>:<password>"
                    .to_owned(),
            })),
        }
    }

    /// Reads `NOTARY_AUTH`; `None` when it is unset or empty.
    ///
    /// # Errors
    ///
    /// As [`from_notary_auth`](Self::from_notary_auth).
    pub fn from_env() -> Result<Option<Self>> {
        match std::env::var(NOTARY_AUTH_ENV) {
            Ok(value) if !value.is_empty() => Self::from_notary_auth(&value).map(Some),
            _ => Ok(None),
        }
    }

    fn basic_header(&self) -> String {
        let plain = Zeroizing::new(format!("{}:{}", self.username, self.password.as_str()));
        format!("Basic {}", STANDARD.encode(plain.as_bytes()))
    }
}

/// Where credentials come from when a server asks for them (for example a prompt). It is asked
/// at most once per [`RemoteStore`](super::RemoteStore) and may block.
pub trait CredentialSource: Send + Sync {
    /// Credentials for `server` (the trust server's base URL), or `None` to stay anonymous.
    fn credentials(&self, server: &str) -> Option<Credentials>;
}

impl CredentialSource for Credentials {
    fn credentials(&self, _server: &str) -> Option<Credentials> {
        Some(self.clone())
    }
}

impl<F> CredentialSource for F
where
    F: Fn(&str) -> Option<Credentials> + Send + Sync,
{
    fn credentials(&self, server: &str) -> Option<Credentials> {
        self(server)
    }
}

/// A parsed authentication challenge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Challenge {
    /// `Bearer` with its parameters.
    Bearer {
        /// The token service's URL.
        realm: String,
        /// The `service` parameter to ask the token service for, if given.
        service: Option<String>,
    },
    /// `Basic`.
    Basic,
}

/// Parses every challenge of one `WWW-Authenticate` header value; unknown schemes are skipped.
/// Never fails: what cannot be read is left out.
pub fn parse_challenges(header: &str) -> Vec<Challenge> {
    let mut challenges = Vec::new();
    for (scheme, params) in split_challenges(header) {
        let param = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        if scheme.eq_ignore_ascii_case("bearer") {
            if let Some(realm) = param("realm") {
                challenges.push(Challenge::Bearer {
                    realm,
                    service: param("service"),
                });
            }
        } else if scheme.eq_ignore_ascii_case("basic") {
            challenges.push(Challenge::Basic);
        }
    }
    challenges
}

/// The `error` parameter of a bearer challenge (`invalid_token`, `insufficient_scope`).
pub fn bearer_error(header: &str) -> Option<String> {
    split_challenges(header)
        .into_iter()
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .flat_map(|(_, params)| params)
        .find(|(k, _)| k.eq_ignore_ascii_case("error"))
        .map(|(_, v)| v)
}

type RawChallenge = (String, Vec<(String, String)>);

/// Splits `Scheme k=v, k="v", Other k=v` into challenges.
fn split_challenges(header: &str) -> Vec<RawChallenge> {
    let mut out: Vec<RawChallenge> = Vec::new();
    let mut rest = header.trim();
    while !rest.is_empty() {
        // Every kind of whitespace: a token ends at any of them, so a separator left here
        // would give an empty token and no progress.
        rest = rest.trim_start_matches(|c: char| c == ',' || c.is_whitespace());
        if rest.is_empty() {
            break;
        }
        if let Some(after_stray) = rest.strip_prefix('=') {
            // An `=` with no scheme or parameter name before it: skip it.
            rest = after_stray;
            continue;
        }
        let token_end = rest
            .find(|c: char| c == '=' || c == ',' || c.is_whitespace())
            .unwrap_or(rest.len());
        let token = &rest[..token_end];
        let after = &rest[token_end..];
        if after.trim_start().starts_with('=') && !out.is_empty() {
            // A parameter of the current challenge.
            let value_start = after.trim_start()[1..].trim_start();
            let (value, remaining) = read_value(value_start);
            if let Some(last) = out.last_mut() {
                last.1.push((token.to_owned(), value));
            }
            rest = remaining;
        } else {
            out.push((token.to_owned(), Vec::new()));
            rest = after;
        }
    }
    out
}

/// Reads a token or quoted-string value; returns it and the text after it.
fn read_value(input: &str) -> (String, &str) {
    if let Some(quoted) = input.strip_prefix('"') {
        let mut value = String::new();
        let mut chars = quoted.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, next)) = chars.next() {
                        value.push(next);
                    }
                }
                '"' => return (value, &quoted[i + 1..]),
                _ => value.push(c),
            }
        }
        (value, "")
    } else {
        let end = input
            .find(|c: char| c == ',' || c.is_whitespace())
            .unwrap_or(input.len());
        (input[..end].to_owned(), &input[end..])
    }
}

/// Which credentials an attempt uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Identity {
    Anonymous,
    User,
}

/// Credentials obtained from the caller's source, asked for once.
pub(crate) struct CredentialCache {
    source: Option<Arc<dyn CredentialSource>>,
    asked: Option<Option<Credentials>>,
}

impl CredentialCache {
    pub(crate) fn new(source: Option<Arc<dyn CredentialSource>>) -> Self {
        Self {
            source,
            asked: None,
        }
    }

    pub(crate) fn get(&mut self, server: &str) -> Option<Credentials> {
        if self.asked.is_none() {
            let creds = self.source.as_ref().and_then(|s| s.credentials(server));
            self.asked = Some(creds);
        }
        self.asked.clone().flatten()
    }

    pub(crate) fn has_source(&self) -> bool {
        self.source.is_some()
    }
}

/// The `Authorization` header for a basic challenge.
pub(crate) fn basic_authorization(creds: &Credentials) -> String {
    creds.basic_header()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_notary_server_challenges() {
        let header = r#"Bearer realm="https://auth.example/token",service="notary-test",scope="repository:a/b:push,pull""#;
        assert_eq!(
            parse_challenges(header),
            [Challenge::Bearer {
                realm: "https://auth.example/token".into(),
                service: Some("notary-test".into()),
            }]
        );
        let with_error = r#"Bearer realm="r",service="s",scope="x",error="invalid_token""#;
        assert_eq!(parse_challenges(with_error).len(), 1);
        assert_eq!(bearer_error(with_error).as_deref(), Some("invalid_token"));
        assert_eq!(bearer_error(header), None);
        assert_eq!(
            parse_challenges(r#"Basic realm="Registry Realm""#),
            [Challenge::Basic]
        );
        assert_eq!(
            parse_challenges(r#"Basic realm="x", Bearer realm=tok,service="a\"b""#),
            [
                Challenge::Basic,
                Challenge::Bearer {
                    realm: "tok".into(),
                    service: Some("a\"b".into())
                }
            ]
        );
        assert!(parse_challenges("Negotiate").is_empty());
        assert!(parse_challenges("Bearer service=x").is_empty(), "no realm");
        assert!(parse_challenges("").is_empty());
        assert!(parse_challenges(r#"Bearer realm="unterminated"#).len() == 1);
    }

    #[test]
    fn malformed_headers_end() {
        // Found by the `auth` fuzz target: a line feed or a leading `=` made the splitter
        // loop forever, growing its list of challenges without bound.
        assert!(parse_challenges("=").is_empty());
        assert!(parse_challenges("=x, =").is_empty());
        assert!(parse_challenges("{\"access_token\"\n\"ivr\",\"token\":\"g\"}").is_empty());
        assert_eq!(
            parse_challenges("Basic realm=x,\r\n\x0bBearer realm=\"r\"\n= service=s"),
            vec![
                Challenge::Basic,
                Challenge::Bearer {
                    realm: "r".to_owned(),
                    service: Some("s".to_owned()),
                },
            ]
        );
        assert_eq!(bearer_error("\n=\n"), None);
    }

    #[test]
    fn notary_auth_env_format() {
        let creds = Credentials::from_notary_auth(&STANDARD.encode("alice:s3cret \n")).unwrap();
        assert_eq!(creds.username(), "alice");
        assert_eq!(creds.password(), "s3cret");
        let colon = Credentials::from_notary_auth(&STANDARD.encode("bob:pa:ss")).unwrap();
        assert_eq!(colon.password(), "pa:ss");
        assert!(Credentials::from_notary_auth("!!!").is_err());
        assert!(Credentials::from_notary_auth(&STANDARD.encode(":pw")).is_err());
        assert!(Credentials::from_notary_auth(&STANDARD.encode("nocolon")).is_err());
        assert_eq!(
            basic_authorization(&Credentials::new("u", "p")),
            format!("Basic {}", STANDARD.encode("u:p"))
        );
        assert!(!format!("{creds:?}").contains("s3cret"));
    }

    #[test]
    fn credential_source_is_asked_once() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = calls.clone();
        let source = move |_: &str| {
            counter.fetch_add(1, Ordering::SeqCst);
            Some(Credentials::new("u", "p"))
        };
        let mut cache = CredentialCache::new(Some(Arc::new(source)));
        assert_eq!(cache.get("s").unwrap().username(), "u");
        assert_eq!(cache.get("s").unwrap().username(), "u");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(CredentialCache::new(None).get("s").is_none());
    }
}
