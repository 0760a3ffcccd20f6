-- Hub sessions: who signed in to the web dashboard, by the SHA-256 hex of the random session
-- id the browser holds in its cookie (so a database leak gives no usable session). A NULL
-- tenant is the operator; a tenant's sessions go with the tenant.
CREATE TABLE hub_sessions (
    session_hash TEXT    NOT NULL PRIMARY KEY,
    tenant_id    TEXT    REFERENCES tenants (id) ON DELETE CASCADE,
    expires_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX hub_sessions_expiry ON hub_sessions (expires_at);
CREATE INDEX hub_sessions_tenant ON hub_sessions (tenant_id);

-- Recoveries: "requeue every failed delivery of this subscription since a time", done in the
-- background in batches; the progress is kept here so that a reload (or another node) shows
-- it. They go with their subscription.
CREATE TABLE recoveries (
    id              TEXT    NOT NULL PRIMARY KEY,
    subscription_id TEXT    NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    tenant_id       TEXT    NOT NULL,
    since           INTEGER NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('running', 'done')),
    total           INTEGER NOT NULL,
    requeued        INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX recoveries_subscription ON recoveries (subscription_id, id);

-- Support requests a subscriber files from the Hub: its message, the diagnostics Herald
-- attached (JSON), and the operator's answer. A request outlives its subscription (the
-- diagnostics say what it was) but goes with its tenant.
CREATE TABLE support_requests (
    id               TEXT    NOT NULL PRIMARY KEY,
    tenant_id        TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    subscription_id  TEXT,
    status           TEXT    NOT NULL CHECK (status IN ('open', 'answered', 'closed')),
    message          TEXT    NOT NULL,
    diagnostics_json TEXT    NOT NULL,
    answer           TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
) STRICT;
CREATE INDEX support_requests_tenant ON support_requests (tenant_id, id);
