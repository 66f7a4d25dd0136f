//! What every command starts from: the configuration (config file plus command-line
//! overrides, resolved like notary does), the trust directory, the key store and the output.

use std::path::Path;
use std::sync::Arc;

use signet_client::config::{ConfigEnv, NotaryConfig};
use signet_client::remote::{Access, RemoteOptions, RemoteStore, TlsOptions};
use signet_client::{Gun, TrustDir};
use signet_signer::{CryptoService, FileKeyStore, KeyStore, PassphraseRetriever};

use crate::args::GlobalOptions;
use crate::error::{CliError, Result};
use crate::output::Output;
use crate::terminal::{self, CredentialPrompt};

/// The resolved environment of one command.
pub(crate) struct Context {
    /// The configuration with `-d`, `-s`, `--tlscacert`, `--tlscert` and `--tlskey` applied.
    pub(crate) config: NotaryConfig,
    /// Where results go.
    pub(crate) out: Output,
    debug: bool,
    verbose: bool,
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
        let context = Self {
            config,
            out,
            debug: global.debug,
            verbose: global.verbose || global.debug,
        };
        context.debug(&format!(
            "Using the following trust directory: {}",
            context.config.trust_dir.display()
        ));
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

    /// A fresh passphrase retriever (environment variables, then prompts on a terminal).
    pub(crate) fn retriever(&self) -> Arc<dyn PassphraseRetriever> {
        terminal::notary_retriever()
    }

    /// Opens the trust directory's key store with `retriever`, reporting what a legacy-layout
    /// migration did.
    pub(crate) fn key_store_with(
        &self,
        retriever: Arc<dyn PassphraseRetriever>,
    ) -> Result<Arc<FileKeyStore>> {
        let store = FileKeyStore::open(self.trust_dir().path(), retriever)?;
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
        Ok(Arc::new(store))
    }

    /// Opens the key store with a fresh retriever.
    pub(crate) fn key_store(&self) -> Result<Arc<FileKeyStore>> {
        self.key_store_with(self.retriever())
    }

    /// The crypto service over every key store (the trust directory's).
    pub(crate) fn crypto_service(&self) -> Result<CryptoService> {
        let store: Arc<dyn KeyStore> = self.key_store()?;
        Ok(CryptoService::new(vec![store]))
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
            self.warn(reason);
            self.info("continuing in offline mode");
        }
        Ok(store)
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
