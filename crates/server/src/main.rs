//! `signet-server`: a Notary-compatible TUF metadata server.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use signet_server::config::{Config, Overrides};
use signet_server::error::{
    MoveKeysError, NotaryServerError, NotarySignerError, RotateKekError, TrustedByError,
};
use signet_server::hsm::{self, MoveOptions};
use signet_server::kek::Kek;
use signet_server::notary_server::{self, ServerDb, ServerImportOptions};
use signet_server::notary_signer::{self, ExportOptions, ImportOptions, Passphrases, SignerDb};
use signet_server::server;
use signet_server::store::Store;

/// A Notary-compatible TUF metadata server on PostgreSQL or SQLite.
///
/// Without arguments it serves plain HTTP on 127.0.0.1:4443 with a SQLite database and a
/// generated key-encryption key under ./signet-data (or $XDG_DATA_HOME/signet-server): for
/// trying it out only.
#[derive(Debug, Parser)]
#[command(name = "signet-server", version, about, long_about)]
struct Cli {
    /// TOML configuration file.
    #[arg(short, long, env = "SIGNET_SERVER_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// Address to listen on (default 127.0.0.1:4443).
    #[arg(long, env = "SIGNET_SERVER_LISTEN", global = true)]
    listen: Option<String>,
    /// Database URL: postgres://… or sqlite://…?mode=rwc.
    #[arg(long, env = "SIGNET_SERVER_DATABASE_URL", global = true)]
    database_url: Option<String>,
    /// Directory for the default SQLite database and key-encryption key.
    #[arg(long, env = "SIGNET_SERVER_DATA_DIR", global = true)]
    data_dir: Option<PathBuf>,
    /// File holding the key-encryption key for server-held keys (64 hex digits).
    #[arg(long, env = "SIGNET_SERVER_KEK_FILE", global = true)]
    kek_file: Option<PathBuf>,
    /// Algorithm of the keys the server creates: ecdsa (default) or ed25519.
    #[arg(long, env = "SIGNET_SERVER_KEY_ALGORITHM", global = true)]
    key_algorithm: Option<String>,
    /// Where new server keys are generated and held: sealed (default) or yubihsm.
    #[arg(long, env = "SIGNET_SERVER_KEY_STORE", global = true)]
    key_store: Option<String>,
    /// yubihsm-connector of the YubiHSM 2 holding server keys: http://<host>:<port>.
    #[arg(long, env = "SIGNET_SERVER_YUBIHSM_CONNECTOR", global = true)]
    yubihsm_connector: Option<String>,
    /// Object ID of the YubiHSM 2 authentication key (decimal or 0x hex).
    #[arg(
        long = "yubihsm-auth-key",
        env = "SIGNET_SERVER_YUBIHSM_AUTH_KEY",
        value_parser = parse_object_id,
        global = true
    )]
    yubihsm_auth_key: Option<u16>,
    /// File holding the YubiHSM 2 password (otherwise the environment variable
    /// SIGNET_SERVER_YUBIHSM_PASSWORD; there is no flag for the password itself).
    #[arg(long, env = "SIGNET_SERVER_YUBIHSM_PASSWORD_FILE", global = true)]
    yubihsm_password_file: Option<PathBuf>,
    /// TLS certificate chain (PEM).
    #[arg(long, env = "SIGNET_SERVER_TLS_CERT", global = true)]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, env = "SIGNET_SERVER_TLS_KEY", global = true)]
    tls_key: Option<PathBuf>,
    /// CA bundle (PEM); when given, clients must present a certificate it signed.
    #[arg(long, env = "SIGNET_SERVER_CLIENT_CA", global = true)]
    client_ca: Option<PathBuf>,
    /// Largest accepted request body in bytes (default 64 MiB).
    #[arg(long, env = "SIGNET_SERVER_MAX_BODY_BYTES", global = true)]
    max_body_bytes: Option<usize>,
    /// Accepted GUN prefix, ending in '/' (repeatable).
    #[arg(
        long = "gun-prefix",
        env = "SIGNET_SERVER_GUN_PREFIXES",
        value_delimiter = ',',
        global = true
    )]
    gun_prefixes: Vec<String>,
    /// Serve the read-only web view of trust state at /ui/ (`--ui`, `--ui=false`; default:
    /// [ui] enabled in the configuration, else off).
    #[arg(
        long = "ui",
        env = "SIGNET_SERVER_UI",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new(),
        global = true
    )]
    ui: Option<bool>,
    /// Log filter, e.g. info or signet_server=debug (RUST_LOG wins when set).
    #[arg(long, env = "SIGNET_SERVER_LOG_LEVEL", global = true)]
    log_level: Option<String>,
    /// Log format: text or json.
    #[arg(long, env = "SIGNET_SERVER_LOG_FORMAT", global = true)]
    log_format: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Import the timestamp and snapshot keys of a Go notary-signer database.
    ///
    /// Each key becomes a server key of the GUN and role whose stored root lists it:
    /// active when the current root does, retired when only an older root did; a key no
    /// root lists is pending if never used, else retired, under its row's gun and role.
    /// The passphrase of alias X comes from NOTARY_SIGNER_X, else [notary_signer.passphrases]
    /// in the configuration. All or nothing; running it again changes nothing.
    ImportNotarySigner {
        /// The notary-signer database: postgres://… or mysql://… (default: [notary_signer]
        /// database_url).
        #[arg(long, env = "SIGNET_SERVER_SIGNER_DATABASE_URL")]
        signer_database_url: Option<String>,
        /// Print what would be imported; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Leave out the key with this ID (repeatable), e.g. a damaged key no root lists.
        #[arg(long = "skip-key", value_name = "KEY_ID")]
        skip_keys: Vec<String>,
    },
    /// Write signet's server keys into a Go notary-signer database, so the Go notary-server
    /// and notary-signer can take over again.
    ///
    /// New rows are encrypted as notary-signer does under the passphrase of --alias
    /// (NOTARY_SIGNER_<ALIAS>, else [notary_signer.passphrases]). Keys already there keep
    /// their ciphertext; their last_used is brought up to date. Stop signet-server first.
    ExportNotarySigner {
        /// The notary-signer database: postgres://… or mysql://… (default: [notary_signer]
        /// database_url).
        #[arg(long, env = "SIGNET_SERVER_SIGNER_DATABASE_URL")]
        signer_database_url: Option<String>,
        /// The passphrase alias to encrypt new rows under (notary-signer's
        /// storage.default_alias).
        #[arg(long, env = "NOTARY_SIGNER_DEFAULT_ALIAS")]
        alias: String,
        /// Print what would be written; write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Copy the metadata and changefeed of a Go notary-server database (MySQL/MariaDB or
    /// PostgreSQL) into signet's database.
    ///
    /// Every tuf_files row is copied byte for byte with its checksum (computed when the
    /// column is NULL), version and times; soft-deleted rows too (never served). Changefeed
    /// records keep their IDs. Rows signet already holds identically are skipped; a row held
    /// with other content stops the import. One transaction: all or nothing.
    ImportNotaryServer {
        /// The notary-server database: mysql://user:pw@host:3306/notaryserver or postgres://…
        /// (a sqlx URL, not a Go DSN).
        #[arg(long, env = "SIGNET_SERVER_NOTARY_SERVER_DATABASE_URL")]
        server_database_url: String,
        /// Print what would be copied; write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Move the server keys sealed under the key-encryption key onto the YubiHSM 2 of
    /// [keys.yubihsm].
    ///
    /// Each pending or active key is unsealed, imported into the device (not exportable unless
    /// keys.yubihsm.exportable_under_wrap), made to sign a test message whose signature must
    /// verify against the public key the database records, and then recorded as held in the
    /// device; from then on it signs there. The sealed copy stays unless --remove-sealed is
    /// given. Safe to run again (while the server runs, too): keys already on the device are
    /// left as they are, and a key an interrupted run imported is recorded, not imported twice.
    MoveKeysToYubihsm {
        /// Delete the sealed copy of every key on the device that passes the test signature,
        /// so that the database and the key-encryption key no longer hold it.
        #[arg(long)]
        remove_sealed: bool,
        /// Move retired keys too (by default they stay sealed).
        #[arg(long)]
        include_retired: bool,
        /// Print what would be done; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// List every repository and role whose current metadata trusts a key: root, targets,
    /// snapshot, timestamp and delegations, from the key index (the same database settings
    /// as the server).
    #[command(group(clap::ArgGroup::new("key").required(true).args(["key_id", "key_file"])))]
    TrustedBy {
        /// The key ID (64 hex digits), as metadata lists it or, for a certificate, the
        /// canonical ID of its public key.
        key_id: Option<String>,
        /// A PEM certificate or public key instead of an ID: a certificate is looked up by
        /// its certificate ID and by its canonical public key ID.
        #[arg(long, value_name = "FILE")]
        key_file: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        output: OutputFormat,
    },
    /// Re-seal every server-held private key under a new key-encryption key.
    ///
    /// Each sealed key is opened with the current key-encryption key (keys.kek_file or
    /// --kek-file) and sealed again under the key of --new-kek-file (created, mode 0600, when
    /// the file does not exist), all in one transaction: if any key does not open, nothing
    /// changes. Keys held only in the YubiHSM 2 are listed and left alone. Stop every server
    /// using the database first; afterwards point keys.kek_file at the new file.
    RotateKek {
        /// The new key-encryption key (64 hex digits); created when missing.
        #[arg(long, value_name = "FILE")]
        new_kek_file: PathBuf,
        /// Print what would be re-sealed; change nothing (and create no file).
        #[arg(long)]
        dry_run: bool,
    },
    /// Make server keys held in the YubiHSM 2 sign with their sealed copies again.
    ///
    /// Only keys that still have a sealed copy can go back; the copy must open with the
    /// key-encryption key. Keys generated on the device, or whose sealed copy was removed, are
    /// listed: rotate them to leave the device. Device objects are not deleted.
    MoveKeysOffYubihsm {
        /// Print what would be done; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

/// How `trusted-by` writes its answer.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum OutputFormat {
    /// A table per key ID.
    Text,
    /// JSON.
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let overrides = Overrides {
        listen: cli.listen,
        database_url: cli.database_url,
        data_dir: cli.data_dir,
        kek_file: cli.kek_file,
        key_algorithm: cli.key_algorithm,
        key_store: cli.key_store,
        yubihsm_connector: cli.yubihsm_connector,
        yubihsm_auth_key_id: cli.yubihsm_auth_key,
        yubihsm_password_file: cli.yubihsm_password_file,
        tls_cert_file: cli.tls_cert,
        tls_key_file: cli.tls_key,
        client_ca_file: cli.client_ca,
        log_level: cli.log_level,
        log_format: cli.log_format,
        max_body_bytes: cli.max_body_bytes,
        gun_prefixes: cli.gun_prefixes,
        ui_enabled: cli.ui,
    };
    let config = match Config::load(cli.config.as_deref(), overrides) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("signet-server: {e}");
            return ExitCode::from(2);
        }
    };
    server::init_logging(&config.log_level, config.log_json);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("signet-server: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result: Result<(), MainError> = runtime.block_on(async {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => server::run(config).await.map_err(MainError::from),
            Command::Migrate => {
                let store = server::open_store(&config, true).await?;
                tracing::info!(url_backend = store.backend().as_str(), "migrations applied");
                store.close().await;
                Ok(())
            }
            Command::ImportNotarySigner {
                signer_database_url,
                dry_run,
                skip_keys,
            } => {
                let opts = ImportOptions {
                    dry_run,
                    skip_keys: skip_keys.into_iter().collect(),
                };
                let url = signer_url(signer_database_url, &config)?;
                move_keys(&config, &url, |store, kek, signer, passphrases| {
                    Box::pin(async move {
                        notary_signer::import(&store, &kek, &signer, &passphrases, &opts)
                            .await
                            .map(|r| r.to_string())
                    })
                })
                .await
            }
            Command::ExportNotarySigner {
                signer_database_url,
                alias,
                dry_run,
            } => {
                let opts = ExportOptions { alias, dry_run };
                let url = signer_url(signer_database_url, &config)?;
                move_keys(&config, &url, |store, kek, signer, passphrases| {
                    Box::pin(async move {
                        notary_signer::export(&store, &kek, &signer, &passphrases, &opts)
                            .await
                            .map(|r| r.to_string())
                    })
                })
                .await
            }
            Command::ImportNotaryServer {
                server_database_url,
                dry_run,
            } => import_notary_server(&config, &server_database_url, dry_run).await,
            Command::MoveKeysToYubihsm {
                remove_sealed,
                include_retired,
                dry_run,
            } => {
                let opts = MoveOptions {
                    dry_run,
                    remove_sealed,
                    include_retired,
                };
                move_to_device(&config, &opts).await
            }
            Command::MoveKeysOffYubihsm { dry_run } => move_off_device(&config, dry_run).await,
            Command::RotateKek {
                new_kek_file,
                dry_run,
            } => rotate_kek(&config, &new_kek_file, dry_run).await,
            Command::TrustedBy {
                key_id,
                key_file,
                output,
            } => trusted_by(&config, key_id.as_deref(), key_file.as_deref(), output).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "signet-server failed");
            eprintln!("signet-server: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Parses an object ID written in decimal or `0x` hex (1–65535).
fn parse_object_id(text: &str) -> Result<u16, String> {
    let t = text.trim();
    let parsed = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => u16::from_str_radix(hex, 16),
        None => t.parse::<u16>(),
    };
    match parsed {
        Ok(id) if id != 0 => Ok(id),
        _ => Err(format!(
            "{text:?}: expected an object ID from 1 to 65535 (decimal or 0x hex)"
        )),
    }
}

/// Any error of a subcommand, for the one place that reports it.
#[derive(Debug, thiserror::Error)]
enum MainError {
    #[error(transparent)]
    Run(#[from] server::RunError),
    #[error(transparent)]
    NotarySigner(#[from] NotarySignerError),
    #[error(transparent)]
    NotaryServer(#[from] NotaryServerError),
    #[error(transparent)]
    MoveKeys(#[from] MoveKeysError),
    #[error(transparent)]
    TrustedBy(#[from] TrustedByError),
    #[error(transparent)]
    RotateKek(#[from] RotateKekError),
    #[error(
        "move-keys-to-yubihsm needs a YubiHSM 2: configure [keys.yubihsm] (or \
         --yubihsm-connector) and its password"
    )]
    NoDevice,
}

/// Opens the store, the key-encryption key and the YubiHSM 2, moves the sealed keys onto it
/// and prints the report.
async fn move_to_device(config: &Config, opts: &MoveOptions) -> Result<(), MainError> {
    warn_local_defaults(config);
    let device = server::open_key_device(config)
        .await?
        .ok_or(MainError::NoDevice)?;
    let store = server::open_store(config, config.auto_migrate).await?;
    let kek = match server::load_kek(config) {
        Ok(k) => k,
        Err(e) => {
            store.close().await;
            return Err(e.into());
        }
    };
    let outcome = hsm::move_keys_to_device(&store, &kek, &device, opts).await;
    store.close().await;
    print!("{}", outcome?);
    Ok(())
}

/// Opens the store and the key-encryption key, moves the device keys that have a sealed copy
/// back to it and prints the report.
async fn move_off_device(config: &Config, dry_run: bool) -> Result<(), MainError> {
    warn_local_defaults(config);
    let store = server::open_store(config, config.auto_migrate).await?;
    let kek = match server::load_kek(config) {
        Ok(k) => k,
        Err(e) => {
            store.close().await;
            return Err(e.into());
        }
    };
    let outcome = hsm::move_keys_off_device(&store, &kek, dry_run).await;
    store.close().await;
    print!("{}", outcome?);
    Ok(())
}

/// Opens the store and the current key-encryption key, re-seals every sealed server key
/// under the key of `new_kek_file` and prints the report.
async fn rotate_kek(
    config: &Config,
    new_kek_file: &std::path::Path,
    dry_run: bool,
) -> Result<(), MainError> {
    warn_local_defaults(config);
    let current = server::load_kek(config)?;
    let store = server::open_store(config, config.auto_migrate).await?;
    let outcome = signet_server::kek::rotate(&store, &current, new_kek_file, dry_run).await;
    store.close().await;
    print!("{}", outcome?);
    Ok(())
}

/// The notary-signer database URL: the flag (or its variable), else the configuration.
fn signer_url(flag: Option<String>, config: &Config) -> Result<String, NotarySignerError> {
    flag.or_else(|| config.notary_signer.database_url.clone())
        .filter(|u| !u.is_empty())
        .ok_or(NotarySignerError::NoSignerDatabase)
}

/// Opens signet's store (migrating it when `storage.auto_migrate` is on) and the
/// notary-server database, copies, and prints the report.
async fn import_notary_server(
    config: &Config,
    source_url: &str,
    dry_run: bool,
) -> Result<(), MainError> {
    if config.uses_local_database() {
        tracing::warn!(
            data_dir = %config.data_dir.display(),
            "copying into the LOCAL DEFAULT database: configure [storage] url (or \
             --database-url) to import into a real deployment"
        );
    }
    let store = server::open_store(config, config.auto_migrate).await?;
    let source = match ServerDb::connect(source_url).await {
        Ok(s) => s,
        Err(e) => {
            store.close().await;
            return Err(e.into());
        }
    };
    let outcome = notary_server::import(&store, &source, &ServerImportOptions { dry_run }).await;
    source.close().await;
    store.close().await;
    print!("{}", outcome?);
    Ok(())
}

/// Looks up the key ID (or the IDs of the key file) in the key index and prints the answer.
async fn trusted_by(
    config: &Config,
    key_id: Option<&str>,
    key_file: Option<&std::path::Path>,
    output: OutputFormat,
) -> Result<(), MainError> {
    let queries = match (key_id, key_file) {
        (_, Some(file)) => signet_server::trusted_by::key_ids_of_file(file)?,
        (Some(id), None) => vec![signet_server::trusted_by::key_id_of_arg(id)?],
        (None, None) => Vec::new(),
    };
    warn_local_defaults(config);
    let store = server::open_store(config, config.auto_migrate).await?;
    let output = match output {
        OutputFormat::Text => signet_server::trusted_by::Output::Text,
        OutputFormat::Json => signet_server::trusted_by::Output::Json,
    };
    let mut out = Vec::new();
    let outcome = signet_server::trusted_by::report(&store, &queries, output, &mut out).await;
    store.close().await;
    outcome?;
    std::io::Write::write_all(&mut std::io::stdout(), &out)
        .map_err(|e| MainError::TrustedBy(TrustedByError::Output(e)))
}

/// Says loudly that the built-in local database or key is in use.
fn warn_local_defaults(config: &Config) {
    if let Some(defaults) = config.local_defaults.describe(config) {
        tracing::warn!("{defaults}");
    }
}

type Work = std::pin::Pin<Box<dyn Future<Output = Result<String, NotarySignerError>> + Send>>;

/// Opens signet's store (migrating it when `storage.auto_migrate` is on), the key-encryption
/// key and the notary-signer database, runs `work` and prints its report.
async fn move_keys(
    config: &Config,
    signer_url: &str,
    work: impl FnOnce(Store, Arc<Kek>, SignerDb, Passphrases) -> Work,
) -> Result<(), MainError> {
    warn_local_defaults(config);
    let store = server::open_store(config, config.auto_migrate).await?;
    let kek = Arc::new(server::load_kek(config)?);
    let signer = SignerDb::connect(signer_url).await?;
    let passphrases = Passphrases::from_env_and(config.notary_signer.passphrases.clone());
    let outcome = work(store.clone(), kek, signer.clone(), passphrases).await;
    signer.close().await;
    store.close().await;
    print!("{}", outcome?);
    Ok(())
}
