//! Running short-lived commands with captured output and a time limit.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::error::{HarnessError, Result};

/// Default time limit for one command.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

/// What a finished command produced.
#[derive(Debug, Clone)]
pub struct CommandOutput {
    /// The command line, for messages.
    pub command: String,
    /// The exit status.
    pub status: ExitStatus,
    /// Standard output (lossy UTF-8).
    pub stdout: String,
    /// Standard error (lossy UTF-8).
    pub stderr: String,
}

impl CommandOutput {
    /// Whether the command exited with status 0.
    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// `Ok(self)` when the command succeeded, otherwise [`HarnessError::CommandFailed`] carrying
    /// both output streams.
    pub fn ok(self) -> Result<Self> {
        if self.success() {
            Ok(self)
        } else {
            Err(HarnessError::CommandFailed {
                command: self.command,
                status: self.status.to_string(),
                stdout: self.stdout,
                stderr: self.stderr,
            })
        }
    }
}

/// Runs the tool `program` with `args` (setup steps such as `mount` or `pg_ctl`) under
/// [`DEFAULT_COMMAND_TIMEOUT`]; unless it exits 0, an error naming the command line, its status
/// and its standard error.
pub fn run_tool(program: &str, args: &[&str]) -> std::result::Result<(), String> {
    let output = run_command(
        Command::new(program).args(args),
        None,
        DEFAULT_COMMAND_TIMEOUT,
    )
    .map_err(|e| e.to_string())?;
    if output.success() {
        Ok(())
    } else {
        Err(format!(
            "{}: {}: {}",
            output.command,
            output.status,
            output.stderr.trim()
        ))
    }
}

/// Renders a command line for messages.
fn describe(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|part| part.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `command` to completion, feeding it `stdin` (or nothing), capturing both output streams,
/// and killing it after `timeout`. A non-zero exit is not an error here; see
/// [`CommandOutput::ok`].
pub fn run_command(
    command: &mut Command,
    stdin: Option<&[u8]>,
    timeout: Duration,
) -> Result<CommandOutput> {
    let described = describe(command);
    let capture = |stream: &str| {
        tempfile::tempfile()
            .map_err(|e| HarnessError::io(format!("temp file for {stream} of `{described}`"), e))
    };
    let stdout_file = capture("stdout")?;
    let stderr_file = capture("stderr")?;
    let child_stdio = |file: &File| {
        file.try_clone()
            .map(Stdio::from)
            .map_err(|e| HarnessError::io(format!("clone output file of `{described}`"), e))
    };
    command
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(child_stdio(&stdout_file)?)
        .stderr(child_stdio(&stderr_file)?);
    let mut child = command.spawn().map_err(|source| HarnessError::Spawn {
        program: command.get_program().into(),
        source,
    })?;
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // A command that exits without reading its input closes the pipe; that is its choice.
        let _ = pipe.write_all(input);
    }

    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(HarnessError::CommandTimeout {
                    command: described,
                    timeout,
                });
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(HarnessError::io(format!("wait for `{described}`"), e)),
        }
    };

    Ok(CommandOutput {
        stdout: read_all(stdout_file, &described)?,
        stderr: read_all(stderr_file, &described)?,
        command: described,
        status,
    })
}

fn read_all(mut file: File, described: &str) -> Result<String> {
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0))
        .and_then(|_| file.read_to_end(&mut bytes))
        .map_err(|e| HarnessError::io(format!("read output of `{described}`"), e))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_both_streams_and_stdin() {
        let output = run_command(
            Command::new("sh").args(["-c", "cat; echo err >&2; exit 3"]),
            Some(b"from stdin"),
            DEFAULT_COMMAND_TIMEOUT,
        )
        .unwrap();
        assert_eq!(output.stdout, "from stdin");
        assert_eq!(output.stderr, "err\n");
        assert_eq!(output.status.code(), Some(3));
        let error = output.ok().unwrap_err();
        assert!(error.to_string().contains("from stdin"), "{error}");
    }

    #[test]
    fn kills_a_command_that_overruns() {
        let started = Instant::now();
        let error = run_command(
            Command::new("sleep").arg("30"),
            None,
            Duration::from_millis(200),
        )
        .unwrap_err();
        assert!(
            matches!(error, HarnessError::CommandTimeout { .. }),
            "{error}"
        );
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
