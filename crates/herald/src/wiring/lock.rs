//! One `herald serve` per data directory: an OS file lock on `lock` in the data dir, held for
//! the life of the process.
//!
//! Two servers on one SQLite file would each release the other's leases at start and send
//! every delivery twice; two on one admin-token file race its creation. So the second refuses
//! to start and names the first by its pid (written into the lock file by the holder). The
//! lock is the operating system's (`File::try_lock`), not the file's existence: it ends with
//! the process however it ends, so a crash never leaves a stale lock to clean by hand. It is
//! taken on PostgreSQL nodes too, because their data dir still holds their admin token.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::Path;

use anyhow::{Context, bail};

/// The lock file's name inside the data dir.
const LOCK_FILE: &str = "lock";

/// The held lock: dropping it (or the process ending) releases it.
#[derive(Debug)]
pub struct DataDirLock {
    /// Kept open for the lock's sake only: the OS releases the lock when it is closed.
    _file: File,
}

/// Locks `data_dir` for this process, or says which process holds it.
pub fn acquire(data_dir: &Path) -> anyhow::Result<DataDirLock> {
    let path = data_dir.join(LOCK_FILE);
    let io = || {
        format!(
            "cannot lock {}; check the data directory's permissions",
            path.display()
        )
    };
    // Not truncated at open: the holder's pid must stay readable to a refused second server.
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(io)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => bail!(
            "another herald serve ({}) is using {}; stop it, or give this one another data \
             directory with --data-dir",
            holder(&mut file),
            data_dir.display()
        ),
        // A file system without locks (some network mounts) should not stop a server that
        // ran there before: say what is no longer guarded, and go on.
        Err(TryLockError::Error(source)) if source.kind() == std::io::ErrorKind::Unsupported => {
            tracing::warn!(
                path = %path.display(),
                "this file system cannot lock files; make sure no other herald serve uses \
                 this data directory"
            );
        }
        Err(TryLockError::Error(source)) => return Err(source).with_context(io),
    }
    write_pid(&mut file).with_context(io)?;
    Ok(DataDirLock { _file: file })
}

/// `pid N` as the holder wrote it.
fn holder(file: &mut File) -> String {
    let mut text = String::new();
    match file.read_to_string(&mut text) {
        Ok(_) => match text.trim().parse::<u32>() {
            Ok(pid) => format!("pid {pid}"),
            Err(_) => "pid unknown".to_owned(),
        },
        Err(_) => "pid unknown".to_owned(),
    }
}

fn write_pid(file: &mut File) -> std::io::Result<()> {
    file.set_len(0)?;
    file.rewind()?;
    writeln!(file, "{}", std::process::id())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_data_dir_is_refused_naming_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let held = acquire(dir.path()).unwrap();
        let refused = acquire(dir.path()).unwrap_err();
        let message = refused.to_string();
        assert!(
            message.contains(&format!("pid {}", std::process::id())),
            "{message}"
        );
        assert!(message.contains("--data-dir"), "{message}");
        drop(held);
        // Released with its holder: the next start takes it.
        acquire(dir.path()).unwrap();
    }
}
