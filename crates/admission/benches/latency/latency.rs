//! Review latency of `signet admission serve` for a pod of three containers, warm (decisions
//! cached) and cold (`--cache-size 0`: every review fetches the trust data afresh), against a
//! local signet-server (SQLite, TLS) and `docker-registry`. See README.md beside this file.
//!
//! ```text
//! admission_latency [WARM_REVIEWS [COLD_REVIEWS]]      (defaults 1000 and 200)
//! ```
//!
//! `$SIGNET_BIN` and `$SIGNET_SERVER_BIN` name the binaries (the `run` script builds release
//! ones); with `$LATENCY_RAW_DIR` every review's time goes to `cold.txt` and `warm.txt` there. Prints a Markdown table; exits 1 when a review is not the expected answer or a target
//! is missed.
#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};
use signet_e2e::admission::AdmissionWebhook;
use signet_e2e::docker_cli::DockerEnv;
use signet_e2e::registry::DockerRegistry;
use signet_e2e::{SignetServer, require_tool};

/// The p99 each run must stay under.
const WARM_TARGET: Duration = Duration::from_millis(50);
const COLD_TARGET: Duration = Duration::from_millis(500);
/// The image config of every pushed image.
const CONFIG: &[u8] =
    br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
/// The repositories of the pod's three containers.
const REPOSITORIES: [&str; 3] = ["bench/app", "bench/sidecar", "bench/proxy"];

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1).map(|a| {
        a.parse::<usize>()
            .unwrap_or_else(|_| panic!("usage: admission_latency [WARM_REVIEWS [COLD_REVIEWS]]"))
    });
    let warm_reviews = args.next().unwrap_or(1000);
    let cold_reviews = args.next().unwrap_or(200);
    assert!(
        require_tool("docker-registry").is_some(),
        "docker-registry is needed (apt-get install docker-registry)"
    );
    let signet = std::env::var_os("SIGNET_BIN")
        .map_or_else(|| signet_e2e::debug_binary("signet"), PathBuf::from);

    eprintln!("starting signet-server (SQLite, TLS) and docker-registry");
    let server = SignetServer::start_sqlite_tls().unwrap();
    let registry = DockerRegistry::start().unwrap();
    let owner = DockerEnv::new(server.url(), server.ca_cert()).unwrap();
    let mut images = Vec::new();
    let mut root_ids = Vec::new();
    for repository in REPOSITORIES {
        let (digest, _) = registry
            .push_image(repository, "1.0", repository.as_bytes(), CONFIG)
            .unwrap();
        let image = format!("{}/{repository}", registry.host());
        let tagged = format!("{image}:1.0");
        owner
            .run(&signet, &["trust", "sign", &tagged])
            .unwrap()
            .ok()
            .unwrap();
        let inspected: Value = serde_json::from_str(
            &owner
                .run(&signet, &["trust", "inspect", &image])
                .unwrap()
                .ok()
                .unwrap()
                .stdout,
        )
        .unwrap();
        let root = inspected[0]["AdministrativeKeys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["Name"] == "Root")
            .unwrap()["Keys"][0]["ID"]
            .as_str()
            .unwrap()
            .to_owned();
        root_ids.push(format!("{root:?}"));
        images.push((tagged, format!("{image}@{digest}")));
    }
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        format!(
            "version = 1\n\n[[rule]]\nimage = \"{}/bench/*\"\nserver = {:?}\nserver_ca = {:?}\n\
             root = {{ key_ids = [{}] }}\nall = [\"targets\"]\npin_digest = true\n",
            registry.host(),
            server.url(),
            server.ca_cert().unwrap(),
            root_ids.join(", ")
        ),
    )
    .unwrap();
    let review = pod_review(&images);

    let mut ok = true;
    let mut rows = Vec::new();
    for (name, reviews, extra, target) in [
        (
            "cold (`--cache-size 0`)",
            cold_reviews,
            &["--cache-size", "0"][..],
            COLD_TARGET,
        ),
        (
            "warm (cache on, primed)",
            warm_reviews,
            &[][..],
            WARM_TARGET,
        ),
    ] {
        let mut args = vec!["--changefeed-interval", "5"];
        args.extend_from_slice(extra);
        let webhook = AdmissionWebhook::start(&signet, &policy, None, &args).unwrap();
        let ready = webhook
            .wait_for("/readyz", Duration::from_secs(30))
            .unwrap();
        assert_eq!(ready.status, 200, "{}", ready.text());
        // One priming review: the connections to the webhook and from it to the trust server
        // are open, and (warm) the three decisions are cached.
        check(&webhook, &review, &images).unwrap();
        let mut times = Vec::with_capacity(reviews);
        for _ in 0..reviews {
            let started = Instant::now();
            let answer = check(&webhook, &review, &images);
            times.push(started.elapsed());
            if let Err(reason) = answer {
                eprintln!("{name}: {reason}");
                ok = false;
            }
        }
        let metrics = webhook.get("/metrics").unwrap().text();
        let hits = counter(&metrics, "cache=\"hit\"");
        let misses = counter(&metrics, "cache=\"miss\"");
        if let Some(dir) = std::env::var_os("LATENCY_RAW_DIR") {
            // Every review's time in ms, in the order sent, for plots.
            let file = PathBuf::from(dir).join(format!("{}.txt", name.split(' ').next().unwrap()));
            let lines: Vec<String> = times
                .iter()
                .map(|t| format!("{:.3}", t.as_secs_f64() * 1000.0))
                .collect();
            std::fs::write(&file, lines.join("\n") + "\n").unwrap();
        }
        times.sort();
        let row = Row::new(name, &times, target, hits, misses);
        ok &= row.met;
        rows.push(row);
    }

    println!(
        "| run | reviews | p50 | p90 | p99 | max | mean | image decisions hit / miss | p99 target |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---|");
    for row in &rows {
        println!("{row}");
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// An AdmissionReview v1 CREATE of a pod whose three containers use `images` by tag.
fn pod_review(images: &[(String, String)]) -> Value {
    let containers: Vec<Value> = images
        .iter()
        .enumerate()
        .map(|(i, (tagged, _))| json!({"name": format!("c{i}"), "image": tagged}))
        .collect();
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "00000000-0000-4000-8000-000000000000",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": "default",
            "operation": "CREATE",
            "userInfo": {"username": "bench"},
            "object": {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "bench", "namespace": "default"},
                "spec": {"containers": containers},
            },
            "oldObject": null,
            "dryRun": false,
        }
    })
}

/// Posts the review to `/mutate` and checks the answer: allowed, each image pinned.
fn check(
    webhook: &AdmissionWebhook,
    review: &Value,
    images: &[(String, String)],
) -> Result<(), String> {
    let answer = webhook
        .post("/mutate", &serde_json::to_vec(review).unwrap())
        .map_err(|e| e.to_string())?;
    if answer.status != 200 {
        return Err(format!("HTTP {}: {}", answer.status, answer.text()));
    }
    let document: Value = serde_json::from_slice(&answer.body).map_err(|e| e.to_string())?;
    let response = &document["response"];
    if response["allowed"] != true {
        return Err(format!("not allowed: {response}"));
    }
    let patch = base64::engine::general_purpose::STANDARD
        .decode(response["patch"].as_str().unwrap_or_default())
        .map_err(|e| format!("patch: {e}: {response}"))?;
    let ops: Value = serde_json::from_slice(&patch).map_err(|e| e.to_string())?;
    for (i, (_, pinned)) in images.iter().enumerate() {
        let expected = json!({"op": "replace", "path": format!("/spec/containers/{i}/image"), "value": pinned});
        if !ops.as_array().is_some_and(|ops| ops.contains(&expected)) {
            return Err(format!("no {expected} in {ops}"));
        }
    }
    Ok(())
}

/// The sum of `signet_admission_image_decisions_total` samples with `label`.
fn counter(metrics: &str, label: &str) -> u64 {
    metrics
        .lines()
        .filter(|l| l.starts_with("signet_admission_image_decisions_total{") && l.contains(label))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// One line of the results table.
struct Row {
    name: &'static str,
    reviews: usize,
    p50: Duration,
    p90: Duration,
    p99: Duration,
    max: Duration,
    mean: Duration,
    hits: u64,
    misses: u64,
    target: Duration,
    met: bool,
}

impl Row {
    fn new(
        name: &'static str,
        sorted: &[Duration],
        target: Duration,
        hits: u64,
        misses: u64,
    ) -> Self {
        let quantile = |q: f64| {
            let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
            sorted[rank - 1]
        };
        let p99 = quantile(0.99);
        Self {
            name,
            reviews: sorted.len(),
            p50: quantile(0.50),
            p90: quantile(0.90),
            p99,
            max: sorted[sorted.len() - 1],
            mean: sorted.iter().sum::<Duration>() / sorted.len() as u32,
            hits,
            misses,
            target,
            met: p99 < target,
        }
    }
}

impl std::fmt::Display for Row {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = |d: Duration| format!("{:.2} ms", d.as_secs_f64() * 1000.0);
        write!(
            f,
            "| {} | {} | {} | {} | {} | {} | {} | {} / {} | < {} ms: {} |",
            self.name,
            self.reviews,
            ms(self.p50),
            ms(self.p90),
            ms(self.p99),
            ms(self.max),
            ms(self.mean),
            self.hits,
            self.misses,
            self.target.as_millis(),
            if self.met { "met" } else { "**missed**" },
        )
    }
}
