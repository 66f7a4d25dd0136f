//! Command-line arguments: the `notary` 0.7 command tree, flags and meanings.
//!
//! Positional arguments are optional at the parser level so that a missing one is reported with
//! notary's own message ("Must specify a GUN", ...) rather than a generic parser error; every
//! command checks its positionals first thing.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// `signet`: create and manage collections of signed targets (a notary-compatible client).
#[derive(Debug, Parser)]
#[command(
    name = "signet",
    about = "signet allows the creation and management of collections of signed targets, \
             allowing the signing and validation of arbitrary content.",
    long_about = "signet allows the creation and management of collections of signed targets, \
                  allowing the signing and validation of arbitrary content.\n\n\
                  It speaks the Notary protocol and uses notary trust directories, so it can \
                  be used wherever the notary client is.",
    disable_version_flag = true,
    max_term_width = 100
)]
pub(crate) struct Cli {
    /// Options shared by every command.
    #[command(flatten)]
    pub(crate) global: GlobalOptions,

    /// Print the version number of signet.
    #[arg(long = "version")]
    pub(crate) version: bool,

    /// Output format: `text` (notary's tables and messages) or `json` (stable, for scripts).
    #[arg(long = "output", value_enum, value_name = "FORMAT", default_value_t = OutputFormat::Text, env = "SIGNET_OUTPUT", hide_env_values = true)]
    pub(crate) output: OutputFormat,

    /// The command to run.
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
}

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

/// The commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Adds the file as a target to the trusted collection.
    #[command(
        long_about = "Adds the file as a target to the local trusted collection identified by \
                      the Globally Unique Name. This is an offline operation.  Please then use \
                      `publish` to push the changes to the remote trusted collection.",
        override_usage = "signet add [OPTIONS] <GUN> <TARGET> <FILE>"
    )]
    Add(AddArgs),

    /// Adds the byte size and hash(es) as a target to the trusted collection.
    #[command(
        long_about = "Adds the specified byte size and hash(es) as a target to the local \
                      trusted collection identified by the Globally Unique Name. This is an \
                      offline operation.  Please then use `publish` to push the changes to the \
                      remote trusted collection.",
        override_usage = "signet addhash [OPTIONS] <GUN> <TARGET> <BYTE SIZE> --sha256 <HEX>"
    )]
    Addhash(AddHashArgs),

    /// Operates on delegations.
    #[command(subcommand, long_about = "Operations on TUF delegations.")]
    Delegation(DelegationCommand),

    /// Deletes all content for a trusted collection.
    #[command(
        long_about = "Deletes all local content for a trusted collection identified by the \
                      Globally Unique Name. Remote data can also be deleted with an additional \
                      flag.",
        override_usage = "signet delete [OPTIONS] <GUN>"
    )]
    Delete(DeleteArgs),

    /// Initializes a local trusted collection.
    #[command(
        long_about = "Initializes a local trusted collection identified by the Globally Unique \
                      Name. This is an online operation.",
        override_usage = "signet init [OPTIONS] <GUN>"
    )]
    Init(InitArgs),

    /// Operates on keys.
    #[command(subcommand, long_about = "Operations on private keys.")]
    Key(KeyCommand),

    /// Lists targets for a remote trusted collection.
    #[command(
        long_about = "Lists all targets for a remote trusted collection identified by the \
                      Globally Unique Name. This is an online operation.",
        override_usage = "signet list [OPTIONS] <GUN>"
    )]
    List(ListArgs),

    /// Looks up a specific target in a remote trusted collection.
    #[command(
        long_about = "Looks up a specific target in a remote trusted collection identified by \
                      the Globally Unique Name.",
        override_usage = "signet lookup [OPTIONS] <GUN> <TARGET>"
    )]
    Lookup(LookupArgs),

    /// Publishes the local trusted collection.
    #[command(
        long_about = "Publishes the local trusted collection identified by the Globally Unique \
                      Name, sending the local changes to a remote trusted server.",
        override_usage = "signet publish [OPTIONS] <GUN>"
    )]
    Publish(GunArgs),

    /// Removes a target from a trusted collection.
    #[command(
        long_about = "Removes a target from the local trusted collection identified by the \
                      Globally Unique Name. This is an offline operation.  Please then use \
                      `publish` to push the changes to the remote trusted collection.",
        override_usage = "signet remove [OPTIONS] <GUN> <TARGET>"
    )]
    Remove(RemoveArgs),

    /// Resets unpublished changes for the local trusted collection.
    #[command(
        long_about = "Resets unpublished changes for the local trusted collection identified by \
                      the Globally Unique Name.",
        override_usage = "signet reset [OPTIONS] <GUN> (-n <NUMBERS> | --all)"
    )]
    Reset(ResetArgs),

    /// Re-signs roles whose key is held, pushing their expiry forward (signet extension).
    #[command(
        alias = "re-sign",
        long_about = "Fetches the latest trust data of the Globally Unique Name and re-signs, \
                      with the version bumped and a fresh expiry (root 10 years, targets, \
                      delegations and a client-held snapshot 3 years, or --expires), every role \
                      whose key is held here, or only the roles given with --role, then \
                      publishes them in one upload. The server re-signs the timestamp (and a \
                      snapshot whose key it holds) with its own expiry; the output names them. \
                      Staged changes are not published. A signet extension: notary has no such \
                      command.",
        override_usage = "signet resign [OPTIONS] <GUN>"
    )]
    Resign(ResignArgs),

    /// Displays status of unpublished changes to the local trusted collection.
    #[command(
        long_about = "Displays status of unpublished changes to the local trusted collection \
                      identified by the Globally Unique Name.",
        override_usage = "signet status [OPTIONS] <GUN>"
    )]
    Status(GunArgs),

    /// Signs images and verifies them against a registry (docker content trust).
    #[command(
        subcommand,
        long_about = "Docker content trust: sign image tags, inspect and revoke signatures, \
                      manage signers and signing keys, and verify a tag against its registry \
                      before pulling it. Trust data lives in $DOCKER_CONFIG/trust (or \
                      ~/.docker/trust) unless -d is given."
    )]
    Trust(crate::commands::trust::TrustCommand),

    /// Verifies if the content is included in the remote trusted collection.
    #[command(
        long_about = "Verifies if the data passed in STDIN is included in the remote trusted \
                      collection identified by the Globally Unique Name.",
        override_usage = "signet verify [OPTIONS] <GUN> <TARGET>"
    )]
    Verify(VerifyArgs),

    /// Print the version number of signet.
    Version,

    /// Marks roles to be re-signed the next time they're published.
    #[command(
        long_about = "Marks roles to be re-signed the next time they're published. Currently \
                      will always bump version and expiry for role.",
        override_usage = "signet witness [OPTIONS] <GUN> <ROLE>..."
    )]
    Witness(WitnessArgs),
}

/// `resign`.
#[derive(Debug, Args)]
pub(crate) struct ResignArgs {
    /// Globally Unique Name of the trusted collection.
    #[arg(value_name = "GUN")]
    pub(crate) gun: Option<String>,
    /// A role to re-sign (repeatable; default: every role whose key is held).
    #[arg(short = 'r', long = "role", value_name = "ROLE")]
    pub(crate) roles: Vec<String>,
    /// How long the re-signed roles stay valid, from now, instead of their defaults.
    #[arg(
        short = 'e',
        long = "expires",
        value_name = "DURATION",
        long_help = "How long the re-signed roles stay valid, from now, instead of their \
                     defaults. One value for every role re-signed on request (those given \
                     with --role, or every role whose key is held); re-sign once per role for \
                     different lifetimes. A Go duration as notary takes them (8760h, 90m, \
                     1h30m) or days, weeks, years of 365 days (30d, 52w, 10y); from one minute \
                     to 100 years. Root must get at least six months: a root closer to its \
                     expiry is re-signed by every publish. Does not apply to the timestamp \
                     or a server-managed snapshot."
    )]
    pub(crate) expires: Option<String>,
}

/// `<GUN>` alone.
#[derive(Debug, Args)]
pub(crate) struct GunArgs {
    /// Globally Unique Name of the trusted collection.
    #[arg(value_name = "GUN")]
    pub(crate) gun: Option<String>,
}

/// `init`.
#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    /// Globally Unique Name of the trusted collection.
    #[arg(value_name = "GUN")]
    pub(crate) gun: Option<String>,
    /// Root key to initialize the repository with.
    #[arg(long = "rootkey", value_name = "FILE")]
    pub(crate) root_key: Option<PathBuf>,
    /// Root certificate must match root key if a root key is supplied, otherwise it must match a
    /// key present in keystore.
    #[arg(long = "rootcert", value_name = "FILE")]
    pub(crate) root_cert: Option<PathBuf>,
    /// Automatically attempt to publish after staging the change. Will also publish existing
    /// staged changes.
    #[arg(short = 'p', long = "publish")]
    pub(crate) publish: bool,
}

/// `add`.
#[derive(Debug, Args)]
pub(crate) struct AddArgs {
    /// Globally Unique Name of the trusted collection.
    #[arg(value_name = "GUN")]
    pub(crate) gun: Option<String>,
    /// Name of the target.
    #[arg(value_name = "TARGET")]
    pub(crate) target: Option<String>,
    /// File whose length and hashes are signed.
    #[arg(value_name = "FILE")]
    pub(crate) file: Option<PathBuf>,
    /// Delegation roles to add this target to.
    #[arg(
        short = 'r',
        long = "roles",
        value_name = "ROLES",
        value_delimiter = ','
    )]
    pub(crate) roles: Vec<String>,
    /// Path to the file containing custom data for this target.
    #[arg(long = "custom", value_name = "FILE")]
    pub(crate) custom: Option<PathBuf>,
    /// Automatically attempt to publish after staging the change. Will also publish existing
    /// staged changes.
    #[arg(short = 'p', long = "publish")]
    pub(crate) publish: bool,
}

/// `addhash`.
#[derive(Debug, Args)]
pub(crate) struct AddHashArgs {
    /// Globally Unique Name of the trusted collection.
    #[arg(value_name = "GUN")]
    pub(crate) gun: Option<String>,
    /// Name of the target.
    #[arg(value_name = "TARGET")]
    pub(crate) target: Option<String>,
    /// Size of the target in bytes (decimal, 0x hex, 0o/0 octal or 0b binary).
    #[arg(value_name = "BYTE SIZE")]
    pub(crate) size: Option<String>,
    /// Delegation roles to add this target to.
    #[arg(
        short = 'r',
        long = "roles",
        value_name = "ROLES",
        value_delimiter = ','
    )]
    pub(crate) roles: Vec<String>,
    /// Hex encoded sha256 of the target to add.
    #[arg(long = "sha256", value_name = "HEX")]
    pub(crate) sha256: Option<String>,
    /// Hex encoded sha512 of the target to add.
    #[arg(long = "sha512", value_name = "HEX")]
    pub(crate) sha512: Option<String>,
    /// Path to the file containing custom data for this target.
    #[arg(long = "custom", value_name = "FILE")]
    pub(crate) custom: Option<PathBuf>,
    /// Automatically attempt to publish after staging the change. Will also publish existing
    /// staged changes.
    #[arg(short = 'p', long = "publish")]
    pub(crate) publish: bool,
}

/// `remove`.
#[derive(Debug, Args)]
pub(crate) struct RemoveArgs {
    /// Globally Unique Name of the trusted collection.
    #[arg(value_name = "GUN")]
    pub(crate) gun: Option<String>,
    /// Name of the target.
    #[arg(value_name = "TARGET")]
    pub(crate) target: Option<String>,
    /// Delegation roles to remove this target from.
    #[arg(
        short = 'r',
        long = "roles",
        value_name = "ROLES",
        value_delimiter = ','
    )]
    pub(crate) roles: Vec<String>,
    /// Automatically attempt to publish after staging the change. Will also publish existing
    /// staged changes.
    #[arg(short = 'p', long = "publish")]
    pub(crate) publish: bool,
}

/// `list`.
#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Globally Unique Name of the trusted collection.
    #[arg(value_name = "GUN")]
    pub(crate) gun: Option<String>,
    /// Delegation roles to list targets for (will shadow targets role).
    #[arg(
        short = 'r',
        long = "roles",
        value_name = "ROLES",
        value_delimiter = ','
    )]
    pub(crate) roles: Vec<String>,
}

/// `lookup`.
#[derive(Debug, Args)]
pub(crate) struct LookupArgs {
    /// Globally Unique Name of the trusted collection.
    #[arg(value_name = "GUN")]
    pub(crate) gun: Option<String>,
    /// Name of the target.
    #[arg(value_name = "TARGET")]
    pub(crate) target: Option<String>,
}

/// `verify`.
#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// Globally Unique Name of the trusted collection.
    #[arg(value_name = "GUN")]
    pub(crate) gun: Option<String>,
    /// Name of the target.
    #[arg(value_name = "TARGET")]
    pub(crate) target: Option<String>,
    /// Read from a file, instead of STDIN.
    #[arg(short = 'i', long = "input", value_name = "FILE")]
    pub(crate) input: Option<PathBuf>,
    /// Write to a file, instead of STDOUT.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
    /// No output except for errors.
    #[arg(short = 'q', long = "quiet")]
    pub(crate) quiet: bool,
}

/// `reset`.
#[derive(Debug, Args)]
pub(crate) struct ResetArgs {
    /// Globally Unique Name of the trusted collection.
    #[arg(value_name = "GUN")]
    pub(crate) gun: Option<String>,
    /// Numbers of specific changes to exclusively reset, as shown in status list.
    #[arg(
        short = 'n',
        long = "number",
        value_name = "NUMBERS",
        value_delimiter = ',',
        allow_negative_numbers = true
    )]
    pub(crate) number: Vec<i64>,
    /// Reset all changes shown in the status list.
    #[arg(long = "all")]
    pub(crate) all: bool,
}

/// `delete`.
#[derive(Debug, Args)]
pub(crate) struct DeleteArgs {
    /// Globally Unique Name of the trusted collection.
    #[arg(value_name = "GUN")]
    pub(crate) gun: Option<String>,
    /// Delete remote data for GUN in addition to local cache.
    #[arg(long = "remote")]
    pub(crate) remote: bool,
}

/// `witness`.
#[derive(Debug, Args)]
pub(crate) struct WitnessArgs {
    /// Globally Unique Name of the trusted collection.
    #[arg(value_name = "GUN")]
    pub(crate) gun: Option<String>,
    /// Roles to re-sign.
    #[arg(value_name = "ROLE")]
    pub(crate) roles: Vec<String>,
    /// Automatically attempt to publish after staging the change. Will also publish existing
    /// staged changes.
    #[arg(short = 'p', long = "publish")]
    pub(crate) publish: bool,
}

/// `key ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum KeyCommand {
    /// Exports all keys from all local keystores. Can be filtered using the --key and --gun flags.
    #[command(
        long_about = "Exports all keys from all local keystores. Which keys are exported can be \
                      restricted by using the --key or --gun flags. By default the result is \
                      sent to stdout, it can be directed to a file with the -o flag. Keys \
                      stored in hardware cannot be exported.",
        override_usage = "signet key export [OPTIONS]"
    )]
    Export(KeyExportArgs),

    /// Generates a new key with a given algorithm.
    #[command(
        long_about = "Generates a new key with a given algorithm. If a `--output` file name is \
                      provided, two files will be written, <output>.pem and <output>-key.pem, \
                      containing the public and private keys respectively (the key will not be \
                      stored in the key storage). If no `--role` is provided, \"root\" will be \
                      assumed.",
        override_usage = "signet key generate [OPTIONS] [ALGORITHM]"
    )]
    Generate(KeyGenerateArgs),

    /// Imports all keys from all provided .pem files.
    #[command(
        long_about = "Imports all keys from all provided .pem files by reading each PEM block \
                      from the file and writing that block to a unique object in the local \
                      keystore.",
        override_usage = "signet key import [OPTIONS] <PEMFILE>..."
    )]
    Import(KeyImportArgs),

    /// Lists keys.
    #[command(long_about = "Lists all keys known to signet.")]
    List,

    /// Changes the passphrase for the key with the given keyID.
    #[command(
        long_about = "Changes the passphrase for the key with the given keyID.  Will require \
                      validation of the old passphrase.",
        override_usage = "signet key passwd <KEY ID>"
    )]
    Passwd(KeyIdArgs),

    /// Removes the key with the given keyID.
    #[command(
        long_about = "Removes the key with the given keyID.  If the key is stored in more than \
                      one location, you will be asked which one to remove.",
        override_usage = "signet key remove <KEY ID>"
    )]
    Remove(KeyIdArgs),

    /// Rotate a signing (non-root) key of the given type for the given Globally Unique Name and
    /// role.
    #[command(
        long_about = "Generates a new key for the given Globally Unique Name and role (one of \
                      \"snapshot\", \"targets\", \"root\", or \"timestamp\").  If rotating to a \
                      server-managed key, a new key is requested from the server rather than \
                      generated.  If the generation or key request is successful, the key \
                      rotation is immediately published.  No other changes, even if they are \
                      staged, will be published.",
        override_usage = "signet key rotate [OPTIONS] <GUN> <KEY ROLE>"
    )]
    Rotate(KeyRotateArgs),
}

/// `key generate`.
#[derive(Debug, Args)]
pub(crate) struct KeyGenerateArgs {
    /// Key algorithm (only `ecdsa`).
    #[arg(value_name = "ALGORITHM")]
    pub(crate) algorithm: Vec<String>,
    /// Filepath to write export output to.
    #[arg(short = 'o', long = "output", value_name = "PREFIX")]
    pub(crate) output: Option<PathBuf>,
    /// Role to generate key with, defaulting to "root".
    #[arg(
        short = 'r',
        long = "role",
        value_name = "ROLE",
        default_value = "root"
    )]
    pub(crate) role: String,
}

/// `key rotate`.
#[derive(Debug, Args)]
pub(crate) struct KeyRotateArgs {
    /// Globally Unique Name of the trusted collection.
    #[arg(value_name = "GUN")]
    pub(crate) gun: Option<String>,
    /// Role whose key is rotated.
    #[arg(value_name = "KEY ROLE")]
    pub(crate) role: Option<String>,
    /// Signing and key management will be handled by the remote server (no key will be generated
    /// or stored locally). Required for timestamp role, optional for snapshot role.
    #[arg(short = 'r', long = "server-managed")]
    pub(crate) server_managed: bool,
    /// New key(s) to rotate to. If not specified, one will be generated.
    #[arg(short = 'k', long = "key", value_name = "FILES", value_delimiter = ',')]
    pub(crate) keys: Vec<PathBuf>,
    /// Number of old version's root roles to sign with to support old clients.
    #[arg(
        short = 'l',
        long = "legacy",
        value_name = "N",
        default_value_t = 0,
        allow_negative_numbers = true
    )]
    pub(crate) legacy: i64,
}

/// `key import`.
#[derive(Debug, Args)]
pub(crate) struct KeyImportArgs {
    /// PEM files to import.
    #[arg(value_name = "PEMFILE")]
    pub(crate) files: Vec<PathBuf>,
    /// Role to import key with, if a role is not already given in a PEM header.
    #[arg(short = 'r', long = "role", value_name = "ROLE")]
    pub(crate) role: Option<String>,
    /// Gun to import key with, if a gun is not already given in a PEM header.
    #[arg(short = 'g', long = "gun", value_name = "GUN")]
    pub(crate) gun: Option<String>,
}

/// `key export`.
#[derive(Debug, Args)]
pub(crate) struct KeyExportArgs {
    /// Not accepted: export takes no positional arguments.
    #[arg(value_name = "ARGS", hide = true)]
    pub(crate) extra: Vec<String>,
    /// GUNs for which to export keys.
    #[arg(long = "gun", value_name = "GUNS", value_delimiter = ',')]
    pub(crate) gun: Vec<String>,
    /// Key IDs to export.
    #[arg(long = "key", value_name = "KEY IDS", value_delimiter = ',')]
    pub(crate) key: Vec<String>,
    /// Filepath to write export output to.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
}

/// `key passwd` / `key remove`.
#[derive(Debug, Args)]
pub(crate) struct KeyIdArgs {
    /// The 64-character key ID.
    #[arg(value_name = "KEY ID")]
    pub(crate) key_id: Option<String>,
}

/// `delegation ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum DelegationCommand {
    /// Add a keys to delegation using the provided public key X509 certificates.
    #[command(
        long_about = "Add keys to a delegation using the provided public key PEM encoded X509 \
                      certificates or public keys in a specific Global Unique Name.",
        override_usage = "signet delegation add [OPTIONS] <GUN> <ROLE> [PEMFILE]..."
    )]
    Add(DelegationAddArgs),

    /// Lists delegations for the Global Unique Name.
    #[command(
        long_about = "Lists all delegations known to signet for a specific Global Unique Name.",
        override_usage = "signet delegation list [OPTIONS] <GUN>"
    )]
    List(GunArgs),

    /// Remove KeyID(s) from all delegation roles in the given GUN.
    #[command(
        long_about = "Remove KeyID(s) from all delegation roles in the given GUN, for which the \
                      signing keys are available. Warnings will be printed for delegations that \
                      cannot be updated.",
        override_usage = "signet delegation purge [OPTIONS] <GUN> --key <KEY IDS>"
    )]
    Purge(DelegationPurgeArgs),

    /// Remove KeyID(s) from the specified Role delegation.
    #[command(
        long_about = "Remove KeyID(s) from the specified Role delegation in a specific Global \
                      Unique Name.",
        override_usage = "signet delegation remove [OPTIONS] <GUN> <ROLE> [KEY ID]..."
    )]
    Remove(DelegationRemoveArgs),
}

/// `delegation add`.
#[derive(Debug, Args)]
pub(crate) struct DelegationAddArgs {
    /// Globally Unique Name of the trusted collection.
    #[arg(value_name = "GUN")]
    pub(crate) gun: Option<String>,
    /// Delegation role (`targets/<name>`).
    #[arg(value_name = "ROLE")]
    pub(crate) role: Option<String>,
    /// PEM files holding a certificate or a public key.
    #[arg(value_name = "PEMFILE")]
    pub(crate) key_files: Vec<PathBuf>,
    /// List of paths to add.
    #[arg(long = "paths", value_name = "PATHS", value_delimiter = ',')]
    pub(crate) paths: Option<Vec<String>>,
    /// Add all paths to this delegation.
    #[arg(long = "all-paths")]
    pub(crate) all_paths: bool,
    /// Automatically attempt to publish after staging the change. Will also publish existing
    /// staged changes.
    #[arg(short = 'p', long = "publish")]
    pub(crate) publish: bool,
}

/// `delegation remove`.
#[derive(Debug, Args)]
pub(crate) struct DelegationRemoveArgs {
    /// Globally Unique Name of the trusted collection.
    #[arg(value_name = "GUN")]
    pub(crate) gun: Option<String>,
    /// Delegation role (`targets/<name>`).
    #[arg(value_name = "ROLE")]
    pub(crate) role: Option<String>,
    /// Key IDs to remove from the role.
    #[arg(value_name = "KEY ID")]
    pub(crate) key_ids: Vec<String>,
    /// List of paths to remove.
    #[arg(long = "paths", value_name = "PATHS", value_delimiter = ',')]
    pub(crate) paths: Option<Vec<String>>,
    /// Remove all paths from this delegation.
    #[arg(long = "all-paths")]
    pub(crate) all_paths: bool,
    /// Answer yes to the removal question (no confirmation).
    #[arg(short = 'y', long = "yes")]
    pub(crate) yes: bool,
    /// Automatically attempt to publish after staging the change. Will also publish existing
    /// staged changes.
    #[arg(short = 'p', long = "publish")]
    pub(crate) publish: bool,
}

/// `delegation purge`.
#[derive(Debug, Args)]
pub(crate) struct DelegationPurgeArgs {
    /// Globally Unique Name of the trusted collection.
    #[arg(value_name = "GUN")]
    pub(crate) gun: Vec<String>,
    /// Delegation key IDs to be removed from the GUN.
    #[arg(long = "key", value_name = "KEY IDS", value_delimiter = ',')]
    pub(crate) key: Vec<String>,
    /// Automatically attempt to publish after staging the change. Will also publish existing
    /// staged changes.
    #[arg(short = 'p', long = "publish")]
    pub(crate) publish: bool,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::*;

    #[test]
    fn command_tree_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_work_after_the_subcommand_and_lists_split_on_commas() {
        let cli = Cli::try_parse_from([
            "signet",
            "add",
            "gun",
            "t",
            "f",
            "-r",
            "targets/a,targets/b",
            "-r",
            "targets/c",
            "-d",
            "td",
        ])
        .unwrap();
        assert_eq!(
            cli.global.trust_dir.as_deref(),
            Some(std::path::Path::new("td"))
        );
        let Some(Command::Add(add)) = cli.command else {
            panic!("not add");
        };
        assert_eq!(add.roles, ["targets/a", "targets/b", "targets/c"]);
    }

    #[test]
    fn reset_numbers_accept_lists() {
        let cli = Cli::try_parse_from(["signet", "reset", "gun", "-n", "1,3", "-n", "5"]).unwrap();
        let Some(Command::Reset(reset)) = cli.command else {
            panic!("not reset");
        };
        assert_eq!(reset.number, [1, 3, 5]);
    }

    #[test]
    fn output_json_is_a_top_level_option() {
        let cli = Cli::try_parse_from(["signet", "--output", "json", "key", "list"]).unwrap();
        assert_eq!(cli.output, OutputFormat::Json);
        // `-o` of subcommands is their own output file.
        let cli = Cli::try_parse_from(["signet", "key", "export", "-o", "keys.pem"]).unwrap();
        let Some(Command::Key(KeyCommand::Export(export))) = cli.command else {
            panic!("not export");
        };
        assert_eq!(
            export.output.as_deref(),
            Some(std::path::Path::new("keys.pem"))
        );
    }
}
