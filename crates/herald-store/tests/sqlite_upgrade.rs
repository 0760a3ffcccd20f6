//! Upgrading a SQLite database from before migration 0013, which rebuilds `deliveries` and
//! `attempts` as WITHOUT ROWID tables: nothing is lost or changed, leases and cascades still
//! hold, and lookups by id search the primary key itself.
//!
//! The old database is made as an operator's was: sqlx applies the migrations up to 0012,
//! then it is filled with rows the store wrote. The store cannot write to a 0012 file (opening
//! one upgrades it), so it writes to a current file and the rows are copied across table by
//! table, which the unchanged column order allows.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use herald_store::conformance::{self, at, attempt, claim, finished, new_subscription, new_tenant};
use herald_store::sqlite::SqliteStore;
use herald_store::{
    Attempt, AttemptTrigger, Catalog, Delivery, DeliveryFilter, DeliveryId, DeliveryProgress,
    DeliveryQueue, DeliveryStatus, DeliverySummary, Event, PageRequest, StoreError, Subscription,
    Tenant,
};
use sqlx::ConnectOptions;
use sqlx::sqlite::{SqliteAutoVacuum, SqliteConnectOptions, SqliteJournalMode};

/// The last migration before the rebuild.
const BEFORE_REBUILD: i64 = 12;

/// What the store wrote, by the ids the test reads back.
struct Written {
    tenant: Tenant,
    /// Its deliveries are succeeded, failed (two attempts), waiting to retry and leased.
    first: Subscription,
    /// One succeeded delivery, the rest leased.
    second: Subscription,
    events: Vec<Event>,
    /// Deliveries leased until `at(70)` when the file was copied.
    leased: BTreeSet<DeliveryId>,
    /// Deliveries never claimed, due at `at(30)`.
    unclaimed: BTreeSet<DeliveryId>,
}

/// Everything the store's API shows of the written rows.
#[derive(Debug, PartialEq)]
struct Snapshot {
    tenant: Option<Tenant>,
    subscriptions: Vec<Option<Subscription>>,
    events: Vec<Option<Event>>,
    deliveries: Vec<DeliverySummary>,
    each_delivery: Vec<Option<Delivery>>,
    attempts: Vec<Vec<Attempt>>,
}

/// A database at migration 0012 holding the rows of [`write_rows`], the API's view of them
/// before the copy, and the directory both live in.
struct OldDatabase {
    path: PathBuf,
    written: Written,
    before: Snapshot,
    _dir: tempfile::TempDir,
}

impl OldDatabase {
    async fn create() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let current = dir.path().join("current.db");
        let store = SqliteStore::open(&current, conformance::keyring())
            .await
            .unwrap();
        let written = write_rows(&store).await;
        let before = snapshot(&store, &written).await;
        store.close().await;

        let path = dir.path().join("herald.db");
        migrate_to_before_rebuild(&path, &dir.path().join("migrations")).await;
        copy_rows(&current, &path);
        Self {
            path,
            written,
            before,
            _dir: dir,
        }
    }

    /// Opens it with the current store, which applies 0013.
    async fn upgrade(&self) -> SqliteStore {
        SqliteStore::open(&self.path, conformance::keyring())
            .await
            .unwrap()
    }
}

/// Applies the migrations up to [`BEFORE_REBUILD`] to a new file at `path`, with the
/// connection options the store uses, through a copy of them in `scratch`.
async fn migrate_to_before_rebuild(path: &Path, scratch: &Path) {
    let all = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    std::fs::create_dir_all(scratch).unwrap();
    for entry in std::fs::read_dir(&all).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        let version: i64 = name.split('_').next().unwrap().parse().unwrap();
        if version <= BEFORE_REBUILD {
            std::fs::copy(entry.path(), scratch.join(&name)).unwrap();
        }
    }
    let migrator = sqlx::migrate::Migrator::new(scratch).await.unwrap();
    let mut conn = SqliteConnectOptions::from_str("sqlite:")
        .unwrap()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .foreign_keys(true)
        .auto_vacuum(SqliteAutoVacuum::Incremental)
        .connect()
        .await
        .unwrap();
    migrator.run(&mut conn).await.unwrap();
    sqlx::Connection::close(conn).await.unwrap();
}

/// Copies every table's rows from the current file into the old one (foreign keys off: the
/// tables are copied in name order, not parents first).
fn copy_rows(current: &Path, old: &Path) {
    let conn = rusqlite::Connection::open(old).unwrap();
    conn.pragma_update(None, "foreign_keys", "OFF").unwrap();
    conn.execute("ATTACH DATABASE ?1 AS current", [current.to_str().unwrap()])
        .unwrap();
    let tables: Vec<String> = conn
        .prepare(
            "SELECT name FROM main.sqlite_schema WHERE type = 'table' \
             AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations' ORDER BY name",
        )
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let copies: String = tables
        .iter()
        .map(|t| format!("INSERT INTO main.\"{t}\" SELECT * FROM current.\"{t}\";"))
        .collect();
    conn.execute_batch(&format!("BEGIN; {copies} COMMIT; DETACH DATABASE current;"))
        .unwrap();
}

/// A tenant, two subscriptions to everything, four events claimed at `at(10)` (leases until
/// `at(70)`) and taken to every state, and a fifth event published after the claim.
async fn write_rows(store: &SqliteStore) -> Written {
    let tenant = new_tenant(store, "Acme").await;
    let first = new_subscription(store, &tenant.id, &["*"]).await;
    let second = new_subscription(store, &tenant.id, &["*"]).await;
    let mut events = Vec::new();
    for n in 0..4 {
        let event = Event {
            payload_json: format!(r#"{{"n":{n}}}"#),
            idempotency_key: Some(format!("key-{n}")),
            ..conformance::event("order.created", Some(&tenant.id), 0)
        };
        store.publish(&event).await.unwrap();
        events.push(event);
    }
    let jobs = store.claim_due(&claim(10)).await.unwrap();
    assert_eq!(jobs.len(), 8, "every delivery is claimed");
    let of = |sub: &Subscription, n: usize| {
        jobs.iter()
            .find(|j| j.delivery.subscription_id == sub.id && j.event.id == events[n].id)
            .map(|j| j.delivery.id.clone())
            .unwrap()
    };

    let succeeded = attempt(&of(&first, 0), 11, Some(200), AttemptTrigger::Scheduled);
    let failing = attempt(&of(&first, 1), 11, Some(503), AttemptTrigger::Scheduled);
    let retried = attempt(&of(&first, 2), 11, Some(500), AttemptTrigger::Scheduled);
    let by_hand = attempt(&of(&second, 0), 12, Some(204), AttemptTrigger::Redelivery);
    store
        .complete_attempt(&succeeded, &finished(DeliveryStatus::Succeeded))
        .await
        .unwrap();
    store
        .complete_attempt(&failing, &retry_at(20))
        .await
        .unwrap();
    store
        .complete_attempt(&retried, &retry_at(1000))
        .await
        .unwrap();
    store
        .complete_attempt(&by_hand, &finished(DeliveryStatus::Succeeded))
        .await
        .unwrap();
    // The failing delivery's second attempt times out (no response, no headers) and ends it.
    store
        .lease_delivery(&of(&first, 1), at(20), at(50))
        .await
        .unwrap()
        .unwrap();
    let timed_out = attempt(&of(&first, 1), 20, None, AttemptTrigger::Scheduled);
    store
        .complete_attempt(&timed_out, &finished(DeliveryStatus::Failed))
        .await
        .unwrap();

    let leased = [
        of(&first, 3),
        of(&second, 1),
        of(&second, 2),
        of(&second, 3),
    ]
    .into();
    let late = conformance::event("order.created", Some(&tenant.id), 30);
    store.publish(&late).await.unwrap();
    let unclaimed = deliveries(store, &DeliveryFilter::default())
        .await
        .into_iter()
        .filter(|s| s.delivery.event_id == late.id)
        .map(|s| s.delivery.id)
        .collect();
    events.push(late);
    Written {
        tenant,
        first,
        second,
        events,
        leased,
        unclaimed,
    }
}

/// A scheduled attempt failed; the next is due at `at(seconds)`.
fn retry_at(seconds: i64) -> DeliveryProgress {
    DeliveryProgress {
        status: DeliveryStatus::Pending,
        next_attempt_at: Some(at(seconds)),
        counts_for_schedule: true,
    }
}

async fn deliveries(store: &SqliteStore, filter: &DeliveryFilter) -> Vec<DeliverySummary> {
    let page = PageRequest {
        cursor: None,
        limit: 1000,
    };
    store.list_deliveries(filter, &page).await.unwrap().items
}

async fn snapshot(store: &SqliteStore, written: &Written) -> Snapshot {
    let deliveries = deliveries(store, &DeliveryFilter::default()).await;
    let mut each_delivery = Vec::new();
    let mut attempts = Vec::new();
    for summary in &deliveries {
        each_delivery.push(store.get_delivery(&summary.delivery.id).await.unwrap());
        attempts.push(store.list_attempts(&summary.delivery.id).await.unwrap());
    }
    let mut events = Vec::new();
    for event in &written.events {
        events.push(store.get_event(&event.id).await.unwrap());
    }
    Snapshot {
        tenant: store.get_tenant(&written.tenant.id).await.unwrap(),
        subscriptions: vec![
            store.get_subscription(&written.first.id).await.unwrap(),
            store.get_subscription(&written.second.id).await.unwrap(),
        ],
        events,
        deliveries,
        each_delivery,
        attempts,
    }
}

fn claimed_ids(jobs: Vec<herald_store::DeliveryJob>) -> BTreeSet<DeliveryId> {
    jobs.into_iter().map(|job| job.delivery.id).collect()
}

/// One column of every row a statement answers.
fn strings(conn: &rusqlite::Connection, sql: &str, column: usize) -> Vec<String> {
    let mut statement = conn.prepare(sql).unwrap();
    statement
        .query_map([], |row| row.get(column))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// The secondary indexes of `deliveries` and `attempts`, by name, with their definitions.
fn secondary_indexes(conn: &rusqlite::Connection) -> Vec<String> {
    strings(
        conn,
        "SELECT name || ': ' || sql FROM sqlite_schema WHERE type = 'index' \
         AND tbl_name IN ('deliveries', 'attempts') AND sql IS NOT NULL ORDER BY name",
        0,
    )
}

#[tokio::test]
async fn an_upgraded_database_reads_back_every_row_as_before() {
    let old = OldDatabase::create().await;
    let store = old.upgrade().await;
    let after = snapshot(&store, &old.written).await;
    assert_eq!(after.deliveries.len(), 10);
    assert_eq!(after.attempts.iter().map(Vec::len).sum::<usize>(), 5);
    assert!(
        after
            .attempts
            .iter()
            .flatten()
            .any(|a| a.response_headers.is_some()),
        "attempts with response headers are part of what is compared"
    );
    assert_eq!(after, old.before);
    store.close().await;
}

#[tokio::test]
async fn leases_taken_before_the_upgrade_still_hold_after_it() {
    let old = OldDatabase::create().await;
    let store = old.upgrade().await;
    let before_the_leases_end = store.claim_due(&claim(40)).await.unwrap();
    assert_eq!(claimed_ids(before_the_leases_end), old.written.unclaimed);
    let after_the_leases_end = store.claim_due(&claim(80)).await.unwrap();
    assert_eq!(claimed_ids(after_the_leases_end), old.written.leased);
    store.close().await;
}

#[tokio::test]
async fn the_upgrade_makes_deliveries_and_attempts_without_rowid_with_the_same_indexes() {
    let old = OldDatabase::create().await;
    let indexes_before = secondary_indexes(&rusqlite::Connection::open(&old.path).unwrap());
    old.upgrade().await.close().await;

    let conn = rusqlite::Connection::open(&old.path).unwrap();
    let without_rowid = strings(
        &conn,
        "SELECT name FROM pragma_table_list WHERE schema = 'main' AND wr = 1 \
         AND name IN ('deliveries', 'attempts', 'events') ORDER BY name",
        0,
    );
    assert_eq!(
        without_rowid,
        ["attempts", "deliveries"],
        "events keeps its rowid"
    );
    assert_eq!(
        indexes_before.len(),
        8,
        "the seven indexes of deliveries and attempts_delivery: {indexes_before:?}"
    );
    assert_eq!(secondary_indexes(&conn), indexes_before);
    let leftovers = strings(
        &conn,
        "SELECT name FROM sqlite_schema WHERE name LIKE '%\\_new' ESCAPE '\\' \
         OR name LIKE 'sqlite_autoindex_deliveries%' OR name LIKE 'sqlite_autoindex_attempts%'",
        0,
    );
    assert_eq!(leftovers, Vec::<String>::new());
    let violations = strings(&conn, "PRAGMA foreign_key_check", 0);
    assert_eq!(violations, Vec::<String>::new());
}

#[tokio::test]
async fn deleting_a_subscription_after_the_upgrade_cascades_to_its_deliveries_and_attempts() {
    let old = OldDatabase::create().await;
    let store = old.upgrade().await;
    let of_first = DeliveryFilter {
        subscription_id: Some(old.written.first.id.clone()),
        ..Default::default()
    };
    let first_deliveries = deliveries(&store, &of_first).await;
    assert_eq!(first_deliveries.len(), 5);

    assert!(
        store
            .delete_subscription(&old.written.first.id)
            .await
            .unwrap()
    );
    assert_eq!(deliveries(&store, &of_first).await, Vec::new());
    for summary in &first_deliveries {
        let id = &summary.delivery.id;
        assert_eq!(store.get_delivery(id).await.unwrap(), None);
        assert_eq!(store.list_attempts(id).await.unwrap(), Vec::new());
    }
    let left = deliveries(&store, &DeliveryFilter::default()).await;
    assert_eq!(
        left.len(),
        5,
        "the second subscription keeps its deliveries"
    );
    store.close().await;

    let conn = rusqlite::Connection::open(&old.path).unwrap();
    let attempts: i64 = conn
        .query_row("SELECT count(*) FROM attempts", [], |row| row.get(0))
        .unwrap();
    assert_eq!(
        attempts, 1,
        "only the second subscription's attempt is left"
    );
}

#[tokio::test]
async fn lookups_by_id_search_the_primary_key_itself() {
    let old = OldDatabase::create().await;
    old.upgrade().await.close().await;
    let conn = rusqlite::Connection::open(&old.path).unwrap();
    for sql in [
        "UPDATE deliveries SET attempts = attempts + 1, lease_until = NULL WHERE id = 'dlv_x'",
        "SELECT status FROM deliveries WHERE id = 'dlv_x'",
        "SELECT started_at FROM attempts WHERE id = 'att_x'",
    ] {
        let plan = strings(&conn, &format!("EXPLAIN QUERY PLAN {sql}"), 3);
        assert_eq!(plan.len(), 1, "{sql}: {plan:?}");
        assert!(
            plan[0].ends_with("USING PRIMARY KEY (id=?)"),
            "{sql}: {plan:?}"
        );
    }
}

/// The whole rebuild commits with sqlx's record of it or not at all: a row it cannot carry
/// over (an attempt of a delivery that does not exist, which only writes made with foreign
/// keys off can leave) fails the upgrade and leaves the file as it was, and the next start,
/// once the row is gone, runs it again from the beginning.
#[tokio::test]
async fn a_failed_upgrade_leaves_the_old_database_whole_and_the_next_start_completes_it() {
    let old = OldDatabase::create().await;
    let conn = rusqlite::Connection::open(&old.path).unwrap();
    conn.pragma_update(None, "foreign_keys", "OFF").unwrap();
    conn.execute(
        "INSERT INTO attempts (id, delivery_id, started_at, duration_ms, triggered_by) \
         VALUES ('att_orphan', 'dlv_missing', 0, 1, 'scheduled')",
        [],
    )
    .unwrap();
    drop(conn);

    let error = SqliteStore::open(&old.path, conformance::keyring())
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Migrate(_)), "{error:?}");
    let conn = rusqlite::Connection::open(&old.path).unwrap();
    let applied: i64 = conn
        .query_row("SELECT max(version) FROM _sqlx_migrations", [], |row| {
            row.get(0)
        })
        .unwrap();
    assert_eq!(applied, BEFORE_REBUILD);
    let rowid_tables = strings(
        &conn,
        "SELECT name FROM pragma_table_list WHERE schema = 'main' AND wr = 0 \
         AND name IN ('deliveries', 'attempts') ORDER BY name",
        0,
    );
    assert_eq!(rowid_tables, ["attempts", "deliveries"]);
    conn.execute("DELETE FROM attempts WHERE id = 'att_orphan'", [])
        .unwrap();
    drop(conn);

    let store = old.upgrade().await;
    assert_eq!(snapshot(&store, &old.written).await, old.before);
    store.close().await;
}
