use super::*;

use p256::ecdsa::signature::Signer as _;
use rand_core::OsRng;
use rsa::pkcs8::{EncodePrivateKey as _, EncodePublicKey as _, LineEnding};
use rsa::signature::{RandomizedSigner as _, SignatureEncoding as _};

const MSG: &[u8] = b"{\"_type\":\"Targets\",\"version\":1}";

fn ecdsa_key() -> (p256::ecdsa::SigningKey, PublicKey) {
    let sk = p256::ecdsa::SigningKey::random(&mut OsRng);
    let der = sk.verifying_key().to_public_key_der().unwrap();
    let key = PublicKey::from_spki_der(der.as_bytes()).unwrap();
    (sk, key)
}

fn rsa_key(bits: usize) -> rsa::RsaPrivateKey {
    rsa::RsaPrivateKey::new(&mut OsRng, bits).unwrap()
}

fn rsa_public(sk: &rsa::RsaPrivateKey) -> PublicKey {
    let der = sk.to_public_key().to_public_key_der().unwrap();
    PublicKey::from_spki_der(der.as_bytes()).unwrap()
}

fn pss_sign(sk: &rsa::RsaPrivateKey, msg: &[u8]) -> Vec<u8> {
    let signer = rsa::pss::SigningKey::<Sha256>::new(sk.clone());
    signer.sign_with_rng(&mut OsRng, msg).to_vec()
}

/// A self-signed certificate (PEM) for `cn` whose key is the given PKCS#8 document.
fn self_signed(pkcs8: &[u8], cn: &str) -> String {
    let kp = rcgen::KeyPair::try_from(pkcs8).unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    params.self_signed(&kp).unwrap().pem()
}

#[test]
fn key_id_parsing() {
    let id = "c20ba8b02376a7a5d01015f5a2bd487c54137ee163212fc913a6f2276ed0f1c3";
    let parsed: KeyId = id.parse().unwrap();
    assert_eq!(parsed.as_str(), id);
    assert_eq!(parsed.to_string(), id);
    assert_eq!(serde_json::to_string(&parsed).unwrap(), format!("\"{id}\""));
    for bad in [
        "",
        "C20BA8B02376A7A5D01015F5A2BD487C54137EE163212FC913A6F2276ED0F1C3",
        &id[1..],
        "g".repeat(64).as_str(),
    ] {
        assert!(
            matches!(bad.parse::<KeyId>(), Err(Error::InvalidKeyId { .. })),
            "{bad}"
        );
    }
    assert!(serde_json::from_str::<KeyId>("\"abc\"").is_err());
}

#[test]
fn key_types_round_trip_and_unknown_is_kept() {
    for s in ["ed25519", "ecdsa", "rsa", "ecdsa-x509", "rsa-x509"] {
        let t = KeyType::parse(s);
        assert!(!matches!(t, KeyType::Unknown(_)));
        assert_eq!(t.as_str(), s);
        assert_eq!(t.is_x509(), s.ends_with("x509"));
    }
    let json = r#"{"keytype":"sm2","keyval":{"private":null,"public":"AQI="}}"#;
    let key: PublicKey = serde_json::from_str(json).unwrap();
    assert_eq!(key.keytype(), &KeyType::Unknown("sm2".into()));
    assert_eq!(serde_json::to_string(&key).unwrap(), json);
    let err = key.verify("ecdsa", MSG, &[0; 64]).unwrap_err();
    assert!(matches!(err, Error::UnsupportedMethod { .. }), "{err}");
}

#[test]
fn key_id_is_sha256_of_canonical_object() {
    // The ed25519 timestamp key from the notary-server protocol notes (ID c20ba8b0…f1c3).
    let json = r#"{"keytype":"ed25519","keyval":{"private":null,"public":"IaN2OUfpmPtqbL3nOnozepdsh6NqsM/6F8/mixfUlfE="}}"#;
    let key: PublicKey = serde_json::from_str(json).unwrap();
    assert_eq!(key.canonical_json(), json.as_bytes());
    assert_eq!(serde_json::to_vec(&key).unwrap(), json.as_bytes());
    let through_cjson = cjson::to_canonical(&serde_json::to_value(&key).unwrap()).unwrap();
    assert_eq!(through_cjson, json.as_bytes());
    let id = key.key_id();
    assert!(id.as_str().starts_with("c20ba8b0"), "{id}");
    assert!(id.as_str().ends_with("f1c3"), "{id}");
    assert_eq!(key.canonical_key_id().unwrap(), id);
}

#[test]
fn private_material_is_dropped_on_parse() {
    let json = r#"{"keytype":"ed25519","keyval":{"public":"AQI=","private":"c2VjcmV0"}}"#;
    let key: PublicKey = serde_json::from_str(json).unwrap();
    assert_eq!(
        serde_json::to_string(&key).unwrap(),
        r#"{"keytype":"ed25519","keyval":{"private":null,"public":"AQI="}}"#
    );
}

#[test]
fn ecdsa_verification() {
    let (sk, key) = ecdsa_key();
    assert_eq!(key.keytype(), &KeyType::Ecdsa);
    let sig: p256::ecdsa::Signature = sk.sign(MSG);
    let sig = sig.to_bytes().to_vec();
    assert_eq!(sig.len(), 64);
    key.verify("ecdsa", MSG, &sig).unwrap();
    key.verify("ECDSA", MSG, &sig).unwrap();
    assert!(matches!(
        key.verify("ecdsa", b"other", &sig),
        Err(Error::BadSignature { .. })
    ));
    // DER signatures are not accepted: exact r||s length only.
    let der_sig: p256::ecdsa::DerSignature = sk.sign(MSG);
    assert!(matches!(
        key.verify("ecdsa", MSG, der_sig.as_bytes()),
        Err(Error::BadSignature { .. })
    ));
    assert!(matches!(
        key.verify("eddsa", MSG, &sig),
        Err(Error::UnsupportedMethod { .. })
    ));
    assert!(matches!(
        key.verify("rsapss", MSG, &sig),
        Err(Error::UnsupportedMethod { .. })
    ));
}

#[test]
fn ecdsa_x509_verification_and_canonical_id() {
    let sk = p256::ecdsa::SigningKey::random(&mut OsRng);
    let pkcs8 = p256::pkcs8::EncodePrivateKey::to_pkcs8_der(&sk).unwrap();
    let pem = self_signed(pkcs8.as_bytes(), "example.com/app");
    let key = PublicKey::from_certificate_pem(&pem).unwrap();
    assert_eq!(key.keytype(), &KeyType::EcdsaX509);
    assert_eq!(
        key.public(),
        pem.as_bytes(),
        "rcgen already writes canonical PEM"
    );
    let sig: p256::ecdsa::Signature = sk.sign(MSG);
    key.verify("ecdsa", MSG, &sig.to_bytes()).unwrap();

    let plain =
        PublicKey::from_spki_der(sk.verifying_key().to_public_key_der().unwrap().as_bytes())
            .unwrap();
    assert_eq!(key.canonical_key_id().unwrap(), plain.key_id());
    assert_ne!(key.key_id(), plain.key_id());

    // Re-encoding: CRLF and 76-column lines become Go's canonical PEM.
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let mut messy = String::from("-----BEGIN CERTIFICATE-----\r\n");
    for chunk in b64.as_bytes().chunks(76) {
        messy.push_str(std::str::from_utf8(chunk).unwrap());
        messy.push_str("\r\n");
    }
    messy.push_str("-----END CERTIFICATE-----");
    let reencoded = PublicKey::from_certificate_pem(&messy).unwrap();
    assert_eq!(reencoded, key);

    // A bundle keeps both certificates in order.
    let bundle = format!("{pem}{pem}");
    let two = PublicKey::from_certificate_pem(&bundle).unwrap();
    assert_eq!(two.public(), bundle.as_bytes());
    assert_eq!(two.canonical_key_id().unwrap(), plain.key_id());

    let not_cert = "-----BEGIN PUBLIC KEY-----\nAQI=\n-----END PUBLIC KEY-----\n";
    assert!(matches!(
        PublicKey::from_certificate_pem(not_cert),
        Err(Error::Certificate { .. })
    ));
    assert!(matches!(
        PublicKey::from_certificate_pem(""),
        Err(Error::Certificate { .. })
    ));
}

#[test]
fn ed25519_verification() {
    let sk = ed25519_dalek::SigningKey::generate(&mut OsRng);
    let spki =
        ed25519_dalek::pkcs8::EncodePublicKey::to_public_key_der(&sk.verifying_key()).unwrap();
    let key = PublicKey::from_spki_der(spki.as_bytes()).unwrap();
    assert_eq!(key.keytype(), &KeyType::Ed25519);
    assert_eq!(key.public(), sk.verifying_key().as_bytes());
    let sig = ed25519_dalek::Signer::sign(&sk, MSG).to_bytes();
    key.verify("eddsa", MSG, &sig).unwrap();
    key.verify("EdDSA", MSG, &sig).unwrap();
    assert!(matches!(
        key.verify("eddsa", b"x", &sig),
        Err(Error::BadSignature { .. })
    ));
    assert!(matches!(
        key.verify("eddsa", MSG, &sig[..63]),
        Err(Error::BadSignature { .. })
    ));
    let short = PublicKey::new(KeyType::Ed25519, vec![1; 31]);
    assert!(matches!(
        short.verify("eddsa", MSG, &sig),
        Err(Error::InvalidPublicKey { .. })
    ));
    // Strict verification: a small-order public key is refused even with a "valid" signature.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let weak = PublicKey::new(KeyType::Ed25519, identity.to_vec());
    let mut forged = [0u8; 64];
    forged[0] = 1;
    assert!(weak.verify("eddsa", MSG, &forged).is_err());
}

#[test]
fn rsa_methods() {
    let sk = rsa_key(2048);
    let key = rsa_public(&sk);
    assert_eq!(key.keytype(), &KeyType::Rsa);

    let pss = pss_sign(&sk, MSG);
    key.verify("rsapss", MSG, &pss).unwrap();
    assert!(matches!(
        key.verify("rsapss", b"x", &pss),
        Err(Error::BadSignature { .. })
    ));

    let pkcs1 =
        rsa::signature::Signer::sign(&rsa::pkcs1v15::SigningKey::<Sha256>::new(sk.clone()), MSG)
            .to_vec();
    key.verify("rsapkcs1v15", MSG, &pkcs1).unwrap();
    assert!(key.verify("rsapss", MSG, &pkcs1).is_err());
    assert!(key.verify("rsapkcs1v15", MSG, &pss).is_err());

    // PSS with a salt length other than 32 is refused.
    let salt20 = rsa::pss::SigningKey::<Sha256>::new_with_salt_len(sk.clone(), 20)
        .sign_with_rng(&mut OsRng, MSG)
        .to_vec();
    assert!(key.verify("rsapss", MSG, &salt20).is_err());

    // pycrypto: rsa key whose public value is the PEM-wrapped SPKI.
    let pem = sk
        .to_public_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap();
    let pyk = PublicKey::new(KeyType::Rsa, pem.into_bytes());
    pyk.verify("pycrypto-pkcs#1 pss", MSG, &pss).unwrap();
    assert!(matches!(
        key.verify("pycrypto-pkcs#1 pss", MSG, &pss),
        Err(Error::InvalidPublicKey { .. })
    ));

    // rsa-x509 accepts rsapss and rsapkcs1v15 but not pycrypto.
    let pkcs8 = sk.to_pkcs8_der().unwrap();
    let cert = self_signed(pkcs8.as_bytes(), "example.com/rsa");
    let xkey = PublicKey::from_certificate_pem(&cert).unwrap();
    assert_eq!(xkey.keytype(), &KeyType::RsaX509);
    xkey.verify("rsapss", MSG, &pss).unwrap();
    xkey.verify("rsapkcs1v15", MSG, &pkcs1).unwrap();
    assert!(matches!(
        xkey.verify("pycrypto-pkcs#1 pss", MSG, &pss),
        Err(Error::UnsupportedMethod { .. })
    ));
    assert_eq!(xkey.canonical_key_id().unwrap(), key.key_id());
}

#[test]
fn small_rsa_keys_are_refused() {
    let sk = rsa_key(1024);
    let key = rsa_public(&sk);
    let sig = pss_sign(&sk, MSG);
    let err = key.verify("rsapss", MSG, &sig).unwrap_err();
    assert!(err.to_string().contains("2048"), "{err}");
}

#[test]
fn p384_ecdsa_uses_sha256_and_96_bytes() {
    use ring::signature::{ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
    // ring has no P-384/SHA-256 signer, so check the wiring with a P-384 key and a wrong hash:
    // the signature must be rejected, and a wrong length must be reported as such.
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, &rng).unwrap();
    let kp =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    let point = kp.public_key().as_ref();
    let spki = SubjectPublicKeyInfoRef {
        algorithm: AlgorithmIdentifierRef {
            oid: OID_EC_PUBLIC_KEY,
            parameters: Some(AnyRef::from(&OID_P384)),
        },
        subject_public_key: BitStringRef::new(0, point).unwrap(),
    }
    .to_der()
    .unwrap();
    let key = PublicKey::from_spki_der(&spki).unwrap();
    assert_eq!(key.keytype(), &KeyType::Ecdsa);
    let sig384 = kp.sign(&rng, MSG).unwrap();
    assert_eq!(sig384.as_ref().len(), 96);
    assert!(matches!(
        key.verify("ecdsa", MSG, sig384.as_ref()),
        Err(Error::BadSignature { .. })
    ));
    let err = key.verify("ecdsa", MSG, &[1; 64]).unwrap_err();
    assert!(err.to_string().contains("96 bytes"), "{err}");
}

#[test]
fn fixed_to_der_encodes_integers_minimally() {
    let mut r = [0u8; 48];
    r[47] = 1;
    let s = [0xffu8; 48];
    let der = fixed_to_der(&r, &s);
    assert_eq!(&der[..5], &[0x30, 3 + 2 + 49, 0x02, 0x01, 0x01]);
    assert_eq!(&der[5..8], &[0x02, 49, 0x00]);
    assert_eq!(der.len(), 2 + 3 + 51);
}

#[test]
fn spki_rejects_other_algorithms() {
    assert!(matches!(
        PublicKey::from_spki_der(b"\x30\x00"),
        Err(Error::InvalidSpki { .. })
    ));
    let dsa_like = SubjectPublicKeyInfoRef {
        algorithm: AlgorithmIdentifierRef {
            oid: ObjectIdentifier::new_unwrap("1.2.840.10040.4.1"),
            parameters: None,
        },
        subject_public_key: BitStringRef::new(0, &[1, 2, 3]).unwrap(),
    }
    .to_der()
    .unwrap();
    assert!(matches!(
        PublicKey::from_spki_der(&dsa_like),
        Err(Error::InvalidSpki { .. })
    ));
}
