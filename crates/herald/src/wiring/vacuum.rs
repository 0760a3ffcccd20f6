//! `herald admin vacuum` (SQLite): rewrites the stopped server's database into a compact file
//! and switches a file made before retention existed to incremental auto-vacuum, so that from
//! then on retention's deletions shrink it. Once per older database; new files need none.

use anyhow::{Context, bail};
use herald_server::{Config, ServeArgs};
use herald_store::sqlite::SqliteStore;

use super::lock;

/// The database file's size before and after, in bytes.
pub async fn vacuum(args: &ServeArgs) -> anyhow::Result<(u64, u64)> {
    let config = Config::load(args)?;
    if config.database_url.is_some() {
        bail!("vacuum is for SQLite; on PostgreSQL autovacuum reclaims the space by itself");
    }
    let path = config.data_dir.join("herald.db");
    if !path.exists() {
        bail!(
            "there is no database at {}; pass the --data-dir (or --config) that herald serve uses",
            path.display()
        );
    }
    let _lock = lock::acquire(&config.data_dir).context("stop herald serve first")?;
    let size = |path: &std::path::Path| std::fs::metadata(path).map_or(0, |m| m.len());
    let before = size(&path);
    let compacted = path.clone();
    tokio::task::spawn_blocking(move || SqliteStore::vacuum(&compacted))
        .await?
        .with_context(|| format!("cannot compact {}", path.display()))?;
    Ok((before, size(&path)))
}
