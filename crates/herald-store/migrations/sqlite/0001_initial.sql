-- Herald's schema on SQLite.
--
-- Times are INTEGER unix microseconds (UTC): they are compared (due times, leases, expiries)
-- and integers compare exactly and index well. Ids are the prefixed UUIDv7 text the API shows;
-- they sort by creation, so `ORDER BY id DESC` is "newest first" and an id is a cursor.
-- Tables are STRICT so a wrongly typed bind fails loudly instead of being stored as-is.

CREATE TABLE tenants (
    id                 TEXT    NOT NULL PRIMARY KEY,
    name               TEXT    NOT NULL,
    client_id          TEXT    NOT NULL UNIQUE,
    client_secret_hash TEXT    NOT NULL,
    created_at         INTEGER NOT NULL
) STRICT;

CREATE TABLE access_tokens (
    token_hash TEXT    NOT NULL PRIMARY KEY,
    tenant_id  TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX access_tokens_tenant ON access_tokens (tenant_id);

CREATE TABLE event_types (
    name        TEXT    NOT NULL PRIMARY KEY,
    description TEXT,
    schema_json TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE subscriptions (
    id                    TEXT    NOT NULL PRIMARY KEY,
    tenant_id             TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    url                   TEXT    NOT NULL,
    -- The patterns as given, in order; `subscription_event_types` holds them for matching.
    event_types_json      TEXT    NOT NULL,
    status                TEXT    NOT NULL CHECK (status IN ('active', 'paused')),
    description           TEXT,
    headers_json          TEXT    NOT NULL,
    rate_limit_per_second INTEGER,
    max_in_flight         INTEGER NOT NULL,
    contact_email         TEXT,
    secrets_json          TEXT    NOT NULL,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL
) STRICT;
CREATE INDEX subscriptions_tenant ON subscriptions (tenant_id, id);

-- One row per pattern so that `publish` matches in SQL: an exact name (is_prefix = 0), or the
-- text before a trailing `*` (is_prefix = 1), compared with substr() because LIKE would treat
-- `_` and `%` in event type names as wildcards.
CREATE TABLE subscription_event_types (
    subscription_id TEXT    NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    pattern         TEXT    NOT NULL,
    is_prefix       INTEGER NOT NULL,
    PRIMARY KEY (subscription_id, is_prefix, pattern)
) STRICT, WITHOUT ROWID;
CREATE INDEX subscription_event_types_match ON subscription_event_types (is_prefix, pattern);

-- No foreign key on tenant_id: a broadcast has none, and deleting a tenant deletes its events
-- explicitly.
CREATE TABLE events (
    id              TEXT    NOT NULL PRIMARY KEY,
    event_type      TEXT    NOT NULL,
    payload_json    TEXT    NOT NULL,
    tenant_id       TEXT,
    idempotency_key TEXT,
    created_at      INTEGER NOT NULL
) STRICT;
-- coalesce() puts broadcasts in a scope of their own: NULLs never clash in a unique index.
CREATE UNIQUE INDEX events_idempotency ON events (coalesce(tenant_id, ''), idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX events_tenant ON events (tenant_id, id);
CREATE INDEX events_type ON events (event_type, id);

CREATE TABLE deliveries (
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
) STRICT;
CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at);
CREATE INDEX deliveries_leased ON deliveries (lease_until) WHERE lease_until IS NOT NULL;
CREATE INDEX deliveries_subscription ON deliveries (subscription_id, id);
CREATE INDEX deliveries_event ON deliveries (event_id);
CREATE INDEX deliveries_tenant ON deliveries (tenant_id, id);

CREATE TABLE attempts (
    id              TEXT    NOT NULL PRIMARY KEY,
    delivery_id     TEXT    NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    started_at      INTEGER NOT NULL,
    duration_ms     INTEGER NOT NULL,
    response_status INTEGER,
    response_body   TEXT,
    error           TEXT,
    error_message   TEXT,
    triggered_by    TEXT    NOT NULL
) STRICT;
CREATE INDEX attempts_delivery ON attempts (delivery_id, id);
