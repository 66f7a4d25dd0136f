//! Root certificates signed by a key on a (mock) YubiHSM 2.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use signet_signer::cert::generate_root_certificate;
use signet_signer::yubihsm::{YubiHsmKeyStore, YubiHsmSigner};
use signet_signer::{CertifiedSigner, CryptoService, KeyAlgorithm, KeyStore, Signer};
use signet_tuf::key::{KeyType, PublicKey};
use x509_cert::Certificate;
use x509_cert::der::{Decode as _, Encode as _};
use yubihsm::{Client, Connector, Credentials};

const GUN: &str = "docker.io/example/app";

fn mock_store() -> YubiHsmKeyStore {
    let client = Client::open(Connector::mockhsm(), Credentials::default(), true).unwrap();
    YubiHsmKeyStore::from_client(client, "mockhsm")
}

fn common_name(cert: &Certificate) -> String {
    let subject = &cert.tbs_certificate.subject;
    assert_eq!(subject.0.len(), 1, "subject must be CN only");
    let atv = subject.0[0].0.iter().next().unwrap();
    assert_eq!(atv.oid.to_string(), "2.5.4.3");
    String::from_utf8(atv.value.value().to_vec()).unwrap()
}

/// Checks the certificate's own signature with the plain key `key` (verifying through
/// signet-tuf, which wants Notary's raw `r‖s`).
fn assert_self_signed_by(cert_der: &[u8], key: &PublicKey) -> Certificate {
    let cert = Certificate::from_der(cert_der).unwrap();
    assert_eq!(cert.tbs_certificate.issuer, cert.tbs_certificate.subject);
    assert_eq!(
        cert.signature_algorithm.oid.to_string(),
        "1.2.840.10045.4.3.2",
        "ecdsa-with-SHA256"
    );
    let tbs = cert.tbs_certificate.to_der().unwrap();
    let der_sig = cert.signature.raw_bytes();
    let raw = p256::ecdsa::Signature::from_der(der_sig)
        .unwrap()
        .to_bytes();
    key.verify("ecdsa", &tbs, &raw).unwrap();
    let mut other = tbs;
    *other.last_mut().unwrap() ^= 1;
    assert!(key.verify("ecdsa", &other, &raw).is_err());
    cert
}

#[test]
fn root_certificate_from_a_device_key() {
    let store = mock_store();
    let signer = store.generate(KeyAlgorithm::Ecdsa, "root", None).unwrap();

    let root = generate_root_certificate(&signer, GUN).unwrap();
    let cert = assert_self_signed_by(&root.der, signer.public_key());
    assert_eq!(common_name(&cert), GUN);

    // The certificate key is an ecdsa-x509 key whose canonical ID is the device key's ID.
    assert_eq!(root.public_key.keytype(), &KeyType::EcdsaX509);
    assert_eq!(
        &root.public_key.canonical_key_id().unwrap(),
        signer.key_id()
    );

    // Signing root.json under the certificate key goes through the device.
    let certified = CertifiedSigner::new(Arc::new(signer), root.public_key.clone()).unwrap();
    let msg = br#"{"_type":"Root","version":1}"#;
    let sig = certified.sign(msg).unwrap();
    assert_eq!(sig.keyid, root.public_key.key_id());
    root.public_key.verify(&sig.method, msg, &sig.sig).unwrap();

    // And the crypto service finds the device key for the certificate key.
    let store: Arc<dyn KeyStore> = Arc::new(store);
    let service = CryptoService::new(vec![store]);
    let found = service.signer_for(&root.public_key).unwrap().unwrap();
    let sig = found.sign(msg).unwrap();
    assert_eq!(sig.keyid, root.public_key.key_id());
    root.public_key.verify(&sig.method, msg, &sig.sig).unwrap();
}

#[test]
fn the_device_signer_is_an_rcgen_signing_key() {
    let store = mock_store();
    let signer: YubiHsmSigner = store.generate(KeyAlgorithm::Ecdsa, "root", None).unwrap();

    // DER signatures straight from the device path, verified by rcgen's consumer (x509).
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, GUN);
    let cert = params.self_signed(&signer).unwrap();
    let parsed = assert_self_signed_by(cert.der(), signer.public_key());
    assert_eq!(common_name(&parsed), GUN);
    let spki = parsed
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .unwrap();
    assert_eq!(
        PublicKey::from_spki_der(&spki).unwrap().key_id(),
        *signer.key_id()
    );

    let der = signer.sign_x509(b"tbs bytes").unwrap();
    let raw = p256::ecdsa::Signature::from_der(&der).unwrap().to_bytes();
    signer
        .public_key()
        .verify("ecdsa", b"tbs bytes", &raw)
        .unwrap();
}

#[test]
fn ed25519_device_keys_cannot_carry_notary_root_certificates() {
    let store = mock_store();
    let signer = store.generate(KeyAlgorithm::Ed25519, "root", None).unwrap();
    let err = generate_root_certificate(&signer, GUN).unwrap_err();
    assert!(err.to_string().contains(GUN), "{err}");
}
