//! The data directory: where the SQLite file and the generated admin token live.
//!
//! Created at start if missing, private to the server's user (0700 on Unix) because both its
//! files are secrets or hold them; an existing directory's mode is left as the operator set it.

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
    })
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
}
