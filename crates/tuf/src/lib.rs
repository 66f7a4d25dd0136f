//! Notary-format TUF metadata: canonical JSON, keys and key IDs, signatures, metadata types and
//! verification, byte-compatible with Go notary (the format behind Docker Content Trust).
//!
//! This crate performs no I/O: no files, network, database or clock. The current time is always
//! a parameter.
//!
//! # The format
//!
//! A metadata file is `{"signed":<document>,"signatures":[{"keyid","method","sig"},…]}` with no
//! whitespace and no trailing newline ([`metadata::Envelope`]). Signatures cover the
//! **canonical JSON** of `signed` ([`cjson`]): keys sorted by bytes, no whitespace, only `"` and
//! `\` escaped, everything else raw (no Unicode normalisation), integers only. Inside the file
//! Go embeds that canonical text with HTML escaping (`<` `>` `&` U+2028 U+2029 as `\uXXXX`), so
//! file bytes and signed bytes differ when such characters occur; snapshot and timestamp hashes
//! cover the file bytes. Verification always re-canonicalises `signed`, as Notary does.
//!
//! Documents ([`metadata`]): `Root`, `Targets` (also every delegation), `Snapshot`, `Timestamp`,
//! each with a capitalised `_type`, an `expires` time kept verbatim, and a version. Keys
//! ([`key`]) are `{"keytype","keyval":{"private":null,"public"}}` and their ID is the SHA-256 of
//! exactly that canonical object. Root keys are X.509 certificates ([`x509`]) whose CN is the
//! GUN; [`verify`] implements Notary's signature, threshold, structure, rotation, version and
//! expiry rules.
//!
//! Go writes an empty collection it holds as a nil slice or map as `null` (for example
//! `"roles":null` once the last delegation is removed, `"keyids":null` once a delegation's last
//! key is removed). Every collection of the model, and every byte string, reads `null` as empty,
//! as Go does; signatures are checked over the `null` as written.
//!
//! # Differences from TUF 1.0
//!
//! * `_type` is `Root`/`Targets`/`Snapshot`/`Timestamp` (capitalised); there is no
//!   `spec_version`.
//! * Key types are `ed25519`, `ecdsa`, `rsa`, `ecdsa-x509`, `rsa-x509`; ECDSA/RSA public values
//!   are DER SPKI and x509 ones PEM certificates, not PEM public keys. Key IDs hash the whole key
//!   object with `"private":null`; there is no `keyid_hash_algorithms` or `scheme`.
//! * Signature methods are `ecdsa` (raw `r‖s`, not DER), `eddsa`, `rsapss` (salt 32),
//!   `rsapkcs1v15` and `pycrypto-pkcs#1 pss`.
//! * Root keys must be certificates whose CN matches the repository's GUN; a root rotation is
//!   accepted with signatures from the previous root's certificates (their expiry ignored) and
//!   from the new root's own certificates.
//! * Snapshot and timestamp `meta` are keyed by role name (`root`, `targets/x`), not file name,
//!   and carry no `version`; hashes are `sha256` and `sha512`.
//! * Delegations: role names are paths under `targets/`, `paths` match by plain string prefix
//!   (`""` = everything), `terminating` and hashed bins do not exist (`path_hash_prefixes` is
//!   kept here when present but Go drops it).
//! * `consistent_snapshot` is always false, yet clients fetch by checksum whenever one is known.
//! * `expires` is Go's RFC 3339 with nanoseconds and any offset; the signed text is kept
//!   exactly.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod authoring;
mod b64;
pub mod cjson;
pub mod error;
mod gonull;
pub mod key;
pub mod metadata;
pub mod notary;
pub mod remedy;
pub mod role;
pub mod signature;
#[cfg(test)]
mod testutil;
pub mod update;
pub mod verify;
pub mod x509;

pub use error::{Error, PemEncodeError, Result};
pub use key::{KeyId, KeyType, PublicKey};
pub use remedy::{Remediable, Remedy};
pub use signature::Signature;
