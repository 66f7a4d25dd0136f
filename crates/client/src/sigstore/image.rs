//! The cosign signature image of one manifest: the simple-signing payload, the `.sig` tag, and
//! the OCI manifest and config cosign writes (`cosign sign --key`, without transparency log),
//! created or appended to.
//!
//! For a manifest `sha256:<hex>` of `registry/repo`, cosign stores its signatures as the image
//! `registry/repo:sha256-<hex>.sig`: an OCI image manifest whose config is a minimal image
//! config and whose layers are the signed payloads, each of media type
//! [`SIMPLE_SIGNING_MEDIA_TYPE`], with the base64 DER ECDSA signature of the payload bytes in
//! the layer annotation [`SIGNATURE_ANNOTATION`]. Another signature is another layer.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use p256::ecdsa::signature::Verifier as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::error::SigstoreError;
use crate::registry::client::{MEDIA_TYPE_DOCKER_MANIFEST, MEDIA_TYPE_OCI_MANIFEST};
use crate::registry::{Digest, ImageReference};

/// Media type of a signature layer: the simple-signing payload.
pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The layer annotation holding the base64 signature of the payload.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// `critical.type` of a cosign payload.
pub const SIGNATURE_TYPE: &str = "cosign container image signature";
/// Media type of the config blob (OCI image config).
pub const OCI_CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";
/// Largest config blob of an existing signature image read.
pub const MAX_CONFIG_SIZE: u64 = 4 << 20;
/// Most layers cosign reads from a signature image.
pub const MAX_LAYERS: usize = 1000;
/// The zero time as Go writes it, the `created` of cosign's configs and history entries.
const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";
/// Docker Hub as go-containerregistry names it in payloads.
const DOCKER_HUB_INDEX: &str = "index.docker.io";

/// The `docker-reference` cosign writes for `image`: the repository without tag or digest,
/// Docker Hub as `index.docker.io` (`index.docker.io/library/alpine`,
/// `registry.local:5000/team/app`).
pub fn docker_reference(image: &ImageReference) -> String {
    if image.is_docker_hub() {
        format!("{DOCKER_HUB_INDEX}/{}", image.path())
    } else {
        format!("{}/{}", image.domain(), image.path())
    }
}

/// The tag of the signature image of `digest`: `sha256-<hex>.sig`.
pub fn signature_tag(digest: &Digest) -> String {
    format!("{}-{}.sig", digest.algorithm(), digest.hex())
}

#[derive(Serialize)]
struct Payload<'a> {
    critical: Critical<'a>,
    optional: Option<()>,
}

#[derive(Serialize)]
struct Critical<'a> {
    identity: Identity<'a>,
    image: PayloadImage,
    #[serde(rename = "type")]
    kind: &'a str,
}

#[derive(Serialize)]
struct Identity<'a> {
    #[serde(rename = "docker-reference")]
    docker_reference: &'a str,
}

#[derive(Serialize)]
struct PayloadImage {
    #[serde(rename = "docker-manifest-digest")]
    docker_manifest_digest: String,
}

/// The simple-signing payload cosign signs for `digest` under `docker_reference`, byte for
/// byte as cosign's `json.Marshal` writes it (no annotations: `"optional":null`).
pub fn payload(docker_reference: &str, digest: &Digest) -> Vec<u8> {
    let payload = Payload {
        critical: Critical {
            identity: Identity { docker_reference },
            image: PayloadImage {
                docker_manifest_digest: digest.to_string(),
            },
            kind: SIGNATURE_TYPE,
        },
        optional: None,
    };
    // Serialising plain strings and structs cannot fail.
    serde_json::to_vec(&payload).unwrap_or_default()
}

/// An OCI content descriptor, fields in go-containerregistry's order; unknown fields kept.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Descriptor {
    #[serde(rename = "mediaType")]
    media_type: String,
    size: u64,
    digest: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    urls: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    annotations: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    platform: Option<Value>,
    #[serde(
        rename = "artifactType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    artifact_type: Option<String>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

impl Descriptor {
    fn of(media_type: &str, bytes: &[u8]) -> Self {
        Self {
            media_type: media_type.to_owned(),
            size: bytes.len() as u64,
            digest: Digest::sha256_of(bytes).to_string(),
            data: None,
            urls: None,
            annotations: None,
            platform: None,
            artifact_type: None,
            extra: Map::new(),
        }
    }
}

/// An image manifest (OCI or docker schema 2), fields in go-containerregistry's order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct ImageManifest {
    #[serde(rename = "schemaVersion")]
    schema_version: i64,
    #[serde(rename = "mediaType", default, skip_serializing_if = "Option::is_none")]
    media_type: Option<String>,
    config: Descriptor,
    #[serde(default)]
    layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    annotations: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    subject: Option<Value>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

/// An image config as go-containerregistry writes it; unknown fields kept.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct ConfigFile {
    #[serde(default)]
    architecture: String,
    #[serde(default = "go_zero_time")]
    created: Value,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    history: Vec<Value>,
    #[serde(default)]
    os: String,
    #[serde(default)]
    rootfs: RootFs,
    #[serde(default = "empty_object")]
    config: Value,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct RootFs {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    diff_ids: Vec<String>,
}

impl Default for RootFs {
    fn default() -> Self {
        Self {
            kind: "layers".to_owned(),
            diff_ids: Vec::new(),
        }
    }
}

fn go_zero_time() -> Value {
    Value::String(GO_ZERO_TIME.to_owned())
}

fn empty_object() -> Value {
    Value::Object(Map::new())
}

/// The signature image of one manifest: what the registry holds under its `.sig` tag (or
/// nothing yet), plus the signatures appended here.
#[derive(Clone, Debug, PartialEq)]
pub struct SignatureImage {
    manifest: ImageManifest,
    config: ConfigFile,
    media_type: String,
}

/// A signature layer to add: the payload and its DER signature.
#[derive(Clone, Copy, Debug)]
pub struct NewSignature<'a> {
    /// The simple-signing payload bytes.
    pub payload: &'a [u8],
    /// The DER ECDSA signature of `payload`.
    pub signature_der: &'a [u8],
}

impl SignatureImage {
    /// A signature image without signatures, as cosign starts one: OCI manifest, OCI config.
    pub fn empty() -> Self {
        let config = ConfigFile {
            architecture: String::new(),
            created: go_zero_time(),
            history: Vec::new(),
            os: String::new(),
            rootfs: RootFs::default(),
            config: empty_object(),
            extra: Map::new(),
        };
        let manifest = ImageManifest {
            schema_version: 2,
            media_type: Some(MEDIA_TYPE_OCI_MANIFEST.to_owned()),
            config: Descriptor::of(OCI_CONFIG_MEDIA_TYPE, b"{}"),
            layers: Vec::new(),
            annotations: None,
            subject: None,
            extra: Map::new(),
        };
        Self {
            manifest,
            config,
            media_type: MEDIA_TYPE_OCI_MANIFEST.to_owned(),
        }
    }

    /// The image the registry holds: its manifest (served with `content_type`, if known) and
    /// config blob. Every layer and field is kept.
    ///
    /// # Errors
    ///
    /// [`SigstoreError::BadSignatureManifest`] naming `reference` for a manifest that is not
    /// an image manifest, or a config that is not an image config.
    pub fn from_existing(
        reference: &str,
        manifest: &[u8],
        content_type: Option<&str>,
        config: &[u8],
    ) -> Result<Self, SigstoreError> {
        let parsed = Self::parse_manifest(reference, manifest, content_type)?;
        if !parsed.manifest.config.digest.is_empty()
            && Digest::sha256_of(config).to_string() != parsed.manifest.config.digest
        {
            return Err(bad(
                reference,
                "the config blob does not match the manifest",
            ));
        }
        let config: ConfigFile = serde_json::from_slice(config).map_err(|e| {
            bad(
                reference,
                &format!("the config is not an image config: {e}"),
            )
        })?;
        Ok(Self { config, ..parsed })
    }

    /// Reads the manifest only (the config is replaced by [`from_existing`](Self::from_existing)).
    fn parse_manifest(
        reference: &str,
        manifest: &[u8],
        content_type: Option<&str>,
    ) -> Result<Self, SigstoreError> {
        let parsed: ImageManifest = serde_json::from_slice(manifest)
            .map_err(|e| bad(reference, &format!("not an image manifest: {e}")))?;
        let media_type = parsed
            .media_type
            .clone()
            .or_else(|| content_type.map(str::to_owned))
            .unwrap_or_else(|| MEDIA_TYPE_OCI_MANIFEST.to_owned());
        if parsed.schema_version != 2
            || ![MEDIA_TYPE_OCI_MANIFEST, MEDIA_TYPE_DOCKER_MANIFEST].contains(&media_type.as_str())
        {
            return Err(bad(
                reference,
                &format!(
                    "a {media_type} (schema {}) is not an image manifest",
                    parsed.schema_version
                ),
            ));
        }
        if parsed.layers.len() >= MAX_LAYERS {
            return Err(bad(
                reference,
                &format!("it already has {} layers", parsed.layers.len()),
            ));
        }
        Ok(Self {
            manifest: parsed,
            config: Self::empty().config,
            media_type,
        })
    }

    /// The config blob's digest an existing manifest names (to fetch it).
    ///
    /// # Errors
    ///
    /// As [`from_existing`](Self::from_existing).
    pub fn config_digest(
        reference: &str,
        manifest: &[u8],
        content_type: Option<&str>,
    ) -> Result<Digest, SigstoreError> {
        let parsed = Self::parse_manifest(reference, manifest, content_type)?;
        Digest::parse(&parsed.manifest.config.digest).map_err(|e| {
            bad(
                reference,
                &format!(
                    "invalid config digest {:?}: {e}",
                    parsed.manifest.config.digest
                ),
            )
        })
    }

    /// How many signature layers (of any kind) the image has.
    pub fn layer_count(&self) -> usize {
        self.manifest.layers.len()
    }

    /// Whether a simple-signing layer with exactly `payload` carries a signature that
    /// `key` verifies.
    pub fn has_signature(&self, payload: &[u8], key: &p256::ecdsa::VerifyingKey) -> bool {
        let digest = Digest::sha256_of(payload).to_string();
        self.manifest.layers.iter().any(|layer| {
            layer.media_type == SIMPLE_SIGNING_MEDIA_TYPE
                && layer.digest == digest
                && layer
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(SIGNATURE_ANNOTATION))
                    .and_then(|b64| STANDARD.decode(b64).ok())
                    .and_then(|der| p256::ecdsa::Signature::from_der(&der).ok())
                    .is_some_and(|signature| key.verify(payload, &signature).is_ok())
        })
    }

    /// Adds `signature` as a new layer (and its diff ID and history entry to the config, as
    /// cosign's append does), unless a layer with the same payload already carries a
    /// signature `key` verifies. Returns whether a layer was added.
    pub fn append(&mut self, signature: NewSignature<'_>, key: &p256::ecdsa::VerifyingKey) -> bool {
        if self.has_signature(signature.payload, key) {
            return false;
        }
        let mut layer = Descriptor::of(SIMPLE_SIGNING_MEDIA_TYPE, signature.payload);
        layer.annotations = Some(BTreeMap::from([(
            SIGNATURE_ANNOTATION.to_owned(),
            STANDARD.encode(signature.signature_der),
        )]));
        // The payload layer is stored uncompressed: its diff ID is its digest.
        self.config.rootfs.diff_ids.push(layer.digest.clone());
        self.config
            .history
            .push(serde_json::json!({ "created": GO_ZERO_TIME }));
        self.manifest.layers.push(layer);
        true
    }

    /// The manifest's media type (what its `PUT` sends as `Content-Type`).
    pub fn media_type(&self) -> &str {
        &self.media_type
    }

    /// The config blob.
    pub fn config_bytes(&self) -> Vec<u8> {
        // Serialising the config's own fields and JSON values cannot fail.
        serde_json::to_vec(&self.config).unwrap_or_default()
    }

    /// The manifest bytes, naming the config blob [`config_bytes`](Self::config_bytes) gives.
    pub fn manifest_bytes(&self) -> Vec<u8> {
        let config = self.config_bytes();
        let mut manifest = self.manifest.clone();
        manifest.config.size = config.len() as u64;
        manifest.config.digest = Digest::sha256_of(&config).to_string();
        serde_json::to_vec(&manifest).unwrap_or_default()
    }
}

fn bad(reference: &str, reason: &str) -> SigstoreError {
    SigstoreError::BadSignatureManifest {
        reference: reference.to_owned(),
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use p256::ecdsa::SigningKey;
    use p256::ecdsa::signature::Signer as _;

    use super::*;

    fn digest() -> Digest {
        Digest::sha256_of(b"manifest")
    }

    fn key(byte: u8) -> SigningKey {
        SigningKey::from_slice(&[byte; 32]).unwrap()
    }

    fn signed(payload: &[u8], key: &SigningKey) -> Vec<u8> {
        let signature: p256::ecdsa::Signature = key.sign(payload);
        signature.to_der().as_bytes().to_vec()
    }

    #[test]
    fn payload_is_cosigns_bytes() {
        let digest = digest();
        let bytes = payload("registry.local:5000/team/app", &digest);
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            format!(
                r#"{{"critical":{{"identity":{{"docker-reference":"registry.local:5000/team/app"}},"image":{{"docker-manifest-digest":"{digest}"}},"type":"cosign container image signature"}},"optional":null}}"#
            )
        );
    }

    #[test]
    fn docker_reference_and_tag_follow_cosign() {
        let hub = ImageReference::parse("alpine:3").unwrap();
        assert_eq!(docker_reference(&hub), "index.docker.io/library/alpine");
        let local = ImageReference::parse("127.0.0.1:5000/team/app:1.0").unwrap();
        assert_eq!(docker_reference(&local), "127.0.0.1:5000/team/app");
        let digest = digest();
        assert_eq!(
            signature_tag(&digest),
            format!("sha256-{}.sig", digest.hex())
        );
        local.with_tag(&signature_tag(&digest)).unwrap();
    }

    #[test]
    fn a_new_image_is_what_cosign_writes() {
        let signer = key(7);
        let payload = payload("r.example/app", &digest());
        let der = signed(&payload, &signer);
        let mut image = SignatureImage::empty();
        assert!(image.append(
            NewSignature {
                payload: &payload,
                signature_der: &der,
            },
            signer.verifying_key(),
        ));
        let layer_digest = Digest::sha256_of(&payload).to_string();
        let config = image.config_bytes();
        assert_eq!(
            String::from_utf8(config.clone()).unwrap(),
            format!(
                r#"{{"architecture":"","created":"0001-01-01T00:00:00Z","history":[{{"created":"0001-01-01T00:00:00Z"}}],"os":"","rootfs":{{"type":"layers","diff_ids":["{layer_digest}"]}},"config":{{}}}}"#
            )
        );
        let manifest: Value = serde_json::from_slice(&image.manifest_bytes()).unwrap();
        assert_eq!(manifest["schemaVersion"], 2);
        assert_eq!(manifest["mediaType"], MEDIA_TYPE_OCI_MANIFEST);
        assert_eq!(manifest["config"]["mediaType"], OCI_CONFIG_MEDIA_TYPE);
        assert_eq!(
            manifest["config"]["digest"],
            Digest::sha256_of(&config).to_string()
        );
        assert_eq!(manifest["config"]["size"], config.len());
        let layer = &manifest["layers"][0];
        assert_eq!(layer["mediaType"], SIMPLE_SIGNING_MEDIA_TYPE);
        assert_eq!(layer["digest"], layer_digest);
        assert_eq!(layer["size"], payload.len());
        let b64 = layer["annotations"][SIGNATURE_ANNOTATION].as_str().unwrap();
        let sig = p256::ecdsa::Signature::from_der(&STANDARD.decode(b64).unwrap()).unwrap();
        signer.verifying_key().verify(&payload, &sig).unwrap();
        assert_eq!(image.media_type(), MEDIA_TYPE_OCI_MANIFEST);
    }

    #[test]
    fn appending_keeps_the_existing_signatures_and_is_idempotent() {
        let (first, second) = (key(1), key(2));
        let payload = payload("r.example/app", &digest());
        let mut image = SignatureImage::empty();
        image.append(
            NewSignature {
                payload: &payload,
                signature_der: &signed(&payload, &first),
            },
            first.verifying_key(),
        );
        // As the registry would serve it, with an unknown field and a foreign layer.
        let mut manifest: Value = serde_json::from_slice(&image.manifest_bytes()).unwrap();
        manifest["layers"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({
                "mediaType": "application/vnd.example.other",
                "size": 3,
                "digest": Digest::sha256_of(b"abc").to_string(),
                "annotations": {"dev.sigstore.cosign/bundle": "{}"},
                "x-extra": true
            }));
        let manifest_bytes = serde_json::to_vec(&manifest).unwrap();
        let config = image.config_bytes();
        let reference = "r.example/app:sha256-x.sig";
        assert_eq!(
            SignatureImage::config_digest(reference, &manifest_bytes, None).unwrap(),
            Digest::sha256_of(&config)
        );
        let mut existing =
            SignatureImage::from_existing(reference, &manifest_bytes, None, &config).unwrap();
        assert_eq!(existing.layer_count(), 2);

        // The same signature (or another signature by the same key) adds nothing.
        let again = existing.clone();
        assert!(!existing.append(
            NewSignature {
                payload: &payload,
                signature_der: &signed(&payload, &first),
            },
            first.verifying_key(),
        ));
        assert_eq!(existing, again);

        // Another key's signature is a third layer; the first two are unchanged.
        assert!(existing.append(
            NewSignature {
                payload: &payload,
                signature_der: &signed(&payload, &second),
            },
            second.verifying_key(),
        ));
        let written: Value = serde_json::from_slice(&existing.manifest_bytes()).unwrap();
        let layers = written["layers"].as_array().unwrap();
        assert_eq!(layers.len(), 3);
        assert_eq!(layers[0], manifest["layers"][0]);
        assert_eq!(layers[1], manifest["layers"][1]);
        assert_eq!(layers[2]["mediaType"], SIMPLE_SIGNING_MEDIA_TYPE);
        assert!(existing.has_signature(&payload, first.verifying_key()));
        assert!(existing.has_signature(&payload, second.verifying_key()));
        assert!(!existing.has_signature(&payload, key(3).verifying_key()));
        let config: Value = serde_json::from_slice(&existing.config_bytes()).unwrap();
        assert_eq!(config["rootfs"]["diff_ids"].as_array().unwrap().len(), 2);
        assert_eq!(config["history"].as_array().unwrap().len(), 2);
        assert_eq!(
            written["config"]["digest"],
            Digest::sha256_of(&existing.config_bytes()).to_string()
        );
    }

    #[test]
    fn unusable_existing_manifests_are_refused() {
        let reference = "r.example/app:sha256-x.sig";
        for (manifest, content_type) in [
            (&b"not json"[..], None),
            (
                br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#,
                None,
            ),
            (
                br#"{"schemaVersion":1,"config":{"mediaType":"x","size":1,"digest":"sha256:00"}}"#,
                Some(MEDIA_TYPE_OCI_MANIFEST),
            ),
        ] {
            let error =
                SignatureImage::config_digest(reference, manifest, content_type).unwrap_err();
            assert!(
                matches!(error, SigstoreError::BadSignatureManifest { .. }),
                "{error}"
            );
            assert!(error.to_string().contains(reference), "{error}");
        }
        let image = SignatureImage::empty();
        let error = SignatureImage::from_existing(
            reference,
            &image.manifest_bytes(),
            None,
            b"{\"other\":1}",
        )
        .unwrap_err();
        assert!(error.to_string().contains("does not match"), "{error}");
    }
}
