-- A service role queues deliveries of its own messages only (docs/decisions/0056, "Fixed later (fiftieth
-- session…)"; found by the tenancy review of 7 Dec 2026).
--
-- Migration 0007 let every service role insert into brigade_bus.deliveries, so that its outbox relay can
-- fan its messages out in the statement that publishes them; 0020 tied the messages to the role's own
-- subjects but left the deliveries open: `brigade_menu` could queue ordering's `OrderPlaced` for any
-- subscription, or queue it again after it was acked. Row-Level Security now ties a service role's
-- delivery to a message of its own service (`<service>.` subject), one INSERT policy per role.
--
-- The check reads the message through brigade_bus.subject_of, not a subquery in the policy: the relay's
-- statement inserts the message and its deliveries together, and a subquery runs on the statement's
-- snapshot, which does not see rows the statement itself inserted (it refused every relay publish). A
-- VOLATILE function takes a fresh snapshot after a command-counter increment at each call, which sees
-- them (a SQL function whose body reads a table is never inlined into the policy, where it would run on
-- the statement's snapshot again). It runs as the caller (no SECURITY DEFINER), so the role reads the
-- subject through 0020's read_<service> policy too: another service's message is null to it. No SET
-- search_path (that costs about as much as the lookup): the body names its table, and no brigade_ role
-- may create an object that could shadow `=` (pg_temp is never searched for operators).
--
-- SELECT stays open to the service roles (their grant is still only (subscription, message_id)): the
-- ON CONFLICT target needs SELECT on those columns, so PostgreSQL checks every new row against the
-- SELECT policies as well, and a restrictive one would be a second lookup per delivery row.
--
-- Enabled, not forced, as 0020 on messages: the tables' owner is the transports' own login (publish,
-- redeliver, claim, ack, dead letters, prune) and is not subject to it.
--
-- Cost: one function call and index lookup per delivery a service role inserts (the in-database relay's
-- fan-out): about 8 µs of the backend's CPU per delivery row on a loaded 2-core machine, on a statement
-- of about 37 per row without it. None for the owner.
--
-- ALTER TABLE and CREATE POLICY lock deliveries exclusively, and every publish, fan-out and claim
-- touches it: wait at most 5 s for the transactions open now (then fail, to be run again), as 0040
-- does, rather than stall the bus behind a long one.
set local lock_timeout = '5s';

create function brigade_bus.subject_of(p_message uuid) returns text
  language sql volatile parallel unsafe
  as $$ select m.subject from brigade_bus.messages m where m.id = p_message $$;
revoke execute on function brigade_bus.subject_of(uuid) from public;

alter table brigade_bus.deliveries enable row level security;

DO $$
DECLARE
  svc text;
BEGIN
  FOREACH svc IN ARRAY ARRAY['platform', 'menu', 'ordering', 'delivery', 'payments'] LOOP
    EXECUTE format('GRANT EXECUTE ON FUNCTION brigade_bus.subject_of(uuid) TO %I', 'brigade_' || svc);
    EXECUTE format('CREATE POLICY %I ON brigade_bus.deliveries FOR INSERT TO %I WITH CHECK (starts_with(brigade_bus.subject_of(message_id), %L))', 'queue_own_' || svc, 'brigade_' || svc, svc || '.');
    EXECUTE format('CREATE POLICY %I ON brigade_bus.deliveries FOR SELECT TO %I USING (true)', 'read_' || svc, 'brigade_' || svc);
  END LOOP;
END
$$;
