//! What commands print: notary's text on standard output, or one JSON document.
//!
//! Text output goes to standard output as the command runs, exactly where notary prints it.
//! In JSON mode text is suppressed and the command's result document is printed once, at the
//! end, followed by a newline; errors become `{"error": {...}}` documents (see
//! [`crate::error`]). Progress and prompts never go to standard output.

use std::borrow::Cow;
use std::io::{self, Write};

use serde::Serialize;

use crate::options::OutputFormat;

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

    /// Streams text (text mode only) through a large buffer: `write` produces it piece by
    /// piece, so big listings are never held in memory nor written a line per system call.
    pub(crate) fn text_with(
        &mut self,
        write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    ) -> io::Result<()> {
        if self.is_json() {
            return Ok(());
        }
        let mut buffered = io::BufWriter::with_capacity(BUFFER_SIZE, &mut self.out);
        write(&mut buffered)?;
        buffered.flush()
    }

    /// Writes raw bytes in either mode (payloads such as `verify`'s or exported keys).
    pub(crate) fn raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.out.flush()
    }
}

/// Writes `value` as pretty JSON and a newline.
pub(crate) fn write_json<T: Serialize + ?Sized>(out: &mut dyn Write, value: &T) -> io::Result<()> {
    // The pretty printer writes token by token; standard output flushes at every newline.
    let mut buffered = io::BufWriter::with_capacity(BUFFER_SIZE, out);
    serde_json::to_writer_pretty(&mut buffered, value).map_err(io::Error::other)?;
    buffered.write_all(b"\n")?;
    buffered.flush()
}

/// Buffer size for streamed output.
const BUFFER_SIZE: usize = 64 * 1024;

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
            .map(|c| sanitize(c.as_ref()).into_owned())
            .collect();
        row.resize(columns, String::new());
        self.rows.push(row);
    }

    fn columns(&self) -> usize {
        self.rows.first().map_or(0, Vec::len)
    }

    /// The laid-out text, one line per row, each ending in a newline.
    pub(crate) fn render(&self) -> String {
        let mut layout = TableLayout::new(self.columns());
        for row in &self.rows {
            layout.measure(row);
        }
        let mut out = String::new();
        for row in &self.rows {
            layout.push_row(&mut out, row);
        }
        out
    }
}

/// The column widths of a [`Table`], for writing a table row by row without holding its cells:
/// [`measure`](Self::measure) every row (header and dashes included, see
/// [`header_rows`](Self::header_rows)), then [`write_row`](Self::write_row) each. The output is
/// byte for byte what [`Table::render`] gives for the same rows.
#[derive(Debug, Clone)]
pub(crate) struct TableLayout {
    columns: usize,
    widths: Vec<usize>,
}

impl TableLayout {
    /// A layout for `columns` columns, before any row is measured.
    pub(crate) fn new(columns: usize) -> Self {
        Self {
            columns,
            widths: vec![MIN_WIDTH; columns.saturating_sub(1)],
        }
    }

    /// The header row and its line of dashes, as [`Table::new`] makes them.
    pub(crate) fn header_rows(headers: &[&str]) -> [Vec<String>; 2] {
        [
            headers.iter().map(|h| (*h).to_owned()).collect(),
            headers
                .iter()
                .map(|h| "-".repeat(h.chars().count()))
                .collect(),
        ]
    }

    /// Widens the columns to fit `cells` (control characters count escaped).
    pub(crate) fn measure<S: AsRef<str>>(&mut self, cells: &[S]) {
        for (width, cell) in self.widths.iter_mut().zip(cells) {
            let shown = sanitize(cell.as_ref());
            *width = (*width).max(shown.chars().count() + PADDING);
        }
    }

    /// Writes one row and its newline; missing cells are empty, extra cells are dropped.
    pub(crate) fn write_row<S: AsRef<str>>(
        &self,
        out: &mut dyn Write,
        cells: &[S],
    ) -> io::Result<()> {
        let mut line = String::new();
        self.push_row(&mut line, cells);
        out.write_all(line.as_bytes())
    }

    fn push_row<S: AsRef<str>>(&self, out: &mut String, cells: &[S]) {
        for i in 0..self.columns {
            let cell = cells.get(i).map_or("", AsRef::as_ref);
            let shown = sanitize(cell);
            out.push_str(&shown);
            if let Some(width) = self.widths.get(i) {
                let pad = width.saturating_sub(shown.chars().count());
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push('\n');
    }
}

/// Control characters (tabs, newlines, escapes) in names would break the layout or the
/// terminal: they are shown escaped.
fn sanitize(cell: &str) -> Cow<'_, str> {
    if cell.chars().any(char::is_control) {
        Cow::Owned(
            cell.chars()
                .map(|c| {
                    if c.is_control() {
                        c.escape_default().to_string()
                    } else {
                        c.to_string()
                    }
                })
                .collect(),
        )
    } else {
        Cow::Borrowed(cell)
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
    fn streamed_rows_match_the_rendered_table() {
        let headers = ["NAME", "DIGEST", "SIZE (BYTES)", "ROLE"];
        let rows = [
            ["a-long-target-name", "00ff", "1", "targets"],
            ["x\ty", "", "123456789012345", "targets/releases"],
        ];
        let mut table = Table::new(&headers);
        let mut layout = TableLayout::new(headers.len());
        let header_rows = TableLayout::header_rows(&headers);
        for row in &header_rows {
            layout.measure(row);
        }
        for row in &rows {
            table.row(row);
            layout.measure(row);
        }
        let mut streamed = Vec::new();
        for row in &header_rows {
            layout.write_row(&mut streamed, row).unwrap();
        }
        for row in &rows {
            layout.write_row(&mut streamed, row).unwrap();
        }
        assert_eq!(String::from_utf8(streamed).unwrap(), table.render());
    }

    #[test]
    fn truncation() {
        assert_eq!(truncate_with_ellipsis("abcdef", 6, true), "abcdef");
        assert_eq!(truncate_with_ellipsis("abcdefg", 6, true), "...efg");
        assert_eq!(truncate_with_ellipsis("abcdefg", 6, false), "abc...");
    }
}
