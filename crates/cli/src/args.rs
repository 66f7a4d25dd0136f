//! Command-line arguments: the `notary` 0.7 command tree, flags and meanings.
//!
//! Positional arguments are optional at the parser level so that a missing one is reported with
//! notary's own message ("Must specify a GUN", ...) rather than a generic parser error; every
//! command checks its positionals first thing.

use clap::{Parser, Subcommand};

use crate::commands::changes::{AddArgs, AddHashArgs, RemoveArgs, ResetArgs, WitnessArgs};
use crate::commands::delegations::DelegationCommand;
use crate::commands::keys::KeyCommand;
use crate::commands::repo::{DeleteArgs, InitArgs, ListArgs, LookupArgs, VerifyArgs};
use crate::commands::resign::ResignArgs;
use crate::commands::shell::{CompletionArgs, ManArgs};
use crate::commands::{admission, changes, delegations, keys, repo, resign, trust};
use crate::context::{Context, Flavour};
use crate::error::Result;
use crate::options::{GlobalOptions, GunArgs, OutputFormat};

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

    /// Enforces a trust policy where images run: a Kubernetes admission webhook.
    #[command(
        subcommand,
        long_about = "Kubernetes admission: `signet admission serve` answers the API server's \
                      AdmissionReviews for Pods and workloads, judging every image with a \
                      trust policy (the one `signet trust verify --policy` applies). See \
                      docs/admission.md for the deployment."
    )]
    Admission(admission::AdmissionCommand),

    /// Adds the byte size and hash(es) as a target to the trusted collection.
    #[command(
        long_about = "Adds the specified byte size and hash(es) as a target to the local \
                      trusted collection identified by the Globally Unique Name. This is an \
                      offline operation.  Please then use `publish` to push the changes to the \
                      remote trusted collection.",
        override_usage = "signet addhash [OPTIONS] <GUN> <TARGET> <BYTE SIZE> --sha256 <HEX>"
    )]
    Addhash(AddHashArgs),

    /// Prints a shell completion script (bash, zsh, fish, powershell, elvish).
    #[command(
        long_about = "Prints the completion script of a shell on standard output. Load it \
                      for the current session with `source <(signet completion bash)`, or \
                      install it where the shell looks for completions, for example \
                      `signet completion bash > /etc/bash_completion.d/signet`, \
                      `signet completion zsh > \"${fpath[1]}/_signet\"` or \
                      `signet completion fish > ~/.config/fish/completions/signet.fish`.",
        override_usage = "signet completion <SHELL>"
    )]
    Completion(CompletionArgs),

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

    /// Prints the manual page, or writes one page per command into a directory.
    #[command(
        long_about = "Prints the manual page of signet (roff, for `man -l -`), or with --dir \
                      writes one page per command (signet.1, signet-key-list.1, ...) into a \
                      directory, for example /usr/local/share/man/man1.",
        override_usage = "signet man [--dir <DIR>]"
    )]
    Man(ManArgs),

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
    Trust(trust::TrustCommand),

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

impl Command {
    /// The flavour of the command's context: docker's for the docker-style `trust` commands,
    /// notary's for every other.
    pub(crate) fn flavour(&self) -> Flavour {
        match self {
            Self::Trust(_) | Self::Admission(_) => Flavour::Docker,
            _ => Flavour::Notary,
        }
    }

    /// Runs the command in a context of its [`flavour`](Self::flavour). `version`,
    /// `completion` and `man` are handled before a context exists.
    pub(crate) fn run(self, ctx: &mut Context) -> Result<()> {
        match self {
            Self::Add(args) => changes::add(ctx, &args),
            Self::Addhash(args) => changes::addhash(ctx, &args),
            Self::Remove(args) => changes::remove(ctx, &args),
            Self::Status(args) => changes::status(ctx, &args),
            Self::Reset(args) => changes::reset(ctx, &args),
            Self::Witness(args) => changes::witness(ctx, &args),
            Self::Init(args) => repo::init(ctx, &args),
            Self::Publish(args) => repo::publish(ctx, &args),
            Self::List(args) => repo::list(ctx, &args),
            Self::Lookup(args) => repo::lookup(ctx, &args),
            Self::Verify(args) => repo::verify(ctx, &args),
            Self::Delete(args) => repo::delete(ctx, &args),
            Self::Resign(args) => resign::resign(ctx, &args),
            Self::Key(command) => keys::run(ctx, command),
            Self::Delegation(command) => delegations::run(ctx, command),
            Self::Trust(command) => trust::run(ctx, command),
            Self::Admission(command) => admission::run(ctx, command),
            // Handled before a context exists.
            Self::Version | Self::Completion(_) | Self::Man(_) => Ok(()),
        }
    }
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
