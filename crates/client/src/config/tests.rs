use super::*;

fn env_in(dir: &Path, config_file: Option<&str>) -> ConfigEnv {
    ConfigEnv {
        config_file: config_file.map(PathBuf::from),
        home: Some(dir.join("home")),
        cwd: dir.join("cwd"),
        ..ConfigEnv::default()
    }
}

fn gun(s: &str) -> Gun {
    Gun::new(s).unwrap()
}

#[test]
fn missing_default_file_gives_defaults() {
    let tmp = tempfile::tempdir().unwrap();
    let env = env_in(tmp.path(), None);
    let config = NotaryConfig::load(&env).unwrap();
    assert!(!config.file_found);
    assert_eq!(config.file, tmp.path().join("home/.notary/config.json"));
    assert_eq!(config.trust_dir, tmp.path().join("home/.notary"));
    assert_eq!(config.remote, RemoteServerConfig::default());
    assert_eq!(config.remote.url, "https://notary-server:4443");
    assert_eq!(config.trust_pinning, TrustPinning::default());
}

#[test]
fn missing_explicit_file_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let env = env_in(tmp.path(), Some("nope.json"));
    let err = NotaryConfig::load(&env).unwrap_err();
    assert!(matches!(&err, Error::Config(ConfigError::File { path, .. })
            if path.ends_with("cwd/nope.json")));
    assert!(
        err.to_string()
            .starts_with("error opening config file: open "),
        "{err}"
    );
}

#[test]
fn broken_default_file_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let env = env_in(tmp.path(), None);
    fs::create_dir_all(tmp.path().join("home/.notary")).unwrap();
    fs::write(tmp.path().join("home/.notary/config.json"), b"{oops").unwrap();
    let err = NotaryConfig::load(&env).unwrap_err();
    assert!(
        err.to_string().starts_with("error opening config file: "),
        "{err}"
    );
}

#[test]
fn paths_resolve_like_the_go_cli() {
    let tmp = tempfile::tempdir().unwrap();
    let conf_dir = tmp.path().join("cwd/conf");
    fs::create_dir_all(&conf_dir).unwrap();
    fs::write(
        conf_dir.join("config.json"),
        br#"{
            "trust_dir": "relative/trust",
            "remote_server": {
                "url": "https://notary.example:4443",
                "root_ca": "ca.crt",
                "tls_client_cert": "/abs/client.crt",
                "tls_client_key": "keys/client.key",
                "skipTLSVerify": true
            },
            "trust_pinning": {"ca": {"example.com/": "pins/ca.pem"}, "disable_tofu": true}
        }"#,
    )
    .unwrap();
    let env = env_in(tmp.path(), Some("conf/config.json"));
    let config = NotaryConfig::load(&env).unwrap();
    assert!(config.file_found);
    // trust_dir: relative to the current directory, not the config file.
    assert_eq!(config.trust_dir, tmp.path().join("cwd/relative/trust"));
    // TLS files: relative to the config file's directory.
    assert_eq!(config.remote.root_ca, Some(conf_dir.join("ca.crt")));
    assert_eq!(
        config.remote.tls_client_cert,
        Some(PathBuf::from("/abs/client.crt"))
    );
    assert_eq!(
        config.remote.tls_client_key,
        Some(conf_dir.join("keys/client.key"))
    );
    assert!(config.remote.skip_tls_verify);
    assert_eq!(config.remote.parsed_url().unwrap().port(), Some(4443));
    config.remote.check_client_pair().unwrap();
    // trust_pinning.ca: relative to the current directory.
    assert_eq!(
        config.trust_pinning.ca["example.com/"],
        tmp.path().join("cwd/pins/ca.pem")
    );
    assert!(config.trust_pinning.disable_tofu);
}

#[test]
fn trust_dir_home_expansion() {
    let home = Path::new("/home/u");
    assert_eq!(home_expand(Some(home), "~"), Path::new("/home/u"));
    assert_eq!(home_expand(Some(home), "~/x/y"), Path::new("/home/u/x/y"));
    assert_eq!(home_expand(Some(home), "~other/x"), Path::new("~other/x"));
    assert_eq!(home_expand(Some(home), "/abs"), Path::new("/abs"));

    let tmp = tempfile::tempdir().unwrap();
    let env = env_in(tmp.path(), None);
    let config = NotaryConfig::parse(br#"{"trust_dir": "~/trust"}"#, "c.json", &env).unwrap();
    assert_eq!(config.trust_dir, tmp.path().join("home/trust"));
}

#[test]
fn keys_are_case_insensitive_like_viper() {
    let tmp = tempfile::tempdir().unwrap();
    let env = env_in(tmp.path(), None);
    let config = NotaryConfig::parse(
        br#"{"Remote_Server": {"URL": "http://h:1", "skiptlsverify": "true"}}"#,
        "c.json",
        &env,
    )
    .unwrap();
    assert_eq!(config.remote.url, "http://h:1");
    assert!(config.remote.skip_tls_verify);
}

#[test]
fn exact_error_texts() {
    let tmp = tempfile::tempdir().unwrap();
    let env = env_in(tmp.path(), None);
    for bad in [
        &br#"{"trust_pinning": {"certs": {"g": "notalist"}}}"#[..],
        br#"{"trust_pinning": {"certs": {"g": [1]}}}"#,
        br#"{"trust_pinning": {"certs": ["x"]}}"#,
    ] {
        let err = NotaryConfig::parse(bad, "c.json", &env).unwrap_err();
        assert_eq!(err.to_string(), "invalid format for trust_pinning.certs");
    }

    let half = RemoteServerConfig {
        tls_client_cert: Some("c".into()),
        ..RemoteServerConfig::default()
    };
    assert_eq!(
        half.check_client_pair().unwrap_err().to_string(),
        "either pass both client key and cert, or neither"
    );

    for url in ["notary.example:4443", "ftp://x", "no scheme", ""] {
        assert_eq!(
            parse_server_url(url).unwrap_err().to_string(),
            format!("trust server url has to be in the form of http(s)://URL:PORT. Got: {url}")
        );
    }
    assert!(parse_server_url("http://127.0.0.1:4451").is_ok());

    let pinning = TrustPinning {
        disable_tofu: true,
        ..TrustPinning::default()
    };
    let err = pinning.checked_mode_for(&gun("a/b"), true).unwrap_err();
    assert_eq!(err.to_string(), "invalid trust pinning specified");
    assert_eq!(
        pinning.checked_mode_for(&gun("a/b"), false).unwrap(),
        PinningMode::Tofu
    );
}

#[test]
fn pinning_precedence() {
    let mut pinning = TrustPinning::default();
    pinning
        .certs
        .insert("docker.io/library/alpine".into(), vec!["exact".into()]);
    pinning
        .certs
        .insert("docker.io/*".into(), vec!["short".into()]);
    pinning
        .certs
        .insert("docker.io/library/*".into(), vec!["long".into()]);
    pinning
        .certs
        .insert("docker.io/lib".into(), vec!["not a wildcard".into()]);
    pinning
        .ca
        .insert("example.com/".into(), "/ca/short.pem".into());
    pinning
        .ca
        .insert("example.com/team/".into(), "/ca/long.pem".into());
    pinning
        .ca
        .insert("docker.io/".into(), "/ca/docker.pem".into());

    let mode = |g: &str| pinning.mode_for(&gun(g));
    assert_eq!(
        mode("docker.io/library/alpine"),
        PinningMode::Certs(vec!["exact".into()])
    );
    assert_eq!(
        mode("docker.io/library/busybox"),
        PinningMode::Certs(vec!["long".into()])
    );
    assert_eq!(
        mode("docker.io/me/app"),
        PinningMode::Certs(vec!["short".into()])
    );
    // certs (even wildcards) win over ca.
    assert_eq!(
        mode("docker.io/library"),
        PinningMode::Certs(vec!["short".into()])
    );
    assert_eq!(
        mode("example.com/team/app"),
        PinningMode::Ca("/ca/long.pem".into())
    );
    assert_eq!(
        mode("example.com/other"),
        PinningMode::Ca("/ca/short.pem".into())
    );
    assert_eq!(mode("elsewhere/app"), PinningMode::Tofu);
    // A pin applies even with disable_tofu.
    pinning.disable_tofu = true;
    assert!(
        pinning
            .checked_mode_for(&gun("example.com/x"), true)
            .is_ok()
    );
}

#[test]
fn parses_pinning_from_json() {
    let tmp = tempfile::tempdir().unwrap();
    let env = env_in(tmp.path(), None);
    let config = NotaryConfig::parse(
        br#"{"trust_pinning": {"certs": {"Example.com/App": ["abc", "def"], "x/*": []}}}"#,
        "c.json",
        &env,
    )
    .unwrap();
    assert_eq!(
        config.trust_pinning.certs["Example.com/App"],
        ["abc".to_owned(), "def".to_owned()]
    );
    assert!(config.trust_pinning.certs["x/*"].is_empty());
}

#[test]
fn docker_config_dir_of_the_environment() {
    let tmp = tempfile::tempdir().unwrap();
    let mut env = env_in(tmp.path(), None);
    assert_eq!(env.docker_config_dir(), tmp.path().join("home/.docker"));
    env.docker_config = Some("dc".into());
    assert_eq!(env.docker_config_dir(), tmp.path().join("cwd/dc"));
    env.home = None;
    env.docker_config = None;
    assert_eq!(env.docker_config_dir(), tmp.path().join("cwd/.docker"));
}

#[test]
fn hardware_settings_come_from_the_parsed_file_and_the_environment() {
    use signet_signer::yubihsm::{CONNECTOR_ENV, NewKeyRoles};

    let tmp = tempfile::tempdir().unwrap();
    let mut env = env_in(tmp.path(), None);
    let json = br#"{"yubihsm": {"connector": "http://127.0.0.1:12345", "keys": "all"}}"#;
    let config = NotaryConfig::parse(json, "c.json", &env).unwrap();
    let settings = config.hardware().unwrap().unwrap();
    assert_eq!(settings.connector.to_string(), "http://127.0.0.1:12345");
    assert_eq!(settings.new_keys, NewKeyRoles::All);

    // The environment wins, and turns the device off.
    env.yubihsm
        .insert(CONNECTOR_ENV.to_owned(), "none".to_owned());
    let config = NotaryConfig::parse(json, "c.json", &env).unwrap();
    assert_eq!(config.hardware().unwrap(), None);

    // No file, no variables: no device.
    let config = NotaryConfig::load(&env_in(tmp.path(), None)).unwrap();
    assert_eq!(config.hardware().unwrap(), None);

    // A bad object is named with the file it is in.
    let config = NotaryConfig::parse(br#"{"yubihsm": 1}"#, "c.json", &env).unwrap();
    let err = config.hardware().unwrap_err();
    let text = format!("{err}: {:?}", std::error::Error::source(&err));
    assert!(text.contains("yubihsm in "), "{text}");
    assert!(text.contains("c.json"), "{text}");
}

#[test]
fn unknown_keys_are_collected_for_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let env = env_in(tmp.path(), None);
    let config = NotaryConfig::parse(
        br#"{
            "trust_dir": "t",
            "Remote_Server": {"URL": "http://h:1", "urll": "x", "skiptlsverify": false},
            "trust_pinning": {"certs": {"any/gun": ["abc"]}, "disable_tofoo": true},
            "yubihsm": {"connector": "none", "Domain": 1},
            "trustdir": "x"
        }"#,
        "c.json",
        &env,
    )
    .unwrap();
    assert_eq!(
        config.unknown_keys,
        [
            "Remote_Server.urll",
            "trust_pinning.disable_tofoo",
            "trustdir",
            "yubihsm.Domain"
        ]
    );
    let clean = NotaryConfig::parse(
        br#"{"remote_server": {"url": "http://h:1"}}"#,
        "c.json",
        &env,
    )
    .unwrap();
    assert!(clean.unknown_keys.is_empty());
}
