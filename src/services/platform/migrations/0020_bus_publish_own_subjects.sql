-- A service role publishes only its own subjects on the PostgreSQL bus (docs/decisions/0056, "Later").
--
-- Migration 0007 let every service role insert into brigade_bus.messages, so that its outbox relay can
-- claim and publish in one INSERT … SELECT; but it let each one insert any subject: the delivery role
-- could publish `ordering.order.OrderPlaced`, which every consumer of ordering takes for ordering's
-- word. Row-Level Security now keys the insert on the role: `brigade_<service>` inserts (and reads back,
-- the relay's RETURNING) only messages whose subject starts with `<service>.`. A role granted the
-- insert later without a policy of its own inserts nothing (no policy, no row).
--
-- Enabled, not forced: the tables' owner (the migrating role, which the transports connect as to
-- publish, redeliver, claim and prune) is not subject to it. The check is one prefix comparison per
-- inserted row, next to the row's index entries and its deliveries (docs/decisions/0056, "Later").
alter table brigade_bus.messages enable row level security;

DO $$
DECLARE
  svc text;
BEGIN
  FOREACH svc IN ARRAY ARRAY['platform', 'menu', 'ordering', 'delivery', 'payments'] LOOP
    EXECUTE format('CREATE POLICY %I ON brigade_bus.messages FOR INSERT TO %I WITH CHECK (starts_with(subject, %L))', 'publish_' || svc, 'brigade_' || svc, svc || '.');
    EXECUTE format('CREATE POLICY %I ON brigade_bus.messages FOR SELECT TO %I USING (starts_with(subject, %L))', 'read_' || svc, 'brigade_' || svc, svc || '.');
  END LOOP;
END
$$;
