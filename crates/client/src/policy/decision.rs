//! What a policy decided about one image, as data: the rule that matched, which signer signed
//! which digest, the verdict and every reason for a denial. Serialises to the JSON that
//! `signet trust verify --policy … --output json` prints.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use super::file::Mode;

/// The verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every requirement of the rule is met.
    Allow,
    /// A requirement is not met and the rule enforces (or no rule matched).
    Deny,
    /// A requirement is not met and the rule only audits: reported, and allowed.
    AuditDeny,
}

/// The rule that decided.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MatchedRule {
    /// Its number in the policy file, from 1.
    pub number: usize,
    /// Its image pattern.
    pub image: String,
    /// Its mode.
    pub mode: Mode,
    /// Whether it pins the image to the signed digest.
    pub pin_digest: bool,
}

/// Whether a required signer could sign, and what it signed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SignerState {
    /// The role exists and its identity checks passed; its signatures count.
    Valid,
    /// The repository has no such role (or it could not be loaded).
    NoRole,
    /// The rule pins the signer's keys and no valid signature on the role's metadata is by one
    /// of them (the role is someone else's, whatever its name).
    KeysNotPinned,
}

/// One required signer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SignerReport {
    /// The role.
    pub role: String,
    /// The key IDs the rule pins for it (empty: the role name alone identifies it).
    pub pinned_keys: Vec<String>,
    /// The key IDs the role's metadata was validly signed with (listed IDs).
    pub signed_with: Vec<String>,
    /// Its state.
    pub state: SignerState,
    /// What it signed, of what was looked at: tag → digest.
    pub signed: BTreeMap<String, String>,
}

/// Why an image is denied.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Denial {
    /// No rule matches the image: unmatched images are denied.
    NoMatchingRule,
    /// The trust data could not be fetched or verified (server unreachable, no trust data,
    /// invalid or expired metadata).
    TrustData {
        /// What went wrong.
        message: String,
    },
    /// The trust server's root is not the pinned one.
    RootNotPinned {
        /// The pin.
        pin: String,
        /// What the check found.
        message: String,
    },
    /// Required signers signed the tag with different digests.
    SignersDisagree {
        /// The tag.
        tag: String,
        /// digest → the signers that signed it.
        digests: BTreeMap<String, Vec<String>>,
    },
    /// Fewer required signers signed the tag than the rule needs.
    TooFewSigners {
        /// The tag.
        tag: String,
        /// The digest the signers that did sign agree on, if any signed.
        digest: Option<String>,
        /// How many are needed.
        required: usize,
        /// Who signed.
        signed: Vec<String>,
        /// Who did not, each with why (`not signed`, `no such role`, `keys not pinned`).
        missing: BTreeMap<String, String>,
    },
    /// The image's digest is not the signed one, nor listed by a signed index.
    DigestNotSigned {
        /// The image's digest.
        digest: String,
        /// The tag, when the image names one.
        tag: Option<String>,
        /// The digest the signers agree on for the tag, when there is one.
        signed: Option<String>,
    },
    /// The registry could not serve the signed index.
    Registry {
        /// What went wrong.
        message: String,
    },
    /// The platform could not be resolved from the signed index.
    Platform {
        /// What went wrong (naming the platforms there are).
        message: String,
    },
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoMatchingRule => f.write_str("no rule of the policy matches the image"),
            Self::TrustData { message } => write!(f, "trust data: {message}"),
            Self::RootNotPinned { pin, message } => write!(
                f,
                "the trust server's root is not the pinned one ({pin}): {message}"
            ),
            Self::SignersDisagree { tag, digests } => {
                let parts: Vec<String> = digests
                    .iter()
                    .map(|(digest, signers)| format!("{} signed {digest}", signers.join(", ")))
                    .collect();
                write!(f, "the signers disagree on tag {tag}: {}", parts.join("; "))
            }
            Self::TooFewSigners {
                tag,
                digest,
                required,
                signed,
                missing,
            } => {
                let signed_text = if signed.is_empty() {
                    "none signed".to_owned()
                } else {
                    format!(
                        "{} signed {}",
                        signed.join(", "),
                        digest.as_deref().unwrap_or("?")
                    )
                };
                let missing_text: Vec<String> = missing
                    .iter()
                    .map(|(role, why)| format!("{role} ({why})"))
                    .collect();
                write!(
                    f,
                    "tag {tag} needs {required} signer(s): {signed_text}; missing: {}",
                    missing_text.join(", ")
                )
            }
            Self::DigestNotSigned {
                digest,
                tag,
                signed,
            } => match (tag, signed) {
                (Some(tag), Some(signed)) => write!(
                    f,
                    "digest {digest} is not the signed digest of tag {tag} ({signed}) nor a \
                     manifest its index lists"
                ),
                _ => write!(
                    f,
                    "digest {digest} is not signed by the required signers, nor listed by a \
                     signed index"
                ),
            },
            Self::Registry { message } => write!(f, "registry: {message}"),
            Self::Platform { message } => write!(f, "platform: {message}"),
        }
    }
}

/// The policy's decision about one image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// The image as given, normalised.
    pub image: String,
    /// The rule that matched, if any.
    pub rule: Option<MatchedRule>,
    /// The tag looked up (the image's, `latest` for a bare name, or the signed tag found for
    /// an image given by digest alone).
    pub tag: Option<String>,
    /// The digest the required signers agree on.
    pub signed_digest: Option<String>,
    /// The platform asked for, and its manifest in the signed index.
    pub platform: Option<String>,
    /// The platform's manifest digest.
    pub platform_digest: Option<String>,
    /// The reference to use: `name@digest` when the rule pins digests, the image as given
    /// otherwise. `None` when denied.
    pub reference: Option<String>,
    /// The required signers.
    pub signers: Vec<SignerReport>,
    /// The verdict.
    pub verdict: Verdict,
    /// Why it was denied (also under audit); empty when allowed.
    pub denials: Vec<Denial>,
}

impl Decision {
    /// Whether the image may be used: allowed, or denied by an audit rule.
    pub fn allowed(&self) -> bool {
        self.verdict != Verdict::Deny
    }
}
