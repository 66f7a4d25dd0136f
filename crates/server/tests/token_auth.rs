//! Token auth end to end: challenges per route class, error fields, the 60 s leeway, exact
//! scopes, and the Go `notary` CLI fetching tokens from a small token server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use common::TestServer;
use common::token::{
    Issuer, REALM, SERVICE, access_for_scope, call, claims, repo_access, server, token_auth,
};
use common::{require_tool, run_notary, serve};
use signet_server::http::HttpSettings;

const GUN: &str = "docker.io/library/app";

fn challenge(scope: &str, error: Option<&str>) -> String {
    let mut v = format!("Bearer realm=\"{REALM}\",service=\"{SERVICE}\",scope=\"{scope}\"");
    if let Some(e) = error {
        v.push_str(&format!(",error=\"{e}\""));
    }
    v
}

#[tokio::test]
async fn challenge_text_for_each_route_class() {
    let iss = Issuer::new();
    let s = server(&iss).await;
    let cases: [(Method, String, &str); 9] = [
        (
            Method::GET,
            format!("/v2/{GUN}/_trust/tuf/root.json"),
            "pull",
        ),
        (
            Method::GET,
            format!("/v2/{GUN}/_trust/tuf/1.root.json"),
            "pull",
        ),
        (Method::GET, format!("/v2/{GUN}/_trust/changefeed"), "pull"),
        (Method::POST, format!("/v2/{GUN}/_trust/tuf/"), "push,pull"),
        (
            Method::GET,
            format!("/v2/{GUN}/_trust/tuf/snapshot.key"),
            "push,pull",
        ),
        (
            Method::POST,
            format!("/v2/{GUN}/_trust/tuf/timestamp.key"),
            "*",
        ),
        (Method::DELETE, format!("/v2/{GUN}/_trust/tuf/"), "*"),
        (Method::GET, "/v2/".to_owned(), "catalog"),
        (Method::GET, "/v2/_trust/changefeed".to_owned(), "catalog"),
    ];
    for (method, uri, actions) in cases {
        let r = call(&s, method.clone(), &uri, None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{method} {uri}");
        assert_eq!(r.error_code(), "UNAUTHORIZED");
        assert_eq!(
            r.header("content-type").as_deref(),
            Some("application/json; charset=utf-8")
        );
        let (scope, detail) = if actions == "catalog" {
            (
                "registry:catalog:*".to_owned(),
                serde_json::json!([{"Type":"registry","Class":"","Name":"catalog","Action":"*"}]),
            )
        } else {
            (
                format!("repository:{GUN}:{actions}"),
                serde_json::Value::Array(
                    actions
                        .split(',')
                        .map(|a| serde_json::json!({"Type":"repository","Class":"","Name":GUN,"Action":a}))
                        .collect(),
                ),
            )
        };
        assert_eq!(
            r.header("www-authenticate").unwrap(),
            challenge(&scope, None),
            "{method} {uri}"
        );
        assert_eq!(r.json()["errors"][0]["message"], "authentication required");
        assert_eq!(r.json()["errors"][0]["detail"], detail, "{method} {uri}");
    }
    // An unknown path needs the catalog scope too; health and metrics need nothing.
    let r = call(&s, Method::GET, "/nowhere", None).await;
    assert_eq!(
        r.header("www-authenticate").unwrap(),
        challenge("registry:catalog:*", None)
    );
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
async fn error_fields_for_invalid_and_insufficient_tokens() {
    let iss = Issuer::new();
    let s = server(&iss).await;
    let uri = format!("/v2/{GUN}/_trust/tuf/");
    let pull = iss.token(&claims(repo_access(GUN, &["pull"]), 300));
    let r = call(&s, Method::POST, &uri, Some(&pull)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.header("www-authenticate").unwrap(),
        challenge(
            &format!("repository:{GUN}:push,pull"),
            Some("insufficient_scope")
        )
    );
    let mut wrong_iss = claims(repo_access(GUN, &["push", "pull"]), 300);
    wrong_iss["iss"] = "someone.else".into();
    for bad in [iss.token(&wrong_iss), "a.b".to_owned(), format!("{pull}x")] {
        let r = call(&s, Method::POST, &uri, Some(&bad)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            r.header("www-authenticate").unwrap(),
            challenge(
                &format!("repository:{GUN}:push,pull"),
                Some("invalid_token")
            )
        );
    }
    // Basic credentials are not a token: a plain challenge.
    let r = s
        .send(
            Request::builder()
                .method(Method::POST)
                .uri(&uri)
                .header("authorization", "Basic dXNlcjpwYXNz")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(
        r.header("www-authenticate").unwrap(),
        challenge(&format!("repository:{GUN}:push,pull"), None)
    );
}

#[tokio::test]
async fn expiry_and_not_before_have_sixty_seconds_of_leeway() {
    let iss = Issuer::new();
    let s = server(&iss).await;
    let uri = format!("/v2/{GUN}/_trust/tuf/root.json");
    let access = repo_access(GUN, &["pull"]);
    let status = |c: serde_json::Value| {
        let t = iss.token(&c);
        let s = &s;
        let uri = uri.clone();
        async move { call(s, Method::GET, &uri, Some(&t)).await.status }
    };
    // Authorised requests get 404: the repository does not exist.
    assert_eq!(
        status(claims(access.clone(), -30)).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        status(claims(access.clone(), -90)).await,
        StatusCode::UNAUTHORIZED
    );
    let now = chrono::Utc::now().timestamp();
    let mut soon = claims(access.clone(), 300);
    soon["nbf"] = (now + 30).into();
    assert_eq!(status(soon).await, StatusCode::NOT_FOUND);
    let mut later = claims(access.clone(), 600);
    later["nbf"] = (now + 120).into();
    assert_eq!(status(later).await, StatusCode::UNAUTHORIZED);
    let mut no_exp = claims(access.clone(), 300);
    no_exp.as_object_mut().unwrap().remove("exp");
    assert_eq!(status(no_exp).await, StatusCode::UNAUTHORIZED);
    let mut many_aud = claims(access, 300);
    many_aud["aud"] = serde_json::json!(["other", SERVICE]);
    assert_eq!(status(many_aud).await, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_token_grants_exactly_its_scopes() {
    let iss = Issuer::new();
    let s = server(&iss).await;
    let other = "docker.io/library/other";
    let push_pull = iss.token(&claims(repo_access(GUN, &["push", "pull"]), 300));
    // push+pull allows GET .key (creates the key) but neither rotation nor delete.
    let r = call(
        &s,
        Method::GET,
        &format!("/v2/{GUN}/_trust/tuf/timestamp.key"),
        Some(&push_pull),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    for (method, uri) in [
        (Method::POST, format!("/v2/{GUN}/_trust/tuf/timestamp.key")),
        (Method::DELETE, format!("/v2/{GUN}/_trust/tuf/")),
        (Method::GET, format!("/v2/{other}/_trust/tuf/root.json")),
        (Method::GET, "/v2/".to_owned()),
        (Method::GET, "/v2/_trust/changefeed".to_owned()),
    ] {
        let r = call(&s, method.clone(), &uri, Some(&push_pull)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{method} {uri}");
        assert!(
            r.header("www-authenticate")
                .unwrap()
                .ends_with("error=\"insufficient_scope\"")
        );
    }
    // push alone does not include pull.
    let push = iss.token(&claims(repo_access(GUN, &["push"]), 300));
    let r = call(
        &s,
        Method::GET,
        &format!("/v2/{GUN}/_trust/tuf/root.json"),
        Some(&push),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // A name that is a prefix of the GUN grants nothing for it.
    let prefix = iss.token(&claims(repo_access("docker.io/library", &["*"]), 300));
    let r = call(
        &s,
        Method::GET,
        &format!("/v2/{GUN}/_trust/tuf/root.json"),
        Some(&prefix),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // A catalog token reads the global changefeed but no repository.
    let catalog = iss.token(&claims(
        serde_json::json!([{"type":"registry","name":"catalog","actions":["*"]}]),
        300,
    ));
    assert_eq!(
        call(&s, Method::GET, "/v2/_trust/changefeed", Some(&catalog))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        call(
            &s,
            Method::GET,
            &format!("/v2/{GUN}/_trust/tuf/root.json"),
            Some(&catalog)
        )
        .await
        .status,
        StatusCode::UNAUTHORIZED
    );
    // `*` grants every action of its repository, and only of it.
    let star = iss.token(&claims(repo_access(GUN, &["*"]), 300));
    let r = call(
        &s,
        Method::POST,
        &format!("/v2/{GUN}/_trust/tuf/timestamp.key"),
        Some(&star),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = call(
        &s,
        Method::GET,
        &format!("/v2/{other}/_trust/tuf/timestamp.key"),
        Some(&star),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // Several entries in one token are all honoured.
    let both = iss.token(&claims(
        serde_json::json!([
            {"type":"repository","name":GUN,"actions":["pull"]},
            {"type":"repository","name":other,"actions":["pull"]},
        ]),
        300,
    ));
    for g in [GUN, other] {
        let r = call(
            &s,
            Method::GET,
            &format!("/v2/{g}/_trust/tuf/root.json"),
            Some(&both),
        )
        .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{g}");
    }
}

/// What the test token server saw and how it answers.
struct TokenServer {
    issuer: Issuer,
    user: &'static str,
    password: &'static str,
    scopes: Mutex<Vec<String>>,
}

/// `GET /token?service=…&scope=…`: basic auth against one user, a token for every scope
/// requested (pull only for anonymous callers).
async fn issue(
    State(ts): State<Arc<TokenServer>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let expected =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", ts.user, ts.password));
    // Like a registry's token server: anonymous callers (the notary CLI asks anonymously
    // for read-only commands) get pull access only; wrong credentials get nothing.
    let anonymous = match headers.get("authorization").and_then(|v| v.to_str().ok()) {
        None => true,
        Some(v) if v == format!("Basic {expected}") => false,
        Some(_) => return (StatusCode::UNAUTHORIZED, "bad credentials").into_response(),
    };
    let mut access = Vec::new();
    let mut service_ok = false;
    for pair in query.unwrap_or_default().split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = signet_tuf::notary::gun::percent_decode(&v.replace('+', " ")).unwrap();
        match k {
            "scope" => {
                ts.scopes.lock().unwrap().push(v.clone());
                let Some(mut granted) = access_for_scope(&v) else {
                    continue;
                };
                if anonymous {
                    granted["actions"] = serde_json::json!(["pull"]);
                }
                access.push(granted);
            }
            "service" => service_ok = v == SERVICE,
            _ => {}
        }
    }
    if !service_ok {
        return (StatusCode::BAD_REQUEST, "unknown service").into_response();
    }
    let token = ts
        .issuer
        .token(&claims(serde_json::Value::Array(access), 300));
    axum::Json(serde_json::json!({
        "token": token,
        "access_token": token,
        "expires_in": 300,
        "issued_at": chrono::Utc::now().to_rfc3339(),
    }))
    .into_response()
}

/// Runs the Go `notary` CLI on `server_url` with `user`'s credentials, within two minutes.
async fn notary_as(
    notary: &std::path::Path,
    home: &std::path::Path,
    server_url: &str,
    cmd: &[&str],
    user: &str,
    password: &str,
) -> (bool, String, String) {
    let mut args = vec!["-s".to_owned(), server_url.to_owned()];
    args.extend(cmd.iter().map(|s| (*s).to_owned()));
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    tokio::time::timeout(
        Duration::from_secs(120),
        run_notary(notary, home, args, vec![("NOTARY_AUTH".to_owned(), auth)]),
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_notary_cli_gets_tokens_from_the_realm() {
    let Some(notary) = require_tool("notary") else {
        return;
    };
    let ts = Arc::new(TokenServer {
        issuer: Issuer::new(),
        user: "alice",
        password: "wonderland",
        scopes: Mutex::new(Vec::new()),
    });
    let token_router = axum::Router::new()
        .route("/token", axum::routing::get(issue))
        .with_state(Arc::clone(&ts));
    let token_served = serve(token_router, None);
    let realm = format!("http://127.0.0.1:{}/token", token_served.addr.port());
    let s = TestServer::with_settings(
        HttpSettings::default(),
        Some(token_auth(&ts.issuer.bundle_pem, &realm)),
    )
    .await;
    let served = serve(s.router.clone(), None);
    let server_url = format!("http://127.0.0.1:{}", served.addr.port());
    let home = tempfile::tempdir().unwrap();
    let gun = "docker.io/signet/tokens";

    // Wrong password: the token server refuses, so does the notary server.
    let (ok, out, err) = notary_as(
        &notary,
        home.path(),
        &server_url,
        &["init", "-p", gun],
        "alice",
        "nope",
    )
    .await;
    assert!(!ok, "init succeeded with a wrong password:\n{out}\n{err}");
    assert!(s.store.latest(gun, "root").await.unwrap().is_none());

    let home = tempfile::tempdir().unwrap();
    let (ok, out, err) = notary_as(
        &notary,
        home.path(),
        &server_url,
        &["init", "-p", gun],
        "alice",
        "wonderland",
    )
    .await;
    assert!(ok, "notary init -p failed:\n{out}\n{err}");
    assert!(s.store.latest(gun, "root").await.unwrap().is_some());
    let (ok, out, err) = notary_as(
        &notary,
        home.path(),
        &server_url,
        &["list", gun],
        "alice",
        "wonderland",
    )
    .await;
    assert!(
        ok,
        "notary list failed:\n{out}\n{err}\nscopes: {:?}",
        ts.scopes.lock().unwrap()
    );
    assert!(out.contains("No targets present"), "{out}\n{err}");
    let scopes = ts.scopes.lock().unwrap().clone();
    assert!(
        scopes.iter().any(|s| {
            s.strip_prefix(&format!("repository:{gun}:"))
                .is_some_and(|a| a.contains("push") && a.contains("pull"))
        }),
        "the CLI asked for push,pull on {gun}: {scopes:?}"
    );
    assert!(
        scopes
            .iter()
            .any(|s| *s == format!("repository:{gun}:pull")),
        "the CLI asked for pull on {gun}: {scopes:?}"
    );
}

#[tokio::test]
async fn jwk_header_names_a_key_of_the_bundle() {
    let iss = Issuer::new();
    let access = repo_access(GUN, &["pull"]);
    let uri = format!("/v2/{GUN}/_trust/tuf/root.json");
    let header = serde_json::json!({"alg": "ES256", "typ": "JWT", "jwk": iss.leaf_jwk()});
    let t = iss.token_with_header(&header, &claims(access.clone(), 300));
    // Only the CA in the bundle: the leaf's key is not trusted by itself.
    let s = server(&iss).await;
    let r = call(&s, Method::GET, &uri, Some(&t)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(
        r.header("www-authenticate")
            .unwrap()
            .ends_with("error=\"invalid_token\"")
    );
    // With the leaf certificate in the bundle, its key is.
    let bundle = format!("{}{}", iss.bundle_pem, iss.leaf_pem);
    let s =
        TestServer::with_settings(HttpSettings::default(), Some(token_auth(&bundle, REALM))).await;
    assert_eq!(
        call(&s, Method::GET, &uri, Some(&t)).await.status,
        StatusCode::NOT_FOUND
    );
    // A jwk whose point was changed is refused.
    let mut bad_jwk = iss.leaf_jwk();
    bad_jwk["x"] = common::token::b64(&[1u8; 32]).into();
    let bad = iss.token_with_header(
        &serde_json::json!({"alg": "ES256", "jwk": bad_jwk}),
        &claims(access, 300),
    );
    assert_eq!(
        call(&s, Method::GET, &uri, Some(&bad)).await.status,
        StatusCode::UNAUTHORIZED
    );
}
