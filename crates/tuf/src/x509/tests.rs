use super::*;
use crate::testutil::{CERT_FROM, CERT_TO, GUN, TestKey, at, self_signed_cert};
use rand_core::OsRng;
use rsa::pkcs8::EncodePrivateKey as _;

fn cert_of(key: &TestKey) -> Certificate {
    parse_bundle(key.public().public()).unwrap().remove(0)
}

#[test]
fn cn_matching() {
    assert!(cn_matches_gun("example.com/app", "example.com/app"));
    assert!(!cn_matches_gun("example.com/app", "example.com/app2"));
    assert!(cn_matches_gun("example.com/*", "example.com/app"));
    assert!(cn_matches_gun("example.com/**", "example.com/app"));
    assert!(cn_matches_gun("*", "anything"));
    assert!(!cn_matches_gun("docker.io/*", "example.com/app"));
    assert!(!cn_matches_gun("", "example.com/app"));
}

#[test]
fn certificate_fields() {
    let key = TestKey::ecdsa_x509(GUN, CERT_FROM, CERT_TO, false);
    let cert = cert_of(&key);
    assert_eq!(cert.common_name().as_deref(), Some(GUN));
    assert!(!cert.is_ca());
    assert_eq!(cert.not_before(), at(2020, 1, 1));
    assert_eq!(cert.not_after(), at(2040, 1, 1));
    assert_eq!(cert.x509_key_type(), Some(KeyType::EcdsaX509));
    assert_eq!(cert.to_pem().as_bytes(), key.public().public());
    let plain = PublicKey::from_spki_der(&cert.spki_der().unwrap()).unwrap();
    assert_eq!(plain.key_id(), key.public().canonical_key_id().unwrap());
    assert!(cert_of(&TestKey::ecdsa_x509(GUN, CERT_FROM, CERT_TO, true)).is_ca());
}

#[test]
fn validity_window_has_a_one_day_grace_before() {
    let key = TestKey::ecdsa_x509(GUN, (2030, 1, 10), (2031, 1, 1), false);
    let cert = cert_of(&key);
    cert.validate(None).unwrap();
    cert.validate(Some(at(2030, 1, 9) + Duration::minutes(1)))
        .unwrap();
    cert.validate(Some(at(2031, 1, 1))).unwrap();
    assert!(cert.validate(Some(at(2030, 1, 8))).is_err());
    assert!(cert.validate(Some(at(2031, 1, 2))).is_err());
    let err = check_root_key(key.public(), GUN, at(2031, 1, 2)).unwrap_err();
    assert!(matches!(err, Error::CertificateRejected { .. }), "{err}");
    check_root_key(key.public(), GUN, at(2030, 6, 1)).unwrap();
}

#[test]
fn sha1_signed_certificates_are_refused() {
    let sk = rsa::RsaPrivateKey::new(&mut OsRng, 2048).unwrap();
    let pem = self_signed_cert(
        sk.to_pkcs8_der().unwrap().as_bytes(),
        GUN,
        CERT_FROM,
        CERT_TO,
        false,
    );
    let cert = parse_bundle(pem.as_bytes()).unwrap().remove(0);
    assert_eq!(cert.x509_key_type(), Some(KeyType::RsaX509));
    cert.validate(Some(at(2030, 1, 1))).unwrap();
    // sha256WithRSAEncryption (…1.11) → sha1WithRSAEncryption (…1.5): same length, so only the
    // algorithm changes (Notary does not check the self-signature of root certificates).
    let sha256_oid = [
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b,
    ];
    let mut der = cert.der().to_vec();
    let mut patched = 0;
    let mut i = 0;
    while i + sha256_oid.len() <= der.len() {
        if der[i..i + sha256_oid.len()] == sha256_oid {
            der[i + sha256_oid.len() - 1] = 0x05;
            patched += 1;
        }
        i += 1;
    }
    assert_eq!(patched, 2);
    let sha1 = Certificate::from_der(&der).unwrap();
    let err = sha1.validate(None).unwrap_err();
    assert!(err.to_string().contains("SHA1"), "{err}");
}

#[test]
fn bundles_need_exactly_one_leaf_first() {
    let leaf = TestKey::ecdsa_x509(GUN, CERT_FROM, CERT_TO, false);
    let ca = TestKey::ecdsa_x509("intermediate", CERT_FROM, CERT_TO, true);
    let leaf_pem = String::from_utf8(leaf.public().public().to_vec()).unwrap();
    let ca_pem = String::from_utf8(ca.public().public().to_vec()).unwrap();

    let bundle = parse_bundle(format!("{leaf_pem}{ca_pem}").as_bytes()).unwrap();
    let (l, ints) = split_leaf(&bundle).unwrap();
    assert_eq!(l, &bundle[0]);
    assert_eq!(ints.len(), 1);
    let key = bundle_to_key(l, &ints).unwrap();
    assert_eq!(key.public(), format!("{leaf_pem}{ca_pem}").as_bytes());
    assert_eq!(key.keytype(), &KeyType::EcdsaX509);

    let reversed = parse_bundle(format!("{ca_pem}{leaf_pem}").as_bytes()).unwrap();
    assert!(split_leaf(&reversed).is_none());
    let two_leaves = parse_bundle(format!("{leaf_pem}{leaf_pem}").as_bytes()).unwrap();
    assert!(split_leaf(&two_leaves).is_none());
    let only_ca = parse_bundle(ca_pem.as_bytes()).unwrap();
    assert!(split_leaf(&only_ca).is_none());

    let mixed = format!("{leaf_pem}-----BEGIN PUBLIC KEY-----\nAQI=\n-----END PUBLIC KEY-----\n");
    assert!(parse_bundle(mixed.as_bytes()).is_err());
    assert!(parse_bundle(b"no pem here").is_err());
}

#[test]
fn root_keys_are_rebuilt_from_canonical_pem() {
    let key = TestKey::ecdsa_x509(GUN, CERT_FROM, CERT_TO, false);
    let mut root = crate::testutil::root_doc(&[
        ("root", &key),
        ("targets", &key),
        ("snapshot", &key),
        ("timestamp", &key),
    ]);
    let keys = root_certificate_keys(&root, GUN, Some(at(2030, 1, 1)));
    assert_eq!(keys.keys().collect::<Vec<_>>(), vec![&key.id()]);
    assert!(root_certificate_keys(&root, "other", None).is_empty());
    assert!(root_certificate_keys(&root, GUN, Some(at(2041, 1, 1))).is_empty());
    assert_eq!(root_certificate_keys(&root, GUN, None).len(), 1);

    // The same certificate written with CRLF line ends gets a different TUF ID in root.json,
    // while the rebuilt key has Go's canonical PEM and thus the canonical ID: signatures made
    // under the file's ID no longer match, as with Go.
    let crlf = String::from_utf8(key.public().public().to_vec())
        .unwrap()
        .replace('\n', "\r\n");
    let odd = PublicKey::new(KeyType::EcdsaX509, crlf.into_bytes());
    let odd_id = odd.key_id();
    assert_ne!(odd_id, key.id());
    root.keys.insert(odd_id.clone(), odd);
    root.roles.get_mut("root").unwrap().keyids = vec![odd_id];
    let rebuilt = root_certificate_keys(&root, GUN, None);
    assert_eq!(rebuilt.keys().collect::<Vec<_>>(), vec![&key.id()]);
}

#[test]
fn check_root_key_explains_rejections() {
    let plain = TestKey::ecdsa();
    let err = check_root_key(plain.public(), GUN, at(2030, 1, 1)).unwrap_err();
    assert!(err.to_string().contains("must be certificates"), "{err}");
    let other = TestKey::ecdsa_x509("someone/else", CERT_FROM, CERT_TO, false);
    let err = check_root_key(other.public(), GUN, at(2030, 1, 1)).unwrap_err();
    assert!(err.to_string().contains("does not match the GUN"), "{err}");
}
