//! Writing to a registry with token authentication: blob uploads (POST, then a monolithic PUT
//! to the `Location`), manifest PUTs and blob reads, each asking the token service for the
//! `pull,push` scope; a registry that refuses the write names the write.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use axum::routing::{any, get};
use bytes::Bytes;
use signet_client::registry::{
    Digest, ImageReference, RegistryClient, RegistryError, RegistryOptions,
};

#[derive(Default)]
struct Store {
    blobs: HashMap<String, Vec<u8>>,
    manifests: HashMap<String, (String, Vec<u8>)>,
    /// `METHOD path scope` of every request to the repository.
    log: Vec<String>,
    refuse_manifests: bool,
}

type Shared = Arc<Mutex<Store>>;

async fn start() -> (String, Shared) {
    let shared: Shared = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new()
        .route("/token", get(token))
        .route("/v2/", any(challenge))
        .route("/v2/{*rest}", any(repository))
        .with_state((shared.clone(), addr.to_string()));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr.to_string(), shared)
}

fn unauthorized(addr: &str, scope: &str) -> Response {
    Response::builder()
        .status(StatusCode::UNAUTHORIZED)
        .header(
            header::WWW_AUTHENTICATE,
            format!(r#"Bearer realm="http://{addr}/token",service="fake",scope="{scope}""#),
        )
        .body(Body::empty())
        .unwrap()
}

async fn challenge(State((_, addr)): State<(Shared, String)>) -> Response {
    unauthorized(&addr, "")
}

/// Issues the scope itself as the token.
async fn token(request: Request) -> Response {
    let query = request.uri().query().unwrap_or_default().to_owned();
    let scope = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("scope="))
        .unwrap_or_default()
        .replace("%3A", ":")
        .replace("%2C", ",")
        .replace("%2F", "/");
    Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(format!(r#"{{"token":"{scope}"}}"#)))
        .unwrap()
}

async fn repository(State((shared, addr)): State<(Shared, String)>, request: Request) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or_default().to_owned();
    let scope = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_owned();
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = to_bytes(request.into_body(), 1 << 20).await.unwrap();
    let rest = path.strip_prefix("/v2/team/app/").unwrap_or_default();
    let writes = method == "POST" || method == "PUT";
    let needed = if writes {
        "repository:team/app:pull,push"
    } else {
        "repository:team/app:pull"
    };
    let mut store = shared.lock().unwrap();
    store.log.push(format!("{method} {rest} {scope}"));
    // A push token also reads.
    let allowed = scope == needed || scope == "repository:team/app:pull,push";
    if !allowed {
        return unauthorized(&addr, needed);
    }
    let status = |status: StatusCode| Response::builder().status(status);
    if rest == "blobs/uploads/" && method == "POST" {
        return status(StatusCode::ACCEPTED)
            .header(
                header::LOCATION,
                "/v2/team/app/blobs/uploads/session-1?state=x",
            )
            .body(Body::empty())
            .unwrap();
    }
    if rest.starts_with("blobs/uploads/session-1") && method == "PUT" {
        let digest = query
            .split('&')
            .find_map(|pair| pair.strip_prefix("digest="))
            .unwrap()
            .replace("%3A", ":");
        assert!(query.contains("state=x"), "{query}");
        assert_eq!(content_type, "application/octet-stream");
        assert_eq!(Digest::parse(&digest).unwrap(), Digest::sha256_of(&body));
        store.blobs.insert(digest, body.to_vec());
        return status(StatusCode::CREATED).body(Body::empty()).unwrap();
    }
    if let Some(digest) = rest.strip_prefix("blobs/") {
        return match store.blobs.get(digest) {
            Some(blob) if method == "GET" => status(StatusCode::OK)
                .body(Body::from(blob.clone()))
                .unwrap(),
            Some(_) => status(StatusCode::OK).body(Body::empty()).unwrap(),
            None => status(StatusCode::NOT_FOUND).body(Body::empty()).unwrap(),
        };
    }
    if let Some(reference) = rest.strip_prefix("manifests/") {
        if method == "PUT" {
            if store.refuse_manifests {
                return status(StatusCode::BAD_REQUEST)
                    .body(Body::from(
                        r#"{"errors":[{"code":"MANIFEST_INVALID","message":"manifest invalid"}]}"#,
                    ))
                    .unwrap();
            }
            store
                .manifests
                .insert(reference.to_owned(), (content_type, body.to_vec()));
            return status(StatusCode::CREATED)
                .header(
                    "Docker-Content-Digest",
                    Digest::sha256_of(&body).to_string(),
                )
                .body(Body::empty())
                .unwrap();
        }
        return match store.manifests.get(reference) {
            Some((media_type, bytes)) => status(StatusCode::OK)
                .header(header::CONTENT_TYPE, media_type.clone())
                .body(Body::from(bytes.clone()))
                .unwrap(),
            None => status(StatusCode::NOT_FOUND).body(Body::empty()).unwrap(),
        };
    }
    status(StatusCode::NOT_FOUND).body(Body::empty()).unwrap()
}

fn client(domain: &str) -> RegistryClient {
    RegistryClient::new(domain, RegistryOptions::default()).unwrap()
}

#[tokio::test]
async fn pushes_blobs_and_manifests_with_the_push_scope() {
    let (domain, shared) = start().await;
    let client = client(&domain);
    let image = ImageReference::parse(&format!("{domain}/team/app:sig")).unwrap();

    let blob = Bytes::from_static(b"payload bytes");
    let digest = client.push_blob(&image, blob.clone()).await.unwrap();
    assert_eq!(digest, Digest::sha256_of(&blob));
    assert!(client.blob_exists(&image, &digest).await.unwrap());
    assert_eq!(
        client.fetch_blob(&image, &digest, 1024).await.unwrap(),
        blob.to_vec()
    );
    // Already there: no second upload.
    client.push_blob(&image, blob.clone()).await.unwrap();
    let uploads = shared
        .lock()
        .unwrap()
        .log
        .iter()
        .filter(|l| l.starts_with("POST "))
        .count();
    assert_eq!(uploads, 1);

    let manifest = Bytes::from_static(br#"{"schemaVersion":2}"#);
    let written = client
        .push_manifest(
            &image,
            "application/vnd.oci.image.manifest.v1+json",
            manifest.clone(),
        )
        .await
        .unwrap();
    assert_eq!(written, Digest::sha256_of(&manifest));
    let fetched = client.fetch_manifest(&image).await.unwrap();
    assert_eq!(fetched.bytes, manifest);
    assert_eq!(
        fetched.descriptor.media_type.as_deref(),
        Some("application/vnd.oci.image.manifest.v1+json")
    );
    let log = shared.lock().unwrap().log.clone();
    for line in &log {
        if line.starts_with("POST ") || line.starts_with("PUT ") {
            assert!(line.ends_with(" repository:team/app:pull,push"), "{log:?}");
        }
    }

    // A missing blob, and a refused manifest naming the write.
    let missing = Digest::sha256_of(b"missing");
    assert!(!client.blob_exists(&image, &missing).await.unwrap());
    let error = client.fetch_blob(&image, &missing, 1024).await.unwrap_err();
    assert!(
        matches!(error, RegistryError::BlobNotFound { .. }),
        "{error}"
    );
    shared.lock().unwrap().refuse_manifests = true;
    let error = client
        .push_manifest(
            &image,
            "application/vnd.oci.image.manifest.v1+json",
            manifest,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(error, RegistryError::PushRefused { status: 400, .. }),
        "{error}"
    );
    assert!(error.to_string().contains("MANIFEST_INVALID"), "{error}");
}
