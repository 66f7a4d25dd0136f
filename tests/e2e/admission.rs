//! `signet admission serve`, the Kubernetes admission webhook, over HTTPS against a real
//! signet-server and `docker-registry`: AdmissionReview v1 for every workload kind with images in
//! containers, init and ephemeral containers; the JSONPatch of `/mutate` applied with an
//! independent RFC 6902 implementation; audit mode; operations and bodies it must not judge or
//! cannot read; the decision cache dropped by the trust server's changefeed after a revocation;
//! multi-platform indexes; an unreachable trust server; health, readiness and metrics.
//!
//! One webhook (and one set of signed repositories) is shared by the tests running at the same
//! time; the tests that read exact counters or need another policy start their own.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};
use signet_client::registry::ImageReference;
use signet_e2e::admission::AdmissionWebhook;
use signet_e2e::docker_cli::DockerEnv;
use signet_e2e::free_port;
use signet_e2e::registry::{ManifestFormat, OCI_INDEX, OCI_MANIFEST};

use crate::client_support::signet_binary;
use crate::trust_policy::{PolicyFile, policy, root_id, rule};
use crate::trust_support::{TrustServers, shared_trust_servers, signet_ok};

/// The changefeed interval every webhook here polls with, in seconds.
const CHANGEFEED_INTERVAL: f64 = 0.2;
/// How long a webhook gets to read every trust server's changefeed once.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A workload kind the webhook judges: its API group and resource, and where its pod spec is.
struct Kind {
    kind: &'static str,
    group: &'static str,
    resource: &'static str,
    /// JSON pointer of the pod spec.
    spec: &'static str,
}

impl Kind {
    fn api_version(&self) -> String {
        if self.group.is_empty() {
            "v1".to_owned()
        } else {
            format!("{}/v1", self.group)
        }
    }
}

const KINDS: &[Kind] = &[
    Kind {
        kind: "Pod",
        group: "",
        resource: "pods",
        spec: "/spec",
    },
    Kind {
        kind: "Deployment",
        group: "apps",
        resource: "deployments",
        spec: "/spec/template/spec",
    },
    Kind {
        kind: "StatefulSet",
        group: "apps",
        resource: "statefulsets",
        spec: "/spec/template/spec",
    },
    Kind {
        kind: "DaemonSet",
        group: "apps",
        resource: "daemonsets",
        spec: "/spec/template/spec",
    },
    Kind {
        kind: "ReplicaSet",
        group: "apps",
        resource: "replicasets",
        spec: "/spec/template/spec",
    },
    Kind {
        kind: "Job",
        group: "batch",
        resource: "jobs",
        spec: "/spec/template/spec",
    },
    Kind {
        kind: "CronJob",
        group: "batch",
        resource: "cronjobs",
        spec: "/spec/jobTemplate/spec/template/spec",
    },
    Kind {
        kind: "ReplicationController",
        group: "",
        resource: "replicationcontrollers",
        spec: "/spec/template/spec",
    },
];

const POD: &Kind = &KINDS[0];

/// The three lists of containers in a pod spec.
const LISTS: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];

/// A pod spec with (name, image) containers in each list (empty lists left out).
fn pod_spec(
    containers: &[(&str, &str)],
    init: &[(&str, &str)],
    ephemeral: &[(&str, &str)],
) -> Value {
    let mut spec = json!({
        "containers": containers
            .iter()
            .map(|(name, image)| json!({
                "name": name,
                "image": image,
                "imagePullPolicy": "IfNotPresent",
                "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}},
            }))
            .collect::<Vec<_>>(),
        "serviceAccountName": "default",
        "securityContext": {"runAsNonRoot": true},
    });
    if !init.is_empty() {
        spec["initContainers"] = init
            .iter()
            .map(|(name, image)| json!({"name": name, "image": image, "command": ["/bin/true"]}))
            .collect();
    }
    if !ephemeral.is_empty() {
        spec["ephemeralContainers"] = ephemeral
            .iter()
            .map(|(name, image)| json!({"name": name, "image": image, "targetContainerName": "app", "stdin": true}))
            .collect();
    }
    spec
}

/// A `kind` object whose pod spec (or pod template's spec) is `spec`, with the fields its API
/// requires around it.
fn workload(kind: &Kind, mut spec: Value) -> Value {
    let labels = json!({"app": "demo"});
    let metadata = json!({"name": "demo", "namespace": "default", "labels": labels});
    if kind.kind == "Pod" {
        return json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec});
    }
    if matches!(kind.kind, "Job" | "CronJob") {
        spec["restartPolicy"] = json!("OnFailure");
    }
    let template = json!({"metadata": {"labels": labels}, "spec": spec});
    let outer = match kind.kind {
        "Deployment" | "ReplicaSet" => {
            json!({"replicas": 2, "selector": {"matchLabels": labels}, "template": template})
        }
        "StatefulSet" => json!({
            "serviceName": "demo", "replicas": 2,
            "selector": {"matchLabels": labels}, "template": template,
        }),
        "DaemonSet" => json!({"selector": {"matchLabels": labels}, "template": template}),
        "Job" => json!({"backoffLimit": 1, "template": template}),
        "CronJob" => json!({
            "schedule": "*/5 * * * *", "concurrencyPolicy": "Forbid",
            "jobTemplate": {"spec": {"backoffLimit": 1, "template": template}},
        }),
        "ReplicationController" => json!({"replicas": 2, "selector": labels, "template": template}),
        other => panic!("no template for {other}"),
    };
    json!({"apiVersion": kind.api_version(), "kind": kind.kind, "metadata": metadata, "spec": outer})
}

/// The JSON pointer of every image field of `object` (a `kind`) with its value.
fn image_fields(kind: &Kind, object: &Value) -> BTreeMap<String, String> {
    let spec = object.pointer(kind.spec).unwrap();
    let mut fields = BTreeMap::new();
    for list in LISTS {
        for (i, container) in spec[list].as_array().into_iter().flatten().enumerate() {
            fields.insert(
                format!("{}/{list}/{i}/image", kind.spec),
                container["image"].as_str().unwrap().to_owned(),
            );
        }
    }
    fields
}

/// A fresh request uid, shaped like the API server's.
fn uid() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(1);
    format!(
        "{:08x}-e2e0-4000-8000-{:012x}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// An AdmissionReview v1 request for `operation` on `object` (a `kind`); `object` goes to
/// `oldObject` for DELETE, as the API server sends it.
fn review(kind: &Kind, operation: &str, object: Value) -> Value {
    let group_version_kind = json!({"group": kind.group, "version": "v1", "kind": kind.kind});
    let resource = json!({"group": kind.group, "version": "v1", "resource": kind.resource});
    let (object, old_object) = match operation {
        "DELETE" => (Value::Null, object),
        "UPDATE" => (object.clone(), object),
        _ => (object, Value::Null),
    };
    let options_kind = match operation {
        "CREATE" => "CreateOptions",
        "UPDATE" => "UpdateOptions",
        _ => "DeleteOptions",
    };
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid(),
            "kind": group_version_kind,
            "resource": resource,
            "requestKind": group_version_kind,
            "requestResource": resource,
            "name": "demo",
            "namespace": "default",
            "operation": operation,
            "userInfo": {"username": "system:serviceaccount:kube-system:e2e", "groups": ["system:authenticated"]},
            "object": object,
            "oldObject": old_object,
            "dryRun": false,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": options_kind},
        }
    })
}

/// Posts `request` to `endpoint` and returns the `response` of the AdmissionReview that comes
/// back, after checking its envelope and that it echoes the uid.
fn decide(webhook: &AdmissionWebhook, endpoint: &str, request: &Value) -> Value {
    let answer = webhook
        .post(endpoint, &serde_json::to_vec(request).unwrap())
        .unwrap();
    assert_eq!(answer.status, 200, "{endpoint}: {}", answer.text());
    let document: Value = serde_json::from_slice(&answer.body)
        .unwrap_or_else(|e| panic!("{endpoint} answered no JSON ({e}): {}", answer.text()));
    assert_eq!(document["apiVersion"], "admission.k8s.io/v1", "{document}");
    assert_eq!(document["kind"], "AdmissionReview", "{document}");
    let response = document["response"].clone();
    assert_eq!(response["uid"], request["request"]["uid"], "{document}");
    response
}

/// Whether the response carries a patch (or a patch type).
fn has_patch(response: &Value) -> bool {
    !response.get("patch").is_none_or(Value::is_null)
        || !response.get("patchType").is_none_or(Value::is_null)
}

fn assert_allowed(response: &Value) {
    assert_eq!(response["allowed"], true, "{response}");
}

/// Posts a CREATE of `object` (a `kind`) to `endpoint`, checks that it is allowed and returns
/// the response.
fn admitted(webhook: &AdmissionWebhook, endpoint: &str, kind: &Kind, object: &Value) -> Value {
    let response = decide(webhook, endpoint, &review(kind, "CREATE", object.clone()));
    assert_allowed(&response);
    response
}

/// Checks a denial and returns its message, which must contain each of `needles`.
fn assert_denied(response: &Value, needles: &[&str]) -> String {
    assert_eq!(response["allowed"], false, "{response}");
    assert_eq!(response["status"]["code"], 403, "{response}");
    assert!(
        !has_patch(response),
        "a denial carries no patch: {response}"
    );
    let message = response["status"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no status.message: {response}"))
        .to_owned();
    for needle in needles {
        assert!(message.contains(needle), "{needle:?} not in {message:?}");
    }
    message
}

/// The decoded JSONPatch of a response: the operations as JSON.
fn patch_of(response: &Value) -> Value {
    assert_eq!(response["patchType"], "JSONPatch", "{response}");
    let encoded = response["patch"].as_str().unwrap();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap_or_else(|e| panic!("patch is not base64 ({e}): {encoded}"));
    serde_json::from_slice(&bytes).unwrap()
}

/// Applies `ops` to `object` with the `json-patch` crate.
fn apply(object: &Value, ops: &Value) -> Value {
    let patch: json_patch::Patch = serde_json::from_value(ops.clone())
        .unwrap_or_else(|e| panic!("not an RFC 6902 patch ({e}): {ops}"));
    let mut patched = object.clone();
    json_patch::patch(&mut patched, &patch).unwrap_or_else(|e| panic!("{e}: {ops}"));
    patched
}

/// The sum of the samples of metric `name` whose labels include `labels`.
fn metric(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    let mut total = 0.0;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let (series_name, series_labels) = match series.split_once('{') {
            Some((n, rest)) => (n, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        if series_name != name {
            continue;
        }
        let present: Vec<(&str, &str)> = series_labels
            .split(',')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k.trim(), v.trim().trim_matches('"')))
            .collect();
        if labels.iter().all(|wanted| present.contains(wanted)) {
            total += value
                .parse::<f64>()
                .unwrap_or_else(|_| panic!("bad sample {line:?}"));
        }
    }
    total
}

/// The image decisions counted with `labels` (`verdict`, `cache`).
fn image_decisions(text: &str, labels: &[(&str, &str)]) -> f64 {
    metric(text, "signet_admission_image_decisions_total", labels)
}

fn metrics(webhook: &AdmissionWebhook) -> String {
    let answer = webhook.get("/metrics").unwrap();
    assert_eq!(answer.status, 200, "{}", answer.text());
    answer.text()
}

/// A tag pushed and signed: `name:tag` resolves to `digest`.
struct Signed {
    name: String,
    tag: &'static str,
    digest: String,
}

impl Signed {
    fn tagged(&self) -> String {
        format!("{}:{}", self.name, self.tag)
    }

    /// `name@digest`: what the webhook pins the tag to.
    fn pinned(&self) -> String {
        format!("{}@{}", self.name, self.digest)
    }
}

/// A signed OCI index `name:1.0` of two platform manifests, and a manifest it does not list.
struct MultiPlatform {
    index: Signed,
    amd64: String,
    arm64: String,
    unlisted: String,
}

/// Repositories signed by one owner on the shared trust servers, the policy about them, and a
/// webhook serving it.
struct Fixture {
    servers: Arc<TrustServers>,
    owner: DockerEnv,
    policy: PolicyFile,
    webhook: AdmissionWebhook,
    /// `<prefix>/app:1.0`, under a `pin_digest` rule (the default).
    app: Signed,
    /// `<prefix>/sidecar:1.0`, under the same rule.
    sidecar: Signed,
    /// `<prefix>/app:unsigned`: pushed, never signed.
    unsigned: String,
    /// `<prefix>/loose:1.0`, under a rule with `pin_digest = false`.
    loose: Signed,
    /// `<prefix>/audit:1.0` (unsigned; 0.9 is signed) under an audit rule.
    audit_unsigned: String,
    audit_signed: Signed,
    /// `<prefix>/revoked:1.0`, which the cache test revokes.
    revoked: Signed,
    multi: MultiPlatform,
}

impl Fixture {
    fn set_up() -> Option<Self> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let servers = shared_trust_servers()?;
        let prefix = format!("admission-{}", NEXT.fetch_add(1, Ordering::Relaxed));
        let owner = servers.env();
        let sign = |repo: &str, tag: &'static str, layer: &[u8]| {
            let path = format!("{prefix}/{repo}");
            let (digest, _) = servers.push(&path, tag, layer);
            let signed = Signed {
                name: servers.image(&path),
                tag,
                digest,
            };
            signet_ok(&owner, &["trust", "sign", &signed.tagged()]);
            signed
        };
        let app = sign("app", "1.0", b"app layer");
        let sidecar = sign("sidecar", "1.0", b"sidecar layer");
        let loose = sign("loose", "1.0", b"loose layer");
        let audit_signed = sign("audit", "0.9", b"audit signed layer");
        let revoked = sign("revoked", "1.0", b"revoked layer");
        servers.push(&format!("{prefix}/app"), "unsigned", b"never signed");
        servers.push(&format!("{prefix}/audit"), "1.0", b"audit unsigned layer");

        let multi_path = format!("{prefix}/multi");
        let registry = &servers.registry;
        let push = |tag: &str, layer: &[u8]| {
            registry
                .push_image_as(
                    ManifestFormat::Oci,
                    &multi_path,
                    tag,
                    layer,
                    crate::trust_support::CONFIG,
                )
                .unwrap()
        };
        let amd64 = push("amd64", b"amd64 layer");
        let arm64 = push("arm64", b"arm64 layer");
        let (unlisted, _) = push("unlisted", b"not in the index");
        let index_json = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{{"mediaType":"{OCI_MANIFEST}","size":{},"digest":"{}","platform":{{"architecture":"amd64","os":"linux"}}}},{{"mediaType":"{OCI_MANIFEST}","size":{},"digest":"{}","platform":{{"architecture":"arm64","os":"linux","variant":"v8"}}}}]}}"#,
            amd64.1, amd64.0, arm64.1, arm64.0
        );
        let (index_digest, _) = registry
            .push_manifest(&multi_path, "1.0", OCI_INDEX, index_json.as_bytes())
            .unwrap();
        let index = Signed {
            name: servers.image(&multi_path),
            tag: "1.0",
            digest: index_digest,
        };
        signet_ok(&owner, &["trust", "sign", &index.tagged()]);
        let multi = MultiPlatform {
            index,
            amd64: amd64.0,
            arm64: arm64.0,
            unlisted,
        };

        // Each repository's root, as it lists it (one key may or may not serve them all).
        let mut roots: Vec<String> = [
            &app,
            &sidecar,
            &loose,
            &audit_signed,
            &revoked,
            &multi.index,
        ]
        .iter()
        .map(|signed| root_id(&owner, &signed.name))
        .collect();
        roots.sort();
        roots.dedup();
        let roots: Vec<&str> = roots.iter().map(String::as_str).collect();
        let host = servers.registry.host();
        let policy = policy(&[
            rule(
                &servers,
                &format!("{host}/{prefix}/*"),
                &roots,
                "all = [\"targets\"]",
            ),
            rule(
                &servers,
                &format!("{host}/{prefix}/loose"),
                &roots,
                "all = [\"targets\"]\npin_digest = false",
            ),
            rule(
                &servers,
                &format!("{host}/{prefix}/audit"),
                &roots,
                "all = [\"targets\"]\nmode = \"audit\"",
            ),
        ]);
        let webhook = start_webhook(&policy, &[]);
        Some(Self {
            unsigned: format!("{}:unsigned", app.name),
            audit_unsigned: format!("{}:1.0", audit_signed.name),
            servers,
            owner,
            policy,
            webhook,
            app,
            sidecar,
            loose,
            audit_signed,
            revoked,
            multi,
        })
    }
}

/// Starts a webhook on `policy` polling every [`CHANGEFEED_INTERVAL`], and waits until it is
/// ready.
fn start_webhook(policy: &PolicyFile, extra_args: &[&str]) -> AdmissionWebhook {
    let interval = CHANGEFEED_INTERVAL.to_string();
    let mut args = vec!["--changefeed-interval", interval.as_str()];
    args.extend_from_slice(extra_args);
    let webhook =
        AdmissionWebhook::start(&signet_binary(), Path::new(policy.path()), None, &args).unwrap();
    let ready = webhook.wait_for("/readyz", READY_TIMEOUT).unwrap();
    assert_eq!(ready.status, 200, "{}\n{}", ready.text(), webhook.logs());
    webhook
}

/// The fixture shared by the tests running at the same time.
fn fixture() -> Option<Arc<Fixture>> {
    static SHARED: Mutex<Weak<Fixture>> = Mutex::new(Weak::new());
    let mut slot = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(fixture) = slot.upgrade() {
        return Some(fixture);
    }
    let fixture = Arc::new(Fixture::set_up()?);
    *slot = Arc::downgrade(&fixture);
    Some(fixture)
}

/// Every kind, with signed images in all three container lists, is allowed by `/validate`
/// (without a patch); an unsigned image in any one list is denied, naming the image, where it
/// is and why, by `/validate` and `/mutate` alike. UPDATE is judged as CREATE is.
#[test]
fn every_kind_and_container_list_is_judged() {
    let Some(f) = fixture() else {
        return;
    };
    let signed = |which: usize| -> Vec<(&str, String)> {
        match which {
            0 => vec![("app", f.app.tagged()), ("sidecar", f.sidecar.tagged())],
            1 => vec![("init", f.sidecar.tagged())],
            _ => vec![("debug", f.app.pinned())],
        }
    };
    for kind in KINDS {
        let lists: Vec<Vec<(&str, String)>> = (0..3).map(signed).collect();
        let spec = |lists: &[Vec<(&str, String)>]| {
            let refs: Vec<Vec<(&str, &str)>> = lists
                .iter()
                .map(|l| l.iter().map(|(n, i)| (*n, i.as_str())).collect())
                .collect();
            pod_spec(&refs[0], &refs[1], &refs[2])
        };
        let object = workload(kind, spec(&lists));
        for operation in ["CREATE", "UPDATE"] {
            let response = decide(
                &f.webhook,
                "/validate",
                &review(kind, operation, object.clone()),
            );
            assert_allowed(&response);
            assert!(
                !has_patch(&response),
                "{}: /validate never patches: {response}",
                kind.kind
            );
        }

        // The unsigned image in each list in turn, after the signed ones of that list.
        for (which, list) in LISTS.iter().enumerate() {
            let mut denied_lists = lists.clone();
            let position = denied_lists[which].len();
            denied_lists[which].push(("bad", f.unsigned.clone()));
            let object = workload(kind, spec(&denied_lists));
            // Where it is, as the interface words it: `spec.template.spec.containers[2] "bad"`.
            let location = format!(
                "{}.{list}[{position}] \"bad\"",
                kind.spec.trim_start_matches('/').replace('/', ".")
            );
            for (endpoint, operation) in [
                ("/validate", "CREATE"),
                ("/mutate", "CREATE"),
                ("/validate", "UPDATE"),
            ] {
                let response = decide(
                    &f.webhook,
                    endpoint,
                    &review(kind, operation, object.clone()),
                );
                let message = assert_denied(&response, &[&f.unsigned, &location]);
                assert!(
                    message.starts_with(&format!(
                        "signet trust policy denies {} default/demo: ",
                        kind.kind
                    )),
                    "{message}"
                );
                assert!(
                    message
                        .contains("tag unsigned needs 1 signer(s): none signed; missing: targets"),
                    "{} {endpoint}: the reason: {message}",
                    kind.kind
                );
                assert!(
                    !message.contains(&f.sidecar.name),
                    "only the denied image is named: {message}"
                );
            }
        }
    }
}

/// `/mutate` under a `pin_digest` rule: a JSONPatch of `replace` operations, one per image
/// field given by tag, which applied by an independent implementation changes nothing but those
/// images, each now `name@<signed digest>`; images given by digest and images under a rule
/// with `pin_digest = false` are left alone.
#[test]
fn mutate_pins_tags_to_the_signed_digests() {
    let Some(f) = fixture() else {
        return;
    };
    for kind in KINDS {
        let app = f.app.tagged();
        let sidecar = f.sidecar.tagged();
        let by_digest = f.app.pinned();
        let loose = f.loose.tagged();
        let spec = pod_spec(
            &[("app", &app), ("loose", &loose), ("sidecar", &sidecar)],
            &[("init", &sidecar)],
            &[("debug", &by_digest)],
        );
        let object = workload(kind, spec);
        let response = admitted(&f.webhook, "/mutate", kind, &object);
        let ops = patch_of(&response);
        let base = kind.spec;
        let expected: BTreeMap<String, String> = [
            (format!("{base}/containers/0/image"), f.app.pinned()),
            (format!("{base}/containers/2/image"), f.sidecar.pinned()),
            (format!("{base}/initContainers/0/image"), f.sidecar.pinned()),
        ]
        .into_iter()
        .collect();
        let mut got = BTreeMap::new();
        for op in ops.as_array().unwrap() {
            assert_eq!(op["op"], "replace", "{}: {ops}", kind.kind);
            let previous = got.insert(
                op["path"].as_str().unwrap().to_owned(),
                op["value"].as_str().unwrap().to_owned(),
            );
            assert!(previous.is_none(), "one op per field: {ops}");
        }
        assert_eq!(got, expected, "{}: {ops}", kind.kind);

        let patched = apply(&object, &ops);
        let mut want = object.clone();
        for (path, image) in &expected {
            *want.pointer_mut(path).unwrap() = json!(image);
        }
        assert_eq!(patched, want, "{}: only the image fields change", kind.kind);
        let digests = [
            (f.app.name.as_str(), f.app.digest.as_str()),
            (f.sidecar.name.as_str(), f.sidecar.digest.as_str()),
        ];
        for (path, image) in image_fields(kind, &patched) {
            let reference = ImageReference::parse(&image)
                .unwrap_or_else(|e| panic!("{path}: {image} does not parse: {e}"));
            if image == loose {
                continue;
            }
            assert_eq!(reference.tag(), None, "{path}: {image}");
            let digest = reference.digest().unwrap().to_string();
            let signed = digests
                .iter()
                .find(|(name, _)| *name == reference.name())
                .unwrap()
                .1;
            assert_eq!(digest, signed, "{path}: {image}");
        }

        // The same review on /validate: the same verdict, no patch.
        let response = admitted(&f.webhook, "/validate", kind, &object);
        assert!(!has_patch(&response), "{response}");
    }

    // Nothing to change: no patch at all.
    for images in [
        vec![f.loose.tagged()],
        vec![f.app.pinned(), f.loose.tagged()],
    ] {
        let containers: Vec<(String, &str)> = images
            .iter()
            .enumerate()
            .map(|(i, image)| (format!("c{i}"), image.as_str()))
            .collect();
        let containers: Vec<(&str, &str)> =
            containers.iter().map(|(n, i)| (n.as_str(), *i)).collect();
        let object = workload(POD, pod_spec(&containers, &[], &[]));
        let response = admitted(&f.webhook, "/mutate", POD, &object);
        assert!(!has_patch(&response), "{images:?}: {response}");
    }
}

/// An audit rule: a denied image is allowed with a warning naming it and the reason; a signed
/// one gets no warning.
#[test]
fn audit_mode_allows_with_a_warning() {
    let Some(f) = fixture() else {
        return;
    };
    for endpoint in ["/validate", "/mutate"] {
        let object = workload(POD, pod_spec(&[("app", &f.audit_unsigned)], &[], &[]));
        let response = admitted(&f.webhook, endpoint, POD, &object);
        let warnings: Vec<&str> = response["warnings"]
            .as_array()
            .unwrap_or_else(|| panic!("no warnings: {response}"))
            .iter()
            .map(|w| w.as_str().unwrap())
            .collect();
        assert_eq!(warnings.len(), 1, "{response}");
        assert!(warnings[0].contains(&f.audit_unsigned), "{warnings:?}");
        assert!(
            warnings[0].contains("would be denied: tag 1.0 needs 1 signer(s)"),
            "the reason: {warnings:?}"
        );
        assert!(!has_patch(&response), "{response}");

        let signed = f.audit_signed.tagged();
        let object = workload(POD, pod_spec(&[("app", &signed)], &[], &[]));
        let response = admitted(&f.webhook, endpoint, POD, &object);
        assert!(
            response
                .get("warnings")
                .is_none_or(|w| w.is_null() || w == &json!([])),
            "{response}"
        );
    }
}

/// DELETE and CONNECT pass untouched; a kind the webhook does not know, an object without a
/// pod spec and an image no rule matches are denied; a body that is not an AdmissionReview v1
/// is a 400.
#[test]
fn operations_kinds_and_bodies_it_does_not_judge() {
    let Some(f) = fixture() else {
        return;
    };
    let unsigned_pod = workload(POD, pod_spec(&[("bad", &f.unsigned)], &[], &[]));
    for endpoint in ["/validate", "/mutate"] {
        let response = decide(
            &f.webhook,
            endpoint,
            &review(POD, "DELETE", unsigned_pod.clone()),
        );
        assert_allowed(&response);
        assert!(!has_patch(&response), "{response}");
        let exec = Kind {
            kind: "PodExecOptions",
            group: "",
            resource: "pods",
            spec: "/spec",
        };
        let response = decide(
            &f.webhook,
            endpoint,
            &review(
                &exec,
                "CONNECT",
                json!({"apiVersion": "v1", "kind": "PodExecOptions", "command": ["sh"]}),
            ),
        );
        assert_allowed(&response);

        let service = Kind {
            kind: "Service",
            group: "",
            resource: "services",
            spec: "/spec",
        };
        let object = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "demo"}, "spec": {"ports": [{"port": 80}]}});
        let response = decide(&f.webhook, endpoint, &review(&service, "CREATE", object));
        assert_denied(&response, &["Service"]);

        let no_spec =
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "demo"}});
        let response = decide(&f.webhook, endpoint, &review(&KINDS[1], "CREATE", no_spec));
        assert_denied(&response, &["Deployment"]);

        let elsewhere = "docker.io/library/nginx:1.27";
        let object = workload(POD, pod_spec(&[("web", elsewhere)], &[], &[]));
        let response = decide(&f.webhook, endpoint, &review(POD, "CREATE", object));
        let message = assert_denied(&response, &[elsewhere]);
        assert!(
            message.contains("no rule of the policy matches the image"),
            "{message}"
        );
    }

    let v1beta1 = {
        let mut r = review(POD, "CREATE", unsigned_pod);
        r["apiVersion"] = json!("admission.k8s.io/v1beta1");
        r
    };
    let bodies: [(&str, Vec<u8>); 5] = [
        ("not JSON", b"not json".to_vec()),
        ("empty", Vec::new()),
        ("an empty object", b"{}".to_vec()),
        (
            "no request",
            br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#.to_vec(),
        ),
        ("v1beta1", serde_json::to_vec(&v1beta1).unwrap()),
    ];
    let errors = |text: &str| {
        metric(
            text,
            "signet_admission_reviews_total",
            &[("result", "error")],
        )
    };
    let errors_before = errors(&metrics(&f.webhook));
    for endpoint in ["/validate", "/mutate"] {
        for (what, body) in &bodies {
            let answer = f.webhook.post(endpoint, body).unwrap();
            assert_eq!(answer.status, 400, "{endpoint} {what}: {}", answer.text());
            assert!(
                !answer.text().trim().is_empty(),
                "{endpoint} {what}: a message"
            );
        }
    }
    let text = metrics(&f.webhook);
    assert!(
        errors(&text) >= errors_before + 10.0,
        "each unusable body counts as result=\"error\":\n{text}"
    );
}

/// An OCI index with two platform manifests, signed: pods naming the index digest and a child
/// digest are admitted (and left as they are by /mutate), the tag is pinned to the index
/// digest, and a manifest the index does not list is denied.
#[test]
fn multi_platform_index_and_its_children() {
    let Some(f) = fixture() else {
        return;
    };
    let m = &f.multi;
    let by_index = m.index.pinned();
    let arm64 = format!("{}@{}", m.index.name, m.arm64);
    let amd64 = format!("{}@{}", m.index.name, m.amd64);
    let tagged = m.index.tagged();
    let object = workload(
        POD,
        pod_spec(
            &[("index", &by_index), ("arm", &arm64)],
            &[("amd", &amd64)],
            &[("tagged", &tagged)],
        ),
    );
    admitted(&f.webhook, "/validate", POD, &object);
    let response = admitted(&f.webhook, "/mutate", POD, &object);
    let ops = patch_of(&response);
    assert_eq!(
        ops,
        json!([{"op": "replace", "path": "/spec/ephemeralContainers/0/image", "value": by_index}]),
        "only the tag is pinned"
    );
    let patched = apply(&object, &ops);
    assert_eq!(patched["spec"]["containers"], object["spec"]["containers"]);

    let unlisted = format!("{}@{}", m.index.name, m.unlisted);
    for endpoint in ["/validate", "/mutate"] {
        let object = workload(
            POD,
            pod_spec(&[("index", &by_index), ("other", &unlisted)], &[], &[]),
        );
        let response = decide(&f.webhook, endpoint, &review(POD, "CREATE", object));
        let message = assert_denied(&response, &[&unlisted, "containers[1] \"other\""]);
        assert!(
            message.contains(&format!(
                "digest {} is not signed by the required signers, nor listed by a signed index",
                m.unlisted
            )),
            "{message}"
        );
        assert!(!message.contains(&m.arm64), "{message}");
    }
}

/// /healthz and /readyz answer 200, and /metrics has every family of the interface, the
/// changefeed of the trust server up.
#[test]
fn health_readiness_and_metrics() {
    let Some(f) = fixture() else {
        return;
    };
    let health = f.webhook.get("/healthz").unwrap();
    assert_eq!((health.status, health.text().trim()), (200, "ok"));
    let ready = f.webhook.get("/readyz").unwrap();
    assert_eq!(ready.status, 200, "{}", ready.text());

    let object = workload(POD, pod_spec(&[("app", &f.app.tagged())], &[], &[]));
    assert_allowed(&decide(
        &f.webhook,
        "/validate",
        &review(POD, "CREATE", object),
    ));
    let text = metrics(&f.webhook);
    for family in [
        "signet_admission_reviews_total",
        "signet_admission_review_duration_seconds",
        "signet_admission_image_decisions_total",
        "signet_admission_cache_entries",
        "signet_admission_cache_invalidations_total",
        "signet_admission_changefeed_up",
        "signet_admission_build_info",
    ] {
        assert!(
            text.lines()
                .any(|l| l.starts_with(&format!("# TYPE {family} "))),
            "no family {family} in:\n{text}"
        );
    }
    assert!(
        text.contains("# TYPE signet_admission_review_duration_seconds histogram"),
        "{text}"
    );
    assert!(
        metric(
            &text,
            "signet_admission_reviews_total",
            &[
                ("operation", "CREATE"),
                ("kind", "Pod"),
                ("result", "allow")
            ]
        ) >= 1.0,
        "{text}"
    );
    assert!(
        metric(&text, "signet_admission_review_duration_seconds_count", &[]) >= 1.0,
        "{text}"
    );
    assert!(
        metric(&text, "signet_admission_cache_entries", &[]) >= 1.0,
        "{text}"
    );
    let server = f.servers.server.host_port();
    let up: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("signet_admission_changefeed_up{") && l.contains(server))
        .collect();
    assert_eq!(up.len(), 1, "{server} in:\n{text}");
    assert!(up[0].ends_with(" 1"), "{up:?}");
    assert!(
        metric(&text, "signet_admission_build_info", &[]) >= 1.0,
        "{text}"
    );
}

/// A signed tag is decided once and then served from the cache; `signet trust revoke` reaches
/// the webhook through the changefeed and the next review, a little over one interval later,
/// denies it. (Its own webhook: the counters are exact.)
#[test]
fn a_revocation_drops_the_cached_decision() {
    let Some(f) = fixture() else {
        return;
    };
    let webhook = start_webhook(&f.policy, &[]);
    let image = f.revoked.tagged();
    let object = workload(POD, pod_spec(&[("app", &image)], &[], &[]));
    let decisions = |verdict: &str, cache: &str| {
        metric(
            &metrics(&webhook),
            "signet_admission_image_decisions_total",
            &[("verdict", verdict), ("cache", cache)],
        )
    };
    assert_allowed(&decide(
        &webhook,
        "/validate",
        &review(POD, "CREATE", object.clone()),
    ));
    assert_eq!(decisions("allow", "miss"), 1.0);
    assert_eq!(decisions("allow", "hit"), 0.0);
    assert_allowed(&decide(
        &webhook,
        "/validate",
        &review(POD, "CREATE", object.clone()),
    ));
    assert_eq!(
        decisions("allow", "hit"),
        1.0,
        "the second review is a cache hit"
    );
    assert_eq!(decisions("allow", "miss"), 1.0);
    assert_eq!(
        metric(&metrics(&webhook), "signet_admission_cache_entries", &[]),
        1.0
    );

    // Several polls that name nothing about it leave the decision cached.
    std::thread::sleep(Duration::from_secs_f64(CHANGEFEED_INTERVAL * 3.0));
    assert_allowed(&decide(
        &webhook,
        "/mutate",
        &review(POD, "CREATE", object.clone()),
    ));
    assert_eq!(decisions("allow", "hit"), 2.0);
    let invalidations_before = metric(
        &metrics(&webhook),
        "signet_admission_cache_invalidations_total",
        &[],
    );

    signet_ok(&f.owner, &["trust", "revoke", &image]);
    let revoked_at = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(CHANGEFEED_INTERVAL * 2.0));
    let response = decide(&webhook, "/validate", &review(POD, "CREATE", object));
    assert_denied(&response, &[&image, "containers[0] \"app\""]);
    let text = metrics(&webhook);
    assert!(
        metric(&text, "signet_admission_cache_invalidations_total", &[]) > invalidations_before,
        "{text}"
    );
    assert_eq!(
        image_decisions(&text, &[("verdict", "deny"), ("cache", "miss")]),
        1.0,
        "{text}"
    );
    eprintln!("denied {:?} after the revocation", revoked_at.elapsed());
}

/// `--cache-size` bounds the cache (the oldest decision goes first), `--cache-ttl` bounds how
/// long a decision is used, and `--cache-size 0` keeps nothing. (Their own webhooks: the
/// counters are exact.)
#[test]
fn the_cache_is_bounded_in_size_and_time() {
    let Some(f) = fixture() else {
        return;
    };
    let webhook = start_webhook(&f.policy, &["--cache-size", "2", "--cache-ttl", "5"]);
    let counts = || {
        let text = metrics(&webhook);
        (
            image_decisions(&text, &[("verdict", "allow"), ("cache", "miss")]),
            image_decisions(&text, &[("verdict", "allow"), ("cache", "hit")]),
            metric(&text, "signet_admission_cache_entries", &[]),
        )
    };
    let pod_of = |image: String| workload(POD, pod_spec(&[("app", &image)], &[], &[]));
    let (app, sidecar, loose) = (
        pod_of(f.app.tagged()),
        pod_of(f.sidecar.tagged()),
        pod_of(f.loose.tagged()),
    );
    admitted(&webhook, "/validate", POD, &app);
    admitted(&webhook, "/validate", POD, &app);
    assert_eq!(counts(), (1.0, 1.0, 1.0), "(misses, hits, entries)");
    admitted(&webhook, "/validate", POD, &sidecar);
    admitted(&webhook, "/validate", POD, &loose);
    assert_eq!(counts(), (3.0, 1.0, 2.0), "two entries at most");
    admitted(&webhook, "/validate", POD, &loose);
    admitted(&webhook, "/validate", POD, &app);
    assert_eq!(counts(), (4.0, 2.0, 2.0), "the oldest (app) was evicted");
    // A TTL long enough that a loaded machine gets through the steps above within it.
    std::thread::sleep(Duration::from_millis(5500));
    admitted(&webhook, "/validate", POD, &app);
    assert_eq!(
        counts().0,
        5.0,
        "a decision older than --cache-ttl is taken afresh"
    );

    let uncached = start_webhook(&f.policy, &["--cache-size", "0"]);
    for _ in 0..3 {
        admitted(&uncached, "/validate", POD, &app);
    }
    let text = metrics(&uncached);
    assert_eq!(image_decisions(&text, &[("cache", "hit")]), 0.0, "{text}");
    assert_eq!(image_decisions(&text, &[("cache", "miss")]), 3.0, "{text}");
    assert_eq!(
        metric(&text, "signet_admission_cache_entries", &[]),
        0.0,
        "{text}"
    );
}

/// A trust server that cannot be reached: the webhook serves (/healthz), is not ready
/// (/readyz 503 naming the server), denies the images it would need the server for, and never
/// caches those denials; SIGTERM still stops it promptly.
#[test]
fn an_unreachable_trust_server_fails_closed() {
    let port = free_port().unwrap();
    let server = format!("https://127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.toml");
    std::fs::write(
        &path,
        format!(
            "version = 1\n\n[[rule]]\nimage = \"registry.example.com/**\"\nserver = {server:?}\n\
             root = {{ key_ids = [{:?}] }}\nall = [\"targets\"]\n",
            "ab".repeat(32)
        ),
    )
    .unwrap();
    let interval = CHANGEFEED_INTERVAL.to_string();
    let webhook = AdmissionWebhook::start(
        &signet_binary(),
        &path,
        None,
        &["--changefeed-interval", &interval],
    )
    .unwrap();
    let health = webhook.get("/healthz").unwrap();
    assert_eq!(health.status, 200, "{}", health.text());
    std::thread::sleep(Duration::from_secs_f64(CHANGEFEED_INTERVAL * 4.0));
    let ready = webhook.get("/readyz").unwrap();
    assert_eq!(ready.status, 503, "{}", ready.text());
    let body: Value = serde_json::from_slice(&ready.body)
        .unwrap_or_else(|e| panic!("/readyz 503 body is not JSON ({e}): {}", ready.text()));
    assert!(
        body.to_string().contains(&format!("127.0.0.1:{port}")),
        "{body}"
    );

    let image = "registry.example.com/team/app:1.0";
    let object = workload(POD, pod_spec(&[("app", image)], &[], &[]));
    for _ in 0..2 {
        let response = decide(
            &webhook,
            "/validate",
            &review(POD, "CREATE", object.clone()),
        );
        assert_denied(&response, &[image]);
    }
    let text = metrics(&webhook);
    assert_eq!(image_decisions(&text, &[("cache", "hit")]), 0.0, "{text}");
    assert_eq!(
        image_decisions(&text, &[("verdict", "deny"), ("cache", "miss")]),
        2.0,
        "{text}"
    );
    assert_eq!(
        metric(&text, "signet_admission_cache_entries", &[]),
        0.0,
        "{text}"
    );
    let up: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("signet_admission_changefeed_up{"))
        .collect();
    assert_eq!(up.len(), 1, "{text}");
    assert!(
        up[0].contains(&format!("127.0.0.1:{port}")) && up[0].ends_with(" 0"),
        "{up:?}"
    );

    // SIGTERM: a graceful shutdown, bounded although a changefeed is still being retried.
    let mut webhook = webhook;
    let took = webhook
        .process_mut()
        .terminate(Duration::from_secs(20))
        .unwrap();
    assert!(
        took.is_some(),
        "still running 20 s after SIGTERM:\n{}",
        webhook.logs()
    );
    assert!(
        webhook.logs().contains("shutting down"),
        "{}",
        webhook.logs()
    );
}
