//! The docker CLI (no engine) against signet-server over TLS: `docker trust key generate`,
//! `signer add`, `inspect`, `sign` (re-signing a tag already in trust data) and `revoke`, with
//! `signet trust` on the same repositories. Whatever one signs the other accepts, and both
//! print the same inspect JSON.

use signet_e2e::docker_cli::DockerEnv;

use crate::trust_support::{
    TrustServers, docker_available, docker_inspect, docker_ok, hex_of, shared_trust_servers,
    signed_tags, signer_keys, signer_names, signet, signet_inspect, signet_ok,
};

/// The servers, or `None` when docker or docker-registry is missing outside CI.
fn servers() -> Option<std::sync::Arc<TrustServers>> {
    if !docker_available() {
        return None;
    }
    shared_trust_servers()
}

/// The key ID `docker trust key generate NAME` stored: the one private key file in the trust
/// dir whose `role` header is NAME.
fn generated_key_id(env: &DockerEnv, name: &str) -> String {
    let private = env.trust_dir().join("private");
    let ids: Vec<String> = std::fs::read_dir(&private)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            std::fs::read_to_string(path)
                .unwrap()
                .lines()
                .any(|line| line == format!("role: {name}"))
        })
        .map(|path| path.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        ids.len(),
        1,
        "keys with role {name} in {}",
        private.display()
    );
    ids[0].clone()
}

/// docker initialises a repository on signet-server (`trust key generate`, `trust signer
/// add`), reads it back with `trust inspect`, and `signet trust inspect` from another machine
/// prints the identical JSON. The image name is not a loopback registry, so docker verifies
/// the server's certificate with `tls/<host:port>/ca.crt`, and fails without it.
#[test]
fn docker_initialises_a_repository_and_both_inspect_it_identically() {
    let Some(servers) = servers() else { return };
    let image = "registry.signet-e2e.test/docker/init";
    let admin = servers.env();
    let generated = docker_ok(&admin, &["trust", "key", "generate", "alice"]);
    assert!(admin.work().join("alice.pub").is_file(), "{generated:?}");
    let alice_id = generated_key_id(&admin, "alice");
    let added = docker_ok(
        &admin,
        &[
            "trust",
            "signer",
            "add",
            "--key",
            "alice.pub",
            "alice",
            image,
        ],
    );
    assert!(
        added.stdout.contains("Successfully added signer: alice"),
        "{added:?}"
    );

    let by_docker = docker_inspect(&admin, &[image]);
    assert_eq!(by_docker[0]["Name"], image);
    assert_eq!(signed_tags(&by_docker), vec![]);
    assert_eq!(signer_names(&by_docker), vec!["alice"]);
    assert_eq!(signer_keys(&by_docker, "alice"), vec![alice_id]);
    let admin_keys: Vec<&str> = by_docker[0]["AdministrativeKeys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|role| role["Name"].as_str().unwrap())
        .collect();
    assert_eq!(admin_keys, vec!["Root", "Repository"]);

    let reader = servers.env();
    assert_eq!(signet_inspect(&reader, &[image]), by_docker);
    assert_eq!(docker_inspect(&servers.env(), &[image]), by_docker);

    // Without the CA, neither client trusts the server.
    let untrusting = DockerEnv::new(servers.server.url(), None).unwrap();
    let docker = untrusting.docker(&["trust", "inspect", image]).unwrap();
    assert!(!docker.success(), "{docker:?}");
    let signet = signet(&untrusting, &["trust", "inspect", image]);
    assert!(!signet.success(), "{signet:?}");
    assert!(
        format!("{}{}", signet.stdout, signet.stderr)
            .to_lowercase()
            .contains("certificate"),
        "{signet:?}"
    );
}

/// Tags signed by `signet trust sign` (first use initialises the repository) read the same in
/// `docker trust inspect` and `signet trust inspect`, plain and `--pretty`, for the whole
/// repository and for one tag.
#[test]
fn signet_signs_and_docker_inspects_identically() {
    let Some(servers) = servers() else { return };
    let path = "trust-docker/signed";
    let image = servers.image(path);
    let (one, _) = servers.push(path, "1.0", b"layer one");
    let (two, _) = servers.push(path, "2.0", b"layer two");

    let signer = servers.env();
    for tag in ["1.0", "2.0"] {
        let signed = signet_ok(&signer, &["trust", "sign", &format!("{image}:{tag}")]);
        assert!(
            signed
                .stdout
                .contains(&format!("Successfully signed {image}:{tag}")),
            "{signed:?}"
        );
    }

    let docker_env = servers.env();
    let signet_env = servers.env();
    for images in [vec![image.clone()], vec![format!("{image}:1.0")]] {
        let images: Vec<&str> = images.iter().map(String::as_str).collect();
        let by_docker = docker_inspect(&docker_env, &images);
        assert_eq!(signet_inspect(&signet_env, &images), by_docker);
        assert_eq!(signet_inspect(&signer, &images), by_docker);
        let mut pretty = vec!["trust", "inspect", "--pretty"];
        pretty.extend_from_slice(&images);
        assert_eq!(
            signet_ok(&signet_env, &pretty).stdout,
            docker_ok(&docker_env, &pretty).stdout
        );
    }
    let all = docker_inspect(&docker_env, &[&image]);
    let tags: Vec<(String, String)> = signed_tags(&all)
        .into_iter()
        .map(|(tag, digest, _)| (tag, digest))
        .collect();
    assert_eq!(
        tags,
        vec![
            ("1.0".to_owned(), hex_of(&one).to_owned()),
            ("2.0".to_owned(), hex_of(&two).to_owned()),
        ]
    );
}

/// The release workflow across both clients. The owner (signet) initialises the repository
/// with signer bob and signs 1.0; alice (docker, her key generated by docker on her own
/// machine) is added by the owner, re-signs 1.0 with `docker trust sign`, which leaves
/// `targets/releases` signed by her key only, and `signet trust verify` on a third machine
/// accepts it. `docker trust revoke` by alice then makes the tag unsigned for
/// `signet trust verify` (bob's own role still lists it, but pulls trust only
/// `targets/releases` and `targets`).
#[test]
fn docker_re_signs_and_revokes_what_signet_verifies() {
    let Some(servers) = servers() else { return };
    let path = "trust-docker/release";
    let image = servers.image(path);
    let tagged = format!("{image}:1.0");
    let (digest, _) = servers.push(path, "1.0", b"release layer");

    let owner = servers.env();
    signet_ok(&owner, &["trust", "key", "generate", "bob"]);
    signet_ok(
        &owner,
        &["trust", "signer", "add", "--key", "bob.pub", "bob", &image],
    );
    signet_ok(&owner, &["trust", "sign", &tagged]);

    let verifier = servers.env();
    let pinned = format!("{image}@{digest}");
    let verified = signet_ok(&verifier, &["trust", "verify", &tagged]);
    assert_eq!(verified.stdout, format!("{pinned}\n"));

    let alice = servers.env();
    docker_ok(&alice, &["trust", "key", "generate", "alice"]);
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
    let resigned = docker_ok(&alice, &["trust", "sign", &tagged]);
    assert!(
        resigned
            .stdout
            .contains(&format!("Successfully signed {image}:1.0")),
        "{resigned:?}"
    );

    let after_sign = docker_inspect(&servers.env(), &[&image]);
    assert_eq!(signet_inspect(&verifier, &[&image]), after_sign);
    assert_eq!(
        signed_tags(&after_sign),
        vec![(
            "1.0".to_owned(),
            hex_of(&digest).to_owned(),
            vec!["bob".to_owned(), "alice".to_owned()]
        )]
    );
    assert_eq!(signer_names(&after_sign), vec!["bob", "alice"]);
    let verified = signet_ok(&verifier, &["trust", "verify", &tagged]);
    assert_eq!(verified.stdout, format!("{pinned}\n"));

    docker_ok(&alice, &["trust", "revoke", &tagged]);
    let refused = signet(&verifier, &["trust", "verify", &tagged]);
    assert!(!refused.success(), "{refused:?}");
    assert!(!refused.stdout.contains("@sha256:"), "{refused:?}");
    assert!(
        format!("{}{}", refused.stdout, refused.stderr).contains("1.0"),
        "{refused:?}"
    );
    let after_revoke = docker_inspect(&servers.env(), &[&image]);
    assert_eq!(signet_inspect(&verifier, &[&image]), after_revoke);
    assert_eq!(signed_tags(&after_revoke), vec![]);
}

/// The same steps on two repositories, one driven by docker, one by signet, with the same
/// signer key (alice's, generated by docker and copied) and the same image: the inspect JSON agrees except for each repository's own
/// name and administrative keys. Each client reads the other's repository.
#[test]
fn the_same_flow_with_docker_and_with_signet_gives_the_same_trust_data() {
    let Some(servers) = servers() else { return };
    let by_docker = servers.image("trust-docker/flow-docker");
    let by_signet = servers.image("trust-docker/flow-signet");
    let (digest, _) = servers.push("trust-docker/flow-docker", "1.0", b"flow layer");
    let (same, _) = servers.push("trust-docker/flow-signet", "1.0", b"flow layer");
    assert_eq!(digest, same);

    let docker_user = servers.env();
    let signet_user = servers.env();
    docker_ok(&docker_user, &["trust", "key", "generate", "alice"]);
    // Alice's key, generated by docker, is copied to the signet user's machine too.
    let alice_id = generated_key_id(&docker_user, "alice");
    let key_file = format!("private/{alice_id}.key");
    let signet_private = signet_user.trust_dir().join("private");
    std::fs::create_dir_all(&signet_private).unwrap();
    std::fs::copy(
        docker_user.trust_dir().join(&key_file),
        signet_user.trust_dir().join(&key_file),
    )
    .unwrap();
    let alice_pub = docker_user.work().join("alice.pub");
    let alice_pub = alice_pub.to_str().unwrap();
    docker_ok(
        &docker_user,
        &[
            "trust", "signer", "add", "--key", alice_pub, "alice", &by_docker,
        ],
    );
    signet_ok(
        &signet_user,
        &[
            "trust", "signer", "add", "--key", alice_pub, "alice", &by_signet,
        ],
    );
    // docker cannot sign a new tag without an engine: signet signs, docker re-signs.
    signet_ok(
        &docker_user,
        &["trust", "sign", &format!("{by_docker}:1.0")],
    );
    docker_ok(
        &docker_user,
        &["trust", "sign", &format!("{by_docker}:1.0")],
    );
    signet_ok(
        &signet_user,
        &["trust", "sign", &format!("{by_signet}:1.0")],
    );

    let reader = servers.env();
    let docker_repo = docker_inspect(&reader, &[&by_docker]);
    let signet_repo = docker_inspect(&reader, &[&by_signet]);
    assert_eq!(signet_inspect(&reader, &[&by_docker]), docker_repo);
    assert_eq!(signet_inspect(&reader, &[&by_signet]), signet_repo);
    assert_eq!(docker_repo[0]["Signers"], signet_repo[0]["Signers"]);
    assert_eq!(
        signed_tags(&docker_repo),
        vec![(
            "1.0".to_owned(),
            hex_of(&digest).to_owned(),
            vec!["alice".to_owned()]
        )]
    );
    assert_eq!(signed_tags(&signet_repo), signed_tags(&docker_repo));

    docker_ok(
        &docker_user,
        &["trust", "revoke", &format!("{by_docker}:1.0")],
    );
    signet_ok(
        &signet_user,
        &["trust", "revoke", &format!("{by_signet}:1.0")],
    );
    for image in [&by_docker, &by_signet] {
        let inspected = docker_inspect(&reader, &[image]);
        assert_eq!(signet_inspect(&reader, &[image]), inspected);
        assert_eq!(signed_tags(&inspected), vec![], "{image}");
        let refused = signet(&reader, &["trust", "verify", &format!("{image}:1.0")]);
        assert!(!refused.success(), "{refused:?}");
    }
}
