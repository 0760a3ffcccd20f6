-- How a subscription's deliveries look and are signed (issue 14), and from when it takes events.
--
-- payload_mode: `full` (the event's payload in Herald's envelope), `thin` (a pointer to the
-- event: type, time, id, url) or `akoya` (the pointer in Akoya's field names).
-- signature_scheme: `v1` (HMAC with secrets_json) or `v1a` (Ed25519 with signing_keys_json).
-- signing_keys_json: the Ed25519 private keys (`whsk_…`, current first, then ones in their
-- grace period), secret material like secrets_json, encoded and decoded beside it.
-- effective_at: events published before it (unix µs) are not delivered to the subscription.
-- client_certificate_pem / client_key_pem: the certificate chain and private key (PEM) Herald
-- presents to the endpoint (mTLS); the key is secret material, encoded beside secrets_json.
-- server_ca_pem: a CA bundle (PEM) the endpoint's certificate must chain to, instead of the
-- public roots.
ALTER TABLE subscriptions ADD COLUMN payload_mode TEXT NOT NULL DEFAULT 'full'
    CHECK (payload_mode IN ('full', 'thin', 'akoya'));
ALTER TABLE subscriptions ADD COLUMN signature_scheme TEXT NOT NULL DEFAULT 'v1'
    CHECK (signature_scheme IN ('v1', 'v1a'));
ALTER TABLE subscriptions ADD COLUMN signing_keys_json TEXT NOT NULL DEFAULT '[]';
ALTER TABLE subscriptions ADD COLUMN effective_at INTEGER;
ALTER TABLE subscriptions ADD COLUMN client_certificate_pem TEXT;
ALTER TABLE subscriptions ADD COLUMN client_key_pem TEXT;
ALTER TABLE subscriptions ADD COLUMN server_ca_pem TEXT;
