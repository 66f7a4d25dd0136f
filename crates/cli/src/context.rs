//! What every command starts from: the configuration (config file plus command-line
//! overrides, resolved like notary does), the trust directory, the passphrase retriever, the
//! key stores (the YubiHSM 2 when one is configured, then the trust directory's), the trust
//! server and the output.
//!
//! A context has one of two [`Flavour`]s, chosen by the command
//! ([`Command::flavour`](crate::args::Command::flavour)): notary's, for the notary-style
//! commands, and docker's, for `signet trust …`. They differ only in these settings:
//!
//! | | notary | docker |
//! |---|---|---|
//! | trust dir | `-d`, else `trust_dir` of `config.json`, else `~/.notary` | `-d`, else `$DOCKER_CONFIG/trust`, else `~/.docker/trust` |
//! | passphrases | `NOTARY_{ROOT,TARGETS,SNAPSHOT,DELEGATION}_PASSPHRASE`, then prompts | `DOCKER_CONTENT_TRUST_{ROOT,REPOSITORY}_PASSPHRASE`, then docker's prompts |
//! | trust server | `-s`, else `remote_server.url` ([`Context::repository`]) | `-s`, else `DOCKER_CONTENT_TRUST_SERVER`, else the image's registry ([`Context::image_repository`]) |
//! | TLS | flags and `remote_server` | flags (with `remote_server`) when given, else `<docker config dir>/tls/<host:port>/` |
//! | credentials | `NOTARY_AUTH`, then a prompt | the registry's, from docker's `config.json` |
//! | trust pinning | `trust_pinning` of `config.json` | none (trust on first use) |
//! | errors | standard output (`* fatal:`), as notary | standard error, as docker |
//!
//! Both read the notary configuration file (`-c` or `~/.notary/config.json`) and both put the
//! YubiHSM 2 configured there or in `SIGNET_YUBIHSM_*` (resolved by
//! `signet_client::config::hardware`) in front of the trust directory's keys.

use std::cell::OnceCell;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use signet_client::config::{ConfigEnv, HardwareSettings, KNOWN_KEYS, NotaryConfig, TrustPinning};
use signet_client::http::{CredentialSource, TlsOptions};
use signet_client::registry::{DockerConfig, ImageReference, StoredCredentials};
use signet_client::remote::{Access, RemoteOptions, RemoteStore};
use signet_client::repository::RepoWarning;
use signet_client::{Gun, Repository, TrustDir};
use signet_signer::{CryptoService, FileKeyStore, KeyStore, PassphraseRetriever};
use signet_tuf::update;

use crate::error::{CliError, Result};
use crate::hardware;
use crate::options::GlobalOptions;
use crate::output::Output;
use crate::progress;
use crate::terminal::{self, CredentialPrompt};

/// Which client a command behaves like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavour {
    /// The notary client (every command but `trust`).
    Notary,
    /// `docker trust` (the `trust` commands).
    Docker,
}

impl Flavour {
    /// A passphrase retriever with this flavour's variables and prompts, nothing remembered.
    fn retriever(self) -> Arc<dyn PassphraseRetriever> {
        match self {
            Self::Notary => terminal::notary_retriever(),
            Self::Docker => terminal::docker_retriever(),
        }
    }

    /// Whether errors are reported on standard error (docker, so that a script capturing
    /// standard output, as of `signet trust verify`, never mistakes a message for a result)
    /// rather than on standard output (notary).
    pub(crate) fn errors_on_stderr(self) -> bool {
        self == Self::Docker
    }

    /// The trust directory: `-d` for both; else notary's from the configuration, docker's
    /// below docker's config dir.
    fn trust_dir(self, global: &GlobalOptions, env: &ConfigEnv, config: &NotaryConfig) -> PathBuf {
        match (&global.trust_dir, self) {
            (Some(dir), _) => env.cli_path(dir),
            (None, Self::Notary) => config.trust_dir.clone(),
            (None, Self::Docker) => env.docker_config_dir().join("trust"),
        }
    }

    /// The directory below the current one that stands in for the default trust dir when no
    /// home directory is known (and nothing else names one).
    fn homeless_dir(self, global: &GlobalOptions, env: &ConfigEnv) -> Option<PathBuf> {
        if env.home.is_some() || global.trust_dir.is_some() {
            return None;
        }
        match self {
            Self::Notary => Some(env.cwd.join(".notary")),
            Self::Docker if env.docker_config.is_none() => Some(env.docker_config_dir()),
            Self::Docker => None,
        }
    }
}

/// The resolved environment of one command.
pub(crate) struct Context {
    /// The notary configuration with `-s`, `--tlscacert`, `--tlscert` and `--tlskey` applied,
    /// and the flavour's trust dir (`-d` or its default) and trust pinning (none for docker).
    pub(crate) config: NotaryConfig,
    /// Where results go.
    pub(crate) out: Output,
    flavour: Flavour,
    /// docker's config dir (`$DOCKER_CONFIG` or `~/.docker`): registry credentials and trust
    /// server TLS files of the docker flavour.
    docker_dir: PathBuf,
    /// Whether `-s` was given (docker: it wins over `DOCKER_CONTENT_TRUST_SERVER` and the
    /// image's registry).
    server_given: bool,
    /// Whether `--tlscacert`, `--tlscert` or `--tlskey` was given (docker: they win over the
    /// files of the docker config dir).
    tls_given: bool,
    debug: bool,
    verbose: bool,
    /// The passphrase retriever of the whole command, so that each passphrase is asked once.
    retriever: Arc<dyn PassphraseRetriever>,
    /// The trust directory's key store, opened on first use.
    key_store: OnceCell<Arc<FileKeyStore>>,
    /// The YubiHSM 2 settings, when a device is configured.
    hardware: Option<HardwareSettings>,
    /// The YubiHSM 2 key store, made on first use (it connects when first asked for keys).
    hardware_store: OnceCell<Arc<dyn KeyStore>>,
}

impl Context {
    /// Reads the configuration (`-c` file or `~/.notary/config.json`) and the environment, and
    /// applies the command-line overrides for a command of `flavour`. Paths given on the
    /// command line are relative to the current directory.
    pub(crate) fn load(global: &GlobalOptions, flavour: Flavour, out: Output) -> Result<Self> {
        let env = ConfigEnv::from_process(global.config_file.clone());
        Self::with_env(global, flavour, &env, out)
    }

    /// [`load`](Self::load) in `env`.
    fn with_env(
        global: &GlobalOptions,
        flavour: Flavour,
        env: &ConfigEnv,
        out: Output,
    ) -> Result<Self> {
        if let Some(dir) = flavour.homeless_dir(global, env) {
            eprintln!(
                "warning: cannot get current user home directory: environment variable not set; \
                 signet will use {} to store configuration and keys",
                dir.display()
            );
        }
        let mut config = NotaryConfig::load(env)?;
        if flavour == Flavour::Notary {
            // docker does not read the notary configuration, so only notary commands warn.
            for key in &config.unknown_keys {
                eprintln!(
                    "warning: unknown key '{key}' in {} is ignored{}",
                    config.file.display(),
                    crate::suggest::did_you_mean(key, KNOWN_KEYS)
                );
            }
        }
        config.trust_dir = flavour.trust_dir(global, env, &config);
        if flavour == Flavour::Docker {
            // docker has no trust pinning settings.
            config.trust_pinning = TrustPinning::default();
        }
        if let Some(server) = &global.server {
            config.remote.url.clone_from(server);
        }
        if let Some(ca) = &global.tls_ca_cert {
            config.remote.root_ca = Some(env.cli_path(ca));
        }
        if let Some(cert) = &global.tls_cert {
            config.remote.tls_client_cert = Some(env.cli_path(cert));
        }
        if let Some(key) = &global.tls_key {
            config.remote.tls_client_key = Some(env.cli_path(key));
        }
        let hardware = config.hardware()?;
        let context = Self {
            config,
            out,
            flavour,
            docker_dir: env.docker_config_dir(),
            server_given: global.server.is_some(),
            tls_given: global.tls_ca_cert.is_some()
                || global.tls_cert.is_some()
                || global.tls_key.is_some(),
            debug: global.debug,
            verbose: global.verbose || global.debug,
            retriever: flavour.retriever(),
            key_store: OnceCell::new(),
            hardware,
            hardware_store: OnceCell::new(),
        };
        context.debug(&format!(
            "Using the following trust directory: {}",
            context.config.trust_dir.display()
        ));
        if let Some(hardware) = &context.hardware {
            context.debug(&format!(
                "Using the YubiHSM 2 at {} (new keys on the device: {})",
                hardware.connector, hardware.new_keys
            ));
        }
        Ok(context)
    }

    /// Prints a debug message (with `-D`) on standard error.
    pub(crate) fn debug(&self, message: &str) {
        if self.debug {
            eprintln!("debug: {message}");
        }
    }

    /// Prints an informational message (with `-v` or `-D`) on standard error.
    pub(crate) fn info(&self, message: &str) {
        if self.verbose {
            eprintln!("info: {message}");
        }
    }

    /// Prints a warning on standard error.
    pub(crate) fn warn(&self, message: &str) {
        eprintln!("warning: {message}");
    }

    /// The trust directory.
    pub(crate) fn trust_dir(&self) -> TrustDir {
        TrustDir::new(&self.config.trust_dir)
    }

    /// Validates a GUN argument.
    pub(crate) fn gun(&self, gun: &str) -> Result<Gun> {
        Ok(Gun::new(gun)?)
    }

    /// The passphrase retriever of this command (the flavour's environment variables, then
    /// prompts on a terminal; entered passphrases are remembered for the command).
    pub(crate) fn retriever(&self) -> Arc<dyn PassphraseRetriever> {
        self.retriever.clone()
    }

    /// A passphrase retriever with nothing remembered, for choosing a new passphrase.
    pub(crate) fn fresh_retriever(&self) -> Arc<dyn PassphraseRetriever> {
        self.flavour.retriever()
    }

    /// The trust directory's key store (opened, and legacy layouts migrated, on first use).
    pub(crate) fn key_store(&self) -> Result<Arc<FileKeyStore>> {
        if let Some(store) = self.key_store.get() {
            return Ok(store.clone());
        }
        let store = Arc::new(FileKeyStore::open(
            self.trust_dir().path(),
            self.retriever(),
        )?);
        let migration = store.migration();
        for migrated in &migration.migrated {
            self.info(&format!(
                "migrated legacy key file to {}",
                store.private_dir().join(migrated).display()
            ));
        }
        for skipped in &migration.skipped {
            self.warn(&format!(
                "could not migrate legacy key file {}; it was left in place",
                skipped.display()
            ));
        }
        Ok(self.key_store.get_or_init(|| store).clone())
    }

    /// The crypto service over every key store: the YubiHSM 2 first when one is configured
    /// (keys are looked up there first, and new keys of the roles it is set to take are
    /// made there), then the trust directory's.
    pub(crate) fn crypto_service(&self) -> Result<CryptoService> {
        let disk: Arc<dyn KeyStore> = self.key_store()?;
        let mut stores = Vec::new();
        if let Some(hardware) = &self.hardware {
            stores.push(
                self.hardware_store
                    .get_or_init(|| hardware::key_store(hardware))
                    .clone(),
            );
        }
        stores.push(disk);
        Ok(CryptoService::new(stores))
    }

    /// Connects to the configured trust server (notary flavour) for `access`: pings it like
    /// notary and, when it cannot be reached, returns an offline store (every operation then
    /// fails with "client is offline") after saying why on standard error.
    pub(crate) async fn remote(&self, access: Access) -> Result<RemoteStore> {
        let remote = &self.config.remote;
        let url = remote.parsed_url()?;
        let options = RemoteOptions {
            tls: TlsOptions::from_notary_config(remote)?,
            access,
            credentials: Some(Arc::new(CredentialPrompt)),
            ..RemoteOptions::default()
        };
        self.connect(url.as_str(), options).await
    }

    /// Opens the trusted collection `gun` (notary flavour) with a connection to the trust
    /// server for `access` (offline when the server cannot be reached), the configured trust
    /// pinning and every key store.
    pub(crate) async fn repository(&self, gun: Gun, access: Access) -> Result<Repository> {
        let remote = self.remote(access).await?;
        self.open(gun, remote)
    }

    /// Opens the trusted collection of `image` (docker flavour) on its trust server for
    /// `access`, with the registry's credentials from docker's `config.json`.
    pub(crate) fn image_repository(
        &self,
        image: &ImageReference,
        access: Access,
    ) -> Result<Repository> {
        let gun = image.gun().map_err(trust_err)?;
        let server = self.image_server(image)?;
        let credentials = match self.docker_config()?.lookup(image.domain()) {
            StoredCredentials::Found(credentials) => {
                Some(Arc::new(credentials) as Arc<dyn CredentialSource>)
            }
            _ => None,
        };
        let options = RemoteOptions {
            tls: self.image_tls(&server)?,
            access,
            credentials,
            ..RemoteOptions::default()
        };
        let remote = self.block_on(self.connect(&server, options))??;
        self.open(gun, remote)
    }

    /// docker's config dir (`$DOCKER_CONFIG` or `~/.docker`).
    pub(crate) fn docker_dir(&self) -> &Path {
        &self.docker_dir
    }

    /// docker's `config.json` (registry credentials).
    pub(crate) fn docker_config(&self) -> Result<DockerConfig> {
        DockerConfig::load_from_dir(&self.docker_dir).map_err(trust_err)
    }

    /// The trust server of `image`: `-s`, else `DOCKER_CONTENT_TRUST_SERVER` (https only),
    /// else the image's registry.
    fn image_server(&self, image: &ImageReference) -> Result<String> {
        if self.server_given {
            return Ok(self.config.remote.url.clone());
        }
        image.trust_server_from_env().map_err(trust_err)
    }

    /// TLS for the trust server `server` of an image: the command-line files when any is
    /// given, else those of `<docker config dir>/tls/<host:port>/`.
    fn image_tls(&self, server: &str) -> Result<TlsOptions> {
        if self.tls_given {
            return Ok(TlsOptions::from_notary_config(&self.config.remote)?);
        }
        self.debug(&format!(
            "trust server TLS files: {}/tls/<host:port>",
            self.docker_dir.display()
        ));
        signet_client::trust::docker_tls_options(&self.docker_dir, server).map_err(trust_err)
    }

    /// Connects to `server`; see [`remote`](Self::remote).
    async fn connect(&self, server: &str, options: RemoteOptions) -> Result<RemoteStore> {
        self.debug(&format!("trust server: {server}"));
        let store = RemoteStore::connect(server, options).await?;
        if let Some(reason) = store.offline_reason() {
            self.warn(&format!("{reason}; continuing in offline mode"));
        }
        Ok(store)
    }

    /// Opens `gun` in the trust directory over `remote`, with progress on a terminal (notary
    /// flavour; docker shows none).
    fn open(&self, gun: Gun, remote: RemoteStore) -> Result<Repository> {
        let repository = Repository::open(
            &self.trust_dir(),
            gun,
            remote,
            self.config.trust_pinning.clone(),
            self.crypto_service()?,
        )?;
        Ok(
            if self.flavour == Flavour::Notary && terminal::stderr_is_terminal() {
                repository.with_progress(Arc::new(progress::show_event))
            } else {
                repository
            },
        )
    }

    /// Prints the warnings of a repository operation on standard error.
    /// Two findings are normal and shown with `-v` only, as notary logs them below warning
    /// level: a delegation that has no metadata of its own yet (nothing was signed into it),
    /// and an update retried after fetching a rotated root.
    pub(crate) fn warn_all(&self, warnings: &[RepoWarning]) {
        for warning in warnings {
            match warning {
                RepoWarning::Update(
                    update::Warning::DelegationSkipped {
                        reason: update::SkipReason::NotInSnapshot,
                        ..
                    }
                    | update::Warning::Retried { .. },
                ) => self.info(&warning.to_string()),
                // Already said when the server was found unreachable.
                RepoWarning::Offline { .. } => {}
                _ => self.warn(&warning.to_string()),
            }
        }
    }

    /// Runs `future` to completion on a single-threaded runtime.
    pub(crate) fn block_on<F: Future>(&self, future: F) -> Result<F::Output> {
        Ok(Self::runtime()?.block_on(future))
    }

    /// A single-threaded runtime, for a command that talks to the server in several steps
    /// with questions in between (connections stay usable from one step to the next).
    pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(CliError::stdio("start the network runtime"))
    }
}

/// A failure of a docker-flavour (`signet trust`) operation: its hint speaks of docker's
/// settings.
pub(crate) fn trust_err(error: impl Into<signet_client::Error>) -> CliError {
    CliError::Trust(Box::new(error.into()))
}

/// Reads a file named on the command line.
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| CliError::file("open", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::OutputFormat;

    fn env_in(dir: &Path) -> ConfigEnv {
        ConfigEnv {
            home: Some(dir.join("home")),
            cwd: dir.join("cwd"),
            ..ConfigEnv::default()
        }
    }

    fn load(global: &GlobalOptions, flavour: Flavour, env: &ConfigEnv) -> Context {
        Context::with_env(global, flavour, env, Output::stdout(OutputFormat::Text)).unwrap()
    }

    #[test]
    fn each_flavour_has_its_trust_dir() {
        let tmp = tempfile::tempdir().unwrap();
        let mut env = env_in(tmp.path());
        let global = GlobalOptions::default();
        let notary = load(&global, Flavour::Notary, &env);
        assert_eq!(notary.trust_dir().path(), tmp.path().join("home/.notary"));
        let docker = load(&global, Flavour::Docker, &env);
        assert_eq!(
            docker.trust_dir().path(),
            tmp.path().join("home/.docker/trust")
        );
        assert_eq!(docker.docker_dir(), tmp.path().join("home/.docker"));

        env.docker_config = Some("dc".into());
        let docker = load(&global, Flavour::Docker, &env);
        assert_eq!(docker.trust_dir().path(), tmp.path().join("cwd/dc/trust"));

        // -d wins for both, relative to the current directory.
        let global = GlobalOptions {
            trust_dir: Some("td".into()),
            ..GlobalOptions::default()
        };
        for flavour in [Flavour::Notary, Flavour::Docker] {
            let ctx = load(&global, flavour, &env);
            assert_eq!(ctx.trust_dir().path(), tmp.path().join("cwd/td"));
        }
    }

    #[test]
    fn docker_ignores_trust_pinning_and_takes_the_configured_device() {
        let tmp = tempfile::tempdir().unwrap();
        let env = env_in(tmp.path());
        let config = tmp.path().join("config.json");
        std::fs::write(
            &config,
            br#"{"trust_pinning": {"disable_tofu": true},
                 "yubihsm": {"connector": "http://127.0.0.1:1"}}"#,
        )
        .unwrap();
        let env = ConfigEnv {
            config_file: Some(config),
            ..env
        };
        let global = GlobalOptions::default();
        let notary = load(&global, Flavour::Notary, &env);
        assert!(notary.config.trust_pinning.disable_tofu);
        assert!(notary.hardware.is_some());
        let docker = load(&global, Flavour::Docker, &env);
        assert_eq!(docker.config.trust_pinning, TrustPinning::default());
        assert_eq!(docker.hardware, notary.hardware);
    }

    #[test]
    fn the_home_fallback_of_each_flavour() {
        let tmp = tempfile::tempdir().unwrap();
        let homeless = ConfigEnv {
            home: None,
            ..env_in(tmp.path())
        };
        let global = GlobalOptions::default();
        assert_eq!(
            Flavour::Notary.homeless_dir(&global, &homeless),
            Some(tmp.path().join("cwd/.notary"))
        );
        assert_eq!(
            Flavour::Docker.homeless_dir(&global, &homeless),
            Some(tmp.path().join("cwd/.docker"))
        );
        let with_docker_config = ConfigEnv {
            docker_config: Some("dc".into()),
            ..homeless.clone()
        };
        assert_eq!(
            Flavour::Docker.homeless_dir(&global, &with_docker_config),
            None
        );
        let with_dir = GlobalOptions {
            trust_dir: Some("td".into()),
            ..GlobalOptions::default()
        };
        assert_eq!(Flavour::Notary.homeless_dir(&with_dir, &homeless), None);
        assert_eq!(
            Flavour::Notary.homeless_dir(&global, &env_in(tmp.path())),
            None
        );
    }
}
