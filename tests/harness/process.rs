//! Long-running server processes: start, wait for health, capture logs, kill on drop.

use std::ffi::OsString;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::error::{HarnessError, Result};
use crate::http::is_healthy;

/// Default time a server gets to answer its health URL.
pub const DEFAULT_STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs the server as a child of `sh` together with a watcher that kills it as soon as the
/// watcher's stdin (a pipe held by [`ServerProcess`]) reaches end of file. The pipe closes when
/// the `ServerProcess` is dropped or when the test process dies in any way, so a server kept in
/// a `static` never outlives the test binary. The wrapper exits with the server's status.
const WATCHDOG: &str = r#"
exec 3<&0
"$@" </dev/null 3<&- &
server=$!
(cat >/dev/null; kill -KILL "$server" 2>/dev/null) <&3 &
watcher=$!
exec 3<&- 0</dev/null
wait "$server"
status=$?
kill "$watcher" 2>/dev/null
exit "$status"
"#;

/// How to start a server: program, arguments, environment and the URL that says it is up.
#[derive(Debug, Clone)]
pub struct ServerCommand {
    name: String,
    program: PathBuf,
    args: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
    current_dir: Option<PathBuf>,
    health_url: Option<String>,
    startup_timeout: Duration,
}

impl ServerCommand {
    /// A server started by running `program`; its display name defaults to the file name.
    pub fn new(program: impl Into<PathBuf>) -> Self {
        let program = program.into();
        let name = program.file_name().map_or_else(
            || program.display().to_string(),
            |name| name.to_string_lossy().into_owned(),
        );
        Self {
            name,
            program,
            args: Vec::new(),
            envs: Vec::new(),
            current_dir: None,
            health_url: None,
            startup_timeout: DEFAULT_STARTUP_TIMEOUT,
        }
    }

    /// Sets the name used in messages and log headers.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Appends one argument.
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Appends arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable for the server.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.envs.push((key.into(), value.into()));
        self
    }

    /// Sets the server's working directory.
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.current_dir = Some(dir.into());
        self
    }

    /// The URL polled until it answers 2xx (`http://` directly, `https://` via `curl -k`).
    /// Without one, [`start`](Self::start) returns as soon as the process is spawned.
    pub fn health_url(mut self, url: impl Into<String>) -> Self {
        self.health_url = Some(url.into());
        self
    }

    /// How long to wait for the health URL (default 30 s).
    pub fn startup_timeout(mut self, timeout: Duration) -> Self {
        self.startup_timeout = timeout;
        self
    }

    /// Starts the server with stdout and stderr going to a log file, then waits until the health
    /// URL answers. Fails with the log if the server exits first or the wait times out.
    pub fn start(self) -> Result<ServerProcess> {
        let log_dir = tempfile::Builder::new()
            .prefix("signet-e2e-server-")
            .tempdir()
            .map_err(|e| HarnessError::io("create server log directory", e))?;
        let log_path = log_dir.path().join(format!(
            "{}.log",
            self.name.replace(|c: char| !c.is_ascii_alphanumeric(), "-")
        ));
        let log = File::create(&log_path)
            .map_err(|e| HarnessError::io(format!("create {}", log_path.display()), e))?;
        let log_err = log
            .try_clone()
            .map_err(|e| HarnessError::io(format!("clone {}", log_path.display()), e))?;

        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(WATCHDOG)
            .arg("signet-e2e-watchdog")
            .arg(&self.program)
            .args(&self.args)
            .envs(self.envs.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(log)
            .stderr(log_err);
        if let Some(dir) = &self.current_dir {
            command.current_dir(dir);
        }
        let mut child = command.spawn().map_err(|source| HarnessError::Spawn {
            program: self.program.clone(),
            source,
        })?;
        let lifeline = child.stdin.take();
        let mut server = ServerProcess {
            name: self.name,
            child,
            lifeline,
            log_path,
            _log_dir: log_dir,
        };
        if let Some(url) = &self.health_url {
            server.wait_healthy(url, self.startup_timeout)?;
        }
        Ok(server)
    }
}

/// A running server. Dropping it kills the server; if the thread is panicking (a failing test),
/// the server's log is printed first.
#[derive(Debug)]
pub struct ServerProcess {
    name: String,
    child: Child,
    lifeline: Option<ChildStdin>,
    log_path: PathBuf,
    _log_dir: TempDir,
}

impl ServerProcess {
    /// The display name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Path of the file holding the server's stdout and stderr.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Everything the server has logged so far.
    pub fn logs(&self) -> String {
        std::fs::read(&self.log_path)
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_else(|e| format!("<cannot read {}: {e}>", self.log_path.display()))
    }

    /// Writes the server's log to stderr with a header naming the server.
    pub fn print_logs(&self) {
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(
            stderr,
            "----- log of {} ({}) -----\n{}\n----- end of log of {} -----",
            self.name,
            self.log_path.display(),
            self.logs(),
            self.name
        );
    }

    /// Whether the server process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Polls `url` until it answers 2xx, failing if the process exits or `timeout` passes.
    pub fn wait_healthy(&mut self, url: &str, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(HarnessError::ServerExited {
                    name: self.name.clone(),
                    status: status.to_string(),
                    log: self.logs(),
                });
            }
            if is_healthy(url) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(HarnessError::ServerTimeout {
                    name: self.name.clone(),
                    health_url: url.to_owned(),
                    timeout,
                    log: self.logs(),
                });
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// The process ID of the server itself (not of its watchdog wrapper).
    pub fn server_pid(&self) -> Result<u32> {
        let wrapper = self.child.id();
        let children = std::fs::read_to_string(format!("/proc/{wrapper}/task/{wrapper}/children"))
            .map_err(|e| HarnessError::io(format!("list the children of {}", self.name), e))?;
        // The server is the wrapper's first child; the watcher subshell comes second.
        children
            .split_whitespace()
            .next()
            .and_then(|pid| pid.parse().ok())
            .ok_or_else(|| {
                HarnessError::io(
                    format!("find the process of {}", self.name),
                    std::io::Error::from(std::io::ErrorKind::NotFound),
                )
            })
    }

    /// The server's resident set size in KiB (`VmRSS` of `/proc/<pid>/status`).
    pub fn rss_kib(&self) -> Result<u64> {
        let pid = self.server_pid()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .map_err(|e| HarnessError::io(format!("read the status of {}", self.name), e))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .ok_or_else(|| {
                HarnessError::io(
                    format!("read VmRSS of {}", self.name),
                    std::io::Error::from(std::io::ErrorKind::InvalidData),
                )
            })
    }

    /// Sends SIGTERM to the server (not to its watchdog) and waits up to `timeout` for it to
    /// exit. Returns how long it took, or `None` if it was still running at the deadline.
    pub fn terminate(&mut self, timeout: Duration) -> Result<Option<Duration>> {
        let server = self.server_pid()?.to_string();
        let started = Instant::now();
        let status = Command::new("kill")
            .args(["-TERM", &server])
            .status()
            .map_err(|e| HarnessError::io(format!("signal {}", self.name), e))?;
        if !status.success() {
            return Err(HarnessError::io(
                format!("signal {} (pid {server})", self.name),
                std::io::Error::other(status.to_string()),
            ));
        }
        while started.elapsed() < timeout {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return Ok(Some(started.elapsed()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(None)
    }

    /// Kills the server and waits for it to exit.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        // Closing the pipe makes the watchdog kill the server; the wrapper then exits.
        drop(self.lifeline.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        while matches!(self.child.try_wait(), Ok(None)) {
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.print_logs();
        }
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_a_server_that_exits_during_start_up() {
        let error = ServerCommand::new("sh")
            .name("failing")
            .args(["-c", "echo cannot bind >&2; exit 7"])
            .health_url("http://127.0.0.1:1/health")
            .start()
            .unwrap_err();
        match error {
            HarnessError::ServerExited { name, status, log } => {
                assert_eq!(name, "failing");
                assert!(status.contains('7'), "{status}");
                assert!(log.contains("cannot bind"), "{log}");
            }
            other => panic!("unexpected error {other}"),
        }
    }

    #[test]
    fn drop_kills_the_server_process() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("pid");
        let script = format!("echo $$ > {}; exec sleep 600", pid_file.display());
        let server = ServerCommand::new("sh")
            .args(["-c", &script])
            .start()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let pid = loop {
            if let Ok(pid) = std::fs::read_to_string(&pid_file)
                && !pid.trim().is_empty()
            {
                break pid.trim().to_owned();
            }
            assert!(Instant::now() < deadline, "server never wrote its pid");
            std::thread::sleep(Duration::from_millis(10));
        };
        let proc_dir = PathBuf::from("/proc").join(&pid);
        assert!(proc_dir.exists());
        drop(server);
        // The killed process is reaped by its parent, the watchdog shell, which has exited too.
        let deadline = Instant::now() + Duration::from_secs(10);
        while proc_dir.exists() {
            assert!(Instant::now() < deadline, "process {pid} survived the drop");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn captures_server_output_in_the_log() {
        let server = ServerCommand::new("sh")
            .name("chatty")
            .args(["-c", "echo listening; echo warning >&2; exec sleep 600"])
            .start()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !(server.logs().contains("listening") && server.logs().contains("warning")) {
            assert!(Instant::now() < deadline, "log: {}", server.logs());
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(server.log_path().ends_with("chatty.log"));
    }
}
