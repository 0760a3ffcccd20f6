//! Waiting for an asynchronous outcome: poll a condition until it holds or a deadline passes.
//! A test never sleeps to let something happen; it names what it waits for and how long that
//! may take at most, and fails with that name when the deadline passes.
//!
//! Polling (every 10 ms) rather than a notification: the conditions are outside the test's
//! reach (a row in a database, a file, a request at a receiver), and a short poll is what
//! lets one helper serve them all. When the outcome *is* a future the test holds (a step, a
//! drain), [`await_within`] puts the same named deadline on it instead.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

/// How often a condition is checked again.
const POLL: Duration = Duration::from_millis(10);

/// Waits until `check` returns `Some` and returns its value.
///
/// # Panics
/// When `within` passes first: "timed out after {within} waiting for {what}".
pub async fn wait_for<T, F, Fut>(what: &str, within: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// Waits until `condition` holds: [`wait_for`] for a plain check that needs no `.await`.
///
/// # Panics
/// When `within` passes first, naming `what`.
pub async fn wait_until(what: &str, within: Duration, mut condition: impl FnMut() -> bool) {
    wait_for(what, within, || {
        std::future::ready(condition().then_some(()))
    })
    .await;
}

/// Awaits `future` and returns its output: the deadline for an outcome the test can await
/// directly, where [`wait_for`] would poll for it.
///
/// # Panics
/// When `within` passes first: "timed out after {within} waiting for {what}".
pub async fn await_within<T>(what: &str, within: Duration, future: impl Future<Output = T>) -> T {
    match tokio::time::timeout(within, future).await {
        Ok(value) => value,
        Err(_) => panic!("timed out after {within:?} waiting for {what}"),
    }
}

/// A port on 127.0.0.1 where nothing listens right now: bound, then released (the kernel does
/// not hand it out again at once). For "connection refused" cases and for child processes
/// that must be told their port in advance.
///
/// # Errors
/// When no port can be bound at all.
pub fn unused_port() -> Result<u16, crate::Error> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(crate::Error::Bind)?;
    Ok(listener.local_addr().map_err(crate::Error::Bind)?.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn wait_for_returns_the_first_value_the_check_gives() {
        let mut calls = 0;
        let value = wait_for("the third call", Duration::from_secs(5), || {
            calls += 1;
            std::future::ready((calls == 3).then_some(calls))
        })
        .await;
        assert_eq!(value, 3);
    }

    #[tokio::test]
    #[should_panic(expected = "waiting for something that never happens")]
    async fn wait_for_fails_naming_what_it_waited_for() {
        wait_until(
            "something that never happens",
            Duration::from_millis(30),
            || false,
        )
        .await;
    }

    #[tokio::test]
    #[should_panic(expected = "waiting for a future that never finishes")]
    async fn await_within_fails_naming_what_it_waited_for() {
        await_within(
            "a future that never finishes",
            Duration::from_millis(30),
            std::future::pending::<()>(),
        )
        .await;
    }
}
