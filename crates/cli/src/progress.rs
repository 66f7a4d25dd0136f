//! Progress on standard error, only when standard error is a terminal: [`Progress`] while a
//! command works through many items (two or more), [`Activity`] while it waits for the trust
//! server or signs. Both use one line, rewritten in place and erased when done; prompts erase
//! it too before they ask.

use std::io::Write as _;

use crate::terminal;

/// A progress line.
#[derive(Debug)]
pub(crate) struct Progress {
    label: String,
    total: usize,
    done: usize,
    enabled: bool,
}

impl Progress {
    /// Progress over `total` items, shown as `<label> [n/total] <item>`.
    pub(crate) fn new(label: &str, total: usize) -> Self {
        Self::with_terminal(label, total, terminal::stderr_is_terminal())
    }

    fn with_terminal(label: &str, total: usize, terminal: bool) -> Self {
        Self {
            label: label.to_owned(),
            total,
            done: 0,
            enabled: terminal && total > 1,
        }
    }

    /// The line for the next item.
    fn line(&self, item: &str) -> String {
        let item: String = item.chars().filter(|c| !c.is_control()).take(60).collect();
        format!("{} [{}/{}] {item}", self.label, self.done, self.total)
    }

    /// Marks the start of the next item.
    pub(crate) fn step(&mut self, item: &str) {
        self.done = self.done.saturating_add(1);
        if self.enabled {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K{}", self.line(item));
            let _ = err.flush();
        }
    }

    /// Erases the line.
    pub(crate) fn finish(self) {
        if self.enabled {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        }
    }
}

/// A one-line note of what is going on (`Fetching trust data for <gun>`).
#[derive(Debug)]
pub(crate) struct Activity {
    enabled: bool,
}

impl Activity {
    /// Shows `message` until [`finish`](Self::finish).
    pub(crate) fn start(message: &str) -> Self {
        let enabled = terminal::stderr_is_terminal();
        if enabled {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K{message} ...");
            let _ = err.flush();
        }
        Self { enabled }
    }

    /// Erases the line.
    pub(crate) fn finish(self) {
        if self.enabled {
            terminal::clear_line();
        }
    }
}

/// Draws a step reported by the client library on the progress line (used only when standard
/// error is a terminal).
pub(crate) fn show_event(event: &signet_client::progress::ProgressEvent) {
    let text: String = event
        .to_string()
        .chars()
        .filter(|c| !c.is_control())
        .take(100)
        .collect();
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "\r\x1b[2K{text} ...");
    let _ = err.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_only_on_a_terminal_and_for_several_items() {
        assert!(!Progress::with_terminal("x", 5, false).enabled);
        assert!(!Progress::with_terminal("x", 1, true).enabled);
        let mut p = Progress::with_terminal("Signing", 3, true);
        assert!(p.enabled);
        p.done = 1;
        assert_eq!(
            p.line("targets/\x1breleases"),
            "Signing [1/3] targets/releases"
        );
    }
}
