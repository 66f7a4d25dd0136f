//! The server over TLS, served in-process with the binary's own serving code: the example CA
//! and server certificate of `keys-example/`, client-certificate verification, and the Go
//! `notary` CLI over https.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::{TestServer, keys_example, require_tool, run_notary, serve};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, PKCS_ECDSA_P256_SHA256,
};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use signet_server::config::TlsSettings;

fn example_tls(client_ca_file: Option<std::path::PathBuf>) -> TlsSettings {
    TlsSettings {
        cert_file: keys_example().join("server.crt"),
        key_file: keys_example().join("server.key"),
        client_ca_file,
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn roots(ca_pem_file: &Path) -> rustls::RootCertStore {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca_pem_file).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    roots
}

/// A reqwest client trusting `ca.crt` of keys-example, with an optional client identity
/// (certificate chain PEM, key PEM).
fn client(identity: Option<(&str, &str)>) -> reqwest::Client {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots(&keys_example().join("ca.crt")));
    let cfg = match identity {
        None => builder.with_no_client_auth(),
        Some((chain, key)) => {
            let chain = CertificateDer::pem_slice_iter(chain.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap();
            builder.with_client_auth_cert(chain, key).unwrap()
        }
    };
    reqwest::Client::builder()
        .use_preconfigured_tls(cfg)
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// A CA and a client certificate it issued, as PEM: (ca, client cert, client key).
fn client_ca_and_cert(name: &str) -> (String, String, String) {
    let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, format!("{name} client CA"));
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, format!("{name} client"));
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let cert = params.signed_by(&key, &ca).unwrap();
    (ca.pem(), cert.pem(), key.serialize_pem())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_https_with_the_example_certificate() {
    let s = TestServer::new().await;
    let served = serve(s.router.clone(), Some(example_tls(None)));
    let base = format!("https://127.0.0.1:{}", served.addr.port());
    let c = client(None);
    let r = c.get(format!("{base}/v2/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "{}");
    let r = c
        .get(format!("{base}/_notary_server/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = c
        .get(format!("{base}/v2/docker.io/x/_trust/tuf/root.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // The name `localhost` is in the certificate too.
    let r = c
        .get(format!("https://localhost:{}/v2/", served.addr.port()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Plain HTTP on the TLS port gets no HTTP answer.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let plain = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
        .get(format!("http://127.0.0.1:{}/v2/", served.addr.port()))
        .send()
        .await;
    assert!(plain.is_err() || plain.unwrap().status() != 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_does_not_trust_the_ca_is_refused() {
    let s = TestServer::new().await;
    let served = serve(s.router.clone(), Some(example_tls(None)));
    let (other_ca, _, _) = client_ca_and_cert("other");
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other.pem");
    std::fs::write(&other, other_ca).unwrap();
    let cfg = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots(&other))
        .with_no_client_auth();
    let c = reqwest::Client::builder()
        .use_preconfigured_tls(cfg)
        .build()
        .unwrap();
    let r = c
        .get(format!("https://127.0.0.1:{}/v2/", served.addr.port()))
        .send()
        .await;
    assert!(r.is_err(), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificates_are_required_when_a_client_ca_is_set() {
    let (ca, cert, key) = client_ca_and_cert("trusted");
    let (_, stranger_cert, stranger_key) = client_ca_and_cert("stranger");
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("clients-ca.pem");
    std::fs::write(&ca_file, ca).unwrap();
    let s = TestServer::new().await;
    let served = serve(s.router.clone(), Some(example_tls(Some(ca_file))));
    let url = format!("https://127.0.0.1:{}/v2/", served.addr.port());

    let r = client(Some((&cert, &key))).get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "{}");

    let without = client(None).get(&url).send().await;
    assert!(without.is_err(), "no client certificate: {without:?}");

    let stranger = client(Some((&stranger_cert, &stranger_key)))
        .get(&url)
        .send()
        .await;
    assert!(stranger.is_err(), "certificate of another CA: {stranger:?}");

    // The server still serves verified clients afterwards.
    let r = client(Some((&cert, &key))).get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_notary_cli_over_https() {
    let Some(notary) = require_tool("notary") else {
        return;
    };
    let s = TestServer::new().await;
    let served = serve(s.router.clone(), Some(example_tls(None)));
    let home = tempfile::tempdir().unwrap();
    let server_url = format!("https://127.0.0.1:{}", served.addr.port());
    let ca = keys_example().join("ca.crt").display().to_string();
    let gun = "docker.io/signet/tls";
    let args = |cmd: &[&str]| {
        let mut v = vec![
            "-s".to_owned(),
            server_url.clone(),
            "--tlscacert".to_owned(),
            ca.clone(),
        ];
        v.extend(cmd.iter().map(|s| (*s).to_owned()));
        v
    };
    let run = |a| run_notary(&notary, home.path(), a, Vec::new());
    let (ok, out, err) =
        tokio::time::timeout(Duration::from_secs(120), run(args(&["init", "-p", gun])))
            .await
            .unwrap();
    assert!(ok, "notary init -p failed:\n{out}\n{err}");
    let (ok, out, err) = tokio::time::timeout(Duration::from_secs(60), run(args(&["list", gun])))
        .await
        .unwrap();
    assert!(ok, "notary list failed:\n{out}\n{err}");
    assert!(out.contains("No targets present"), "{out}\n{err}");
    // The repository is on the server: its root and timestamp are served.
    let root = s.get(&format!("/v2/{gun}/_trust/tuf/root.json")).await;
    assert_eq!(root.status, 200);
    let ts = s.get(&format!("/v2/{gun}/_trust/tuf/timestamp.json")).await;
    assert_eq!(ts.status, 200);
    // Without the CA the CLI refuses the server's certificate.
    let (ok, out, err) = run(vec![
        "-s".to_owned(),
        server_url.clone(),
        "list".to_owned(),
        gun.to_owned(),
    ])
    .await;
    // (`list` then falls back to its cache and may still succeed offline.)
    let _ = ok;
    assert!(
        err.contains("certificate signed by unknown authority"),
        "notary trusted an unknown CA:\n{out}\n{err}"
    );
}
