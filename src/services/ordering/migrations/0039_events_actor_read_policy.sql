-- Events per actor within a tenant (docs/decisions/0006, "Within a tenant, per actor").
--
-- Until now the event store's policies checked the tenant only: a customer's or a courier's
-- transaction (tenant = the restaurant) read every order stream of that restaurant, other customers'
-- included. The routes filtered in code (404); the database did not. This policy is RESTRICTIVE: it
-- is ANDed with the permissive ones (tenant, cross-tenant read, merged batch), so it only ever takes
-- rows away, and only from customers and couriers:
-- 1. Any other actor kind (staff, admin, system, '' in a merged batch) passes on the first arm, an
--    InitPlan read once per statement: projectors, relays, sagas and the group committer's merged
--    appends are not touched, and their reads and appends plan and cost as before.
-- 2. Rows the transaction itself is writing pass on the second arm. An INSERT … RETURNING (the append
--    in append_events) checks SELECT policies against the new rows; transaction_id defaults to the
--    writer's own id, so a customer's or courier's own append passes here, before and without the
--    lookup of arm 3 (decision 0063: no per-row lookup on the append path). pg_current_xact_id_if_assigned()
--    assigns nothing, so it also runs on the read replica (it is null there, and in any transaction that
--    has written nothing yet).
-- 3. Otherwise the row's stream must be an order of this actor: `order-<uuid>` whose order_index row
--    names the customer as its customer, or the courier as its currently assigned courier: the lookup
--    the order routes use to find the order (order_index has its own per-actor policies, which agree).
--    One probe of order_index by order id per row the statement keeps otherwise; the routes read one
--    order's stream, so a few probes, however many orders the actor has. An actor id that does not look
--    like a uuid sees nothing, without a lookup: order_index's own policies cast the id and would fail
--    (the order views' policies guard their casts the same way).
--
-- Why the lookup is written this way (EXPLAIN ANALYZE, 200,000 orders of 200 restaurants, a stream of 4
-- events read by a courier with 2,000 orders, warm):
-- - Not EXISTS: PostgreSQL turned it into a hashed subplan that read every order of the actor, in every
--   restaurant, once per statement: 2,000 order_index rows, 8.8 ms against 0.1 ms.
-- - The stream id's uuid is computed in a sub-select of its own that OFFSET 0 keeps from being pulled
--   up: order_index is under RLS, and PostgreSQL uses a condition of the query as an index condition
--   only when it cannot leak values ahead of the policies; the cast and the regex are not leak-proof,
--   so with `oi.order_id = substr(events.stream_id, 7)::uuid` the probe read all the restaurant's
--   order_index rows (1,000) per event: 25–31 ms. Joined on the computed column instead, the condition is
--   a plain uuid equality and the probe goes through order_index_order: 0.2 ms (0.1 ms as staff).
-- - The actor is compared in the select list, not the WHERE: there it would offer the planner the
--   customer and courier indexes, whose estimate (one row: ids are nearly unique) is wrong for an actor
--   with many orders, and it took them, reading all 2,000.
--
-- Each policy is dropped first if it exists, so the file may run again.
-- CREATE POLICY takes the table's ACCESS EXCLUSIVE lock for a moment; behind a long transaction on the
-- events this fails after 5 s, to run again later, instead of queueing every append behind it.
set local lock_timeout = '5s';

drop policy if exists events_actor_read on ordering.events;
create policy events_actor_read on ordering.events
  as restrictive for select to brigade_ordering
  using (
    (select coalesce(current_setting('brigade.actor_kind', true), '') not in ('customer', 'courier'))
    or transaction_id = (select pg_current_xact_id_if_assigned())
    or (select current_setting('brigade.actor_id', true) ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$')
       and (select oi.customer_id = (select case when current_setting('brigade.actor_kind', true) = 'customer'
                                                    and current_setting('brigade.actor_id', true) ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                                                   then current_setting('brigade.actor_id', true)::uuid end)
                or oi.courier_id = (select case when current_setting('brigade.actor_kind', true) = 'courier'
                                                   and current_setting('brigade.actor_id', true) ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                                                  then current_setting('brigade.actor_id', true)::uuid end)
           from (select case when events.stream_id ~* '^order-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                             then substr(events.stream_id, 7)::uuid end as order_id
                  offset 0) stream
           join ordering.order_index oi on oi.order_id = stream.order_id
          where oi.tenant_id = events.tenant_id)
  );
