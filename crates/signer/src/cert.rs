//! Self-signed root certificates, made the way Notary makes them.
//!
//! | field | value |
//! |---|---|
//! | subject / issuer | `CN=<GUN>` only |
//! | serial | random, below 2^128 |
//! | validity | not before = now, not after = now + 3650 days |
//! | key usage | critical: digitalSignature, keyEncipherment |
//! | extended key usage | codeSigning |
//! | basic constraints | critical, CA:FALSE |
//! | signature | ecdsa-with-SHA256 by the root key itself |
//!
//! No other extensions are written (no subject or authority key identifier). Certificates are
//! issued through any [`Signer`] with an ECDSA P-256 key, so hardware keys work as well as
//! software ones: the signer's raw `r‖s` signature over SHA-256 is converted to the DER form
//! X.509 needs. Renewing a certificate is issuing a new one for the same signer.

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use der::Decode as _;
use ring::rand::SecureRandom as _;
use signet_tuf::key::{KeyType, PublicKey};

use crate::error::{Error, Result};
use crate::signer::{Signer, sign_ecdsa_der};
use signet_tuf::notary::pem::{self, PemBlock};

/// Validity of a root certificate: 10 × 365 days, as Notary.
pub const ROOT_CERT_VALIDITY: Duration = Duration::from_secs(3650 * 24 * 60 * 60);

/// A root certificate and the TUF key that carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootCertificate {
    /// The certificate as PEM (64-character lines, trailing newline).
    pub pem: String,
    /// The certificate in DER.
    pub der: Vec<u8>,
    /// The `ecdsa-x509` TUF key whose public value is [`pem`](Self::pem); its canonical key ID
    /// is the signer's key ID.
    pub public_key: PublicKey,
}

/// Issues a root certificate for `gun` signed by `signer`, valid from now for
/// [`ROOT_CERT_VALIDITY`].
pub fn generate_root_certificate(signer: &dyn Signer, gun: &str) -> Result<RootCertificate> {
    generate_root_certificate_with_validity(signer, gun, SystemTime::now(), ROOT_CERT_VALIDITY)
}

/// Issues a root certificate for `gun` valid from `not_before` for `validity`.
///
/// # Errors
///
/// [`Error::Certificate`] when the signer's key is not ECDSA P-256, the signer fails, or the
/// dates are out of range.
pub fn generate_root_certificate_with_validity(
    signer: &dyn Signer,
    gun: &str,
    not_before: SystemTime,
    validity: Duration,
) -> Result<RootCertificate> {
    let cert_error = |reason: String| Error::Certificate {
        gun: gun.to_owned(),
        reason,
    };
    let point = p256_point(signer.public_key()).map_err(cert_error)?;
    let key = RcgenKey {
        signer,
        point,
        error: Mutex::new(None),
    };

    let not_before = time::OffsetDateTime::from(not_before);
    let not_after = not_before
        .checked_add(time::Duration::try_from(validity).map_err(|e| cert_error(e.to_string()))?)
        .ok_or_else(|| cert_error("validity out of range".to_owned()))?;

    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, gun);
    params.not_before = not_before;
    params.not_after = not_after;
    params.serial_number = Some(random_serial().map_err(cert_error)?);
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::DigitalSignature,
        rcgen::KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::CodeSigning];
    // CA:FALSE written as Go writes it (an empty SEQUENCE, critical); rcgen's own
    // `IsCa::ExplicitNoCa` would add a subject key identifier as well.
    params.is_ca = rcgen::IsCa::NoCa;
    let mut basic_constraints =
        rcgen::CustomExtension::from_oid_content(&[2, 5, 29, 19], vec![0x30, 0x00]);
    basic_constraints.set_criticality(true);
    params.custom_extensions = vec![basic_constraints];

    let cert = params.self_signed(&key).map_err(|e| {
        let detail = key
            .error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
            .map_or_else(|| e.to_string(), |inner| inner.to_string());
        cert_error(detail)
    })?;
    let der = cert.der().to_vec();
    let pem = PemBlock::new(pem::CERTIFICATE, der.clone()).encode()?;
    let public_key = PublicKey::from_certificate_pem(&pem).map_err(|source| Error::PublicKey {
        context: format!("root certificate for {gun}"),
        source,
    })?;
    Ok(RootCertificate {
        pem,
        der,
        public_key,
    })
}

/// A random positive serial number below 2^128.
fn random_serial() -> Result<rcgen::SerialNumber, String> {
    let mut bytes = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| "system random number generator failed".to_owned())?;
    if bytes.iter().all(|b| *b == 0) {
        bytes[15] = 1;
    }
    Ok(rcgen::SerialNumber::from_slice(&bytes))
}

/// The uncompressed SEC1 point of an ECDSA P-256 key (plain or x509).
fn p256_point(key: &PublicKey) -> Result<Vec<u8>, String> {
    let plain = key.canonical_key().map_err(|e| e.to_string())?;
    if plain.keytype() != &KeyType::Ecdsa {
        return Err(format!(
            "root certificates need an ECDSA P-256 key, not {}",
            plain.keytype()
        ));
    }
    let spki =
        spki::SubjectPublicKeyInfoRef::from_der(plain.public()).map_err(|e| e.to_string())?;
    let curve = spki.algorithm.parameters_oid().map_err(|e| e.to_string())?;
    if curve != crate::asn1::OID_P256 {
        return Err(format!(
            "root certificates need a P-256 key, not curve {curve}"
        ));
    }
    spki.subject_public_key
        .as_bytes()
        .map(<[u8]>::to_vec)
        .ok_or_else(|| "public key is not a whole number of bytes".to_owned())
}

/// Adapts a [`Signer`] to rcgen's remote-key interface.
struct RcgenKey<'a> {
    signer: &'a dyn Signer,
    point: Vec<u8>,
    error: Mutex<Option<Error>>,
}

impl rcgen::PublicKeyData for RcgenKey<'_> {
    fn der_bytes(&self) -> &[u8] {
        &self.point
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        &rcgen::PKCS_ECDSA_P256_SHA256
    }
}

impl rcgen::SigningKey for RcgenKey<'_> {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        sign_ecdsa_der(self.signer, msg).map_err(|e| {
            *self
                .error
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(e);
            rcgen::Error::RemoteKeyError
        })
    }
}

#[cfg(test)]
mod tests {
    use x509_cert::Certificate;
    use x509_cert::der::Decode as _;

    use super::*;
    use crate::private_key::PrivateKey;

    #[test]
    fn certificate_matches_notary_template() {
        let key = PrivateKey::generate_ecdsa().unwrap();
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let cert = generate_root_certificate_with_validity(
            &key,
            "example.com/org/app",
            start,
            ROOT_CERT_VALIDITY,
        )
        .unwrap();
        assert!(cert.pem.starts_with("-----BEGIN CERTIFICATE-----\n"));
        assert!(cert.pem.ends_with("-----END CERTIFICATE-----\n"));
        assert!(cert.pem.lines().all(|l| l.len() <= 64));
        assert_eq!(cert.public_key.keytype(), &KeyType::EcdsaX509);
        assert_eq!(&cert.public_key.canonical_key_id().unwrap(), key.key_id());

        let parsed = Certificate::from_der(&cert.der).unwrap();
        let tbs = &parsed.tbs_certificate;
        assert_eq!(tbs.subject.to_string(), "CN=example.com/org/app");
        assert_eq!(tbs.issuer, tbs.subject);
        assert!(tbs.serial_number.as_bytes().len() <= 17);
        assert_eq!(
            tbs.validity.not_before.to_unix_duration(),
            Duration::from_secs(1_800_000_000)
        );
        assert_eq!(
            tbs.validity.not_after.to_unix_duration(),
            Duration::from_secs(1_800_000_000) + ROOT_CERT_VALIDITY
        );
        assert_eq!(
            parsed.signature_algorithm.oid.to_string(),
            "1.2.840.10045.4.3.2"
        );
        let extensions = tbs.extensions.as_ref().unwrap();
        let summary: Vec<(String, bool, Vec<u8>)> = extensions
            .iter()
            .map(|e| {
                (
                    e.extn_id.to_string(),
                    e.critical,
                    e.extn_value.as_bytes().to_vec(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                // keyUsage: digitalSignature | keyEncipherment.
                ("2.5.29.15".to_owned(), true, vec![0x03, 0x02, 0x05, 0xa0]),
                // extKeyUsage: codeSigning.
                (
                    "2.5.29.37".to_owned(),
                    false,
                    vec![
                        0x30, 0x0a, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03
                    ]
                ),
                // basicConstraints: CA:FALSE.
                ("2.5.29.19".to_owned(), true, vec![0x30, 0x00]),
            ]
        );

        // The self-signature verifies with the key inside the certificate.
        let spki = tbs.subject_public_key_info.subject_public_key.raw_bytes();
        let tbs_der = der::Encode::to_der(tbs).unwrap();
        ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_ASN1, spki)
            .verify(&tbs_der, parsed.signature.raw_bytes())
            .unwrap();
    }

    #[test]
    fn renewal_keeps_the_key_and_changes_the_serial() {
        let key = PrivateKey::generate_ecdsa().unwrap();
        let first = generate_root_certificate(&key, "gun").unwrap();
        let second = generate_root_certificate(&key, "gun").unwrap();
        assert_ne!(first.der, second.der);
        assert_eq!(
            first.public_key.canonical_key_id().unwrap(),
            second.public_key.canonical_key_id().unwrap()
        );
    }

    #[test]
    fn refuses_non_p256_keys() {
        let key = PrivateKey::generate_ed25519().unwrap();
        assert!(matches!(
            generate_root_certificate(&key, "gun"),
            Err(Error::Certificate { .. })
        ));
    }
}
