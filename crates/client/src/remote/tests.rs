//! Tests against tiny in-process HTTP servers on loopback.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex as StdMutex;

use axum::Router;
use axum::body::Body as AxumBody;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode as AxumStatus};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::*;
use crate::error::{ConnectCause, RemoteError, ValidationError};
use signet_tuf::remedy::{Remediable as _, Remedy};

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub(crate) struct Seen {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: Option<String>,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

type Responder = Arc<dyn Fn(&Seen) -> Response + Send + Sync>;

#[derive(Clone)]
struct ServerState {
    seen: Arc<StdMutex<Vec<Seen>>>,
    respond: Responder,
}

/// A loopback HTTP server answering every request with `respond`.
pub(crate) struct TestServer {
    pub(crate) url: String,
    seen: Arc<StdMutex<Vec<Seen>>>,
}

impl TestServer {
    pub(crate) async fn start(respond: impl Fn(&Seen) -> Response + Send + Sync + 'static) -> Self {
        let seen = Arc::new(StdMutex::new(Vec::new()));
        let state = ServerState {
            seen: seen.clone(),
            respond: Arc::new(respond),
        };
        let app = Router::new().fallback(handle).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url: format!("http://{addr}"),
            seen,
        }
    }

    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub(crate) fn paths(&self) -> Vec<String> {
        self.seen()
            .iter()
            .map(|s| format!("{} {}", s.method, s.path))
            .collect()
    }
}

async fn handle(State(state): State<ServerState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 64 << 20).await.unwrap().to_vec();
    let seen = Seen {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers,
        body,
    };
    state.seen.lock().unwrap().push(seen.clone());
    (state.respond)(&seen)
}

fn gun() -> Gun {
    Gun::new("registry.local:5000/team/img").unwrap()
}

fn status(code: u16, body: &'static str) -> Response {
    (AxumStatus::from_u16(code).unwrap(), body).into_response()
}

async fn store(url: &str) -> RemoteStore {
    RemoteStore::new(url, RemoteOptions::default()).unwrap()
}

#[tokio::test]
async fn builds_notary_urls() {
    let server = TestServer::start(|_| status(200, "{}")).await;
    let remote = store(&format!("{}/prefix/", server.url)).await;
    let g = gun();
    remote.get_meta(&g, "timestamp", 10).await.unwrap();
    remote
        .get_meta(&g, &format!("targets/releases.{}", "a".repeat(64)), 10)
        .await
        .unwrap();
    remote.get_meta(&g, "3.root", 10).await.unwrap();
    remote.get_key(&g, "snapshot").await.unwrap_err();
    assert_eq!(
        server.paths(),
        [
            "GET /prefix/v2/registry.local:5000/team/img/_trust/tuf/timestamp.json".to_owned(),
            format!(
                "GET /prefix/v2/registry.local:5000/team/img/_trust/tuf/targets/releases.{}.json",
                "a".repeat(64)
            ),
            "GET /prefix/v2/registry.local:5000/team/img/_trust/tuf/3.root.json".to_owned(),
            "GET /prefix/v2/registry.local:5000/team/img/_trust/tuf/snapshot.key".to_owned(),
        ]
    );
    for bad in ["../root", "", "a//b", "root?x", "a b"] {
        assert!(matches!(
            remote.get_meta(&g, bad, 10).await.unwrap_err(),
            Error::InvalidRole { .. }
        ));
    }
    assert!(matches!(
        remote.get_key(&g, "targets").await.unwrap_err(),
        Error::InvalidRole { .. }
    ));
}

#[tokio::test]
async fn maps_statuses_like_the_go_client() {
    let server = TestServer::start(|seen| {
        let name = seen.path.rsplit('/').next().unwrap_or_default();
        match name {
            "nf.json" => status(404, r#"{"errors":[{"code":"METADATA_NOT_FOUND","message":"You have requested metadata that does not exist.","detail":{}}]}"#),
            "unauth.json" => status(401, r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":[]}]}"#),
            "boom.json" => status(500, r#"{"errors":[{"code":"UNKNOWN","message":"unknown error","detail":{"x":1}}]}"#),
            "busy.json" => status(503, "down"),
            "created.json" => status(201, "{}"),
            "invalid.json" => status(400, r#"{"errors":[{"code":"INVALID_UPDATE","message":"Update sent by the client is invalid.","detail":{"Name":"ErrBadTargets","Error":{"Msg":"valid signatures did not meet threshold for targets"}}}]}"#),
            "plain400.json" => status(400, "nope"),
            "version.json" => status(400, r#"{"errors":[{"code":"VERSION","message":"A newer version of metadata is already available.","detail":{}}]}"#),
            _ => status(200, "ok"),
        }
    })
    .await;
    let remote = store(&server.url).await;
    let g = gun();
    let get = |name: &'static str| {
        let remote = &remote;
        let g = g.clone();
        async move { remote.get_meta(&g, name, 1024).await.unwrap_err() }
    };

    let err = get("nf").await;
    assert!(err.is_not_found());
    assert_eq!(
        err.to_string(),
        "nf trust data unavailable.  Has a notary repository been initialized?"
    );

    let err = get("unauth").await;
    assert!(err.is_unavailable());
    assert_eq!(
        err.to_string(),
        "you are not authorized to perform this operation: server returned 401."
    );
    let Error::Remote(RemoteError::Unauthorized { response, .. }) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(response.errors[0].code, "UNAUTHORIZED");

    let err = get("boom").await;
    assert_eq!(
        err.to_string(),
        "unable to reach trust server at this time: 500."
    );
    let Error::Remote(RemoteError::ServerUnavailable {
        status, response, ..
    }) = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(*status, 500);
    assert_eq!(response.errors[0].message, "unknown error");
    assert_eq!(response.errors[0].detail.as_deref(), Some(r#"{"x":1}"#));
    assert!(err.is_unavailable());

    let err = get("busy").await;
    assert!(matches!(
        err,
        Error::Remote(RemoteError::ServerUnavailable { status: 503, .. })
    ));
    let err = get("created").await;
    assert!(
        matches!(
            err,
            Error::Remote(RemoteError::ServerUnavailable { status: 201, .. })
        ),
        "only 200 is success"
    );

    let err = get("invalid").await;
    assert_eq!(
        err.to_string(),
        "The targets metadata is invalid: valid signatures did not meet threshold for targets"
    );
    assert!(matches!(
        &err,
        Error::Remote(RemoteError::ServerValidation {
            validation: ValidationError::BadTargets { .. },
            ..
        })
    ));
    assert!(!err.is_unavailable());

    let err = get("plain400").await;
    assert_eq!(err.to_string(), "trust server rejected operation.");
    assert!(!err.is_version_conflict());
    let err = get("version").await;
    assert_eq!(
        err.to_string(),
        "trust server rejected operation: A newer version of metadata is already available."
    );
    assert!(err.is_version_conflict());
    assert!(!get("invalid").await.is_version_conflict());
}

#[tokio::test]
async fn error_bodies_are_read_up_to_one_kib() {
    // A valid envelope whose message pushes it past 1 KiB cannot be decoded.
    let long = "x".repeat(1100);
    let body: &'static str = Box::leak(
        format!(
            r#"{{"errors":[{{"code":"INVALID_UPDATE","message":"{long}","detail":{{"Name":"ErrBadRoot","Error":{{"Msg":"m"}}}}}}]}}"#
        )
        .into_boxed_str(),
    );
    let server = TestServer::start(move |_| status(400, body)).await;
    let err = store(&server.url)
        .await
        .get_meta(&gun(), "root", 10)
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "trust server rejected operation.");
}

#[tokio::test]
async fn size_caps() {
    let server = TestServer::start(|seen| {
        if seen.path.ends_with("big.json") {
            status(200, "0123456789")
        } else if seen.path.ends_with("stream.json") {
            // Chunked: no Content-Length, longer than the cap.
            let chunks = vec![
                Ok::<_, std::io::Error>(Bytes::from_static(b"01234")),
                Ok(Bytes::from_static(b"56789")),
            ];
            Response::new(AxumBody::from_stream(futures_util::stream::iter(chunks)))
        } else if seen.path.ends_with("timestamp.key") {
            let big = format!(
                r#"{{"keytype":"ed25519","keyval":{{"public":"{}","private":null}}}}"#,
                "A".repeat(300 << 10)
            );
            let mut resp = big.into_response();
            resp.headers_mut().remove("content-length");
            resp
        } else if seen.path.ends_with("snapshot.key") {
            status(
                200,
                r#"{"keytype":"ed25519","keyval":{"public":"AAEC","private":null}}"#,
            )
        } else {
            status(200, "")
        }
    })
    .await;
    let remote = store(&server.url).await;
    let g = gun();

    let err = remote.get_meta(&g, "big", 9).await.unwrap_err();
    assert_eq!(err.to_string(), "trust server returned a bad response.");
    assert!(matches!(
        err,
        Error::Remote(RemoteError::MaliciousServer {
            limit: 9,
            content_length: 10,
            ..
        })
    ));
    assert_eq!(remote.get_meta(&g, "big", 10).await.unwrap(), b"0123456789");
    assert_eq!(
        remote.get_meta(&g, "big", 100).await.unwrap(),
        b"0123456789"
    );
    assert_eq!(remote.get_meta(&g, "stream", 7).await.unwrap(), b"0123456");

    let key = remote.get_key(&g, "snapshot").await.unwrap();
    assert_eq!(key.keytype().as_str(), "ed25519");
    assert_eq!(key.public(), [0, 1, 2]);
    // A key body past 256 KiB is cut at the limit and no longer parses.
    let err = remote.get_key(&g, "timestamp").await.unwrap_err();
    assert!(
        matches!(err, Error::Remote(RemoteError::BadResponse { .. })),
        "{err:?}"
    );
}

#[tokio::test]
async fn publish_sends_go_multipart_and_rotate_delete_use_the_right_methods() {
    let server = TestServer::start(|seen| match (seen.method.as_str(), seen.path.as_str()) {
        ("POST", p) if p.ends_with("/_trust/tuf/timestamp.key") => status(
            200,
            r#"{"keytype":"ecdsa","keyval":{"public":"AQ==","private":null}}"#,
        ),
        ("POST", p) if p.ends_with("/_trust/tuf/") => status(200, ""),
        ("DELETE", p) if p.ends_with("/_trust/tuf/") => status(200, ""),
        _ => status(404, ""),
    })
    .await;
    let remote = store(&server.url).await;
    let g = gun();
    let files = vec![
        ("root".to_owned(), b"{\"signed\":{}}".to_vec()),
        (
            "targets/releases".to_owned(),
            b"bytes\r\n--not-a-boundary".to_vec(),
        ),
    ];
    remote.publish(&g, &files).await.unwrap();
    let key = remote.rotate_key(&g, "timestamp").await.unwrap();
    assert_eq!(key.public(), [1]);
    remote.delete_repo(&g).await.unwrap();

    let seen = server.seen();
    assert_eq!(
        server.paths(),
        [
            "POST /v2/registry.local:5000/team/img/_trust/tuf/",
            "POST /v2/registry.local:5000/team/img/_trust/tuf/timestamp.key",
            "DELETE /v2/registry.local:5000/team/img/_trust/tuf/",
        ]
    );
    let post = &seen[0];
    let content_type = post.header("content-type").unwrap();
    let boundary = content_type
        .strip_prefix("multipart/form-data; boundary=")
        .unwrap();
    assert_eq!(boundary.len(), 60);
    let expected = format!(
        "--{b}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"root\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n{{\"signed\":{{}}}}\r\n\
         --{b}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"targets/releases\"\r\n\
         Content-Type: application/octet-stream\r\n\r\nbytes\r\n--not-a-boundary\r\n--{b}--\r\n",
        b = boundary
    );
    assert_eq!(String::from_utf8(post.body.clone()).unwrap(), expected);
    assert_eq!(
        post.header("content-length").unwrap(),
        expected.len().to_string()
    );
    assert!(seen[1].body.is_empty());
    assert!(post.header("user-agent").unwrap().starts_with("signet/"));
}

/// A notary-server-like token setup: every `/v2/…` route needs `Bearer <token>` with the right
/// scope; the token service at `/token` hands out `anon-<scope>` anonymously and
/// `user-<scope>` to alice.
fn token_server(seen: &Seen) -> Response {
    let challenge = |scope: &str| {
        let mut resp = status(
            401,
            r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":[]}]}"#,
        );
        let realm = format!(
            r#"Bearer realm="http://{}/token",service="notary-test",scope="{scope}""#,
            seen.header("host").unwrap()
        );
        resp.headers_mut()
            .insert("www-authenticate", HeaderValue::from_str(&realm).unwrap());
        resp
    };
    if seen.path == "/token" {
        let query = seen.query.clone().unwrap_or_default();
        let pairs: HashMap<String, String> = url::form_urlencoded_parse(&query);
        assert_eq!(
            pairs.get("service").map(String::as_str),
            Some("notary-test")
        );
        let scope = pairs.get("scope").cloned().unwrap_or_default();
        let user = match seen.header("authorization") {
            None => "anon".to_owned(),
            Some(h) if h == format!("Basic {}", STANDARD.encode("alice:pw")) => {
                assert_eq!(pairs.get("account").map(String::as_str), Some("alice"));
                "user".to_owned()
            }
            Some(_) => return status(401, "bad credentials"),
        };
        return status(
            200,
            Box::leak(format!(r#"{{"token":"{user}-{scope}","expires_in":60}}"#).into_boxed_str()),
        );
    }
    if seen.path == "/v2/" {
        return challenge("registry:catalog:*");
    }
    let gun = "registry.local:5000/team/img";
    let needed = match seen.method.as_str() {
        "GET" if seen.path.ends_with(".json") => "pull",
        "DELETE" => "*",
        _ => "push,pull",
    };
    let auth = seen.header("authorization").unwrap_or_default();
    let granted = |who: &str| -> bool {
        let Some(actions) = auth.strip_prefix(&format!("Bearer {who}-repository:{gun}:")) else {
            return false;
        };
        let actions: Vec<&str> = actions.split(',').collect();
        actions.contains(&"*") || needed.split(',').all(|a| actions.contains(&a))
    };
    if auth == "Bearer expired" {
        let mut resp = challenge(&format!("repository:{gun}:{needed}"));
        let value = resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned();
        resp.headers_mut().insert(
            "www-authenticate",
            HeaderValue::from_str(&format!("{value},error=\"invalid_token\"")).unwrap(),
        );
        return resp;
    }
    // Anonymous users may only pull the public file.
    if granted("user") || (granted("anon") && seen.path.ends_with("public.json")) {
        status(200, "meta")
    } else {
        challenge(&format!("repository:{gun}:{needed}"))
    }
}

mod url {
    use std::collections::HashMap;

    pub(super) fn form_urlencoded_parse(query: &str) -> HashMap<String, String> {
        reqwest::Url::parse(&format!("http://x/?{query}"))
            .unwrap()
            .query_pairs()
            .into_owned()
            .collect()
    }
}

#[tokio::test]
async fn token_auth_pull_goes_anonymous_then_asks_for_credentials() {
    let server = TestServer::start(token_server).await;
    let asked = Arc::new(StdMutex::new(0));
    let counter = asked.clone();
    let options = RemoteOptions {
        access: Access::Pull,
        credentials: Some(Arc::new(move |_: &str| {
            *counter.lock().unwrap() += 1;
            Some(Credentials::new("alice", "pw"))
        })),
        ..RemoteOptions::default()
    };
    let remote = RemoteStore::connect(&server.url, options).await.unwrap();
    assert!(
        !remote.is_offline(),
        "401 on the ping means a notary server"
    );
    let g = gun();

    // Public file: the anonymous token is enough, nobody is asked for credentials.
    assert_eq!(remote.get_meta(&g, "public", 100).await.unwrap(), b"meta");
    assert_eq!(*asked.lock().unwrap(), 0);
    // Private file: anonymous fails, credentials are asked for once and used.
    assert_eq!(remote.get_meta(&g, "private", 100).await.unwrap(), b"meta");
    assert_eq!(remote.get_meta(&g, "private", 100).await.unwrap(), b"meta");
    assert_eq!(*asked.lock().unwrap(), 1);

    let token_requests: Vec<Seen> = server
        .seen()
        .into_iter()
        .filter(|s| s.path == "/token")
        .collect();
    assert_eq!(
        token_requests.len(),
        2,
        "tokens are cached per identity and scope"
    );
    assert!(token_requests[0].header("authorization").is_none());
    assert!(
        token_requests[0]
            .query
            .as_deref()
            .unwrap()
            .contains("scope=repository%3Aregistry.local%3A5000%2Fteam%2Fimg%3Apull")
    );
    assert!(token_requests[1].header("authorization").is_some());
}

#[tokio::test]
async fn token_auth_push_and_admin_scopes() {
    let server = TestServer::start(token_server).await;
    let g = gun();
    let push = RemoteStore::connect(
        &server.url,
        RemoteOptions {
            access: Access::PushPull,
            credentials: Some(Arc::new(Credentials::new("alice", "pw"))),
            ..RemoteOptions::default()
        },
    )
    .await
    .unwrap();
    push.publish(&g, &[]).await.unwrap();
    assert_eq!(push.get_meta(&g, "private", 100).await.unwrap(), b"meta");
    // Deleting needs "*", which a push,pull token does not give.
    let err = push.delete_repo(&g).await.unwrap_err();
    assert!(
        matches!(err, Error::Remote(RemoteError::Unauthorized { .. })),
        "{err:?}"
    );

    let admin = RemoteStore::connect(
        &server.url,
        RemoteOptions {
            access: Access::Admin,
            credentials: Some(Arc::new(Credentials::new("alice", "pw"))),
            ..RemoteOptions::default()
        },
    )
    .await
    .unwrap();
    admin.delete_repo(&g).await.unwrap();

    // Wrong password: the token service refuses.
    let wrong = RemoteStore::connect(
        &server.url,
        RemoteOptions {
            access: Access::PushPull,
            credentials: Some(Arc::new(Credentials::new("alice", "nope"))),
            ..RemoteOptions::default()
        },
    )
    .await
    .unwrap();
    let err = wrong.publish(&g, &[]).await.unwrap_err();
    assert!(
        matches!(&err, Error::Remote(RemoteError::TokenFetch { .. })),
        "{err:?}"
    );

    // No credentials at all for a private file: 401 after the anonymous attempts.
    let anonymous = RemoteStore::connect(&server.url, RemoteOptions::default())
        .await
        .unwrap();
    let err = anonymous.get_meta(&g, "private", 100).await.unwrap_err();
    assert!(
        matches!(err, Error::Remote(RemoteError::Unauthorized { .. })),
        "{err:?}"
    );
}

#[tokio::test]
async fn expired_tokens_are_fetched_again_once() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let issued = Arc::new(AtomicUsize::new(0));
    let counter = issued.clone();
    let server = TestServer::start(move |seen| {
        if seen.path == "/token" && counter.fetch_add(1, Ordering::SeqCst) == 0 {
            return status(200, r#"{"access_token":"expired"}"#);
        }
        token_server(seen)
    })
    .await;
    let remote = RemoteStore::connect(
        &server.url,
        RemoteOptions {
            access: Access::PushPull,
            credentials: Some(Arc::new(Credentials::new("alice", "pw"))),
            ..RemoteOptions::default()
        },
    )
    .await
    .unwrap();
    let g = gun();
    // The first token is already expired when used: the request is retried with a new one.
    assert_eq!(remote.get_meta(&g, "private", 100).await.unwrap(), b"meta");
    assert_eq!(remote.get_meta(&g, "private", 100).await.unwrap(), b"meta");
    assert_eq!(issued.load(Ordering::SeqCst), 2);
    let auths: Vec<String> = server
        .seen()
        .iter()
        .filter(|s| s.path.ends_with("private.json"))
        .map(|s| s.header("authorization").unwrap_or_default().to_owned())
        .collect();
    assert_eq!(auths.len(), 3);
    assert_eq!(auths[0], "Bearer expired");
    assert_eq!(auths[1], auths[2]);
}

#[tokio::test]
async fn challenge_learned_without_ping_and_basic_auth() {
    let basic = format!("Basic {}", STANDARD.encode("bob:secret"));
    let server = TestServer::start(move |seen| {
        if seen.header("authorization") == Some(basic.as_str()) {
            status(200, "ok")
        } else {
            let mut resp = status(401, "");
            resp.headers_mut().insert(
                "www-authenticate",
                HeaderValue::from_static(r#"Basic realm="notary""#),
            );
            resp
        }
    })
    .await;
    let remote = RemoteStore::new(
        &server.url,
        RemoteOptions {
            access: Access::PushPull,
            credentials: Some(Arc::new(Credentials::new("bob", "secret"))),
            ..RemoteOptions::default()
        },
    )
    .unwrap();
    assert_eq!(remote.get_meta(&gun(), "root", 10).await.unwrap(), b"ok");
    // First attempt unauthenticated, second with the basic header.
    assert_eq!(server.seen().len(), 2);
    assert_eq!(remote.get_meta(&gun(), "root", 10).await.unwrap(), b"ok");
    assert_eq!(server.seen().len(), 3, "the challenge is remembered");
}

#[tokio::test]
async fn ping_decides_offline_mode() {
    // Nothing listens on this port any more.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let remote = RemoteStore::connect(
        &format!("http://127.0.0.1:{port}"),
        RemoteOptions::default(),
    )
    .await
    .unwrap();
    assert!(remote.is_offline());
    assert!(
        remote
            .offline_reason()
            .unwrap()
            .starts_with("could not reach http://127.0.0.1:")
    );
    assert_eq!(
        remote.offline_failure().map(|f| &f.cause),
        Some(&ConnectCause::Refused)
    );
    let err = remote.get_meta(&gun(), "timestamp", 10).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "client is offline: could not reach http://127.0.0.1:{port}/: connection refused \
             by 127.0.0.1:{port} (nothing listens there)"
        )
    );
    assert!(err.is_unavailable());
    let server = format!("127.0.0.1:{port}");
    assert_eq!(
        err.remedy(),
        Some(Remedy::StartServer {
            server: server.as_str()
        })
    );
    assert!(matches!(
        remote.publish(&gun(), &[]).await.unwrap_err(),
        Error::Remote(RemoteError::Offline {
            failure: Some(_),
            ..
        })
    ));

    let server = TestServer::start(|seen| {
        if seen.path == "/v2/" {
            status(502, "")
        } else {
            status(200, "")
        }
    })
    .await;
    let remote = RemoteStore::connect(&server.url, RemoteOptions::default())
        .await
        .unwrap();
    assert_eq!(
        remote.offline_reason(),
        Some(format!("could not reach {}/: 502", server.url).as_str())
    );

    let server = TestServer::start(|_| status(200, "{}")).await;
    let remote = RemoteStore::connect(&server.url, RemoteOptions::default())
        .await
        .unwrap();
    assert!(!remote.is_offline());
    assert_eq!(remote.ping().await, PingOutcome::Reachable { status: 200 });
    assert_eq!(server.paths()[0], "GET /v2/");

    let remote = RemoteStore::offline(&server.url, "told so").unwrap();
    assert_eq!(remote.offline_reason(), Some("told so"));
    assert!(remote.server_host().starts_with("127.0.0.1:"));

    let err = RemoteStore::new("notary:4443", RemoteOptions::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "trust server url has to be in the form of http(s)://URL:PORT. Got: notary:4443"
    );
}

#[tokio::test]
async fn network_errors_are_unavailable() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let remote = RemoteStore::new(
        &format!("http://127.0.0.1:{port}"),
        RemoteOptions::default(),
    )
    .unwrap();
    let err = remote.get_meta(&gun(), "timestamp", 10).await.unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Remote(RemoteError::Network { failure: Some(failure), .. })
                if failure.cause == ConnectCause::Refused
        ),
        "{err:?}"
    );
    assert!(err.is_unavailable());
}

#[tokio::test]
async fn unresolvable_hosts_are_dns_failures() {
    let remote = RemoteStore::connect("https://notary.invalid:4443", RemoteOptions::default())
        .await
        .unwrap();
    let failure = remote.offline_failure().unwrap();
    assert_eq!(failure.cause, ConnectCause::Dns);
    assert_eq!(failure.server, "notary.invalid:4443");
    assert_eq!(
        failure.remedy(),
        Some(Remedy::FixServerHost {
            host: "notary.invalid"
        })
    );
}

#[tokio::test]
async fn servers_that_never_answer_are_timeouts() {
    // Accepts connections and never answers them.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket);
        }
    });
    let options = RemoteOptions {
        request_timeout: Some(Duration::from_millis(300)),
        ..RemoteOptions::default()
    };
    let remote = RemoteStore::connect(&format!("http://{address}"), options)
        .await
        .unwrap();
    let failure = remote.offline_failure().unwrap();
    assert_eq!(failure.cause, ConnectCause::Timeout, "{failure}");
    assert_eq!(failure.server, address.to_string());
    assert!(failure.remedy().is_some());
    held.abort();
}

mod tls_tests;

#[test]
fn multipart_boundaries_are_random_hex() {
    let boundary = random_boundary();
    assert_eq!(boundary.len(), 60);
    assert!(boundary.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_ne!(boundary, random_boundary());
}

#[test]
fn scopes() {
    assert_eq!(Access::Pull.scope("a/b"), "repository:a/b:pull");
    assert_eq!(Access::PushPull.scope("a/b"), "repository:a/b:push,pull");
    assert_eq!(Access::Admin.scope("a/b"), "repository:a/b:*");
}
