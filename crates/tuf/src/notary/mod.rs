//! The Notary v1 formats that signet's server and client both speak, in one place and free of
//! I/O: Go-style PEM and JSON, the error envelope, and the multipart upload.
//!
//! Each rule of the format lives here once. The server encodes what the client decodes (and
//! the other way round) with the same code, so the two cannot drift apart.

pub mod envelope;
pub mod gojson;
pub mod gun;
pub mod multipart;
pub mod pem;
