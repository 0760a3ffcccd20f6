-- Every index of `deliveries` is written when a delivery is inserted, leased and completed;
-- at thousands of deliveries a second those writes were much of the writer's work. These
-- three served two reads only (the dispatcher's next wake-up and the queue metrics), which
-- one partial index of pending rows serves as well: completed deliveries leave it, and leased
-- ones are found through `deliveries_leased_subscription`.
DROP INDEX deliveries_due;
DROP INDEX deliveries_leased;
DROP INDEX deliveries_pending_created;
CREATE INDEX deliveries_pending ON deliveries (next_attempt_at, created_at)
    WHERE status = 'pending';
