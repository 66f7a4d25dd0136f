//! A registry over https: a CA from docker's `certs.d/<host:port>/ca.crt`, and docker's
//! skipped verification for loopback (insecure) registries.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use axum::Router;
use axum::http::header;
use axum::routing::get;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use signet_client::registry::client::{CERTS_DIR, MEDIA_TYPE_DOCKER_MANIFEST};
use signet_client::registry::{
    Digest, ImageReference, RegistryClient, RegistryError, RegistryOptions,
};

const MANIFEST: &[u8] = br#"{"schemaVersion":2}"#;

/// Returns the CA's PEM and the port of an https registry whose certificate names
/// `localhost` and `127.0.0.1`.
async fn https_registry() -> (String, u16) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "registry test CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let server_key = KeyPair::generate().unwrap();
    let server_cert = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&server_key, &issuer)
        .unwrap();

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(server_cert.pem().as_bytes())
            .collect::<Result<_, _>>()
            .unwrap();
    let key = PrivateKeyDer::from_pem_slice(server_key.serialize_pem().as_bytes()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();

    let app = Router::new().route("/v2/", get(|| async { "{}" })).route(
        "/v2/team/app/manifests/{reference}",
        get(|| async {
            (
                [
                    (header::CONTENT_TYPE, MEDIA_TYPE_DOCKER_MANIFEST.to_owned()),
                    (
                        header::HeaderName::from_static("docker-content-digest"),
                        Digest::sha256_of(MANIFEST).to_string(),
                    ),
                ],
                MANIFEST,
            )
        }),
    );
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
    (ca_cert.pem(), port)
}

#[tokio::test]
async fn certs_d_ca_is_trusted_for_a_secure_registry() {
    let (ca_pem, port) = https_registry().await;
    let domain = format!("localhost:{port}");
    let image = ImageReference::parse(&format!("{domain}/team/app:v1")).unwrap();
    let docker_dir = tempfile::tempdir().unwrap();
    let secure = |options: RegistryOptions| RegistryOptions {
        insecure: Some(false),
        ..options
    };

    // Without the CA the certificate is not trusted, and http is not tried.
    let options = secure(RegistryOptions::from_docker_config_dir(docker_dir.path()).unwrap());
    let client = RegistryClient::for_image(&image, options).unwrap();
    let error = client.resolve(&image).await.unwrap_err();
    match &error {
        RegistryError::Network { registry, url, .. } => {
            assert_eq!(registry, &domain);
            assert!(url.starts_with("https://"), "{url}");
        }
        other => panic!("unexpected {other}"),
    }

    let host_dir = docker_dir.path().join(CERTS_DIR).join(&domain);
    std::fs::create_dir_all(&host_dir).unwrap();
    std::fs::write(host_dir.join("ca.crt"), &ca_pem).unwrap();
    let options = secure(RegistryOptions::from_docker_config_dir(docker_dir.path()).unwrap());
    let client = RegistryClient::for_image(&image, options).unwrap();
    assert_eq!(
        client.ping().await.unwrap().as_str(),
        format!("https://{domain}/")
    );
    let resolved = client.resolve(&image).await.unwrap();
    assert_eq!(resolved.digest, Digest::sha256_of(MANIFEST));
    assert_eq!(resolved.size, MANIFEST.len() as u64);
}

#[tokio::test]
async fn loopback_registry_skips_verification_like_docker() {
    let (_ca_pem, port) = https_registry().await;
    let image = ImageReference::parse(&format!("127.0.0.1:{port}/team/app:v1")).unwrap();
    let client = RegistryClient::for_image(&image, RegistryOptions::default()).unwrap();
    assert!(client.is_insecure());
    assert_eq!(
        client.ping().await.unwrap().scheme(),
        "https",
        "https works without verification, so http is not needed"
    );
    let fetched = client.fetch_manifest(&image).await.unwrap();
    assert_eq!(fetched.bytes.as_ref(), MANIFEST);
}
