-- brigade:no-transaction
-- The revival of dead orders (0013, decision 0041 "Later") looks up a city's oldest dead order on every
-- courier release and every courier going available: without this index that is a scan of the whole
-- queue, finished rows included. Built CONCURRENTLY (writers are not blocked while it builds), so
-- outside a transaction. A build that failed leaves an invalid index behind, and this file runs again:
-- the index is dropped first, then built.
drop index concurrently if exists delivery.dispatch_queue_city_dead;
create index concurrently dispatch_queue_city_dead on delivery.dispatch_queue (city, ready_at) where state = 'dead';
