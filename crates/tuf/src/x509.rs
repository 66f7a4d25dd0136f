//! X.509 root certificates as Notary validates them (`tuf/utils/x509.go`,
//! `trustpinning/certs.go`).
//!
//! Root keys are `ecdsa-x509`/`rsa-x509` keys whose public value is a PEM bundle: exactly one
//! non-CA ("leaf") certificate, first, followed by CA certificates used as intermediates. A leaf
//! is usable for a GUN when its CN equals the GUN (or is `prefix*` with the GUN starting with
//! `prefix`) and it passes [`Certificate::validate`].
//!
//! For signature checks the key is rebuilt from the certificates, re-encoded as Go writes PEM
//! (64-character lines, `CERTIFICATE` blocks, newline after each), and its key ID recomputed:
//! it matches the ID in `root.json` only when the file holds Go's canonical PEM, as with Go.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use der::asn1::ObjectIdentifier;
use der::{Decode as _, Encode as _, Tag, Tagged as _};
use x509_cert::ext::pkix::BasicConstraints;

use crate::error::{Error, Result};
use crate::key::{KeyId, KeyType, MIN_RSA_BITS, PublicKey};
use crate::metadata::Root;
use crate::notary::pem;
use crate::role;

const OID_CN: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
const OID_BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
/// sha1WithRSAEncryption, dsa-with-sha1, ecdsa-with-SHA1: refused by Notary.
const SHA1_SIGNATURES: [ObjectIdentifier; 3] = [
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.5"),
    ObjectIdentifier::new_unwrap("1.2.840.10040.4.3"),
    ObjectIdentifier::new_unwrap("1.2.840.10045.4.1"),
];

/// One parsed certificate together with its exact DER.
#[derive(Debug, Clone)]
pub struct Certificate {
    der: Vec<u8>,
    cert: x509_cert::Certificate,
}

impl PartialEq for Certificate {
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der
    }
}

impl Certificate {
    /// Parses one DER certificate.
    ///
    /// # Errors
    ///
    /// [`Error::Certificate`] when the DER does not parse.
    pub fn from_der(der: &[u8]) -> Result<Self> {
        let cert = x509_cert::Certificate::from_der(der).map_err(|e| Error::Certificate {
            reason: e.to_string(),
        })?;
        Ok(Self {
            der: der.to_vec(),
            cert,
        })
    }

    /// The exact DER bytes.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The certificate as one canonical PEM block (64-character lines, trailing newline).
    pub fn to_pem(&self) -> String {
        pem::encode_plain(pem::CERTIFICATE, &self.der)
    }

    /// The subject common name (the last CN attribute, as Go reads it), if any.
    pub fn common_name(&self) -> Option<String> {
        let mut cn = None;
        for rdn in &self.cert.tbs_certificate.subject.0 {
            for atv in rdn.0.iter() {
                if atv.oid != OID_CN {
                    continue;
                }
                if matches!(
                    atv.value.tag(),
                    Tag::Utf8String | Tag::PrintableString | Tag::Ia5String | Tag::TeletexString
                ) {
                    cn = Some(String::from_utf8_lossy(atv.value.value()).into_owned());
                }
            }
        }
        cn
    }

    /// Whether the certificate is a CA (basic constraints with `cA` true).
    pub fn is_ca(&self) -> bool {
        self.cert
            .tbs_certificate
            .extensions
            .iter()
            .flatten()
            .filter(|ext| ext.extn_id == OID_BASIC_CONSTRAINTS)
            .filter_map(|ext| BasicConstraints::from_der(ext.extn_value.as_bytes()).ok())
            .any(|bc| bc.ca)
    }

    /// Start of the validity window.
    pub fn not_before(&self) -> DateTime<Utc> {
        to_chrono(self.cert.tbs_certificate.validity.not_before)
    }

    /// End of the validity window.
    pub fn not_after(&self) -> DateTime<Utc> {
        to_chrono(self.cert.tbs_certificate.validity.not_after)
    }

    /// The subject public key as DER SubjectPublicKeyInfo.
    ///
    /// # Errors
    ///
    /// [`Error::Certificate`] if it cannot be re-encoded.
    pub fn spki_der(&self) -> Result<Vec<u8>> {
        self.cert
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|e| Error::Certificate {
                reason: e.to_string(),
            })
    }

    /// The x509 key type for this certificate's key: `ecdsa-x509` or `rsa-x509`; `None` for
    /// other algorithms.
    pub fn x509_key_type(&self) -> Option<KeyType> {
        let oid = self
            .cert
            .tbs_certificate
            .subject_public_key_info
            .algorithm
            .oid;
        if oid == OID_EC_PUBLIC_KEY {
            Some(KeyType::EcdsaX509)
        } else if oid == OID_RSA {
            Some(KeyType::RsaX509)
        } else {
            None
        }
    }

    /// Notary's `ValidateCertificate`: NotBefore ≤ NotAfter; no SHA-1 signature algorithm; RSA
    /// keys of at least 2048 bits; and when `now` is given, `now` within
    /// [NotBefore − 24 h, NotAfter].
    ///
    /// # Errors
    ///
    /// [`Error::Certificate`] saying which rule is broken.
    pub fn validate(&self, now: Option<DateTime<Utc>>) -> Result<()> {
        let cn = self.common_name().unwrap_or_default();
        let invalid = |reason: String| Err(Error::Certificate { reason });
        if self.not_before() > self.not_after() {
            return invalid(format!(
                "certificate with CN {cn}: validity window is invalid"
            ));
        }
        if SHA1_SIGNATURES.contains(&self.cert.signature_algorithm.oid) {
            return invalid(format!(
                "certificate with CN {cn} uses invalid SHA1 signature algorithm"
            ));
        }
        let spki = &self.cert.tbs_certificate.subject_public_key_info;
        if spki.algorithm.oid == OID_RSA {
            let bits = spki
                .subject_public_key
                .as_bytes()
                .ok_or_else(|| "bad bit string".to_owned())
                .and_then(crate::key::rsa_modulus_bits);
            match bits {
                Ok(b) if b >= MIN_RSA_BITS => {}
                Ok(_) => {
                    return invalid(format!(
                        "certificate with CN {cn}: RSA bit length is too short"
                    ));
                }
                Err(e) => {
                    return invalid(format!(
                        "certificate with CN {cn}: unable to parse RSA public key: {e}"
                    ));
                }
            }
        }
        if let Some(now) = now
            && (now + Duration::days(1) < self.not_before() || now > self.not_after())
        {
            return invalid(format!(
                "certificate with CN {cn} is expired or not yet valid"
            ));
        }
        Ok(())
    }
}

fn to_chrono(t: x509_cert::time::Time) -> DateTime<Utc> {
    let d = t.to_unix_duration();
    i64::try_from(d.as_secs())
        .ok()
        .and_then(|s| DateTime::from_timestamp(s, d.subsec_nanos()))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Parses a PEM certificate bundle as Go's `LoadCertBundleFromPEM`: every block must be a
/// `CERTIFICATE` that parses, and there must be at least one.
///
/// # Errors
///
/// [`Error::Certificate`].
pub fn parse_bundle(pem_text: &[u8]) -> Result<Vec<Certificate>> {
    let mut certs = Vec::new();
    for block in pem::decode_all_lossy(pem_text) {
        if block.label != pem::CERTIFICATE {
            return Err(Error::Certificate {
                reason: format!("invalid pem block type: {}", block.label),
            });
        }
        certs.push(Certificate::from_der(&block.contents)?);
    }
    if certs.is_empty() {
        return Err(Error::Certificate {
            reason: "no valid certificates found".into(),
        });
    }
    Ok(certs)
}

/// Splits a bundle into its leaf and intermediates: exactly one non-CA certificate, which must
/// come first; every CA certificate is an intermediate. `None` otherwise.
pub fn split_leaf(bundle: &[Certificate]) -> Option<(&Certificate, Vec<&Certificate>)> {
    let first = bundle.first()?;
    if first.is_ca() || bundle.iter().filter(|c| !c.is_ca()).count() != 1 {
        return None;
    }
    Some((first, bundle.iter().filter(|c| c.is_ca()).collect()))
}

/// Notary's `MatchCNToGun`: the CN equals the GUN, or ends in `*` and (with every trailing `*`
/// removed) is a prefix of the GUN.
pub fn cn_matches_gun(common_name: &str, gun: &str) -> bool {
    match common_name.strip_suffix('*') {
        Some(_) => gun.starts_with(common_name.trim_end_matches('*')),
        None => common_name == gun,
    }
}

/// Notary's `CertBundleToKey`: an x509 key typed by the leaf's algorithm whose public value is
/// the leaf and intermediates in canonical PEM.
///
/// # Errors
///
/// [`Error::Certificate`] when the leaf key is neither ECDSA nor RSA.
pub fn bundle_to_key(leaf: &Certificate, intermediates: &[&Certificate]) -> Result<PublicKey> {
    let keytype = leaf.x509_key_type().ok_or_else(|| Error::Certificate {
        reason: "unsupported leaf certificate key algorithm".into(),
    })?;
    let mut pem_text = leaf.to_pem();
    for c in intermediates {
        pem_text.push_str(&c.to_pem());
    }
    Ok(PublicKey::new(keytype, pem_text.into_bytes()))
}

/// The root-role keys of `root` that Notary would use for root signature checks on `gun`,
/// rebuilt from their certificates and keyed by the recomputed key ID.
///
/// For every key ID of `roles.root` present in `keys`: the public value must be a certificate
/// bundle whose single leaf comes first, the leaf's CN must match `gun`, and it must pass
/// [`Certificate::validate`] with `now`. With `now` set, intermediates that fail validation are
/// dropped; with `now` = `None` (a previously trusted root) expiry is not checked and every
/// intermediate is kept. Keys that fail any rule are left out.
pub fn root_certificate_keys(
    root: &Root,
    gun: &str,
    now: Option<DateTime<Utc>>,
) -> BTreeMap<KeyId, PublicKey> {
    let mut out = BTreeMap::new();
    let Some(root_role) = root.roles.get(role::ROOT) else {
        return out;
    };
    for id in &root_role.keyids {
        let Some(key) = root.keys.get(id) else {
            continue;
        };
        let Ok(bundle) = parse_bundle(key.public()) else {
            continue;
        };
        let Some((leaf, intermediates)) = split_leaf(&bundle) else {
            continue;
        };
        if !leaf
            .common_name()
            .is_some_and(|cn| cn_matches_gun(&cn, gun))
            || leaf.validate(now).is_err()
        {
            continue;
        }
        let intermediates: Vec<&Certificate> = match now {
            Some(t) => intermediates
                .into_iter()
                .filter(|c| c.validate(Some(t)).is_ok())
                .collect(),
            None => intermediates,
        };
        if let Ok(rebuilt) = bundle_to_key(leaf, &intermediates) {
            out.insert(rebuilt.key_id(), rebuilt);
        }
    }
    out
}

/// Checks that one root key is a usable root certificate for `gun` at `now` (a helper for
/// signers and servers that want a precise error before publishing).
///
/// # Errors
///
/// [`Error::CertificateRejected`] naming the key and the broken rule.
pub fn check_root_key(key: &PublicKey, gun: &str, now: DateTime<Utc>) -> Result<()> {
    let reject = |reason: String| Error::CertificateRejected {
        gun: gun.to_owned(),
        key_id: key.key_id().to_string(),
        reason,
    };
    if !key.keytype().is_x509() {
        return Err(reject(format!(
            "root keys must be certificates, not {}",
            key.keytype()
        )));
    }
    let bundle = parse_bundle(key.public()).map_err(|e| reject(e.to_string()))?;
    let (leaf, _) = split_leaf(&bundle).ok_or_else(|| {
        reject("the bundle must hold exactly one non-CA certificate, first".into())
    })?;
    let cn = leaf.common_name().unwrap_or_default();
    if !cn_matches_gun(&cn, gun) {
        return Err(reject(format!("common name {cn:?} does not match the GUN")));
    }
    leaf.validate(Some(now)).map_err(|e| reject(e.to_string()))
}

#[cfg(test)]
mod tests;
