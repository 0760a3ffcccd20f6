-- Where relay listeners are connected: one row per subscription and node (a process) that
-- holds a relay WebSocket for it, kept alive by a heartbeat. `expires_at` (unix µs) is the
-- end of the last heartbeat; a node that stops records `expires_at = now`, so the row also
-- says when a listener was last seen (what the `relay_hold` bound counts from).
CREATE TABLE relay_presence (
    subscription_id TEXT    NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    node_id         TEXT    NOT NULL,
    expires_at      INTEGER NOT NULL,
    PRIMARY KEY (subscription_id, node_id)
) STRICT, WITHOUT ROWID;
