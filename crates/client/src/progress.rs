//! Progress of an update or a publish, reported to a callback the caller supplies (a CLI can
//! draw it on a terminal). Nothing is reported when no callback is set.

use std::fmt;
use std::sync::Arc;

/// One step of an update or a publish.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProgressEvent {
    /// A metadata file was fetched from the server (or found missing or unavailable).
    Fetched {
        /// The file, such as `root.json` or `targets/releases.json`.
        file: String,
        /// How many files this update has fetched so far, this one included.
        count: usize,
    },
    /// A role was signed for a publish.
    Signed {
        /// The role.
        role: String,
        /// How many roles have been signed so far, this one included.
        count: usize,
        /// How many roles this publish uploads.
        total: usize,
    },
    /// The signed files are being uploaded.
    Uploading {
        /// How many files.
        files: usize,
    },
}

impl fmt::Display for ProgressEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fetched { file, count } => write!(f, "Fetching [{count}] {file}"),
            Self::Signed { role, count, total } => write!(f, "Signing [{count}/{total}] {role}"),
            Self::Uploading { files } => write!(f, "Uploading {files} files"),
        }
    }
}

/// The callback: called synchronously, in order, from the task running the operation.
pub type ProgressCallback = Arc<dyn Fn(&ProgressEvent) + Send + Sync>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_display_counts() {
        let fetched = ProgressEvent::Fetched {
            file: "root.json".to_owned(),
            count: 1,
        };
        assert_eq!(fetched.to_string(), "Fetching [1] root.json");
        let signed = ProgressEvent::Signed {
            role: "targets".to_owned(),
            count: 2,
            total: 3,
        };
        assert_eq!(signed.to_string(), "Signing [2/3] targets");
        assert_eq!(
            ProgressEvent::Uploading { files: 3 }.to_string(),
            "Uploading 3 files"
        );
    }
}
