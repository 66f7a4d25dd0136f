//! Files the commands write for the user (exported keys, generated key pairs, verified
//! payloads): created with mode 0600 like notary's, truncated when they exist.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::Path;

use crate::error::{CliError, Result};

/// Writes `bytes` to `path`, creating it with mode 0600 (an existing file keeps its mode and is
/// truncated).
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| CliError::file("open", path, e))?;
    file.write_all(bytes)
        .and_then(|()| file.flush())
        .map_err(|e| CliError::file("write", path, e))
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
