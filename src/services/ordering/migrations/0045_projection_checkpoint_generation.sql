-- The generation of each projection's view (src/platform/projections, docs/decisions/0031): a rebuild's
-- swap adds one to `generation` and records its checkpoint as (rebuilt_transaction_id, rebuilt_position)
-- in the transaction that renames the rebuilt table in. The rebuilt rows keep the positions of their last
-- events, so a reader that follows the view by position (the live-board stream and its Last-Event-ID)
-- would never be sent them: it watches the generation instead, and refuses a position at or before the
-- last swap's checkpoint, which may have come from the view before the rebuild.
--
-- Safe on a live database: columns with constant defaults change the catalog only (no rewrite), under
-- ACCESS EXCLUSIVE for a moment. lock_timeout: every projector batch locks a row of this table; behind a
-- long one the ALTER fails after 5 s, to run again later, instead of queueing every batch behind it.
set local lock_timeout = '5s';
alter table ordering.projection_checkpoints
  add column if not exists generation bigint not null default 0,
  add column if not exists rebuilt_transaction_id xid8 not null default '0'::xid8,
  add column if not exists rebuilt_position bigint not null default 0;
