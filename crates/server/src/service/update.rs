//! The atomic upload: validate, generate the snapshot (when the client did not send one)
//! and the timestamp, and store every file in one transaction.

use std::time::Instant;

use chrono::Utc;
use signet_tuf::authoring::SnapshotBuilder;
use signet_tuf::metadata::Envelope;

use super::generate::SignError;
use super::{MetadataService, UploadedFile};
use crate::error::ServiceError;
use crate::store::{FileUpdate, KeyUse};
use crate::validation::{Fail, tuf_msg, validate_update};

const NO_SNAPSHOT_KEY: &str = "no snapshot was included in update and server does not hold \
                               current snapshot key for repository";

/// Records how long one phase of an accepted upload took, in the
/// `signet_server_publish_phase_seconds` histogram (`validate`, `snapshot`, `timestamp`,
/// `store`): where a publish spends its time, from the metrics endpoint.
fn phase_done(phase: &'static str, started: Instant) -> Instant {
    let now = Instant::now();
    metrics::histogram!("signet_server_publish_phase_seconds", "phase" => phase)
        .record(now.duration_since(started).as_secs_f64());
    now
}

impl MetadataService {
    /// Validates an upload to `gun` exactly as [`update`](Self::update) does, as of `now`,
    /// and stores nothing: a dry run of every check an upload meets before it is accepted
    /// (the fuzz harness of the upload path runs it on arbitrary uploads).
    ///
    /// # Errors
    ///
    /// The [`ServiceError`] [`update`](Self::update) would return for these files before
    /// signing or storing anything.
    pub async fn check_update(
        &self,
        gun: &str,
        files: Vec<UploadedFile>,
        now: chrono::DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        validate_update(self, gun, files, now).await.map(|_| ())
    }

    /// `POST /v2/<gun>/_trust/tuf/`: validates the uploaded files and stores them together
    /// with a new snapshot (unless uploaded) and a new timestamp, all or nothing.
    pub async fn update(&self, gun: &str, files: Vec<UploadedFile>) -> Result<(), ServiceError> {
        let fail = Fail(gun);
        let now = Utc::now();
        let started = Instant::now();
        let v = validate_update(self, gun, files, now).await?;
        let mut phase = phase_done("validate", started);
        let root = v.root.signed();

        let mut updates: Vec<FileUpdate> = Vec::new();
        if let Some(version) = v.uploaded_root {
            updates.push(FileUpdate::new("root", version, v.root_bytes.clone()));
        }
        for name in &v.uploaded_targets {
            if let Some(t) = v.targets.get(name) {
                let version = t.upload_version.unwrap_or_else(|| t.env.signed().version);
                updates.push(FileUpdate::new(name.clone(), version, t.bytes.clone()));
            }
        }

        let mut snapshot_keys = Vec::new();
        let snapshot_bytes: bytes::Bytes = match &v.uploaded_snapshot {
            Some((bytes, version)) => {
                updates.push(FileUpdate::new("snapshot", *version, bytes.clone()));
                bytes.clone()
            }
            None => {
                if v.previous_snapshot.is_none() && !v.targets.contains_key("targets") {
                    return Err(fail.general("targets must be loaded first"));
                }
                let mut builder = SnapshotBuilder::new(v.previous_snapshot.as_ref());
                builder
                    .set_file("root", &v.root_bytes)
                    .map_err(|e| fail.general(tuf_msg(&e)))?;
                for (name, t) in &v.targets {
                    builder
                        .set_file(name, &t.bytes)
                        .map_err(|e| fail.general(tuf_msg(&e)))?;
                }
                let doc: Envelope<_> = builder.build(now).map_err(|e| fail.general(tuf_msg(&e)))?;
                let doc = doc.into_parts().0;
                match self.sign_role(gun, "snapshot", root, doc).await {
                    Ok(signed) => {
                        updates.push(FileUpdate::new(
                            "snapshot",
                            signed.version,
                            signed.bytes.clone(),
                        ));
                        snapshot_keys = signed.keys;
                        signed.bytes.into()
                    }
                    Err(SignError::Insufficient { held, needed }) => {
                        tracing::info!(%gun, held, needed, "server cannot sign the snapshot");
                        return Err(fail.hierarchy("snapshot", NO_SNAPSHOT_KEY));
                    }
                    Err(SignError::Failed(e)) => return Err(e),
                }
            }
        };
        if v.uploaded_snapshot.is_none() {
            phase = phase_done("snapshot", phase);
        }

        let prev_ts = self.latest_version(gun, "timestamp").await?;
        let timestamp = match self
            .make_timestamp(gun, root, &snapshot_bytes, prev_ts, now)
            .await
        {
            Ok(t) => t,
            Err(SignError::Insufficient { held, needed }) => {
                tracing::info!(%gun, held, needed, "server cannot sign the timestamp");
                return Err(fail.root("no timestamp keys exist on the server"));
            }
            Err(SignError::Failed(e)) => return Err(e),
        };
        updates.push(FileUpdate::new(
            "timestamp",
            timestamp.version,
            timestamp.bytes,
        ));
        phase = phase_done("timestamp", phase);

        // The keys that signed are marked active and their use recorded in the same
        // transaction as the files they signed.
        let used: Vec<KeyUse> = [("timestamp", &timestamp.keys), ("snapshot", &snapshot_keys)]
            .into_iter()
            .flat_map(|(role, keys)| {
                keys.iter().map(move |id| KeyUse {
                    role: role.to_owned(),
                    key_id: id.to_string(),
                })
            })
            .collect();
        let files = updates.len();
        self.store_updates_using_keys(gun, updates, used)
            .await
            .map_err(|e| ServiceError::from_store_write(gun, e))?;
        phase_done("store", phase);
        tracing::info!(
            %gun,
            files,
            timestamp_version = timestamp.version,
            "update stored"
        );
        Ok(())
    }
}
