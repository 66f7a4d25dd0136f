//! Routing, method handling, path cleaning, GUN checks and the read-only routes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::{Method, StatusCode};
use common::TestServer;
use signet_server::http::HttpSettings;

#[tokio::test]
async fn base_route_answers_empty_object() {
    let s = TestServer::new().await;
    let r = s.get("/v2/").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, b"{}");
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("text/plain; charset=utf-8")
    );
    assert!(r.header("x-request-id").is_some());
}

#[tokio::test]
async fn unknown_paths_are_metadata_not_found() {
    let s = TestServer::new().await;
    for (m, uri) in [
        (Method::GET, "/v2"),
        (Method::GET, "/nothing/here"),
        (Method::POST, "/v2/"),
        (Method::PUT, "/v2/g/_trust/tuf/"),
        (Method::DELETE, "/v2/g/_trust/tuf"),
        (Method::POST, "/v2/g/_trust/tuf"),
        (Method::GET, "/v2/g/_trust/tuf/targets.key"),
        (Method::GET, "/v2/g/_trust/tuf/foo.json"),
        (Method::GET, "/v2/a*b/_trust/tuf/root.json"),
        (Method::POST, "/v2/*/_trust/tuf/"),
    ] {
        let r = s.request(m.clone(), uri).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{m} {uri}");
        assert_eq!(r.error_code(), "METADATA_NOT_FOUND", "{m} {uri}");
        assert_eq!(
            r.header("content-type").as_deref(),
            Some("application/json; charset=utf-8")
        );
        assert!(r.body.ends_with(b"\n"));
    }
    let r = s.request(Method::HEAD, "/v2/g/_trust/tuf/root.json").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn other_methods_get_405_with_empty_body() {
    let s = TestServer::new().await;
    for m in [Method::PATCH, Method::OPTIONS] {
        let r = s.request(m, "/v2/g/_trust/tuf/").await;
        assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
        assert!(r.body.is_empty());
    }
}

#[tokio::test]
async fn unclean_paths_redirect() {
    let s = TestServer::new().await;
    let r = s.request(Method::POST, "/v2/a//b/_trust/tuf/?x=1").await;
    assert_eq!(r.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(
        r.header("location").as_deref(),
        Some("/v2/a/b/_trust/tuf/?x=1")
    );
    let r = s.get("/v2/a/./b/../c/_trust/tuf/root.json").await;
    assert_eq!(r.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(
        r.header("location").as_deref(),
        Some("/v2/a/c/_trust/tuf/root.json")
    );
}

#[tokio::test]
async fn percent_encoded_guns_are_decoded() {
    let s = TestServer::new().await;
    let r = s.get("/v2/example.com%2Fx/_trust/tuf/root.json").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.error_code(), "METADATA_NOT_FOUND");
    let r = s.get("/v2/%zz/_trust/tuf/root.json").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn reads_of_missing_metadata_are_404() {
    let s = TestServer::new().await;
    let h = "ab".repeat(32);
    for uri in [
        "/v2/docker.io/library/alpine/_trust/tuf/root.json".to_owned(),
        "/v2/g/_trust/tuf/timestamp.json".to_owned(),
        "/v2/g/_trust/tuf/snapshot.json".to_owned(),
        "/v2/g/_trust/tuf/targets/releases.json".to_owned(),
        format!("/v2/g/_trust/tuf/root.{h}.json"),
        format!("/v2/g/_trust/tuf/root.{}.json", h.to_uppercase()),
        format!("/v2/g/_trust/tuf/root.{}.json", "a".repeat(128)),
        "/v2/g/_trust/tuf/1.root.json".to_owned(),
        "/v2/g/_trust/tuf/0.root.json".to_owned(),
    ] {
        let r = s.get(&uri).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(r.error_code(), "METADATA_NOT_FOUND");
        assert_eq!(r.json()["errors"][0]["detail"], serde_json::json!({}));
        assert!(r.header("cache-control").is_none());
    }
}

#[tokio::test]
async fn version_overflow_reports_atoi_detail() {
    let s = TestServer::new().await;
    let r = s
        .get("/v2/g/_trust/tuf/99999999999999999999.root.json")
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.json()["errors"][0]["detail"],
        serde_json::json!({"Func":"Atoi","Num":"99999999999999999999","Err":{}})
    );
}

#[tokio::test]
async fn delete_of_unknown_gun_is_ok_and_writes_no_change() {
    let s = TestServer::new().await;
    let r = s.request(Method::DELETE, "/v2/nobody/_trust/tuf/").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.is_empty());
    assert_eq!(r.header("content-length").as_deref(), Some("0"));
    assert_eq!(s.change_count("nobody").await, 0);
}

#[tokio::test]
async fn overlong_guns_are_refused_cleanly() {
    let s = TestServer::new().await;
    let gun = "g".repeat(256);
    let r = s.upload(&gun, &[]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error_code(), "INVALID_GUN");
    let r = s.get(&format!("/v2/{gun}/_trust/tuf/root.json")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = s.get(&format!("/v2/{gun}/_trust/tuf/timestamp.key")).await;
    assert_eq!(r.error_code(), "INVALID_GUN");
    let r = s
        .request(Method::DELETE, &format!("/v2/{gun}/_trust/tuf/"))
        .await;
    assert_eq!(r.error_code(), "INVALID_GUN");
    assert!(s.store.latest(&gun, "timestamp").await.unwrap().is_none());
}

#[tokio::test]
async fn gun_prefixes_filter_before_anything_else() {
    let s = TestServer::with_settings(
        HttpSettings {
            gun_prefixes: vec!["docker.io/".into()],
            ..HttpSettings::default()
        },
        None,
    )
    .await;
    let r = s.upload("quay.io/x", &[]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error_code(), "INVALID_GUN");
    assert_eq!(
        r.json()["errors"][0]["detail"],
        "Require GUNs with prefix: [docker.io/]"
    );
    for uri in [
        "/v2/quay.io/x/_trust/tuf/root.json",
        "/v2/quay.io/x/_trust/tuf/timestamp.key",
        "/v2/quay.io/x/_trust/changefeed",
    ] {
        let r = s.get(uri).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(r.error_code(), "METADATA_NOT_FOUND");
    }
    let r = s.request(Method::DELETE, "/v2/quay.io/x/_trust/tuf/").await;
    assert_eq!(r.error_code(), "METADATA_NOT_FOUND");
    // A GUN with the prefix passes the filter.
    let r = s.get("/v2/docker.io/x/_trust/tuf/root.json").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(s.change_count("quay.io/x").await, 0);
}

#[tokio::test]
async fn health_and_metrics() {
    let s = TestServer::new().await;
    let r = s.get("/_notary_server/health").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, b"{}");
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/json; charset=utf-8")
    );
    s.get("/v2/").await;
    let r = s.get("/metrics").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.header("content-type").unwrap().starts_with("text/plain"));
    assert!(
        r.text().contains("notary_server_http_requests_total"),
        "{}",
        r.text()
    );
    s.store.close().await;
    let r = s.get("/_notary_server/health").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.json()["DB operational"].is_string());
}

#[tokio::test]
async fn database_down_is_503_unavailable() {
    let s = TestServer::new().await;
    s.store.close().await;
    let r = s.get("/v2/g/_trust/tuf/root.json").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.error_code(), "UNAVAILABLE");
}

#[tokio::test]
async fn changefeed_parameters() {
    let s = TestServer::new().await;
    let r = s.get("/v2/_trust/changefeed?records=10").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, br#"{"count":0,"records":[]}"#);
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("text/plain; charset=utf-8")
    );
    let r = s.get("/v2/_trust/changefeed").await;
    assert_eq!(r.status, StatusCode::OK, "records is optional");
    let r = s
        .get("/v2/g/_trust/changefeed?records=-5&change_id=-1")
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = s.get("/v2/_trust/changefeed?records=").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error_code(), "INVALID_PARAMETERS");
    assert_eq!(
        r.json()["errors"][0]["detail"],
        "invalid records parameter: strconv.ParseInt: parsing \"\": invalid syntax"
    );
    for q in [
        "records=abc",
        "records=99999999999",
        "records=1&change_id=x",
    ] {
        let r = s.get(&format!("/v2/g/_trust/changefeed?{q}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q}");
        assert_eq!(r.error_code(), "INVALID_PARAMETERS");
    }
}
