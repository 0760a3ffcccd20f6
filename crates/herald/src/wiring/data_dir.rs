//! The data directory: where the SQLite file and the generated admin token live.
//!
//! Created at start if missing, private to the server's user (0700 on Unix) because its files
//! are secrets or hold them (the database, the admin token, the encryption key); an existing
//! directory's mode is left as the operator set it, with a warning if the group or others may
//! enter it.

use std::path::Path;

use anyhow::Context;

/// Creates `path` and its parents if missing.
pub fn prepare(path: &Path) -> anyhow::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path).with_context(|| {
        format!(
            "cannot create the data directory {}; choose another with --data-dir",
            path.display()
        )
    })?;
    if let Some(mode) = open_to_others(path) {
        tracing::warn!(
            path = %path.display(),
            mode = format!("{mode:o}"),
            "the data directory is open to other users; chmod 700 it (it holds the database \
             and the keys)"
        );
    }
    Ok(())
}

/// The directory's permission bits if the group or others have any (Unix only).
fn open_to_others(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
        (mode & 0o077 != 0).then_some(mode)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_data_dir_is_created_with_its_parents_private_to_the_user() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("a/b/herald-data");
        prepare(&path).unwrap();
        assert!(path.is_dir());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700);
        }
        // An existing directory is fine.
        prepare(&path).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_data_dir_open_to_others_is_noticed() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("herald-data");
        prepare(&path).unwrap();
        assert_eq!(open_to_others(&path), None);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(open_to_others(&path), Some(0o755));
        prepare(&path).unwrap();
    }
}
