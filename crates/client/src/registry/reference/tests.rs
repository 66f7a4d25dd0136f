//! Reference parsing against docker's own accepted / rejected tables
//! (`distribution/reference` `normalize_test.go`, `reference_test.go`).

use super::*;

const HEX64: &str = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";

/// (input, full normalised reference, GUN)
const ACCEPTED: &[(&str, &str, &str)] = &[
    (
        "alpine",
        "docker.io/library/alpine",
        "docker.io/library/alpine",
    ),
    (
        "alpine:3.20",
        "docker.io/library/alpine:3.20",
        "docker.io/library/alpine",
    ),
    (
        "myuser/app:1.0",
        "docker.io/myuser/app:1.0",
        "docker.io/myuser/app",
    ),
    (
        "docker/docker",
        "docker.io/docker/docker",
        "docker.io/docker/docker",
    ),
    (
        "library/debian",
        "docker.io/library/debian",
        "docker.io/library/debian",
    ),
    (
        "docker.io/docker/docker",
        "docker.io/docker/docker",
        "docker.io/docker/docker",
    ),
    (
        "docker.io/library/debian",
        "docker.io/library/debian",
        "docker.io/library/debian",
    ),
    (
        "docker.io/debian",
        "docker.io/library/debian",
        "docker.io/library/debian",
    ),
    (
        "index.docker.io/docker/docker",
        "docker.io/docker/docker",
        "docker.io/docker/docker",
    ),
    (
        "index.docker.io/library/debian",
        "docker.io/library/debian",
        "docker.io/library/debian",
    ),
    (
        "index.docker.io/debian",
        "docker.io/library/debian",
        "docker.io/library/debian",
    ),
    (
        "registry.local:5000/team/img:tag",
        "registry.local:5000/team/img:tag",
        "registry.local:5000/team/img",
    ),
    ("localhost/x", "localhost/x", "localhost/x"),
    (
        "localhost:5000/x:1",
        "localhost:5000/x:1",
        "localhost:5000/x",
    ),
    (
        "127.0.0.1:5000/docker/docker",
        "127.0.0.1:5000/docker/docker",
        "127.0.0.1:5000/docker/docker",
    ),
    (
        "127.0.0.1:5000/debian",
        "127.0.0.1:5000/debian",
        "127.0.0.1:5000/debian",
    ),
    // A single component is a docker.io path even when it looks like an address.
    (
        "192.168.0.1",
        "docker.io/library/192.168.0.1",
        "docker.io/library/192.168.0.1",
    ),
    (
        "192.168.0.1:80",
        "docker.io/library/192.168.0.1:80",
        "docker.io/library/192.168.0.1",
    ),
    (
        "192.168.0.1:8/debian",
        "192.168.0.1:8/debian",
        "192.168.0.1:8/debian",
    ),
    (
        "192.168.0.2:25000/debian",
        "192.168.0.2:25000/debian",
        "192.168.0.2:25000/debian",
    ),
    (
        "localhost:5000",
        "docker.io/library/localhost:5000",
        "docker.io/library/localhost",
    ),
    (
        "test.com:tag",
        "docker.io/library/test.com:tag",
        "docker.io/library/test.com",
    ),
    (
        "foo_bar.com:8080",
        "docker.io/library/foo_bar.com:8080",
        "docker.io/library/foo_bar.com",
    ),
    (
        "foo/foo_bar.com:8080",
        "docker.io/foo/foo_bar.com:8080",
        "docker.io/foo/foo_bar.com",
    ),
    ("test:5000/repo", "test:5000/repo", "test:5000/repo"),
    ("test:5000/repo:tag", "test:5000/repo:tag", "test:5000/repo"),
    (
        "[fc00::1]:5000/docker",
        "[fc00::1]:5000/docker",
        "[fc00::1]:5000/docker",
    ),
    (
        "[fc00::1]:5000/docker/docker",
        "[fc00::1]:5000/docker/docker",
        "[fc00::1]:5000/docker/docker",
    ),
    (
        "[fc00:1:2:3:4:5:6:7]:5000/library/debian",
        "[fc00:1:2:3:4:5:6:7]:5000/library/debian",
        "[fc00:1:2:3:4:5:6:7]:5000/library/debian",
    ),
    (
        "[2001:db8::1]/repo",
        "[2001:db8::1]/repo",
        "[2001:db8::1]/repo",
    ),
    (
        "[2001:db8::]:5000/repo:tag",
        "[2001:db8::]:5000/repo:tag",
        "[2001:db8::]:5000/repo",
    ),
    ("[::1]:5000/repo", "[::1]:5000/repo", "[::1]:5000/repo"),
    (
        "sub-dom1.foo.com/bar/baz/quux:some-long-tag",
        "sub-dom1.foo.com/bar/baz/quux:some-long-tag",
        "sub-dom1.foo.com/bar/baz/quux",
    ),
    (
        "b.gcr.io/test.example.com/my-app:test.example.com",
        "b.gcr.io/test.example.com/my-app:test.example.com",
        "b.gcr.io/test.example.com/my-app",
    ),
    (
        "xn--n3h.com/myimage:xn--n3h.com",
        "xn--n3h.com/myimage:xn--n3h.com",
        "xn--n3h.com/myimage",
    ),
    // Separators: one period, one or two underscores, any number of dashes.
    (
        "ab_c__d---e/f.g_h",
        "docker.io/ab_c__d---e/f.g_h",
        "docker.io/ab_c__d---e/f.g_h",
    ),
    // An upper-case first component is a registry.
    ("Docker/docker", "Docker/docker", "Docker/docker"),
    (
        "Example.COM:443/team/app",
        "Example.COM:443/team/app",
        "Example.COM:443/team/app",
    ),
    // Tags may be upper case and start with `_`.
    (
        "app:_Tag.V-1",
        "docker.io/library/app:_Tag.V-1",
        "docker.io/library/app",
    ),
    (
        "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
        "docker.io/library/thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
        "docker.io/library/thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
    ),
];

#[test]
fn accepts_and_normalises_what_docker_accepts() {
    for (input, full, gun) in ACCEPTED {
        let parsed = ImageReference::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(parsed.to_string(), *full, "{input}");
        assert_eq!(parsed.name(), *gun, "{input}");
        assert_eq!(parsed.gun().unwrap().as_str(), *gun, "{input}");
        // Normalised output parses to itself.
        assert_eq!(ImageReference::parse(full).unwrap(), parsed, "{input}");
    }
}

#[test]
fn splits_registry_path_tag_and_digest() {
    let parsed = ImageReference::parse("registry.local:5000/team/img:tag").unwrap();
    assert_eq!(parsed.domain(), "registry.local:5000");
    assert_eq!(parsed.path(), "team/img");
    assert_eq!(parsed.tag(), Some("tag"));
    assert_eq!(parsed.digest(), None);
    assert_eq!(parsed.registry_host(), "registry.local:5000");

    let digest_ref = format!("test:5000/repo:tag@sha256:{HEX64}");
    let parsed = ImageReference::parse(&digest_ref).unwrap();
    assert_eq!(parsed.tag(), Some("tag"));
    assert_eq!(parsed.digest().unwrap().hex(), HEX64);
    assert_eq!(parsed.manifest_reference(), format!("sha256:{HEX64}"));
    assert_eq!(parsed.to_string(), digest_ref);

    let by_digest = ImageReference::parse(&format!("alpine@sha256:{HEX64}")).unwrap();
    assert_eq!(by_digest.tag(), None);
    assert_eq!(
        by_digest.to_string(),
        format!("docker.io/library/alpine@sha256:{HEX64}")
    );
    assert!(!by_digest.is_name_only());
    assert_eq!(by_digest.clone().with_default_tag(), by_digest);

    let sha512 = format!("xn--7o8h.com/myimage:xn--7o8h.com@sha512:{HEX64}{HEX64}");
    let parsed = ImageReference::parse(&sha512).unwrap();
    assert_eq!(parsed.digest().unwrap().algorithm().name(), "sha512");

    let ipv6 =
        ImageReference::parse(&format!("[2001:db8::1]:5000/repo:tag@sha256:{HEX64}")).unwrap();
    assert_eq!(ipv6.domain(), "[2001:db8::1]:5000");
    assert_eq!(ipv6.path(), "repo");
}

#[test]
fn default_tag_and_familiar_forms() {
    let alpine = ImageReference::parse("alpine").unwrap();
    assert!(alpine.is_name_only());
    assert_eq!(alpine.manifest_reference(), "latest");
    let tagged = alpine.clone().with_default_tag();
    assert_eq!(tagged.to_string(), "docker.io/library/alpine:latest");
    assert_eq!(tagged.familiar_string(), "alpine:latest");
    assert_eq!(alpine.familiar_name(), "alpine");
    assert_eq!(
        ImageReference::parse("myuser/app:1.0")
            .unwrap()
            .familiar_string(),
        "myuser/app:1.0"
    );
    assert_eq!(
        ImageReference::parse("library/a/b")
            .unwrap()
            .familiar_name(),
        "library/a/b"
    );
    assert_eq!(
        ImageReference::parse("localhost:5000/x:1")
            .unwrap()
            .familiar_string(),
        "localhost:5000/x:1"
    );
    let retagged = tagged.with_tag("v2").unwrap();
    assert_eq!(retagged.to_string(), "docker.io/library/alpine:v2");
    assert!(tagged.with_tag("-bad").is_err());
    let digest = Digest::sha256_of(b"manifest");
    let pinned = retagged.with_digest(digest.clone());
    assert_eq!(pinned.tag(), None);
    assert_eq!(pinned.digest(), Some(&digest));
}

fn rejection(input: &str) -> ReferenceError {
    match ImageReference::parse(input) {
        Ok(parsed) => panic!("{input:?} was accepted as {parsed}"),
        Err(e) => {
            assert_eq!(e.reference(), input);
            e
        }
    }
}

#[test]
fn rejects_what_docker_rejects() {
    let invalid_format = [
        "",
        ":justtag",
        "https://github.com/docker/docker",
        "-docker",
        "-docker/docker",
        "-docker.io/docker/docker",
        "docker///docker",
        "docker.io/docker///docker",
        "[fc00::1]",
        "[fc00::1]:5000",
        "fc00::1:5000/debian",
        "[fc00::1]:5000/-docker",
        "[2001:db8::1]:tag",
        "[fe80::1%eth0]:5000/repo",
        "aa/asdf$$^/aa",
        "a/b/",
        "a__/b",
        "a___b/c",
        "a._b/c",
        "a/b:",
        "a/b:-tag",
        "a/b:t/ag",
        "a/b:tag:more",
        "repo@",
        "repo@sha256",
        "repo@sha256:abc",
        "repo@sha256:ffff@sha256:ffff",
        "héllo",
        "reg.example.com:port/x",
        "reg..example.com/x",
        "-reg.example.com/x",
        "reg-.example.com/x",
        "\u{0}x",
    ];
    for input in invalid_format {
        assert!(
            matches!(rejection(input), ReferenceError::InvalidFormat { .. }),
            "{input:?}: {}",
            rejection(input)
        );
    }
    assert_eq!(rejection("").to_string(), "invalid reference format");
}

#[test]
fn tag_length_limit() {
    let ok = format!("app:{}", "t".repeat(128));
    assert_eq!(
        ImageReference::parse(&ok).unwrap().tag().unwrap().len(),
        128
    );
    let too_long = format!("app:{}", "t".repeat(129));
    assert!(matches!(
        rejection(&too_long),
        ReferenceError::InvalidFormat { .. }
    ));
}

#[test]
fn name_length_limit() {
    // docker.io/library/ is 18 characters and counts.
    let ok = "a".repeat(237);
    assert_eq!(ImageReference::parse(&ok).unwrap().name().len(), 255);
    let too_long = "a".repeat(238);
    let error = rejection(&too_long);
    assert!(matches!(error, ReferenceError::NameTooLong { .. }));
    assert_eq!(
        error.to_string(),
        "repository name must not be more than 255 characters"
    );
}

#[test]
fn upper_case_errors_use_dockers_texts() {
    let error = rejection("docker/Docker");
    assert_eq!(
        error.to_string(),
        "invalid reference format: repository name (docker/Docker) must be lowercase"
    );
    assert_eq!(
        rejection("UPPER").to_string(),
        "invalid reference format: repository name (library/UPPER) must be lowercase"
    );
    assert_eq!(
        rejection("docker.io/docker/Docker:tag").to_string(),
        "invalid reference format: repository name (docker/Docker) must be lowercase"
    );
    assert_eq!(
        rejection("localhost:5000/Foo").to_string(),
        "invalid reference format: repository name (Foo) must be lowercase"
    );
    // An upper-case registry that is not a valid host fails docker's plain `Parse` check.
    let error = rejection("Foo_x/bar");
    assert!(matches!(
        error,
        ReferenceError::NameContainsUppercase { .. }
    ));
    assert_eq!(error.to_string(), "repository name must be lowercase");
}

#[test]
fn digest_errors_use_go_digest_texts() {
    let short = format!("repo@sha256:{}", "f".repeat(34));
    assert_eq!(
        rejection(&short).to_string(),
        "invalid checksum digest length"
    );
    let unsupported = format!("validname@invaliddigest:{HEX64}");
    assert_eq!(
        rejection(&unsupported).to_string(),
        "unsupported digest algorithm"
    );
    let upper = format!("repo@sha256:{}", HEX64.to_uppercase());
    assert_eq!(
        rejection(&upper).to_string(),
        "invalid checksum digest format"
    );
}

#[test]
fn image_ids_are_not_names() {
    let id = "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a";
    let error = rejection(id);
    assert_eq!(
        error.to_string(),
        format!("invalid repository name ({id}), cannot specify 64-byte hexadecimal strings")
    );
    // With a registry it is an ordinary name.
    let named = ImageReference::parse(&format!("docker.io/{id}")).unwrap();
    assert_eq!(named.name(), format!("docker.io/library/{id}"));
}

#[test]
fn a_name_without_a_registry_is_refused() {
    // Docker parses `a.b_c/foo` as a name with no registry; nothing can be looked up there.
    assert!(matches!(
        rejection("a.b_c/foo"),
        ReferenceError::NoRegistry { .. }
    ));
}

#[test]
fn registry_host_for_api_calls() {
    let hub = ImageReference::parse("alpine").unwrap();
    assert!(hub.is_docker_hub());
    assert_eq!(hub.registry_host(), "registry-1.docker.io");
    assert_eq!(
        ImageReference::parse("index.docker.io/user/app")
            .unwrap()
            .registry_host(),
        "registry-1.docker.io"
    );
    assert_eq!(
        ImageReference::parse("localhost:5000/x")
            .unwrap()
            .registry_host(),
        "localhost:5000"
    );
}

#[test]
fn insecure_registries_are_the_loopback_ones() {
    for domain in [
        "localhost",
        "localhost:5000",
        "LOCALHOST:5000",
        "127.0.0.1",
        "127.0.0.1:5000",
        "127.1.2.3:443",
        "[::1]",
        "[::1]:5000",
    ] {
        assert!(is_insecure_registry(domain), "{domain}");
    }
    for domain in [
        "docker.io",
        "registry.local:5000",
        "10.0.0.1:5000",
        "128.0.0.1",
        "[fc00::1]:5000",
        "localhost.example.com",
        "my-localhost",
    ] {
        assert!(!is_insecure_registry(domain), "{domain}");
    }
    assert!(
        ImageReference::parse("localhost/x")
            .unwrap()
            .is_insecure_registry()
    );
    assert!(
        !ImageReference::parse("alpine")
            .unwrap()
            .is_insecure_registry()
    );
}

#[test]
fn trust_server_follows_docker() {
    let hub = ImageReference::parse("alpine:3").unwrap();
    assert_eq!(hub.trust_server(None).unwrap(), "https://notary.docker.io");
    assert_eq!(
        hub.trust_server(Some("")).unwrap(),
        "https://notary.docker.io"
    );
    let private = ImageReference::parse("registry.local:5000/team/img:tag").unwrap();
    assert_eq!(
        private.trust_server(None).unwrap(),
        "https://registry.local:5000"
    );
    assert_eq!(
        private
            .trust_server(Some("https://notary.example:4443"))
            .unwrap(),
        "https://notary.example:4443"
    );
    for bad in ["http://notary.example", "notary.example:4443", "ftp://x"] {
        let error = private.trust_server(Some(bad)).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("valid https URL required for trust server, got {bad}")
        );
    }
}
