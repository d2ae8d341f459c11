-- The number of the CourierAssigned whose courier the row holds (ordering numbers an order's
-- assignments 1, 2, … in the event, decision 0042). Message ids are UUID v7 and sort by the creation
-- time of the process that made them, so two assignments of one order made on two instances within
-- their clocks' skew could be applied in the wrong order; the number comes from the order's stream and
-- cannot. courier_message_id stays for assignments recorded before the number existed.
--
-- Safe on a live database: a nullable column without a default changes the catalog only, under
-- ACCESS EXCLUSIVE for a moment; lock_timeout so that behind a long dispatch transaction this fails
-- after 5 s, to run again later, instead of queueing the dispatch behind it.
set local lock_timeout = '5s';
alter table delivery.dispatch_queue add column if not exists courier_assignment integer;
