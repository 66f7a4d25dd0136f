//! Answering a review: the images of the object, each judged by the trust policy (or taken
//! from the cache), and the response: allowed, denied with a message naming every denied
//! image, where it is and why, or allowed with a JSON Patch pinning tags to signed digests.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use signet_client::policy::{Decision, Denial, Evaluator, Policy, Verdict};
use signet_client::registry::ImageReference;

use crate::cache::{DecisionCache, Repository};
use crate::error::ReviewError;
use crate::metrics;
use crate::review::{self, AdmissionRequest, AdmissionResponse};
use crate::workload::{self, ImageSite};

/// Which endpoint a review came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `/validate`: a verdict, never a patch.
    Validate,
    /// `/mutate`: a verdict, and a patch pinning tags where the rule pins digests.
    Mutate,
}

impl Endpoint {
    fn as_str(self) -> &'static str {
        match self {
            Self::Validate => "validate",
            Self::Mutate => "mutate",
        }
    }
}

/// What became of one image.
type Judged = Result<Arc<Decision>, String>;

/// The webhook's decisions: the policy, how it reaches trust servers and registries, and the
/// cache.
#[derive(Debug)]
pub struct Webhook {
    policy: Policy,
    evaluator: Evaluator,
    cache: Arc<DecisionCache>,
    review_timeout: Duration,
}

impl Webhook {
    /// A webhook deciding with `policy` through `evaluator`, keeping decisions in `cache`,
    /// and denying a review not judged within `review_timeout`.
    pub fn new(
        policy: Policy,
        evaluator: Evaluator,
        cache: Arc<DecisionCache>,
        review_timeout: Duration,
    ) -> Self {
        Self {
            policy,
            evaluator,
            cache,
            review_timeout,
        }
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Answers the `AdmissionReview` in `body`.
    ///
    /// # Errors
    ///
    /// [`ReviewError`] when `body` is not an `AdmissionReview` v1 with a request.
    pub async fn review(&self, body: &[u8], endpoint: Endpoint) -> Result<Value, ReviewError> {
        let started = Instant::now();
        let request = review::parse(body).inspect_err(|_| {
            // Not a review: counted as an error, its operation and kind unknown.
            metrics::review(endpoint.as_str(), "", "", "error", started.elapsed());
        })?;
        let response = self.answer(&request, endpoint).await;
        let result = if response.allowed { "allow" } else { "deny" };
        metrics::review(
            endpoint.as_str(),
            &request.operation,
            &request.kind.kind,
            result,
            started.elapsed(),
        );
        if !response.allowed {
            tracing::info!(
                uid = %request.uid,
                subject = %request.subject(),
                message = response.status.as_ref().map_or("", |s| s.message.as_str()),
                "denied"
            );
        }
        Ok(response.into_review())
    }

    /// The response to `request`.
    pub async fn answer(
        &self,
        request: &AdmissionRequest,
        endpoint: Endpoint,
    ) -> AdmissionResponse {
        let uid = request.uid.as_str();
        if !matches!(request.operation.as_str(), "CREATE" | "UPDATE") {
            return AdmissionResponse::allow(uid);
        }
        let subject = request.subject();
        let Some(object) = &request.object else {
            return AdmissionResponse::deny(
                uid,
                &format!("signet admission: the review of {subject} carries no object"),
            );
        };
        let sites = match workload::image_sites(&request.kind, object) {
            Ok(sites) => sites,
            Err(e) => {
                return AdmissionResponse::deny(uid, &format!("signet admission: {subject}: {e}"));
            }
        };
        let mut images: Vec<&str> = sites.iter().map(|s| s.image.as_str()).collect();
        images.sort_unstable();
        images.dedup();
        let judging = futures_util::future::join_all(images.iter().map(|image| self.judge(image)));
        let Ok(judged) = tokio::time::timeout(self.review_timeout, judging).await else {
            return AdmissionResponse::deny(
                uid,
                &format!(
                    "signet trust policy: the images of {subject} could not be judged within {} s \
                     (trust server or registry slow to answer); try again",
                    self.review_timeout.as_secs_f64()
                ),
            );
        };
        let judged: BTreeMap<&str, Judged> = images.into_iter().zip(judged).collect();
        respond(uid, &subject, &sites, &judged, endpoint)
    }

    /// The decision about one image: the cache's, or the policy's.
    async fn judge(&self, image: &str) -> Judged {
        let reference = ImageReference::parse(image)
            .map_err(|e| format!("not a valid image reference: {e}"))?;
        let key = reference.to_string();
        let (cached, ticket) = self.cache.get(&key);
        if let Some(decision) = cached {
            metrics::decision(verdict_label(decision.verdict), true);
            return Ok(decision);
        }
        let decision = Arc::new(
            self.evaluator
                .evaluate(&self.policy, &reference, None)
                .await,
        );
        metrics::decision(verdict_label(decision.verdict), false);
        if cacheable(&decision) {
            let name = reference.name();
            let repository = self.policy.rule_for(&name).map(|rule| Repository {
                server: rule.server.clone(),
                gun: name,
            });
            self.cache
                .insert(&key, repository, Arc::clone(&decision), ticket);
            metrics::cache_entries(self.cache.len());
        }
        Ok(decision)
    }
}

fn verdict_label(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Allow => "allow",
        Verdict::Deny => "deny",
        Verdict::AuditDeny => "audit_deny",
    }
}

/// Whether a decision may be kept: not one that a server or registry failing to answer
/// brought about (the next review asks again).
fn cacheable(decision: &Decision) -> bool {
    !decision.denials.iter().any(|d| {
        matches!(
            d,
            Denial::TrustData { .. } | Denial::Registry { .. } | Denial::Platform { .. }
        )
    })
}

/// The response from the decisions about every image.
fn respond(
    uid: &str,
    subject: &str,
    sites: &[ImageSite],
    judged: &BTreeMap<&str, Judged>,
    endpoint: Endpoint,
) -> AdmissionResponse {
    let mut denied = Vec::new();
    let mut audited = Vec::new();
    let mut patch = Vec::new();
    for site in sites {
        let Some(judged) = judged.get(site.image.as_str()) else {
            continue;
        };
        let decision = match judged {
            Ok(decision) => decision,
            Err(reason) => {
                denied.push(format!(
                    "image {:?} ({}): {reason}",
                    site.image, site.location
                ));
                continue;
            }
        };
        let reasons = || {
            decision
                .denials
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        };
        match decision.verdict {
            Verdict::Deny => denied.push(format!(
                "image {:?} ({}): {}",
                site.image,
                site.location,
                reasons()
            )),
            Verdict::AuditDeny => audited.push(format!(
                "signet trust policy (audit): image {:?} ({}) would be denied: {}",
                site.image,
                site.location,
                reasons()
            )),
            Verdict::Allow => {
                if let Some(value) = pinned(site, decision) {
                    patch.push(serde_json::json!({
                        "op": "replace",
                        "path": site.pointer,
                        "value": value,
                    }));
                }
            }
        }
    }
    if !denied.is_empty() {
        return AdmissionResponse::deny(
            uid,
            &format!(
                "signet trust policy denies {subject}: {}",
                denied.join("; ")
            ),
        );
    }
    let mut response = AdmissionResponse::allow(uid);
    for warning in &audited {
        response.warn(warning);
    }
    if endpoint == Endpoint::Mutate && !patch.is_empty() {
        let bytes = serde_json::to_vec(&Value::Array(patch)).unwrap_or_default();
        response.set_patch(&bytes);
    }
    response
}

/// The digest-pinned reference an allowed image is rewritten to, when its rule pins digests
/// and the image does not already name exactly that.
fn pinned(site: &ImageSite, decision: &Decision) -> Option<String> {
    let rule = decision.rule.as_ref()?;
    if !rule.pin_digest {
        return None;
    }
    let reference = decision.reference.as_ref()?;
    let written = ImageReference::parse(&site.image).ok()?;
    (written.to_string() != *reference).then(|| reference.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use signet_client::policy::{MatchedRule, Mode};

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn decision(image: &str, verdict: Verdict, pin: bool, denials: Vec<Denial>) -> Arc<Decision> {
        let name = image.split(':').next().unwrap();
        Arc::new(Decision {
            image: image.to_owned(),
            rule: Some(MatchedRule {
                number: 1,
                image: "r.example/*".into(),
                mode: if verdict == Verdict::AuditDeny {
                    Mode::Audit
                } else {
                    Mode::Enforce
                },
                pin_digest: pin,
            }),
            tag: Some("1".into()),
            signed_digest: Some(DIGEST.into()),
            platform: None,
            platform_digest: None,
            reference: (verdict != Verdict::Deny).then(|| {
                if pin {
                    format!("{name}@{DIGEST}")
                } else {
                    image.to_owned()
                }
            }),
            signers: Vec::new(),
            verdict,
            denials,
        })
    }

    fn site(pointer: &str, image: &str) -> ImageSite {
        ImageSite {
            pointer: pointer.into(),
            location: pointer.into(),
            image: image.into(),
        }
    }

    fn patch_of(response: &AdmissionResponse) -> Value {
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(response.patch.as_ref().unwrap())
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn allowed_images_are_pinned_on_mutate_only() {
        let sites = [
            site("/spec/containers/0/image", "r.example/a:1"),
            site("/spec/containers/1/image", "r.example/a:1"),
            site(
                "/spec/initContainers/0/image",
                &format!("r.example/a@{DIGEST}"),
            ),
        ];
        let judged = BTreeMap::from([
            (
                "r.example/a:1",
                Ok(decision("r.example/a:1", Verdict::Allow, true, vec![])),
            ),
            (
                sites[2].image.as_str(),
                Ok(decision("r.example/a:1", Verdict::Allow, true, vec![])),
            ),
        ]);
        let mutated = respond("u", "Pod p", &sites, &judged, Endpoint::Mutate);
        assert!(mutated.allowed);
        assert_eq!(mutated.patch_type.as_deref(), Some("JSONPatch"));
        let value = format!("r.example/a@{DIGEST}");
        assert_eq!(
            patch_of(&mutated),
            serde_json::json!([
                {"op": "replace", "path": "/spec/containers/0/image", "value": value},
                {"op": "replace", "path": "/spec/containers/1/image", "value": value},
            ]),
            "the image already pinned to the digest is left as written"
        );
        let validated = respond("u", "Pod p", &sites, &judged, Endpoint::Validate);
        assert!(validated.allowed && validated.patch.is_none());

        let unpinned = BTreeMap::from([(
            "r.example/a:1",
            Ok(decision("r.example/a:1", Verdict::Allow, false, vec![])),
        )]);
        let response = respond("u", "Pod p", &sites[..1], &unpinned, Endpoint::Mutate);
        assert!(response.allowed && response.patch.is_none());
    }

    #[test]
    fn a_denied_image_denies_the_object_and_is_named() {
        let sites = [
            site("/spec/containers/0/image", "r.example/a:1"),
            site("/spec/containers/1/image", "r.example/b:1"),
            site("/spec/containers/2/image", "bad image"),
        ];
        let judged = BTreeMap::from([
            (
                "r.example/a:1",
                Ok(decision("r.example/a:1", Verdict::Allow, true, vec![])),
            ),
            (
                "r.example/b:1",
                Ok(decision(
                    "r.example/b:1",
                    Verdict::Deny,
                    true,
                    vec![Denial::NoMatchingRule],
                )),
            ),
            (
                "bad image",
                Err("not a valid image reference: x".to_owned()),
            ),
        ]);
        let response = respond("u-9", "Pod ns/p", &sites, &judged, Endpoint::Mutate);
        assert!(!response.allowed);
        assert!(response.patch.is_none());
        let status = response.status.unwrap();
        assert_eq!(status.code, 403);
        assert_eq!(
            status.message,
            "signet trust policy denies Pod ns/p: image \"r.example/b:1\" \
             (/spec/containers/1/image): no rule of the policy matches the image; image \"bad \
             image\" (/spec/containers/2/image): not a valid image reference: x"
        );
    }

    #[test]
    fn audit_denials_warn_and_admit() {
        let sites = [site("/spec/containers/0/image", "r.example/a:1")];
        let judged = BTreeMap::from([(
            "r.example/a:1",
            Ok(decision(
                "r.example/a:1",
                Verdict::AuditDeny,
                true,
                vec![Denial::NoMatchingRule],
            )),
        )]);
        let response = respond("u", "Pod p", &sites, &judged, Endpoint::Mutate);
        assert!(response.allowed);
        assert!(
            response.patch.is_none(),
            "nothing is pinned that was not allowed outright"
        );
        assert_eq!(response.warnings.len(), 1);
        assert!(
            response.warnings[0].contains("r.example/a:1"),
            "{:?}",
            response.warnings
        );
    }

    #[test]
    fn only_answers_that_no_outage_caused_are_kept() {
        let unsigned = decision(
            "r.example/a:1",
            Verdict::Deny,
            false,
            vec![Denial::DigestNotSigned {
                digest: DIGEST.into(),
                tag: None,
                signed: None,
            }],
        );
        assert!(cacheable(&unsigned));
        let outage = decision(
            "r.example/a:1",
            Verdict::Deny,
            false,
            vec![Denial::TrustData {
                message: "unreachable".into(),
            }],
        );
        assert!(!cacheable(&outage));
    }
}
