//! `signet-server trusted-by`: which repositories trust a key, read from the key index of the
//! store ([`Store::trusted_by`]), for a key ID or the key of a certificate or public key file.
//!
//! A certificate is looked up by the two IDs Notary gives it: the ID of the `*-x509` key
//! (the one root.json lists for root keys and trust pinning names) and the canonical ID of its
//! public key (the one key stores name files by, and `notary key list` shows).

use std::io::Write;
use std::path::Path;

use serde::Serialize;
use signet_tuf::notary::pem;
use signet_tuf::{KeyId, PublicKey};

use crate::error::TrustedByError;
use crate::store::{MAX_TRUST_PAGE, Store, TrustingRole};

/// Largest key file read.
const MAX_KEY_FILE: u64 = 1 << 20;

/// How the answer is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// A table per key ID.
    Text,
    /// One JSON document (see the server README).
    Json,
}

/// A key ID to look up, and where it comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KeyQuery {
    /// The key ID.
    pub key_id: String,
    /// `argument`, `certificate` (the ID of the x509 key), `canonical` (the ID of a
    /// certificate's public key) or `public key`.
    pub source: &'static str,
}

/// The key ID given on the command line (64 hex digits, any case).
///
/// # Errors
///
/// [`TrustedByError::InvalidKeyId`].
pub fn key_id_of_arg(text: &str) -> Result<KeyQuery, TrustedByError> {
    let id: KeyId =
        text.to_ascii_lowercase()
            .parse()
            .map_err(|_| TrustedByError::InvalidKeyId {
                key_id: text.chars().take(100).collect(),
            })?;
    Ok(KeyQuery {
        key_id: id.to_string(),
        source: "argument",
    })
}

/// The key IDs of the first key of a PEM file: a `CERTIFICATE` gives the certificate's ID
/// and its canonical ID, a `PUBLIC KEY` its ID.
///
/// # Errors
///
/// [`TrustedByError::KeyFileUnreadable`], [`TrustedByError::KeyFileInvalid`].
pub fn key_ids_of_file(path: &Path) -> Result<Vec<KeyQuery>, TrustedByError> {
    let unreadable = |source| TrustedByError::KeyFileUnreadable {
        path: path.to_owned(),
        source,
    };
    let invalid = |reason: String| TrustedByError::KeyFileInvalid {
        path: path.to_owned(),
        reason,
    };
    let size = std::fs::metadata(path).map_err(unreadable)?.len();
    if size > MAX_KEY_FILE {
        return Err(invalid("the file is larger than 1 MiB".to_owned()));
    }
    let bytes = std::fs::read(path).map_err(unreadable)?;
    let text = String::from_utf8(bytes).map_err(|_| invalid("not PEM text".to_owned()))?;
    let block = pem::decode_first(&text).ok_or_else(|| invalid("no PEM block".to_owned()))?;
    match block.label.as_str() {
        pem::CERTIFICATE => {
            let leaf = pem::encode_plain(pem::CERTIFICATE, &block.contents);
            let key = PublicKey::from_certificate_pem(&leaf).map_err(|e| invalid(e.to_string()))?;
            let canonical = key.canonical_key_id().map_err(|e| invalid(e.to_string()))?;
            Ok(vec![
                KeyQuery {
                    key_id: key.key_id().to_string(),
                    source: "certificate",
                },
                KeyQuery {
                    key_id: canonical.to_string(),
                    source: "canonical",
                },
            ])
        }
        pem::PUBLIC_KEY => {
            let key =
                PublicKey::from_spki_der(&block.contents).map_err(|e| invalid(e.to_string()))?;
            Ok(vec![KeyQuery {
                key_id: key.key_id().to_string(),
                source: "public key",
            }])
        }
        other => Err(invalid(format!("a PEM block of type {other:?}"))),
    }
}

/// Every role trusting `key_id`, read page by page.
///
/// # Errors
///
/// [`TrustedByError::Store`].
pub async fn all_trusting(
    store: &Store,
    key_id: &str,
) -> Result<Vec<TrustingRole>, TrustedByError> {
    let mut roles = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .trusted_by(key_id, after.as_ref(), MAX_TRUST_PAGE)
            .await
            .map_err(|source| TrustedByError::Store {
                key_id: key_id.to_owned(),
                source,
            })?;
        roles.extend(page.roles);
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(roles),
        }
    }
}

#[derive(Serialize)]
struct JsonKey<'a> {
    key_id: &'a str,
    source: &'a str,
    repositories: Vec<JsonEntry<'a>>,
}

#[derive(Serialize)]
struct JsonEntry<'a> {
    gun: &'a str,
    role: &'a str,
    key_id: &'a str,
}

/// Looks up every key of `queries` and writes the answer to `out`.
///
/// Text: for each key a line `Key <ID> (<source>): N roles`, then a `GUN ROLE LISTED KEY ID`
/// table. JSON: an array with, for each key, `{"key_id", "source", "repositories": [{"gun",
/// "role", "key_id"}]}` (`key_id` of an entry: the ID the metadata lists).
///
/// # Errors
///
/// [`TrustedByError::Store`], [`TrustedByError::Output`].
pub async fn report(
    store: &Store,
    queries: &[KeyQuery],
    output: Output,
    out: &mut impl Write,
) -> Result<(), TrustedByError> {
    let mut found = Vec::with_capacity(queries.len());
    for q in queries {
        found.push(all_trusting(store, &q.key_id).await?);
    }
    match output {
        Output::Json => {
            let keys: Vec<JsonKey<'_>> = queries
                .iter()
                .zip(&found)
                .map(|(q, roles)| JsonKey {
                    key_id: &q.key_id,
                    source: q.source,
                    repositories: roles
                        .iter()
                        .map(|r| JsonEntry {
                            gun: &r.gun,
                            role: &r.role,
                            key_id: &r.listed_key_id,
                        })
                        .collect(),
                })
                .collect();
            serde_json::to_writer_pretty(&mut *out, &keys)
                .map_err(|e| TrustedByError::Output(e.into()))?;
            writeln!(out).map_err(TrustedByError::Output)
        }
        Output::Text => {
            for (q, roles) in queries.iter().zip(&found) {
                write_table(out, q, roles).map_err(TrustedByError::Output)?;
            }
            Ok(())
        }
    }
}

fn write_table(out: &mut impl Write, q: &KeyQuery, roles: &[TrustingRole]) -> std::io::Result<()> {
    if roles.is_empty() {
        return writeln!(
            out,
            "Key {} ({}): no repository trusts it",
            q.key_id, q.source
        );
    }
    let noun = if roles.len() == 1 { "role" } else { "roles" };
    writeln!(
        out,
        "Key {} ({}): trusted by {} {noun}",
        q.key_id,
        q.source,
        roles.len()
    )?;
    let gun_width = roles.iter().map(|r| r.gun.len()).max().unwrap_or(0).max(3);
    let role_width = roles.iter().map(|r| r.role.len()).max().unwrap_or(0).max(4);
    writeln!(
        out,
        "{:gun_width$}  {:role_width$}  LISTED KEY ID",
        "GUN", "ROLE"
    )?;
    for r in roles {
        writeln!(
            out,
            "{:gun_width$}  {:role_width$}  {}",
            r.gun, r.role, r.listed_key_id
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_key_ids() {
        let q = key_id_of_arg(&"AB".repeat(32)).unwrap();
        assert_eq!(q.key_id, "ab".repeat(32));
        assert!(matches!(
            key_id_of_arg("xyz"),
            Err(TrustedByError::InvalidKeyId { .. })
        ));
    }

    #[test]
    fn key_files_give_notary_ids() {
        let dir = tempfile::tempdir().unwrap();
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let cert = rcgen::CertificateParams::new(vec!["g".to_owned()])
            .unwrap()
            .self_signed(&pair)
            .unwrap();
        let cert_file = dir.path().join("root.crt");
        std::fs::write(&cert_file, cert.pem()).unwrap();
        let key = PublicKey::from_certificate_pem(&cert.pem()).unwrap();
        let ids = key_ids_of_file(&cert_file).unwrap();
        assert_eq!(
            ids,
            [
                KeyQuery {
                    key_id: key.key_id().to_string(),
                    source: "certificate"
                },
                KeyQuery {
                    key_id: key.canonical_key_id().unwrap().to_string(),
                    source: "canonical"
                }
            ]
        );

        let pub_file = dir.path().join("key.pub");
        std::fs::write(&pub_file, pair.public_key_pem()).unwrap();
        let ids = key_ids_of_file(&pub_file).unwrap();
        assert_eq!(ids.len(), 1);
        assert_eq!(ids[0].key_id, key.canonical_key_id().unwrap().to_string());

        let junk = dir.path().join("junk");
        std::fs::write(&junk, "hello").unwrap();
        assert!(matches!(
            key_ids_of_file(&junk),
            Err(TrustedByError::KeyFileInvalid { .. })
        ));
        assert!(matches!(
            key_ids_of_file(&dir.path().join("missing")),
            Err(TrustedByError::KeyFileUnreadable { .. })
        ));
    }
}
