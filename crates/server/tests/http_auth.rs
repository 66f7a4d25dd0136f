//! Token authentication: challenges, scopes per route, and token verification.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::{Method, StatusCode};
use common::token::{Issuer, call, claims, server};

const GUN: &str = "docker.io/library/app";

#[tokio::test]
async fn missing_token_gets_the_challenge() {
    let iss = Issuer::new();
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
    let iss = Issuer::new();
    let s = server(&iss).await;
    let pull = iss.token(&claims(
        serde_json::json!([{"type":"repository","name":GUN,"actions":["pull"]}]),
        300,
    ));
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

    let all = iss.token(&claims(
        serde_json::json!([{"type":"repository","name":GUN,"actions":["*"]}]),
        300,
    ));
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
    let catalog = iss.token(&claims(
        serde_json::json!([{"type":"registry","name":"catalog","actions":["*"]}]),
        300,
    ));
    assert_eq!(
        call(&s, Method::GET, "/v2/", Some(&catalog)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn bad_tokens_are_invalid() {
    let iss = Issuer::new();
    let s = server(&iss).await;
    let uri = format!("/v2/{GUN}/_trust/tuf/root.json");
    let access = serde_json::json!([{"type":"repository","name":GUN,"actions":["pull"]}]);
    let expired = iss.token(&claims(access.clone(), -3600));
    let mut wrong_aud = claims(access.clone(), 300);
    wrong_aud["aud"] = "elsewhere".into();
    let wrong_aud = iss.token(&wrong_aud);
    let other = Issuer::new();
    let untrusted = other.token(&claims(access.clone(), 300));
    let good = iss.token(&claims(access, 300));
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
