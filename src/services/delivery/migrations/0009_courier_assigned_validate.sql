-- brigade:no-transaction
-- The second half of 0008 (decision 0042), each statement its own transaction, so the dispatch goes on
-- reading and writing these tables throughout.
--
-- The CHECKs 0008 added NOT VALID are validated: a scan of the existing rows under SHARE UPDATE
-- EXCLUSIVE, which blocks neither reads nor writes. Validating a valid constraint does nothing, so
-- the file may run again.
alter table delivery.dispatch_queue validate constraint dispatch_queue_city_unless_ended;
alter table delivery.assignments validate constraint assignments_release_reason_check;
alter table delivery.courier_availability validate constraint courier_availability_released_status_check;

-- Releasing a courier looks for another order still assigned to them (staff may give one courier two).
-- Built CONCURRENTLY (writers are not blocked while it builds), so outside a transaction. A build that
-- failed leaves an invalid index behind, and this file runs again: the index is dropped first, then built.
drop index concurrently if exists delivery.dispatch_queue_courier_assigned;
create index concurrently dispatch_queue_courier_assigned on delivery.dispatch_queue (courier_id) where state = 'assigned';
