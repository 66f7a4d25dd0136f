//! What commands print: notary's text on standard output, or one JSON document.
//!
//! Text output goes to standard output as the command runs, exactly where notary prints it.
//! In JSON mode text is suppressed and the command's result document is printed once, at the
//! end, followed by a newline; errors become `{"error": {...}}` documents (see
//! [`crate::error`]). Progress and prompts never go to standard output.

use std::io::{self, Write};

use serde::Serialize;

use crate::args::OutputFormat;

/// The output channel of one command run.
pub(crate) struct Output {
    format: OutputFormat,
    out: Box<dyn Write>,
}

impl Output {
    /// Output to the process's standard output.
    pub(crate) fn stdout(format: OutputFormat) -> Self {
        Self {
            format,
            out: Box::new(io::stdout()),
        }
    }

    /// Whether JSON output was requested.
    pub(crate) fn is_json(&self) -> bool {
        self.format == OutputFormat::Json
    }

    /// Prints `text` as is (text mode only).
    pub(crate) fn text(&mut self, text: &str) -> io::Result<()> {
        if self.is_json() {
            return Ok(());
        }
        self.out.write_all(text.as_bytes())?;
        self.out.flush()
    }

    /// Prints `line` and a newline (text mode only).
    pub(crate) fn line(&mut self, line: &str) -> io::Result<()> {
        if self.is_json() {
            return Ok(());
        }
        self.out.write_all(line.as_bytes())?;
        self.out.write_all(b"\n")?;
        self.out.flush()
    }

    /// Prints the result document (JSON mode only), pretty-printed, with a final newline.
    pub(crate) fn json<T: Serialize + ?Sized>(&mut self, value: &T) -> io::Result<()> {
        if !self.is_json() {
            return Ok(());
        }
        write_json(&mut self.out, value)
    }

    /// Writes raw bytes in either mode (payloads such as `verify`'s or exported keys).
    pub(crate) fn raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.out.flush()
    }
}

/// Writes `value` as pretty JSON and a newline.
pub(crate) fn write_json<T: Serialize + ?Sized>(out: &mut dyn Write, value: &T) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value).map_err(io::Error::other)?;
    out.write_all(b"\n")?;
    out.flush()
}

/// A table laid out like notary's (Go `text/tabwriter` with minimum width 4, padding 4 and
/// spaces): a header, a line of dashes as long as each header, then the rows. Every column but
/// the last is padded to the widest cell plus four spaces (at least four characters); the last
/// column is not padded.
#[derive(Debug, Clone)]
pub(crate) struct Table {
    rows: Vec<Vec<String>>,
}

const MIN_WIDTH: usize = 4;
const PADDING: usize = 4;

impl Table {
    /// A table with these column headers.
    pub(crate) fn new(headers: &[&str]) -> Self {
        let header: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
        let dashes = headers
            .iter()
            .map(|h| "-".repeat(h.chars().count()))
            .collect();
        Self {
            rows: vec![header, dashes],
        }
    }

    /// Appends a row; missing cells are empty, extra cells are dropped.
    pub(crate) fn row<S: AsRef<str>>(&mut self, cells: &[S]) {
        let columns = self.columns();
        let mut row: Vec<String> = cells
            .iter()
            .take(columns)
            .map(|c| sanitize(c.as_ref()))
            .collect();
        row.resize(columns, String::new());
        self.rows.push(row);
    }

    fn columns(&self) -> usize {
        self.rows.first().map_or(0, Vec::len)
    }

    /// The laid-out text, one line per row, each ending in a newline.
    pub(crate) fn render(&self) -> String {
        let columns = self.columns();
        let mut widths = vec![MIN_WIDTH; columns.saturating_sub(1)];
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count() + PADDING);
            }
        }
        let mut out = String::new();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                out.push_str(cell);
                if let Some(width) = widths.get(i) {
                    let pad = width.saturating_sub(cell.chars().count());
                    out.extend(std::iter::repeat_n(' ', pad));
                }
            }
            out.push('\n');
        }
        out
    }
}

/// Control characters (tabs, newlines, escapes) in names would break the layout or the
/// terminal: they are shown escaped.
fn sanitize(cell: &str) -> String {
    if cell.chars().any(char::is_control) {
        cell.chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect()
    } else {
        cell.to_owned()
    }
}

/// Shortens `text` to `max` characters with a leading (`left == true`) or trailing `...`, as
/// notary does for long GUNs and key locations.
pub(crate) fn truncate_with_ellipsis(text: &str, max: usize, left: bool) -> String {
    let count = text.chars().count();
    if count <= max {
        return text.to_owned();
    }
    let keep = max.saturating_sub(3);
    if left {
        let tail: String = text.chars().skip(count - keep).collect();
        format!("...{tail}")
    } else {
        let head: String = text.chars().take(keep).collect();
        format!("{head}...")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_matches_go_tabwriter_layout() {
        let mut t = Table::new(&["ROLE", "GUN", "KEY ID", "LOCATION"]);
        t.row(&["root", "", "44df", "/tmp/nt/td/private"]);
        t.row(&["targets", "example.com/app", "da05", "/tmp/nt/td/private"]);
        assert_eq!(
            t.render(),
            "ROLE       GUN                KEY ID    LOCATION\n\
             ----       ---                ------    --------\n\
             root                          44df      /tmp/nt/td/private\n\
             targets    example.com/app    da05      /tmp/nt/td/private\n"
        );
    }

    #[test]
    fn short_columns_have_the_minimum_width_and_the_last_is_not_padded() {
        let mut t = Table::new(&["#", "PATH"]);
        t.row(&["0", ""]);
        assert_eq!(t.render(), "#    PATH\n-    ----\n0    \n");
    }

    #[test]
    fn control_characters_are_escaped() {
        let mut t = Table::new(&["NAME", "X"]);
        t.row(&["a\tb\nc", "x"]);
        assert!(t.render().contains("a\\tb\\nc    x\n"));
    }

    #[test]
    fn truncation() {
        assert_eq!(truncate_with_ellipsis("abcdef", 6, true), "abcdef");
        assert_eq!(truncate_with_ellipsis("abcdefg", 6, true), "...efg");
        assert_eq!(truncate_with_ellipsis("abcdefg", 6, false), "abc...");
    }
}
