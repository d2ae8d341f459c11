-- Ordering's CourierAssigned is applied by the order-events consumer (decision 0042): a courier staff
-- chose is busy in delivery too, and the order's dispatch job is settled with that courier.
--
-- Safe on a live database: every statement here changes the catalog only and takes its table's
-- ACCESS EXCLUSIVE lock for a moment. The new CHECKs are added NOT VALID (no scan under that lock;
-- new and updated rows are checked at once) and validated by 0009, which runs outside a transaction
-- (VALIDATE takes a lock that lets reads and writes go on) and also builds the index CONCURRENTLY.
-- lock_timeout: a long transaction on these tables makes this file fail after 5 s, to run again
-- later, instead of queueing every query of the dispatch behind the waiting ALTER.
set local lock_timeout = '5s';

-- The id of the CourierAssigned message whose courier the row holds. Message ids are UUID v7 (they
-- sort by creation time), so an older assignment delivered late (a retry, a competing consumer) is
-- told apart from the newer one already applied, and ignored.
alter table delivery.dispatch_queue add column if not exists courier_message_id uuid;

-- An order that ended before delivery had a row for it (OrderCancelled handled before a late
-- CourierAssigned of an order never queued) gets a finished row without a city, so the late event
-- finds the order over and marks no courier busy.
alter table delivery.dispatch_queue alter column city drop not null;
alter table delivery.dispatch_queue add constraint dispatch_queue_city_unless_ended
  check (city is not null or state in ('delivered', 'cancelled')) not valid;

-- What a courier becomes when their last order ends: available, unless staff gave them the order while
-- they were offline or unknown to delivery; then offline, as they were (they never said they would
-- take orders). A constant default: no rewrite of the table.
alter table delivery.courier_availability add column if not exists released_status text not null default 'available';
alter table delivery.courier_availability add constraint courier_availability_released_status_check
  check (released_status in ('available', 'offline')) not valid;

-- A courier replaced on an order (staff chose another) is released as 'reassigned'.
alter table delivery.assignments drop constraint assignments_release_reason_check;
alter table delivery.assignments add constraint assignments_release_reason_check
  check (release_reason in ('delivered', 'cancelled', 'dropped', 'reassigned')) not valid;
