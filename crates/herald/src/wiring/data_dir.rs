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
