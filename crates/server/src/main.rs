//! `signet-server`: a Notary-compatible TUF metadata server.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use signet_server::config::{Config, Overrides};
use signet_server::server;

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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let overrides = Overrides {
        listen: cli.listen,
        database_url: cli.database_url,
        data_dir: cli.data_dir,
        kek_file: cli.kek_file,
        key_algorithm: cli.key_algorithm,
        tls_cert_file: cli.tls_cert,
        tls_key_file: cli.tls_key,
        client_ca_file: cli.client_ca,
        log_level: cli.log_level,
        log_format: cli.log_format,
        max_body_bytes: cli.max_body_bytes,
        gun_prefixes: cli.gun_prefixes,
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
    let result = runtime.block_on(async {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => server::run(config).await,
            Command::Migrate => {
                let store = server::open_store(&config, true).await?;
                tracing::info!(url_backend = store.backend().as_str(), "migrations applied");
                store.close().await;
                Ok(())
            }
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
