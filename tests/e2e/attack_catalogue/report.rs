//! What each case did on each server, the summary tables, and the expectation checks.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;

use super::wire::Outcome;
use super::{Case, Category, Expect};

/// One case on one server.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub(crate) category: Category,
    pub(crate) name: String,
    pub(crate) expect: Expect,
    pub(crate) outcome: Outcome,
    /// Paths whose answers changed (outside the GUN a valid publish targets).
    pub(crate) changed: Vec<String>,
    /// Whether any file of any repository changed (an expected publish aside).
    pub(crate) changed_anywhere: bool,
    /// Whether the server still answered its health check.
    pub(crate) healthy: bool,
    /// The panic message when the case itself failed.
    pub(crate) panicked: Option<String>,
}

impl Record {
    /// Records `case`'s result.
    pub(crate) fn new(
        case: &Case,
        outcome: Outcome,
        changed: Vec<String>,
        changed_anywhere: bool,
        healthy: bool,
        panicked: Option<String>,
    ) -> Self {
        Self {
            category: case.category,
            name: case.name.clone(),
            expect: case.expect,
            outcome,
            changed,
            changed_anywhere: changed_anywhere && !matches!(case.expect, Expect::Publishes(_)),
            healthy,
            panicked,
        }
    }

    fn is_2xx(&self) -> bool {
        self.outcome
            .status()
            .is_some_and(|s| (200..300).contains(&s))
    }

    fn is_refusal(&self) -> bool {
        self.outcome
            .status()
            .is_some_and(|s| (300..500).contains(&s))
    }

    fn is_5xx(&self) -> bool {
        self.outcome.status().is_some_and(|s| s >= 500)
    }

    fn is_dropped(&self) -> bool {
        matches!(self.outcome, Outcome::Dropped | Outcome::Silent) && self.panicked.is_none()
    }

    fn state_changed(&self) -> bool {
        !self.changed.is_empty() || self.changed_anywhere
    }

    /// The attack got through: state changed, or a 2xx where a refusal was expected.
    fn accepted_attack(&self) -> bool {
        self.state_changed() || (self.is_2xx() && self.expect.refuses())
    }

    /// Something a server should never do: answer 5xx, drop the connection unanswered
    /// (silence is fine where silence is expected), or die.
    fn misbehaved(&self) -> bool {
        self.is_5xx()
            || matches!(self.outcome, Outcome::Dropped)
            || (matches!(self.outcome, Outcome::Silent) && self.expect != Expect::NoAnswer)
            || !self.healthy
    }

    /// Why this record breaks its expectation (signet-server only), if it does.
    fn failure(&self) -> Option<String> {
        let mut problems = Vec::new();
        if let Some(panic) = &self.panicked {
            problems.push(format!("the case panicked: {panic}"));
        }
        if !self.healthy {
            problems.push("the server failed its health check afterwards".to_owned());
        }
        match self.expect {
            Expect::Status(status, code) => {
                let wanted = Outcome::Reply {
                    status,
                    code: code.to_owned(),
                    body: Vec::new(),
                };
                if self.outcome.describe() != wanted.describe() {
                    problems.push(format!(
                        "expected {}, got {} {}",
                        self.expect.describe(),
                        self.outcome.describe(),
                        self.outcome.body_excerpt()
                    ));
                }
            }
            Expect::NoAnswer => {
                if self.outcome != Outcome::Silent {
                    problems.push(format!(
                        "expected no answer, got {} {}",
                        self.outcome.describe(),
                        self.outcome.body_excerpt()
                    ));
                }
            }
            Expect::Publishes(_) | Expect::Accepts(_) => {
                if self.outcome.describe() != "200" {
                    problems.push(format!(
                        "expected 200, got {} {}",
                        self.outcome.describe(),
                        self.outcome.body_excerpt()
                    ));
                }
            }
        }
        if !self.changed.is_empty() {
            problems.push(format!("state changed: {}", self.changed.join(", ")));
        }
        (!problems.is_empty()).then(|| {
            format!(
                "[{}] {}: {}",
                self.category.name(),
                self.name,
                problems.join("; ")
            )
        })
    }
}

/// Counts per category.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    tried: usize,
    refused: usize,
    accepted: usize,
    server_errors: usize,
    dropped: usize,
    changed: usize,
}

impl Tally {
    fn add(&mut self, r: &Record) {
        self.tried += 1;
        self.refused += usize::from(r.is_refusal());
        self.accepted += usize::from(r.is_2xx());
        self.server_errors += usize::from(r.is_5xx());
        self.dropped += usize::from(r.is_dropped());
        self.changed += usize::from(r.state_changed());
    }

    fn row(&self, label: &str) -> String {
        format!(
            "| {label} | {} | {} | {} | {} | {} | {} |\n",
            self.tried, self.refused, self.accepted, self.server_errors, self.dropped, self.changed
        )
    }
}

/// The summary table of one server.
fn summary_table(records: &[Record]) -> String {
    let mut by_category: BTreeMap<Category, Tally> = BTreeMap::new();
    let mut total = Tally::default();
    for r in records {
        by_category.entry(r.category).or_default().add(r);
        total.add(r);
    }
    let mut out = String::from(
        "| category | tried | refused | accepted | 5xx | dropped | state changed |\n\
         |---|---:|---:|---:|---:|---:|---:|\n",
    );
    for category in Category::ALL {
        if let Some(t) = by_category.get(&category) {
            out.push_str(&t.row(category.name()));
        }
    }
    out.push_str(&total.row("**total**"));
    out
}

/// Every case of one server.
fn case_table(records: &[Record]) -> String {
    let mut out = String::from(
        "| category | case | signet expects | answer | state changed |\n|---|---|---|---|---|\n",
    );
    for r in records {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            r.category.name(),
            escape(&r.name),
            r.expect.describe(),
            r.outcome.describe(),
            if r.state_changed() {
                escape(&r.changed.join(" "))
            } else {
                "no".to_owned()
            }
        );
    }
    out
}

fn escape(text: &str) -> String {
    text.replace('|', "\\|")
}

/// Cases signet-server answers with a 2xx although they are attacks (known gaps), with the
/// Go server's answer when it ran.
fn signet_accepts(signet: &[Record], go: Option<&[Record]>) -> String {
    let go: BTreeMap<&str, &Record> = go
        .unwrap_or_default()
        .iter()
        .map(|r| (r.name.as_str(), r))
        .collect();
    let mut out =
        String::from("| category | case | signet-server | Go notary-server |\n|---|---|---|---|\n");
    let mut count = 0;
    for r in signet.iter().filter(|r| r.accepted_attack()) {
        count += 1;
        let theirs = go.get(r.name.as_str()).map_or_else(
            || "not run".to_owned(),
            |g| {
                let mut text = g.outcome.describe();
                if g.state_changed() {
                    text.push_str(", state changed");
                }
                text
            },
        );
        let _ = writeln!(
            out,
            "| {} | {} | {}, state changed | {theirs} |",
            r.category.name(),
            escape(&r.name),
            r.outcome.describe()
        );
    }
    format!("{count} case(s).\n\n{out}")
}

/// Cases where `go` accepted the attack, answered 5xx or dropped the connection while
/// `signet` did none of that.
fn go_only_problems(go: &[Record], signet: &[Record]) -> String {
    let signet: BTreeMap<&str, &Record> = signet.iter().map(|r| (r.name.as_str(), r)).collect();
    let mut out =
        String::from("| category | case | Go notary-server | signet-server |\n|---|---|---|---|\n");
    let mut count = 0;
    for g in go {
        let Some(s) = signet.get(g.name.as_str()) else {
            continue;
        };
        let go_bad = g.accepted_attack() || g.misbehaved();
        let signet_bad = s.accepted_attack() || s.misbehaved();
        if go_bad && !signet_bad {
            count += 1;
            let mut what = g.outcome.describe();
            if g.state_changed() {
                what.push_str(", state changed");
            }
            if !g.healthy {
                what.push_str(", server unhealthy");
            }
            let _ = writeln!(
                out,
                "| {} | {} | {what} | {} |",
                g.category.name(),
                escape(&g.name),
                s.outcome.describe()
            );
        }
    }
    format!("{count} case(s).\n\n{out}")
}

fn slug(server: &str) -> String {
    server
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect::<String>()
        .split('-')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

fn report_dir() -> PathBuf {
    let debug = signet_e2e::debug_binary("attack-catalogue");
    let target = debug
        .parent()
        .and_then(|d| d.parent())
        .map_or_else(|| PathBuf::from("target"), PathBuf::from);
    target.join("attack-catalogue")
}

/// Prints the summaries, writes one report per server plus `summary.md`, and returns the
/// failed expectations of the signet-server runs.
pub(crate) fn write_all(results: &[(String, bool, Vec<Record>)]) -> Vec<String> {
    let dir = report_dir();
    let _ = std::fs::create_dir_all(&dir);
    let mut summary = String::from("# Attack catalogue\n\n");
    let mut failures = Vec::new();
    let first_signet = results.iter().find(|(_, is_signet, _)| *is_signet);
    let go = results
        .iter()
        .find(|(_, is_signet, _)| !*is_signet)
        .map(|(_, _, records)| records.as_slice());
    for (server, is_signet, records) in results {
        let table = summary_table(records);
        let _ = write!(summary, "## {server}\n\n{table}\n");
        let mut file = format!("# Attack catalogue: {server}\n\n{table}\n");
        if *is_signet {
            for r in records {
                failures.extend(r.failure().map(|f| format!("{server}: {f}")));
            }
            let list = signet_accepts(records, go);
            let _ = write!(summary, "### Attacks {server} accepts\n\n{list}\n");
            let _ = write!(file, "## Attacks it accepts\n\n{list}\n");
        } else if let Some((_, _, signet)) = first_signet {
            let list = go_only_problems(records, signet);
            let _ = write!(
                summary,
                "### Where {server} accepts an attack, answers 5xx or drops the connection, and signet-server does not\n\n{list}\n"
            );
            let _ = write!(
                file,
                "## Where it accepts an attack, answers 5xx or drops the connection, and signet-server does not\n\n{list}\n"
            );
        }
        let _ = write!(file, "## Every case\n\n{}", case_table(records));
        let _ = std::fs::write(dir.join(format!("{}.md", slug(server))), file);
    }
    let _ = std::fs::write(dir.join("summary.md"), &summary);
    let _ = writeln!(
        std::io::stderr(),
        "{summary}\n(reports in {})",
        dir.display()
    );
    failures
}
