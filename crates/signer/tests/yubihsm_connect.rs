//! Opening the store the production way: HTTP connector, authentication key and password.
//! A MockHsm served over HTTP stands in for yubihsm-connector and the device.
#![allow(clippy::unwrap_used)]

use std::net::TcpListener;

use signet_signer::yubihsm::{
    AUTH_KEY_ENV, CONNECTOR_ENV, ConnectorConfig, DEFAULT_TIMEOUT_MS, Error as HsmError,
    PASSWORD_ENV, YubiHsmConfig, YubiHsmKeyStore,
};
use signet_signer::{KeyAlgorithm, KeyStore as _};
use yubihsm::connector::http::Server;
use yubihsm::{Connector, HttpConfig};

/// Password of the MockHsm's (factory default) authentication key 1.
const MOCK_PASSWORD: &str = "password";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Serves a fresh MockHsm on 127.0.0.1 and returns the port.
fn serve_mockhsm() -> u16 {
    let port = free_port();
    let config = HttpConfig {
        addr: "127.0.0.1".to_owned(),
        port,
        timeout_ms: DEFAULT_TIMEOUT_MS,
    };
    let server = Server::new(&config, Connector::mockhsm()).unwrap();
    std::thread::spawn(move || {
        loop {
            // Failed requests (a refused authentication) end only that request.
            let _ = server.handle_request();
        }
    });
    port
}

fn config(port: u16, password: &str) -> YubiHsmConfig {
    let env = [
        (CONNECTOR_ENV, format!("http://127.0.0.1:{port}")),
        (AUTH_KEY_ENV, "1".to_owned()),
        (PASSWORD_ENV, password.to_owned()),
    ];
    YubiHsmConfig::from_lookup(|name| env.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone()))
        .unwrap()
}

#[test]
fn opens_over_http_with_a_password_and_signs() {
    let port = serve_mockhsm();
    let store = YubiHsmKeyStore::open(&config(port, MOCK_PASSWORD)).unwrap();
    assert_eq!(store.connector(), format!("http://127.0.0.1:{port}"));
    let signer = store
        .generate_key(KeyAlgorithm::Ecdsa, "targets", Some("example.com/app"))
        .unwrap();
    let sig = signer.sign(b"over http").unwrap();
    signer
        .public_key()
        .verify(&sig.method, b"over http", &sig.sig)
        .unwrap();

    // A second session (another process, say) sees the key with its role and GUN.
    let other = YubiHsmKeyStore::open(&config(port, MOCK_PASSWORD)).unwrap();
    let info = other.key_info(&signer.public_key().key_id()).unwrap();
    assert_eq!(info.role, "targets");
    assert_eq!(info.gun.as_deref(), Some("example.com/app"));
}

#[test]
fn a_wrong_password_is_a_connect_error_naming_connector_and_key() {
    let port = serve_mockhsm();
    let err = YubiHsmKeyStore::open(&config(port, "not the password")).unwrap_err();
    assert!(
        matches!(err, HsmError::Connect { auth_key_id: 1, .. }),
        "{err}"
    );
    let message = err.to_string();
    assert!(
        message.contains(&format!("http://127.0.0.1:{port}")),
        "{message}"
    );
    assert!(!message.contains("not the password"), "{message}");
}

#[test]
fn no_connector_is_a_connect_error() {
    let port = free_port();
    let config = YubiHsmConfig::new(1, MOCK_PASSWORD).with_connector(ConnectorConfig::Http {
        addr: "127.0.0.1".to_owned(),
        port,
        timeout_ms: 1_000,
    });
    let err = YubiHsmKeyStore::open(&config).unwrap_err();
    assert!(matches!(err, HsmError::Connect { .. }), "{err}");
    // Converted for callers of the KeyStore API, the cause is kept.
    let converted: signet_signer::Error = err.into();
    assert!(
        matches!(
            &converted,
            signet_signer::Error::Device { store, key_id: None, .. } if store == "yubihsm"
        ),
        "{converted:?}"
    );
    assert!(converted.to_string().contains("yubihsm"), "{converted}");
    let source = std::error::Error::source(&converted).unwrap();
    assert!(
        source
            .downcast_ref::<HsmError>()
            .is_some_and(|e| matches!(e, HsmError::Connect { .. })),
        "{source}"
    );
}

#[cfg(not(feature = "yubihsm-usb"))]
#[test]
fn usb_needs_the_feature() {
    let config = YubiHsmConfig::new(1, MOCK_PASSWORD).with_connector("usb".parse().unwrap());
    assert!(matches!(
        YubiHsmKeyStore::open(&config),
        Err(HsmError::UsbUnavailable)
    ));
}
