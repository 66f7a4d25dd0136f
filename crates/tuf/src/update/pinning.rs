//! Trust pinning: which root certificates a client accepts the first time it sees a
//! repository (Notary's `trust_pinning` configuration, `trustpinning/trustpin.go`).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::x509::Certificate;

/// Decides whether a root's leaf certificate chains to a pinned CA.
///
/// The client implements this with its X.509 path validation (the pinned CA bundle, standard
/// chain building, validity at `now`); this crate only calls it.
pub trait CaValidator: Send + Sync {
    /// Whether `leaf` chains, possibly through `intermediates` (taken from the root key's
    /// certificate bundle), to one of the pinned CA certificates, valid at `now`.
    fn chains_to_ca(
        &self,
        leaf: &Certificate,
        intermediates: &[&Certificate],
        now: DateTime<Utc>,
    ) -> bool;
}

/// The trust pinning configuration (Notary's `trust_pinning` section).
///
/// For a GUN the first match decides, in this order: `certs[gun]`; the longest wildcard entry
/// `certs["prefix*"]` whose prefix starts the GUN; the `ca` entry with the longest key that is a
/// prefix of the GUN; otherwise trust on first use, refused for a first download when
/// `disable_tofu` is set.
///
/// Pinning is applied to the root a client downloads with no usable trusted root (first use) and
/// to the root downloaded after the cached root expired. Once a root is trusted, rotations are
/// validated against it.
#[derive(Clone, Default)]
pub struct TrustPinning {
    /// GUN (or `prefix*`) → TUF key IDs of the root certificates to accept.
    pub certs: BTreeMap<String, Vec<String>>,
    /// GUN prefix → validator of the pinned CA bundle.
    pub ca: BTreeMap<String, Arc<dyn CaValidator>>,
    /// Refuse trust on first use: a GUN with neither certs nor CA pinned cannot be bootstrapped.
    pub disable_tofu: bool,
}

impl fmt::Debug for TrustPinning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustPinning")
            .field("certs", &self.certs)
            .field("ca", &self.ca.keys().collect::<Vec<_>>())
            .field("disable_tofu", &self.disable_tofu)
            .finish()
    }
}

/// The pinning rule that applies to one GUN.
#[derive(Clone)]
pub enum PinMode<'a> {
    /// Accept only root certificates whose TUF key ID is listed.
    Certs(&'a [String]),
    /// Accept only root certificates that chain to the pinned CA.
    Ca(&'a dyn CaValidator),
    /// Trust on first use.
    Tofu {
        /// Whether TOFU is disabled (then a first download is refused).
        disabled: bool,
    },
}

impl fmt::Debug for PinMode<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Certs(ids) => f.debug_tuple("Certs").field(ids).finish(),
            Self::Ca(_) => f.write_str("Ca"),
            Self::Tofu { disabled } => f.debug_struct("Tofu").field("disabled", disabled).finish(),
        }
    }
}

impl TrustPinning {
    /// Trust on first use (the default).
    pub fn tofu() -> Self {
        Self::default()
    }

    /// Pins `gun` (or a `prefix*` pattern) to root certificates with these TUF key IDs.
    #[must_use]
    pub fn with_certs(mut self, gun: impl Into<String>, key_ids: Vec<String>) -> Self {
        self.certs.insert(gun.into(), key_ids);
        self
    }

    /// Pins every GUN starting with `gun_prefix` to a CA.
    #[must_use]
    pub fn with_ca(
        mut self,
        gun_prefix: impl Into<String>,
        validator: Arc<dyn CaValidator>,
    ) -> Self {
        self.ca.insert(gun_prefix.into(), validator);
        self
    }

    /// Sets `disable_tofu`.
    #[must_use]
    pub fn with_tofu_disabled(mut self, disabled: bool) -> Self {
        self.disable_tofu = disabled;
        self
    }

    /// The rule that applies to `gun`.
    pub fn mode_for(&self, gun: &str) -> PinMode<'_> {
        match pin_rule(&self.certs, &self.ca, gun) {
            PinRule::Certs(ids) => PinMode::Certs(ids),
            PinRule::Ca { ca, .. } => PinMode::Ca(ca.as_ref()),
            PinRule::Tofu => PinMode::Tofu {
                disabled: self.disable_tofu,
            },
        }
    }
}

/// The entry of a trust pinning configuration that applies to one GUN, whatever form the CA
/// entries take (a validator here, a bundle path in the client's configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinRule<'a, C> {
    /// `certs[gun]` or the longest matching `certs["prefix*"]`: these TUF key IDs.
    Certs(&'a [String]),
    /// The `ca` entry with the longest prefix of the GUN.
    Ca {
        /// The matching prefix.
        prefix: &'a str,
        /// Its CA entry.
        ca: &'a C,
    },
    /// No entry applies: trust on first use (unless disabled).
    Tofu,
}

/// Notary's pinning precedence (`trustpinning/trustpin.go`), the one copy of it: `certs[gun]`
/// exactly, else the longest `certs["prefix*"]` whose prefix starts the GUN, else the `ca`
/// entry with the longest prefix of the GUN, else trust on first use.
pub fn pin_rule<'a, C>(
    certs: &'a BTreeMap<String, Vec<String>>,
    ca: &'a BTreeMap<String, C>,
    gun: &str,
) -> PinRule<'a, C> {
    if let Some(ids) = certs.get(gun) {
        return PinRule::Certs(ids);
    }
    let wildcard = certs
        .iter()
        .filter_map(|(pattern, ids)| {
            let prefix = pattern.strip_suffix('*')?;
            gun.starts_with(prefix).then_some((pattern.len(), ids))
        })
        .max_by_key(|(len, _)| *len);
    if let Some((_, ids)) = wildcard {
        return PinRule::Certs(ids);
    }
    let ca = ca
        .iter()
        .filter(|(prefix, _)| gun.starts_with(prefix.as_str()))
        .max_by_key(|(prefix, _)| prefix.len());
    match ca {
        Some((prefix, ca)) => PinRule::Ca { prefix, ca },
        None => PinRule::Tofu,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Never;
    impl CaValidator for Never {
        fn chains_to_ca(&self, _: &Certificate, _: &[&Certificate], _: DateTime<Utc>) -> bool {
            false
        }
    }

    #[test]
    fn precedence_exact_then_wildcard_then_ca_then_tofu() {
        let p = TrustPinning::tofu()
            .with_certs("docker.io/library/alpine", vec!["exact".into()])
            .with_certs("docker.io/*", vec!["short".into()])
            .with_certs("docker.io/library/*", vec!["long".into()])
            .with_ca("quay.io/", Arc::new(Never))
            .with_ca("quay.io/team", Arc::new(Never));
        assert!(
            matches!(p.mode_for("docker.io/library/alpine"), PinMode::Certs(ids) if ids == ["exact"])
        );
        assert!(
            matches!(p.mode_for("docker.io/library/busybox"), PinMode::Certs(ids) if ids == ["long"])
        );
        assert!(matches!(p.mode_for("docker.io/other/x"), PinMode::Certs(ids) if ids == ["short"]));
        assert!(matches!(p.mode_for("quay.io/team/x"), PinMode::Ca(_)));
        assert!(matches!(
            p.mode_for("example.com/x"),
            PinMode::Tofu { disabled: false }
        ));
        let strict = p.with_tofu_disabled(true);
        assert!(matches!(
            strict.mode_for("example.com/x"),
            PinMode::Tofu { disabled: true }
        ));
        assert!(format!("{strict:?}").contains("quay.io/team"));
    }
}
