-- How a subscription's deliveries look and are signed (issue 14), and from when it takes events.
-- The same columns and meanings as on SQLite (migrations/sqlite/0009).
ALTER TABLE subscriptions
    ADD COLUMN payload_mode TEXT COLLATE "C" NOT NULL DEFAULT 'full'
        CHECK (payload_mode IN ('full', 'thin', 'akoya')),
    ADD COLUMN signature_scheme TEXT COLLATE "C" NOT NULL DEFAULT 'v1'
        CHECK (signature_scheme IN ('v1', 'v1a')),
    ADD COLUMN signing_keys_json TEXT COLLATE "C" NOT NULL DEFAULT '[]',
    ADD COLUMN effective_at BIGINT,
    ADD COLUMN client_certificate_pem TEXT COLLATE "C",
    ADD COLUMN client_key_pem TEXT COLLATE "C",
    ADD COLUMN server_ca_pem TEXT COLLATE "C";
