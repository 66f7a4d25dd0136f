//! TLS: exclusive CA bundle, skip-verify, client certificates, docker's certs.d layout.

use std::path::Path;

use axum::routing::get;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, PKCS_ECDSA_P256_SHA256,
};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;

use super::*;
use crate::config::RemoteServerConfig;
use crate::http::tls;

struct Pki {
    ca_pem: String,
    server_cert_pem: String,
    server_key_pem: String,
    client_cert_pem: String,
    client_key_pem: String,
}

fn pki() -> Pki {
    let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "signet test CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);

    let server_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let server_params =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    let server_cert = server_params.signed_by(&server_key, &issuer).unwrap();

    let client_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut client_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    client_params
        .distinguished_name
        .push(DnType::CommonName, "client");
    let client_cert = client_params.signed_by(&client_key, &issuer).unwrap();

    Pki {
        ca_pem: ca_cert.pem(),
        server_cert_pem: server_cert.pem(),
        server_key_pem: server_key.serialize_pem(),
        client_cert_pem: client_cert.pem(),
        client_key_pem: client_key.serialize_pem(),
    }
}

/// An HTTPS server answering `GET /v2/` with `{}`; with `require_client_cert` the client must
/// present a certificate issued by the test CA.
async fn tls_server(pki: &Pki, require_client_cert: bool) -> String {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(pki.server_cert_pem.as_bytes())
            .collect::<std::result::Result<_, _>>()
            .unwrap();
    let key = PrivateKeyDer::from_pem_slice(pki.server_key_pem.as_bytes()).unwrap();
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = if require_client_cert {
        let mut roots = rustls::RootCertStore::empty();
        for ca in CertificateDer::pem_slice_iter(pki.ca_pem.as_bytes()) {
            roots.add(ca.unwrap()).unwrap();
        }
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .unwrap();
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let config = builder.with_single_cert(certs, key).unwrap();

    let app = Router::new().route("/v2/", get(|| async { "{}" }));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = axum_server::from_tcp_rustls(
        listener,
        axum_server::tls_rustls::RustlsConfig::from_config(Arc::new(config)),
    )
    .unwrap();
    tokio::spawn(async move {
        let _ = server.serve(app.into_make_service()).await;
    });
    format!("https://127.0.0.1:{port}")
}

fn write(dir: &Path, name: &str, contents: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

async fn ping_with(url: &str, tls: TlsOptions) -> PingOutcome {
    let remote = RemoteStore::new(
        url,
        RemoteOptions {
            tls,
            ..RemoteOptions::default()
        },
    )
    .unwrap();
    remote.ping().await
}

#[tokio::test]
async fn exclusive_ca_bundle_and_skip_verify() {
    let pki = pki();
    let url = tls_server(&pki, false).await;
    let tmp = tempfile::tempdir().unwrap();
    let ca = write(tmp.path(), "root-ca.crt", &pki.ca_pem);

    let remote = RemoteServerConfig {
        url: url.clone(),
        root_ca: Some(ca),
        ..RemoteServerConfig::default()
    };
    let tls = TlsOptions::from_notary_config(&remote).unwrap();
    assert_eq!(
        ping_with(&url, tls).await,
        PingOutcome::Reachable { status: 200 }
    );

    // System roots do not know the test CA.
    let outcome = ping_with(&url, TlsOptions::default()).await;
    assert!(
        matches!(
            &outcome,
            PingOutcome::Unreachable { failure: Some(failure), .. }
                if failure.cause == ConnectCause::UnknownCa
        ),
        "{outcome:?}"
    );
    // The TLS port spoken to in plain HTTP.
    let plain = url.replacen("https://", "http://", 1);
    let outcome = ping_with(&plain, TlsOptions::default()).await;
    assert!(
        matches!(
            &outcome,
            PingOutcome::Unreachable { failure: Some(failure), .. }
                if failure.cause == ConnectCause::NotPlainHttp
        ),
        "{outcome:?}"
    );

    // An exclusive pool with another CA fails too.
    let other = pki_other_ca();
    let other_ca = write(tmp.path(), "other.crt", &other);
    let tls = TlsOptions::from_notary_config(&RemoteServerConfig {
        root_ca: Some(other_ca),
        ..RemoteServerConfig::default()
    })
    .unwrap();
    assert!(matches!(
        ping_with(&url, tls).await,
        PingOutcome::Unreachable { .. }
    ));

    let skip = TlsOptions {
        skip_verify: true,
        ..TlsOptions::default()
    };
    assert_eq!(
        ping_with(&url, skip).await,
        PingOutcome::Reachable { status: 200 }
    );
}

fn pki_other_ca() -> String {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.self_signed(&key).unwrap().pem()
}

#[tokio::test]
async fn client_certificates() {
    let pki = pki();
    let url = tls_server(&pki, true).await;
    let tmp = tempfile::tempdir().unwrap();
    let ca = write(tmp.path(), "ca.crt", &pki.ca_pem);
    let cert = write(tmp.path(), "client.crt", &pki.client_cert_pem);
    let key = write(tmp.path(), "client.key", &pki.client_key_pem);

    let without = TlsOptions::from_notary_config(&RemoteServerConfig {
        root_ca: Some(ca.clone()),
        ..RemoteServerConfig::default()
    })
    .unwrap();
    assert!(matches!(
        ping_with(&url, without).await,
        PingOutcome::Unreachable { .. }
    ));

    let with = TlsOptions::from_notary_config(&RemoteServerConfig {
        root_ca: Some(ca.clone()),
        tls_client_cert: Some(cert.clone()),
        tls_client_key: Some(key),
        ..RemoteServerConfig::default()
    })
    .unwrap();
    assert_eq!(
        ping_with(&url, with).await,
        PingOutcome::Reachable { status: 200 }
    );

    let err = TlsOptions::from_notary_config(&RemoteServerConfig {
        tls_client_cert: Some(cert),
        ..RemoteServerConfig::default()
    })
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "either pass both client key and cert, or neither"
    );

    let err = TlsOptions::from_notary_config(&RemoteServerConfig {
        root_ca: Some(tmp.path().join("missing.crt")),
        ..RemoteServerConfig::default()
    })
    .unwrap_err();
    assert!(
        err.to_string().starts_with("unable to configure TLS: "),
        "{err}"
    );
    assert!(err.to_string().contains("missing.crt"));
}

#[tokio::test]
async fn docker_certs_directory() {
    let pki = pki();
    let url = tls_server(&pki, true).await;
    let server = Url::parse(&url).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = docker_certs_dir_for(tmp.path(), &server);
    assert_eq!(
        dir,
        tmp.path()
            .join("tls")
            .join(format!("127.0.0.1:{}", server.port().unwrap()))
    );
    std::fs::create_dir_all(&dir).unwrap();
    write(&dir, "ca.crt", &pki.ca_pem);
    write(&dir, "client.cert", &pki.client_cert_pem);
    write(&dir, "client.key", &pki.client_key_pem);

    let tls = TlsOptions::from_docker_certs_dir(&dir).unwrap();
    assert_eq!(tls.extra_roots.len(), 1);
    assert!(
        tls.exclusive_roots.is_none(),
        "docker adds to the system roots"
    );
    assert!(tls.client_identity.is_some());
    assert_eq!(
        ping_with(&url, tls).await,
        PingOutcome::Reachable { status: 200 }
    );

    // A key without its certificate, and a certificate without its key, are errors.
    std::fs::remove_file(dir.join("client.cert")).unwrap();
    let err = TlsOptions::from_docker_certs_dir(&dir).unwrap_err();
    assert!(
        err.to_string()
            .contains("missing client certificate client.cert for key client.key")
    );
    std::fs::remove_file(dir.join("client.key")).unwrap();
    write(&dir, "other.cert", &pki.client_cert_pem);
    let err = TlsOptions::from_docker_certs_dir(&dir).unwrap_err();
    assert!(
        err.to_string()
            .contains("missing key other.key for client certificate other.cert")
    );

    // No directory: defaults.
    let none = TlsOptions::from_docker_certs_dir(&tmp.path().join("nope")).unwrap();
    assert!(none.extra_roots.is_empty() && none.client_identity.is_none());
}

fn docker_certs_dir_for(config_dir: &Path, server: &Url) -> std::path::PathBuf {
    tls::docker_certs_dir(config_dir, server).unwrap()
}
