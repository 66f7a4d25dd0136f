//! A rule's pinned root, as the update's pinning check asks it: does this root certificate
//! belong to the pin?
//!
//! The update applies it to the newest root the trust server serves, with no cached root and
//! trust on first use refused: the root must list certificates accepted by the pin whose
//! signatures meet the root threshold, or it is refused ("unable to match any certificates",
//! "failed to validate integrity of roots"). Whatever the client's trust dir has cached is
//! not consulted.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use signet_tuf::update::CaValidator;
use signet_tuf::x509::{self, Certificate};

use crate::pinning::PinnedCa;

/// How a rule pins the root.
#[derive(Clone, Debug)]
pub enum RootPin {
    /// Root certificates by key ID: the ID the root lists the certificate under (what Notary's
    /// `trust_pinning.certs` takes) or its canonical ID (the ID of the public key inside, what
    /// `signet trust inspect` and `notary key list` show).
    KeyIds(BTreeSet<String>),
    /// Root certificates given in full (DER): the root's leaf certificate must be one of them.
    Certificates(Vec<Vec<u8>>),
    /// A CA: the root's leaf certificate must chain to it.
    Ca(PinnedCa),
}

impl RootPin {
    /// How the pin is described in decisions: `key IDs …`, `certificates`, `CA`.
    pub fn describe(&self) -> String {
        match self {
            Self::KeyIds(ids) => format!(
                "key IDs {}",
                ids.iter().cloned().collect::<Vec<_>>().join(", ")
            ),
            Self::Certificates(certs) => format!("{} pinned certificate(s)", certs.len()),
            Self::Ca(_) => "a pinned CA".to_owned(),
        }
    }
}

impl CaValidator for RootPin {
    fn chains_to_ca(
        &self,
        leaf: &Certificate,
        intermediates: &[&Certificate],
        now: DateTime<Utc>,
    ) -> bool {
        match self {
            Self::KeyIds(ids) => {
                let Ok(key) = x509::bundle_to_key(leaf, intermediates) else {
                    return false;
                };
                let listed = key.key_id().to_string();
                let canonical = key.canonical_key_id().map(|id| id.to_string());
                ids.contains(&listed) || canonical.is_ok_and(|id| ids.contains(&id))
            }
            Self::Certificates(certs) => certs.iter().any(|der| der.as_slice() == leaf.der()),
            Self::Ca(ca) => ca.chains_to_ca(leaf, intermediates, now),
        }
    }
}
