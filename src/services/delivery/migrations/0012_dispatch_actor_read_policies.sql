-- Delivery's tenant rows per actor within a tenant (docs/decisions/0006, "Within a tenant, per actor").
--
-- Until now dispatch_queue, assignments and dispatch_alerts were readable by any transaction of the
-- restaurant (tenant_read): a customer's or a courier's too, for every order of that restaurant. These
-- policies are RESTRICTIVE: ANDed with the permissive ones, they only take rows away, and only from
-- customers and couriers. Any other actor kind (staff, admin, system: the dispatch workers and the
-- order-event consumer, across tenants) passes on the first arm, an InitPlan read once per statement,
-- so their claims, sweeps and updates plan and cost as before.
--
-- - A courier sees the dispatch job of an order assigned to them now (dispatch_queue.courier_id), their
--   own assignments (assignments.courier_id; not other couriers' rows of the same order), and the
--   dispatch alerts of orders whose job is assigned to them.
-- - A customer sees no delivery row: delivery keeps no customer ids (an order's customer is ordering's
--   to know, and no service reads another's schema), so there is nothing to show a customer their own
--   rows by. Delivery has no route that reads these tables for a customer.
-- The actor id is compared as a uuid only when it looks like one, as the order views' policies do.
--
-- Each policy is dropped first if it exists, so the file may run again.
-- CREATE POLICY takes each table's ACCESS EXCLUSIVE lock for a moment; behind a long dispatch
-- transaction this fails after 5 s, to run again later, instead of queueing the dispatch behind it.
set local lock_timeout = '5s';

drop policy if exists dispatch_queue_actor_read on delivery.dispatch_queue;
create policy dispatch_queue_actor_read on delivery.dispatch_queue
  as restrictive for select to brigade_delivery
  using (
    (select coalesce(current_setting('brigade.actor_kind', true), '') not in ('customer', 'courier'))
    or courier_id = (select case when current_setting('brigade.actor_kind', true) = 'courier'
                                  and current_setting('brigade.actor_id', true) ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                                 then current_setting('brigade.actor_id', true)::uuid end)
  );

drop policy if exists assignments_actor_read on delivery.assignments;
create policy assignments_actor_read on delivery.assignments
  as restrictive for select to brigade_delivery
  using (
    (select coalesce(current_setting('brigade.actor_kind', true), '') not in ('customer', 'courier'))
    or courier_id = (select case when current_setting('brigade.actor_kind', true) = 'courier'
                                  and current_setting('brigade.actor_id', true) ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                                 then current_setting('brigade.actor_id', true)::uuid end)
  );

-- An alert is visible with its order's dispatch job: a primary-key probe (tenant_id, order_id) of
-- dispatch_queue, whose policies, the one above included, decide. A scalar sub-select, not EXISTS:
-- PostgreSQL may turn an EXISTS into a hashed subplan that reads every job the actor may see once per
-- statement; a scalar sub-select is probed per row.
drop policy if exists dispatch_alerts_actor_read on delivery.dispatch_alerts;
create policy dispatch_alerts_actor_read on delivery.dispatch_alerts
  as restrictive for select to brigade_delivery
  using (
    (select coalesce(current_setting('brigade.actor_kind', true), '') not in ('customer', 'courier'))
    or (select true from delivery.dispatch_queue q where q.tenant_id = dispatch_alerts.tenant_id and q.order_id = dispatch_alerts.order_id)
  );
