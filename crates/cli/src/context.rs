//! What every command starts from: the configuration (config file plus command-line
//! overrides, resolved like notary does), the trust directory, the key store and the output.

use std::cell::OnceCell;
use std::path::Path;
use std::sync::Arc;

use signet_client::config::{ConfigEnv, NotaryConfig};
use signet_client::http::TlsOptions;
use signet_client::remote::{Access, RemoteOptions, RemoteStore};
use signet_client::repository::RepoWarning;
use signet_client::{Gun, Repository, TrustDir};
use signet_signer::{CryptoService, FileKeyStore, KeyStore, PassphraseRetriever};
use signet_tuf::update;

use crate::error::{CliError, Result};
use crate::hardware::HardwareSettings;
use crate::options::GlobalOptions;
use crate::output::Output;
use crate::progress;
use crate::terminal::{self, CredentialPrompt};

/// The resolved environment of one command.
pub(crate) struct Context {
    /// The configuration with `-d`, `-s`, `--tlscacert`, `--tlscert` and `--tlskey` applied.
    pub(crate) config: NotaryConfig,
    /// Where results go.
    pub(crate) out: Output,
    /// The global flags as given (the docker-style `trust` commands resolve their own trust
    /// dir and server from them).
    pub(crate) global: GlobalOptions,
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
    /// Reads the configuration (`-c` file or `~/.notary/config.json`) and applies the
    /// command-line overrides. Paths given on the command line are relative to the current
    /// directory.
    pub(crate) fn load(global: &GlobalOptions, out: Output) -> Result<Self> {
        let env = ConfigEnv::from_process(global.config_file.clone());
        if env.home.is_none() && global.trust_dir.is_none() {
            eprintln!(
                "warning: cannot get current user home directory: environment variable not set; \
                 signet will use {} to store configuration and keys",
                env.cwd.join(".notary").display()
            );
        }
        let mut config = NotaryConfig::load(&env)?;
        if let Some(dir) = &global.trust_dir {
            config.trust_dir = env.cli_path(dir);
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
        let config_json = if config.file_found {
            std::fs::read(&config.file).ok()
        } else {
            None
        };
        let hardware = HardwareSettings::resolve(config_json.as_deref(), &config.file, |name| {
            std::env::var(name).ok()
        })?;
        let context = Self {
            config,
            out,
            global: global.clone(),
            debug: global.debug,
            verbose: global.verbose || global.debug,
            retriever: terminal::notary_retriever(),
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
                hardware.connector(),
                hardware.new_keys()
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

    /// The passphrase retriever of this command (environment variables, then prompts on a
    /// terminal; entered passphrases are remembered for the command).
    pub(crate) fn retriever(&self) -> Arc<dyn PassphraseRetriever> {
        self.retriever.clone()
    }

    /// A passphrase retriever with nothing remembered, for choosing a new passphrase.
    pub(crate) fn fresh_retriever(&self) -> Arc<dyn PassphraseRetriever> {
        terminal::notary_retriever()
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
                    .get_or_init(|| hardware.key_store())
                    .clone(),
            );
        }
        stores.push(disk);
        Ok(CryptoService::new(stores))
    }

    /// Connects to the trust server for `access`: pings it like notary and, when it cannot be
    /// reached, returns an offline store (every operation then fails with "client is offline")
    /// after saying why on standard error.
    pub(crate) async fn remote(&self, access: Access) -> Result<RemoteStore> {
        let remote = &self.config.remote;
        let url = remote.parsed_url()?;
        let options = RemoteOptions {
            tls: TlsOptions::from_notary_config(remote)?,
            access,
            credentials: Some(Arc::new(CredentialPrompt)),
            ..RemoteOptions::default()
        };
        self.debug(&format!("trust server: {url}"));
        let store = RemoteStore::connect(url.as_str(), options).await?;
        if let Some(reason) = store.offline_reason() {
            self.warn(&format!("{reason}; continuing in offline mode"));
        }
        Ok(store)
    }

    /// Opens the trusted collection `gun` with a connection to the trust server for `access`
    /// (offline when the server cannot be reached), the configured trust pinning and the trust
    /// directory's keys.
    pub(crate) async fn repository(&self, gun: Gun, access: Access) -> Result<Repository> {
        let remote = self.remote(access).await?;
        let repository = Repository::open(
            &self.trust_dir(),
            gun,
            remote,
            self.config.trust_pinning.clone(),
            self.crypto_service()?,
        )?;
        Ok(if terminal::stderr_is_terminal() {
            repository.with_progress(Arc::new(progress::show_event))
        } else {
            repository
        })
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
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(CliError::stdio("start the network runtime"))?;
        Ok(runtime.block_on(future))
    }
}

/// Reads a file named on the command line.
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| CliError::file("open", path, e))
}
