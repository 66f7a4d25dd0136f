//! Throw-away TLS material for test servers: a local certificate authority and a server
//! certificate for `127.0.0.1`, `localhost` and `::1` that it issued, generated per test.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, SanType,
};

use crate::error::{HarnessError, Result};

/// PEM files of a generated CA and server certificate, written into a directory.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The CA certificate clients trust (`ca.crt`).
    pub ca_cert: PathBuf,
    /// The server's certificate (`server.crt`), issued by the CA.
    pub server_cert: PathBuf,
    /// The server's private key (`server.key`, PKCS#8, unencrypted).
    pub server_key: PathBuf,
}

impl TlsFiles {
    /// Generates an ECDSA P-256 CA and a server certificate for the loopback names and writes
    /// `ca.crt`, `server.crt` and `server.key` into `dir`.
    pub fn generate(dir: &Path) -> Result<Self> {
        let fail = tls_error;
        let ca = test_ca("signet e2e test CA")?;

        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)
            .map_err(|e| fail("generate the server key", e))?;
        let mut params = CertificateParams::new(vec!["localhost".to_owned()])
            .map_err(|e| fail("server parameters", e))?;
        params
            .subject_alt_names
            .push(SanType::IpAddress([127, 0, 0, 1].into()));
        params
            .subject_alt_names
            .push(SanType::IpAddress(std::net::Ipv6Addr::LOCALHOST.into()));
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params
            .signed_by(&key, &ca)
            .map_err(|e| fail("issue the server certificate", e))?;

        let files = Self {
            ca_cert: dir.join("ca.crt"),
            server_cert: dir.join("server.crt"),
            server_key: dir.join("server.key"),
        };
        write(&files.ca_cert, &ca.pem())?;
        write(&files.server_cert, &cert.pem())?;
        write(&files.server_key, &key.serialize_pem())?;
        Ok(files)
    }
}

/// The harness error for a failed certificate step `what`.
pub(crate) fn tls_error(what: &str, e: rcgen::Error) -> HarnessError {
    HarnessError::Tls {
        what: what.to_owned(),
        reason: e.to_string(),
    }
}

/// A self-signed ECDSA P-256 CA named `common_name`, to issue test certificates with.
pub(crate) fn test_ca(common_name: &str) -> Result<CertifiedIssuer<'static, KeyPair>> {
    let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)
        .map_err(|e| tls_error("generate the CA key", e))?;
    let mut ca_params =
        CertificateParams::new(Vec::<String>::new()).map_err(|e| tls_error("CA parameters", e))?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    CertifiedIssuer::self_signed(ca_params, ca_key).map_err(|e| tls_error("self-sign the CA", e))
}

fn write(path: &Path, contents: &str) -> Result<()> {
    std::fs::write(path, contents)
        .map_err(|e| HarnessError::io(format!("write {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_ca_and_a_server_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let files = TlsFiles::generate(dir.path()).unwrap();
        let ca = std::fs::read_to_string(&files.ca_cert).unwrap();
        let cert = std::fs::read_to_string(&files.server_cert).unwrap();
        let key = std::fs::read_to_string(&files.server_key).unwrap();
        assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"), "{ca}");
        assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"), "{cert}");
        assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"), "{key}");
        assert_ne!(ca, cert);
    }
}
