-- How many times a dead-lettered order was dispatched again because a courier of its city became
-- available (decision 0041, "Later": the redrive). Bounded: `wakeOneInCity` revives only rows below
-- its limit, so an order that dies again after its second round stays dead for staff.
--
-- Safe on a live database: a NOT NULL column with a constant default changes the catalog only (no
-- rewrite), under ACCESS EXCLUSIVE for a moment; lock_timeout so that behind a long dispatch
-- transaction this fails after 5 s, to run again later, instead of queueing the dispatch behind it.
-- The index the revival reads is built CONCURRENTLY by 0014.
set local lock_timeout = '5s';
alter table delivery.dispatch_queue add column if not exists revivals integer not null default 0;
