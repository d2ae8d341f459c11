-- The number of a staff reservation ordering has not confirmed yet (decision 0084, "Later: ordering's
-- number and the reservation's apart"), kept apart from courier_assignment, the number of the last
-- assignment ordering did record. A reservation used to write its number to courier_assignment before
-- ordering appended it; ordering's real, lower-numbered CourierAssigned then looked older and was
-- ignored, and once the reservation was undone (its append had failed) ordering's courier was free in
-- delivery while carrying the order (found by review). CourierAssigned is now compared with
-- courier_assignment only.
--
-- A reservation awaiting its notice when this runs moves its number over; the number it overwrote is
-- lost (null: the next CourierAssigned of the order is not taken as older than it).
--
-- Safe on a live database: a nullable column without a default changes the catalog only (no rewrite),
-- under ACCESS EXCLUSIVE for a moment; lock_timeout so that behind a long dispatch transaction this
-- fails after 5 s, to run again later, instead of queueing the dispatch behind it. The update touches
-- only the reservations awaiting their notice (a handful; the notice sweep's partial index finds them).
set local lock_timeout = '5s';
alter table delivery.dispatch_queue add column if not exists reserved_assignment integer;
update delivery.dispatch_queue set reserved_assignment = courier_assignment, courier_assignment = null
 where state = 'assigned' and notified_at is null and reserved_from is not null and reserved_assignment is null;
