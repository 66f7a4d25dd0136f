//! Errors of loading a trust policy. Each names the policy file and, for a rule, the rule (its
//! number in the file, counted from 1, and its image pattern).
//!
//! Evaluating a loaded policy does not fail: what goes wrong then (an unreachable trust server,
//! a root that is not the pinned one, a missing signature) is a reason of the
//! [`Decision`](super::Decision).

use std::path::PathBuf;

use signet_tuf::remedy::{Remediable, Remedy};

use super::glob::PatternError;

/// A trust policy that cannot be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The policy file (or a file it names) cannot be read.
    #[error("cannot read trust policy file {}: {reason}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },

    /// The file is not TOML, or its top level is not what a policy holds.
    #[error("trust policy {}: {reason}", path.display())]
    Syntax {
        /// The policy file.
        path: PathBuf,
        /// What the TOML parser or the schema said.
        reason: String,
    },

    /// The policy's `version` is not one this client knows.
    #[error("trust policy {}: version {version} is not supported (this client reads version 1)", path.display())]
    Version {
        /// The policy file.
        path: PathBuf,
        /// The version found.
        version: i64,
    },

    /// The policy has no rules: it would deny everything.
    #[error("trust policy {} has no [[rule]]: every image would be denied", path.display())]
    NoRules {
        /// The policy file.
        path: PathBuf,
    },

    /// A rule is invalid.
    #[error("trust policy {}, rule {number} ({image}): {reason}", path.display())]
    Rule {
        /// The policy file.
        path: PathBuf,
        /// The rule's number in the file, from 1.
        number: usize,
        /// The rule's image pattern (or `?` when it has none).
        image: String,
        /// What is wrong.
        reason: String,
    },

    /// A rule's image pattern is invalid.
    #[error("trust policy {}, rule {number}: {source}", path.display())]
    Pattern {
        /// The policy file.
        path: PathBuf,
        /// The rule's number in the file, from 1.
        number: usize,
        /// What is wrong with the pattern.
        #[source]
        source: PatternError,
    },

    /// Two rules are equally specific and can match the same image, so neither can win.
    #[error(
        "trust policy {}: rules {first} ({first_image}) and {second} ({second_image}) are \
         equally specific and can match the same image; make one more specific",
        path.display()
    )]
    Ambiguous {
        /// The policy file.
        path: PathBuf,
        /// The first rule's number.
        first: usize,
        /// Its pattern.
        first_image: String,
        /// The second rule's number.
        second: usize,
        /// Its pattern.
        second_image: String,
    },
}

impl PolicyError {
    /// The policy file involved.
    pub fn path(&self) -> &std::path::Path {
        match self {
            Self::Read { path, .. }
            | Self::Syntax { path, .. }
            | Self::Version { path, .. }
            | Self::NoRules { path }
            | Self::Rule { path, .. }
            | Self::Pattern { path, .. }
            | Self::Ambiguous { path, .. } => path,
        }
    }
}

impl Remediable for PolicyError {
    fn remedy(&self) -> Option<Remedy<'_>> {
        Some(Remedy::FixTrustPolicy { path: self.path() })
    }
}
