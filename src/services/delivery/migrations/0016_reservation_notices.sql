-- Marks the dispatch rows a staff reservation wrote (decision 0084, "Later: a reservation whose
-- command failed is undone"): what the row was before (queued, dead, dropped, or 'new' when the
-- reservation added it), null for the dispatch's own assignments and for assignments ordering has
-- confirmed. The notice sweep settles a reservation by asking ordering which courier the order has,
-- never by carrying out the assign-courier command staff were told had been refused, and an undone
-- reservation puts the row back to what it was.
--
-- Safe on a live database: a nullable column without a default changes the catalog only (no rewrite),
-- under ACCESS EXCLUSIVE for a moment; lock_timeout so that behind a long dispatch transaction this
-- fails after 5 s, to run again later, instead of queueing the dispatch behind it.
set local lock_timeout = '5s';
alter table delivery.dispatch_queue add column if not exists reserved_from text;
