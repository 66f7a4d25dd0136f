//! `signet trust export-sigstore` and `signet trust key export-public` checked by independent
//! readers: skopeo (containers/image) fetches the signature image `IMAGE:sha256-<hex>.sig`
//! from the registry and the manifest a tag points at, and OpenSSL verifies the DER ECDSA
//! signature of the simple-signing payload with the exported PEM key. (Debian's skopeo is
//! built with sigstore verification disabled, so its `sigstoreSigned` policy cannot be used.)

use std::path::{Path, PathBuf};

use serde_json::Value;
use signet_e2e::docker_cli::DockerEnv;
use signet_e2e::registry::sha256_digest;
use signet_e2e::require_tool;

use crate::trust_support::{TrustServers, hex_of, json, shared_trust_servers, signet, signet_ok};

/// The cosign signature of `digest` as an independent reader finds it: skopeo
/// (containers/image) copies the signature image `<image>:sha256-<hex>.sig` out of the
/// registry into a `dir:` layout; its first layer must be a simple-signing payload for `image`
/// and `digest`. Returns the payload file and the DER signature file (decoded from the layer
/// annotation), in a directory kept alive by the returned guard.
fn fetch_signature(
    env: &DockerEnv,
    skopeo: &Path,
    image: &str,
    digest: &str,
) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("sig");
    let copied = env
        .run(
            skopeo,
            &[
                "--insecure-policy".to_owned(),
                "copy".to_owned(),
                "--src-tls-verify=false".to_owned(),
                format!("docker://{image}:{}.sig", digest.replace(':', "-")),
                format!("dir:{}", layout.display()),
            ],
        )
        .unwrap();
    assert!(copied.success(), "{copied:?}");
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(layout.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(
        manifest["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.oci.image.config.v1+json"
    );
    let layer = &manifest["layers"][0];
    assert_eq!(
        layer["mediaType"],
        "application/vnd.dev.cosign.simplesigning.v1+json"
    );
    let blob = layout.join(hex_of(layer["digest"].as_str().unwrap()));
    let payload: Value = serde_json::from_slice(&std::fs::read(&blob).unwrap()).unwrap();
    assert_eq!(
        payload,
        serde_json::json!({
            "critical": {
                "identity": {"docker-reference": image},
                "image": {"docker-manifest-digest": digest},
                "type": "cosign container image signature",
            },
            "optional": null,
        })
    );
    let b64 = layer["annotations"]["dev.cosignproject.cosign/signature"]
        .as_str()
        .unwrap();
    let der = base64_decode(b64);
    let signature = dir.path().join("signature.der");
    std::fs::write(&signature, der).unwrap();
    (dir, blob, signature)
}

/// Standard base64 (the layer annotation), decoded without another dependency.
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        other => panic!("not base64: {other}"),
    };
    let digits: Vec<u8> = text.bytes().filter(|c| *c != b'=').map(value).collect();
    let mut out = Vec::new();
    for chunk in digits.chunks(4) {
        let mut acc = 0u32;
        for (i, d) in chunk.iter().enumerate() {
            acc |= u32::from(*d) << (18 - 6 * i);
        }
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}

/// `openssl dgst -sha256 -verify KEY -signature SIG PAYLOAD`: whether OpenSSL accepts the DER
/// ECDSA signature of the payload under the PEM public key.
fn openssl_verifies(openssl: &Path, key: &Path, signature: &Path, payload: &Path) -> bool {
    let output = std::process::Command::new(openssl)
        .args(["dgst", "-sha256", "-verify"])
        .arg(key)
        .arg("-signature")
        .arg(signature)
        .arg(payload)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.success(),
        stdout.contains("Verified OK"),
        "{output:?}"
    );
    output.status.success()
}

/// The exported signer key of `env`'s key `name`, written by `trust key export-public -o`.
fn export_public(env: &DockerEnv, name: &str) -> PathBuf {
    let path = env.work().join(format!("{name}-cosign.pem"));
    signet_ok(
        env,
        &[
            "trust",
            "key",
            "export-public",
            "-o",
            path.to_str().unwrap(),
            name,
        ],
    );
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("-----BEGIN PUBLIC KEY-----\n"), "{text}");
    path
}

/// The layers of the signature image `<path>:sha256-<hex>.sig`.
fn signature_layers(servers: &TrustServers, path: &str, digest: &str) -> Vec<Value> {
    let tag = format!("{}.sig", digest.replace(':', "-"));
    let response = servers.registry.manifest(path, &tag).unwrap();
    assert_eq!(response.status, 200, "{}", response.text());
    let manifest: Value = serde_json::from_slice(&response.body).unwrap();
    manifest["layers"].as_array().unwrap().clone()
}

/// A signer's tag carried over to sigstore: the signature image skopeo reads holds cosign's
/// payload for the signed digest, OpenSSL verifies its signature with the signer's exported key
/// and not with another key; exporting again adds nothing; after the tag is moved the served
/// manifest is not the signed one, has no signature, and the export refuses it. A user holding
/// no key that signed the tag is refused.
#[test]
fn exported_signatures_verify_independently() {
    let Some(servers) = shared_trust_servers() else {
        return;
    };
    let Some(skopeo) = require_tool("skopeo") else {
        return;
    };
    let Some(openssl) = require_tool("openssl") else {
        return;
    };
    let path = "trust-sigstore/app";
    let image = servers.image(path);
    let tagged = format!("{image}:1.0");
    let (signed, _) = servers.push(path, "1.0", b"sigstore: signed layer");

    // The owner creates the repository with signer alice; alice signs the tag.
    let owner = servers.env();
    let alice = servers.env();
    signet_ok(&alice, &["trust", "key", "generate", "alice"]);
    let alice_pub = alice.work().join("alice.pub");
    signet_ok(
        &owner,
        &[
            "trust",
            "signer",
            "add",
            "--key",
            alice_pub.to_str().unwrap(),
            "alice",
            &image,
        ],
    );
    signet_ok(&alice, &["trust", "sign", &tagged]);

    // The owner holds no key that signed the tag.
    let refused = signet(&owner, &["trust", "export-sigstore", &tagged]);
    assert!(!refused.success(), "{refused:?}");
    assert!(
        refused.stderr.contains("no key held here signed tag 1.0"),
        "{refused:?}"
    );

    // Alice exports every signed tag.
    let exported = json(&signet_ok(
        &alice,
        &["trust", "export-sigstore", &image, "--output", "json"],
    ));
    let tags = exported["exported"].as_array().unwrap();
    assert_eq!(tags.len(), 1, "{exported}");
    assert_eq!(tags[0]["tag"], "1.0");
    assert_eq!(tags[0]["digest"], signed.as_str());
    assert_eq!(
        tags[0]["signature"],
        format!("{image}:sha256-{}.sig", hex_of(&signed))
    );
    assert_eq!(tags[0]["key_name"], "alice");
    assert_eq!(tags[0]["written"], true);
    assert_eq!(exported["failed"], serde_json::json!([]));
    assert_eq!(signature_layers(&servers, path, &signed).len(), 1);

    // Exporting again finds the signature there and writes nothing.
    let again = json(&signet_ok(
        &alice,
        &["trust", "export-sigstore", &tagged, "--output", "json"],
    ));
    assert_eq!(again["exported"][0]["written"], false, "{again}");
    assert_eq!(again["exported"][0]["key_id"], tags[0]["key_id"]);
    assert_eq!(signature_layers(&servers, path, &signed).len(), 1);

    // skopeo reads the signature image; OpenSSL checks the signature with the exported key.
    let alice_key = export_public(&alice, "alice");
    let (_kept, payload, signature) = fetch_signature(&alice, &skopeo, &image, &signed);
    assert!(openssl_verifies(&openssl, &alice_key, &signature, &payload));

    // Another P-256 key is not the signer's.
    let mallory = servers.env();
    signet_ok(&mallory, &["trust", "key", "generate", "mallory"]);
    let mallory_key = export_public(&mallory, "mallory");
    assert!(!openssl_verifies(
        &openssl,
        &mallory_key,
        &signature,
        &payload
    ));

    // The registry moves the tag: the manifest skopeo now reads for the tag is not the one
    // the payload names, it has no signature image, and the export refuses it naming both
    // digests.
    let (moved, _) = servers.push(path, "1.0", b"sigstore: unsigned layer");
    let raw = alice
        .run(
            &skopeo,
            &[
                "inspect",
                "--raw",
                "--tls-verify=false",
                &format!("docker://{tagged}"),
            ],
        )
        .unwrap();
    assert!(raw.success(), "{raw:?}");
    // skopeo prints the manifest's bytes, with a newline of its own at most.
    let served = [raw.stdout.as_str(), raw.stdout.trim_end_matches('\n')]
        .map(|bytes| sha256_digest(bytes.as_bytes()));
    assert!(served.contains(&moved), "{raw:?}");
    assert_ne!(moved, signed);
    let unsigned = alice
        .run(
            &skopeo,
            &[
                "inspect",
                "--raw",
                "--tls-verify=false",
                &format!("docker://{image}:sha256-{}.sig", hex_of(&moved)),
            ],
        )
        .unwrap();
    assert!(!unsigned.success(), "{unsigned:?}");
    let refused = signet(&alice, &["trust", "export-sigstore", &tagged]);
    assert!(!refused.success(), "{refused:?}");
    assert!(
        refused.stderr.contains(hex_of(&signed)) && refused.stderr.contains(hex_of(&moved)),
        "{refused:?}"
    );
}
