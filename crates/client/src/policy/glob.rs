//! Image name patterns of trust policy rules, their specificity, and whether two of them can
//! match the same name.
//!
//! A pattern is matched against the normalised image name without tag or digest (the GUN:
//! `docker.io/library/alpine`, `registry.example.com:5000/team/app`), in full:
//!
//! * `*` matches any run of characters without `/` (one path component or part of one);
//! * `**` matches any run of characters, `/` included (any number of components);
//! * every other character matches itself.
//!
//! Characters allowed besides the wildcards are those of normalised image names:
//! `a-z A-Z 0-9 . _ - / : [ ]`. Three `*` in a row, empty patterns and other characters are
//! refused.
//!
//! `*` and `**` may match nothing.
//!
//! Specificity (see [`Specificity`]): the longer literal prefix first (the characters before
//! the first wildcard; an exact name is all prefix), then fewer wildcards (`*` and `**` count
//! one each), then fewer `**`. The prefix comes first so that a catch-all such as `**` (one
//! wildcard) never beats `registry.example.com/team/*/*` (two). Two rules whose specificities
//! are equal and whose patterns can match the same name ([`Pattern::overlaps`]) are
//! ambiguous: the policy does not load.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::fmt;

/// One element of a pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Token {
    /// A character matched exactly.
    Literal(char),
    /// `*`: any run of characters other than `/`.
    Star,
    /// `**`: any run of characters.
    DoubleStar,
}

/// A parsed image name pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern {
    text: String,
    tokens: Vec<Token>,
}

/// Why a pattern is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// The pattern is empty.
    #[error("the image pattern is empty")]
    Empty,
    /// A character that no normalised image name holds.
    #[error(
        "the image pattern {pattern:?} has the character {character:?}, which no image name holds"
    )]
    Character {
        /// The pattern.
        pattern: String,
        /// The refused character.
        character: char,
    },
    /// `***` or longer.
    #[error("the image pattern {pattern:?} has three or more `*` in a row; use `*` or `**`")]
    TooManyStars {
        /// The pattern.
        pattern: String,
    },
}

/// How specific a pattern is; a greater value is more specific (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Specificity {
    /// Number of `*` and `**`.
    pub wildcards: usize,
    /// Characters before the first wildcard.
    pub literal_prefix: usize,
    /// Number of `**`.
    pub double_stars: usize,
}

impl Ord for Specificity {
    fn cmp(&self, other: &Self) -> Ordering {
        self.literal_prefix
            .cmp(&other.literal_prefix)
            .then(other.wildcards.cmp(&self.wildcards))
            .then(other.double_stars.cmp(&self.double_stars))
    }
}

impl PartialOrd for Specificity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Specificity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} wildcard(s), literal prefix of {} character(s), {} `**`",
            self.wildcards, self.literal_prefix, self.double_stars
        )
    }
}

fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/' | ':' | '[' | ']')
}

impl Pattern {
    /// Parses `text`.
    ///
    /// # Errors
    ///
    /// [`PatternError`] naming what is wrong.
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        if text.is_empty() {
            return Err(PatternError::Empty);
        }
        let mut tokens = Vec::new();
        let chars: Vec<char> = text.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c == '*' {
                let run = chars[i..].iter().take_while(|c| **c == '*').count();
                match run {
                    1 => tokens.push(Token::Star),
                    2 => tokens.push(Token::DoubleStar),
                    _ => {
                        return Err(PatternError::TooManyStars {
                            pattern: text.to_owned(),
                        });
                    }
                }
                i += run;
                continue;
            }
            if !allowed(c) {
                return Err(PatternError::Character {
                    pattern: text.to_owned(),
                    character: c,
                });
            }
            tokens.push(Token::Literal(c));
            i += 1;
        }
        Ok(Self {
            text: text.to_owned(),
            tokens,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Its specificity.
    pub fn specificity(&self) -> Specificity {
        let wildcards = self
            .tokens
            .iter()
            .filter(|t| !matches!(t, Token::Literal(_)))
            .count();
        let double_stars = self
            .tokens
            .iter()
            .filter(|t| matches!(t, Token::DoubleStar))
            .count();
        let literal_prefix = self
            .tokens
            .iter()
            .take_while(|t| matches!(t, Token::Literal(_)))
            .count();
        Specificity {
            wildcards,
            literal_prefix,
            double_stars,
        }
    }

    /// Whether the pattern matches all of `name`.
    pub fn matches(&self, name: &str) -> bool {
        let name: Vec<char> = name.chars().collect();
        // The set of pattern positions reachable after each character (an NFA walk).
        let mut states = self.closure(BTreeSet::from([0]));
        for c in name {
            let next = states
                .iter()
                .flat_map(|&i| step(&self.tokens, i, c))
                .collect();
            states = self.closure(next);
            if states.is_empty() {
                return false;
            }
        }
        states.contains(&self.tokens.len())
    }

    /// Adds the positions reachable by letting wildcards match nothing.
    fn closure(&self, mut states: BTreeSet<usize>) -> BTreeSet<usize> {
        let mut stack: Vec<usize> = states.iter().copied().collect();
        while let Some(i) = stack.pop() {
            if matches!(self.tokens.get(i), Some(Token::Star | Token::DoubleStar))
                && states.insert(i + 1)
            {
                stack.push(i + 1);
            }
        }
        states
    }

    /// Whether some name matches both patterns: a walk of the product of the two patterns'
    /// automata, one character class at a time (each literal of either pattern, `/`, and any
    /// other character).
    pub fn overlaps(&self, other: &Self) -> bool {
        let mut classes: BTreeSet<char> = BTreeSet::from(['/']);
        for token in self.tokens.iter().chain(&other.tokens) {
            if let Token::Literal(c) = token {
                classes.insert(*c);
            }
        }
        // A character that is neither `/` nor a literal of either pattern; `*` never appears
        // in names, so it stands for "any other character".
        classes.insert('*');
        let start: BTreeSet<(usize, usize)> = self
            .closure(BTreeSet::from([0]))
            .into_iter()
            .flat_map(|a| {
                other
                    .closure(BTreeSet::from([0]))
                    .into_iter()
                    .map(move |b| (a, b))
            })
            .collect();
        let mut seen = start.clone();
        let mut stack: Vec<(usize, usize)> = start.into_iter().collect();
        while let Some((a, b)) = stack.pop() {
            if a == self.tokens.len() && b == other.tokens.len() {
                return true;
            }
            for &c in &classes {
                let left = self.closure(step(&self.tokens, a, c));
                let right = other.closure(step(&other.tokens, b, c));
                for &x in &left {
                    for &y in &right {
                        if seen.insert((x, y)) {
                            stack.push((x, y));
                        }
                    }
                }
            }
        }
        false
    }
}

/// The positions reached from position `i` by consuming one character `c`. `*` never appears
/// in a pattern's literals (nor in image names), so the overlap walk uses it for "a character
/// no literal equals".
fn step(tokens: &[Token], i: usize, c: char) -> BTreeSet<usize> {
    let mut out = BTreeSet::new();
    match tokens.get(i) {
        Some(Token::Literal(l)) if *l == c && c != '*' => {
            out.insert(i + 1);
        }
        Some(Token::Star) if c != '/' => {
            out.insert(i);
        }
        Some(Token::DoubleStar) => {
            out.insert(i);
        }
        _ => {}
    }
    out
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Pattern {
        Pattern::parse(text).unwrap()
    }

    #[test]
    fn matches_components_and_subtrees() {
        let team = p("registry.example.com/team/*");
        assert!(team.matches("registry.example.com/team/app"));
        assert!(!team.matches("registry.example.com/team/app/sub"));
        // Wildcards may match nothing (image names never end with `/`).
        assert!(team.matches("registry.example.com/team/"));
        assert!(team.matches("registry.example.com/team/a"));
        assert!(!team.matches("registry.example.com/other/app"));
        let deep = p("registry.example.com/team/**");
        assert!(deep.matches("registry.example.com/team/app/sub"));
        assert!(deep.matches("registry.example.com/team/"));
        assert!(!deep.matches("registry.example.com/teams/app"));
        let all = p("**");
        assert!(all.matches("docker.io/library/alpine"));
        assert!(all.matches(""));
        let exact = p("docker.io/library/alpine");
        assert!(exact.matches("docker.io/library/alpine"));
        assert!(!exact.matches("docker.io/library/alpine2"));
        let middle = p("*/team/*-app");
        assert!(middle.matches("localhost:5000/team/web-app"));
        assert!(!middle.matches("localhost:5000/team/web-ap"));
        assert!(!middle.matches("a/b/team/x-app"));
    }

    #[test]
    fn refuses_bad_patterns() {
        assert_eq!(Pattern::parse(""), Err(PatternError::Empty));
        assert!(matches!(
            Pattern::parse("a/***"),
            Err(PatternError::TooManyStars { .. })
        ));
        for bad in ["a b", "a/b?", "a@sha256", "é/x", "a/{b,c}"] {
            let err = Pattern::parse(bad).unwrap_err();
            assert!(
                matches!(err, PatternError::Character { .. }),
                "{bad}: {err}"
            );
            assert!(err.to_string().contains(bad), "{err}");
        }
    }

    #[test]
    fn specificity_orders_prefix_then_wildcards_then_double_stars() {
        let exact = p("r.io/team/app").specificity();
        let one = p("r.io/team/*").specificity();
        let one_deep = p("r.io/team/**").specificity();
        let short = p("r.io/*/app").specificity();
        let two = p("r.io/team/*/*").specificity();
        let all = p("**").specificity();
        assert!(exact > one);
        assert!(one > one_deep);
        assert!(one > short);
        assert!(one > two);
        assert!(two > short);
        assert!(short > all);
        assert!(two > all);
        // An exact name is more specific than the same name followed by a wildcard.
        assert!(exact > p("r.io/team/app*").specificity());
        assert_eq!(
            one,
            Specificity {
                wildcards: 1,
                literal_prefix: 10,
                double_stars: 0
            }
        );
        assert_eq!(p("r.io/tean/*").specificity(), one);
    }

    #[test]
    fn overlap_is_exact() {
        assert!(p("r.io/team/*").overlaps(&p("r.io/*/app")));
        assert!(!p("r.io/team-a/*").overlaps(&p("r.io/team-b/*")));
        assert!(p("**").overlaps(&p("r.io/x")));
        assert!(!p("r.io/*").overlaps(&p("r.io/a/b")));
        assert!(p("r.io/**").overlaps(&p("r.io/a/b")));
        assert!(p("*x").overlaps(&p("y*")));
        assert!(!p("*x").overlaps(&p("*y")));
        assert!(p("a*c").overlaps(&p("ab*")));
        assert!(!p("a*/c").overlaps(&p("a/b/c")));
        assert!(p("a*").overlaps(&p("a*")));
    }
}
