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
