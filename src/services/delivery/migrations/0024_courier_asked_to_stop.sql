-- Whether a busy courier themself asked to stop after their current order (decision 0089, "Fixed
-- later (forty-fourth session …)"). `released_status = 'offline'` says what the courier becomes when
-- their last order ends, but it is set for three reasons: the courier pressed Stop while on a delivery
-- (0040), staff gave the order to a courier who was offline, or one delivery had never seen (0042).
-- Only the first told the courier they stop: staff's picker leaves that courier out and staff's
-- assign-courier refuses them (COURIER_STOPPING); staff may still give more than one order to a courier
-- they pulled in while offline (0042). The courier's route sets it with released_status; the release
-- that frees the courier clears it.
--
-- A column with a constant default is a catalog change (no rewrite). The courier's trigger (0023)
-- refuses any change of a busy row but released_status and updated_at; it now lets this column through
-- too, and nothing else. Both statements may run again. lock_timeout as in 0023: behind a long dispatch
-- transaction this fails after 5 s, to run again later, instead of queueing the dispatch behind it.
set local lock_timeout = '5s';

alter table delivery.courier_availability add column if not exists asked_to_stop boolean not null default false;

create or replace function delivery.courier_changes_only_released_status() returns trigger
  language plpgsql
  set search_path = pg_catalog, pg_temp
as $$
begin
  if (old.status = 'busy' or new.status = 'busy')
     and (to_jsonb(new) - 'released_status' - 'asked_to_stop' - 'updated_at') is distinct from (to_jsonb(old) - 'released_status' - 'asked_to_stop' - 'updated_at') then
    raise exception 'a courier carrying an order may change only what they become when it ends (released_status)'
      using errcode = '42501';
  end if;
  return new;
end
$$;
