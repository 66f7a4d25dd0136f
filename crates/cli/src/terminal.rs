//! The terminal: passphrase and credential prompts, yes/no questions.
//!
//! Passphrases are read without echo from the controlling terminal, and only when standard
//! input is a terminal (as notary decides); without one, and without the environment variables,
//! the passphrase retriever fails with notary's "please either use environment variables or
//! STDIN with a terminal" error. Prompts and warnings go to the terminal / standard error, never
//! to standard output, so that `--output json` stays parseable.

use std::io::{self, BufRead, IsTerminal, Write};
use std::sync::Arc;

use signet_client::http::{CredentialSource, Credentials};
use signet_signer::PassphraseRetriever;
use signet_signer::passphrase::{EnvRetriever, PromptRetriever, Prompter};
use zeroize::Zeroizing;

use crate::error::{CliError, Result};

/// Whether standard input is a terminal.
pub(crate) fn stdin_is_terminal() -> bool {
    io::stdin().is_terminal()
}

/// Whether standard error is a terminal.
pub(crate) fn stderr_is_terminal() -> bool {
    io::stderr().is_terminal()
}

/// Reads secrets from the terminal without echo; messages go to standard error.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TerminalPrompter;

impl Prompter for TerminalPrompter {
    fn message(&self, text: &str) {
        clear_line();
        let mut err = io::stderr().lock();
        // Nothing sensible can be done when standard error is closed.
        let _ = writeln!(err, "{text}");
    }

    fn read_secret(&self, prompt: &str) -> io::Result<Zeroizing<String>> {
        clear_line();
        rpassword::prompt_password(prompt).map(Zeroizing::new)
    }
}

/// The passphrase retriever of the `notary`-style commands: `NOTARY_*_PASSPHRASE` environment
/// variables first, then (only when standard input is a terminal) interactive prompts. Each call
/// returns a fresh retriever with an empty passphrase cache.
pub(crate) fn notary_retriever() -> Arc<dyn PassphraseRetriever> {
    retriever(EnvRetriever::notary(), PromptRetriever::notary)
}

/// The passphrase retriever of the docker-style `trust` commands, with docker's rules:
/// `DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE` for root keys,
/// `DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE` for every other key, then (only when standard
/// input is a terminal) docker's prompts. Each call returns a fresh retriever.
pub(crate) fn docker_retriever() -> Arc<dyn PassphraseRetriever> {
    retriever(EnvRetriever::docker(), PromptRetriever::docker)
}

/// `env` first, then, when standard input is a terminal, the `prompts` of a terminal.
fn retriever(
    env: EnvRetriever,
    prompts: fn(TerminalPrompter) -> PromptRetriever<TerminalPrompter>,
) -> Arc<dyn PassphraseRetriever> {
    if stdin_is_terminal() {
        Arc::new(env.with_fallback(Arc::new(prompts(TerminalPrompter))))
    } else {
        Arc::new(env)
    }
}

/// Asks a yes/no question: `question` is written to `out`, one answer is read from standard
/// input. Only `y` and `yes` (any case) confirm; end of input or anything else declines.
pub(crate) fn confirm(question: &str, out: &mut dyn Write) -> io::Result<bool> {
    out.write_all(question.as_bytes())?;
    out.flush()?;
    let mut answer = String::new();
    io::stdin().lock().read_line(&mut answer)?;
    Ok(is_yes(&answer))
}

/// Asks `question` unless `yes` was given (`-y`/`--yes`): on standard output as notary asks,
/// or on standard error when the output is JSON. A refusal, or no answer at all (standard
/// input is not a terminal and holds no `yes`), is [`CliError::Aborted`], so that a command
/// that did nothing never exits 0.
pub(crate) fn confirm_or_abort(question: &str, yes: bool, json_output: bool) -> Result<()> {
    if yes {
        return Ok(());
    }
    let confirmed = if json_output {
        confirm(question, &mut io::stderr())
    } else {
        confirm(question, &mut io::stdout())
    }
    .map_err(CliError::stdio("read the answer"))?;
    if confirmed {
        Ok(())
    } else {
        Err(CliError::Aborted)
    }
}

/// Whether an answer confirms (the first word is `y` or `yes`, any case).
pub(crate) fn is_yes(answer: &str) -> bool {
    answer
        .split_whitespace()
        .next()
        .is_some_and(|w| w.eq_ignore_ascii_case("y") || w.eq_ignore_ascii_case("yes"))
}

/// Reads one line of standard input (trimmed); `None` at end of input.
pub(crate) fn read_line() -> io::Result<Option<String>> {
    let mut line = String::new();
    if io::stdin().lock().read_line(&mut line)? == 0 {
        return Ok(None);
    }
    Ok(Some(line.trim().to_owned()))
}

/// Credentials for a trust server that asks for them: `NOTARY_AUTH` (base64 of
/// `user:password`), else a username/password prompt when standard input is a terminal, else
/// none (anonymous).
#[derive(Debug, Default)]
pub(crate) struct CredentialPrompt;

impl CredentialSource for CredentialPrompt {
    fn credentials(&self, server: &str) -> Option<Credentials> {
        match Credentials::from_env() {
            Ok(Some(credentials)) => return Some(credentials),
            Ok(None) => {}
            Err(e) => {
                eprintln!("warning: ignoring NOTARY_AUTH: {e}");
                return None;
            }
        }
        if !stdin_is_terminal() {
            return None;
        }
        clear_line();
        eprintln!("The trust server {server} asks for credentials.");
        eprint!("Enter username: ");
        let _ = io::stderr().flush();
        let username = read_line().ok().flatten().filter(|u| !u.is_empty())?;
        let password = rpassword::prompt_password("Enter password: ").ok()?;
        Some(Credentials::new(username, password.trim()))
    }
}

/// Erases the current line of standard error (when it is a terminal).
pub(crate) fn clear_line() {
    if stderr_is_terminal() {
        let mut err = io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K");
        let _ = err.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yes_answers() {
        for yes in ["y", "YES", "yes\n", " Y trailing"] {
            assert!(is_yes(yes), "{yes:?}");
        }
        for no in ["", "n", "no", "yess", "\n"] {
            assert!(!is_yes(no), "{no:?}");
        }
    }
}
