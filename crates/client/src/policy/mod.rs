//! Trust policies: which images must be signed, by whom, under which pinned root, and whether
//! they are pinned to the signed digest. The enforcement point of `signet trust verify
//! --policy` (and of anything else that admits images, such as an admission webhook): load a
//! [`Policy`] once, then ask an [`Evaluator`] for a [`Decision`] per image.
//!
//! * [`file`]: the TOML policy file (schema in `docs/trust-policy.md`) and the rule that
//!   applies to an image.
//! * [`glob`]: image name patterns, their specificity and overlap.
//! * [`root_pin`]: the pinned root as the update's pinning check asks it.
//! * [`evaluate`]: fetching the trust data under the pin, the signers, digests and platforms.
//! * [`decision`]: the structured result.
//! * [`error`]: [`PolicyError`], what keeps a policy from loading.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use signet_client::policy::{Evaluator, Policy};
//! use signet_client::registry::{ImageReference, RegistryOptions};
//!
//! let policy = Policy::load("policy.toml".as_ref(), chrono::Utc::now())?;
//! let image = ImageReference::parse("registry.example.com/team/app:1.0")?;
//! let decision = Evaluator::new(RegistryOptions::default())
//!     .evaluate(&policy, &image, None)
//!     .await;
//! if decision.allowed() {
//!     println!("use {}", decision.reference.unwrap_or(decision.image));
//! } else {
//!     for denial in &decision.denials {
//!         eprintln!("denied: {denial}");
//!     }
//! }
//! # Ok(())
//! # }
//! ```

pub mod decision;
pub mod error;
pub mod evaluate;
pub mod file;
pub mod glob;
pub mod root_pin;

pub use decision::{Decision, Denial, MatchedRule, SignerReport, SignerState, Verdict};
pub use error::PolicyError;
pub use evaluate::Evaluator;
pub use file::{Mode, Policy, Rule, Signer, Signers};
pub use glob::{Pattern, PatternError, Specificity};
pub use root_pin::RootPin;
