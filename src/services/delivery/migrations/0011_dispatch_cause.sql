-- The cause of an order's dispatch: the order event that queued it (its message id, correlation id
-- and traceparent). The dispatch's assignment is sent to ordering with it, and DispatchFailed
-- carries it in its headers, so that what follows an order event names it as its cause and keeps
-- its correlation and trace (the issue's lineage). Null for rows queued before this migration: their
-- assignments go without a cause, as before.
--
-- Safe on a live database: nullable columns without a default change the catalog only, under ACCESS
-- EXCLUSIVE for a moment; lock_timeout so that behind a long dispatch transaction this fails after
-- 5 s, to run again later, instead of queueing the dispatch behind it.
set local lock_timeout = '5s';
alter table delivery.dispatch_queue
  add column if not exists causation_id uuid,
  add column if not exists correlation_id uuid,
  add column if not exists traceparent text;
