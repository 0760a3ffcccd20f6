-- Herald's schema on PostgreSQL: the same tables, columns and meanings as on SQLite
-- (migrations/sqlite), so that one conformance suite judges both and one set of row builders
-- reads both.
--
-- Times are BIGINT unix microseconds (UTC), as on SQLite: compared exactly, indexed well, and
-- at the precision `timestamptz` would keep anyway. Ids are the prefixed UUIDv7 text the API
-- shows; they sort by creation, so `ORDER BY id DESC` is "newest first" and an id is a cursor.
-- Every text column is COLLATE "C": ids, names and cursors compare byte by byte, as on SQLite,
-- whatever the database's default collation (a locale's would reorder `_` and `.`).
-- JSON is kept as text, not jsonb: an event's payload must come back byte for byte.

CREATE TABLE tenants (
    id                 TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    name               TEXT COLLATE "C" NOT NULL,
    client_id          TEXT COLLATE "C" NOT NULL UNIQUE,
    client_secret_hash TEXT COLLATE "C" NOT NULL,
    created_at         BIGINT NOT NULL
);

CREATE TABLE access_tokens (
    token_hash TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    tenant_id  TEXT COLLATE "C" NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL
);
CREATE INDEX access_tokens_tenant ON access_tokens (tenant_id);

CREATE TABLE event_types (
    name        TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    description TEXT COLLATE "C",
    schema_json TEXT COLLATE "C",
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE subscriptions (
    id                    TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    tenant_id             TEXT COLLATE "C" NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    url                   TEXT COLLATE "C" NOT NULL,
    -- The patterns as given, in order; `subscription_event_types` holds them for matching.
    event_types_json      TEXT COLLATE "C" NOT NULL,
    status                TEXT COLLATE "C" NOT NULL CHECK (status IN ('active', 'paused')),
    description           TEXT COLLATE "C",
    headers_json          TEXT COLLATE "C" NOT NULL,
    rate_limit_per_second BIGINT,
    max_in_flight         BIGINT NOT NULL,
    contact_email         TEXT COLLATE "C",
    secrets_json          TEXT COLLATE "C" NOT NULL,
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL,
    -- The next free send slot (unix µs) under rate_limit_per_second, shared by every node:
    -- claim_due hands out slots from here, 1/r s apart, and moves it on. 0 means "free now".
    rate_next_slot_us     BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX subscriptions_tenant ON subscriptions (tenant_id, id);

-- One row per pattern so that `publish` matches in SQL: an exact name (is_prefix = 0), or the
-- text before a trailing `*` (is_prefix = 1), compared with starts_with() because LIKE would
-- treat `_` and `%` in event type names as wildcards.
CREATE TABLE subscription_event_types (
    subscription_id TEXT COLLATE "C" NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    pattern         TEXT COLLATE "C" NOT NULL,
    is_prefix       BIGINT NOT NULL,
    PRIMARY KEY (subscription_id, is_prefix, pattern)
);
CREATE INDEX subscription_event_types_match ON subscription_event_types (is_prefix, pattern);

-- No foreign key on tenant_id: a broadcast has none, and deleting a tenant deletes its events
-- explicitly.
CREATE TABLE events (
    id              TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    event_type      TEXT COLLATE "C" NOT NULL,
    payload_json    TEXT COLLATE "C" NOT NULL,
    tenant_id       TEXT COLLATE "C",
    idempotency_key TEXT COLLATE "C",
    created_at      BIGINT NOT NULL
);
-- coalesce() puts broadcasts in a scope of their own: NULLs never clash in a unique index.
-- `publish` names this index's expression in ON CONFLICT, so concurrent publishes with one
-- key wait for each other and the second reads the first instead of failing.
CREATE UNIQUE INDEX events_idempotency ON events ((coalesce(tenant_id, '')), idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX events_tenant ON events (tenant_id, id);
CREATE INDEX events_type ON events (event_type, id);

CREATE TABLE deliveries (
    id                 TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    event_id           TEXT COLLATE "C" NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    subscription_id    TEXT COLLATE "C" NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    tenant_id          TEXT COLLATE "C" NOT NULL,
    event_type         TEXT COLLATE "C" NOT NULL,
    status             TEXT COLLATE "C" NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts           BIGINT NOT NULL,
    scheduled_attempts BIGINT NOT NULL,
    next_attempt_at    BIGINT,
    lease_until        BIGINT,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);
CREATE INDEX deliveries_subscription ON deliveries (subscription_id, id);
CREATE INDEX deliveries_event ON deliveries (event_id);
CREATE INDEX deliveries_tenant ON deliveries (tenant_id, id);
-- claim_due, per subscription: its due fresh deliveries and its due retries, each in due
-- order, so a claim costs the work it returns, not the size of the backlog. Partial, so
-- finished rows (the bulk of the table over time) are not in them at all.
CREATE INDEX deliveries_fresh ON deliveries (subscription_id, next_attempt_at, id)
    WHERE status = 'pending' AND attempts = 0;
CREATE INDEX deliveries_retry ON deliveries (subscription_id, next_attempt_at, id)
    WHERE status = 'pending' AND attempts > 0;
-- claim_due counts each subscription's in-flight work (unexpired leases); next_due_at finds
-- when leased work comes back. Leased rows are few: the ones being attempted.
CREATE INDEX deliveries_leased ON deliveries (subscription_id, lease_until)
    WHERE lease_until IS NOT NULL;
-- next_due_at's earliest unleased due time, and queue_stats' count and oldest pending.
CREATE INDEX deliveries_pending_due ON deliveries (next_attempt_at)
    WHERE status = 'pending' AND lease_until IS NULL;
CREATE INDEX deliveries_pending_created ON deliveries (created_at) WHERE status = 'pending';

CREATE TABLE attempts (
    id              TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    delivery_id     TEXT COLLATE "C" NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    started_at      BIGINT NOT NULL,
    duration_ms     BIGINT NOT NULL,
    response_status BIGINT,
    response_body   TEXT COLLATE "C",
    error           TEXT COLLATE "C",
    error_message   TEXT COLLATE "C",
    triggered_by    TEXT COLLATE "C" NOT NULL
);
CREATE INDEX attempts_delivery ON attempts (delivery_id, id);
