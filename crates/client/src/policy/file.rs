//! The trust policy file (TOML, `docs/trust-policy.md`): parsing, validation, and the rule
//! that applies to an image.
//!
//! ```toml
//! version = 1
//!
//! [[rule]]
//! image = "registry.example.com/team/*"
//! server = "https://notary.example.com:4443"
//! server_ca = "notary-ca.crt"            # optional
//! root = { key_ids = ["<64 hex>"] }      # or certificates = "root.crt", or ca = "root-ca.crt"
//! all = ["targets/alice", "targets/bob"] # or threshold = 2 with signers = [...]
//! keys = { "targets/alice" = ["<64 hex>"] } # optional, per signer
//! pin_digest = true                      # default true
//! mode = "enforce"                       # or "audit"; default enforce
//! ```
//!
//! File names in a rule are relative to the policy file's directory. Every file is read when
//! the policy loads, so a policy that loads has nothing left to fail on but the network.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rustls::pki_types::CertificateDer;
use serde::Deserialize;
use signet_tuf::role;
use signet_tuf::x509;

use super::error::PolicyError;
use super::glob::{Pattern, Specificity};
use super::root_pin::RootPin;
use crate::pinning::PinnedCa;

/// The policy versions this client reads.
pub const POLICY_VERSION: i64 = 1;

/// What happens when a rule denies an image.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The image is refused.
    #[default]
    Enforce,
    /// The denial is reported, and the image is allowed.
    Audit,
}

impl Mode {
    /// `enforce` or `audit`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enforce => "enforce",
            Self::Audit => "audit",
        }
    }
}

/// A required signer: a targets role, and optionally the keys that must have signed its
/// metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signer {
    /// The role (`targets/alice`, or `targets` itself).
    pub role: String,
    /// Key IDs (the ID the role lists, or the canonical ID) of which at least one must have
    /// signed the role's metadata; empty when the signer is identified by its role name only.
    pub keys: Vec<String>,
}

/// Which signers a rule requires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Signers {
    /// Every one of them.
    All(Vec<Signer>),
    /// At least `threshold` of them.
    Threshold {
        /// How many.
        threshold: usize,
        /// Of which signers.
        signers: Vec<Signer>,
    },
}

impl Signers {
    /// The signers listed.
    pub fn list(&self) -> &[Signer] {
        match self {
            Self::All(signers) | Self::Threshold { signers, .. } => signers,
        }
    }

    /// How many of them must agree.
    pub fn required(&self) -> usize {
        match self {
            Self::All(signers) => signers.len(),
            Self::Threshold { threshold, .. } => *threshold,
        }
    }
}

/// One rule of a policy.
#[derive(Clone, Debug)]
pub struct Rule {
    /// Its number in the file, from 1.
    pub number: usize,
    /// The image name pattern.
    pub pattern: Pattern,
    /// The trust server URL.
    pub server: String,
    /// The certificates the trust server's TLS certificate must chain to (the only roots used
    /// for it), when given.
    pub server_ca: Option<Vec<CertificateDer<'static>>>,
    /// The pinned root.
    pub root: RootPin,
    /// The required signers.
    pub signers: Signers,
    /// Whether the image is pinned to the signed digest.
    pub pin_digest: bool,
    /// Enforce or audit.
    pub mode: Mode,
}

impl Rule {
    /// `rule <number> (<pattern>)`, as messages name it.
    pub fn label(&self) -> String {
        format!("rule {} ({})", self.number, self.pattern)
    }
}

/// A loaded trust policy.
#[derive(Clone, Debug)]
pub struct Policy {
    path: PathBuf,
    rules: Vec<Rule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    image: String,
    server: Option<String>,
    server_ca: Option<PathBuf>,
    root: Option<RawRoot>,
    all: Option<Vec<String>>,
    threshold: Option<i64>,
    signers: Option<Vec<String>>,
    #[serde(default)]
    keys: BTreeMap<String, Vec<String>>,
    #[serde(default = "default_true")]
    pin_digest: bool,
    #[serde(default)]
    mode: Mode,
}

fn default_true() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoot {
    key_ids: Option<Vec<String>>,
    certificates: Option<PathBuf>,
    ca: Option<PathBuf>,
}

impl Policy {
    /// Reads and validates the policy at `path`, with certificate validity checked at `now`.
    ///
    /// # Errors
    ///
    /// [`PolicyError`] naming the file and the rule.
    pub fn load(path: &Path, now: DateTime<Utc>) -> Result<Self, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|e| PolicyError::Read {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, path, base, now)
    }

    /// Parses and validates `text` as the policy at `path`, with the files it names relative to
    /// `base`.
    ///
    /// # Errors
    ///
    /// [`PolicyError`] naming the file and the rule.
    pub fn parse(
        text: &str,
        path: &Path,
        base: &Path,
        now: DateTime<Utc>,
    ) -> Result<Self, PolicyError> {
        let syntax = |reason: String| PolicyError::Syntax {
            path: path.to_path_buf(),
            reason,
        };
        let table: toml::Table = toml::from_str(text).map_err(|e| syntax(e.to_string()))?;
        for key in table.keys() {
            if key != "version" && key != "rule" {
                return Err(syntax(format!(
                    "unknown top-level key `{key}`, expected `version` or `[[rule]]`"
                )));
            }
        }
        match table.get("version") {
            None => {}
            Some(toml::Value::Integer(POLICY_VERSION)) => {}
            Some(toml::Value::Integer(version)) => {
                return Err(PolicyError::Version {
                    path: path.to_path_buf(),
                    version: *version,
                });
            }
            Some(other) => {
                return Err(syntax(format!(
                    "`version` must be the integer {POLICY_VERSION}, not {other}"
                )));
            }
        }
        let raw_rules = match table.get("rule") {
            None => Vec::new(),
            Some(toml::Value::Array(rules)) => rules.clone(),
            Some(_) => {
                return Err(syntax(
                    "`rule` must be an array of tables, written [[rule]]".to_owned(),
                ));
            }
        };
        if raw_rules.is_empty() {
            return Err(PolicyError::NoRules {
                path: path.to_path_buf(),
            });
        }
        let mut rules = Vec::new();
        for (index, value) in raw_rules.into_iter().enumerate() {
            rules.push(load_rule(path, base, index + 1, value, now)?);
        }
        check_ambiguity(path, &rules)?;
        Ok(Self {
            path: path.to_path_buf(),
            rules,
        })
    }

    /// The policy file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The rules, in file order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The most specific rule whose pattern matches `name` (a normalised image name without
    /// tag or digest), or `None`: the image is denied.
    pub fn rule_for(&self, name: &str) -> Option<&Rule> {
        self.rules
            .iter()
            .filter(|rule| rule.pattern.matches(name))
            .max_by_key(|rule| rule.pattern.specificity())
    }
}

/// Refuses two rules of equal specificity that can match the same image.
fn check_ambiguity(path: &Path, rules: &[Rule]) -> Result<(), PolicyError> {
    let mut by_specificity: BTreeMap<(usize, usize, usize), Vec<&Rule>> = BTreeMap::new();
    for rule in rules {
        let Specificity {
            wildcards,
            literal_prefix,
            double_stars,
        } = rule.pattern.specificity();
        by_specificity
            .entry((wildcards, literal_prefix, double_stars))
            .or_default()
            .push(rule);
    }
    for group in by_specificity.values() {
        for (i, first) in group.iter().enumerate() {
            for second in &group[i + 1..] {
                if first.pattern.overlaps(&second.pattern) {
                    return Err(PolicyError::Ambiguous {
                        path: path.to_path_buf(),
                        first: first.number,
                        first_image: first.pattern.to_string(),
                        second: second.number,
                        second_image: second.pattern.to_string(),
                    });
                }
            }
        }
    }
    Ok(())
}

fn load_rule(
    path: &Path,
    base: &Path,
    number: usize,
    value: toml::Value,
    now: DateTime<Utc>,
) -> Result<Rule, PolicyError> {
    let image_hint = value
        .get("image")
        .and_then(toml::Value::as_str)
        .unwrap_or("?")
        .to_owned();
    let fail = |reason: String| PolicyError::Rule {
        path: path.to_path_buf(),
        number,
        image: image_hint.clone(),
        reason,
    };
    if !value.is_table() {
        return Err(fail("a rule must be a table, written [[rule]]".to_owned()));
    }
    let raw: RawRule = value
        .try_into()
        .map_err(|e: toml::de::Error| fail(e.message().trim_end().to_owned()))?;
    let pattern = Pattern::parse(&raw.image).map_err(|source| PolicyError::Pattern {
        path: path.to_path_buf(),
        number,
        source,
    })?;
    let server = raw
        .server
        .ok_or_else(|| fail("no `server`: name the trust server of these images".to_owned()))?;
    crate::config::parse_server_url(&server)
        .map_err(|_| fail(format!("`server` {server:?} is not an http(s) URL")))?;
    let server_ca = match raw.server_ca {
        None => None,
        Some(file) => {
            let file = base.join(file);
            let certs = crate::http::tls::load_certificates(&file)
                .map_err(|e| fail(format!("`server_ca`: {e}")))?;
            if certs.is_empty() {
                return Err(fail(format!(
                    "`server_ca` {} holds no certificate",
                    file.display()
                )));
            }
            Some(certs)
        }
    };
    let root = load_root(base, raw.root, now).map_err(&fail)?;
    let signers = load_signers(raw.all, raw.threshold, raw.signers, raw.keys).map_err(&fail)?;
    Ok(Rule {
        number,
        pattern,
        server,
        server_ca,
        root,
        signers,
        pin_digest: raw.pin_digest,
        mode: raw.mode,
    })
}

fn load_root(base: &Path, raw: Option<RawRoot>, now: DateTime<Utc>) -> Result<RootPin, String> {
    let missing = "no root pin: set root.key_ids, root.certificates or root.ca (a policy never \
                   trusts a root on first use)";
    let raw = raw.ok_or_else(|| missing.to_owned())?;
    let given = [
        raw.key_ids.is_some(),
        raw.certificates.is_some(),
        raw.ca.is_some(),
    ]
    .iter()
    .filter(|g| **g)
    .count();
    if given == 0 {
        return Err(missing.to_owned());
    }
    if given > 1 {
        return Err(
            "root pins one way only: set exactly one of root.key_ids, root.certificates and \
             root.ca"
                .to_owned(),
        );
    }
    if let Some(ids) = raw.key_ids {
        if ids.is_empty() {
            return Err("root.key_ids is empty".to_owned());
        }
        for id in &ids {
            check_key_id(id).map_err(|reason| format!("root.key_ids: {reason}"))?;
        }
        return Ok(RootPin::KeyIds(ids.into_iter().collect()));
    }
    if let Some(file) = raw.certificates {
        let file = base.join(file);
        let pem = std::fs::read(&file)
            .map_err(|e| format!("cannot read root.certificates {}: {e}", file.display()))?;
        let certs = x509::parse_bundle(&pem)
            .map_err(|e| format!("root.certificates {}: {e}", file.display()))?;
        if certs.is_empty() {
            return Err(format!(
                "root.certificates {} holds no certificate",
                file.display()
            ));
        }
        return Ok(RootPin::Certificates(
            certs.iter().map(|c| c.der().to_vec()).collect(),
        ));
    }
    if let Some(file) = raw.ca {
        let file = base.join(file);
        let pem = std::fs::read(&file)
            .map_err(|e| format!("cannot read root.ca {}: {e}", file.display()))?;
        let ca = PinnedCa::from_pem(&pem, now)
            .map_err(|reason| format!("root.ca {}: {reason}", file.display()))?;
        return Ok(RootPin::Ca(ca));
    }
    Err(missing.to_owned())
}

fn check_key_id(id: &str) -> Result<(), String> {
    if id.len() == 64
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Ok(())
    } else {
        Err(format!(
            "{id:?} is not a key ID (64 lower-case hexadecimal characters)"
        ))
    }
}

fn load_signers(
    all: Option<Vec<String>>,
    threshold: Option<i64>,
    signers: Option<Vec<String>>,
    mut keys: BTreeMap<String, Vec<String>>,
) -> Result<Signers, String> {
    let (names, threshold) = match (all, threshold, signers) {
        (Some(all), None, None) => (all, None),
        (None, Some(threshold), Some(signers)) => (signers, Some(threshold)),
        (None, None, None) => {
            return Err(
                "no required signers: set `all = [...]`, or `threshold = n` with `signers = [...]`"
                    .to_owned(),
            );
        }
        (Some(_), _, _) => {
            return Err(
                "`all` cannot be combined with `threshold` or `signers`; use one form".to_owned(),
            );
        }
        (None, Some(_), None) => return Err("`threshold` needs `signers = [...]`".to_owned()),
        (None, None, Some(_)) => return Err("`signers` needs `threshold = n`".to_owned()),
    };
    if names.is_empty() {
        return Err("the list of required signers is empty".to_owned());
    }
    let mut seen = BTreeSet::new();
    let mut list = Vec::new();
    for name in names {
        if name != role::TARGETS && !role::is_delegation(&name) {
            return Err(format!(
                "signer {name:?} is not a targets role: name delegations in full \
                 (\"targets/alice\"), or \"targets\" for the repository's targets key"
            ));
        }
        if !seen.insert(name.clone()) {
            return Err(format!("signer {name:?} is listed twice"));
        }
        let pinned = match keys.remove(&name) {
            Some(ids) if ids.is_empty() => {
                return Err(format!(
                    "keys of {name} is empty; leave it out or list key IDs"
                ));
            }
            Some(ids) => ids,
            None => Vec::new(),
        };
        for id in &pinned {
            check_key_id(id).map_err(|reason| format!("keys of {name}: {reason}"))?;
        }
        list.push(Signer {
            role: name,
            keys: pinned,
        });
    }
    if let Some(name) = keys.keys().next() {
        return Err(format!(
            "`keys` names {name:?}, which is not a required signer of this rule"
        ));
    }
    match threshold {
        None => Ok(Signers::All(list)),
        Some(n) if n < 1 => Err(format!("threshold {n} must be at least 1")),
        Some(n) => {
            let n = usize::try_from(n).unwrap_or(usize::MAX);
            if n > list.len() {
                Err(format!(
                    "threshold {n} is more than the {} signer(s) listed",
                    list.len()
                ))
            } else {
                Ok(Signers::Threshold {
                    threshold: n,
                    signers: list,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const ID_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    fn rule(image: &str, rest: &str) -> String {
        format!(
            "[[rule]]\nimage = \"{image}\"\nserver = \"https://notary.example.com\"\n\
             root = {{ key_ids = [\"{ID_A}\"] }}\n{rest}\n"
        )
    }

    fn parse(text: &str) -> Result<Policy, PolicyError> {
        Policy::parse(text, Path::new("policy.toml"), Path::new("."), Utc::now())
    }

    fn parse_in(dir: &Path, text: &str) -> Result<Policy, PolicyError> {
        Policy::parse(text, &dir.join("policy.toml"), dir, Utc::now())
    }

    fn error(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn parses_a_full_policy_and_picks_the_most_specific_rule() {
        let text = format!(
            "version = 1\n{}{}{}",
            rule(
                "registry.example.com/team/*",
                &format!(
                    "threshold = 2\nsigners = [\"targets/alice\", \"targets/bob\", \"targets/carol\"]\n\
                     keys = {{ \"targets/alice\" = [\"{ID_B}\"] }}\npin_digest = false\nmode = \"audit\""
                )
            ),
            rule(
                "registry.example.com/team/app",
                "all = [\"targets/releases\"]"
            ),
            rule("**", "all = [\"targets\"]"),
        );
        let policy = parse(&text).unwrap();
        assert_eq!(policy.rules().len(), 3);
        let team = policy.rule_for("registry.example.com/team/web").unwrap();
        assert_eq!(team.number, 1);
        assert_eq!(team.mode, Mode::Audit);
        assert!(!team.pin_digest);
        assert_eq!(team.signers.required(), 2);
        assert_eq!(team.signers.list()[0].keys, vec![ID_B.to_owned()]);
        assert!(team.signers.list()[1].keys.is_empty());
        assert!(matches!(&team.root, RootPin::KeyIds(ids) if ids.contains(ID_A)));
        let exact = policy.rule_for("registry.example.com/team/app").unwrap();
        assert_eq!(exact.number, 2);
        assert_eq!(exact.mode, Mode::Enforce);
        assert!(exact.pin_digest);
        assert!(matches!(&exact.signers, Signers::All(list) if list.len() == 1));
        assert_eq!(
            policy.rule_for("docker.io/library/alpine").unwrap().number,
            3
        );
        assert_eq!(exact.label(), "rule 2 (registry.example.com/team/app)");
    }

    #[test]
    fn unmatched_images_have_no_rule() {
        let policy = parse(&rule(
            "registry.example.com/team/*",
            "all = [\"targets/a\"]",
        ))
        .unwrap();
        assert!(policy.rule_for("registry.example.com/other/app").is_none());
        assert!(
            policy
                .rule_for("registry.example.com/team/app/sub")
                .is_none()
        );
    }

    #[test]
    fn equally_specific_overlapping_rules_do_not_load() {
        let text = format!(
            "{}{}",
            rule("r.example.com/team/*", "all = [\"targets/a\"]"),
            rule("r.example.com/tean/**", "all = [\"targets/a\"]"),
        );
        assert!(parse(&text).is_ok(), "different `**` counts differ");
        let text = format!(
            "{}{}",
            rule("r.example.com/*/app", "all = [\"targets/a\"]"),
            rule("r.example.com/*/web", "all = [\"targets/a\"]"),
        );
        assert!(parse(&text).is_ok(), "disjoint patterns may tie");
        let text = format!(
            "{}{}",
            rule("r.example.com/a*", "all = [\"targets/a\"]"),
            rule("r.example.com/*b", "all = [\"targets/a\"]"),
        );
        assert!(parse(&text).is_ok(), "longer literal prefix wins");
        let text = format!(
            "{}{}",
            rule("r.example.com/team/*", "all = [\"targets/a\"]"),
            rule("r.example.com/*eam/x", "all = [\"targets/a\"]"),
        );
        assert!(parse(&text).is_ok());
        let text = format!(
            "{}{}",
            rule("r.example.com/x/*", "all = [\"targets/a\"]"),
            rule("r.example.com/*/y", "all = [\"targets/a\"]"),
        );
        assert!(parse(&text).is_ok());
        let tie = format!(
            "{}{}",
            rule("r.example.com/a*b", "all = [\"targets/a\"]"),
            rule("r.example.com/a*", "all = [\"targets/a\"]"),
        );
        let err = parse(&tie).unwrap_err();
        assert!(
            matches!(
                err,
                PolicyError::Ambiguous {
                    first: 1,
                    second: 2,
                    ..
                }
            ),
            "{err}"
        );
        let text = err.to_string();
        assert!(
            text.contains("r.example.com/a*b") && text.contains("(r.example.com/a*)"),
            "{text}"
        );
    }

    #[test]
    fn load_errors_name_the_rule() {
        let cases: Vec<(String, &str)> = vec![
            (
                rule("r.example.com/*", "all = [\"targets/a\"]\npin_digets = true"),
                "unknown field `pin_digets`",
            ),
            (rule("r.example.com/a b", "all = [\"targets/a\"]"), "character ' '"),
            (rule("r.example.com/***", "all = [\"targets/a\"]"), "three or more"),
            (
                rule("r.example.com/*", "threshold = 3\nsigners = [\"targets/a\", \"targets/b\"]"),
                "threshold 3 is more than the 2 signer(s)",
            ),
            (
                rule("r.example.com/*", "threshold = 0\nsigners = [\"targets/a\"]"),
                "threshold 0 must be at least 1",
            ),
            (rule("r.example.com/*", ""), "no required signers"),
            (rule("r.example.com/*", "all = []"), "empty"),
            (rule("r.example.com/*", "all = [\"alice\"]"), "not a targets role"),
            (rule("r.example.com/*", "all = [\"targets/a\", \"targets/a\"]"), "listed twice"),
            (
                rule("r.example.com/*", "all = [\"targets/a\"]\nsigners = [\"targets/b\"]"),
                "cannot be combined",
            ),
            (
                rule("r.example.com/*", "all = [\"targets/a\"]\nkeys = { \"targets/b\" = [] }"),
                "not a required signer",
            ),
            (
                rule("r.example.com/*", "all = [\"targets/a\"]\nkeys = { \"targets/a\" = [\"xyz\"] }"),
                "not a key ID",
            ),
            (
                rule("r.example.com/*", "all = [\"targets/a\"]\nmode = \"warn\""),
                "unknown variant `warn`",
            ),
            (
                "[[rule]]\nimage = \"r.example.com/*\"\nserver = \"https://n\"\nall = [\"targets/a\"]\n"
                    .to_owned(),
                "no root pin",
            ),
            (
                "[[rule]]\nimage = \"r.example.com/*\"\nserver = \"https://n\"\nroot = {}\nall = [\"targets/a\"]\n"
                    .to_owned(),
                "no root pin",
            ),
            (
                format!(
                    "[[rule]]\nimage = \"r.example.com/*\"\nserver = \"https://n\"\n\
                     root = {{ key_ids = [\"{ID_A}\"], ca = \"ca.crt\" }}\nall = [\"targets/a\"]\n"
                ),
                "exactly one of",
            ),
            (
                format!(
                    "[[rule]]\nimage = \"r.example.com/*\"\nserver = \"ftp://n\"\n\
                     root = {{ key_ids = [\"{ID_A}\"] }}\nall = [\"targets/a\"]\n"
                ),
                "not an http(s) URL",
            ),
            (
                format!(
                    "[[rule]]\nimage = \"r.example.com/*\"\n\
                     root = {{ key_ids = [\"{ID_A}\"] }}\nall = [\"targets/a\"]\n"
                ),
                "no `server`",
            ),
        ];
        for (text, expected) in cases {
            let err = error(&text);
            assert!(err.contains(expected), "{expected:?} not in {err:?}");
            assert!(err.contains("rule 1"), "{err}");
            assert!(err.contains("policy.toml"), "{err}");
        }
    }

    #[test]
    fn file_level_errors() {
        assert!(matches!(parse(""), Err(PolicyError::NoRules { .. })));
        assert!(matches!(
            parse(&format!(
                "version = 2\n{}",
                rule("**", "all = [\"targets\"]")
            )),
            Err(PolicyError::Version { version: 2, .. })
        ));
        assert!(error("rules = 1").contains("unknown top-level key `rules`"));
        assert!(matches!(parse("[[rule]"), Err(PolicyError::Syntax { .. })));
        let missing = Policy::load(Path::new("/nonexistent/policy.toml"), Utc::now()).unwrap_err();
        assert!(matches!(missing, PolicyError::Read { .. }), "{missing}");
        assert!(matches!(
            signet_tuf::remedy::Remediable::remedy(&missing),
            Some(signet_tuf::remedy::Remedy::FixTrustPolicy { .. })
        ));
    }

    #[test]
    fn certificate_and_ca_pins_are_read_relative_to_the_policy() {
        let dir = tempfile::tempdir().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        std::fs::write(dir.path().join("root.crt"), cert.pem()).unwrap();
        std::fs::write(dir.path().join("empty.crt"), "").unwrap();
        let with_root = |root: &str, extra: &str| {
            format!(
                "[[rule]]\nimage = \"**\"\nserver = \"https://n\"\nroot = {root}\n\
                 all = [\"targets/a\"]\n{extra}\n"
            )
        };
        let policy = parse_in(
            dir.path(),
            &with_root("{ certificates = \"root.crt\" }", ""),
        )
        .unwrap();
        assert!(matches!(&policy.rules()[0].root, RootPin::Certificates(c) if c.len() == 1));
        let policy = parse_in(
            dir.path(),
            &with_root("{ ca = \"root.crt\" }", "server_ca = \"root.crt\""),
        )
        .unwrap();
        assert!(matches!(policy.rules()[0].root, RootPin::Ca(_)));
        assert_eq!(policy.rules()[0].server_ca.as_ref().map(Vec::len), Some(1));
        for (root, extra, expected) in [
            (
                "{ certificates = \"missing.crt\" }",
                "",
                "cannot read root.certificates",
            ),
            ("{ ca = \"empty.crt\" }", "", "root.ca"),
            (
                "{ certificates = \"root.crt\" }",
                "server_ca = \"empty.crt\"",
                "holds no certificate",
            ),
        ] {
            let err = parse_in(dir.path(), &with_root(root, extra))
                .unwrap_err()
                .to_string();
            assert!(err.contains(expected), "{expected:?} not in {err}");
            assert!(err.contains("rule 1 (**)"), "{err}");
        }
    }
}
