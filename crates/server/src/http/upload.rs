//! The request parsing an upload gets: the multipart parts
//! ([`signet_tuf::notary::multipart`]) turned into the files [`crate::service`] validates.

use bytes::Bytes;
use signet_tuf::notary::multipart::MultipartReader;
use signet_tuf::role::is_valid_role;

use crate::error::ServerError;
use crate::service::{UploadedFile, decode_signed_common};

/// Reads every part of an upload to `gun` in order, as `POST /v2/<gun>/_trust/tuf/` does:
/// the role from each part's file name (a valid role name), then the first decode of its
/// content ([`decode_signed_common`](crate::service::decode_signed_common)). This is all the
/// request parsing an upload gets before [`MetadataService::update`](crate::service::MetadataService::update).
///
/// # Errors
///
/// [`ServerError::MalformedUpload`] for a body that is not multipart as Go reads it,
/// [`ServerError::NoFilename`] for a part without a file name, [`ServerError::InvalidRole`]
/// for a file name that is no role, and [`ServerError::MalformedJson`] for a part Go's
/// decoder would refuse.
pub fn read_upload(
    gun: &str,
    content_type: Option<&str>,
    body: Bytes,
) -> Result<Vec<UploadedFile>, ServerError> {
    let malformed = |reason: String| ServerError::MalformedUpload {
        gun: gun.to_owned(),
        reason,
    };
    let mut reader = MultipartReader::new(content_type, body).map_err(|e| malformed(e.0))?;
    let mut files: Vec<UploadedFile> = Vec::new();
    while let Some(part) = reader.next_part().map_err(|e| malformed(e.0))? {
        let role = part.role_name().ok_or_else(|| ServerError::NoFilename {
            gun: gun.to_owned(),
        })?;
        if !is_valid_role(&role) {
            return Err(ServerError::InvalidRole {
                gun: gun.to_owned(),
                role,
            });
        }
        let version =
            decode_signed_common(&part.data).map_err(|reason| ServerError::MalformedJson {
                gun: gun.to_owned(),
                role: role.clone(),
                reason,
            })?;
        files.push(UploadedFile {
            role,
            version,
            data: part.data,
        });
    }
    Ok(files)
}
