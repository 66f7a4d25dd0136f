//! `signet`: the command line client. A notary 0.7 compatible command set (same commands,
//! flags, tables and error texts, so scripts calling `notary` keep working) over the
//! `signet-client` and `signet-signer` libraries, plus `--output json` for scripts.
//!
//! Errors are printed as notary prints them (`* fatal: <message>` on standard output, exit
//! status 1) followed by a `* hint:` line saying what to do next; the docker-style `trust`
//! commands print them on standard error, as docker does (see `context::Flavour`).
#![forbid(unsafe_code)]

mod args;
mod argv;
mod commands;
mod context;
mod error;
mod files;
mod hardware;
mod hint;
mod options;
mod output;
mod progress;
mod suggest;
mod terminal;

use std::ffi::OsString;
use std::io::Write as _;
use std::process::ExitCode;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{CommandFactory as _, Parser as _};

use crate::args::{Cli, Command};
use crate::context::{Context, Flavour};
use crate::error::CliError;
use crate::options::OutputFormat;
use crate::output::Output;

fn main() -> ExitCode {
    let cli = match Cli::try_parse_from(argv::hoist_output(std::env::args_os().collect())) {
        Ok(cli) => cli,
        Err(e) => return parse_failure(&e),
    };
    let format = cli.output;
    let flavour = cli
        .command
        .as_ref()
        .map_or(Flavour::Notary, Command::flavour);
    match run(cli, flavour) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            report(&e, format, flavour.errors_on_stderr());
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli, flavour: Flavour) -> Result<(), CliError> {
    let mut out = Output::stdout(cli.output);
    let command = match cli.command {
        _ if cli.version => return print_version(&mut out),
        Some(Command::Version) => return print_version(&mut out),
        Some(Command::Completion(args)) => {
            return commands::shell::completion(&args, Cli::command(), &mut std::io::stdout());
        }
        Some(Command::Man(args)) => {
            return commands::shell::man(&args, Cli::command(), &mut std::io::stdout());
        }
        Some(command) => command,
        None => {
            let help = Cli::command().render_long_help().to_string();
            return out.text(&help).map_err(CliError::stdio("write output"));
        }
    };
    let mut ctx = Context::load(&cli.global, flavour, out)?;
    command.run(&mut ctx)
}

fn print_version(out: &mut Output) -> Result<(), CliError> {
    let version = env!("CARGO_PKG_VERSION");
    out.json(
        &serde_json::json!({ "name": "signet", "version": version, "notary_compatibility": "0.7" }),
    )
    .map_err(CliError::stdio("write output"))?;
    out.text(&format!(
        "signet\n Version:    {version}\n Compatible: notary 0.7\n"
    ))
    .map_err(CliError::stdio("write output"))
}

/// Prints an error: notary's `* fatal:` line and a hint, or the JSON error document. Text goes
/// to standard output as notary prints it, or to standard error when `to_stderr` is set.
fn report(error: &CliError, format: OutputFormat, to_stderr: bool) {
    let mut stdout = std::io::stdout().lock();
    // If standard output is gone there is nowhere left to report to; the exit status still
    // tells the caller.
    let _ = match format {
        // The decisions document already says which images were denied and why.
        OutputFormat::Json if matches!(error, CliError::PolicyDenied { .. }) => Ok(()),
        OutputFormat::Json => output::write_json(&mut stdout, &error.to_json()),
        // `trust inspect` printed its document; its message goes to standard error as
        // docker prints it.
        OutputFormat::Text
            if matches!(
                error,
                CliError::TrustReported { .. } | CliError::PolicyDenied { .. }
            ) =>
        {
            let mut stderr = std::io::stderr().lock();
            writeln!(stderr, "{}", error.message()).and_then(|()| stderr.flush())
        }
        OutputFormat::Text => {
            let mut text = format!("\n* fatal: {}\n", error.message());
            if let Some(hint) = error.hint() {
                text.push_str(&format!("* hint: {hint}\n"));
            }
            if to_stderr {
                let mut stderr = std::io::stderr().lock();
                stderr
                    .write_all(text.as_bytes())
                    .and_then(|()| stderr.flush())
            } else {
                stdout
                    .write_all(text.as_bytes())
                    .and_then(|()| stdout.flush())
            }
        }
    };
}

/// Help and version requests print and succeed; anything else is reported like every other
/// error (exit status 1, as notary).
fn parse_failure(error: &clap::Error) -> ExitCode {
    match error.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            // Help goes to standard output, as notary's does, even when a command group is
            // given without its subcommand.
            let mut stdout = std::io::stdout().lock();
            let _ = write!(stdout, "{}", error.render());
            let _ = stdout.flush();
            return ExitCode::SUCCESS;
        }
        _ => {}
    }
    let rendered = error.render().to_string();
    let message = rendered
        .lines()
        .next()
        .unwrap_or_default()
        .trim_start_matches("error: ")
        .to_owned();
    let args: Vec<OsString> = std::env::args_os().collect();
    let command = usage_command(error).unwrap_or_else(|| argv::command_path(&args));
    let cli_error = CliError::Parse {
        message,
        command,
        suggestion: suggestion(error),
    };
    report(&cli_error, requested_format(), false);
    ExitCode::FAILURE
}

/// What the parser thinks was meant (clap's "tip: a similar subcommand exists"), if anything.
fn suggestion(error: &clap::Error) -> Option<String> {
    [
        ContextKind::SuggestedSubcommand,
        ContextKind::SuggestedArg,
        ContextKind::SuggestedValue,
    ]
    .into_iter()
    .find_map(|kind| match error.get(kind)? {
        ContextValue::String(meant) => Some(meant.clone()),
        ContextValue::Strings(meant) => meant.first().cloned(),
        ContextValue::StyledStr(meant) => Some(meant.to_string()),
        _ => None,
    })
}

/// The command path (`signet key list`) from the usage line of a parse error.
fn usage_command(error: &clap::Error) -> Option<String> {
    let Some(ContextValue::StyledStr(usage)) = error.get(ContextKind::Usage) else {
        return None;
    };
    let usage = usage.to_string();
    let line = usage.lines().next()?.trim_start_matches("Usage:").trim();
    let words: Vec<&str> = line
        .split_whitespace()
        .take_while(|w| !w.starts_with(['[', '<', '(', '-']))
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

/// The output format asked for on a command line that did not parse.
fn requested_format() -> OutputFormat {
    let args: Vec<String> = std::env::args().collect();
    let json_arg = args
        .windows(2)
        .any(|w| w[0] == "--output" && w[1] == "json")
        || args.iter().any(|a| a == "--output=json");
    let json_env = std::env::var("SIGNET_OUTPUT").is_ok_and(|v| v == "json");
    if json_arg || json_env {
        OutputFormat::Json
    } else {
        OutputFormat::Text
    }
}
