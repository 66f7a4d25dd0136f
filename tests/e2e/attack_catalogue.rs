//! The attack catalogue: a few hundred malformed or malicious requests, sent over raw HTTP to
//! a running signet-server on SQLite, one on Postgres, and the Go notary-server (in memory).
//!
//! Every case names the answer signet-server must give (status and Notary error code) and
//! every case must leave every file of every repository on the server byte-for-byte as it
//! was (and write no changefeed record). Only the hang-up case ends with a valid publish,
//! which must land. The Go server's answers are recorded, not asserted.
//!
//! TUF and semantic attacks are validly signed with the repositories' real keys (published
//! by the Go `notary` CLI, keys read from its trust dir), so only the rule under test is
//! broken. The summary (per category: tried, refused, accepted, 5xx, dropped connections,
//! state changed; and the cases where the Go server accepts an attack or answers 5xx but
//! signet-server does not) is printed and written to `target/attack-catalogue/`.
//!
//! ```text
//! CI=true cargo test -p signet-e2e --test e2e -- attack_catalogue --nocapture
//! ```

pub(crate) mod fixture;
mod http;
mod names;
mod report;
mod semantic;
mod signatures;
mod size;
mod syntax;
mod tuf;
mod wire;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

use signet_e2e::{GoNotaryServer, SignetServer, require_postgres};

use crate::support::go_notary_available;
use fixture::Ctx;
use report::Record;
use wire::Outcome;

/// The groups of the catalogue, in report order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Category {
    /// JSON, canonical JSON and multipart framing.
    Syntax,
    /// Missing, unknown, insufficient or mismatched signatures.
    Signatures,
    /// Rollback, version games, expiry, mix-and-match, root rotation, hashes, delegations.
    Tuf,
    /// Huge bodies, deep nesting, many parts, long names.
    Size,
    /// Unicode, NUL, `..`, percent-encoding and case tricks in GUNs and roles.
    Names,
    /// Methods, header games, authorization headers, slow and abandoned requests.
    Http,
    /// Roles the server owns, deletions by prefix.
    Semantic,
}

impl Category {
    /// Every category, in report order.
    pub(crate) const ALL: [Self; 7] = [
        Self::Syntax,
        Self::Signatures,
        Self::Tuf,
        Self::Size,
        Self::Names,
        Self::Http,
        Self::Semantic,
    ];

    /// The name in tables.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Syntax => "syntax",
            Self::Signatures => "signatures",
            Self::Tuf => "TUF",
            Self::Size => "size and depth",
            Self::Names => "names",
            Self::Http => "HTTP",
            Self::Semantic => "semantic",
        }
    }
}

/// What signet-server must answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expect {
    /// This status and Notary error code (`""`: none); nothing changes. A 2xx here is a
    /// harmless answer (for example deleting a GUN that does not exist).
    Status(u16, &'static str),
    /// No answer before the client gives up (a body that never arrives); nothing changes.
    NoAnswer,
    /// The final, valid request succeeds; nothing outside this GUN changes.
    Publishes(&'static str),
    /// signet-server accepts this, as the Go server does (a known gap, listed in the
    /// report): 200, and nothing outside this GUN changes. The GUN is restored afterwards.
    Accepts(&'static str),
}

impl Expect {
    /// Whether the expected answer refuses the request.
    pub(crate) fn refuses(self) -> bool {
        match self {
            Self::Status(status, _) => !(200..300).contains(&status),
            Self::NoAnswer | Self::Accepts(_) => true,
            Self::Publishes(_) => false,
        }
    }

    /// A short description for tables.
    pub(crate) fn describe(self) -> String {
        match self {
            Self::Status(status, "") => status.to_string(),
            Self::Status(status, code) => format!("{status} {code}"),
            Self::NoAnswer => "silent".to_owned(),
            Self::Publishes(_) => "200 (valid publish)".to_owned(),
            Self::Accepts(_) => "200 (accepted, known gap)".to_owned(),
        }
    }
}

/// The body of a case: sends its requests and returns what the server answered.
pub(crate) type Attack = Box<dyn Fn(&Ctx) -> Outcome + Send + Sync>;

/// One catalogue entry.
pub(crate) struct Case {
    pub(crate) category: Category,
    pub(crate) name: String,
    pub(crate) expect: Expect,
    pub(crate) attack: Attack,
}

/// A case in `category`.
pub(crate) fn case(
    category: Category,
    name: impl Into<String>,
    expect: Expect,
    attack: impl Fn(&Ctx) -> Outcome + Send + Sync + 'static,
) -> Case {
    Case {
        category,
        name: name.into(),
        expect,
        attack: Box::new(attack),
    }
}

/// Every case, in running order (destructive deletions by prefix last).
fn catalogue() -> Vec<Case> {
    let mut cases = Vec::new();
    cases.extend(syntax::cases());
    cases.extend(signatures::cases());
    cases.extend(tuf::cases());
    cases.extend(names::cases());
    cases.extend(http::cases());
    // Size cases that a server accepts can leave huge files behind (the Go server accepts
    // a snapshot naming thousands of files that do not exist), which slows every later
    // state check: they run near the end.
    cases.extend(size::cases());
    cases.extend(semantic::cases());
    let mut seen = std::collections::HashSet::new();
    for case in &cases {
        assert!(
            seen.insert(case.name.clone()),
            "duplicate case {:?}",
            case.name
        );
    }
    cases
}

/// Runs every case against one server and records what happened.
fn run(ctx: &Ctx, cases: &[Case]) -> Vec<Record> {
    let started = Instant::now();
    let mut records = Vec::with_capacity(cases.len());
    let trace = std::env::var_os("ATTACK_CATALOGUE_TRACE").is_some();
    for case in cases {
        let case_started = Instant::now();
        let before = ctx.state();
        let outcome = catch_unwind(AssertUnwindSafe(|| (case.attack)(ctx)));
        let after = ctx.state();
        let (outcome, panicked) = match outcome {
            Ok(outcome) => (outcome, None),
            Err(panic) => {
                let text = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default();
                (Outcome::Dropped, Some(text))
            }
        };
        let except = match case.expect {
            Expect::Publishes(gun) | Expect::Accepts(gun) => Some(gun),
            Expect::Status(..) | Expect::NoAnswer => None,
        };
        let changed = before.changed(&after, except);
        let changed_anywhere = before.changed(&after, None);
        // A case the server accepted must not leak into the next ones: rebuild what changed.
        for (gun, _) in fixture::REPOS {
            let prefix = format!("/v2/{gun}/");
            if changed_anywhere
                .iter()
                .any(|path| path.starts_with(&prefix))
                && let Err(e) = ctx.restore(gun)
            {
                eprintln!(
                    "{}: could not restore {gun} after {:?}: {e}",
                    ctx.server, case.name
                );
            }
        }
        let healthy = match &outcome {
            Outcome::Reply { status, .. } if *status < 500 => true,
            _ => ctx.healthy(),
        };
        if trace {
            eprintln!(
                "{}: {:?} {} in {:?} {}",
                ctx.server,
                case.name,
                outcome.describe(),
                case_started.elapsed(),
                outcome.body_excerpt().chars().take(300).collect::<String>()
            );
        }
        records.push(Record::new(
            case,
            outcome,
            changed,
            !changed_anywhere.is_empty(),
            healthy,
            panicked,
        ));
    }
    eprintln!(
        "attack catalogue: {} cases on {} in {:?}",
        cases.len(),
        ctx.server,
        started.elapsed()
    );
    records
}

/// The three servers, set up and attacked at the same time; then the reports, then the
/// assertions on signet-server.
#[test]
fn attack_catalogue() {
    if !go_notary_available() {
        return;
    }
    // A debugging aid: `ATTACK_CATALOGUE_SERVERS=sqlite,go` runs only those servers.
    let only = std::env::var("ATTACK_CATALOGUE_SERVERS").ok();
    let wanted = |name: &str| {
        only.as_deref()
            .is_none_or(|list| list.split(',').any(|w| name.contains(w)))
    };
    let postgres = if wanted("postgres") {
        require_postgres()
    } else {
        None
    };
    let cases = catalogue();
    let sqlite = wanted("sqlite").then(|| SignetServer::start_sqlite().unwrap());
    let on_postgres = postgres
        .as_ref()
        .map(|pg| SignetServer::start_postgres(pg).unwrap());
    let go = wanted("go").then(|| GoNotaryServer::start_memory().unwrap());

    let mut targets: Vec<(&str, &str, bool)> = Vec::new();
    if let Some(server) = &sqlite {
        targets.push(("signet-server (SQLite)", server.url(), true));
    }
    if let Some(server) = &on_postgres {
        targets.push(("signet-server (Postgres)", server.url(), true));
    }
    if let Some(server) = &go {
        targets.push(("Go notary-server (memory)", server.url(), false));
    }

    let results: Vec<(String, bool, Vec<Record>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = targets
            .iter()
            .map(|(name, url, is_signet)| {
                let cases = &cases;
                scope.spawn(move || {
                    let ctx = Ctx::setup(name, url);
                    (name.to_string(), *is_signet, run(&ctx, cases))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });

    let failures = report::write_all(&results);
    assert!(
        failures.is_empty(),
        "{} expectation(s) failed on signet-server:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
