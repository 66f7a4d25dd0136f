//! The atomic upload: validate, generate the snapshot (when the client did not send one)
//! and the timestamp, and store every file in one transaction.

use chrono::Utc;
use signet_tuf::metadata::Envelope;
use signet_tuf::repo::SnapshotBuilder;

use super::generate::SignError;
use super::{Repo, UploadedFile};
use crate::error::ServerError;
use crate::store::FileUpdate;
use crate::validation::{Fail, tuf_msg, validate_update};

const NO_SNAPSHOT_KEY: &str = "no snapshot was included in update and server does not hold \
                               current snapshot key for repository";

impl Repo {
    /// `POST /v2/<gun>/_trust/tuf/`: validates the uploaded files and stores them together
    /// with a new snapshot (unless uploaded) and a new timestamp, all or nothing.
    pub async fn update(&self, gun: &str, files: Vec<UploadedFile>) -> Result<(), ServerError> {
        let fail = Fail(gun);
        let now = Utc::now();
        let v = validate_update(self, gun, files, now).await?;
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

        let files = updates.len();
        self.store_updates(gun, updates)
            .await
            .map_err(|e| ServerError::from_store_write(gun, e))?;
        tracing::info!(
            %gun,
            files,
            timestamp_version = timestamp.version,
            "update stored"
        );
        self.note_keys_used(gun, "timestamp", &timestamp.keys).await;
        self.note_keys_used(gun, "snapshot", &snapshot_keys).await;
        Ok(())
    }
}
