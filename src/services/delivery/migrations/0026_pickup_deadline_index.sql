-- brigade:no-transaction
-- The dispatch's sweep of missed pick-up deadlines (0025) looks on every idle step for the assigned
-- order whose deadline is due first: without this index that is a scan of every assigned row. Only rows
-- with a deadline running are in it. Built CONCURRENTLY (writers are not blocked while it builds), so
-- outside a transaction; a build that failed leaves an invalid index behind, dropped when this runs again.
drop index concurrently if exists delivery.dispatch_queue_pickup_due;
create index concurrently dispatch_queue_pickup_due on delivery.dispatch_queue (pickup_due_at) where state = 'assigned' and pickup_due_at is not null;
