//! Trust pinning for the update: the configuration of [`crate::config::TrustPinning`] turned
//! into what `signet_tuf::update` checks, with pinned CA bundles validated by X.509 path
//! building (`rustls-webpki`, ring algorithms).

use std::fs;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rustls::pki_types::{CertificateDer, UnixTime};
use signet_tuf::update::{CaValidator, PinRule, TrustPinning as UpdatePinning};
use signet_tuf::x509::{self, Certificate};
use webpki::{EndEntityCert, KeyPurposeId, KeyPurposeIdIter};

use crate::config::TrustPinning;
use crate::error::{ConfigError, Error, Result};
use crate::gun::Gun;

/// `id-kp-serverAuth` (1.3.6.1.5.5.7.3.1), DER value bytes.
const EKU_SERVER_AUTH: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01];
/// `id-kp-codeSigning` (1.3.6.1.5.5.7.3.3), DER value bytes.
const EKU_CODE_SIGNING: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03];
/// `anyExtendedKeyUsage` (2.5.29.37.0), DER value bytes.
const EKU_ANY: &[u8] = &[0x55, 0x1d, 0x25, 0x00];

/// The pinning the update of `gun` uses. Only the CA bundle that applies to `gun` is loaded
/// (as Notary does), so a broken bundle for another prefix does not matter.
///
/// # Errors
///
/// [`ConfigError::PinnedCa`] ("could not load root cert from CA path", "invalid CA certs provided")
/// when the applicable bundle cannot be used.
pub fn update_pinning(
    config: &TrustPinning,
    gun: &Gun,
    now: DateTime<Utc>,
) -> Result<UpdatePinning> {
    let mut pinning = UpdatePinning::tofu().with_tofu_disabled(config.disable_tofu);
    pinning.certs = config.certs.clone();
    if let PinRule::Ca { prefix, ca: path } = config.rule_for(gun) {
        let validator = PinnedCa::from_pem_file(path, gun, now)?;
        pinning = pinning.with_ca(prefix, Arc::new(validator));
    }
    Ok(pinning)
}

/// A pinned CA bundle: a root's leaf certificate must chain to one of these CAs.
#[derive(Debug, Clone)]
pub struct PinnedCa {
    roots: Vec<CertificateDer<'static>>,
}

impl PinnedCa {
    /// Loads the bundle at `path`, keeping only CA certificates that pass Notary's certificate
    /// checks at `now` (not expired, no SHA-1, RSA ≥ 2048 bits).
    ///
    /// # Errors
    ///
    /// [`ConfigError::PinnedCa`] when the file cannot be read or parsed ("could not load root cert
    /// from CA path") or holds no valid certificate ("invalid CA certs provided").
    pub fn from_pem_file(path: &Path, gun: &Gun, now: DateTime<Utc>) -> Result<Self> {
        let error = |reason: &str| {
            Error::Config(ConfigError::PinnedCa {
                gun: gun.to_string(),
                path: path.to_path_buf(),
                reason: reason.to_owned(),
            })
        };
        let pem = fs::read(path).map_err(|_| error("could not load root cert from CA path"))?;
        Self::from_pem(&pem, now).map_err(error)
    }

    /// The bundle in `pem`, keeping only CA certificates that pass Notary's certificate checks
    /// at `now`.
    ///
    /// # Errors
    ///
    /// Notary's reason: "could not load root cert from CA path" when the text does not parse,
    /// "invalid CA certs provided" when no certificate is valid.
    pub fn from_pem(pem: &[u8], now: DateTime<Utc>) -> std::result::Result<Self, &'static str> {
        let certs = x509::parse_bundle(pem).map_err(|_| "could not load root cert from CA path")?;
        let roots: Vec<CertificateDer<'static>> = certs
            .iter()
            .filter(|c| c.validate(Some(now)).is_ok())
            .map(|c| CertificateDer::from(c.der().to_vec()))
            .collect();
        if roots.is_empty() {
            return Err("invalid CA certs provided");
        }
        Ok(Self { roots })
    }
}

/// Accepts certificates without an EKU extension, or whose EKUs include code signing, server
/// authentication or any purpose.
struct RootKeyUsage;

impl webpki::ExtendedKeyUsageValidator for RootKeyUsage {
    fn validate(&self, iter: KeyPurposeIdIter<'_, '_>) -> std::result::Result<(), webpki::Error> {
        let mut empty = true;
        for id in iter {
            empty = false;
            let id = id?;
            if [EKU_CODE_SIGNING, EKU_SERVER_AUTH, EKU_ANY]
                .iter()
                .any(|oid| id == KeyPurposeId::new(oid))
            {
                return Ok(());
            }
        }
        if empty {
            Ok(())
        } else {
            Err(webpki::Error::RequiredEkuNotFoundContext(
                webpki::RequiredEkuNotFoundContext {
                    required: webpki::KeyUsage::required(EKU_CODE_SIGNING),
                    present: Vec::new(),
                },
            ))
        }
    }
}

impl CaValidator for PinnedCa {
    fn chains_to_ca(
        &self,
        leaf: &Certificate,
        intermediates: &[&Certificate],
        now: DateTime<Utc>,
    ) -> bool {
        let anchors: Vec<_> = self
            .roots
            .iter()
            .filter_map(|c| webpki::anchor_from_trusted_cert(c).ok())
            .collect();
        let leaf_der = CertificateDer::from(leaf.der());
        let Ok(end_entity) = EndEntityCert::try_from(&leaf_der) else {
            return false;
        };
        let intermediates: Vec<CertificateDer<'_>> = intermediates
            .iter()
            .map(|c| CertificateDer::from(c.der()))
            .collect();
        let Ok(seconds) = u64::try_from(now.timestamp()) else {
            return false;
        };
        let time = UnixTime::since_unix_epoch(std::time::Duration::from_secs(seconds));
        let algorithms = rustls::crypto::ring::default_provider()
            .signature_verification_algorithms
            .all;
        end_entity
            .verify_for_usage(
                algorithms,
                &anchors,
                &intermediates,
                time,
                RootKeyUsage,
                None,
                None,
            )
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, PKCS_ECDSA_P256_SHA256,
    };
    use signet_tuf::update::PinMode;

    use super::*;

    fn ca() -> (String, Issuer<'static, KeyPair>) {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, "pin CA");
        let pem = params.self_signed(&key).unwrap().pem();
        (pem, Issuer::new(params, key))
    }

    fn leaf(issuer: &Issuer<'_, KeyPair>, gun: &str) -> Certificate {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, gun);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
        let cert = params.signed_by(&key, issuer).unwrap();
        Certificate::from_der(cert.der()).unwrap()
    }

    #[test]
    fn chains_to_the_pinned_ca_only() {
        let tmp = tempfile::tempdir().unwrap();
        let gun = Gun::new("example.com/app").unwrap();
        let (ca_pem, issuer) = ca();
        let (_, other_issuer) = ca();
        let path = tmp.path().join("ca.pem");
        fs::write(&path, &ca_pem).unwrap();
        let now = Utc::now();
        let pinned = PinnedCa::from_pem_file(&path, &gun, now).unwrap();
        assert!(pinned.chains_to_ca(&leaf(&issuer, "example.com/app"), &[], now));
        assert!(!pinned.chains_to_ca(&leaf(&other_issuer, "example.com/app"), &[], now));
    }

    #[test]
    fn bundle_errors_use_notary_texts() {
        let tmp = tempfile::tempdir().unwrap();
        let gun = Gun::new("g").unwrap();
        let now = Utc::now();
        let err = PinnedCa::from_pem_file(&tmp.path().join("missing"), &gun, now).unwrap_err();
        assert_eq!(err.to_string(), "could not load root cert from CA path");
        let junk = tmp.path().join("junk.pem");
        fs::write(&junk, "not pem").unwrap();
        let err = PinnedCa::from_pem_file(&junk, &gun, now).unwrap_err();
        assert_eq!(err.to_string(), "could not load root cert from CA path");
        // A CA that expired is skipped, leaving nothing.
        let (ca_pem, _) = ca();
        let path = tmp.path().join("ca.pem");
        fs::write(&path, ca_pem).unwrap();
        let far_future = now + chrono::TimeDelta::days(365 * 5000);
        let err = PinnedCa::from_pem_file(&path, &gun, far_future).unwrap_err();
        assert_eq!(err.to_string(), "invalid CA certs provided");
    }

    #[test]
    fn converts_config_for_one_gun() {
        let tmp = tempfile::tempdir().unwrap();
        let (ca_pem, _) = ca();
        let good = tmp.path().join("ca.pem");
        fs::write(&good, ca_pem).unwrap();
        let mut ca_map: BTreeMap<String, PathBuf> = BTreeMap::new();
        ca_map.insert("example.com/".into(), good);
        ca_map.insert("broken.io/".into(), tmp.path().join("missing.pem"));
        let mut certs = BTreeMap::new();
        certs.insert("pinned/*".to_owned(), vec!["abc".to_owned()]);
        let config = TrustPinning {
            certs,
            ca: ca_map,
            disable_tofu: true,
        };
        let now = Utc::now();
        let pinning = update_pinning(&config, &Gun::new("example.com/app").unwrap(), now).unwrap();
        assert!(matches!(
            pinning.mode_for("example.com/app"),
            PinMode::Ca(_)
        ));
        let pinning = update_pinning(&config, &Gun::new("pinned/x").unwrap(), now).unwrap();
        assert!(matches!(pinning.mode_for("pinned/x"), PinMode::Certs(ids) if ids == ["abc"]));
        let pinning = update_pinning(&config, &Gun::new("other/x").unwrap(), now).unwrap();
        assert!(matches!(
            pinning.mode_for("other/x"),
            PinMode::Tofu { disabled: true }
        ));
        // Only the bundle that applies is loaded.
        let err = update_pinning(&config, &Gun::new("broken.io/x").unwrap(), now).unwrap_err();
        assert!(matches!(err, Error::Config(ConfigError::PinnedCa { .. })));
    }
}
