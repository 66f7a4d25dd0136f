//! `signet trust` alone with a real `docker-registry` (images pushed through its HTTP API) and
//! signet-server over TLS: sign, inspect, verify; a moved tag, a revoked tag, a second signer
//! added and removed, and an expired timestamp the server cannot re-sign.

use signet_e2e::SignetServer;
use signet_server::store::{FileUpdate, Store};
use signet_signer::PrivateKey;
use signet_signer::seal::open_private_key;
use signet_tuf::metadata::{Envelope, Expires, FileMeta, Timestamp};

use crate::trust_support::{
    hex_of, shared_trust_servers, signed_tags, signer_keys, signer_names, signet, signet_inspect,
    signet_ok, start_trust_servers,
};

/// Sign, inspect and verify; the registry moving the tag to other content makes verify fail
/// naming both digests until the new content is signed; revoking makes it fail again. Tags
/// never signed and repositories without trust data fail too.
#[test]
fn sign_verify_moved_tag_and_revoke() {
    let Some(servers) = shared_trust_servers() else {
        return;
    };
    let path = "trust-registry/app";
    let image = servers.image(path);
    let tagged = format!("{image}:1.0");
    let (first, _) = servers.push(path, "1.0", b"first layer");
    servers.push(path, "unsigned", b"never signed");

    let owner = servers.env();
    let signed = signet_ok(&owner, &["trust", "sign", &tagged]);
    assert!(
        signed
            .stdout
            .contains(&format!("Successfully signed {tagged}")),
        "{signed:?}"
    );
    let inspected = signet_inspect(&servers.env(), &[&tagged]);
    assert_eq!(inspected[0]["Name"], tagged.as_str());
    let tags = signed_tags(&inspected);
    assert_eq!(tags.len(), 1, "{inspected}");
    assert_eq!(
        (tags[0].0.as_str(), tags[0].1.as_str()),
        ("1.0", hex_of(&first))
    );

    let verifier = servers.env();
    let verified = signet_ok(&verifier, &["trust", "verify", &tagged]);
    assert_eq!(verified.stdout, format!("{image}@{first}\n"));

    // The registry now serves other content for the tag.
    let (second, _) = servers.push(path, "1.0", b"second layer, not signed");
    let refused = signet(&verifier, &["trust", "verify", &tagged]);
    assert!(!refused.success(), "{refused:?}");
    assert!(!refused.stdout.contains("@sha256:"), "{refused:?}");
    assert!(
        format!("{}{}", refused.stdout, refused.stderr).contains(hex_of(&first))
            && format!("{}{}", refused.stdout, refused.stderr).contains(hex_of(&second)),
        "the message names both digests: {refused:?}"
    );

    // Signing a tag that is already signed re-signs the signed digest, as docker does; the
    // registry's new content is signed only on request.
    signet_ok(&owner, &["trust", "sign", &tagged]);
    let still = signet(&verifier, &["trust", "verify", &tagged]);
    assert!(!still.success(), "{still:?}");
    signet_ok(&owner, &["trust", "sign", "--local", &tagged]);
    let verified = signet_ok(&verifier, &["trust", "verify", &tagged]);
    assert_eq!(verified.stdout, format!("{image}@{second}\n"));

    let revoked = signet(&owner, &["trust", "revoke", &tagged]);
    assert!(revoked.success(), "{revoked:?}");
    let refused = signet(&verifier, &["trust", "verify", &tagged]);
    assert!(!refused.success(), "{refused:?}");
    assert!(!refused.stdout.contains("@sha256:"), "{refused:?}");
    assert_eq!(
        signed_tags(&signet_inspect(&servers.env(), &[&image])),
        vec![]
    );

    let unsigned = signet(
        &verifier,
        &["trust", "verify", &format!("{image}:unsigned")],
    );
    assert!(!unsigned.success(), "{unsigned:?}");
    assert!(
        format!("{}{}", unsigned.stdout, unsigned.stderr).contains("unsigned"),
        "{unsigned:?}"
    );
    servers.push("trust-registry/no-trust", "1.0", b"no trust data");
    let untrusted = signet(
        &verifier,
        &[
            "trust",
            "verify",
            &servers.image("trust-registry/no-trust:1.0"),
        ],
    );
    assert!(!untrusted.success(), "{untrusted:?}");
    assert!(!untrusted.stdout.contains("@sha256:"), "{untrusted:?}");
}

/// A second signer: bob generates his key on his machine, the owner adds it, bob signs a tag
/// into his role and `targets/releases`, inspect lists him, verify accepts his tag; after
/// `signer remove` he is gone from inspect.
#[test]
fn second_signer_added_signs_and_is_removed() {
    let Some(servers) = shared_trust_servers() else {
        return;
    };
    let path = "trust-registry/team";
    let image = servers.image(path);
    servers.push(path, "1.0", b"owner's release");
    let (bobs, _) = servers.push(path, "2.0", b"bob's release");

    let owner = servers.env();
    signet_ok(&owner, &["trust", "sign", &format!("{image}:1.0")]);

    let bob = servers.env();
    let generated = signet_ok(&bob, &["trust", "key", "generate", "bob"]);
    let bob_pub = bob.work().join("bob.pub");
    assert!(bob_pub.is_file(), "{generated:?}");
    let added = signet_ok(
        &owner,
        &[
            "trust",
            "signer",
            "add",
            "--key",
            bob_pub.to_str().unwrap(),
            "bob",
            &image,
        ],
    );
    assert!(added.stdout.contains("bob"), "{added:?}");
    let with_bob = signet_inspect(&servers.env(), &[&image]);
    assert!(
        signer_names(&with_bob).contains(&"bob".to_owned()),
        "{with_bob}"
    );
    assert_eq!(signer_keys(&with_bob, "bob").len(), 1, "{with_bob}");

    signet_ok(&bob, &["trust", "sign", &format!("{image}:2.0")]);
    let signed = signet_inspect(&servers.env(), &[&format!("{image}:2.0")]);
    assert_eq!(
        signed_tags(&signed),
        vec![(
            "2.0".to_owned(),
            hex_of(&bobs).to_owned(),
            vec!["bob".to_owned()]
        )]
    );
    let verified = signet_ok(
        &servers.env(),
        &["trust", "verify", &format!("{image}:2.0")],
    );
    assert_eq!(verified.stdout, format!("{image}@{bobs}\n"));

    let removed = signet(&owner, &["trust", "signer", "remove", "-f", "bob", &image]);
    assert!(removed.success(), "{removed:?}");
    let without_bob = signet_inspect(&servers.env(), &[&image]);
    assert!(
        !signer_names(&without_bob).contains(&"bob".to_owned()),
        "{without_bob}"
    );
    for (tag, _, signers) in signed_tags(&without_bob) {
        assert!(!signers.contains(&"bob".to_owned()), "{tag}: {without_bob}");
    }
}

/// Another key-encryption key than the one the test server starts with.
const OTHER_KEK: &str = "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1";

/// An expired timestamp the server cannot re-sign makes verify fail.
///
/// How the expired timestamp comes about, honestly: signet-server signs timestamps itself with
/// a key it keeps sealed under its key-encryption key, valid for 14 days, and re-signs an
/// expired one whenever it is asked for it. The test stands in for those 14 days passing:
/// with the server's own timestamp key (opened with the server's key-encryption key, as the
/// server does) it signs a timestamp for the current snapshot whose expiry lies an hour in the
/// past and stores it as the next version in the server's database, as a replica writing
/// before a clock jump would. It then restarts the server with a different key-encryption
/// key, so the server can no longer open its timestamp key and serves the expired timestamp
/// as stored. Nothing on the client side is touched.
#[test]
fn expired_timestamp_the_server_cannot_re_sign_fails_verify() {
    let Some(servers) = start_trust_servers() else {
        return;
    };
    let path = "trust-registry/expiring";
    let image = servers.image(path);
    let tagged = format!("{image}:1.0");
    let (digest, _) = servers.push(path, "1.0", b"expiring layer");
    let owner = servers.env();
    signet_ok(&owner, &["trust", "sign", &tagged]);
    let verified = signet_ok(&owner, &["trust", "verify", &tagged]);
    assert_eq!(verified.stdout, format!("{image}@{digest}\n"));

    // The GUN is the image name without tag.
    store_expired_timestamp(&servers.server, &image);
    let crate::trust_support::TrustServers { server, registry } = servers;
    let server = server.restart_with_kek(OTHER_KEK).unwrap();
    let servers = crate::trust_support::TrustServers { server, registry };

    for env in [owner, servers.env()] {
        let refused = signet(&env, &["trust", "verify", &tagged]);
        assert!(!refused.success(), "{refused:?}");
        assert!(!refused.stdout.contains("@sha256:"), "{refused:?}");
        assert!(
            format!("{}{}", refused.stdout, refused.stderr).contains("expired"),
            "{refused:?}"
        );
    }
    let logs = servers.server.process().logs();
    assert!(
        logs.contains("expired"),
        "the server tried to re-sign: {logs}"
    );
}

/// Signs a timestamp that expired an hour ago over `gun`'s current snapshot with the server's
/// timestamp key and stores it as the next timestamp version.
fn store_expired_timestamp(server: &SignetServer, gun: &str) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = Store::connect(server.database_url()).await.unwrap();
        let kek = signet_server::kek::load(&server.dir().join("kek.hex")).unwrap();
        let rows = store.server_keys(gun, "timestamp").await.unwrap();
        let row = rows.first().expect("the server holds a timestamp key");
        let key: PrivateKey = open_private_key(
            &kek,
            &row.sealed_private_key,
            gun,
            "timestamp",
            &row.key_id.parse().unwrap(),
        )
        .unwrap();
        let snapshot = store.latest(gun, "snapshot").await.unwrap().unwrap();
        let current = store.latest(gun, "timestamp").await.unwrap().unwrap();
        let version = current.version + 1;
        let doc = Timestamp::new(
            version,
            Expires::from_utc(chrono::Utc::now() - chrono::Duration::hours(1)),
            FileMeta::from_bytes(&snapshot.data),
        );
        let mut envelope = Envelope::from_signed(doc).unwrap();
        let signature = key.sign(envelope.signing_bytes()).unwrap();
        envelope.add_signature(signature);
        let bytes = envelope.to_file_bytes().unwrap();
        store
            .update_many(gun, &[FileUpdate::new("timestamp", version, bytes)])
            .await
            .unwrap();
        store.close().await;
    });
}

/// The README's way to get a test image without a container engine:
/// `scripts/push-test-image` pushes through the registry API, prints the digest the registry
/// serves, and `signet trust sign` / `verify` work on the result.
#[test]
fn the_engine_less_push_script_makes_a_signable_image() {
    let Some(servers) = shared_trust_servers() else {
        return;
    };
    let Some(_curl) = signet_e2e::require_tool("curl") else {
        return;
    };
    let image = servers.image("trust-registry/pushed");
    let tagged = format!("{image}:1.0");
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/push-test-image");
    let out = std::process::Command::new(&script)
        .arg(&tagged)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let digest = stdout
        .trim()
        .strip_prefix(&format!("pushed {tagged} "))
        .unwrap_or_else(|| panic!("unexpected output: {stdout}"))
        .to_owned();
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{digest}"
    );

    let owner = servers.env();
    signet_ok(&owner, &["trust", "sign", &tagged]);
    let verified = signet_ok(&servers.env(), &["trust", "verify", &tagged]);
    assert_eq!(verified.stdout, format!("{image}@{digest}\n"));

    let usage = std::process::Command::new(&script).output().unwrap();
    assert_eq!(usage.status.code(), Some(2));
}
