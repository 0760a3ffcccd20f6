-- Attempts keep their response's headers (issue 10): JSON text, an array of [name, value]
-- pairs bounded by the dispatcher (herald_store::ResponseHeaders: at most 32 headers, 4 KiB);
-- null for attempts made before this migration and for attempts that got no response.
ALTER TABLE attempts ADD COLUMN response_headers TEXT;

-- Recoveries resume after a crash (issue 10). `requeued_through` is the progress cursor: the
-- largest delivery id requeued so far, written in the same transaction as the batch, so a
-- resumed recovery never requeues a delivery twice. `lease_until` (unix µs) is how long the
-- node running it holds it; each batch renews it, and a running recovery whose lease ended is
-- claimed by another node (or the restarted one) and continued.
ALTER TABLE recoveries ADD COLUMN requeued_through TEXT;
ALTER TABLE recoveries ADD COLUMN lease_until INTEGER;
CREATE INDEX recoveries_running ON recoveries (lease_until) WHERE status = 'running';
