//! TLS settings for talking to a trust server: root certificates, client certificate and the
//! skip-verify switch, built into a rustls configuration on the `ring` provider.
//!
//! * notary CLI: `remote_server.root_ca` / `--tlscacert` is an **exclusive** root pool (system
//!   roots are not added); `tls_client_cert` + `tls_client_key`; `skipTLSVerify`.
//! * docker: `<docker config dir>/tls/<host[:port]>/` holds `*.crt` CA files **added** to the
//!   system roots and `*.cert` + `*.key` client certificate pairs; verification is skipped when
//!   the image's registry is insecure (the caller decides).

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::config::RemoteServerConfig;
use crate::error::{Error, RemoteError, Result};

/// Installs rustls' `ring` provider as the process default (a no-op when a default is already
/// installed). Configurations built here name the provider explicitly, so this only matters
/// for other rustls users in the process.
pub fn install_ring_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A client certificate chain and its private key.
pub struct ClientIdentity {
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl Clone for ClientIdentity {
    fn clone(&self) -> Self {
        Self {
            certs: self.certs.clone(),
            key: self.key.clone_key(),
        }
    }
}

impl fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientIdentity")
            .field("certs", &self.certs.len())
            .finish_non_exhaustive()
    }
}

impl ClientIdentity {
    /// Loads a PEM certificate chain and a PEM private key (PKCS#8, PKCS#1 or SEC1).
    ///
    /// # Errors
    ///
    /// [`RemoteError::Tls`] naming the file that cannot be read or holds no usable PEM.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Self> {
        let certs = load_certificates(cert)?;
        if certs.is_empty() {
            return Err(tls_error(cert, "no certificate found"));
        }
        let key_pem = zeroize::Zeroizing::new(read(key)?);
        let key =
            PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| tls_error(key, &e.to_string()))?;
        Ok(Self { certs, key })
    }
}

/// Where server certificates are verified against.
#[derive(Clone, Debug, Default)]
pub struct TlsOptions {
    /// When set, the only trusted roots (notary's exclusive root pool).
    pub exclusive_roots: Option<Vec<CertificateDer<'static>>>,
    /// Roots trusted in addition to the system's (docker's `*.crt`).
    pub extra_roots: Vec<CertificateDer<'static>>,
    /// The client certificate to present.
    pub client_identity: Option<ClientIdentity>,
    /// Accept any server certificate (the handshake signature is still checked).
    pub skip_verify: bool,
}

impl TlsOptions {
    /// The notary CLI's settings: `root_ca` as an exclusive root pool, the client pair,
    /// `skipTLSVerify`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::ClientCertPair`](crate::error::ConfigError::ClientCertPair) when only one of
    /// cert and key is set, [`RemoteError::Tls`] when a file cannot be loaded.
    pub fn from_notary_config(remote: &RemoteServerConfig) -> Result<Self> {
        remote.check_client_pair()?;
        let exclusive_roots = match &remote.root_ca {
            Some(path) => {
                let certs = load_certificates(path)?;
                if certs.is_empty() {
                    return Err(tls_error(path, "no certificate found"));
                }
                Some(certs)
            }
            None => None,
        };
        let client_identity = match (&remote.tls_client_cert, &remote.tls_client_key) {
            (Some(cert), Some(key)) => Some(ClientIdentity::from_pem_files(cert, key)?),
            _ => None,
        };
        Ok(Self {
            exclusive_roots,
            extra_roots: Vec::new(),
            client_identity,
            skip_verify: remote.skip_tls_verify,
        })
    }

    /// Docker's per-host directory `<docker config dir>/tls/<host[:port]>/`: every `*.crt` is
    /// added to the system roots, the first `*.cert` + `*.key` pair (by name) is the client
    /// certificate. A missing directory gives the defaults.
    ///
    /// # Errors
    ///
    /// [`RemoteError::Tls`] for a `.cert` without its `.key` (or the reverse) and for unreadable
    /// files.
    pub fn from_docker_certs_dir(dir: &Path) -> Result<Self> {
        let mut options = Self::default();
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(options),
            Err(e) => return Err(tls_error(dir, &e.to_string())),
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_ok_and(|t| !t.is_dir()))
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        names.sort();
        for name in &names {
            let path = dir.join(name);
            if name.ends_with(".crt") {
                options.extra_roots.extend(load_certificates(&path)?);
            } else if let Some(stem) = name.strip_suffix(".cert") {
                let key = format!("{stem}.key");
                if !names.contains(&key) {
                    return Err(tls_error(
                        &path,
                        &format!(
                            "missing key {key} for client certificate {name}. CA certificates must use the extension .crt"
                        ),
                    ));
                }
                if options.client_identity.is_none() {
                    options.client_identity =
                        Some(ClientIdentity::from_pem_files(&path, &dir.join(&key))?);
                }
            } else if let Some(stem) = name.strip_suffix(".key") {
                let cert = format!("{stem}.cert");
                if !names.contains(&cert) {
                    return Err(tls_error(
                        &path,
                        &format!("missing client certificate {cert} for key {name}"),
                    ));
                }
            }
        }
        Ok(options)
    }

    /// Builds the rustls client configuration (ring provider, TLS 1.2 and 1.3).
    ///
    /// # Errors
    ///
    /// [`RemoteError::Tls`] when a root certificate or the client identity is rejected.
    pub fn client_config(&self) -> Result<ClientConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| {
                Error::Remote(RemoteError::Tls {
                    reason: e.to_string(),
                })
            })?;
        let builder = if self.skip_verify {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyServerCert {
                    algorithms: provider.signature_verification_algorithms,
                }))
        } else {
            builder.with_root_certificates(self.root_store()?)
        };
        match &self.client_identity {
            Some(identity) => builder
                .with_client_auth_cert(identity.certs.clone(), identity.key.clone_key())
                .map_err(|e| {
                    Error::Remote(RemoteError::Tls {
                        reason: format!("client certificate rejected: {e}"),
                    })
                }),
            None => Ok(builder.with_no_client_auth()),
        }
    }

    fn root_store(&self) -> Result<RootCertStore> {
        let mut store = RootCertStore::empty();
        let add = |store: &mut RootCertStore, certs: &[CertificateDer<'static>]| -> Result<()> {
            for cert in certs {
                store.add(cert.clone()).map_err(|e| {
                    Error::Remote(RemoteError::Tls {
                        reason: format!("unusable root certificate: {e}"),
                    })
                })?;
            }
            Ok(())
        };
        match &self.exclusive_roots {
            Some(roots) => add(&mut store, roots)?,
            None => {
                // Unparseable system certificates are skipped, as Go does.
                let native = rustls_native_certs::load_native_certs();
                let _ = store.add_parsable_certificates(native.certs);
                add(&mut store, &self.extra_roots)?;
            }
        }
        Ok(store)
    }
}

/// `<docker config dir>/tls/<host[:port]>`, the directory docker reads for a trust server.
pub fn docker_certs_dir(docker_config_dir: &Path, server: &reqwest::Url) -> Option<PathBuf> {
    let host = server.host_str()?;
    let host_port = match server.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    Some(docker_config_dir.join("tls").join(host_port))
}

fn read(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).map_err(|e| tls_error(path, &e.to_string()))
}

pub(crate) fn load_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let pem = read(path)?;
    CertificateDer::pem_slice_iter(&pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| tls_error(path, &e.to_string()))
}

fn tls_error(path: &Path, reason: &str) -> Error {
    Error::Remote(RemoteError::Tls {
        reason: format!("{}: {reason}", path.display()),
    })
}

/// Accepts every server certificate (`skipTLSVerify`); handshake signatures are still verified
/// so the connection is at least bound to the presented key.
#[derive(Debug)]
struct AcceptAnyServerCert {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AcceptAnyServerCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
