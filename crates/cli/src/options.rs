//! Options every command shares: notary's global flags, the output format, the GUN and
//! key ID arguments.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use signet_tuf::KeyId;

use crate::error::{CliError, Result};

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum OutputFormat {
    /// Human-readable output, as notary prints it.
    Text,
    /// One JSON document on standard output.
    Json,
}

/// notary's global (persistent) flags.
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct GlobalOptions {
    /// Directory where the trust data is persisted to.
    #[arg(
        short = 'd',
        long = "trustDir",
        alias = "trust-dir",
        value_name = "DIR",
        global = true,
        help_heading = "Global Options"
    )]
    pub(crate) trust_dir: Option<PathBuf>,

    /// Path to the configuration file to use.
    #[arg(
        short = 'c',
        long = "configFile",
        alias = "config-file",
        value_name = "FILE",
        global = true,
        help_heading = "Global Options"
    )]
    pub(crate) config_file: Option<PathBuf>,

    /// Remote trust server location.
    #[arg(
        short = 's',
        long = "server",
        value_name = "URL",
        global = true,
        help_heading = "Global Options"
    )]
    pub(crate) server: Option<String>,

    /// Trust certs signed only by this CA.
    #[arg(
        long = "tlscacert",
        value_name = "FILE",
        global = true,
        help_heading = "Global Options"
    )]
    pub(crate) tls_ca_cert: Option<PathBuf>,

    /// Path to TLS certificate file.
    #[arg(
        long = "tlscert",
        value_name = "FILE",
        global = true,
        help_heading = "Global Options"
    )]
    pub(crate) tls_cert: Option<PathBuf>,

    /// Path to TLS key file.
    #[arg(
        long = "tlskey",
        value_name = "FILE",
        global = true,
        help_heading = "Global Options"
    )]
    pub(crate) tls_key: Option<PathBuf>,

    /// Debug output.
    #[arg(
        short = 'D',
        long = "debug",
        global = true,
        help_heading = "Global Options"
    )]
    pub(crate) debug: bool,

    /// Verbose output.
    #[arg(
        short = 'v',
        long = "verbose",
        global = true,
        help_heading = "Global Options"
    )]
    pub(crate) verbose: bool,
}

/// `<GUN>` alone.
#[derive(Debug, Args)]
pub(crate) struct GunArgs {
    /// Globally Unique Name of the trusted collection.
    #[arg(value_name = "GUN")]
    pub(crate) gun: Option<String>,
}

/// Length of a key ID in hex.
const KEY_ID_LEN: usize = 64;

/// A key ID argument: 64 hexadecimal characters.
pub(crate) fn key_id_argument(key_id: &str) -> Result<KeyId> {
    if key_id.len() != KEY_ID_LEN {
        return Err(CliError::InvalidKeyId {
            key_id: key_id.to_owned(),
        });
    }
    key_id.parse().map_err(|_| CliError::InvalidKeyId {
        key_id: key_id.to_owned(),
    })
}
