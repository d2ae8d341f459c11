-- The payment saga's rows per actor within a tenant (docs/decisions/0006, "Within a tenant, per actor").
--
-- Until now the saga tables' policies checked the tenant only: a customer's or a courier's transaction
-- (tenant = the restaurant) read every payment of that restaurant, other customers' included, and the
-- route's 404 came from code. These policies are RESTRICTIVE: ANDed with the permissive ones, they only
-- take rows away, and only from customers and couriers. Any other actor kind (staff, admin, system: the
-- runner, the deadline scheduler, the order-event consumer) passes on the first arm, an InitPlan read
-- once per statement, so their reads and writes plan and cost as before.
--
-- Payments keeps no copy of ordering's order index (no service reads another's schema, and a service
-- may live in a database of its own), so the lookup is the saga's own state: the payment saga records
-- the order's customerId when it starts (from OrderPlaced) and the assigned courierId when
-- CourierAssigned reaches it (a later assignment replaces it). A saga whose state names neither is
-- visible to no customer or courier. The state's ids are compared as text with the actor's id in the
-- canonical form of a uuid (lower case); an actor id that is not a uuid matches nothing.
--
-- Each policy is dropped first if it exists, so the file may run again.
-- CREATE POLICY takes each table's ACCESS EXCLUSIVE lock for a moment; behind a long saga transaction
-- this fails after 5 s, to run again later, instead of queueing the runner behind it.
set local lock_timeout = '5s';

drop policy if exists saga_instances_actor_read on payments.saga_instances;
create policy saga_instances_actor_read on payments.saga_instances
  as restrictive for select to brigade_payments
  using (
    (select coalesce(current_setting('brigade.actor_kind', true), '') not in ('customer', 'courier'))
    or lower(state ->> 'customerId') = (select case when current_setting('brigade.actor_kind', true) = 'customer'
                                                     and current_setting('brigade.actor_id', true) ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                                                    then current_setting('brigade.actor_id', true)::uuid::text end)
    or lower(state ->> 'courierId') = (select case when current_setting('brigade.actor_kind', true) = 'courier'
                                                    and current_setting('brigade.actor_id', true) ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                                                   then current_setting('brigade.actor_id', true)::uuid::text end)
  );

-- A saga's log and deadlines are visible with the saga: one primary-key probe of saga_instances per row
-- (tenant_id, id), whose policies, the one above included, decide. Only customers and couriers get
-- that far; the inspection route reads one saga's rows. A scalar sub-select, not EXISTS: PostgreSQL
-- may turn an EXISTS into a hashed subplan that reads every saga the actor may see once per statement,
-- here every saga of the restaurant (the state is not indexed); a scalar sub-select is probed per row.
drop policy if exists saga_log_actor_read on payments.saga_log;
create policy saga_log_actor_read on payments.saga_log
  as restrictive for select to brigade_payments
  using (
    (select coalesce(current_setting('brigade.actor_kind', true), '') not in ('customer', 'courier'))
    or (select true from payments.saga_instances i where i.tenant_id = saga_log.tenant_id and i.id = saga_log.saga_id)
  );

drop policy if exists saga_deadlines_actor_read on payments.saga_deadlines;
create policy saga_deadlines_actor_read on payments.saga_deadlines
  as restrictive for select to brigade_payments
  using (
    (select coalesce(current_setting('brigade.actor_kind', true), '') not in ('customer', 'courier'))
    or (select true from payments.saga_instances i where i.tenant_id = saga_deadlines.tenant_id and i.id = saga_deadlines.saga_id)
  );
