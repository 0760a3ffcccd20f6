//! The test PostgreSQL server itself, for tests that stop and start it (a restart under load).
//! `.ci/postgres.sh` exports where `pg_ctl` and the data directory are; the same CI rule as
//! for the URL applies: skipped without them, required under CI.
//!
//! As root the cluster belongs to another user (PostgreSQL refuses to run as root), so every
//! `pg_ctl` call runs as that user through `runuser`.

use std::process::Stdio;

use crate::Error;

/// The server started by `.ci/postgres.sh`, from `HERALD_TEST_PG_CTL`, `HERALD_TEST_PG_DATA`
/// and `HERALD_TEST_PG_USER` (the OS user owning the cluster; empty or unset: the current one).
#[derive(Clone, Debug)]
pub struct PostgresServer {
    pg_ctl: String,
    data: String,
    user: Option<String>,
}

impl PostgresServer {
    /// The server from the environment, or `None` after printing that the test is skipped.
    ///
    /// # Panics
    /// Under CI ([`crate::in_ci`]) when the variables are not set.
    pub fn from_env() -> Option<PostgresServer> {
        let var = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
        match (var("HERALD_TEST_PG_CTL"), var("HERALD_TEST_PG_DATA")) {
            (Some(pg_ctl), Some(data)) => Some(PostgresServer {
                pg_ctl,
                data,
                user: var("HERALD_TEST_PG_USER"),
            }),
            _ => {
                assert!(
                    !crate::in_ci(),
                    "HERALD_TEST_PG_CTL and HERALD_TEST_PG_DATA must be set under CI \
                     (source .ci/postgres.sh)"
                );
                println!("skipped: HERALD_TEST_PG_CTL and HERALD_TEST_PG_DATA are not set");
                None
            }
        }
    }

    /// Stops the server (`-m fast`: sessions end, committed work is kept) and waits until it
    /// is down.
    ///
    /// # Errors
    /// When `pg_ctl` cannot run or fails.
    pub async fn stop(&self) -> Result<(), Error> {
        self.pg_ctl(&["-m", "fast", "-w", "stop"]).await
    }

    /// Starts it again with the settings in its data directory (the same port) and waits until
    /// it accepts connections.
    ///
    /// # Errors
    /// When `pg_ctl` cannot run or fails.
    pub async fn start(&self) -> Result<(), Error> {
        let log = format!("{}/restarted.log", self.data);
        self.pg_ctl(&["-l", &log, "-w", "-t", "60", "start"]).await
    }

    async fn pg_ctl(&self, args: &[&str]) -> Result<(), Error> {
        let mut command = match &self.user {
            Some(user) => {
                let mut command = tokio::process::Command::new("runuser");
                command.args(["-u", user, "--", &self.pg_ctl]);
                command
            }
            None => tokio::process::Command::new(&self.pg_ctl),
        };
        // A working directory the owner can read (pg_ctl warns otherwise).
        command
            .args(["-D", &self.data])
            .args(args)
            .current_dir(&self.data)
            .stdout(Stdio::null());
        let status = command.status().await.map_err(Error::PgCtl)?;
        if status.success() {
            Ok(())
        } else {
            Err(Error::PgCtl(std::io::Error::other(format!(
                "{args:?} failed: {status}"
            ))))
        }
    }
}
