-- An event type's example payload (JSON text), which `herald trigger` publishes; NULL when the
-- operator stored none (a sample is then generated from the schema).
ALTER TABLE event_types ADD COLUMN example_json TEXT;
