//! The `* hint:` line: what the user can do about an error, in signet's words.
//!
//! The libraries say what can be done about their errors as a [`Remedy`]
//! ([`signet_tuf::remedy`]); this module is the one place that words each remedy, for the
//! notary-style commands or, with docker's settings and commands, for `signet trust`
//! ([`Wording`]). A remedy the libraries add later has no hint until it is worded here.

use signet_signer::passphrase::EnvFlavour;
use signet_tuf::remedy::{Remediable, Remedy};

/// Whose settings and commands a hint speaks of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wording {
    /// notary's: `NOTARY_*_PASSPHRASE`, `-s` or `remote_server.url`, `signet init` and
    /// `signet publish`.
    Notary,
    /// docker's, for the `signet trust` commands: `DOCKER_CONTENT_TRUST_*`, `signet trust …`.
    Docker,
}

impl Wording {
    /// Whose passphrase variables the hint names.
    fn passphrases(self) -> EnvFlavour {
        match self {
            Self::Notary => EnvFlavour::Notary,
            Self::Docker => EnvFlavour::Docker,
        }
    }
}

/// The hint for `error`, when its library names a remedy that has words here.
pub(crate) fn for_error(error: &dyn Remediable, wording: Wording) -> Option<String> {
    render(error.remedy()?, wording)
}

/// The hint that words `remedy`.
pub(crate) fn render(remedy: Remedy<'_>, wording: Wording) -> Option<String> {
    let docker = wording == Wording::Docker;
    let text = match remedy {
        // Passphrases.
        Remedy::SupplyPassphrase { role } => match wording.passphrases().variable(role) {
            Some(variable) if docker => format!("set {variable} or run the command on a terminal"),
            Some(variable) => format!(
                "set {variable} or run signet in a terminal to be asked for the passphrase of the \
                 {role} key"
            ),
            None => {
                format!("run signet in a terminal to be asked for the passphrase of the {role} key")
            }
        },
        Remedy::CheckPassphrase { .. } if docker => {
            "check DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE (root key) and \
             DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE (repository and signer keys)"
                .to_owned()
        }
        Remedy::CheckPassphrase {
            role: Some(role), ..
        } => match wording.passphrases().variable(role) {
            Some(variable) => format!(
                "check the passphrase of this {role} key ({variable} when set in the environment)"
            ),
            None => format!("check the passphrase of this {role} key"),
        },
        Remedy::CheckPassphrase { key, role: None } => format!(
            "check the passphrase of key {key}: NOTARY_ROOT_PASSPHRASE, \
             NOTARY_TARGETS_PASSPHRASE or NOTARY_SNAPSHOT_PASSPHRASE for those roles, \
             NOTARY_DELEGATION_PASSPHRASE for any other"
        ),
        Remedy::CheckPassphraseVariable { variable } => format!(
            "{variable} holds the wrong passphrase for this key: correct it, or unset it to be \
             asked on a terminal"
        ),
        Remedy::LongerPassphraseVariable { variable, min } => format!(
            "set {variable} to a passphrase of at least {min} characters (a password manager \
             can generate one)"
        ),
        Remedy::LongerPassphrase { min } => {
            format!("choose a passphrase of at least {min} characters")
        }
        Remedy::RepeatPassphrase => "type the same passphrase twice".to_owned(),

        // Keys.
        Remedy::ImportKey { key_ids: [], .. } => {
            "'signet key list' shows the keys held here; 'signet key import FILE' adds one"
                .to_owned()
        }
        Remedy::ImportKey {
            role: Some(role),
            key_ids,
        } => format!(
            "import the private key of the {role} role ({}) with 'signet key import FILE'; \
             'signet key list' shows the keys held here",
            key_ids.join(" or ")
        ),
        Remedy::ImportKey {
            role: None,
            key_ids,
        } => format!(
            "import the private key {} with 'signet key import FILE', or check \
             'signet key list' and the trust directory given with -d",
            key_ids.join(" or ")
        ),
        Remedy::ProvideKey { key_id, stores } => format!(
            "key {key_id} is needed but none of {stores} holds it: 'signet key list' shows the \
             keys signet can find; import the key with 'signet key import FILE', give the trust \
             directory that holds it with -d, or connect the YubiHSM 2 that holds it \
             (SIGNET_YUBIHSM_CONNECTOR)"
        ),
        Remedy::DescribeKeyFile => {
            "give a PEM private key file, such as 'signet key export' or 'signet key generate \
             -o NAME' write; give the role and repository with --role and --gun when the file \
             has no headers"
                .to_owned()
        }
        Remedy::AssignKeyGun { role } => {
            format!("give the repository of the {role} key with --gun")
        }
        Remedy::UseDeviceTools => {
            "this key lives in hardware; use the device's own tools".to_owned()
        }
        Remedy::ChooseRole { gun, meant } => format!(
            "{}'signet delegation list {gun}' lists the delegation roles",
            meant.map_or_else(String::new, |role| format!("did you mean '{role}'? "))
        ),
        Remedy::RotateAsAllowed {
            role: "timestamp", ..
        } => "the server manages the timestamp key: rotate it with 'signet key rotate GUN \
             timestamp -r'"
            .to_owned(),
        Remedy::RotateAsAllowed { meant, .. } => format!(
            "{}root and targets keys are rotated locally, snapshot locally or with -r, timestamp \
             only with -r",
            meant.map_or_else(String::new, |role| format!("did you mean '{role}'? "))
        ),

        // Hardware key stores.
        Remedy::ConnectDevice {
            connector,
            auth_key_id,
        } => format!(
            "check that the YubiHSM 2 at {connector} is connected (for http:// that \
             yubihsm-connector is running there) and that authentication key {auth_key_id} \
             (SIGNET_YUBIHSM_AUTH_KEY) and its password (SIGNET_YUBIHSM_PASSWORD) are right; \
             SIGNET_YUBIHSM_CONNECTOR=none works without the device"
        ),
        Remedy::SupplyDevicePassword { variable } => format!(
            "set {variable} or run signet on a terminal to be asked for the password of the \
             YubiHSM 2 authentication key"
        ),
        Remedy::FixDeviceSettings => "fix the SIGNET_YUBIHSM_* environment variable or the \
                                      \"yubihsm\" object of the configuration file"
            .to_owned(),
        Remedy::UseDeviceConnector => "use yubihsm-connector (SIGNET_YUBIHSM_CONNECTOR=\
                                       http://127.0.0.1:12345), or build signet with the \
                                       'yubihsm-usb' feature"
            .to_owned(),
        Remedy::CheckDevice { store } => format!(
            "check that the device of key store {store} is connected and that its \
             authentication key (SIGNET_YUBIHSM_AUTH_KEY) may use this key (domains and \
             capabilities); 'signet key list' shows the keys signet can find"
        ),

        // Trust data.
        Remedy::ResignRole {
            role: "timestamp", ..
        } => "the server signs the timestamp: ask its operator, or check this machine's clock"
            .to_owned(),
        Remedy::ResignRole { gun, role: "root" } => format!(
            "the holder of the root key must re-sign root: 'signet resign {} --role root' \
             (or any publish with the root key available)",
            gun.unwrap_or("GUN")
        ),
        Remedy::ResignRole { gun, role } => format!(
            "the holder of the {role} key must re-sign it: 'signet resign {} --role {role}'",
            gun.unwrap_or("GUN")
        ),
        Remedy::WitnessRole { gun, role } => format!(
            "the {role} metadata lacks valid signatures; re-sign it with 'signet witness {} \
             {role} -p' once the keys are available",
            gun.unwrap_or("GUN")
        ),
        Remedy::PublishRepository { gun, role } => format!(
            "the server has no {role} metadata for {gun}: if it was initialized here, publish it \
             with 'signet publish {gun}'"
        ),
        Remedy::ListTargets { gun } => format!("'signet list {gun}' shows the trusted targets"),
        Remedy::CheckTrustPinning { gun } => format!(
            "the server's root for {gun} is not the pinned one: check trust_pinning in the \
             config, or the server"
        ),
        Remedy::ForgetTrust { gun } => format!(
            "the server's root is not signed by the root trusted here; if the repository was \
             legitimately re-created, 'signet delete {gun}' forgets the cached trust (keys stay)"
        ),
        Remedy::ContactServerOperator => {
            "the server offers older or inconsistent data than already trusted: possibly an \
             attack, or a server restored from backup; contact its operator"
                .to_owned()
        }

        // Repositories and servers.
        Remedy::InitializeRepository { gun } => format!("run 'signet init {gun}' first"),
        Remedy::CreateRepository { gun } if docker => format!(
            "{gun} has no trust data: sign a tag with 'signet trust sign {gun}:<tag>' or check \
             the trust server (-s, DOCKER_CONTENT_TRUST_SERVER)"
        ),
        Remedy::CreateRepository { gun } => format!(
            "create it with 'signet init {gun}' and 'signet publish {gun}', or check the server \
             URL (-s or remote_server.url)"
        ),
        Remedy::CheckServer if docker => {
            "check that the trust server is running and reachable (-s, \
             DOCKER_CONTENT_TRUST_SERVER) and that its CA is in ~/.docker/tls/<host:port>/ or \
             given with --tlscacert"
                .to_owned()
        }
        Remedy::CheckServer => {
            "check that the trust server (-s or remote_server.url) is running and reachable"
                .to_owned()
        }
        Remedy::TrustServerCa { server } if docker => format!(
            "give the CA that issued the certificate of {server} with --tlscacert FILE, or put \
             it in ~/.docker/tls/{server}/ca.crt"
        ),
        Remedy::TrustServerCa { server } => format!(
            "give the CA that issued the certificate of {server} with --tlscacert FILE (or \
             remote_server.root_ca in config.json)"
        ),
        Remedy::CheckServerCertificate { server } => format!(
            "address the server by a name its certificate holds ({}) and check that the \
             certificate of {server} is current; --tlscacert gives the CA that issued it",
            server_setting(docker)
        ),
        Remedy::UseScheme { server, scheme } => {
            let speaks = if scheme == "https" {
                "expects TLS"
            } else {
                "speaks plain HTTP"
            };
            if docker {
                format!("{server} {speaks}: give the server as -s {scheme}://{server}")
            } else {
                format!(
                    "{server} {speaks}: give the server as -s {scheme}://{server} (or set \
                     remote_server.url in config.json to {scheme}://{server})"
                )
            }
        }
        Remedy::StartServer { server } => format!(
            "nothing listens at {server}: start the trust server there, or give its address \
             ({})",
            server_setting(docker)
        ),
        Remedy::FixServerHost { host } => format!(
            "the host name {host} does not resolve: check it ({}) and this machine's DNS \
             settings",
            server_setting(docker)
        ),
        Remedy::CheckNetworkPath { server } => format!(
            "check that the trust server at {server} runs and that no firewall drops the \
             connection; a proxy is taken from HTTPS_PROXY, HTTP_PROXY and ALL_PROXY, and \
             NO_PROXY lists the hosts reached directly"
        ),
        Remedy::CheckProxy { proxy, server } => {
            let host = server.rsplit_once(':').map_or(server, |(host, _)| host);
            format!(
                "the proxy {proxy} (from HTTPS_PROXY, HTTP_PROXY or ALL_PROXY) failed: fix that \
                 variable, or add {host} to NO_PROXY to reach the trust server directly"
            )
        }
        Remedy::SupplyCredentials => {
            "set NOTARY_AUTH to base64 of 'user:password', or run signet in a terminal to be \
             asked for credentials"
                .to_owned()
        }
        Remedy::FixCredentials => "NOTARY_AUTH must be base64 of 'user:password'".to_owned(),
        Remedy::PublishAgain { gun } => format!(
            "another publisher changed {gun} first and nothing of this upload was stored; \
             publish again: 'signet publish {gun}' applies the changes still staged on top of \
             the newer repository"
        ),
        Remedy::ReviewChanges { gun } => {
            format!("the server refused the update; 'signet status {gun}' shows the staged changes")
        }
        Remedy::CheckRegistry => {
            "check the image reference, that the registry is reachable, and the credentials \
             stored by 'docker login' in the docker config.json"
                .to_owned()
        }

        // Configuration.
        Remedy::FixTrustPolicy { path } => format!(
            "fix {} (the trust policy schema is in docs/trust-policy.md)",
            path.display()
        ),
        Remedy::FixConfigFile { path } => format!(
            "check {} (given with -c, or the default in the trust directory)",
            path.display()
        ),
        Remedy::FixConfigValue => {
            "see the notary client configuration reference for the expected types".to_owned()
        }
        Remedy::PairClientCertificate => {
            "give both --tlscert and --tlskey (or remote_server.tls_client_cert and \
             tls_client_key), or neither"
                .to_owned()
        }
        Remedy::FixServerUrl => {
            "give the server as -s https://host:port or set remote_server.url in the config"
                .to_owned()
        }
        Remedy::CheckTls => {
            "check --tlscacert, --tlscert, --tlskey and remote_server in the config".to_owned()
        }
        Remedy::PinTrust { gun } => format!(
            "add a trust_pinning.certs or trust_pinning.ca entry for {gun}, or unset \
             trust_pinning.disable_tofu"
        ),
        Remedy::CheckPinnedCa => {
            "check the CA bundle given in trust_pinning.ca in the config".to_owned()
        }

        // Staged changes.
        Remedy::FixGun => "a GUN is a repository name such as 'example.com/org/app': no '..', \
                           empty components or leading '/'"
            .to_owned(),
        Remedy::ListChanges => "'signet status GUN' shows the change numbers".to_owned(),
        Remedy::RepairChange { path } => format!(
            "remove or repair {}; 'signet reset GUN --all' discards every staged change",
            path.display()
        ),
        Remedy::DropChange { gun } => format!(
            "'signet status {gun}' lists the staged changes; drop the failing one with \
             'signet reset {gun} -n NUMBER'"
        ),
        Remedy::ChooseTargetRole => "targets can be added to 'targets' or to a delegation role \
                                     such as 'targets/releases'"
            .to_owned(),
        Remedy::GivePublicKeyFile => {
            "give a PEM 'PUBLIC KEY' (ECDSA or RSA) or 'CERTIFICATE' file, such as the .pem \
             written by 'signet key generate -o NAME'"
                .to_owned()
        }

        // Docker content trust.
        Remedy::NameTag => {
            "name the image as IMAGE:TAG, for example registry.local:5000/team/app:1.0".to_owned()
        }
        Remedy::AddSigner { gun } => format!(
            "load the private key of a signer of {gun} with 'signet trust key load', or add your \
             key as a signer with 'signet trust signer add'; 'signet trust inspect {gun}' lists \
             the signers"
        ),
        Remedy::SignTag { gun, tag } => format!(
            "sign it with 'signet trust sign {gun}:{tag}'; 'signet trust inspect {gun}' lists \
             the signed tags"
        ),
        Remedy::ResignTag { gun, tag } => format!(
            "sign the tag again with 'signet trust sign {gun}:{tag}' so that its target carries \
             a sha256 hash"
        ),
        Remedy::DoNotPull { gun, tag } => format!(
            "do not pull {gun}:{tag}: the registry content is not what was signed; if the new \
             content is intended, sign it with 'signet trust sign --local {gun}:{tag}'"
        ),
        Remedy::ListSignedTags => "'signet trust inspect' lists the signed tags".to_owned(),
        Remedy::ChooseValidName => {
            "use lowercase letters, digits, '-' and '_' (starting with a letter or digit)"
                .to_owned()
        }
        Remedy::ListSigners { gun } => format!("'signet trust inspect {gun}' lists the signers"),
        Remedy::FixKeyFile => {
            "give a private key PEM file readable only by you (chmod 600), or a directory that \
             exists and has no <name>.pub yet"
                .to_owned()
        }
        Remedy::RevokeInRole {
            gun,
            tag,
            role,
            key_ids,
        } if docker => format!(
            "{tag} stays trusted until a holder of the {role} key ({}) revokes it: load that \
             key with 'signet trust key load' and run 'signet trust revoke {gun}:{tag}' again, \
             or ask its holder to; 'signet trust inspect {gun}' shows who signs it",
            key_ids.join(" or ")
        ),
        Remedy::RevokeInRole {
            gun,
            tag,
            role,
            key_ids,
        } => format!(
            "{tag} stays trusted until a holder of the {role} key ({}) removes it: import that \
             key with 'signet key import FILE' and run 'signet remove {gun} {tag} -r {role} -p'",
            key_ids.join(" or ")
        ),

        Remedy::NameLeakedKey { gun, trusted: [] } => format!(
            "{gun} trusts no key that could be named; 'signet delegation list {gun}' and \
             'signet key list' show the keys"
        ),
        Remedy::NameLeakedKey { gun, trusted } => format!(
            "name the leaked keys with --key-id, among the keys {gun} trusts: {}; or use \
             --all-local when the whole trust dir leaked",
            trusted.join(", ")
        ),
        Remedy::RecoverAgain { gun } => format!(
            "run 'signet key compromised {gun} --dry-run' again to see the plan for the \
             repository as it is now, then run the recovery again"
        ),

        // A remedy added to the libraries after this was written.
        _ => return None,
    };
    Some(text)
}

/// Where the trust server's address is set: `-s` for both; notary's configuration file, or
/// docker's variable.
fn server_setting(docker: bool) -> &'static str {
    if docker {
        "-s or DOCKER_CONTENT_TRUST_SERVER"
    } else {
        "-s or remote_server.url in config.json"
    }
}
