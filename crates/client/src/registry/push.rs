//! Writing to a registry: blobs and manifests, for the signatures `signet trust
//! export-sigstore` attaches to images (see [`crate::sigstore`]).
//!
//! | step | request |
//! |---|---|
//! | is a blob there | `HEAD /v2/<path>/blobs/<digest>`: 200 yes, 404 no |
//! | read a blob | `GET /v2/<path>/blobs/<digest>`: the body must hash to the digest |
//! | upload a blob | `POST /v2/<path>/blobs/uploads/` (202 with `Location`), then one monolithic `PUT <location>?digest=<digest>` (201) |
//! | write a manifest | `PUT /v2/<path>/manifests/<tag>` with its `Content-Type` (201); a `Docker-Content-Digest` answer must match |
//!
//! Every write authenticates as reads do, with the token scope `repository:<path>:pull,push`.

use bytes::Bytes;
use reqwest::header::LOCATION;
use reqwest::{Method, Response, StatusCode, Url};

use super::client::RegistryClient;
use super::digest::Digest;
use super::error::RegistryError;
use super::reference::ImageReference;
use super::session::{Outgoing, Sent, error_message};

/// What a write request is, in messages.
const BLOB_UPLOAD: &str = "blob upload";
const MANIFEST_WRITE: &str = "manifest";
/// The content type of blob uploads.
const OCTET_STREAM: &str = "application/octet-stream";

impl RegistryClient {
    /// Whether the repository of `image` holds the blob `digest`.
    ///
    /// # Errors
    ///
    /// [`RegistryError::WrongRegistry`], the ping's errors, [`RegistryError::AccessDenied`],
    /// [`RegistryError::UnexpectedStatus`] for any answer but 200 and 404.
    pub async fn blob_exists(
        &self,
        image: &ImageReference,
        digest: &Digest,
    ) -> Result<bool, RegistryError> {
        self.check_registry(image)?;
        let url = self.blob_url(image, digest).await?;
        let sent = self
            .session
            .send_with(Outgoing::read(Method::HEAD, url, "*/*"), image)
            .await?;
        match sent.response.status() {
            status if status.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(self.refused(sent, image, "blob check").await),
        }
    }

    /// Downloads the blob `digest` of `image`'s repository, at most `limit` bytes, and checks
    /// that it hashes to `digest`.
    ///
    /// # Errors
    ///
    /// [`RegistryError::BlobNotFound`] (404), [`RegistryError::TooLarge`],
    /// [`RegistryError::DigestMismatch`], and as [`blob_exists`](Self::blob_exists).
    pub async fn fetch_blob(
        &self,
        image: &ImageReference,
        digest: &Digest,
        limit: u64,
    ) -> Result<Vec<u8>, RegistryError> {
        self.check_registry(image)?;
        let url = self.blob_url(image, digest).await?;
        let sent = self
            .session
            .send_with(Outgoing::read(Method::GET, url, "*/*"), image)
            .await?;
        match sent.response.status() {
            status if status.is_success() => {}
            StatusCode::NOT_FOUND => {
                return Err(RegistryError::BlobNotFound {
                    image: image.to_string(),
                    registry: self.domain().to_owned(),
                    digest: digest.to_string(),
                    message: error_message(sent.response).await,
                });
            }
            _ => return Err(self.refused(sent, image, "blob").await),
        }
        let bytes = self
            .read_capped(sent.response, limit, "blob", image)
            .await?;
        if !digest.matches(&bytes) {
            return Err(RegistryError::DigestMismatch {
                image: image.to_string(),
                registry: self.domain().to_owned(),
                expected: digest.to_string(),
                actual: Digest::of(digest.algorithm(), &bytes).to_string(),
            });
        }
        Ok(bytes)
    }

    /// Uploads `bytes` as a blob of `image`'s repository, unless the repository already holds
    /// it, and returns its sha256 digest.
    ///
    /// # Errors
    ///
    /// [`RegistryError::PushRefused`] when the registry refuses the upload,
    /// [`RegistryError::BadResponse`] for an upload session without a usable `Location`, and
    /// as [`blob_exists`](Self::blob_exists).
    pub async fn push_blob(
        &self,
        image: &ImageReference,
        bytes: Bytes,
    ) -> Result<Digest, RegistryError> {
        let digest = Digest::sha256_of(&bytes);
        if self.blob_exists(image, &digest).await? {
            return Ok(digest);
        }
        let start = self
            .url(image, &format!("v2/{}/blobs/uploads/", image.path()))
            .await?;
        let started = self
            .write(Method::POST, start, (OCTET_STREAM, Bytes::new()), image)
            .await?;
        let started = self
            .expect(started, StatusCode::ACCEPTED, image, BLOB_UPLOAD)
            .await?;
        let mut target = self.upload_location(&started, image)?;
        target
            .query_pairs_mut()
            .append_pair("digest", &digest.to_string());
        let finished = self
            .write(Method::PUT, target, (OCTET_STREAM, bytes), image)
            .await?;
        self.expect(finished, StatusCode::CREATED, image, BLOB_UPLOAD)
            .await?;
        Ok(digest)
    }

    /// Writes `bytes` (of `media_type`) as the manifest `image` names (its tag, or its
    /// digest) and returns the manifest's sha256 digest.
    ///
    /// # Errors
    ///
    /// [`RegistryError::PushRefused`] when the registry refuses it,
    /// [`RegistryError::DigestMismatch`] when it announces another digest than the bytes',
    /// and as [`blob_exists`](Self::blob_exists).
    pub async fn push_manifest(
        &self,
        image: &ImageReference,
        media_type: &str,
        bytes: Bytes,
    ) -> Result<Digest, RegistryError> {
        self.check_registry(image)?;
        let digest = Digest::sha256_of(&bytes);
        let url = self
            .url(
                image,
                &format!(
                    "v2/{}/manifests/{}",
                    image.path(),
                    image.manifest_reference()
                ),
            )
            .await?;
        let sent = self
            .write(Method::PUT, url, (media_type, bytes), image)
            .await?;
        let response = self
            .expect(sent, StatusCode::CREATED, image, MANIFEST_WRITE)
            .await?;
        if let Some(announced) = self.announced_digest(&response, image)?
            && announced != digest
        {
            return Err(RegistryError::DigestMismatch {
                image: image.to_string(),
                registry: self.domain().to_owned(),
                expected: digest.to_string(),
                actual: announced.to_string(),
            });
        }
        Ok(digest)
    }

    async fn blob_url(
        &self,
        image: &ImageReference,
        digest: &Digest,
    ) -> Result<Url, RegistryError> {
        self.url(image, &format!("v2/{}/blobs/{digest}", image.path()))
            .await
    }

    /// `relative` on the registry's base URL.
    async fn url(&self, image: &ImageReference, relative: &str) -> Result<Url, RegistryError> {
        self.ping()
            .await?
            .join(relative)
            .map_err(|e| RegistryError::BadResponse {
                image: image.to_string(),
                registry: self.domain().to_owned(),
                reason: format!("cannot build the request URL: {e}"),
            })
    }

    /// Sends a write (`pull,push` token scope) with `body` and its content type.
    async fn write(
        &self,
        method: Method,
        url: Url,
        body: (&str, Bytes),
        image: &ImageReference,
    ) -> Result<Sent, RegistryError> {
        self.session
            .send_with(
                Outgoing {
                    body: Some(body),
                    push: true,
                    ..Outgoing::read(method, url, "*/*")
                },
                image,
            )
            .await
    }

    /// The answer when it has the `expected` status, else the write's refusal.
    async fn expect(
        &self,
        sent: Sent,
        expected: StatusCode,
        image: &ImageReference,
        what: &'static str,
    ) -> Result<Response, RegistryError> {
        if sent.response.status() == expected {
            Ok(sent.response)
        } else {
            Err(self.push_refused(sent, image, what).await)
        }
    }

    /// The upload session's URL: the `Location` of the POST's answer, relative to the request.
    fn upload_location(
        &self,
        response: &Response,
        image: &ImageReference,
    ) -> Result<Url, RegistryError> {
        let bad = |reason: String| RegistryError::BadResponse {
            image: image.to_string(),
            registry: self.domain().to_owned(),
            reason,
        };
        let location = response
            .headers()
            .get(LOCATION)
            .ok_or_else(|| bad("the blob upload answer has no Location".to_owned()))?
            .to_str()
            .map_err(|_| bad("the blob upload Location is not ASCII".to_owned()))?;
        response
            .url()
            .join(location)
            .map_err(|e| bad(format!("invalid blob upload Location {location:?}: {e}")))
    }

    /// The error for a refused write: access refused (401, 403) or [`RegistryError::PushRefused`].
    async fn push_refused(
        &self,
        sent: Sent,
        image: &ImageReference,
        what: &'static str,
    ) -> RegistryError {
        let status = sent.response.status();
        if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
            return self.refused(sent, image, what).await;
        }
        RegistryError::PushRefused {
            image: image.to_string(),
            registry: self.domain().to_owned(),
            what,
            status: status.as_u16(),
            message: error_message(sent.response).await,
        }
    }

    /// The error for an answer that is neither success nor an expected refusal.
    async fn refused(
        &self,
        sent: Sent,
        image: &ImageReference,
        what: &'static str,
    ) -> RegistryError {
        let status = sent.response.status();
        let message = error_message(sent.response).await;
        let image = image.to_string();
        let registry = self.domain().to_owned();
        match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => RegistryError::AccessDenied {
                image,
                registry,
                status: status.as_u16(),
                with_credentials: sent.with_credentials,
                message,
            },
            _ => RegistryError::UnexpectedStatus {
                image,
                registry,
                status: status.as_u16(),
                message: if message.is_empty() {
                    format!("({what})")
                } else {
                    format!("{message} ({what})")
                },
            },
        }
    }
}
