//! signet's registry client against the real `docker-registry` (Debian package
//! `docker-registry`): images pushed through the registry API by the harness, resolved to the
//! digest and size docker content trust signs.

use signet_client::registry::client::{MEDIA_TYPE_DOCKER_MANIFEST, MEDIA_TYPE_OCI_INDEX};
use signet_client::registry::{
    Digest, ImageReference, RegistryClient, RegistryError, RegistryOptions,
};
use signet_e2e::registry::{DockerRegistry, ManifestFormat, OCI_MANIFEST, sha256_digest};
use signet_e2e::require_tool;

const CONFIG: &[u8] =
    br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;

/// The registry, or `None` (with a skip notice; a failure under CI) when it is not installed.
fn registry() -> Option<DockerRegistry> {
    require_tool("docker-registry")?;
    Some(DockerRegistry::start().expect("start docker-registry"))
}

fn reference(registry: &DockerRegistry, rest: &str) -> ImageReference {
    ImageReference::parse(&format!("{}/{rest}", registry.host())).unwrap()
}

fn client(image: &ImageReference) -> RegistryClient {
    RegistryClient::for_image(image, RegistryOptions::default()).unwrap()
}

#[tokio::test]
async fn resolves_a_pushed_tag_and_follows_a_re_push() {
    let Some(registry) = registry() else { return };
    let (first, first_size) = registry
        .push_image("team/app", "1.0", b"first layer", CONFIG)
        .unwrap();
    let image = reference(&registry, "team/app:1.0");
    assert_eq!(
        image.gun().unwrap().as_str(),
        format!("{}/team/app", registry.host())
    );
    assert!(image.is_insecure_registry());

    let client = client(&image);
    // A loopback registry is insecure: https fails against the plain-http server, http works.
    assert_eq!(client.ping().await.unwrap().scheme(), "http");

    let resolved = client.resolve(&image).await.unwrap();
    assert_eq!(resolved.digest.to_string(), first);
    assert_eq!(resolved.size, first_size);
    assert_eq!(
        resolved.media_type.as_deref(),
        Some(MEDIA_TYPE_DOCKER_MANIFEST)
    );

    let fetched = client.fetch_manifest(&image).await.unwrap();
    assert!(fetched.descriptor.verified);
    assert_eq!(fetched.descriptor.digest.to_string(), first);
    assert_eq!(fetched.bytes.len() as u64, first_size);
    assert_eq!(sha256_digest(&fetched.bytes), first);
    assert_eq!(
        fetched.bytes.as_ref(),
        registry
            .manifest("team/app", "1.0")
            .unwrap()
            .body
            .as_slice()
    );

    // Re-pushing the tag with other content moves it.
    let (second, second_size) = registry
        .push_image("team/app", "1.0", b"second layer, longer", CONFIG)
        .unwrap();
    assert_ne!(second, first);
    let moved = client.resolve(&image).await.unwrap();
    assert_eq!(moved.digest.to_string(), second);
    assert_eq!(moved.size, second_size);
    let verified = RegistryClient::for_image(
        &image,
        RegistryOptions {
            verify_with_get: true,
            ..RegistryOptions::default()
        },
    )
    .unwrap()
    .resolve(&image)
    .await
    .unwrap();
    assert!(verified.verified);
    assert_eq!(verified.digest.to_string(), second);

    // The old manifest is still there by digest.
    let pinned = image.with_digest(Digest::parse(&first).unwrap());
    let old = client.resolve(&pinned).await.unwrap();
    assert_eq!(old.digest.to_string(), first);
    assert_eq!(old.size, first_size);
}

#[tokio::test]
async fn oci_manifests_indexes_and_retags() {
    let Some(registry) = registry() else { return };
    let (manifest, manifest_size) = registry
        .push_image_as(
            ManifestFormat::Oci,
            "team/multi",
            "amd64",
            b"oci layer",
            CONFIG,
        )
        .unwrap();
    let (index, index_size) = registry
        .push_index("team/multi", "1.0", &[(manifest.clone(), manifest_size)])
        .unwrap();
    let client = client(&reference(&registry, "team/multi"));

    let single = client
        .resolve(&reference(&registry, "team/multi:amd64"))
        .await
        .unwrap();
    assert_eq!(single.digest.to_string(), manifest);
    assert_eq!(single.size, manifest_size);
    assert_eq!(single.media_type.as_deref(), Some(OCI_MANIFEST));

    // The registry only serves an OCI index to a client that accepts one.
    let resolved = client
        .resolve(&reference(&registry, "team/multi:1.0"))
        .await
        .unwrap();
    assert_eq!(resolved.digest.to_string(), index);
    assert_eq!(resolved.size, index_size);
    assert_eq!(resolved.media_type.as_deref(), Some(MEDIA_TYPE_OCI_INDEX));

    let (retagged, retagged_size) = registry.retag("team/multi", "1.0", "stable").unwrap();
    assert_eq!(
        (retagged.as_str(), retagged_size),
        (index.as_str(), index_size)
    );
    let stable = client
        .resolve(&reference(&registry, "team/multi:stable"))
        .await
        .unwrap();
    assert_eq!(stable.digest.to_string(), index);
}

#[tokio::test]
async fn unknown_and_deleted_manifests_are_not_found() {
    let Some(registry) = registry() else { return };
    let (digest, _) = registry
        .push_image("team/app", "1.0", b"layer", CONFIG)
        .unwrap();
    let image = reference(&registry, "team/app:1.0");
    let client = client(&image);

    let missing_tag = reference(&registry, "team/app:nope");
    match client.resolve(&missing_tag).await.unwrap_err() {
        RegistryError::ManifestNotFound {
            image,
            registry: name,
            message,
        } => {
            assert_eq!(image, missing_tag.to_string());
            assert_eq!(name, registry.host());
            assert!(message.starts_with("MANIFEST_UNKNOWN"), "{message}");
        }
        other => panic!("unexpected {other}"),
    }
    let missing_repo = reference(&registry, "team/none:1.0");
    let error = client.resolve(&missing_repo).await.unwrap_err();
    assert!(error.is_not_found(), "{error}");

    registry.delete_manifest("team/app", &digest).unwrap();
    let error = client.resolve(&image).await.unwrap_err();
    assert!(error.is_not_found(), "{error}");
}
