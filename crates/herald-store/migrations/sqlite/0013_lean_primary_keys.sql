-- `deliveries` and `attempts` become WITHOUT ROWID tables: the primary key (the id) *is* the
-- table's B-tree. As rowid tables each carried a second B-tree only for its TEXT key
-- (`sqlite_autoindex_…_1`), written with every row and dirtying about four more pages per
-- group commit, and every lookup by id searched it and then the table. Their rows are small
-- (a delivery is ~200 bytes, an attempt's body and headers are bounded), which is what
-- WITHOUT ROWID is for. `events` stays a rowid table: its payloads (often a KiB or more)
-- would overflow the smaller cells of a WITHOUT ROWID page.
--
-- Same columns in the same order, same constraints, same secondary indexes (names and
-- definitions as migrations 0001–0004 left them); only the storage changes.
--
-- How the rebuild stays safe. sqlx runs this file in one transaction with the connection's
-- `foreign_keys = ON` (its SQLite migrator ignores `-- no-transaction`, and the pragma cannot
-- change inside a transaction), so SQLite's 12-step rebuild with foreign keys off is not
-- available, and `DROP TABLE deliveries` would cascade-delete every attempt of any table whose
-- foreign key names `deliveries`. So the new tables are built beside the old ones and
-- `attempts_new` references `deliveries_new`; when the old tables are dropped (attempts first)
-- no foreign key names them any more, so nothing cascades; renaming `deliveries_new` to
-- `deliveries` rewrites the reference in `attempts_new` (SQLite ≥ 3.26 renames references in
-- other tables). Copying into the new tables checks every foreign key as it goes, so a row
-- whose parent is missing fails the migration instead of being carried over or lost.
--
-- Running it again: the whole file and sqlx's record of it commit together, so a process that
-- dies part way leaves the database exactly as it was at 0012 and the next start runs this
-- again from the beginning; the `DROP TABLE IF EXISTS` lines are for a copy left over by hand.
-- No trigger or view refers to either table, and neither has AUTOINCREMENT (no
-- `sqlite_sequence` row); `notice_failures.delivery_id` has no foreign key.

DROP TABLE IF EXISTS attempts_new;
DROP TABLE IF EXISTS deliveries_new;

CREATE TABLE deliveries_new (
    id                 TEXT    NOT NULL PRIMARY KEY,
    event_id           TEXT    NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    subscription_id    TEXT    NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    tenant_id          TEXT    NOT NULL,
    event_type         TEXT    NOT NULL,
    status             TEXT    NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts           INTEGER NOT NULL,
    scheduled_attempts INTEGER NOT NULL,
    next_attempt_at    INTEGER,
    lease_until        INTEGER,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- `response_headers` came with 0011 and stays last, so the column order is unchanged.
CREATE TABLE attempts_new (
    id               TEXT    NOT NULL PRIMARY KEY,
    delivery_id      TEXT    NOT NULL REFERENCES deliveries_new (id) ON DELETE CASCADE,
    started_at       INTEGER NOT NULL,
    duration_ms      INTEGER NOT NULL,
    response_status  INTEGER,
    response_body    TEXT,
    error            TEXT,
    error_message    TEXT,
    triggered_by     TEXT    NOT NULL,
    response_headers TEXT
) STRICT, WITHOUT ROWID;

-- In key order, so each B-tree is filled by appending.
INSERT INTO deliveries_new (
    id, event_id, subscription_id, tenant_id, event_type, status, attempts,
    scheduled_attempts, next_attempt_at, lease_until, created_at, updated_at)
SELECT id, event_id, subscription_id, tenant_id, event_type, status, attempts,
    scheduled_attempts, next_attempt_at, lease_until, created_at, updated_at
FROM deliveries ORDER BY id;

INSERT INTO attempts_new (
    id, delivery_id, started_at, duration_ms, response_status, response_body, error,
    error_message, triggered_by, response_headers)
SELECT id, delivery_id, started_at, duration_ms, response_status, response_body, error,
    error_message, triggered_by, response_headers
FROM attempts ORDER BY id;

-- Children first: once `attempts` is gone, no foreign key names `deliveries`.
DROP TABLE attempts;
DROP TABLE deliveries;

ALTER TABLE deliveries_new RENAME TO deliveries;
ALTER TABLE attempts_new RENAME TO attempts;

CREATE INDEX deliveries_subscription ON deliveries (subscription_id, id);
CREATE INDEX deliveries_event ON deliveries (event_id);
CREATE INDEX deliveries_tenant ON deliveries (tenant_id, id);
CREATE INDEX deliveries_fresh ON deliveries (subscription_id, next_attempt_at, id)
    WHERE status = 'pending' AND attempts = 0;
CREATE INDEX deliveries_retry ON deliveries (subscription_id, next_attempt_at, id)
    WHERE status = 'pending' AND attempts > 0;
CREATE INDEX deliveries_leased_subscription ON deliveries (subscription_id, lease_until)
    WHERE lease_until IS NOT NULL;
CREATE INDEX deliveries_pending ON deliveries (next_attempt_at, created_at)
    WHERE status = 'pending';
CREATE INDEX attempts_delivery ON attempts (delivery_id, id);
