-- Failure notices (issue 14): the same tables and meanings as on SQLite (migrations/sqlite/0010).
CREATE TABLE notice_failures (
    delivery_id TEXT COLLATE "C" PRIMARY KEY,
    subscription_id TEXT COLLATE "C" NOT NULL,
    event_id TEXT COLLATE "C" NOT NULL,
    event_type TEXT COLLATE "C" NOT NULL,
    error TEXT NOT NULL,
    failed_at BIGINT NOT NULL
);
CREATE INDEX notice_failures_by_subscription ON notice_failures (subscription_id, failed_at);

CREATE TABLE notice_digests (
    subscription_id TEXT COLLATE "C" PRIMARY KEY,
    last_sent_at BIGINT NOT NULL
);
