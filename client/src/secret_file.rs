//! Files that hold a secret (a private JWK, a private key in PEM): the one way this workspace
//! writes them.
//!
//! On Unix the file is created with mode 0600, so it is never readable by others, not even
//! for the instant between creation and a later `chmod`; a file that is replaced is set to
//! 0600 before the new secret is written into it. The bytes are written in full and synced
//! before the call returns.
//!
//! Owns: the mode, the create-or-replace rule and the sync. It must not know what the secret
//! is (callers encode it and keep it in a zeroizing buffer).

use std::io::{self, Write};
use std::path::Path;

/// What to do when the file exists already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Refuse ([`io::ErrorKind::AlreadyExists`]): a key is never overwritten by accident.
    Refuse,
    /// Replace its contents (tightening its mode to 0600 first).
    Replace,
}

/// The mode of a secret file.
pub const MODE: u32 = 0o600;

/// Writes `bytes` to `path` as a secret file (see the module docs).
pub fn write(path: &Path, bytes: &[u8], existing: Existing) -> io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    match existing {
        Existing::Refuse => options.create_new(true),
        Existing::Replace => options.create(true).truncate(true),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(MODE);
    }
    let mut file = options.open(path)?;
    // `mode` applies only when the file is created; a replaced file is tightened before the
    // secret goes into it.
    #[cfg(unix)]
    if existing == Existing::Replace {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(MODE))?;
    }
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_new_file_is_0600_and_an_existing_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        write(&path, b"one", Existing::Refuse).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"one");
        #[cfg(unix)]
        assert_eq!(mode(&path), 0o600);
        let again = write(&path, b"two", Existing::Refuse).unwrap_err();
        assert_eq!(again.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&path).unwrap(), b"one");
    }

    #[test]
    fn a_replaced_file_is_tightened_to_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        std::fs::write(&path, b"a much longer old secret").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        write(&path, b"new", Existing::Replace).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        #[cfg(unix)]
        assert_eq!(mode(&path), 0o600);
    }
}
