//! The command line before clap sees it: `--output FORMAT` accepted after the subcommand.
//!
//! `--output` is an option of `signet` itself, but notary gave three commands (`key export`,
//! `key generate`, `verify`) an `--output FILE` of their own, so it cannot be a clap global
//! argument. Instead, for every other command, an `--output` written after the subcommand is
//! moved in front of it, which makes `signet list GUN --output json` mean what it says.
//! The same walk over the subcommand words names the command of a line that did not parse
//! ([`command_path`]).

use std::ffi::{OsStr, OsString};

use clap::{Command, CommandFactory as _};

use crate::args::Cli;

/// The long name of the top-level output format option.
const OUTPUT: &str = "output";

/// `args` (program name first) with every `--output VALUE` / `--output=VALUE` that follows the
/// subcommand moved in front of it, unless the subcommand has an `--output` of its own.
pub(crate) fn hoist_output(args: Vec<OsString>) -> Vec<OsString> {
    let mut command = Cli::command();
    command.build();
    let Some((first_sub, leaf)) = subcommand_path(&command, &args) else {
        return args;
    };
    if leaf
        .get_arguments()
        .any(|arg| arg.get_long() == Some(OUTPUT))
    {
        return args;
    }
    let mut hoisted = Vec::new();
    let mut rest = Vec::with_capacity(args.len());
    let mut iter = args.into_iter().enumerate().peekable();
    while let Some((index, arg)) = iter.next() {
        if index <= first_sub {
            rest.push(arg);
            continue;
        }
        if arg == "--" {
            rest.push(arg);
            rest.extend(iter.map(|(_, a)| a));
            break;
        }
        if arg == OsStr::new("--output") {
            hoisted.push(arg);
            if let Some((_, value)) = iter.next() {
                hoisted.push(value);
            }
        } else if arg.to_str().is_some_and(|a| a.starts_with("--output=")) {
            hoisted.push(arg);
        } else {
            rest.push(arg);
        }
    }
    if hoisted.is_empty() {
        return rest;
    }
    let mut out = Vec::with_capacity(rest.len() + hoisted.len());
    let mut rest = rest.into_iter();
    out.extend(rest.next()); // the program name
    out.extend(hoisted);
    out.extend(rest);
    out
}

/// The index in `args` of the first subcommand word, and the innermost subcommand named.
/// Values of options that take one are skipped, so `-d list` is not the `list` command.
fn subcommand_path<'c>(root: &'c Command, args: &[OsString]) -> Option<(usize, &'c Command)> {
    let (first, path) = walk_subcommands(root, args);
    Some((first?, path.last().copied().unwrap_or(root)))
}

/// The command path of `args` (program name first) as `signet key list`: the subcommand
/// words, with the values of options skipped, up to the first word that names none. This is
/// what a parse error's hint calls the command when clap gives no usage line.
pub(crate) fn command_path(args: &[OsString]) -> String {
    let mut root = Cli::command();
    root.build();
    let (_, path) = walk_subcommands(&root, args);
    std::iter::once(root.get_name())
        .chain(path.iter().map(|command| command.get_name()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The index in `args` of the first subcommand word, and every subcommand named, outermost
/// first.
fn walk_subcommands<'c>(root: &'c Command, args: &[OsString]) -> (Option<usize>, Vec<&'c Command>) {
    let mut command = root;
    let mut path = Vec::new();
    let mut first = None;
    let mut skip_value = false;
    for (index, arg) in args.iter().enumerate().skip(1) {
        if std::mem::take(&mut skip_value) {
            continue;
        }
        let Some(text) = arg.to_str() else { continue };
        if text == "--" {
            break;
        }
        if let Some(flag) = text.strip_prefix("--") {
            skip_value =
                !flag.contains('=') && takes_value(command, |a| a.get_long() == Some(flag));
            continue;
        }
        if let Some(shorts) = text.strip_prefix('-').filter(|s| !s.is_empty()) {
            // `-d DIR`, but `-dDIR` carries its value.
            let mut chars = shorts.chars();
            if let (Some(short), None) = (chars.next(), chars.next()) {
                skip_value = takes_value(command, |a| a.get_short() == Some(short));
            }
            continue;
        }
        match command.find_subcommand(text) {
            Some(sub) => {
                first.get_or_insert(index);
                command = sub;
                path.push(sub);
            }
            None if first.is_some() => break,
            None => {}
        }
    }
    (first, path)
}

/// Whether the argument of `command` that `matches` takes a value.
fn takes_value(command: &Command, matches: impl Fn(&clap::Arg) -> bool) -> bool {
    command
        .get_arguments()
        .find(|arg| matches(arg))
        .is_some_and(|arg| arg.get_action().takes_values())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hoist(args: &[&str]) -> Vec<String> {
        let args = std::iter::once("signet")
            .chain(args.iter().copied())
            .map(OsString::from)
            .collect();
        hoist_output(args)
            .into_iter()
            .skip(1)
            .map(|a| a.into_string().unwrap_or_default())
            .collect()
    }

    #[test]
    fn output_after_the_subcommand_moves_in_front() {
        assert_eq!(
            hoist(&["list", "g", "--output", "json"]),
            ["--output", "json", "list", "g"]
        );
        assert_eq!(
            hoist(&["-d", "list", "key", "list", "--output=json"]),
            ["--output=json", "-d", "list", "key", "list"]
        );
        assert_eq!(
            hoist(&["delegation", "list", "g", "--output", "json", "-D"]),
            ["--output", "json", "delegation", "list", "g", "-D"]
        );
    }

    #[test]
    fn command_paths_of_unparsable_lines() {
        let path = |a: &[&str]| {
            let args: Vec<OsString> = std::iter::once("signet")
                .chain(a.iter().copied())
                .map(OsString::from)
                .collect();
            command_path(&args)
        };
        assert_eq!(path(&["reset", "gun", "-n", "x"]), "signet reset");
        assert_eq!(path(&["-d", "td", "key", "list", "--x"]), "signet key list");
        // `-d list`: `list` is the trust dir, not the command.
        assert_eq!(path(&["-d", "list", "key", "lst"]), "signet key");
        // The first word that names no subcommand ends the path.
        assert_eq!(path(&["key", "foo", "list"]), "signet key");
        assert_eq!(path(&["frobnicate"]), "signet");
    }

    #[test]
    fn commands_with_their_own_output_file_keep_it() {
        for args in [
            &["key", "export", "--output", "keys.pem"][..],
            &["key", "generate", "--output", "alice"],
            &["verify", "g", "t", "--output", "file"],
            &["--output", "json", "list", "g"],
            &["list", "g", "--", "--output", "json"],
        ] {
            assert_eq!(hoist(args), args, "{args:?}");
        }
    }
}
