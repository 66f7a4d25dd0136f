//! The client update: Notary's update algorithm as a sans-I/O state machine.
//!
//! [`Updater`] asks its caller for files ([`Need::Fetch`] of a [`Request`]) and is handed the
//! answers ([`FetchResult`]); it never performs I/O and never reads a clock. The caller loads
//! the GUN's cache into [`TrustedState`], drives the loop, then stores
//! [`UpdateOutcome::cache_writes`] and uses the verified [`TrustedMetadata`] for target lookups.
//!
//! Every failure is an [`Error`] naming the GUN, the role and what was expected and found;
//! non-fatal findings are [`Warning`]s.

mod config;
mod delegation;
mod error;
mod pinning;
mod request;
mod trusted;
mod updater;
mod warning;

pub use config::{Limits, TrustedState, UpdateConfig};
pub use delegation::ResolvedRole;
pub use error::{Error, Result};
pub use pinning::{CaValidator, PinMode, PinRule, TrustPinning, pin_rule};
pub use request::{
    CacheWrite, Expected, FetchResult, MAX_DOWNLOAD_SIZE, MAX_TIMESTAMP_SIZE, Need, Request,
};
pub use trusted::{TargetRef, TargetSigned, TargetWithRole, TrustedMetadata, Verified};
pub use updater::{UpdateOutcome, Updater};
pub use warning::{SkipReason, Warning};
