-- A courier carrying an order may say what they become when it ends: `released_status`, which
-- `releaseCourier` applies with their last order (decision 0042), and nothing else of their row
-- (decision 0040, "Fixed later: a courier who has just delivered may stop"). Delivery frees the
-- courier only when ordering's OrderDelivered reaches it over the bus, so a courier who has just
-- delivered is still busy here for a moment; "stop" (or "available") then takes effect with the
-- release instead of being refused.
--
-- The courier's policy (courier_self, migration 0002) checks the new row only: not busy, no order. A
-- policy sees the old row (USING) and the new one (WITH CHECK) separately, and any permissive policy
-- may pass either, so a policy that let a courier write a busy row would also let them write
-- `status = 'busy'` over an available one, or change the order they carry. Hence two parts:
-- - courier_after_order: a courier may UPDATE their own busy row, leaving it busy;
-- - a BEFORE UPDATE trigger, for a courier's transaction only, refuses (42501) any change of a row that
--   is busy, or becomes busy, other than released_status and updated_at. It compares the whole row
--   but those two columns, so a column a later migration adds is protected without naming it here.
--   This also closes a raw UPDATE that freed a busy courier (courier_self admits it; the route never
--   sent one). The trigger's WHEN reads the actor kind: the dispatch and the consumer (system) never
--   call it.
--
-- The function is replaced and the policy dropped first if they exist, so the file may run again.
-- CREATE TRIGGER and CREATE POLICY take the table's locks for a moment; behind a long dispatch
-- transaction this fails after 5 s, to run again later, instead of queueing the dispatch behind it.
set local lock_timeout = '5s';

create or replace function delivery.courier_changes_only_released_status() returns trigger
  language plpgsql
  set search_path = pg_catalog, pg_temp
as $$
begin
  if (old.status = 'busy' or new.status = 'busy')
     and (to_jsonb(new) - 'released_status' - 'updated_at') is distinct from (to_jsonb(old) - 'released_status' - 'updated_at') then
    raise exception 'a courier carrying an order may change only what they become when it ends (released_status)'
      using errcode = '42501';
  end if;
  return new;
end
$$;

create or replace trigger courier_changes_only_released_status
  before update on delivery.courier_availability
  for each row
  when (current_setting('brigade.actor_kind', true) = 'courier')
  execute function delivery.courier_changes_only_released_status();

drop policy if exists courier_after_order on delivery.courier_availability;
create policy courier_after_order on delivery.courier_availability for update
  using ((select current_setting('brigade.actor_kind', true)) = 'courier'
         and courier_id::text = (select current_setting('brigade.actor_id', true))
         and status = 'busy')
  with check ((select current_setting('brigade.actor_kind', true)) = 'courier'
         and courier_id::text = (select current_setting('brigade.actor_id', true))
         and status = 'busy');
