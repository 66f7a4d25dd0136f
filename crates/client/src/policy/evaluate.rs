//! Applying a policy to an image: the matching rule, the trust data fetched under the rule's
//! pinned root, the required signers' signatures, the digest, and the platform.
//!
//! The trust data is fetched afresh for every evaluation, starting from nothing: the trust
//! dir's cache is neither read nor written, so a root cached (or pinned by the trust dir)
//! earlier never stands in for the rule's pin. The freshness of what is fetched rests on the
//! expiry of the timestamp; there is no rollback check against an earlier run.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;
use std::sync::Arc;

use chrono::Utc;
use signet_tuf::metadata::Targets;
use signet_tuf::role;
use signet_tuf::update::{
    self, FetchResult, Need, ResolvedRole, TrustPinning, TrustedMetadata, UpdateConfig, Updater,
    Verified,
};

use super::decision::{Decision, Denial, MatchedRule, SignerReport, SignerState, Verdict};
use super::file::{Mode, Policy, Rule, Signer, Signers};
use crate::http::{CredentialSource, TlsOptions};
use crate::registry::{
    Digest, ImageReference, Platform, RegistryClient, RegistryOptions, StoredCredentials,
};
use crate::remote::{Access, RemoteOptions, RemoteStore};

/// Applies policies: how the trust servers and registries are reached.
#[derive(Clone, Debug, Default)]
pub struct Evaluator {
    registry: RegistryOptions,
    docker_config_dir: Option<std::path::PathBuf>,
}

/// What the required signers signed for one tag.
enum TagOutcome {
    Agreed(Digest),
    Disagree(BTreeMap<String, Vec<String>>),
    TooFew {
        digest: Option<Digest>,
        signed: Vec<String>,
    },
}

impl Evaluator {
    /// An evaluator that reaches registries with `registry` (its docker config also supplies
    /// the credentials for trust servers' token authentication, by image registry).
    pub fn new(registry: RegistryOptions) -> Self {
        Self {
            registry,
            docker_config_dir: None,
        }
    }

    /// Uses docker's TLS files for trust servers (`<dir>/tls/<host:port>/`) when a rule names
    /// no `server_ca`.
    #[must_use]
    pub fn with_docker_config_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.docker_config_dir = Some(dir.into());
        self
    }

    /// Decides about `image` under `policy`, resolving `platform` from a signed index when
    /// given. Never fails: everything that goes wrong is a [`Denial`].
    pub async fn evaluate(
        &self,
        policy: &Policy,
        image: &ImageReference,
        platform: Option<&Platform>,
    ) -> Decision {
        let image = if image.is_name_only() {
            image.clone().with_default_tag()
        } else {
            image.clone()
        };
        let mut decision = Decision {
            image: image.to_string(),
            rule: None,
            tag: image.tag().map(str::to_owned),
            signed_digest: None,
            platform: platform.map(ToString::to_string),
            platform_digest: None,
            reference: None,
            signers: Vec::new(),
            verdict: Verdict::Deny,
            denials: Vec::new(),
        };
        let Some(rule) = policy.rule_for(&image.name()) else {
            decision.denials.push(Denial::NoMatchingRule);
            return decision;
        };
        decision.rule = Some(MatchedRule {
            number: rule.number,
            image: rule.pattern.to_string(),
            mode: rule.mode,
            pin_digest: rule.pin_digest,
        });
        if let Err(denial) = self.judge(rule, &image, platform, &mut decision).await {
            decision.denials.push(denial);
        }
        decision.verdict = match (decision.denials.is_empty(), rule.mode) {
            (true, _) => Verdict::Allow,
            (false, Mode::Audit) => Verdict::AuditDeny,
            (false, Mode::Enforce) => Verdict::Deny,
        };
        if decision.verdict == Verdict::Deny {
            decision.reference = None;
        }
        decision
    }

    async fn judge(
        &self,
        rule: &Rule,
        image: &ImageReference,
        platform: Option<&Platform>,
        decision: &mut Decision,
    ) -> Result<(), Denial> {
        let trusted = self.trusted_metadata(rule, image).await?;
        let tag = image.tag();
        let (reports, signed) = collect_signatures(&trusted, &rule.signers, tag);
        decision.signers = reports;
        let registry = RegistryClient::for_image(image, self.registry.clone()).map_err(|e| {
            Denial::Registry {
                message: e.to_string(),
            }
        })?;
        let requested = image.digest();
        // The signed digest, and the digest to use (the image's own when it is a child of the
        // signed index).
        let (signed_digest, chosen) = match tag {
            Some(tag) => {
                let outcome = judge_tag(signed.get(tag), &rule.signers);
                let agreed = self.agreed(tag, outcome, &decision.signers, &rule.signers)?;
                let chosen = match requested {
                    None => agreed.clone(),
                    Some(x) if *x == agreed => agreed.clone(),
                    Some(x) => {
                        let listed = registry
                            .fetch_index(image, &agreed)
                            .await
                            .map_err(|e| Denial::Registry {
                                message: e.to_string(),
                            })?
                            .is_some_and(|index| index.lists(x));
                        if !listed {
                            return Err(Denial::DigestNotSigned {
                                digest: x.to_string(),
                                tag: Some(tag.to_owned()),
                                signed: Some(agreed.to_string()),
                            });
                        }
                        x.clone()
                    }
                };
                (agreed, chosen)
            }
            None => {
                // Given by digest alone: some tag the signers agree on must be that digest, or
                // an index listing it.
                let Some(x) = requested else {
                    return Err(Denial::TrustData {
                        message: "the image names neither tag nor digest".to_owned(),
                    });
                };
                let (found_tag, agreed) = self
                    .find_digest(&registry, image, x, &signed, decision, &rule.signers)
                    .await?;
                decision.tag = Some(found_tag);
                (agreed, x.clone())
            }
        };
        decision.signed_digest = Some(signed_digest.to_string());
        let used = match platform {
            None => chosen,
            Some(platform) => {
                let picked = registry
                    .resolve_platform(image, &signed_digest, platform)
                    .await
                    .map_err(|e| Denial::Platform {
                        message: e.to_string(),
                    })?;
                let child = picked.manifest.digest;
                if chosen != signed_digest && chosen != child {
                    return Err(Denial::Platform {
                        message: format!(
                            "{chosen} is listed by the signed index, but its {platform} \
                             manifest is {child}"
                        ),
                    });
                }
                decision.platform_digest = Some(child.to_string());
                child
            }
        };
        decision.reference = Some(if rule.pin_digest {
            format!("{}@{used}", image.name())
        } else {
            image.to_string()
        });
        Ok(())
    }

    /// The agreed digest of `tag`, or the denial saying why there is none.
    fn agreed(
        &self,
        tag: &str,
        outcome: TagOutcome,
        reports: &[SignerReport],
        signers: &Signers,
    ) -> Result<Digest, Denial> {
        match outcome {
            TagOutcome::Agreed(digest) => Ok(digest),
            TagOutcome::Disagree(digests) => Err(Denial::SignersDisagree {
                tag: tag.to_owned(),
                digests,
            }),
            TagOutcome::TooFew { digest, signed } => Err(Denial::TooFewSigners {
                tag: tag.to_owned(),
                digest: digest.map(|d| d.to_string()),
                required: signers.required(),
                missing: reports
                    .iter()
                    .filter(|r| !signed.contains(&r.role))
                    .map(|r| {
                        let why = match r.state {
                            SignerState::Valid => "did not sign the tag",
                            SignerState::NoRole => "no such role",
                            SignerState::KeysNotPinned => "not signed with its pinned keys",
                        };
                        (r.role.clone(), why.to_owned())
                    })
                    .collect(),
                signed,
            }),
        }
    }

    /// For an image given by digest alone: the first tag (in name order) whose agreed digest
    /// is `digest` or an index listing it.
    async fn find_digest(
        &self,
        registry: &RegistryClient,
        image: &ImageReference,
        digest: &Digest,
        signed: &BTreeMap<String, BTreeMap<String, Digest>>,
        decision: &Decision,
        signers: &Signers,
    ) -> Result<(String, Digest), Denial> {
        let mut agreed: Vec<(String, Digest)> = Vec::new();
        let mut first_denial = None;
        for (tag, by_signer) in signed {
            match judge_tag(Some(by_signer), signers) {
                TagOutcome::Agreed(d) if d == *digest => return Ok((tag.clone(), d)),
                TagOutcome::Agreed(d) => agreed.push((tag.clone(), d)),
                outcome => {
                    // A tag some signer signed with this very digest, without agreement.
                    if first_denial.is_none() && by_signer.values().any(|d| d == digest) {
                        first_denial = Some(self.agreed(tag, outcome, &decision.signers, signers));
                    }
                }
            }
        }
        let mut fetched = BTreeSet::new();
        for (tag, index_digest) in &agreed {
            if !fetched.insert(index_digest.clone()) {
                continue;
            }
            let index = registry
                .fetch_index(image, index_digest)
                .await
                .map_err(|e| Denial::Registry {
                    message: e.to_string(),
                })?;
            if index.is_some_and(|index| index.lists(digest)) {
                return Ok((tag.clone(), index_digest.clone()));
            }
        }
        match first_denial {
            Some(Err(denial)) => Err(denial),
            _ => Err(Denial::DigestNotSigned {
                digest: digest.to_string(),
                tag: None,
                signed: None,
            }),
        }
    }

    /// How `rule`'s trust server is reached: over the rule's CA, else docker's TLS files for
    /// the server (when a docker config dir is set); with the credentials docker stores for
    /// `domain` (the image's registry), read-only.
    fn remote_options(&self, rule: &Rule, domain: &str) -> crate::Result<RemoteOptions> {
        let tls = match (&rule.server_ca, &self.docker_config_dir) {
            (Some(certs), _) => TlsOptions {
                exclusive_roots: Some(certs.clone()),
                ..TlsOptions::default()
            },
            (None, Some(dir)) => crate::trust::docker_tls_options(dir, &rule.server)?,
            (None, None) => TlsOptions::default(),
        };
        let credentials =
            self.registry
                .docker_config
                .as_ref()
                .and_then(|config| match config.lookup(domain) {
                    StoredCredentials::Found(credentials) => {
                        Some(Arc::new(credentials) as Arc<dyn CredentialSource>)
                    }
                    _ => None,
                });
        Ok(RemoteOptions {
            tls,
            access: Access::Pull,
            credentials,
            ..RemoteOptions::default()
        })
    }

    /// A client of `rule`'s trust server, not yet contacted, reached as evaluations reach it
    /// (credentials: those docker stores for the server's own host): for reading its
    /// changefeed.
    ///
    /// # Errors
    ///
    /// An unusable server URL or TLS configuration.
    pub fn trust_server(&self, rule: &Rule) -> crate::Result<RemoteStore> {
        let host = crate::remote::host_of(&crate::config::parse_server_url(&rule.server)?);
        RemoteStore::new(&rule.server, self.remote_options(rule, &host)?)
    }

    /// Fetches and verifies the repository's trust data from the rule's server, from nothing,
    /// with the rule's root pin and trust on first use refused.
    async fn trusted_metadata(
        &self,
        rule: &Rule,
        image: &ImageReference,
    ) -> Result<TrustedMetadata, Denial> {
        let trust_data = |message: String| Denial::TrustData { message };
        let gun = image.gun().map_err(|e| trust_data(e.to_string()))?;
        let options = self
            .remote_options(rule, image.domain())
            .map_err(|e| trust_data(e.to_string()))?;
        let remote = RemoteStore::connect(&rule.server, options)
            .await
            .map_err(|e| trust_data(e.to_string()))?;
        if let Some(reason) = remote.offline_reason() {
            return Err(trust_data(format!(
                "trust server {} cannot be reached: {reason}",
                rule.server
            )));
        }
        let now = Utc::now();
        let mut config = UpdateConfig::new(gun.as_str(), now);
        config.pinning = TrustPinning::tofu()
            .with_ca(gun.as_str(), Arc::new(rule.root.clone()))
            .with_tofu_disabled(true);
        let classify = |e: update::Error| match e {
            update::Error::TrustPinning { reason, .. } => Denial::RootNotPinned {
                pin: rule.root.describe(),
                message: reason,
            },
            update::Error::RepositoryNotFound { .. } => {
                trust_data(format!("{} has no trust data for {gun}", rule.server))
            }
            update::Error::NotFound { ref role, .. } if role == role::ROOT => {
                trust_data(format!("{} has no trust data for {gun}", rule.server))
            }
            other => trust_data(other.to_string()),
        };
        let mut updater = Updater::new(config).map_err(classify)?;
        while let Need::Fetch(request) = updater.next_request() {
            let limit = request.max_len.saturating_add(1);
            let answer = match remote.get_meta(&gun, &request.name, limit).await {
                Ok(bytes) => FetchResult::Bytes(bytes),
                Err(e) if e.is_not_found() => FetchResult::NotFound,
                Err(e) if e.is_unavailable() => FetchResult::Unavailable(e.to_string()),
                Err(e) => return Err(trust_data(e.to_string())),
            };
            updater.provide(&request, answer).map_err(classify)?;
        }
        Ok(updater.finish().map_err(classify)?.trusted)
    }
}

/// The document and resolved role (effective paths, keys) of `name`, when it was loaded and is
/// reachable by valid delegations from `targets`.
fn find_role<'t>(
    trusted: &'t TrustedMetadata,
    name: &str,
) -> Option<(&'t Verified<Targets>, ResolvedRole)> {
    let mut found = None;
    trusted.walk("", "", &[], |doc, resolved| {
        if resolved.name == name {
            found = Some((doc, resolved.clone()));
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    found
}

/// The listed IDs of the keys of `role` that validly signed `doc`.
fn valid_signers(doc: &Verified<Targets>, role: &ResolvedRole) -> Vec<String> {
    let message = doc.envelope().signing_bytes();
    role.keys
        .iter()
        .filter(|(id, key)| {
            key.key_id() == **id
                && doc
                    .signatures()
                    .iter()
                    .any(|s| &s.keyid == *id && key.verify(&s.method, message, &s.sig).is_ok())
        })
        .map(|(id, _)| id.to_string())
        .collect()
}

/// Whether one of the keys that validly signed is pinned (by listed or canonical ID).
fn pinned_signed(role: &ResolvedRole, signed_with: &[String], pins: &[String]) -> bool {
    role.keys.iter().any(|(id, key)| {
        signed_with.iter().any(|s| s == id.as_str())
            && (pins.iter().any(|p| p == id.as_str())
                || key
                    .canonical_key_id()
                    .is_ok_and(|c| pins.iter().any(|p| p == c.as_str())))
    })
}

/// The sha256 digest a target pins, if it has a valid one.
fn target_digest(meta: &signet_tuf::metadata::FileMeta) -> Option<Digest> {
    let bytes = meta.hashes.get("sha256")?;
    Digest::parse(&format!("sha256:{}", hex::encode(bytes))).ok()
}

/// Each required signer's report, and what the valid ones signed: tag → signer → digest
/// (only `tag` when given). Only a signer's own role counts: a signature in `targets` (or in
/// any other role) never stands in for a delegation.
fn collect_signatures(
    trusted: &TrustedMetadata,
    signers: &Signers,
    tag: Option<&str>,
) -> (
    Vec<SignerReport>,
    BTreeMap<String, BTreeMap<String, Digest>>,
) {
    let mut reports = Vec::new();
    let mut signed: BTreeMap<String, BTreeMap<String, Digest>> = BTreeMap::new();
    for Signer { role: name, keys } in signers.list() {
        let mut report = SignerReport {
            role: name.clone(),
            pinned_keys: keys.clone(),
            signed_with: Vec::new(),
            state: SignerState::NoRole,
            signed: BTreeMap::new(),
        };
        if let Some((doc, resolved)) = find_role(trusted, name) {
            report.signed_with = valid_signers(doc, &resolved);
            report.state = if keys.is_empty() || pinned_signed(&resolved, &report.signed_with, keys)
            {
                SignerState::Valid
            } else {
                SignerState::KeysNotPinned
            };
            if report.state == SignerState::Valid {
                for (target, meta) in &doc.signed().targets {
                    if tag.is_some_and(|t| t != target) || !resolved.allows(target) {
                        continue;
                    }
                    let Some(digest) = target_digest(meta) else {
                        continue;
                    };
                    report.signed.insert(target.clone(), digest.to_string());
                    signed
                        .entry(target.clone())
                        .or_default()
                        .insert(name.clone(), digest);
                }
            }
        }
        reports.push(report);
    }
    (reports, signed)
}

/// Whether the signers of one tag agree on one digest, and are enough.
fn judge_tag(by_signer: Option<&BTreeMap<String, Digest>>, signers: &Signers) -> TagOutcome {
    let mut groups: BTreeMap<Digest, Vec<String>> = BTreeMap::new();
    for (signer, digest) in by_signer.into_iter().flatten() {
        groups
            .entry(digest.clone())
            .or_default()
            .push(signer.clone());
    }
    if groups.len() > 1 {
        return TagOutcome::Disagree(
            groups
                .into_iter()
                .map(|(digest, who)| (digest.to_string(), who))
                .collect(),
        );
    }
    match groups.into_iter().next() {
        Some((digest, who)) if who.len() >= signers.required() => TagOutcome::Agreed(digest),
        Some((digest, who)) => TagOutcome::TooFew {
            digest: Some(digest),
            signed: who,
        },
        None => TagOutcome::TooFew {
            digest: None,
            signed: Vec::new(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer(role: &str) -> Signer {
        Signer {
            role: role.to_owned(),
            keys: Vec::new(),
        }
    }

    fn signed(pairs: &[(&str, &[u8])]) -> BTreeMap<String, Digest> {
        pairs
            .iter()
            .map(|(who, content)| ((*who).to_owned(), Digest::sha256_of(content)))
            .collect()
    }

    #[test]
    fn all_of_needs_every_signer_on_one_digest() {
        let all = Signers::All(vec![signer("targets/a"), signer("targets/b")]);
        assert!(matches!(
            judge_tag(Some(&signed(&[("targets/a", b"x"), ("targets/b", b"x")])), &all),
            TagOutcome::Agreed(d) if d == Digest::sha256_of(b"x")
        ));
        assert!(matches!(
            judge_tag(Some(&signed(&[("targets/a", b"x")])), &all),
            TagOutcome::TooFew { signed, .. } if signed == ["targets/a"]
        ));
        assert!(matches!(
            judge_tag(None, &all),
            TagOutcome::TooFew { digest: None, .. }
        ));
        let TagOutcome::Disagree(digests) = judge_tag(
            Some(&signed(&[("targets/a", b"x"), ("targets/b", b"y")])),
            &all,
        ) else {
            panic!("disagreement expected");
        };
        assert_eq!(digests.len(), 2);
        assert_eq!(
            digests[&Digest::sha256_of(b"x").to_string()],
            vec!["targets/a"]
        );
    }

    #[test]
    fn threshold_counts_agreeing_signers_and_any_disagreement_denies() {
        let two_of_three = Signers::Threshold {
            threshold: 2,
            signers: vec![
                signer("targets/a"),
                signer("targets/b"),
                signer("targets/c"),
            ],
        };
        assert!(matches!(
            judge_tag(
                Some(&signed(&[("targets/a", b"x"), ("targets/c", b"x")])),
                &two_of_three
            ),
            TagOutcome::Agreed(_)
        ));
        assert!(matches!(
            judge_tag(Some(&signed(&[("targets/b", b"x")])), &two_of_three),
            TagOutcome::TooFew { .. }
        ));
        assert!(matches!(
            judge_tag(
                Some(&signed(&[
                    ("targets/a", b"x"),
                    ("targets/b", b"x"),
                    ("targets/c", b"y")
                ])),
                &two_of_three
            ),
            TagOutcome::Disagree(_)
        ));
    }
}
