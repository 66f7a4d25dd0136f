//! The multipart body of a publish, written exactly as Go's `mime/multipart` writer does for
//! the notary client: one part per file, field `files`, filename = role name, type
//! `application/octet-stream`.
//!
//! ```text
//! --<boundary>\r\n
//! Content-Disposition: form-data; name="files"; filename="<role>"\r\n
//! Content-Type: application/octet-stream\r\n
//! \r\n
//! <bytes>\r\n
//! --<boundary>\r\n
//! …
//! <bytes>\r\n
//! --<boundary>--\r\n
//! ```

use crate::fsutil;

/// A multipart/form-data body and its boundary.
pub(crate) struct MultipartBody {
    pub(crate) boundary: String,
    pub(crate) body: Vec<u8>,
}

impl MultipartBody {
    /// The `Content-Type` header value.
    pub(crate) fn content_type(&self) -> String {
        format!("multipart/form-data; boundary={}", self.boundary)
    }
}

/// Go's random boundary: 30 random bytes in hex.
pub(crate) fn random_boundary() -> String {
    hex::encode(fsutil::random_bytes::<30>())
}

/// Go's `escapeQuotes` for header parameters.
fn escape_quotes(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Builds the body for `files` (role name, bytes), in the given order.
pub(crate) fn build(boundary: &str, files: &[(String, Vec<u8>)]) -> MultipartBody {
    let size: usize = files.iter().map(|(r, b)| b.len() + r.len() + 160).sum();
    let mut body = Vec::with_capacity(size + 2 * boundary.len() + 16);
    for (i, (role, bytes)) in files.iter().enumerate() {
        if i > 0 {
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(b"--");
        body.extend_from_slice(boundary.as_bytes());
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(
            format!(
                "Content-Disposition: form-data; name=\"files\"; filename=\"{}\"\r\n",
                escape_quotes(role)
            )
            .as_bytes(),
        );
        body.extend_from_slice(b"Content-Type: application/octet-stream\r\n\r\n");
        body.extend_from_slice(bytes);
    }
    if !files.is_empty() {
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"--");
    body.extend_from_slice(boundary.as_bytes());
    body.extend_from_slice(b"--\r\n");
    MultipartBody {
        boundary: boundary.to_owned(),
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_go_writer_output() {
        let files = vec![
            ("root".to_owned(), b"{\"r\":1}".to_vec()),
            ("targets/releases".to_owned(), b"T".to_vec()),
        ];
        let body = build("abc", &files);
        assert_eq!(body.content_type(), "multipart/form-data; boundary=abc");
        assert_eq!(
            String::from_utf8(body.body).unwrap(),
            "--abc\r\n\
             Content-Disposition: form-data; name=\"files\"; filename=\"root\"\r\n\
             Content-Type: application/octet-stream\r\n\
             \r\n\
             {\"r\":1}\r\n\
             --abc\r\n\
             Content-Disposition: form-data; name=\"files\"; filename=\"targets/releases\"\r\n\
             Content-Type: application/octet-stream\r\n\
             \r\n\
             T\r\n\
             --abc--\r\n"
        );
    }

    #[test]
    fn empty_upload_and_boundary_shape() {
        assert_eq!(build("b", &[]).body, b"--b--\r\n");
        let boundary = random_boundary();
        assert_eq!(boundary.len(), 60);
        assert!(boundary.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(boundary, random_boundary());
        assert_eq!(escape_quotes(r#"a"b\c"#), r#"a\"b\\c"#);
    }
}
