//! Files the commands write for the user (exported keys, generated key pairs, verified
//! payloads): created with mode 0600 like notary's, truncated when they exist.

use std::path::Path;

use signet_signer::private_fs;

use crate::error::{CliError, Result};

/// Writes `bytes` to `path`, creating it with mode 0600 (an existing file keeps its mode and is
/// truncated).
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    private_fs::overwrite_private_file(path, bytes)
        .map_err(|e| CliError::file(e.action, e.path, e.source))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_owner_only_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.pem");
        write_private(&path, b"one two").unwrap();
        write_private(&path, b"three").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"three");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let missing = dir.path().join("no/such/dir/k.pem");
        assert!(matches!(
            write_private(&missing, b"x"),
            Err(CliError::File { action: "open", .. })
        ));
    }
}
