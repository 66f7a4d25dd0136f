//! Registry authentication against an in-process fake registry: bearer tokens (anonymous,
//! from the docker config, from the caller), basic auth, refusals and credential helpers.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod registry_fake;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use registry_fake::{AuthMode, FakeRegistry, PASSWORD, SERVICE, Served, USER, sha256_digest};
use signet_client::http::{CredentialSource, Credentials};
use signet_client::registry::client::MEDIA_TYPE_DOCKER_MANIFEST;
use signet_client::registry::{
    DockerConfig, ImageReference, RegistryClient, RegistryError, RegistryOptions,
};

const MANIFEST: &[u8] =
    br#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json"}"#;

async fn registry(auth: AuthMode) -> (FakeRegistry, ImageReference) {
    let fake = FakeRegistry::start(auth).await;
    fake.serve(
        "team/app",
        "1.0",
        Served::new(MANIFEST, MEDIA_TYPE_DOCKER_MANIFEST),
    );
    let image = ImageReference::parse(&format!("{}/team/app:1.0", fake.domain())).unwrap();
    (fake, image)
}

/// A registry handing out bearer tokens: whether its token service wants credentials, and
/// whether it grants anonymous pulls.
fn bearer(require_credentials: bool, anonymous_allowed: bool) -> AuthMode {
    AuthMode::Bearer {
        require_credentials,
        anonymous_allowed,
    }
}

fn client_with(image: &ImageReference, options: RegistryOptions) -> RegistryClient {
    RegistryClient::for_image(image, options).unwrap()
}

fn anonymous_client(image: &ImageReference) -> RegistryClient {
    client_with(image, RegistryOptions::default())
}

/// A client whose caller answers `credentials` when asked, and how often it was asked.
fn asking_client(
    image: &ImageReference,
    credentials: Credentials,
) -> (RegistryClient, Arc<AtomicUsize>) {
    let (source, calls) = counting_source(Some(credentials));
    let options = RegistryOptions {
        credentials: Some(source),
        ..RegistryOptions::default()
    };
    (client_with(image, options), calls)
}

fn docker_config(domain: &str, user: &str, password: &str) -> DockerConfig {
    let auth = STANDARD.encode(format!("{user}:{password}"));
    DockerConfig::parse(
        format!(r#"{{"auths": {{"{domain}": {{"auth": "{auth}"}}}}}}"#).as_bytes(),
        Path::new("config.json"),
    )
    .unwrap()
}

/// A credential source that counts how often it is asked.
fn counting_source(answer: Option<Credentials>) -> (Arc<dyn CredentialSource>, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let source = move |_: &str| {
        counter.fetch_add(1, Ordering::SeqCst);
        answer.clone()
    };
    (Arc::new(source), calls)
}

fn token_requests(fake: &FakeRegistry) -> Vec<registry_fake::Logged> {
    fake.log()
        .into_iter()
        .filter(|l| l.path == "/token")
        .collect()
}

#[tokio::test]
async fn anonymous_bearer_token_with_pull_scope() {
    let (fake, image) = registry(bearer(false, true)).await;
    let client = anonymous_client(&image);
    let resolved = client.resolve(&image).await.unwrap();
    assert_eq!(resolved.digest.to_string(), sha256_digest(MANIFEST));
    assert_eq!(resolved.size, MANIFEST.len() as u64);

    let tokens = token_requests(&fake);
    assert_eq!(tokens.len(), 1, "{tokens:?}");
    assert_eq!(tokens[0].query["scope"], "repository:team/app:pull");
    assert_eq!(tokens[0].query["service"], SERVICE);
    assert!(!tokens[0].query.contains_key("account"));
    assert_eq!(tokens[0].authorization, None);

    // The token is reused for the next request.
    client.fetch_manifest(&image).await.unwrap();
    assert_eq!(token_requests(&fake).len(), 1);
    let manifest_requests = fake.requests("/v2/team/app/manifests/");
    assert_eq!(
        manifest_requests,
        [
            "HEAD /v2/team/app/manifests/1.0",
            "GET /v2/team/app/manifests/1.0"
        ]
    );
    assert!(
        fake.log()
            .iter()
            .filter(|l| l.path.contains("/manifests/"))
            .all(|l| l
                .authorization
                .as_deref()
                .is_some_and(|a| a.starts_with("Bearer ")))
    );
}

#[tokio::test]
async fn bearer_token_with_docker_config_credentials() {
    let (fake, image) = registry(bearer(true, false)).await;
    let (source, calls) = counting_source(None);
    let client = client_with(
        &image,
        RegistryOptions {
            docker_config: Some(docker_config(&fake.domain(), USER, PASSWORD)),
            credentials: Some(source),
            ..RegistryOptions::default()
        },
    );
    let resolved = client.resolve(&image).await.unwrap();
    assert_eq!(resolved.digest.to_string(), sha256_digest(MANIFEST));
    let tokens = token_requests(&fake);
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0].query["account"], USER);
    assert_eq!(
        tokens[0].authorization.as_deref(),
        Some(format!("Basic {}", STANDARD.encode(format!("{USER}:{PASSWORD}"))).as_str())
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "stored credentials need no prompt"
    );
}

#[tokio::test]
async fn caller_is_asked_once_after_an_anonymous_refusal() {
    let (fake, image) = registry(bearer(false, false)).await;
    let (client, calls) = asking_client(&image, Credentials::new(USER, PASSWORD));
    let resolved = client.resolve(&image).await.unwrap();
    assert_eq!(resolved.size, MANIFEST.len() as u64);
    client.resolve(&image).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let accounts: Vec<Option<String>> = token_requests(&fake)
        .into_iter()
        .map(|t| t.query.get("account").cloned())
        .collect();
    assert_eq!(accounts, [None, Some(USER.to_owned())]);
}

#[tokio::test]
async fn token_service_refusing_anonymous_access_prompts() {
    let (_fake, image) = registry(bearer(true, false)).await;
    let (client, calls) = asking_client(&image, Credentials::new(USER, PASSWORD));
    client.resolve(&image).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn refused_without_credentials_names_image_and_registry() {
    let (fake, image) = registry(bearer(true, false)).await;
    let client = anonymous_client(&image);
    let error = client.resolve(&image).await.unwrap_err();
    match &error {
        RegistryError::AccessDenied {
            image: named,
            registry,
            status,
            with_credentials,
            ..
        } => {
            assert_eq!(named, &image.to_string());
            assert_eq!(registry, &fake.domain());
            assert_eq!(*status, 401);
            assert!(!with_credentials);
        }
        other => panic!("unexpected {other}"),
    }
    assert!(error.to_string().contains(&fake.domain()), "{error}");
}

#[tokio::test]
async fn wrong_credentials_are_refused() {
    let (_fake, image) = registry(bearer(true, false)).await;
    let (client, calls) = asking_client(&image, Credentials::new(USER, "wrong"));
    let error = client.resolve(&image).await.unwrap_err();
    assert!(
        matches!(
            error,
            RegistryError::AccessDenied {
                with_credentials: true,
                ..
            }
        ),
        "{error}"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn basic_auth_from_the_caller() {
    let (fake, image) = registry(AuthMode::Basic).await;
    let (client, calls) = asking_client(&image, Credentials::new(USER, PASSWORD));
    let resolved = client.resolve(&image).await.unwrap();
    assert_eq!(resolved.digest.to_string(), sha256_digest(MANIFEST));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert!(token_requests(&fake).is_empty());
    let last = fake.log().pop().unwrap();
    assert_eq!(
        last.authorization.unwrap(),
        format!("Basic {}", STANDARD.encode(format!("{USER}:{PASSWORD}")))
    );
}

#[tokio::test]
async fn basic_auth_from_docker_config_and_refusal_without() {
    let (fake, image) = registry(AuthMode::Basic).await;
    let client = client_with(
        &image,
        RegistryOptions {
            docker_config: Some(docker_config(
                &format!("http://{}/v2/", fake.domain()),
                USER,
                PASSWORD,
            )),
            ..RegistryOptions::default()
        },
    );
    assert_eq!(
        client.resolve(&image).await.unwrap().size,
        MANIFEST.len() as u64
    );

    let anonymous = anonymous_client(&image);
    let error = anonymous.resolve(&image).await.unwrap_err();
    match error {
        RegistryError::AccessDenied {
            status, message, ..
        } => {
            assert_eq!(status, 401);
            assert_eq!(message, "UNAUTHORIZED: authentication required");
        }
        other => panic!("unexpected {other}"),
    }
}

#[tokio::test]
async fn credential_helper_is_reported_when_credentials_are_needed() {
    let (_fake, image) = registry(AuthMode::Basic).await;
    let config = DockerConfig::parse(
        br#"{"credsStore": "desktop", "auths": {}}"#,
        Path::new("config.json"),
    )
    .unwrap();
    let client = client_with(
        &image,
        RegistryOptions {
            docker_config: Some(config.clone()),
            ..RegistryOptions::default()
        },
    );
    let error = client.resolve(&image).await.unwrap_err();
    match &error {
        RegistryError::CredentialHelper { registry, helper } => {
            assert_eq!(registry, image.domain());
            assert_eq!(helper, "desktop");
        }
        other => panic!("unexpected {other}"),
    }
    assert!(
        error.to_string().contains("docker-credential-desktop"),
        "{error}"
    );

    // An open registry never needs the helper.
    let (_open, image) = registry(AuthMode::Open).await;
    let client = client_with(
        &image,
        RegistryOptions {
            docker_config: Some(config),
            ..RegistryOptions::default()
        },
    );
    assert_eq!(
        client.resolve(&image).await.unwrap().size,
        MANIFEST.len() as u64
    );
}

#[tokio::test]
async fn token_response_problems() {
    let (fake, image) = registry(bearer(false, true)).await;

    // (case, token response body, the error expected).
    type Expected = fn(&RegistryError) -> bool;
    let refused: [(&str, Vec<u8>, Expected); 2] = [
        (
            "no token",
            br#"{"expires_in": 60}"#.to_vec(),
            |e| matches!(e, RegistryError::Token { reason, .. } if reason.contains("no token")),
        ),
        ("oversize response", vec![b' '; (1 << 20) + 1], |e| {
            matches!(
                e,
                RegistryError::TooLarge {
                    what: "token response",
                    limit: 1_048_576,
                    ..
                }
            )
        }),
    ];
    for (case, body, expected) in refused {
        fake.configure(|c| c.token_body = Some(body));
        let error = anonymous_client(&image).resolve(&image).await.unwrap_err();
        assert!(expected(&error), "{case}: {error}");
    }

    // `access_token` is accepted as well, and preferred over `token`. The fake honours only
    // tokens it issued, so let it issue the anonymous one first.
    fake.configure(|c| c.token_body = None);
    let warm_up = anonymous_client(&image);
    warm_up.resolve(&image).await.unwrap();
    let issued = STANDARD.encode("anonymous|repository:team/app:pull");
    fake.configure(|c| {
        c.token_body =
            Some(format!(r#"{{"token": "ignored", "access_token": "{issued}"}}"#).into_bytes());
    });
    let client = anonymous_client(&image);
    assert_eq!(
        client.resolve(&image).await.unwrap().size,
        MANIFEST.len() as u64
    );
}
