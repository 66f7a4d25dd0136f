//! Manifest resolution against an in-process fake registry: HEAD and GET, the Accept list,
//! digest verification, size caps, status errors and scheme selection.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod registry_fake;

use registry_fake::{AuthMode, FakeRegistry, Served, sha256_digest};
use signet_client::registry::client::{
    MANIFEST_MEDIA_TYPES, MAX_MANIFEST_SIZE, MEDIA_TYPE_DOCKER_MANIFEST, MEDIA_TYPE_OCI_INDEX,
};
use signet_client::registry::{
    Digest, ImageReference, RegistryClient, RegistryError, RegistryOptions, RegistryScheme,
};

const MANIFEST: &[u8] =
    br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#;

async fn open_registry() -> FakeRegistry {
    let fake = FakeRegistry::start(AuthMode::Open).await;
    fake.serve(
        "team/app",
        "1.0",
        Served::new(MANIFEST, MEDIA_TYPE_OCI_INDEX),
    );
    fake
}

fn reference(fake: &FakeRegistry, rest: &str) -> ImageReference {
    ImageReference::parse(&format!("{}/{rest}", fake.domain())).unwrap()
}

fn client(image: &ImageReference) -> RegistryClient {
    RegistryClient::for_image(image, RegistryOptions::default()).unwrap()
}

#[tokio::test]
async fn head_resolves_a_tag_and_get_verifies_it() {
    let fake = open_registry().await;
    let image = reference(&fake, "team/app:1.0");
    let client = client(&image);
    let base = client.ping().await.unwrap();
    assert_eq!(base.as_str(), format!("http://{}/", fake.domain()));

    let resolved = client.resolve(&image).await.unwrap();
    assert_eq!(resolved.digest.to_string(), sha256_digest(MANIFEST));
    assert_eq!(resolved.size, MANIFEST.len() as u64);
    assert_eq!(resolved.media_type.as_deref(), Some(MEDIA_TYPE_OCI_INDEX));
    assert!(!resolved.verified);
    assert_eq!(
        fake.requests("/v2/team"),
        ["HEAD /v2/team/app/manifests/1.0"]
    );

    let fetched = client.fetch_manifest(&image).await.unwrap();
    assert_eq!(fetched.bytes.as_ref(), MANIFEST);
    assert!(fetched.descriptor.verified);
    assert_eq!(fetched.descriptor.digest, resolved.digest);
    assert_eq!(fetched.descriptor.size, resolved.size);

    // Docker's Accept list on every manifest request.
    let expected_accept = MANIFEST_MEDIA_TYPES.join(", ");
    for logged in fake.log().iter().filter(|l| l.path.contains("/manifests/")) {
        assert_eq!(logged.accept.as_deref(), Some(expected_accept.as_str()));
    }
    // One ping for the client's lifetime (https was tried first: the fake only speaks http).
    let pings: Vec<_> = fake
        .log()
        .into_iter()
        .filter(|l| l.path == "/v2/")
        .collect();
    assert_eq!(pings.len(), 1, "{pings:?}");
}

#[tokio::test]
async fn verify_with_get_skips_head() {
    let fake = open_registry().await;
    let image = reference(&fake, "team/app:1.0");
    let client = RegistryClient::for_image(
        &image,
        RegistryOptions {
            verify_with_get: true,
            ..RegistryOptions::default()
        },
    )
    .unwrap();
    let resolved = client.resolve(&image).await.unwrap();
    assert!(resolved.verified);
    assert_eq!(
        fake.requests("/v2/team"),
        ["GET /v2/team/app/manifests/1.0"]
    );
}

#[tokio::test]
async fn head_without_digest_or_length_falls_back_to_get() {
    let fake = open_registry().await;
    let mut no_digest = Served::new(MANIFEST, MEDIA_TYPE_DOCKER_MANIFEST);
    no_digest.head_digest = false;
    fake.serve("team/app", "no-digest", no_digest);
    let mut no_length = Served::new(MANIFEST, MEDIA_TYPE_DOCKER_MANIFEST);
    no_length.head_length = None;
    fake.serve("team/app", "no-length", no_length);
    for tag in ["no-digest", "no-length"] {
        let image = reference(&fake, &format!("team/app:{tag}"));
        let resolved = client(&image).resolve(&image).await.unwrap();
        assert!(resolved.verified, "{tag}");
        assert_eq!(resolved.size, MANIFEST.len() as u64);
        assert_eq!(resolved.digest, Digest::sha256_of(MANIFEST));
        assert_eq!(
            fake.requests(&format!("/v2/team/app/manifests/{tag}")),
            [
                format!("HEAD /v2/team/app/manifests/{tag}"),
                format!("GET /v2/team/app/manifests/{tag}")
            ]
        );
    }
}

#[tokio::test]
async fn a_digest_reference_is_fetched_and_checked() {
    let fake = open_registry().await;
    let digest = sha256_digest(MANIFEST);
    fake.serve(
        "team/app",
        &digest,
        Served::new(MANIFEST, MEDIA_TYPE_OCI_INDEX),
    );
    let image = reference(&fake, &format!("team/app@{digest}"));
    let resolved = client(&image).resolve(&image).await.unwrap();
    assert!(resolved.verified);
    assert_eq!(resolved.digest.to_string(), digest);
    assert_eq!(
        fake.requests("/v2/team"),
        [format!("GET /v2/team/app/manifests/{digest}")]
    );

    // Content that does not hash to the requested digest is refused.
    let other = Digest::sha256_of(b"something else").to_string();
    let mut lying = Served::new(MANIFEST, MEDIA_TYPE_OCI_INDEX);
    lying.digest_header = Some(other.clone());
    fake.serve("team/app", &other, lying);
    let image = reference(&fake, &format!("team/app@{other}"));
    let error = client(&image).resolve(&image).await.unwrap_err();
    match error {
        RegistryError::DigestMismatch {
            expected, actual, ..
        } => {
            assert_eq!(expected, other);
            assert_eq!(actual, digest);
        }
        other => panic!("unexpected {other}"),
    }
}

#[tokio::test]
async fn a_body_not_matching_docker_content_digest_is_refused() {
    let fake = open_registry().await;
    let announced = Digest::sha256_of(b"announced").to_string();
    let mut served = Served::new(MANIFEST, MEDIA_TYPE_OCI_INDEX);
    served.digest_header = Some(announced.clone());
    fake.serve("team/app", "evil", served);
    let image = reference(&fake, "team/app:evil");
    let client = client(&image);
    // HEAD alone cannot tell; a fetch compares.
    assert_eq!(
        client.resolve(&image).await.unwrap().digest.to_string(),
        announced
    );
    let error = client.fetch_manifest(&image).await.unwrap_err();
    match &error {
        RegistryError::DigestMismatch {
            image: named,
            registry,
            expected,
            actual,
        } => {
            assert_eq!(named, &image.to_string());
            assert_eq!(registry, &fake.domain());
            assert_eq!(expected, &announced);
            assert_eq!(actual, &sha256_digest(MANIFEST));
        }
        other => panic!("unexpected {other}"),
    }

    let mut garbage = Served::new(MANIFEST, MEDIA_TYPE_OCI_INDEX);
    garbage.digest_header = Some("sha256:nothex".to_owned());
    fake.serve("team/app", "garbage", garbage);
    let image = reference(&fake, "team/app:garbage");
    let error = client.fetch_manifest(&image).await.unwrap_err();
    assert!(
        matches!(error, RegistryError::BadResponse { .. }),
        "{error}"
    );
}

#[tokio::test]
async fn sha512_docker_content_digest_is_verified_too() {
    let fake = open_registry().await;
    let sha512 = Digest::of(signet_client::registry::DigestAlgorithm::Sha512, MANIFEST);
    let mut served = Served::new(MANIFEST, MEDIA_TYPE_OCI_INDEX);
    served.digest_header = Some(sha512.to_string());
    fake.serve("team/app", "sha512", served);
    let image = reference(&fake, "team/app:sha512");
    // HEAD's sha512 is not a DCT digest: the body is fetched and hashed with sha256.
    let resolved = client(&image).resolve(&image).await.unwrap();
    assert!(resolved.verified);
    assert_eq!(resolved.digest, Digest::sha256_of(MANIFEST));
}

#[tokio::test]
async fn manifests_are_capped() {
    let fake = open_registry().await;
    let huge = vec![b' '; usize::try_from(MAX_MANIFEST_SIZE).unwrap() + 1];
    fake.serve(
        "team/app",
        "huge",
        Served::new(&huge, MEDIA_TYPE_DOCKER_MANIFEST),
    );
    let mut streamed = Served::new(&huge, MEDIA_TYPE_DOCKER_MANIFEST);
    streamed.chunked = true;
    streamed.head_length = None;
    fake.serve("team/app", "streamed", streamed);
    let exactly = vec![b' '; usize::try_from(MAX_MANIFEST_SIZE).unwrap()];
    let mut at_limit = Served::new(&exactly, MEDIA_TYPE_DOCKER_MANIFEST);
    at_limit.chunked = true;
    fake.serve("team/app", "at-limit", at_limit);

    for tag in ["huge", "streamed"] {
        let image = reference(&fake, &format!("team/app:{tag}"));
        let client = client(&image);
        let error = client.resolve(&image).await.unwrap_err();
        assert!(
            matches!(
                error,
                RegistryError::TooLarge {
                    what: "manifest",
                    limit: MAX_MANIFEST_SIZE,
                    ..
                }
            ),
            "{tag}: {error}"
        );
        assert!(client.fetch_manifest(&image).await.is_err(), "{tag}");
    }
    let image = reference(&fake, "team/app:at-limit");
    let fetched = client(&image).fetch_manifest(&image).await.unwrap();
    assert_eq!(fetched.descriptor.size, MAX_MANIFEST_SIZE);
}

#[tokio::test]
async fn not_found_and_other_statuses() {
    let fake = open_registry().await;
    let image = reference(&fake, "team/app:missing");
    let client = client(&image);
    let error = client.resolve(&image).await.unwrap_err();
    assert!(error.is_not_found());
    match &error {
        RegistryError::ManifestNotFound {
            image: named,
            registry,
            message,
        } => {
            assert_eq!(named, &image.to_string());
            assert_eq!(registry, &fake.domain());
            assert_eq!(message, "MANIFEST_UNKNOWN: manifest unknown");
        }
        other => panic!("unexpected {other}"),
    }

    // A name-only reference asks for `latest`.
    let latest = reference(&fake, "team/app");
    assert!(client.resolve(&latest).await.unwrap_err().is_not_found());
    assert_eq!(
        fake.requests("/v2/team/app/manifests/latest")
            .last()
            .unwrap(),
        "GET /v2/team/app/manifests/latest"
    );

    let broken = FakeRegistry::start(AuthMode::Open).await;
    broken.configure(|c| c.ping_status = axum::http::StatusCode::NOT_FOUND);
    let image = reference(&broken, "team/app:1.0");
    let error = self::client(&image).resolve(&image).await.unwrap_err();
    assert!(
        matches!(error, RegistryError::NotARegistry { status: 404, .. }),
        "{error}"
    );
    assert!(error.is_unavailable());
}

#[tokio::test]
async fn scheme_selection() {
    let fake = open_registry().await;
    let image = reference(&fake, "team/app:1.0");
    // http only.
    let http = RegistryClient::for_image(
        &image,
        RegistryOptions {
            scheme: RegistryScheme::Http,
            ..RegistryOptions::default()
        },
    )
    .unwrap();
    assert_eq!(
        http.resolve(&image).await.unwrap().size,
        MANIFEST.len() as u64
    );
    // https only cannot talk to a plain http server.
    for options in [
        RegistryOptions {
            scheme: RegistryScheme::Https,
            ..RegistryOptions::default()
        },
        RegistryOptions {
            insecure: Some(false),
            ..RegistryOptions::default()
        },
    ] {
        let client = RegistryClient::for_image(&image, options).unwrap();
        let error = client.resolve(&image).await.unwrap_err();
        match &error {
            RegistryError::Network { registry, url, .. } => {
                assert_eq!(registry, &fake.domain());
                assert!(url.starts_with("https://"), "{url}");
            }
            other => panic!("unexpected {other}"),
        }
    }
}

#[tokio::test]
async fn unreachable_registry_is_a_network_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let domain = listener.local_addr().unwrap().to_string();
    drop(listener);
    let image = ImageReference::parse(&format!("{domain}/team/app:1.0")).unwrap();
    let error = client(&image).resolve(&image).await.unwrap_err();
    assert!(error.is_unavailable());
    match &error {
        RegistryError::Network { registry, url, .. } => {
            assert_eq!(registry, &domain);
            // After https, http was tried too.
            assert!(url.starts_with("http://"), "{url}");
        }
        other => panic!("unexpected {other}"),
    }
}
