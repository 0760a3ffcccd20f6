-- How a subscription's deliveries look and are signed (issue 14), and from when it takes events.
--
-- payload_mode: `full` (the event's payload in Herald's envelope), `thin` (a pointer to the
-- event: type, time, id, url) or `akoya` (the pointer in Akoya's field names).
-- signature_scheme: `v1` (HMAC with secrets_json) or `v1a` (Ed25519 with signing_keys_json).
-- signing_keys_json: the Ed25519 private keys (`whsk_…`, current first, then ones in their
-- grace period), secret material like secrets_json, encoded and decoded beside it.
-- effective_at: events published before it (unix µs) are not delivered to the subscription.
ALTER TABLE subscriptions ADD COLUMN payload_mode TEXT NOT NULL DEFAULT 'full'
    CHECK (payload_mode IN ('full', 'thin', 'akoya'));
ALTER TABLE subscriptions ADD COLUMN signature_scheme TEXT NOT NULL DEFAULT 'v1'
    CHECK (signature_scheme IN ('v1', 'v1a'));
ALTER TABLE subscriptions ADD COLUMN signing_keys_json TEXT NOT NULL DEFAULT '[]';
ALTER TABLE subscriptions ADD COLUMN effective_at INTEGER;
