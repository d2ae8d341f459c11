-- The pick-up deadline of an assignment (decision 0040, "Fixed later (forty-eighth session …)"): once an
-- order is both ready and assigned to a courier (ordering has recorded the assignment), the courier has
-- PICKUP_DEADLINE_MINUTES to pick it up; after that the dispatch asks ordering to take them off the order
-- (unassign-courier) and, on its CourierUnassigned, queues the order again and takes the courier off
-- dispatch.
--   order_ready_at     when delivery learnt the order is ready (its OrderReady), whatever event queued it;
--   pickup_due_at      when the running deadline fires (null: none running, or fired and settled);
--   pickup_courier_id, pickup_assignment
--                      the assignment the deadline belongs to (the courier and ordering's number of the
--                      assignment): a new assignment starts its own deadline, and ordering ignores one
--                      for an assignment that is over.
-- Nullable columns without a default are catalog changes (no rewrite). lock_timeout as in 0023: behind a
-- long dispatch transaction this fails after 5 s, to run again later, instead of queueing the dispatch.
set local lock_timeout = '5s';

alter table delivery.dispatch_queue
  add column if not exists order_ready_at timestamptz,
  add column if not exists pickup_due_at timestamptz,
  add column if not exists pickup_courier_id uuid,
  add column if not exists pickup_assignment integer;
