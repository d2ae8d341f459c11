-- Menu history dated when the change commits, not when its transaction began (docs/decisions/0021,
-- "Fixed later"). Found by a review of 0008: the trigger starts a version at now(), the transaction's
-- start. A menu write begins, waits for the restaurant's menu lock (lockMenu), and only then changes
-- and commits; for that wait and its run time the live menu (and the cache, and ordering's prices)
-- served the old version, yet once it committed `?asOf=` an instant of that time read the new one. A
-- read of the past changed its answer after the fact, and disagreed with orders placed meanwhile.
--
-- The trigger of 0008 stays as it is and dates each change provisionally (it needs now() to tell this
-- transaction's second change of a row). A constraint trigger on the history rows it inserts, DEFERRED,
-- runs at COMMIT and moves the new ranges of this transaction, and the ranges they closed, to one
-- instant: clock_timestamp() when the first of them runs, the same for every row of the transaction
-- (kept in the transaction-local setting brigade.menu_dated_at), so that `?asOf=` shows a transaction
-- whole or not at all. Every menu write holds the restaurant's menu_versions row lock (the trigger bumps
-- it) from its first change to its commit, and the instant is read while it is held: the writes of a
-- restaurant take turns, so their dates follow their commit order and each is after the wait. What is
-- left: the instant is read a moment before the commit is visible (the rest of the deferred triggers and
-- the WAL flush, about a millisecond); an `?asOf=` read of an instant inside that moment, made before
-- the commit shows, still reads the version before.
--
-- Which rows are this transaction's is told by the inserted row's provisional start (the deferred
-- trigger sees the row as it was inserted): when it was written, the row of the menu was locked, so
-- every range of it from that start on is this transaction's, and the one ending there is the range it
-- closed. Ranges meet and never overlap, as 0008 made them. A version replaced in the same transaction
-- by a change in a subtransaction (whose xmin 0008's trigger does not take for its own) gets an empty
-- range: it never was current. A tenant move's copy (0006's setting) writes history as it was; the
-- same WHEN clause leaves it alone. Never dated before the provisional start: a clock stepped back
-- cannot make a range end before it begins.
set local lock_timeout = '10s';

create function menu.date_history_at_commit() returns trigger
  language plpgsql
  set search_path = pg_catalog, pg_temp
as $$
declare
  v_at timestamptz := nullif(current_setting('brigade.menu_dated_at', true), '')::timestamptz;
begin
  -- Set by this transaction's first such trigger: not before its start, not after now. A value left by
  -- anything else (a session-wide SET) is neither, and is replaced.
  if v_at is null or v_at < now() or v_at > clock_timestamp() then
    v_at := clock_timestamp();
    perform set_config('brigade.menu_dated_at', to_char(v_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), true);
  end if;
  v_at := greatest(v_at, new.valid_from);
  -- The range this transaction closed when it inserted this one.
  update menu.history set valid_to = v_at
   where tenant_id = new.tenant_id and entity = new.entity and id = new.id
     and valid_to = new.valid_from and valid_from < new.valid_from;
  -- This transaction's ranges of the row (one, but for a subtransaction's change).
  update menu.history set valid_from = v_at, valid_to = case when valid_to = 'infinity' then valid_to else v_at end
   where tenant_id = new.tenant_id and entity = new.entity and id = new.id and valid_from >= new.valid_from
     and (valid_from, valid_to) is distinct from (v_at, case when valid_to = 'infinity' then valid_to else v_at end);
  return null;
end
$$;

create constraint trigger date_at_commit after insert on menu.history
  deferrable initially deferred for each row
  when (current_setting('brigade.tenant_copy', true) is distinct from 'on' or current_user <> session_user)
  execute function menu.date_history_at_commit();
