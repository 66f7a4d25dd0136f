//! The Debian `docker-registry` (docker distribution 2.x) on a free loopback port with a
//! generated configuration, and pushing images to it through the registry HTTP API (no docker
//! engine): blobs by POST + monolithic PUT, manifests by PUT.
//!
//! ```no_run
//! use signet_e2e::registry::DockerRegistry;
//! use signet_e2e::require_tool;
//!
//! if require_tool("docker-registry").is_none() {
//!     return;
//! }
//! let registry = DockerRegistry::start().unwrap();
//! let (digest, size) = registry
//!     .push_image("team/app", "1.0", b"layer bytes", br#"{"architecture":"amd64","os":"linux"}"#)
//!     .unwrap();
//! assert!(digest.starts_with("sha256:"));
//! println!("{}/team/app:1.0 is {digest} ({size} bytes)", registry.host());
//! ```

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest as _, Sha256};
use tempfile::TempDir;

use crate::error::{HarnessError, Result};
use crate::http::{HttpResponse, parse_response};
use crate::ports::free_port;
use crate::process::{ServerCommand, ServerProcess};
use crate::require::find_tool;

/// Docker image manifest, schema 2.
pub const DOCKER_MANIFEST_V2: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker manifest list.
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// Start attempts, in case another process takes the picked port first.
const START_ATTEMPTS: usize = 3;
/// How long one registry request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Which manifest format [`DockerRegistry::push_image_as`] writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ManifestFormat {
    /// `application/vnd.docker.distribution.manifest.v2+json` with docker config and layer
    /// media types.
    DockerV2,
    /// `application/vnd.oci.image.manifest.v1+json` with OCI config and layer media types.
    Oci,
}

impl ManifestFormat {
    /// The manifest's media type.
    pub fn media_type(self) -> &'static str {
        match self {
            Self::DockerV2 => DOCKER_MANIFEST_V2,
            Self::Oci => OCI_MANIFEST,
        }
    }

    fn config_media_type(self) -> &'static str {
        match self {
            Self::DockerV2 => "application/vnd.docker.container.image.v1+json",
            Self::Oci => "application/vnd.oci.image.config.v1+json",
        }
    }

    fn layer_media_type(self) -> &'static str {
        match self {
            Self::DockerV2 => "application/vnd.docker.image.rootfs.diff.tar.gzip",
            Self::Oci => "application/vnd.oci.image.layer.v1.tar+gzip",
        }
    }
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// A running `docker-registry`: plain HTTP on `127.0.0.1`, no authentication, filesystem
/// storage in a temporary directory, deletes enabled. Dropping it kills the server and removes
/// the storage.
#[derive(Debug)]
pub struct DockerRegistry {
    // Field order is drop order: the server goes before its storage.
    process: ServerProcess,
    _dir: TempDir,
    host: String,
    url: String,
}

impl DockerRegistry {
    /// Starts the registry and waits until `GET /v2/` answers.
    pub fn start() -> Result<Self> {
        let binary = find_tool("docker-registry").ok_or_else(|| HarnessError::ToolMissing {
            tool: "docker-registry".to_owned(),
        })?;
        let dir = tempfile::Builder::new()
            .prefix("signet-e2e-registry-")
            .tempdir()
            .map_err(|e| HarnessError::io("create docker-registry directory", e))?;
        let storage = dir.path().join("storage");
        let config = dir.path().join("config.yml");
        let mut attempt = 1;
        loop {
            let port = free_port()?;
            let host = format!("127.0.0.1:{port}");
            std::fs::write(&config, config_yaml(&storage, &host))
                .map_err(|e| HarnessError::io(format!("write {}", config.display()), e))?;
            match Self::spawn(&binary, &config, &host, dir.path()) {
                Ok(process) => {
                    return Ok(Self {
                        process,
                        _dir: dir,
                        url: format!("http://{host}"),
                        host,
                    });
                }
                Err(HarnessError::ServerExited { .. }) if attempt < START_ATTEMPTS => {
                    attempt += 1;
                }
                Err(error) => return Err(error),
            }
        }
    }

    fn spawn(binary: &Path, config: &Path, host: &str, dir: &Path) -> Result<ServerProcess> {
        ServerCommand::new(PathBuf::from(binary))
            .name("docker-registry")
            .arg("serve")
            .arg(config)
            .current_dir(dir)
            .health_url(format!("http://{host}/v2/"))
            .start()
    }

    /// The base URL, `http://127.0.0.1:<port>` (no trailing slash).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `127.0.0.1:<port>`, the registry part of image references (`<host>/team/app:1.0`).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The server process (logs, liveness).
    pub fn process(&self) -> &ServerProcess {
        &self.process
    }

    /// Uploads a blob into repository `name` (POST, then a monolithic PUT) and returns its
    /// digest.
    pub fn push_blob(&self, name: &str, bytes: &[u8]) -> Result<String> {
        let digest = sha256_digest(bytes);
        let started = self.request("POST", &format!("/v2/{name}/blobs/uploads/"), &[], b"")?;
        expect_status(&started, 202, "start blob upload")?;
        let location = started
            .header("location")
            .ok_or_else(|| HarnessError::Http {
                url: format!("{}/v2/{name}/blobs/uploads/", self.url),
                reason: "202 without a Location header".to_owned(),
            })?;
        let separator = if location.contains('?') { '&' } else { '?' };
        let target = format!("{location}{separator}digest={digest}");
        let finished = self.request(
            "PUT",
            &target,
            &[("Content-Type", "application/octet-stream")],
            bytes,
        )?;
        expect_status(&finished, 201, "finish blob upload")?;
        Ok(digest)
    }

    /// Pushes a one-layer docker v2 image as `name:tag` and returns the manifest's digest and
    /// byte size.
    pub fn push_image(
        &self,
        name: &str,
        tag: &str,
        layer: &[u8],
        config_json: &[u8],
    ) -> Result<(String, u64)> {
        self.push_image_as(ManifestFormat::DockerV2, name, tag, layer, config_json)
    }

    /// Pushes a one-layer image in the given manifest format as `name:tag` and returns the
    /// manifest's digest and byte size. Pushing again with other content moves the tag.
    pub fn push_image_as(
        &self,
        format: ManifestFormat,
        name: &str,
        tag: &str,
        layer: &[u8],
        config_json: &[u8],
    ) -> Result<(String, u64)> {
        let config_digest = self.push_blob(name, config_json)?;
        let layer_digest = self.push_blob(name, layer)?;
        let manifest = format!(
            r#"{{
   "schemaVersion": 2,
   "mediaType": "{}",
   "config": {{
      "mediaType": "{}",
      "size": {},
      "digest": "{config_digest}"
   }},
   "layers": [
      {{
         "mediaType": "{}",
         "size": {},
         "digest": "{layer_digest}"
      }}
   ]
}}"#,
            format.media_type(),
            format.config_media_type(),
            config_json.len(),
            format.layer_media_type(),
            layer.len(),
        );
        self.push_manifest(name, tag, format.media_type(), manifest.as_bytes())
    }

    /// Pushes an OCI index as `name:tag` listing `manifests` (digest and size of OCI image
    /// manifests already in the repository, each for `linux/amd64`); returns the index's
    /// digest and byte size.
    pub fn push_index(
        &self,
        name: &str,
        tag: &str,
        manifests: &[(String, u64)],
    ) -> Result<(String, u64)> {
        let entries: Vec<String> = manifests
            .iter()
            .map(|(digest, size)| {
                format!(
                    r#"{{"mediaType":"{OCI_MANIFEST}","size":{size},"digest":"{digest}","platform":{{"architecture":"amd64","os":"linux"}}}}"#
                )
            })
            .collect();
        let index = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{}]}}"#,
            entries.join(",")
        );
        self.push_manifest(name, tag, OCI_INDEX, index.as_bytes())
    }

    /// PUTs manifest `bytes` as `name:<reference>` (a tag or digest) and returns its digest
    /// (checked against the registry's `Docker-Content-Digest`) and byte size.
    pub fn push_manifest(
        &self,
        name: &str,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<(String, u64)> {
        let path = format!("/v2/{name}/manifests/{reference}");
        let response = self.request("PUT", &path, &[("Content-Type", media_type)], bytes)?;
        expect_status(&response, 201, "put manifest")?;
        let digest = sha256_digest(bytes);
        match response.header("docker-content-digest") {
            Some(announced) if announced == digest => Ok((digest, bytes.len() as u64)),
            other => Err(HarnessError::Http {
                url: format!("{}{path}", self.url),
                reason: format!("registry announced digest {other:?}, the manifest is {digest}"),
            }),
        }
    }

    /// Points `name:to` at the manifest `name:from` points at; returns its digest and size.
    pub fn retag(&self, name: &str, from: &str, to: &str) -> Result<(String, u64)> {
        let manifest = self.manifest(name, from)?;
        expect_status(&manifest, 200, "get manifest to retag")?;
        let media_type = manifest
            .header("content-type")
            .unwrap_or(DOCKER_MANIFEST_V2)
            .to_owned();
        self.push_manifest(name, to, &media_type, &manifest.body)
    }

    /// `GET /v2/<name>/manifests/<reference>` with docker's Accept list; any status.
    pub fn manifest(&self, name: &str, reference: &str) -> Result<HttpResponse> {
        let accept = [
            OCI_INDEX,
            OCI_MANIFEST,
            DOCKER_MANIFEST_LIST,
            DOCKER_MANIFEST_V2,
        ]
        .join(", ");
        self.request(
            "GET",
            &format!("/v2/{name}/manifests/{reference}"),
            &[("Accept", &accept)],
            b"",
        )
    }

    /// Deletes the manifest `name@digest` (which untags every tag pointing at it).
    pub fn delete_manifest(&self, name: &str, digest: &str) -> Result<()> {
        let response = self.request(
            "DELETE",
            &format!("/v2/{name}/manifests/{digest}"),
            &[],
            b"",
        )?;
        expect_status(&response, 202, "delete manifest")
    }

    /// Sends one request (`target` is a path or an absolute `http://` URL on this registry)
    /// and reads the whole response.
    fn request(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<HttpResponse> {
        let path = match target.strip_prefix("http://") {
            Some(rest) => rest.find('/').map_or("/", |slash| &rest[slash..]),
            None => target,
        };
        let url = format!("{}{path}", self.url);
        let fail = |reason: String| HarnessError::Http {
            url: url.clone(),
            reason,
        };
        let mut stream = TcpStream::connect(&self.host).map_err(|e| fail(e.to_string()))?;
        stream
            .set_read_timeout(Some(REQUEST_TIMEOUT))
            .and_then(|()| stream.set_write_timeout(Some(REQUEST_TIMEOUT)))
            .map_err(|e| fail(e.to_string()))?;
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.host,
            body.len()
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        stream
            .write_all(head.as_bytes())
            .and_then(|()| stream.write_all(body))
            .map_err(|e| fail(e.to_string()))?;
        let mut raw = Vec::new();
        stream
            .read_to_end(&mut raw)
            .map_err(|e| fail(e.to_string()))?;
        parse_response(&raw).map_err(fail)
    }
}

fn config_yaml(storage: &Path, host: &str) -> String {
    let storage = storage
        .display()
        .to_string()
        .replace('\\', "\\\\")
        .replace('"', "\\\"");
    format!(
        r#"version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: "{storage}"
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: {host}
  secret: signet-e2e-test-only
health:
  storagedriver:
    enabled: false
"#
    )
}

fn expect_status(response: &HttpResponse, status: u16, what: &str) -> Result<()> {
    if response.status == status {
        Ok(())
    } else {
        Err(HarnessError::Http {
            url: what.to_owned(),
            reason: format!(
                "expected {status}, got {}: {}",
                response.status,
                response.text()
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_registry_responses() {
        let raw = b"HTTP/1.1 202 Accepted\r\nLocation: http://127.0.0.1:1/v2/a/blobs/uploads/x?_state=y\r\nContent-Length: 0\r\n\r\n";
        let response = parse_response(raw).unwrap();
        assert_eq!(response.status, 202);
        assert_eq!(
            response.header("location"),
            Some("http://127.0.0.1:1/v2/a/blobs/uploads/x?_state=y")
        );
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n";
        assert_eq!(parse_response(chunked).unwrap().body, b"{}");
        assert!(parse_response(b"garbage").is_err());
    }

    #[test]
    fn config_quotes_the_storage_path() {
        let yaml = config_yaml(Path::new("/tmp/a \"b\""), "127.0.0.1:5000");
        assert!(yaml.contains(r#"rootdirectory: "/tmp/a \"b\"""#), "{yaml}");
        assert!(yaml.contains("addr: 127.0.0.1:5000"));
        assert!(yaml.contains("delete:\n    enabled: true"));
    }
}
