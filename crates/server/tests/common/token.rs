//! A test token issuer: a CA given to the server as `rootcertbundle`, and a leaf certificate
//! whose key signs ES256 JWTs carrying it in `x5c`.

use base64::Engine as _;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair,
    PKCS_ECDSA_P256_SHA256,
};
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};

pub const ISSUER: &str = "auth.example";
pub const SERVICE: &str = "notary";

pub struct Issuer {
    pub bundle_pem: String,
    pub leaf_der: Vec<u8>,
    pub leaf_pem: String,
    leaf_key: EcdsaKeyPair,
}

impl Issuer {
    pub fn new() -> Self {
        let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "token CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca_params, ca_key).expect("CA");
        let leaf_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("key");
        let mut leaf_params = CertificateParams::new(Vec::<String>::new()).expect("params");
        leaf_params
            .distinguished_name
            .push(DnType::CommonName, "token signer");
        let leaf = leaf_params.signed_by(&leaf_key, &ca).expect("leaf");
        let signing = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &leaf_key.serialize_der(),
            &ring::rand::SystemRandom::new(),
        )
        .expect("signing key");
        Self {
            bundle_pem: ca.pem(),
            leaf_der: leaf.der().to_vec(),
            leaf_pem: leaf.pem(),
            leaf_key: signing,
        }
    }

    /// A JWT with `claims`, signed by the leaf, carrying `x5c` = [leaf].
    pub fn token(&self, claims: &serde_json::Value) -> String {
        let header = serde_json::json!({
            "alg": "ES256",
            "typ": "JWT",
            "x5c": [base64::engine::general_purpose::STANDARD.encode(&self.leaf_der)],
        });
        self.token_with_header(&header, claims)
    }

    /// The `jwk` header value of the leaf's public key.
    pub fn leaf_jwk(&self) -> serde_json::Value {
        use ring::signature::KeyPair as _;
        let point = self.leaf_key.public_key().as_ref();
        serde_json::json!({
            "kty": "EC",
            "crv": "P-256",
            "x": b64(&point[1..33]),
            "y": b64(&point[33..65]),
        })
    }

    /// A JWT with the given header and claims, signed by the leaf.
    pub fn token_with_header(
        &self,
        header: &serde_json::Value,
        claims: &serde_json::Value,
    ) -> String {
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let sig = self
            .leaf_key
            .sign(&ring::rand::SystemRandom::new(), input.as_bytes())
            .expect("sign");
        format!("{input}.{}", b64(sig.as_ref()))
    }
}

pub fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

/// Claims for `access`, expiring `exp_offset` seconds from now.
pub fn claims(access: serde_json::Value, exp_offset: i64) -> serde_json::Value {
    let now = chrono::Utc::now().timestamp();
    serde_json::json!({
        "iss": ISSUER,
        "aud": SERVICE,
        "sub": "tester",
        "exp": now + exp_offset,
        "nbf": now - 10,
        "iat": now,
        "access": access,
    })
}

/// The `access` claim for a scope string `type:name:action,action`.
pub fn access_for_scope(scope: &str) -> Option<serde_json::Value> {
    let (kind, rest) = scope.split_once(':')?;
    let (name, actions) = rest.rsplit_once(':')?;
    Some(serde_json::json!({
        "type": kind,
        "name": name,
        "actions": actions.split(',').collect::<Vec<_>>(),
    }))
}

/// The realm the test servers name in their challenges.
pub const REALM: &str = "https://auth.example/token";

/// Token auth for [`ISSUER`] and [`SERVICE`] at `realm`, trusting the certificates of
/// `bundle_pem`.
pub fn token_auth(bundle_pem: &str, realm: &str) -> signet_server::auth::TokenAuth {
    signet_server::auth::TokenAuth::new(
        signet_server::auth::TokenAuthSettings {
            realm: realm.into(),
            service: SERVICE.into(),
            issuer: ISSUER.into(),
            autoredirect: false,
        },
        bundle_pem.as_bytes(),
    )
    .expect("token auth")
}

/// A server requiring tokens of `iss`, challenging with [`REALM`].
pub async fn server(iss: &Issuer) -> super::TestServer {
    super::TestServer::with_settings(
        signet_server::http::HttpSettings::default(),
        Some(token_auth(&iss.bundle_pem, REALM)),
    )
    .await
}

/// Sends a body-less request, with `Authorization: Bearer <token>` when a token is given.
pub async fn call(
    s: &super::TestServer,
    method: axum::http::Method,
    uri: &str,
    token: Option<&str>,
) -> super::Reply {
    let mut b = axum::http::Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    s.send(b.body(axum::body::Body::empty()).expect("request"))
        .await
}

/// The `access` claim granting `actions` on repository `gun`.
pub fn repo_access(gun: &str, actions: &[&str]) -> serde_json::Value {
    serde_json::json!([{"type": "repository", "name": gun, "actions": actions}])
}
