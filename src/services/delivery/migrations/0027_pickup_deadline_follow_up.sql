-- The pick-up deadline (0025), reviewed (decision 0040, "Fixed later (forty-eighth session …)", the follow-up):
--   dispatch_queue.pickup_within          the window the running deadline gave the courier (PICKUP_DEADLINE_MINUTES when
--                                         it started): the sweep moves the deadline on by it while the courier is not
--                                         free for the order yet (busy with another order staff gave them before it);
--   courier_availability.current_since    when the courier became free for the order they carry now (given it while
--                                         free, or moved on to it when their previous order ended): the deadline of an
--                                         order counts from the later of its start and this;
--   courier_availability.missed_order_id, missed_within
--                                         the order taken off the courier for not being picked up within missed_within:
--                                         their availability tells them so until they press Start again.
-- Nullable columns without a default are catalog changes (no rewrite). lock_timeout as in 0023.
set local lock_timeout = '5s';

alter table delivery.dispatch_queue add column if not exists pickup_within interval;
alter table delivery.courier_availability
  add column if not exists current_since timestamptz,
  add column if not exists missed_order_id uuid,
  add column if not exists missed_within interval;

-- A courier carrying an order may also clear the notice of a missed pick-up (pressing Start while on a
-- delivery), besides what they become when it ends (0024).
create or replace function delivery.courier_changes_only_released_status() returns trigger
  language plpgsql
  set search_path = pg_catalog, pg_temp
as $$
begin
  if (old.status = 'busy' or new.status = 'busy')
     and (to_jsonb(new) - 'released_status' - 'asked_to_stop' - 'missed_order_id' - 'missed_within' - 'updated_at')
         is distinct from (to_jsonb(old) - 'released_status' - 'asked_to_stop' - 'missed_order_id' - 'missed_within' - 'updated_at') then
    raise exception 'a courier carrying an order may change only what they become when it ends (released_status)'
      using errcode = '42501';
  end if;
  return new;
end
$$;

-- Orders ready before 0025 was applied: their OrderReady was consumed before order_ready_at existed, so
-- nothing sets it, and no assignment of theirs ever had a deadline. A row OrderReady queued has its
-- cause (causation_id) and ready_at, the time it was queued, that is when it became ready (delivery
-- queues on OrderReady). A row staff's assignment added before the order was ready has no cause and a
-- ready_at of that assignment: it is left alone (its OrderReady, if still to come, sets order_ready_at;
-- one that came before 0025 is not known here, and that order keeps running without a deadline).
update delivery.dispatch_queue
   set order_ready_at = ready_at
 where order_ready_at is null and state in ('queued', 'assigned', 'dead') and causation_id is not null;

-- Their running assignments (ordering recorded them: confirmed, numbered) start a deadline now, of the
-- default PICKUP_DEADLINE_MINUTES (15: a migration cannot read the configuration); every assignment
-- after this one gets the configured window. An order already picked up (delivery does not hear of
-- pick-ups) makes the deadline do nothing when it fires: ordering answers 422.
update delivery.dispatch_queue
   set pickup_due_at = now() + interval '15 minutes', pickup_within = interval '15 minutes',
       pickup_courier_id = courier_id, pickup_assignment = courier_assignment
 where state = 'assigned' and notified_at is not null and courier_assignment is not null and order_ready_at is not null
   and pickup_due_at is null and pickup_courier_id is null and pickup_assignment is null;
