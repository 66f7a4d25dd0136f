//! `admission serve`: the Kubernetes admission webhook (`signet_admission`), enforcing a trust
//! policy on the images of Pods and workloads. Registry credentials and TLS files come from
//! docker's configuration directory, as for `trust verify --policy`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use signet_admission::Settings;
use signet_server::config::TlsSettings;

use crate::context::Context;
use crate::error::{CliError, Result};

/// `signet admission …`.
#[derive(Debug, Subcommand)]
pub(crate) enum AdmissionCommand {
    /// Serves the admission webhook over HTTPS until SIGTERM.
    #[command(
        long_about = "Serves AdmissionReview v1 over HTTPS: POST /validate answers allowed or \
                      denied (naming each denied image, where it is and why); POST /mutate \
                      also rewrites tags to their signed digests where the policy's rule pins \
                      digests. GET /healthz, /readyz (the trust servers' changefeeds are read) \
                      and /metrics (Prometheus). Decisions are cached, and dropped when a trust \
                      server's changefeed shows a change to their repository.",
        override_usage = "signet admission serve --policy <FILE> --tls-cert <FILE> --tls-key \
                          <FILE> [OPTIONS]"
    )]
    Serve(ServeArgs),
}

/// `admission serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// The trust policy (TOML; see docs/trust-policy.md).
    #[arg(long, value_name = "FILE")]
    policy: PathBuf,
    /// The serving certificate chain (PEM), valid for the webhook Service's DNS name.
    #[arg(long, value_name = "FILE")]
    tls_cert: PathBuf,
    /// The serving certificate's private key (PEM).
    #[arg(long, value_name = "FILE")]
    tls_key: PathBuf,
    /// Require a client certificate signed by this CA (PEM): the API server's, when it is
    /// configured to present one.
    #[arg(long, value_name = "FILE")]
    client_ca: Option<PathBuf>,
    /// Address and port to listen on.
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:8443")]
    listen: SocketAddr,
    /// Decisions kept in the cache (0 turns the cache off).
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    cache_size: usize,
    /// How long a cached decision is used at most, in seconds.
    #[arg(long, value_name = "SECONDS", default_value = "300", value_parser = seconds)]
    cache_ttl: Duration,
    /// How often each trust server's changefeed is read, in seconds (fractions allowed).
    #[arg(long, value_name = "SECONDS", default_value = "5", value_parser = seconds)]
    changefeed_interval: Duration,
    /// How long a review may take before the object is denied, in seconds (at most 30, the
    /// API server's longest webhook timeout).
    #[arg(long, value_name = "SECONDS", default_value = "8", value_parser = seconds)]
    review_timeout: Duration,
}

/// A number of seconds, fractions allowed.
fn seconds(text: &str) -> std::result::Result<Duration, String> {
    let value: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    Duration::try_from_secs_f64(value).map_err(|_| format!("{text:?} is not a number of seconds"))
}

/// Runs `admission …`.
pub(crate) fn run(ctx: &mut Context, command: AdmissionCommand) -> Result<()> {
    match command {
        AdmissionCommand::Serve(args) => serve(ctx, args),
    }
}

fn serve(ctx: &mut Context, args: ServeArgs) -> Result<()> {
    init_logging();
    let mut settings = Settings::new(
        args.policy,
        TlsSettings {
            cert_file: args.tls_cert,
            key_file: args.tls_key,
            client_ca_file: args.client_ca,
        },
        ctx.docker_dir().to_path_buf(),
    );
    settings.listen = args.listen;
    settings.cache_size = args.cache_size;
    settings.cache_ttl = args.cache_ttl;
    settings.changefeed_interval = args.changefeed_interval;
    settings.review_timeout = args.review_timeout;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::stdio("start the runtime"))?;
    runtime.block_on(signet_admission::run(settings))?;
    Ok(())
}

/// Logs to standard error, at `info` unless `RUST_LOG` says otherwise.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_take_fractions_and_refuse_the_rest() {
        assert_eq!(seconds("0.2").unwrap(), Duration::from_millis(200));
        assert_eq!(seconds("5").unwrap(), Duration::from_secs(5));
        assert!(seconds("-1").is_err());
        assert!(
            seconds("5s")
                .unwrap_err()
                .contains("not a number of seconds")
        );
    }
}
