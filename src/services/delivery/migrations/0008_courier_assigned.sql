-- Ordering's CourierAssigned is applied by the order-events consumer (decision 0042): a courier staff
-- chose is busy in delivery too, and the order's dispatch job is settled with that courier.

-- The id of the CourierAssigned message whose courier the row holds. Message ids are UUID v7 (they
-- sort by creation time), so an older assignment delivered late (a retry, a competing consumer) is
-- told apart from the newer one already applied, and ignored.
alter table delivery.dispatch_queue add column if not exists courier_message_id uuid;

-- An order that ended before delivery had a row for it (OrderCancelled handled before a late
-- CourierAssigned of an order never queued) gets a finished row without a city, so the late event
-- finds the order over and marks no courier busy.
alter table delivery.dispatch_queue alter column city drop not null;
alter table delivery.dispatch_queue add constraint dispatch_queue_city_unless_ended check (city is not null or state in ('delivered', 'cancelled'));

-- Releasing a courier looks for another order still assigned to them (staff may give one courier two).
create index if not exists dispatch_queue_courier_assigned on delivery.dispatch_queue (courier_id) where state = 'assigned';

-- A courier replaced on an order (staff chose another) is released as 'reassigned'.
alter table delivery.assignments drop constraint assignments_release_reason_check;
alter table delivery.assignments add constraint assignments_release_reason_check
  check (release_reason in ('delivered', 'cancelled', 'dropped', 'reassigned'));
