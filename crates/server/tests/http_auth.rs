//! Token authentication: challenges, scopes per route, and token verification.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use base64::Engine as _;
use common::{Reply, TestServer};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair,
    PKCS_ECDSA_P256_SHA256,
};
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use signet_server::auth::{TokenAuth, TokenAuthSettings};
use signet_server::http::HttpSettings;

const GUN: &str = "docker.io/library/app";

struct Issuer {
    bundle_pem: String,
    leaf_der: Vec<u8>,
    leaf_key: EcdsaKeyPair,
}

fn issuer() -> Issuer {
    let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "token CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let leaf_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut leaf_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "token signer");
    let leaf = leaf_params.signed_by(&leaf_key, &ca).unwrap();
    let rng = ring::rand::SystemRandom::new();
    let signing = EcdsaKeyPair::from_pkcs8(
        &ECDSA_P256_SHA256_FIXED_SIGNING,
        &leaf_key.serialize_der(),
        &rng,
    )
    .unwrap();
    Issuer {
        bundle_pem: ca.pem(),
        leaf_der: leaf.der().to_vec(),
        leaf_key: signing,
    }
}

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

fn token(iss: &Issuer, claims: serde_json::Value) -> String {
    let header = serde_json::json!({
        "alg": "ES256",
        "typ": "JWT",
        "x5c": [base64::engine::general_purpose::STANDARD.encode(&iss.leaf_der)],
    });
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let rng = ring::rand::SystemRandom::new();
    let sig = iss.leaf_key.sign(&rng, input.as_bytes()).unwrap();
    format!("{input}.{}", b64(sig.as_ref()))
}

fn claims(access: serde_json::Value, exp_offset: i64) -> serde_json::Value {
    let now = chrono::Utc::now().timestamp();
    serde_json::json!({
        "iss": "auth.example",
        "aud": "notary",
        "sub": "tester",
        "exp": now + exp_offset,
        "nbf": now - 10,
        "iat": now,
        "access": access,
    })
}

async fn server(iss: &Issuer) -> TestServer {
    let auth = TokenAuth::new(
        TokenAuthSettings {
            realm: "https://auth.example/token".into(),
            service: "notary".into(),
            issuer: "auth.example".into(),
            autoredirect: false,
        },
        iss.bundle_pem.as_bytes(),
    )
    .unwrap();
    TestServer::with_settings(HttpSettings::default(), Some(auth)).await
}

async fn call(s: &TestServer, method: Method, uri: &str, token: Option<&str>) -> Reply {
    let mut b = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    s.send(b.body(Body::empty()).unwrap()).await
}

#[tokio::test]
async fn missing_token_gets_the_challenge() {
    let iss = issuer();
    let s = server(&iss).await;
    let r = call(
        &s,
        Method::GET,
        &format!("/v2/{GUN}/_trust/tuf/root.json"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.error_code(), "UNAUTHORIZED");
    assert_eq!(
        r.header("www-authenticate").as_deref(),
        Some(
            "Bearer realm=\"https://auth.example/token\",service=\"notary\",scope=\"repository:docker.io/library/app:pull\""
        )
    );
    assert_eq!(
        r.json()["errors"][0]["detail"],
        serde_json::json!([{"Type":"repository","Class":"","Name":GUN,"Action":"pull"}])
    );
    let r = call(
        &s,
        Method::GET,
        &format!("/v2/{GUN}/_trust/tuf/timestamp.key"),
        None,
    )
    .await;
    assert!(
        r.header("www-authenticate")
            .unwrap()
            .ends_with("scope=\"repository:docker.io/library/app:push,pull\"")
    );
    let r = call(&s, Method::DELETE, &format!("/v2/{GUN}/_trust/tuf/"), None).await;
    assert!(
        r.header("www-authenticate")
            .unwrap()
            .ends_with("scope=\"repository:docker.io/library/app:*\"")
    );
    let r = call(&s, Method::GET, "/v2/", None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(
        r.header("www-authenticate")
            .unwrap()
            .ends_with("scope=\"registry:catalog:*\"")
    );
    // Health and metrics never need a token.
    assert_eq!(
        call(&s, Method::GET, "/_notary_server/health", None)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        call(&s, Method::GET, "/metrics", None).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn scopes_are_enforced() {
    let iss = issuer();
    let s = server(&iss).await;
    let pull = token(
        &iss,
        claims(
            serde_json::json!([{"type":"repository","name":GUN,"actions":["pull"]}]),
            300,
        ),
    );
    let r = call(
        &s,
        Method::GET,
        &format!("/v2/{GUN}/_trust/tuf/root.json"),
        Some(&pull),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::NOT_FOUND,
        "authorised, then not found"
    );
    let r = call(
        &s,
        Method::GET,
        &format!("/v2/{GUN}/_trust/tuf/timestamp.key"),
        Some(&pull),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(
        r.header("www-authenticate")
            .unwrap()
            .ends_with(",error=\"insufficient_scope\"")
    );
    assert!(
        s.store
            .server_keys(GUN, "timestamp")
            .await
            .unwrap()
            .is_empty(),
        "no key was created"
    );
    let r = call(
        &s,
        Method::GET,
        "/v2/docker.io/library/other/_trust/tuf/root.json",
        Some(&pull),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    let all = token(
        &iss,
        claims(
            serde_json::json!([{"type":"repository","name":GUN,"actions":["*"]}]),
            300,
        ),
    );
    let r = call(
        &s,
        Method::GET,
        &format!("/v2/{GUN}/_trust/tuf/timestamp.key"),
        Some(&all),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = call(
        &s,
        Method::DELETE,
        &format!("/v2/{GUN}/_trust/tuf/"),
        Some(&all),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let catalog = token(
        &iss,
        claims(
            serde_json::json!([{"type":"registry","name":"catalog","actions":["*"]}]),
            300,
        ),
    );
    assert_eq!(
        call(&s, Method::GET, "/v2/", Some(&catalog)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn bad_tokens_are_invalid() {
    let iss = issuer();
    let s = server(&iss).await;
    let uri = format!("/v2/{GUN}/_trust/tuf/root.json");
    let access = serde_json::json!([{"type":"repository","name":GUN,"actions":["pull"]}]);
    let expired = token(&iss, claims(access.clone(), -3600));
    let mut wrong_aud = claims(access.clone(), 300);
    wrong_aud["aud"] = "elsewhere".into();
    let wrong_aud = token(&iss, wrong_aud);
    let other = issuer();
    let untrusted = token(&other, claims(access.clone(), 300));
    let good = token(&iss, claims(access, 300));
    let mut tampered = good.clone();
    tampered.pop();
    tampered.push(if good.ends_with('A') { 'B' } else { 'A' });
    for (what, t) in [
        ("expired", expired.as_str()),
        ("audience", wrong_aud.as_str()),
        ("untrusted", untrusted.as_str()),
        ("tampered", tampered.as_str()),
        ("garbage", "not.a.token"),
    ] {
        let r = call(&s, Method::GET, &uri, Some(t)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{what}");
        assert!(
            r.header("www-authenticate")
                .unwrap()
                .ends_with(",error=\"invalid_token\""),
            "{what}"
        );
    }
    assert_eq!(
        call(&s, Method::GET, &uri, Some(&good)).await.status,
        StatusCode::NOT_FOUND
    );
}
