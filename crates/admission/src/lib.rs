//! signet's Kubernetes admission webhook: the trust policy of `signet trust verify --policy`
//! enforced where images run.
//!
//! The API server sends an `AdmissionReview` v1 for each Pod and workload created or updated;
//! the webhook finds every image of its pod spec ([`workload`]), decides about each with the
//! policy ([`signet_client::policy`]), keeps the decisions in a bounded [`cache`] that the
//! trust servers' [`changefeed`]s invalidate, and answers ([`review`], [`webhook`]): allowed,
//! denied with the image and the reason, or allowed with a JSON Patch that pins tags to their
//! signed digests. [`server`] serves it over HTTPS with health, readiness and [`metrics`].
//!
//! Deployment, failure policy and operation: `docs/admission.md`.

#![forbid(unsafe_code)]

pub mod cache;
pub mod changefeed;
pub mod error;
pub mod metrics;
pub mod review;
pub mod server;
pub mod webhook;
pub mod workload;

pub use error::{AdmissionError, ReviewError};
pub use server::{Settings, run};
pub use webhook::{Endpoint, Webhook};
