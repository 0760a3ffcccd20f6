-- Failure notices (issue 14): deliveries that ended `failed`, waiting for their subscription's
-- next e-mail digest, and when each subscription's last digest was claimed. Kept in the store
-- so that a restart or a second node never sends a subscription two digests within the
-- interval: a digest is claimed by moving `last_sent_at` in the same transaction that takes
-- its failures.
CREATE TABLE notice_failures (
    delivery_id TEXT PRIMARY KEY,
    subscription_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    error TEXT NOT NULL,
    failed_at INTEGER NOT NULL
);
CREATE INDEX notice_failures_by_subscription ON notice_failures (subscription_id, failed_at);

CREATE TABLE notice_digests (
    subscription_id TEXT PRIMARY KEY,
    last_sent_at INTEGER NOT NULL
);
