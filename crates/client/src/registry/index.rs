//! Multi-platform images: OCI image indexes and Docker manifest lists (the two behave alike),
//! platforms (`os/arch[/variant]`), and picking the manifest of one platform.
//!
//! An index is recognised by its `mediaType` (OCI index or Docker manifest list), or, when it
//! has none, by the registry's `Content-Type`. Only `manifests[].digest`, `size`, `mediaType`
//! and `platform` are read.

use std::fmt;

use serde::Deserialize;

use super::client::{
    MEDIA_TYPE_DOCKER_MANIFEST_LIST, MEDIA_TYPE_OCI_INDEX, Manifest, RegistryClient,
};
use super::digest::Digest;
use super::error::RegistryError;
use super::reference::ImageReference;

/// A platform: `os/architecture[/variant]` (`linux/amd64`, `linux/arm/v7`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Platform {
    /// `linux`, `windows`, …
    pub os: String,
    /// `amd64`, `arm64`, …
    pub architecture: String,
    /// `v7`, `v8`, …, when given.
    pub variant: Option<String>,
}

impl Platform {
    /// Parses `os/arch[/variant]`.
    ///
    /// # Errors
    ///
    /// [`RegistryError::InvalidPlatform`] for anything else.
    pub fn parse(text: &str) -> Result<Self, RegistryError> {
        let invalid = || RegistryError::InvalidPlatform {
            platform: text.to_owned(),
        };
        let part_ok = |p: &str| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        };
        let parts: Vec<&str> = text.split('/').collect();
        if !(2..=3).contains(&parts.len()) || !parts.iter().all(|p| part_ok(p)) {
            return Err(invalid());
        }
        Ok(Self {
            os: parts[0].to_ascii_lowercase(),
            architecture: parts[1].to_ascii_lowercase(),
            variant: parts.get(2).map(|v| v.to_ascii_lowercase()),
        })
    }

    /// Whether an index entry for `other` serves this platform: same OS and architecture, and
    /// the same variant when this platform names one.
    pub fn accepts(&self, other: &Self) -> bool {
        self.os == other.os
            && self.architecture == other.architecture
            && (self.variant.is_none() || self.variant == other.variant)
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(variant) = &self.variant {
            write!(f, "/{variant}")?;
        }
        Ok(())
    }
}

/// One manifest an index lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexEntry {
    /// Its digest.
    pub digest: Digest,
    /// Its size.
    pub size: u64,
    /// Its media type, when given.
    pub media_type: Option<String>,
    /// Its platform, when given.
    pub platform: Option<Platform>,
}

/// An OCI image index or Docker manifest list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageIndex {
    /// The index's media type.
    pub media_type: String,
    /// The manifests it lists, in order.
    pub manifests: Vec<IndexEntry>,
}

#[derive(Deserialize)]
struct RawIndex {
    #[serde(rename = "mediaType")]
    media_type: Option<String>,
    manifests: Option<Vec<RawEntry>>,
}

#[derive(Deserialize)]
struct RawEntry {
    digest: String,
    #[serde(default)]
    size: u64,
    #[serde(rename = "mediaType")]
    media_type: Option<String>,
    platform: Option<RawPlatform>,
}

#[derive(Deserialize)]
struct RawPlatform {
    os: String,
    architecture: String,
    variant: Option<String>,
}

fn is_index_type(media_type: &str) -> bool {
    media_type == MEDIA_TYPE_OCI_INDEX || media_type == MEDIA_TYPE_DOCKER_MANIFEST_LIST
}

impl ImageIndex {
    /// The index in `manifest`, or `None` when it is a single-platform manifest.
    ///
    /// # Errors
    ///
    /// [`RegistryError::BadIndex`] when it says it is an index but cannot be read as one.
    pub fn from_manifest(
        manifest: &Manifest,
        image: &ImageReference,
    ) -> Result<Option<Self>, RegistryError> {
        let bad = |reason: String| RegistryError::BadIndex {
            image: image.to_string(),
            digest: manifest.descriptor.digest.to_string(),
            reason,
        };
        let raw: RawIndex = match serde_json::from_slice(&manifest.bytes) {
            Ok(raw) => raw,
            Err(e) => {
                return match manifest.descriptor.media_type.as_deref() {
                    Some(t) if is_index_type(t) => Err(bad(e.to_string())),
                    _ => Ok(None),
                };
            }
        };
        let media_type = match raw
            .media_type
            .clone()
            .or_else(|| manifest.descriptor.media_type.clone())
        {
            Some(t) if is_index_type(&t) => t,
            _ => return Ok(None),
        };
        let entries = raw
            .manifests
            .ok_or_else(|| bad("it lists no manifests".to_owned()))?;
        let mut manifests = Vec::with_capacity(entries.len());
        for entry in entries {
            let digest = Digest::parse(&entry.digest)
                .map_err(|e| bad(format!("entry digest {:?}: {e}", entry.digest)))?;
            manifests.push(IndexEntry {
                digest,
                size: entry.size,
                media_type: entry.media_type,
                platform: entry.platform.map(|p| Platform {
                    os: p.os.to_ascii_lowercase(),
                    architecture: p.architecture.to_ascii_lowercase(),
                    variant: p.variant.map(|v| v.to_ascii_lowercase()),
                }),
            });
        }
        Ok(Some(Self {
            media_type,
            manifests,
        }))
    }

    /// Whether the index lists `digest`.
    pub fn lists(&self, digest: &Digest) -> bool {
        self.manifests.iter().any(|m| &m.digest == digest)
    }

    /// The first manifest for `platform`, in index order.
    pub fn select(&self, platform: &Platform) -> Option<&IndexEntry> {
        self.manifests
            .iter()
            .find(|m| m.platform.as_ref().is_some_and(|p| platform.accepts(p)))
    }

    /// The platforms listed, as `os/arch[/variant]`, in index order without repeats.
    pub fn platforms(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for platform in self.manifests.iter().filter_map(|m| m.platform.as_ref()) {
            let text = platform.to_string();
            if !out.contains(&text) {
                out.push(text);
            }
        }
        out
    }
}

/// A platform's manifest, picked from a signed index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlatformManifest {
    /// The index's digest.
    pub index: Digest,
    /// The platform asked for.
    pub platform: Platform,
    /// The platform's manifest.
    pub manifest: IndexEntry,
}

impl RegistryClient {
    /// Fetches `image`'s manifest by `digest` (checked against its bytes) and, when it is an
    /// index, returns it.
    ///
    /// # Errors
    ///
    /// As [`fetch_manifest`](Self::fetch_manifest), and [`RegistryError::BadIndex`].
    pub async fn fetch_index(
        &self,
        image: &ImageReference,
        digest: &Digest,
    ) -> Result<Option<ImageIndex>, RegistryError> {
        let by_digest = image.with_digest(digest.clone());
        let manifest = self.fetch_manifest(&by_digest).await?;
        ImageIndex::from_manifest(&manifest, &by_digest)
    }

    /// Resolves the index `digest` of `image` to the manifest of `platform`: fetches the
    /// index by its digest (so it is the one that was signed) and picks the platform's entry.
    ///
    /// # Errors
    ///
    /// As [`fetch_index`](Self::fetch_index); [`RegistryError::NotAnIndex`] when the digest is
    /// a single-platform manifest, [`RegistryError::NoSuchPlatform`] naming the platforms the
    /// index has.
    pub async fn resolve_platform(
        &self,
        image: &ImageReference,
        digest: &Digest,
        platform: &Platform,
    ) -> Result<PlatformManifest, RegistryError> {
        let index =
            self.fetch_index(image, digest)
                .await?
                .ok_or_else(|| RegistryError::NotAnIndex {
                    image: image.name(),
                    digest: digest.to_string(),
                    platform: platform.to_string(),
                })?;
        let entry = index
            .select(platform)
            .ok_or_else(|| RegistryError::NoSuchPlatform {
                image: image.name(),
                digest: digest.to_string(),
                platform: platform.to_string(),
                available: index.platforms(),
            })?;
        Ok(PlatformManifest {
            index: digest.clone(),
            platform: platform.clone(),
            manifest: entry.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::registry::ManifestDescriptor;

    fn manifest(json: &str, media_type: Option<&str>) -> Manifest {
        Manifest {
            descriptor: ManifestDescriptor {
                digest: Digest::sha256_of(json.as_bytes()),
                size: json.len() as u64,
                media_type: media_type.map(str::to_owned),
                verified: true,
            },
            bytes: Bytes::from(json.to_owned()),
        }
    }

    fn image() -> ImageReference {
        ImageReference::parse("registry.example.com/team/app:1").unwrap()
    }

    #[test]
    fn platforms_parse_and_match() {
        let arm = Platform::parse("linux/arm/v7").unwrap();
        assert_eq!(arm.to_string(), "linux/arm/v7");
        let any_arm = Platform::parse("linux/arm").unwrap();
        assert!(any_arm.accepts(&arm));
        assert!(!arm.accepts(&any_arm));
        assert!(arm.accepts(&arm));
        for bad in ["linux", "linux/", "/amd64", "a/b/c/d", "linux/amd 64", ""] {
            assert!(
                matches!(
                    Platform::parse(bad),
                    Err(RegistryError::InvalidPlatform { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn reads_oci_indexes_and_docker_lists_alike() {
        let a = Digest::sha256_of(b"a");
        let b = Digest::sha256_of(b"b");
        for media_type in [MEDIA_TYPE_OCI_INDEX, MEDIA_TYPE_DOCKER_MANIFEST_LIST] {
            let json = format!(
                r#"{{"schemaVersion":2,"mediaType":"{media_type}","manifests":[
                {{"digest":"{a}","size":1,"platform":{{"os":"linux","architecture":"amd64"}}}},
                {{"digest":"{b}","size":2,"platform":{{"os":"linux","architecture":"arm64","variant":"v8"}}}}]}}"#
            );
            let index = ImageIndex::from_manifest(&manifest(&json, None), &image())
                .unwrap()
                .unwrap();
            assert!(index.lists(&a) && index.lists(&b));
            assert!(!index.lists(&Digest::sha256_of(b"c")));
            let arm = index
                .select(&Platform::parse("linux/arm64").unwrap())
                .unwrap();
            assert_eq!(arm.digest, b);
            assert!(
                index
                    .select(&Platform::parse("linux/s390x").unwrap())
                    .is_none()
            );
            assert_eq!(index.platforms(), vec!["linux/amd64", "linux/arm64/v8"]);
        }
    }

    #[test]
    fn single_manifests_are_not_indexes_and_broken_indexes_are_errors() {
        let single = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]}"#;
        assert_eq!(
            ImageIndex::from_manifest(&manifest(single, None), &image()).unwrap(),
            None
        );
        let no_type = r#"{"manifests":[]}"#;
        let index =
            ImageIndex::from_manifest(&manifest(no_type, Some(MEDIA_TYPE_OCI_INDEX)), &image())
                .unwrap()
                .unwrap();
        assert!(index.manifests.is_empty());
        let bad_digest = format!(
            r#"{{"mediaType":"{MEDIA_TYPE_OCI_INDEX}","manifests":[{{"digest":"sha256:zz"}}]}}"#
        );
        let err = ImageIndex::from_manifest(&manifest(&bad_digest, None), &image()).unwrap_err();
        assert!(matches!(err, RegistryError::BadIndex { .. }), "{err}");
        let garbage = ImageIndex::from_manifest(
            &manifest("not json", Some(MEDIA_TYPE_DOCKER_MANIFEST_LIST)),
            &image(),
        );
        assert!(matches!(garbage, Err(RegistryError::BadIndex { .. })));
    }
}
