-- Indexes for claim_due: per subscription, its due fresh deliveries and its due retries, each in
-- due order. claim_due walks them subscription by subscription and stops after `limit` rows
-- each, so a claim costs the work it returns, not the size of the backlog. Partial, so rows
-- that are finished (the bulk of the table over time) are not in them at all.
CREATE INDEX deliveries_fresh ON deliveries (subscription_id, next_attempt_at, id)
    WHERE status = 'pending' AND attempts = 0;
CREATE INDEX deliveries_retry ON deliveries (subscription_id, next_attempt_at, id)
    WHERE status = 'pending' AND attempts > 0;

-- queue_stats: the oldest pending delivery by one index probe, and the pending count from an
-- index holding only pending rows.
CREATE INDEX deliveries_pending_created ON deliveries (created_at) WHERE status = 'pending';
