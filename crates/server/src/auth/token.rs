//! Verification of docker-registry bearer tokens (JWTs): the signing key comes from the
//! token's `x5c` chain, which must lead to a certificate of the configured root bundle, from
//! its `jwk` (an elliptic-curve key that must be the key of a bundle certificate), or from
//! its `kid`, the libtrust ID of a key of a bundle certificate.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, HeaderValue, header};
use base64::Engine as _;
use der::{Decode as _, Encode as _};
use ring::signature::{self as sig, UnparsedPublicKey, VerificationAlgorithm};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;
use serde::Deserialize;
use x509_cert::Certificate;

use super::{Access, Challenge, ChallengeError, Readable};
use crate::error::ServerError;
pub use crate::error::TokenError;

/// Clock skew allowed on `exp` and `nbf`, as the registry token library allows.
const LEEWAY_SECS: i64 = 60;

/// Token auth settings (the Go server's `auth.options`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenAuthSettings {
    /// Where clients get tokens.
    pub realm: String,
    /// The service name tokens must be issued for (`aud`).
    pub service: String,
    /// The issuer tokens must come from (`iss`).
    pub issuer: String,
    /// Use `https://<Host>/auth/token` as the realm.
    pub autoredirect: bool,
}

struct TrustedCert {
    der: Vec<u8>,
    subject: Vec<u8>,
    key: KeyInfo,
    libtrust_id: String,
}

#[derive(Clone)]
struct KeyInfo {
    kind: KeyKind,
    /// SEC1 point for EC keys, PKCS#1 `RSAPublicKey` for RSA keys.
    bytes: Vec<u8>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    P256,
    P384,
    Rsa,
}

/// A token verifier.
pub struct TokenAuth {
    settings: TokenAuthSettings,
    roots: Vec<TrustedCert>,
}

impl std::fmt::Debug for TokenAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenAuth")
            .field("settings", &self.settings)
            .field("roots", &self.roots.len())
            .finish()
    }
}

#[derive(Deserialize)]
struct JoseHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    x5c: Option<Vec<String>>,
    #[serde(default)]
    jwk: Option<Jwk>,
}

/// A JSON Web Key in a token header. Only elliptic-curve keys are understood.
#[derive(Deserialize)]
struct Jwk {
    kty: String,
    #[serde(default)]
    crv: String,
    #[serde(default)]
    x: String,
    #[serde(default)]
    y: String,
}

impl Jwk {
    /// The key as a SEC1 uncompressed point with its curve.
    fn key_info(&self) -> Result<KeyInfo, TokenError> {
        let (kind, len) = match (self.kty.as_str(), self.crv.as_str()) {
            ("EC", "P-256") => (KeyKind::P256, 32),
            ("EC", "P-384") => (KeyKind::P384, 48),
            (kty, crv) => return Err(invalid(format!("unsupported jwk {kty} {crv}"))),
        };
        let x = b64url(&self.x)?;
        let y = b64url(&self.y)?;
        if x.len() != len || y.len() != len {
            return Err(invalid("jwk coordinates have the wrong length"));
        }
        let mut bytes = Vec::with_capacity(1 + 2 * len);
        bytes.push(0x04);
        bytes.extend_from_slice(&x);
        bytes.extend_from_slice(&y);
        Ok(KeyInfo { kind, bytes })
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct Claims {
    #[serde(default)]
    iss: String,
    #[serde(default)]
    aud: Option<Audience>,
    #[serde(default)]
    exp: Option<i64>,
    #[serde(default)]
    nbf: Option<i64>,
    #[serde(default)]
    access: Vec<ResourceActions>,
}

impl Claims {
    /// Whether the token grants `access` (the action itself or `*`).
    fn grants(&self, access: &Access) -> bool {
        self.access.iter().any(|r| {
            r.kind == access.kind
                && r.name == access.name
                && r.actions.iter().any(|a| a == &access.action || a == "*")
        })
    }
}

#[derive(Deserialize)]
struct ResourceActions {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    actions: Vec<String>,
}

fn invalid(msg: impl Into<String>) -> TokenError {
    TokenError::Invalid(msg.into())
}

const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";
const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";
const OID_ECDSA_SHA384: &str = "1.2.840.10045.4.3.3";
const OID_RSA_SHA256: &str = "1.2.840.113549.1.1.11";
const OID_RSA_SHA384: &str = "1.2.840.113549.1.1.12";
const OID_RSA_SHA512: &str = "1.2.840.113549.1.1.13";

fn key_info(cert: &Certificate) -> Result<KeyInfo, TokenError> {
    let spki = &cert.tbs_certificate.subject_public_key_info;
    let bytes = spki.subject_public_key.raw_bytes().to_vec();
    let kind = match spki.algorithm.oid.to_string().as_str() {
        OID_RSA => KeyKind::Rsa,
        OID_EC_PUBLIC_KEY => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<der::asn1::ObjectIdentifier>().ok())
                .map(|o| o.to_string());
            match curve.as_deref() {
                Some(OID_P256) => KeyKind::P256,
                Some(OID_P384) => KeyKind::P384,
                other => return Err(invalid(format!("unsupported curve {other:?}"))),
            }
        }
        other => return Err(invalid(format!("unsupported key algorithm {other}"))),
    };
    Ok(KeyInfo { kind, bytes })
}

/// libtrust's key ID: base32 of the first 240 bits of SHA-256 of the DER public key, in
/// colon-separated groups of four.
fn libtrust_key_id(spki_der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, spki_der);
    let encoded = base32(&digest.as_ref()[..30]);
    encoded
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(":")
}

fn base32(data: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &b in data {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn check_validity(cert: &Certificate, now: i64) -> Result<(), TokenError> {
    let v = &cert.tbs_certificate.validity;
    let nb = i64::try_from(v.not_before.to_unix_duration().as_secs()).unwrap_or(i64::MAX);
    let na = i64::try_from(v.not_after.to_unix_duration().as_secs()).unwrap_or(i64::MAX);
    if now < nb || now > na {
        return Err(invalid("a certificate of the token chain is not valid now"));
    }
    Ok(())
}

/// Verifies that `cert` was signed by `issuer_key`.
fn verify_cert_signature(cert: &Certificate, issuer_key: &KeyInfo) -> Result<(), TokenError> {
    let alg: &dyn VerificationAlgorithm = match (
        cert.signature_algorithm.oid.to_string().as_str(),
        issuer_key.kind,
    ) {
        (OID_ECDSA_SHA256, KeyKind::P256) => &sig::ECDSA_P256_SHA256_ASN1,
        (OID_ECDSA_SHA256, KeyKind::P384) => &sig::ECDSA_P384_SHA256_ASN1,
        (OID_ECDSA_SHA384, KeyKind::P256) => &sig::ECDSA_P256_SHA384_ASN1,
        (OID_ECDSA_SHA384, KeyKind::P384) => &sig::ECDSA_P384_SHA384_ASN1,
        (OID_RSA_SHA256, KeyKind::Rsa) => &sig::RSA_PKCS1_2048_8192_SHA256,
        (OID_RSA_SHA384, KeyKind::Rsa) => &sig::RSA_PKCS1_2048_8192_SHA384,
        (OID_RSA_SHA512, KeyKind::Rsa) => &sig::RSA_PKCS1_2048_8192_SHA512,
        (other, _) => {
            return Err(invalid(format!(
                "unsupported certificate signature {other}"
            )));
        }
    };
    let tbs = cert
        .tbs_certificate
        .to_der()
        .map_err(|e| invalid(format!("certificate encoding: {e}")))?;
    let signature = cert
        .signature
        .as_bytes()
        .ok_or_else(|| invalid("certificate signature is not whole bytes"))?;
    UnparsedPublicKey::new(alg, &issuer_key.bytes)
        .verify(&tbs, signature)
        .map_err(|_| invalid("certificate signature does not verify"))
}

fn b64url(part: &str) -> Result<Vec<u8>, TokenError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|_| invalid("token part is not base64url"))
}

impl TokenAuth {
    /// A verifier trusting the certificates of `bundle_pem`.
    pub fn new(settings: TokenAuthSettings, bundle_pem: &[u8]) -> Result<Self, TokenError> {
        let mut roots = Vec::new();
        for item in CertificateDer::pem_slice_iter(bundle_pem) {
            let der = item.map_err(|e| TokenError::Bundle(e.to_string()))?;
            let cert =
                Certificate::from_der(&der).map_err(|e| TokenError::Bundle(e.to_string()))?;
            let key = key_info(&cert).map_err(|e| TokenError::Bundle(e.to_string()))?;
            let spki_der = cert
                .tbs_certificate
                .subject_public_key_info
                .to_der()
                .map_err(|e| TokenError::Bundle(e.to_string()))?;
            let subject = cert
                .tbs_certificate
                .subject
                .to_der()
                .map_err(|e| TokenError::Bundle(e.to_string()))?;
            roots.push(TrustedCert {
                der: der.to_vec(),
                subject,
                key,
                libtrust_id: libtrust_key_id(&spki_der),
            });
        }
        if roots.is_empty() {
            return Err(TokenError::Bundle("no certificates in the bundle".into()));
        }
        Ok(Self { settings, roots })
    }

    /// The token settings.
    pub fn settings(&self) -> &TokenAuthSettings {
        &self.settings
    }

    /// Checks that the request carries a token granting every access in `needed`; the error
    /// is the 401 challenge.
    pub fn authorize(
        &self,
        headers: &HeaderMap,
        host: Option<&HeaderValue>,
        needed: &[Access],
    ) -> Result<(), ServerError> {
        let claims = self.claims(headers, host, needed)?;
        if needed.iter().all(|a| claims.grants(a)) {
            Ok(())
        } else {
            Err(self.challenge(host, needed, ChallengeError::InsufficientScope))
        }
    }

    /// The repositories the request's token lets it pull, for listings: every one with
    /// `registry:catalog:*` (what the catalogue routes need), else those the token grants
    /// `pull` (or `*`) on, possibly none. A missing or invalid token gets the challenge for
    /// the catalogue.
    pub fn readable(
        &self,
        headers: &HeaderMap,
        host: Option<&HeaderValue>,
    ) -> Result<Readable, ServerError> {
        let catalog = [Access::catalog()];
        let claims = self.claims(headers, host, &catalog)?;
        if catalog.iter().all(|a| claims.grants(a)) {
            return Ok(Readable::All);
        }
        let mut guns: Vec<String> = claims
            .access
            .iter()
            .filter(|r| r.kind == "repository")
            .filter(|r| claims.grants(&Access::repository(&r.name, "pull")))
            .map(|r| r.name.clone())
            .collect();
        guns.sort();
        guns.dedup();
        Ok(Readable::Only(guns))
    }

    /// The 401 answer naming `needed`.
    fn challenge(
        &self,
        host: Option<&HeaderValue>,
        needed: &[Access],
        error: ChallengeError,
    ) -> ServerError {
        let realm = match (
            self.settings.autoredirect,
            host.and_then(|h| h.to_str().ok()),
        ) {
            (true, Some(h)) => format!("https://{h}/auth/token"),
            _ => self.settings.realm.clone(),
        };
        ServerError::Unauthorized(Box::new(Challenge {
            realm,
            service: self.settings.service.clone(),
            accesses: needed.to_vec(),
            error,
        }))
    }

    /// The claims of the request's valid bearer token; without one, the challenge naming
    /// `needed`.
    fn claims(
        &self,
        headers: &HeaderMap,
        host: Option<&HeaderValue>,
        needed: &[Access],
    ) -> Result<Claims, ServerError> {
        let missing = || self.challenge(host, needed, ChallengeError::Missing);
        let Some(auth) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return Err(missing());
        };
        let parts: Vec<&str> = auth.split(' ').collect();
        let [scheme, token] = parts.as_slice() else {
            return Err(missing());
        };
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(missing());
        }
        self.verify(token, now_unix()).map_err(|e| {
            tracing::info!(error = %e, "token refused");
            self.challenge(host, needed, ChallengeError::InvalidToken)
        })
    }

    fn verify(&self, token: &str, now: i64) -> Result<Claims, TokenError> {
        let mut it = token.split('.');
        let (Some(h), Some(c), Some(s), None) = (it.next(), it.next(), it.next(), it.next()) else {
            return Err(invalid("a token has three parts"));
        };
        let header: JoseHeader = serde_json::from_slice(&b64url(h)?)
            .map_err(|e| invalid(format!("token header: {e}")))?;
        let claims: Claims = serde_json::from_slice(&b64url(c)?)
            .map_err(|e| invalid(format!("token claims: {e}")))?;
        let signature = b64url(s)?;
        let key = self.signing_key(&header, now)?;
        let alg: &dyn VerificationAlgorithm = match (header.alg.as_str(), key.kind) {
            ("ES256", KeyKind::P256) => &sig::ECDSA_P256_SHA256_FIXED,
            ("ES384", KeyKind::P384) => &sig::ECDSA_P384_SHA384_FIXED,
            ("RS256", KeyKind::Rsa) => &sig::RSA_PKCS1_2048_8192_SHA256,
            ("RS384", KeyKind::Rsa) => &sig::RSA_PKCS1_2048_8192_SHA384,
            ("RS512", KeyKind::Rsa) => &sig::RSA_PKCS1_2048_8192_SHA512,
            (alg, _) => return Err(invalid(format!("algorithm {alg} does not fit the key"))),
        };
        let signing_input = &token[..h.len() + 1 + c.len()];
        UnparsedPublicKey::new(alg, &key.bytes)
            .verify(signing_input.as_bytes(), &signature)
            .map_err(|_| invalid("token signature does not verify"))?;
        if claims.iss != self.settings.issuer {
            return Err(invalid("token issuer does not match"));
        }
        let aud_ok = match &claims.aud {
            Some(Audience::One(a)) => *a == self.settings.service,
            Some(Audience::Many(list)) => list.contains(&self.settings.service),
            None => false,
        };
        if !aud_ok {
            return Err(invalid("token audience does not match"));
        }
        let exp = claims.exp.ok_or_else(|| invalid("token has no expiry"))?;
        if now > exp.saturating_add(LEEWAY_SECS) {
            return Err(invalid("token expired"));
        }
        if claims
            .nbf
            .is_some_and(|nbf| now < nbf.saturating_sub(LEEWAY_SECS))
        {
            return Err(invalid("token not yet valid"));
        }
        Ok(claims)
    }

    /// The key that must have signed the token.
    fn signing_key(&self, header: &JoseHeader, now: i64) -> Result<KeyInfo, TokenError> {
        if let Some(chain) = header.x5c.as_ref().filter(|c| !c.is_empty()) {
            let certs = chain
                .iter()
                .map(|b64| {
                    let der = base64::engine::general_purpose::STANDARD
                        .decode(b64)
                        .map_err(|_| invalid("x5c entry is not base64"))?;
                    let cert = Certificate::from_der(&der)
                        .map_err(|e| invalid(format!("x5c certificate: {e}")))?;
                    Ok((der, cert))
                })
                .collect::<Result<Vec<_>, TokenError>>()?;
            self.verify_chain(&certs, now)?;
            let (_, leaf) = certs.first().ok_or_else(|| invalid("empty x5c"))?;
            return key_info(leaf);
        }
        if let Some(jwk) = &header.jwk {
            // As in the registry's token library: the key itself must be the key of a
            // certificate of the bundle.
            let key = jwk.key_info()?;
            return self
                .roots
                .iter()
                .find(|r| r.key.kind == key.kind && r.key.bytes == key.bytes)
                .map(|r| r.key.clone())
                .ok_or_else(|| invalid("token jwk is not a trusted key"));
        }
        if let Some(kid) = &header.kid {
            return self
                .roots
                .iter()
                .find(|r| r.libtrust_id == *kid)
                .map(|r| r.key.clone())
                .ok_or_else(|| invalid("token kid names no trusted key"));
        }
        Err(invalid("token names no signing key (x5c or kid)"))
    }

    /// Each certificate must be valid now and signed by the next one; the last must be a
    /// bundle certificate or be signed by one.
    fn verify_chain(&self, certs: &[(Vec<u8>, Certificate)], now: i64) -> Result<(), TokenError> {
        for (i, (der, cert)) in certs.iter().enumerate() {
            check_validity(cert, now)?;
            if self.roots.iter().any(|r| r.der == *der) {
                return Ok(());
            }
            if let Some((_, next)) = certs.get(i + 1) {
                verify_cert_signature(cert, &key_info(next)?)?;
                continue;
            }
            let issuer = cert
                .tbs_certificate
                .issuer
                .to_der()
                .map_err(|e| invalid(format!("issuer encoding: {e}")))?;
            let trusted = self
                .roots
                .iter()
                .filter(|r| r.subject == issuer)
                .any(|r| verify_cert_signature(cert, &r.key).is_ok());
            return if trusted {
                Ok(())
            } else {
                Err(invalid(
                    "token certificate chain does not lead to a trusted root",
                ))
            };
        }
        Err(invalid("empty certificate chain"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_matches_rfc4648() {
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32(b"f"), "MY");
    }

    #[test]
    fn libtrust_ids_have_twelve_groups() {
        let id = libtrust_key_id(b"anything");
        assert_eq!(id.split(':').count(), 12);
        assert!(id.split(':').all(|g| g.len() == 4));
    }
}
