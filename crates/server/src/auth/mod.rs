//! Token authentication compatible with the docker registry token specification, as the Go
//! notary-server applies it: every route names the accesses it needs, and a request without
//! a token granting all of them gets a 401 with a `WWW-Authenticate: Bearer` challenge.

mod token;

use serde::Serialize;

pub use token::{TokenAuth, TokenAuthSettings, TokenError};

/// One access a route needs: a resource and an action on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    /// `repository` or `registry`.
    pub kind: String,
    /// The GUN, or `catalog`.
    pub name: String,
    /// `pull`, `push` or `*`.
    pub action: String,
}

impl Access {
    /// An action on a repository.
    pub fn repository(gun: &str, action: &str) -> Self {
        Self {
            kind: "repository".into(),
            name: gun.into(),
            action: action.into(),
        }
    }

    /// `registry:catalog:*`, needed by the routes that name no GUN.
    pub fn catalog() -> Self {
        Self {
            kind: "registry".into(),
            name: "catalog".into(),
            action: "*".into(),
        }
    }
}

/// Which repositories a caller may read, for listings ([`TokenAuth::readable`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readable {
    /// Every repository (no token auth, or a token granting the catalogue).
    All,
    /// Only these GUNs, sorted (those the token grants `pull` on).
    Only(Vec<String>),
}

/// One needed access as the error detail lists it.
#[derive(Debug, Serialize)]
pub struct AccessDetail<'a> {
    #[serde(rename = "Type")]
    kind: &'a str,
    #[serde(rename = "Class")]
    class: &'a str,
    #[serde(rename = "Name")]
    name: &'a str,
    #[serde(rename = "Action")]
    action: &'a str,
}

/// Why a token was refused, as the challenge's `error` parameter says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeError {
    /// No token at all: no `error` parameter.
    Missing,
    /// A token that is malformed, badly signed, expired or for someone else.
    InvalidToken,
    /// A valid token that does not grant every needed access.
    InsufficientScope,
}

/// The 401 answer to a request without sufficient access.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The token realm (the token server's URL).
    pub realm: String,
    /// The service name.
    pub service: String,
    /// The accesses the route needs.
    pub accesses: Vec<Access>,
    /// Why the token was refused.
    pub error: ChallengeError,
}

impl std::fmt::Display for Challenge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.scope())
    }
}

impl Challenge {
    /// The scope string: `repository:<gun>:push,pull` or `registry:catalog:*`.
    pub fn scope(&self) -> String {
        let Some(first) = self.accesses.first() else {
            return String::new();
        };
        let actions: Vec<&str> = self.accesses.iter().map(|a| a.action.as_str()).collect();
        format!("{}:{}:{}", first.kind, first.name, actions.join(","))
    }

    /// The `WWW-Authenticate` header value.
    pub fn header_value(&self) -> String {
        let mut v = format!(
            "Bearer realm={},service={},scope={}",
            quote(&self.realm),
            quote(&self.service),
            quote(&self.scope())
        );
        match self.error {
            ChallengeError::Missing => {}
            ChallengeError::InvalidToken => v.push_str(",error=\"invalid_token\""),
            ChallengeError::InsufficientScope => v.push_str(",error=\"insufficient_scope\""),
        }
        v
    }

    /// The error detail: the list of needed accesses.
    pub fn detail(&self) -> Vec<AccessDetail<'_>> {
        self.accesses
            .iter()
            .map(|a| AccessDetail {
                kind: &a.kind,
                class: "",
                name: &a.name,
                action: &a.action,
            })
            .collect()
    }
}

/// A quoted-string for a header parameter.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_format() {
        let c = Challenge {
            realm: "https://auth.example/token".into(),
            service: "notary".into(),
            accesses: vec![
                Access::repository("docker.io/a", "push"),
                Access::repository("docker.io/a", "pull"),
            ],
            error: ChallengeError::Missing,
        };
        assert_eq!(
            c.header_value(),
            "Bearer realm=\"https://auth.example/token\",service=\"notary\",scope=\"repository:docker.io/a:push,pull\""
        );
        assert_eq!(
            serde_json::to_string(&c.detail()).unwrap(),
            "[{\"Type\":\"repository\",\"Class\":\"\",\"Name\":\"docker.io/a\",\"Action\":\"push\"},{\"Type\":\"repository\",\"Class\":\"\",\"Name\":\"docker.io/a\",\"Action\":\"pull\"}]"
        );
        let c = Challenge {
            accesses: vec![Access::catalog()],
            error: ChallengeError::InsufficientScope,
            ..c
        };
        assert!(
            c.header_value()
                .ends_with("scope=\"registry:catalog:*\",error=\"insufficient_scope\"")
        );
    }
}
