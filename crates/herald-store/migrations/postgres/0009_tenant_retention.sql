-- Data at rest (issue 13): a tenant's own retention, and dropping payloads sooner.
--
-- `retention_seconds`: how long this tenant's events are kept; NULL follows the server's
-- `retention`, 0 keeps them forever.
ALTER TABLE tenants ADD COLUMN retention_seconds BIGINT;

-- `payload_retention` empties the payload of old events (`payload_json = ''`, which no
-- published payload can be) and keeps the row. This index holds only the events that still
-- have a payload, so each batch finds the next ones without walking those already emptied.
CREATE INDEX events_with_payload ON events (id) WHERE payload_json <> '';
