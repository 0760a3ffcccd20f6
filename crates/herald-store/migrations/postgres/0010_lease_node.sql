-- Speed, third round (issue 15): which node holds a delivery's lease.
--
-- A claimer may lease a subscription beyond its `max_in_flight` (a lease window of 2, so the
-- next deliveries are already leased when a response comes back) only while no other node
-- holds a lease of that subscription; its own gate then keeps its requests at
-- `max_in_flight`. As soon as two nodes hold leases of one subscription, claims count every
-- lease against `max_in_flight` itself. NULL (a lease taken by hand, or before this
-- migration) counts as another node's, the cautious side.
ALTER TABLE deliveries ADD COLUMN lease_node TEXT;
