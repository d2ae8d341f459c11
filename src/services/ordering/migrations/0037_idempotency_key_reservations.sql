-- Reservations of idempotency keys (docs/decisions/0026, 0008): an order at a restaurant that lives in
-- a database of its own claims its key there, in the order's transaction, and first reserves the key
-- in this (the ordering service's own, shared) database, in a transaction of its own. The reservation
-- binds the key to the request's body across databases: a claim of the same key for another body at a
-- restaurant of any database meets it here, whichever commits first, so two claims racing at
-- restaurants of two databases can no longer both be taken. A reservation names the order id the
-- placement will use; the order and its replayable key are in the restaurant's database.
--
-- Safe on a live database: a column with a constant default changes the catalog only (no rewrite),
-- under ACCESS EXCLUSIVE for a moment; lock_timeout so that behind a long claim the ALTER fails after
-- 5 s, to run again later, instead of queueing every placement behind it.
set local lock_timeout = '5s';
alter table ordering.idempotency_keys add column if not exists reservation boolean not null default false;
