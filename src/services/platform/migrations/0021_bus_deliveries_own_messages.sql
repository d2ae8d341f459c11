-- A service role adds bus deliveries only of its own messages, each to a subscription whose pattern takes
-- the message's subject (docs/decisions/0056, "Later").
--
-- Migration 0007 let every service role insert into brigade_bus.deliveries, so that its outbox relay
-- fans out in the statement that publishes; migration 0020 limited the messages a role may insert to its
-- own subjects, but not the deliveries: the delivery role could still hand ordering's OrderPlaced to a
-- subscription a second time under a new delivery, or to one whose pattern does not take it.
--
-- Row-Level Security cannot check this: the publish statement inserts the messages and their
-- deliveries in one statement (data-modifying CTEs), and a policy's check does not see rows the same
-- statement inserted. An AFTER … FOR EACH STATEMENT trigger does: it runs once the statement is done,
-- over the statement's new deliveries (a transition table), and refuses the whole statement (42501)
-- when one of them is not of a message the role may read (0020: its own subjects) or goes to a
-- subscription that does not take the subject. The bus's owner (the transports: their own publishes,
-- redrives to one subscription) is not checked. One lookup of the message and one of the subscription
-- per delivery, on their primary keys (docs/decisions/0056, "Later", for the cost).
create function brigade_bus.check_service_deliveries() returns trigger
language plpgsql
-- Index lookups per delivery: a transition table has no statistics, and a hash join would read every
-- message of the bus once per publish.
set search_path = pg_catalog, pg_temp
set enable_hashjoin = off
set enable_mergejoin = off
as $$
declare
  svc text := case when current_user in ('brigade_platform', 'brigade_menu', 'brigade_ordering', 'brigade_delivery', 'brigade_payments')
                   then substr(current_user, length('brigade_') + 1) end;
  bad record;
begin
  if svc is null then
    return null;
  end if;
  select d.subscription, d.message_id into bad
    from added d
   where not exists (select 1
                       from brigade_bus.messages m
                       join brigade_bus.subscriptions s on s.name = d.subscription
                      where m.id = d.message_id and starts_with(m.subject, svc || '.') and m.subject ~ s.pattern_regex)
   limit 1;
  if found then
    raise exception 'role % may not add a delivery of message % to subscription %', current_user, bad.message_id, bad.subscription
      using errcode = '42501',
            hint = 'A service role delivers only the messages it publishes (its own subjects), to the subscriptions whose pattern takes them.';
  end if;
  return null;
end
$$;

create trigger deliveries_of_own_messages
  after insert on brigade_bus.deliveries
  referencing new table as added
  for each statement execute function brigade_bus.check_service_deliveries();
