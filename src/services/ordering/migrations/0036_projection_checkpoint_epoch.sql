-- The epoch of the projections' checkpoints (src/platform/projections, docs/decisions/0008): a tenant
-- move (src/platform/tenancy/moveTenant.ts) adds one to every row in the transaction that deletes the
-- moved restaurant's rows, after locking the table, so batches in flight end before the delete and new
-- ones wait for its commit. A batch reads the epoch in the same statement that locks its checkpoint row,
-- and the process's shared tail of the log (sharedTail.ts) drops what it read under another epoch: the
-- moved restaurant's events, read before the delete, are never applied in this database again.
--
-- Safe on a live database: a column with a constant default changes the catalog only (no rewrite),
-- under ACCESS EXCLUSIVE for a moment. lock_timeout: every projector batch locks a row of this table;
-- behind a long one the ALTER fails after 5 s, to run again later, instead of queueing every batch and
-- every read-your-writes wait behind it.
set local lock_timeout = '5s';
alter table ordering.projection_checkpoints add column if not exists epoch bigint not null default 0;
