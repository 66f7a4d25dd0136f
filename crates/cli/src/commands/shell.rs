//! `completion SHELL` and `man [--dir DIR]`: the command line described for the shell and for
//! `man`, generated from the same clap definitions that parse it, so they cannot drift.
//!
//! Neither needs a configuration, a trust dir or a server: `main` runs them before a
//! [`Context`](crate::context::Context) is loaded.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use clap_complete::Shell;

use crate::error::{CliError, Result};

/// `completion`.
#[derive(Debug, Args)]
pub(crate) struct CompletionArgs {
    /// The shell to write the completion script for.
    #[arg(value_enum, value_name = "SHELL")]
    pub(crate) shell: Shell,
}

/// `man`.
#[derive(Debug, Args)]
pub(crate) struct ManArgs {
    /// Write one page per command (`signet.1`, `signet-key-list.1`, …) into this directory
    /// instead of printing the top-level page.
    #[arg(long = "dir", value_name = "DIR")]
    pub(crate) dir: Option<PathBuf>,
}

/// Prints the completion script of `shell` for `command` (signet's own) on `out`.
pub(crate) fn completion(
    args: &CompletionArgs,
    mut command: clap::Command,
    out: &mut dyn Write,
) -> Result<()> {
    // Rendered in memory: the generator panics on a write error (a closed pipe).
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "signet", &mut script);
    out.write_all(&script)
        .and_then(|()| out.flush())
        .map_err(CliError::stdio("write output"))
}

/// Prints the top-level manual page of `command` (signet's own) on `out`, or writes every
/// page into `--dir`.
pub(crate) fn man(args: &ManArgs, command: clap::Command, out: &mut dyn Write) -> Result<()> {
    match &args.dir {
        None => {
            clap_mangen::Man::new(command)
                .render(out)
                .map_err(CliError::stdio("write output"))?;
            out.flush().map_err(CliError::stdio("write output"))
        }
        Some(dir) => {
            let written = write_pages(command, dir)?;
            writeln!(out, "wrote {written} manual pages to {}", dir.display())
                .map_err(CliError::stdio("write output"))
        }
    }
}

/// Writes `signet.1` and one page per (sub)command of `command` into `dir`; returns how many.
fn write_pages(mut command: clap::Command, dir: &Path) -> Result<usize> {
    std::fs::create_dir_all(dir).map_err(|e| CliError::file("create", dir, e))?;
    // Sets the full names (`signet-key-list`) the pages are named and cross-referenced by.
    command.build();
    let mut pending = vec![command];
    let mut written = 0;
    while let Some(command) = pending.pop() {
        let name = command
            .get_display_name()
            .unwrap_or_else(|| command.get_name())
            .to_owned();
        let path = dir.join(format!("{name}.1"));
        let mut page = Vec::new();
        clap_mangen::Man::new(command.clone())
            .title(name.clone())
            .render(&mut page)
            .map_err(|e| CliError::file("render", &path, e))?;
        std::fs::write(&path, page).map_err(|e| CliError::file("write", &path, e))?;
        written += 1;
        pending.extend(
            command
                .get_subcommands()
                .filter(|sub| !sub.is_hide_set() && sub.get_name() != "help")
                .cloned(),
        );
    }
    Ok(written)
}
