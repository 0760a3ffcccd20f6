-- Attempts' response headers and resumable recoveries: the same columns and meanings as on
-- SQLite (migrations/sqlite/0011). Nullable columns without a default: no table rewrite.
ALTER TABLE attempts ADD COLUMN response_headers TEXT;

ALTER TABLE recoveries ADD COLUMN requeued_through TEXT COLLATE "C";
ALTER TABLE recoveries ADD COLUMN lease_until BIGINT;
CREATE INDEX recoveries_running ON recoveries (lease_until) WHERE status = 'running';
