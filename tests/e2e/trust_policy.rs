//! `signet trust verify --policy` and `--platform` against a real `docker-registry` and
//! signet-server: rule matching, specificity and default deny; pinned roots, including a
//! repository re-initialised with a new root; all-of and n-of-m signers, signers that disagree
//! on the digest; the targets key holder's attempts to stand in for a delegation; audit mode;
//! and multi-platform indexes resolved by platform and accepted by index or child digest.

use std::path::{Path, PathBuf};

use serde_json::Value;
use signet_e2e::docker_cli::DockerEnv;
use signet_e2e::registry::{ManifestFormat, OCI_INDEX, OCI_MANIFEST};
use tempfile::TempDir;

use crate::client_support::signet_binary;
use crate::trust_support::{
    CONFIG, TrustServers, json, shared_trust_servers, signer_keys, signet, signet_inspect,
    signet_ok,
};

/// A policy file in its own directory.
pub(crate) struct PolicyFile {
    _dir: TempDir,
    path: PathBuf,
}

impl PolicyFile {
    pub(crate) fn path(&self) -> &str {
        self.path.to_str().unwrap()
    }
}

/// Writes `rules` (each a `[[rule]]` table) as a policy.
pub(crate) fn policy(rules: &[String]) -> PolicyFile {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.toml");
    std::fs::write(&path, format!("version = 1\n\n{}", rules.join("\n"))).unwrap();
    PolicyFile { _dir: dir, path }
}

/// One rule for `image` on the shared trust server, pinned to `root_ids`, with the signer
/// lines given (`all = [...]` or `threshold`/`signers`, `keys`, `mode`, …).
pub(crate) fn rule(servers: &TrustServers, image: &str, root_ids: &[&str], body: &str) -> String {
    let ids: Vec<String> = root_ids.iter().map(|id| format!("{id:?}")).collect();
    format!(
        "[[rule]]\nimage = {image:?}\nserver = {:?}\nserver_ca = {:?}\nroot = {{ key_ids = [{}] }}\n{body}\n",
        servers.server.url(),
        servers.server.ca_cert().unwrap().to_str().unwrap(),
        ids.join(", ")
    )
}

/// `signet trust verify --policy FILE IMAGE…` with JSON output.
fn decide(env: &DockerEnv, policy: &PolicyFile, images: &[&str]) -> (bool, Vec<Value>) {
    let mut args = vec![
        "--output",
        "json",
        "trust",
        "verify",
        "--policy",
        policy.path(),
    ];
    args.extend_from_slice(images);
    let out = signet(env, &args);
    let document = json(&out);
    let decisions = document["decisions"]
        .as_array()
        .unwrap_or_else(|| panic!("no decisions: {out:?}"))
        .clone();
    assert_eq!(decisions.len(), images.len(), "{out:?}");
    (out.success(), decisions)
}

/// The one decision about `image`, and whether the command succeeded.
fn decide_one(env: &DockerEnv, policy: &PolicyFile, image: &str) -> (bool, Value) {
    let (ok, mut decisions) = decide(env, policy, &[image]);
    (ok, decisions.remove(0))
}

/// The reasons of a decision's denials.
fn reasons(decision: &Value) -> Vec<String> {
    decision["denials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["reason"].as_str().unwrap().to_owned())
        .collect()
}

/// The root key ID (as the root lists it) of the first inspected image.
pub(crate) fn root_id(env: &DockerEnv, image: &str) -> String {
    let inspected = signet_inspect(env, &[image]);
    let admin = inspected[0]["AdministrativeKeys"].as_array().unwrap();
    let root = admin.iter().find(|k| k["Name"] == "Root").unwrap();
    root["Keys"][0]["ID"].as_str().unwrap().to_owned()
}

/// The canonical ID of the root key held in `env`'s trust dir (its file name).
fn held_root_canonical_id(env: &DockerEnv) -> String {
    let private = env.trust_dir().join("private");
    for entry in std::fs::read_dir(&private).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        if text.contains("role: root") {
            return path.file_stem().unwrap().to_str().unwrap().to_owned();
        }
    }
    panic!("no root key in {}", private.display());
}

/// A signer's env with a generated key, and the key's public file.
fn signer_env(servers: &TrustServers, name: &str) -> (DockerEnv, PathBuf) {
    let env = servers.env();
    signet_ok(&env, &["trust", "key", "generate", name]);
    let public = env.work().join(format!("{name}.pub"));
    assert!(public.is_file());
    (env, public)
}

fn add_signer(owner: &DockerEnv, name: &str, key: &Path, image: &str) {
    signet_ok(
        owner,
        &[
            "trust",
            "signer",
            "add",
            "--key",
            key.to_str().unwrap(),
            name,
            image,
        ],
    );
}

/// One repository signed by its owner (targets), alice and bob; every policy requirement is
/// checked against it, then the owner (who holds the targets key) tries to stand in for alice.
#[test]
fn signers_digests_matching_audit_and_the_targets_key_bypass() {
    let Some(servers) = shared_trust_servers() else {
        return;
    };
    let path = "trust-policy/team";
    let image = servers.image(path);
    let at = |tag: &str| format!("{image}:{tag}");
    servers.push(path, "0.9", b"owner only");
    let (v1, _) = servers.push(path, "1.0", b"release one");
    let (agreed_by_alice, _) = servers.push(path, "2.0", b"alice's two");

    let owner = servers.env();
    signet_ok(&owner, &["trust", "sign", &at("0.9")]);
    let (alice, alice_pub) = signer_env(&servers, "alice");
    let (bob, bob_pub) = signer_env(&servers, "bob");
    add_signer(&owner, "alice", &alice_pub, &image);
    add_signer(&owner, "bob", &bob_pub, &image);
    signet_ok(&alice, &["trust", "sign", &at("1.0")]);
    signet_ok(&bob, &["trust", "sign", &at("1.0")]);
    signet_ok(&alice, &["trust", "sign", &at("2.0")]);
    let (signed_by_bob, _) = servers.push(path, "2.0", b"bob's two");
    signet_ok(&bob, &["trust", "sign", "--local", &at("2.0")]);

    let root = root_id(&owner, &image);
    let canonical_root = held_root_canonical_id(&owner);
    assert_ne!(root, canonical_root);
    let inspected = signet_inspect(&servers.env(), &[&image]);
    let alice_key = signer_keys(&inspected, "alice")[0].clone();
    let bob_key = signer_keys(&inspected, "bob")[0].clone();
    let verifier = servers.env();

    // All of alice and bob, the root pinned by its listed ID; a catch-all rule pinned to the
    // same root that only needs targets, less specific.
    let both = policy(&[
        rule(&servers, "**", &[&root], "all = [\"targets\"]"),
        rule(
            &servers,
            &format!("{}/trust-policy/*", servers.registry.host()),
            &[&root],
            "all = [\"targets/alice\", \"targets/bob\"]",
        ),
    ]);
    let (ok, decision) = decide_one(&verifier, &both, &at("1.0"));
    assert!(ok, "{decision}");
    assert_eq!(decision["verdict"], "allow", "{decision}");
    assert_eq!(
        decision["rule"]["number"], 2,
        "the more specific rule: {decision}"
    );
    assert_eq!(decision["signed_digest"], v1.as_str());
    assert_eq!(decision["reference"], format!("{image}@{v1}").as_str());
    for signer in decision["signers"].as_array().unwrap() {
        assert_eq!(signer["state"], "valid", "{decision}");
        assert_eq!(signer["signed"]["1.0"], v1.as_str(), "{decision}");
    }
    // The text output says the same.
    let text = signet_ok(
        &verifier,
        &["trust", "verify", "--policy", both.path(), &at("1.0")],
    );
    assert!(text.stdout.contains("allowed by rule 2"), "{text:?}");
    assert!(
        text.stdout.contains(&format!("reference: {image}@{v1}")),
        "{text:?}"
    );
    assert!(
        text.stdout
            .contains(&format!("signer targets/alice: 1.0 -> {v1}")),
        "{text:?}"
    );

    // 0.9 is signed in targets only: a rule requiring delegations is not satisfied by it.
    let (ok, decision) = decide_one(&verifier, &both, &at("0.9"));
    assert!(!ok);
    assert_eq!(decision["verdict"], "deny");
    assert_eq!(reasons(&decision), vec!["too_few_signers"], "{decision}");
    assert_eq!(
        decision["denials"][0]["missing"]["targets/alice"],
        "did not sign the tag"
    );

    // Signers that disagree are named with what each signed.
    let (ok, decision) = decide_one(&verifier, &both, &at("2.0"));
    assert!(!ok);
    assert_eq!(reasons(&decision), vec!["signers_disagree"], "{decision}");
    let digests = &decision["denials"][0]["digests"];
    assert_eq!(
        digests[&agreed_by_alice],
        serde_json::json!(["targets/alice"])
    );
    assert_eq!(digests[&signed_by_bob], serde_json::json!(["targets/bob"]));
    let text = signet(
        &verifier,
        &["trust", "verify", "--policy", both.path(), &at("2.0")],
    );
    assert!(!text.success());
    assert!(
        text.stdout
            .contains(&format!("targets/alice signed {agreed_by_alice}"))
            && text
                .stdout
                .contains(&format!("targets/bob signed {signed_by_bob}")),
        "{text:?}"
    );
    assert!(text.stderr.contains("denied by trust policy"), "{text:?}");

    // An image by digest: the signed one is allowed (and stays as given), another is not.
    let (ok, decision) = decide_one(&verifier, &both, &format!("{image}@{v1}"));
    assert!(ok, "{decision}");
    assert_eq!(decision["tag"], "1.0");
    let (ok, decision) = decide_one(&verifier, &both, &format!("{image}:1.0@{signed_by_bob}"));
    assert!(!ok);
    assert_eq!(reasons(&decision), vec!["digest_not_signed"], "{decision}");
    let (ok, decision) = decide_one(&verifier, &both, &format!("{image}@{agreed_by_alice}"));
    assert!(!ok, "alice alone signed it: {decision}");

    // One of alice and carol (who has no role): alice is enough for 1.0; one of alice and bob
    // still refuses 2.0, on which they disagree.
    let one_of = policy(&[rule(
        &servers,
        &image,
        &[&canonical_root],
        "threshold = 1\nsigners = [\"targets/alice\", \"targets/carol\"]",
    )]);
    let (ok, decision) = decide_one(&verifier, &one_of, &at("1.0"));
    assert!(ok, "the canonical root ID pins too: {decision}");
    assert_eq!(decision["signers"][1]["state"], "no_role", "{decision}");
    let two_of = policy(&[rule(
        &servers,
        &image,
        &[&root],
        "threshold = 2\nsigners = [\"targets/alice\", \"targets/bob\", \"targets/carol\"]",
    )]);
    let (ok, decision) = decide_one(&verifier, &two_of, &at("1.0"));
    assert!(ok, "{decision}");
    let one_of_two = policy(&[rule(
        &servers,
        &image,
        &[&root],
        "threshold = 1\nsigners = [\"targets/alice\", \"targets/bob\"]",
    )]);
    let (ok, decision) = decide_one(&verifier, &one_of_two, &at("2.0"));
    assert!(!ok);
    assert_eq!(reasons(&decision), vec!["signers_disagree"], "{decision}");

    // Unmatched images are denied; several images are decided in one run.
    let (ok, decisions) = decide(
        &verifier,
        &one_of,
        &[&at("1.0"), &servers.image("trust-policy/other:1.0")],
    );
    assert!(!ok);
    assert_eq!(decisions[0]["verdict"], "allow");
    assert_eq!(reasons(&decisions[1]), vec!["no_matching_rule"]);
    assert!(decisions[1]["rule"].is_null());

    // Audit mode reports the denial and succeeds; pin_digest = false keeps the tag.
    let audit = policy(&[rule(
        &servers,
        &image,
        &[&root],
        "all = [\"targets/alice\"]\nmode = \"audit\"\npin_digest = false",
    )]);
    let (ok, decision) = decide_one(&verifier, &audit, &at("0.9"));
    assert!(ok, "{decision}");
    assert_eq!(decision["verdict"], "audit_deny");
    assert_eq!(reasons(&decision), vec!["too_few_signers"]);
    let (ok, decision) = decide_one(&verifier, &audit, &at("1.0"));
    assert!(ok);
    assert_eq!(decision["reference"], at("1.0").as_str());
    assert_eq!(decision["signed_digest"], v1.as_str());

    // Signers pinned by key: alice's key is alice; bob's key is not alice.
    let pinned_alice = policy(&[rule(
        &servers,
        &image,
        &[&root],
        &format!("all = [\"targets/alice\"]\nkeys = {{ \"targets/alice\" = [{alice_key:?}] }}"),
    )]);
    let (ok, decision) = decide_one(&verifier, &pinned_alice, &at("1.0"));
    assert!(ok, "{decision}");
    let wrong_key = policy(&[rule(
        &servers,
        &image,
        &[&root],
        &format!("all = [\"targets/alice\"]\nkeys = {{ \"targets/alice\" = [{bob_key:?}] }}"),
    )]);
    let (ok, decision) = decide_one(&verifier, &wrong_key, &at("1.0"));
    assert!(!ok);
    assert_eq!(
        decision["signers"][0]["state"], "keys_not_pinned",
        "{decision}"
    );

    // The owner holds the targets key: it adds its own key to targets/alice and signs 3.0
    // there. A rule naming the role only cannot tell (the documented threat); pinning alice's
    // key refuses it, and every tag of the role, which alice no longer signs.
    let (v3, _) = servers.push(path, "3.0", b"the owner's three");
    let mallory_pub = owner.work().join("mallory.pub");
    signet_ok(&owner, &["trust", "key", "generate", "mallory"]);
    add_signer(&owner, "alice", &mallory_pub, &image);
    signet_ok(&owner, &["trust", "sign", &at("3.0")]);
    let name_only = policy(&[rule(
        &servers,
        &image,
        &[&root],
        "all = [\"targets/alice\"]",
    )]);
    let (ok, decision) = decide_one(&verifier, &name_only, &at("3.0"));
    assert!(
        ok,
        "a role name alone is the targets key holder's to give: {decision}"
    );
    assert_eq!(decision["signed_digest"], v3.as_str());
    for tag in ["3.0", "1.0"] {
        let (ok, decision) = decide_one(&verifier, &pinned_alice, &at(tag));
        assert!(!ok, "{tag}: {decision}");
        assert_eq!(
            decision["signers"][0]["state"], "keys_not_pinned",
            "{decision}"
        );
        assert_eq!(reasons(&decision), vec!["too_few_signers"], "{decision}");
        assert_eq!(
            decision["denials"][0]["missing"]["targets/alice"],
            "not signed with its pinned keys"
        );
    }
    // Nor can the owner's targets signature stand in for bob's.
    let (ok, decision) = decide_one(&verifier, &both, &at("3.0"));
    assert!(!ok, "{decision}");
}

/// A policy pins the root: another root is refused even after the verifier's trust dir
/// trusted it, and a repository re-initialised with a new root key is refused.
#[test]
fn pinned_roots_refuse_a_swapped_root() {
    let Some(servers) = shared_trust_servers() else {
        return;
    };
    let path = "trust-policy/rooted";
    let image = servers.image(path);
    let tagged = format!("{image}:1.0");
    let (digest, _) = servers.push(path, "1.0", b"rooted");
    let owner = servers.env();
    signet_ok(&owner, &["trust", "sign", &tagged]);
    let root = root_id(&owner, &image);
    let other_path = "trust-policy/elsewhere";
    servers.push(other_path, "1.0", b"elsewhere");
    let other_owner = servers.env();
    signet_ok(
        &other_owner,
        &[
            "trust",
            "sign",
            &servers.image(&format!("{other_path}:1.0")),
        ],
    );
    let other_root = root_id(&other_owner, &servers.image(other_path));
    assert_ne!(root, other_root);

    let verifier = servers.env();
    let pinned = policy(&[rule(&servers, &image, &[&root], "all = [\"targets\"]")]);
    let (ok, decision) = decide_one(&verifier, &pinned, &tagged);
    assert!(ok, "{decision}");
    assert_eq!(decision["reference"], format!("{image}@{digest}").as_str());

    // The root certificate itself, as the owner's cache holds it, pins too.
    let cached = owner
        .trust_dir()
        .join("tuf")
        .join(&image)
        .join("metadata")
        .join("root.json");
    let root_doc = signet_tuf::metadata::Envelope::<signet_tuf::metadata::Root>::parse(
        &std::fs::read(&cached).unwrap(),
    )
    .unwrap();
    let certificate = root_doc.signed().keys[&root.parse::<signet_tuf::KeyId>().unwrap()]
        .public()
        .to_vec();
    let by_certificate = policy(&[format!(
        "[[rule]]\nimage = {image:?}\nserver = {:?}\nserver_ca = {:?}\n\
         root = {{ certificates = \"root.crt\" }}\nall = [\"targets\"]\n",
        servers.server.url(),
        servers.server.ca_cert().unwrap().to_str().unwrap(),
    )]);
    std::fs::write(by_certificate.path.with_file_name("root.crt"), &certificate).unwrap();
    let (ok, decision) = decide_one(&verifier, &by_certificate, &tagged);
    assert!(ok, "{decision}");

    // Pinned to another root: refused, although a plain verify trusts (and caches) the
    // server's root on first use.
    signet_ok(&verifier, &["trust", "verify", &tagged]);
    let wrong = policy(&[rule(
        &servers,
        &image,
        &[&other_root],
        "all = [\"targets\"]",
    )]);
    let (ok, decision) = decide_one(&verifier, &wrong, &tagged);
    assert!(!ok);
    assert_eq!(reasons(&decision), vec!["root_not_pinned"], "{decision}");

    // The repository is deleted on the server and initialised again by someone else, with a
    // new root key: the policy pinned to the first root refuses it.
    let server_ca = servers
        .server
        .ca_cert()
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let trust_dir = owner.trust_dir();
    let deleted = owner
        .run(
            &signet_binary(),
            &[
                "-d",
                trust_dir.to_str().unwrap(),
                "-s",
                servers.server.url(),
                "--tlscacert",
                &server_ca,
                "delete",
                &image,
                "--remote",
            ],
        )
        .unwrap();
    assert!(deleted.success(), "{deleted:?}");
    let usurper = servers.env();
    signet_ok(&usurper, &["trust", "sign", &tagged]);
    let new_root = root_id(&usurper, &image);
    assert_ne!(new_root, root);
    let (ok, decision) = decide_one(&servers.env(), &pinned, &tagged);
    assert!(!ok, "{decision}");
    assert_eq!(reasons(&decision), vec!["root_not_pinned"], "{decision}");
    let (ok, decision) = decide_one(&servers.env(), &by_certificate, &tagged);
    assert!(!ok, "{decision}");
    assert_eq!(reasons(&decision), vec!["root_not_pinned"], "{decision}");
    assert!(
        decision["denials"][0]["message"]
            .as_str()
            .unwrap()
            .contains("unable to match any certificates"),
        "{decision}"
    );
    // The owner's trust dir still caches the first root; the policy does not use it either.
    let (ok, _) = decide_one(&owner, &pinned, &tagged);
    assert!(!ok);
    let repinned = policy(&[rule(&servers, &image, &[&new_root], "all = [\"targets\"]")]);
    let (ok, decision) = decide_one(&owner, &repinned, &tagged);
    assert!(ok, "{decision}");
}

/// An OCI image index with two platform manifests and a Docker manifest list, signed: verify
/// resolves a platform, and a policy accepts the index digest and each child, and nothing else.
#[test]
fn multi_platform_indexes() {
    let Some(servers) = shared_trust_servers() else {
        return;
    };
    let path = "trust-policy/multi";
    let image = servers.image(path);
    let registry = &servers.registry;
    let push = |tag: &str, layer: &[u8]| {
        registry
            .push_image_as(ManifestFormat::Oci, path, tag, layer, CONFIG)
            .unwrap()
    };
    let amd64 = push("amd64", b"amd64 layer");
    let arm64 = push("arm64", b"arm64 layer");
    let (unlisted, _) = push("unlisted", b"not in the index");
    let index = |media_type: &str, entry_type: &str| {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{media_type}","manifests":[{{"mediaType":"{entry_type}","size":{},"digest":"{}","platform":{{"architecture":"amd64","os":"linux"}}}},{{"mediaType":"{entry_type}","size":{},"digest":"{}","platform":{{"architecture":"arm64","os":"linux","variant":"v8"}}}}]}}"#,
            amd64.1, amd64.0, arm64.1, arm64.0
        )
    };
    let (oci_index, _) = registry
        .push_manifest(
            path,
            "1.0",
            OCI_INDEX,
            index(OCI_INDEX, OCI_MANIFEST).as_bytes(),
        )
        .unwrap();
    let list_type = signet_e2e::registry::DOCKER_MANIFEST_LIST;
    let docker_v2 = signet_e2e::registry::DOCKER_MANIFEST_V2;
    let amd64_v2 = registry
        .push_image(path, "amd64-v2", b"amd64 v2 layer", CONFIG)
        .unwrap();
    let arm64_v2 = registry
        .push_image(path, "arm64-v2", b"arm64 v2 layer", CONFIG)
        .unwrap();
    let list = format!(
        r#"{{"schemaVersion":2,"mediaType":"{list_type}","manifests":[{{"mediaType":"{docker_v2}","size":{},"digest":"{}","platform":{{"architecture":"amd64","os":"linux"}}}},{{"mediaType":"{docker_v2}","size":{},"digest":"{}","platform":{{"architecture":"arm64","os":"linux","variant":"v8"}}}}]}}"#,
        amd64_v2.1, amd64_v2.0, arm64_v2.1, arm64_v2.0
    );
    let (docker_list, _) = registry
        .push_manifest(path, "2.0", list_type, list.as_bytes())
        .unwrap();

    let owner = servers.env();
    signet_ok(&owner, &["trust", "sign", &format!("{image}:1.0")]);
    signet_ok(&owner, &["trust", "sign", &format!("{image}:2.0")]);
    let root = root_id(&owner, &image);
    let verifier = servers.env();

    // verify --platform picks the child of the signed index.
    for (tag, arm, amd) in [
        ("1.0", &arm64.0, &amd64.0),
        ("2.0", &arm64_v2.0, &amd64_v2.0),
    ] {
        let tagged = format!("{image}:{tag}");
        let out = signet_ok(
            &verifier,
            &["trust", "verify", "--platform", "linux/arm64", &tagged],
        );
        assert_eq!(out.stdout, format!("{image}@{arm}\n"));
        let out = signet_ok(
            &verifier,
            &[
                "--output",
                "json",
                "trust",
                "verify",
                "--platform",
                "linux/amd64",
                &tagged,
            ],
        );
        let document = json(&out);
        assert_eq!(document["platform_digest"], amd.as_str());
        assert_eq!(document["reference"], format!("{image}@{amd}").as_str());
    }
    let missing = signet(
        &verifier,
        &[
            "trust",
            "verify",
            "--platform",
            "linux/s390x",
            &format!("{image}:1.0"),
        ],
    );
    assert!(!missing.success());
    assert!(
        missing.stderr.contains("linux/amd64, linux/arm64/v8"),
        "the platforms there are: {missing:?}"
    );
    let bad = signet(
        &verifier,
        &[
            "trust",
            "verify",
            "--platform",
            "linux",
            &format!("{image}:1.0"),
        ],
    );
    assert!(!bad.success());
    assert!(bad.stderr.contains("invalid platform"), "{bad:?}");

    // Under a policy: the index by tag and by digest, each child, and not the unlisted one.
    let accepted = policy(&[rule(&servers, &image, &[&root], "all = [\"targets\"]")]);
    let (ok, decision) = decide_one(&verifier, &accepted, &format!("{image}:1.0"));
    assert!(ok, "{decision}");
    assert_eq!(
        decision["reference"],
        format!("{image}@{oci_index}").as_str()
    );
    for digest in [&oci_index, &amd64.0, &arm64.0, &docker_list, &arm64_v2.0] {
        let (ok, decision) = decide_one(&verifier, &accepted, &format!("{image}@{digest}"));
        assert!(ok, "{digest}: {decision}");
        assert_eq!(decision["reference"], format!("{image}@{digest}").as_str());
    }
    let (ok, decision) = decide_one(&verifier, &accepted, &format!("{image}:1.0@{}", arm64.0));
    assert!(ok, "a child with its index's tag: {decision}");
    assert_eq!(decision["signed_digest"], oci_index.as_str());
    let (ok, decision) = decide_one(&verifier, &accepted, &format!("{image}@{unlisted}"));
    assert!(!ok);
    assert_eq!(reasons(&decision), vec!["digest_not_signed"], "{decision}");
    let (ok, decision) = decide_one(&verifier, &accepted, &format!("{image}:1.0@{}", arm64_v2.0));
    assert!(!ok, "a child of the other index: {decision}");

    // With --platform the policy's reference is the platform's manifest.
    let out = signet(
        &verifier,
        &[
            "--output",
            "json",
            "trust",
            "verify",
            "--policy",
            accepted.path(),
            "--platform",
            "linux/arm64/v8",
            &format!("{image}:2.0"),
        ],
    );
    assert!(out.success(), "{out:?}");
    let decision = &json(&out)["decisions"][0];
    assert_eq!(decision["signed_digest"], docker_list.as_str());
    assert_eq!(decision["platform_digest"], arm64_v2.0.as_str());
    assert_eq!(
        decision["reference"],
        format!("{image}@{}", arm64_v2.0).as_str()
    );
}

/// A policy that does not load is a clear error naming the rule, before anything is fetched.
#[test]
fn a_broken_policy_names_its_rule() {
    let Some(servers) = shared_trust_servers() else {
        return;
    };
    let broken = policy(&[
        rule(
            &servers,
            "**",
            &["ab".repeat(32).as_str()],
            "all = [\"targets\"]",
        ),
        rule(
            &servers,
            "registry.example.com/*",
            &["ab".repeat(32).as_str()],
            "threshold = 3\nsigners = [\"targets/a\", \"targets/b\"]",
        ),
    ]);
    let out = signet(
        &servers.env(),
        &[
            "trust",
            "verify",
            "--policy",
            broken.path(),
            "registry.example.com/x:1",
        ],
    );
    assert!(!out.success());
    assert!(
        out.stderr.contains("rule 2 (registry.example.com/*)")
            && out
                .stderr
                .contains("threshold 3 is more than the 2 signer(s)"),
        "{out:?}"
    );
    assert!(
        out.stderr.contains("docs/trust-policy.md"),
        "the hint: {out:?}"
    );
}
