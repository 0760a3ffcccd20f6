-- Per-subscription limits computed from the database alone, so they hold across every node.
--
-- rate_next_slot_us: the subscription's next free send slot (unix microseconds) under its
-- rate_limit_per_second; claim_due hands out slots from here, 1/r s apart, and moves it on.
-- 0 (the epoch) means "free now".
ALTER TABLE subscriptions ADD COLUMN rate_next_slot_us INTEGER NOT NULL DEFAULT 0;

-- claim_due counts each subscription's deliveries holding a lease (its in-flight work) by
-- walking this index; leased rows are few (the ones being attempted), so the probe is cheap.
CREATE INDEX deliveries_leased_subscription ON deliveries (subscription_id, lease_until)
    WHERE lease_until IS NOT NULL;
