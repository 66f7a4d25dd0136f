//! Where the objects under review keep their images: the pod spec of a Pod, the pod template
//! of the workload kinds, and in it every container list.

use serde_json::Value;

use crate::review::GroupVersionKind;

/// The container lists of a pod spec, in the order they are judged and reported.
pub const CONTAINER_LISTS: [&str; 3] = ["initContainers", "containers", "ephemeralContainers"];

/// The kinds reviewed and the path of their pod spec: (API group, kind, path).
pub const KINDS: [(&str, &str, &[&str]); 8] = [
    ("", "Pod", &["spec"]),
    ("", "ReplicationController", &["spec", "template", "spec"]),
    ("apps", "Deployment", &["spec", "template", "spec"]),
    ("apps", "StatefulSet", &["spec", "template", "spec"]),
    ("apps", "DaemonSet", &["spec", "template", "spec"]),
    ("apps", "ReplicaSet", &["spec", "template", "spec"]),
    ("batch", "Job", &["spec", "template", "spec"]),
    (
        "batch",
        "CronJob",
        &["spec", "jobTemplate", "spec", "template", "spec"],
    ),
];

/// One `image` field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageSite {
    /// Its JSON Pointer in the object (`/spec/template/spec/containers/0/image`).
    pub pointer: String,
    /// Where it is, for messages: `spec.template.spec.containers[0] "app"`.
    pub location: String,
    /// The image as written.
    pub image: String,
}

/// Why the images of an object cannot be read: the object is denied.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WorkloadError {
    /// A kind the webhook does not know where to look in.
    #[error(
        "{kind} is not a kind signet admission reviews (it reviews Pods, ReplicationControllers, \
         Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs and CronJobs); remove it from \
         the webhook's rules"
    )]
    UnknownKind {
        /// `group/version Kind`.
        kind: String,
    },
    /// The object has no pod spec where its kind keeps one.
    #[error("the {kind} has no pod spec at {path}")]
    NoPodSpec {
        /// The kind.
        kind: String,
        /// The path looked at.
        path: String,
    },
    /// A container list, a container or its image is not of the expected type.
    #[error("{location}: {problem}")]
    Malformed {
        /// Where.
        location: String,
        /// What is wrong.
        problem: &'static str,
    },
}

/// Every image field of `object`, a `kind` object.
///
/// # Errors
///
/// [`WorkloadError`] for a kind not in [`KINDS`], an object without its pod spec, or container
/// lists, containers or images of the wrong JSON type (a container without an image is an
/// error too: nothing unjudged is admitted).
pub fn image_sites(
    kind: &GroupVersionKind,
    object: &Value,
) -> Result<Vec<ImageSite>, WorkloadError> {
    let path = KINDS
        .iter()
        .find(|(group, name, _)| *group == kind.group && *name == kind.kind)
        .map(|(_, _, path)| *path)
        .ok_or_else(|| WorkloadError::UnknownKind {
            kind: kind.describe(),
        })?;
    let spec = path
        .iter()
        .try_fold(object, |value, key| value.get(key))
        .filter(|spec| spec.is_object())
        .ok_or_else(|| WorkloadError::NoPodSpec {
            kind: kind.kind.clone(),
            path: path.join("."),
        })?;
    let mut sites = Vec::new();
    for list in CONTAINER_LISTS {
        let Some(containers) = spec.get(list) else {
            continue;
        };
        let base = format!("{}.{list}", path.join("."));
        if containers.is_null() {
            continue;
        }
        let containers = containers.as_array().ok_or(WorkloadError::Malformed {
            location: base.clone(),
            problem: "not a list",
        })?;
        for (i, container) in containers.iter().enumerate() {
            let name = container.get("name").and_then(Value::as_str).unwrap_or("");
            let location = format!("{base}[{i}] {name:?}");
            let image = container
                .get("image")
                .ok_or_else(|| WorkloadError::Malformed {
                    location: location.clone(),
                    problem: "the container names no image",
                })?
                .as_str()
                .ok_or_else(|| WorkloadError::Malformed {
                    location: location.clone(),
                    problem: "the image is not a string",
                })?;
            sites.push(ImageSite {
                pointer: format!("/{}/{list}/{i}/image", path.join("/")),
                location,
                image: image.to_owned(),
            });
        }
    }
    Ok(sites)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn gvk(group: &str, kind: &str) -> GroupVersionKind {
        GroupVersionKind {
            group: group.into(),
            version: "v1".into(),
            kind: kind.into(),
        }
    }

    fn pod_spec() -> Value {
        json!({
            "initContainers": [{"name": "init", "image": "r.example/init:1"}],
            "containers": [{"name": "app", "image": "r.example/app:1"},
                           {"name": "side", "image": "r.example/side@sha256:aa"}],
            "ephemeralContainers": [{"name": "debug", "image": "r.example/debug:1"}],
        })
    }

    #[test]
    fn finds_every_list_of_every_kind() {
        for (group, kind, path) in KINDS {
            let mut object = pod_spec();
            for key in path.iter().rev() {
                object = json!({ *key: object });
            }
            let sites = image_sites(&gvk(group, kind), &object).unwrap();
            let prefix = format!("/{}", path.join("/"));
            let pointers: Vec<&str> = sites.iter().map(|s| s.pointer.as_str()).collect();
            assert_eq!(
                pointers,
                [
                    format!("{prefix}/initContainers/0/image"),
                    format!("{prefix}/containers/0/image"),
                    format!("{prefix}/containers/1/image"),
                    format!("{prefix}/ephemeralContainers/0/image"),
                ],
                "{kind}"
            );
            // Each pointer leads to the image it reports.
            for site in &sites {
                assert_eq!(object.pointer(&site.pointer).unwrap(), site.image.as_str());
            }
            assert_eq!(
                sites[1].location,
                format!("{}.containers[0] \"app\"", path.join("."))
            );
        }
    }

    #[test]
    fn unknown_kinds_and_bad_shapes_are_refused() {
        let object = json!({"spec": pod_spec()});
        let unknown = image_sites(&gvk("example.com", "Pod"), &object).unwrap_err();
        assert!(
            matches!(unknown, WorkloadError::UnknownKind { .. }),
            "{unknown}"
        );
        assert!(unknown.to_string().contains("example.com/v1 Pod"));
        let wrong_group = image_sites(&gvk("apps", "Pod"), &object).unwrap_err();
        assert!(matches!(wrong_group, WorkloadError::UnknownKind { .. }));

        let no_spec = image_sites(&gvk("apps", "Deployment"), &object).unwrap_err();
        assert_eq!(
            no_spec.to_string(),
            "the Deployment has no pod spec at spec.template.spec"
        );

        let no_image = json!({"spec": {"containers": [{"name": "a"}]}});
        let err = image_sites(&gvk("", "Pod"), &no_image).unwrap_err();
        assert_eq!(
            err.to_string(),
            "spec.containers[0] \"a\": the container names no image"
        );
        let not_a_list = json!({"spec": {"containers": {"name": "a"}}});
        assert!(image_sites(&gvk("", "Pod"), &not_a_list).is_err());
        let number = json!({"spec": {"containers": [{"name": "a", "image": 5}]}});
        assert!(image_sites(&gvk("", "Pod"), &number).is_err());
    }

    #[test]
    fn empty_and_null_lists_have_no_images() {
        let object = json!({"spec": {"containers": [], "initContainers": null}});
        assert!(image_sites(&gvk("", "Pod"), &object).unwrap().is_empty());
    }
}
