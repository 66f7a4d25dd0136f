//! Image registries: docker image references and the OCI distribution API, for docker content
//! trust (`signet trust sign|inspect|revoke|verify IMAGE[:TAG]`).
//!
//! * [`reference`]: parsing and normalisation exactly as docker's `ParseNormalizedNamed`, the
//!   GUN, the registry API host, docker's insecure-registry rule and the default trust server.
//! * [`digest`]: content digests with go-digest's validation.
//! * [`client`]: resolving a tag to its manifest digest and size (token and basic auth,
//!   `certs.d` CAs, size caps, digest verification).
//! * [`docker_config`]: registry credentials from docker's `config.json`.
//! * [`push`]: writing blobs and manifests (with the `pull,push` token scope).
//! * [`index`]: OCI image indexes and Docker manifest lists, platforms, and picking the
//!   manifest of one platform.
//! * [`error`]: [`ReferenceError`] (docker's texts) and [`RegistryError`].
//!
//! ```no_run
//! # async fn run() -> Result<(), signet_client::registry::RegistryError> {
//! use signet_client::registry::{ImageReference, RegistryClient, RegistryOptions};
//!
//! let image = ImageReference::parse("registry.local:5000/team/app:1.0")?;
//! assert_eq!(image.name(), "registry.local:5000/team/app"); // the GUN
//! let trust_server = image.trust_server_from_env()?; // https://registry.local:5000
//! let client = RegistryClient::for_image(&image, RegistryOptions::from_docker_env()?)?;
//! let manifest = client.resolve(&image).await?;
//! println!("{} {} {}", trust_server, manifest.digest.hex(), manifest.size);
//! # Ok(())
//! # }
//! ```

pub mod client;
pub mod digest;
pub mod docker_config;
pub mod error;
pub mod index;
pub mod push;
pub mod reference;
mod session;

pub use client::{Manifest, ManifestDescriptor, RegistryClient, RegistryOptions, RegistryScheme};
pub use digest::{Digest, DigestAlgorithm, DigestError};
pub use docker_config::{DockerConfig, StoredCredentials};
pub use error::{ReferenceError, RegistryError};
pub use index::{ImageIndex, IndexEntry, Platform, PlatformManifest};
pub use reference::ImageReference;
