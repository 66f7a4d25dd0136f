//! What a user can do about an error, as data: [`Remedy`], and [`Remediable`], the trait through
//! which the errors of this crate, `signet-signer` and `signet-client` name theirs.
//!
//! A remedy says *what* to do (supply the passphrase of a root key, import one of these keys,
//! check that the trust server is reachable), never how a particular tool spells it: the
//! `signet` command line renders each remedy as its `* hint:` line, in notary's or docker's
//! words. Each library maps its own variants to remedies, and an error that wraps another
//! delegates to its source, so a new variant needs a new remedy only when no existing one says
//! what to do about it.
//!
//! Fields borrow from the error. A GUN is `None` where the error does not know it (a metadata
//! error of this crate); [`Remedy::in_repository`] fills it in where a wrapping error knows.

use std::path::Path;

/// Something errors can say a remedy for.
pub trait Remediable {
    /// What the user can do about this error, when there is something useful to say.
    fn remedy(&self) -> Option<Remedy<'_>>;
}

/// What the user can do about an error. See the [module documentation](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Remedy<'a> {
    // Passphrases.
    /// No passphrase could be obtained for a key: supply one (environment or terminal).
    SupplyPassphrase {
        /// The role (passphrase alias) of the key.
        role: &'a str,
    },
    /// A passphrase did not open a key: check the passphrase given for it.
    CheckPassphrase {
        /// The key ID or file the passphrase was tried on.
        key: &'a str,
        /// The role (passphrase alias) of the key, when known.
        role: Option<&'a str>,
    },
    /// The passphrase an environment variable holds did not open a key: check that variable.
    CheckPassphraseVariable {
        /// The variable that was read.
        variable: &'a str,
    },
    /// A new passphrase from an environment variable was refused as too short: set a longer
    /// one.
    LongerPassphraseVariable {
        /// The variable that was read.
        variable: &'a str,
        /// The minimum length in characters.
        min: usize,
    },
    /// A new passphrase was refused as too short: choose a longer one.
    LongerPassphrase {
        /// The minimum length in characters.
        min: usize,
    },
    /// The confirmation of a new passphrase did not match: type the same one twice.
    RepeatPassphrase,

    // Keys.
    /// A private key is needed and not held: import it (any one of `key_ids` will do).
    ImportKey {
        /// The role the key signs, when known.
        role: Option<&'a str>,
        /// Canonical IDs of the keys that would do; empty when no particular key is meant.
        key_ids: &'a [String],
    },
    /// A key is needed and none of the key stores searched holds it: import it, point to the
    /// trust directory that holds it, or connect the device that holds it.
    ProvideKey {
        /// The key ID.
        key_id: &'a str,
        /// The key stores searched, comma separated.
        stores: &'a str,
    },
    /// A key file to import does not say which role and repository its key is for: say it.
    DescribeKeyFile,
    /// A key of this role belongs to a repository: name the GUN.
    AssignKeyGun {
        /// The role of the key.
        role: &'a str,
    },
    /// The key lives in hardware, where this operation is not possible: use the device's own
    /// tools.
    UseDeviceTools,
    /// The key of this role cannot be rotated this way: rotate it the way Notary allows (the
    /// timestamp key on the server, for example).
    RotateAsAllowed {
        /// The role whose key was to be rotated.
        role: &'a str,
        /// The role probably meant, when `role` is a near miss of one that can be rotated.
        meant: Option<&'a str>,
    },

    // Hardware key stores.
    /// No session could be opened with a device: check its connection and authentication.
    ConnectDevice {
        /// Where the device is (`http://127.0.0.1:12345`, `usb`).
        connector: &'a str,
        /// The authentication key used.
        auth_key_id: u16,
    },
    /// The device's authentication key needs a password: supply it.
    SupplyDevicePassword {
        /// The environment variable that supplies it.
        variable: &'a str,
    },
    /// A device setting is invalid: fix it.
    FixDeviceSettings,
    /// The device cannot be reached the configured way (USB support missing): use its
    /// connector.
    UseDeviceConnector,
    /// A device command failed: check the device and what its authentication key may do.
    CheckDevice {
        /// The key store's name.
        store: &'a str,
    },

    // Trust data.
    /// The metadata of a role expired: whoever holds its key re-signs it (the server, for the
    /// timestamp).
    ResignRole {
        /// The repository, when known.
        gun: Option<&'a str>,
        /// The role.
        role: &'a str,
    },
    /// The metadata of a role lacks valid signatures: sign it again once the keys are
    /// available.
    WitnessRole {
        /// The repository, when known.
        gun: Option<&'a str>,
        /// The role.
        role: &'a str,
    },
    /// The server lacks a role's metadata: publish the repository if it was initialized here.
    PublishRepository {
        /// The repository.
        gun: &'a str,
        /// The role whose metadata is missing.
        role: &'a str,
    },
    /// A target is not among the trusted ones: list those.
    ListTargets {
        /// The repository.
        gun: &'a str,
    },
    /// The server's root is not the pinned one: check the trust pinning, or the server.
    CheckTrustPinning {
        /// The repository.
        gun: &'a str,
    },
    /// The server's root is not signed by the trusted one: if the repository was re-created
    /// on purpose, forget the cached trust.
    ForgetTrust {
        /// The repository.
        gun: &'a str,
    },
    /// The server offers older or inconsistent data than already trusted (an attack, or a
    /// restored backup): contact its operator.
    ContactServerOperator,

    // Repositories and servers.
    /// Nothing is known locally about the repository: initialize it.
    InitializeRepository {
        /// The repository.
        gun: &'a str,
    },
    /// The server has no trust data for the repository: create it, or check which server is
    /// used.
    CreateRepository {
        /// The repository.
        gun: &'a str,
    },
    /// The trust server could not be used: check that it runs and is reachable.
    CheckServer,
    /// The trust server's TLS certificate is not issued by a CA trusted here: trust the CA
    /// that issued it.
    TrustServerCa {
        /// `host:port` of the server.
        server: &'a str,
    },
    /// The trust server's TLS certificate cannot be accepted (expired, issued for another
    /// name): check the name the server is addressed by, or its certificate.
    CheckServerCertificate {
        /// `host:port` of the server.
        server: &'a str,
    },
    /// The server at this address speaks the other protocol: address it with `scheme`.
    UseScheme {
        /// `host:port` of the server.
        server: &'a str,
        /// The scheme that fits (`http` or `https`).
        scheme: &'a str,
    },
    /// Nothing accepts connections at the address: start the server, or give its address.
    StartServer {
        /// `host:port` tried.
        server: &'a str,
    },
    /// The server's host name does not resolve: give a name that does.
    FixServerHost {
        /// The host name.
        host: &'a str,
    },
    /// No answer in time: check the network path to the server (firewall, proxy).
    CheckNetworkPath {
        /// `host:port` of the server.
        server: &'a str,
    },
    /// The proxy chosen by the environment failed: fix it, or bypass it for the server.
    CheckProxy {
        /// `host:port` of the proxy.
        proxy: &'a str,
        /// `host:port` of the server.
        server: &'a str,
    },
    /// The server wants credentials: supply them.
    SupplyCredentials,
    /// The supplied credentials are malformed: fix them.
    FixCredentials,
    /// Another publisher changed the repository first and nothing was stored: publish again.
    PublishAgain {
        /// The repository.
        gun: &'a str,
    },
    /// The server refused an upload: review the staged changes.
    ReviewChanges {
        /// The repository.
        gun: &'a str,
    },
    /// An image registry could not be used: check the image reference, the registry and its
    /// credentials.
    CheckRegistry,

    // Configuration.
    /// The configuration file cannot be read or parsed: fix it.
    FixConfigFile {
        /// The file.
        path: &'a Path,
    },
    /// A trust policy file cannot be loaded: fix it (its schema is documented).
    FixTrustPolicy {
        /// The policy file.
        path: &'a Path,
    },
    /// A configuration value has the wrong type: fix it.
    FixConfigValue,
    /// Only one of the TLS client certificate and key was given: give both, or neither.
    PairClientCertificate,
    /// The trust server URL is unusable: give a usable one.
    FixServerUrl,
    /// TLS material could not be loaded: check the TLS settings.
    CheckTls,
    /// A repository seen for the first time is not covered by any pin while trust on first use
    /// is off: pin it, or allow trust on first use.
    PinTrust {
        /// The repository.
        gun: &'a str,
    },
    /// The pinned CA bundle cannot be used: check it.
    CheckPinnedCa,

    // Staged changes.
    /// A GUN breaks the naming rules: give a valid one.
    FixGun,
    /// A change number does not exist: list the staged changes and their numbers.
    ListChanges,
    /// A staged change file cannot be read: repair or remove it.
    RepairChange {
        /// The change file.
        path: &'a Path,
    },
    /// A staged change cannot be applied: drop it.
    DropChange {
        /// The repository.
        gun: &'a str,
    },
    /// Targets go to `targets` or a delegation role: choose one of those.
    ChooseTargetRole,
    /// A role named is not one of the repository's: choose one it has.
    ChooseRole {
        /// The repository.
        gun: &'a str,
        /// The role probably meant, when the name given is a near miss of one.
        meant: Option<&'a str>,
    },
    /// A delegation key file holds no usable public key: give one that does.
    GivePublicKeyFile,

    // Docker content trust.
    /// The command needs an image reference with a tag: give `IMAGE:TAG`.
    NameTag,
    /// No key held here may sign the tag: load a signer's key, or become a signer.
    AddSigner {
        /// The repository.
        gun: &'a str,
    },
    /// The tag is not signed: sign it.
    SignTag {
        /// The repository.
        gun: &'a str,
        /// The tag.
        tag: &'a str,
    },
    /// The signed target of the tag is unusable (no sha256): sign the tag again.
    ResignTag {
        /// The repository.
        gun: &'a str,
        /// The tag.
        tag: &'a str,
    },
    /// The registry serves other content than was signed: do not pull it, or sign the new
    /// content if it is intended.
    DoNotPull {
        /// The repository (the image name).
        gun: &'a str,
        /// The tag.
        tag: &'a str,
    },
    /// Nothing is signed where something was expected: list the signed tags.
    ListSignedTags,
    /// A signer or key name is not allowed: choose a valid one.
    ChooseValidName,
    /// The signer does not exist: list the repository's signers.
    ListSigners {
        /// The repository.
        gun: &'a str,
    },
    /// A key file or key directory cannot be used: give a usable one.
    FixKeyFile,
    /// A key named as leaked is not trusted by the repository (or none was named): name one of
    /// the keys it trusts.
    NameLeakedKey {
        /// The repository.
        gun: &'a str,
        /// The keys it trusts, each as `<canonical key ID> (<roles>)`.
        trusted: &'a [String],
    },
    /// The repository changed while a recovery from leaked keys was prepared: plan it again.
    RecoverAgain {
        /// The repository.
        gun: &'a str,
    },
    /// A revoked tag stays signed in a role whose keys are not held here: a holder of one of
    /// `key_ids` must remove it from `role` (or the key must be loaded here first).
    RevokeInRole {
        /// The repository.
        gun: &'a str,
        /// The tag (target name).
        tag: &'a str,
        /// The role that still signs it.
        role: &'a str,
        /// Canonical IDs of the keys that can sign the role.
        key_ids: &'a [String],
    },
}

impl<'a> Remedy<'a> {
    /// This remedy with `gun` as the repository where it names none (a metadata error wrapped
    /// by an error that knows the repository).
    #[must_use]
    pub fn in_repository(self, gun: &'a str) -> Self {
        match self {
            Self::ResignRole { gun: None, role } => Self::ResignRole {
                gun: Some(gun),
                role,
            },
            Self::WitnessRole { gun: None, role } => Self::WitnessRole {
                gun: Some(gun),
                role,
            },
            other => other,
        }
    }
}

/// How similar (Jaro, 0 to 1) a name must be to one of the candidates to be taken for it: the
/// threshold clap uses for its own suggestions.
const MEANT_THRESHOLD: f64 = 0.7;

/// The candidate most similar to `given` (ignoring case), if any is similar enough to have been
/// meant; ties go to the first. For "did you mean …?" remedies.
pub fn closest<'a, I>(given: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let given = given.to_lowercase();
    let mut best: Option<(f64, &str)> = None;
    for candidate in candidates {
        let score = strsim::jaro(&given, &candidate.to_lowercase());
        if score > MEANT_THRESHOLD && best.is_none_or(|(top, _)| score > top) {
            best = Some((score, candidate));
        }
    }
    best.map(|(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_names_near_misses_only() {
        let roles = ["root", "targets", "snapshot", "timestamp"];
        assert_eq!(closest("target", roles), Some("targets"));
        assert_eq!(closest("Snapshots", roles), Some("snapshot"));
        assert_eq!(closest("tagets", roles), Some("targets"));
        assert_eq!(closest("bogus", roles), None);
        assert_eq!(closest("x", []), None);
    }

    #[test]
    fn update_errors_name_their_repository_in_wrapped_remedies() {
        let invalid = crate::update::Error::Invalid {
            gun: "example.com/app".into(),
            role: "targets".into(),
            version: Some(3),
            source: Box::new(crate::Error::ThresholdNotMet {
                role: "targets".into(),
                threshold: 1,
                valid: 0,
            }),
        };
        assert_eq!(
            invalid.remedy(),
            Some(Remedy::WitnessRole {
                gun: Some("example.com/app"),
                role: "targets"
            })
        );
        let expired = crate::Error::Expired {
            role: "root".into(),
            expires: "2001-01-01T00:00:00Z".into(),
        };
        assert_eq!(
            expired.remedy(),
            Some(Remedy::ResignRole {
                gun: None,
                role: "root"
            })
        );
        let wrapped = crate::Error::from(crate::update::Error::RepositoryNotFound {
            gun: "example.com/app".into(),
        });
        assert_eq!(wrapped.remedy(), None);
        let rollback = crate::update::Error::Rollback {
            gun: "g".into(),
            role: "snapshot".into(),
            found: 1,
            trusted: 2,
        };
        assert_eq!(rollback.remedy(), Some(Remedy::ContactServerOperator));
    }
}
