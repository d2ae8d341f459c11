-- A customer or a courier appends only to the streams of their own orders (docs/decisions/0006,
-- "Fixed later: customers and couriers append only to their own orders"; found by a review).
--
-- The events' permissive policies (events_tenant FOR ALL, tenant only; events_batch_append) admit any
-- actor's INSERT of the restaurant, and events_actor_read (0039) is FOR SELECT: it filters reads, and
-- an INSERT only when it returns rows. So a customer's transaction appended to another customer's
-- stream of the same restaurant by a raw INSERT (no RETURNING), a stream it could not even read. The
-- policy below is RESTRICTIVE FOR INSERT: ANDed with those, it only ever refuses rows (WITH CHECK:
-- 42501), and only a customer's or a courier's:
-- 1. Any other actor kind outside a merged batch (staff, admin, system, no actor) passes on the first
--    arm, an InitPlan read once per statement, as in events_actor_read.
-- 2. A merged batch of the group committer (decision 0063) runs with no actor of its own and the
--    units' tenants in brigade.batch_tenants. Each unit's actor is in its rows' metadata, which the
--    platform writes from the same context as the settings (prepareAppend), and only platform
--    statements merge, never a raw INSERT: the promise the batch already makes for each row's tenant.
--    A row whose actor is not a customer or a courier passes here, on one jsonb field.
-- 3. Otherwise (a customer's or a courier's row, in their own transaction or merged) the new row's
--    stream must be `order-<uuid>` whose order_index row names the actor as its customer, or as its
--    courier now: the lookup events_actor_read makes. Placement writes the order_index row before the
--    OrderPlaced append in the same transaction (placeOrder), so the lookup finds it; a courier is
--    named by the assignment, before their first append.
--
-- Why the lookup is a function here, where events_actor_read has it inline (measured with a throwaway
-- harness, DO blocks of 500 appends through append_events on a migrated database with 200,000 orders,
-- the backend's CPU time, policy on and off alternating, eight rounds): PostgreSQL initialises every
-- sub-plan of a statement when it starts, executed or not, and the inline lookup (order_index under its
-- own policies) cost every append, staff's and the projectors' included, 22 to 27 µs (1.32 to 1.41x)
-- for a lookup it never ran. Called as a function it costs them about 5 µs, and a customer's or a
-- courier's appended row about 35 µs (inline: 45 to 50 µs). events_actor_read keeps the inline form for
-- reads of whole streams, where the per-call cost of a function adds up per row (0039).
--
-- A merged batch's lookup reads order_index with no actor kind, which its policies showed nothing:
-- order_index_batch_read shows such a transaction the rows of the batch's tenants, as
-- events_batch_read does for the events. Only platform statements run in that transaction.
--
-- Each policy is dropped first if it exists, and the function replaced, so the file may run again.
-- CREATE POLICY takes the table's ACCESS EXCLUSIVE lock for a moment; behind a long transaction on the
-- events this fails after 5 s, to run again later, instead of queueing every append behind it.
set local lock_timeout = '5s';

-- Whether the order index names the appending customer or courier on the order of p_stream_id: the
-- actor of the transaction, or in a merged batch (no actor kind, brigade.batch_tenants set) the row's
-- own (p_metadata's `actor`). False for any other actor kind (the policy admits those before it asks),
-- a stream that is not `order-<uuid>`, an actor id that is not a uuid (order_index's own policies
-- would fail on its cast), and an order the actor cannot see. SECURITY INVOKER: order_index's policies
-- apply, as they do to the order routes' lookup. The order id is computed into a variable, so the
-- probe is a plain uuid equality on order_index's primary key (a cast in the condition would not be
-- used ahead of those policies; see 0039).
create or replace function ordering.order_names_actor(p_tenant_id uuid, p_stream_id text, p_metadata jsonb) returns boolean
  language plpgsql stable security invoker as $fn$
declare
  v_kind text := current_setting('brigade.actor_kind', true);
  v_id text := current_setting('brigade.actor_id', true);
  v_order uuid;
  v_named boolean;
begin
  if coalesce(v_kind, '') = '' and coalesce(current_setting('brigade.batch_tenants', true), '') <> '' then
    v_kind := p_metadata #>> '{actor,kind}';
    v_id := p_metadata #>> '{actor,id}';
  end if;
  if v_kind is null or v_kind not in ('customer', 'courier')
     or p_stream_id !~* '^order-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
     or v_id is null or v_id !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
    return false;
  end if;
  v_order := substr(p_stream_id, 7)::uuid;
  select case v_kind when 'customer' then oi.customer_id = v_id::uuid else oi.courier_id = v_id::uuid end
    into v_named
    from ordering.order_index oi
   where oi.tenant_id = p_tenant_id and oi.order_id = v_order;
  return coalesce(v_named, false);
end
$fn$;

revoke all on function ordering.order_names_actor(uuid, text, jsonb) from public;
grant execute on function ordering.order_names_actor(uuid, text, jsonb) to brigade_ordering;

drop policy if exists order_index_batch_read on ordering.order_index;
create policy order_index_batch_read on ordering.order_index
  for select to brigade_ordering
  using (tenant_id = any ((select string_to_array(nullif(current_setting('brigade.batch_tenants', true), ''), ',')::uuid[])::uuid[]));

drop policy if exists events_actor_append on ordering.events;
create policy events_actor_append on ordering.events
  as restrictive for insert to brigade_ordering
  with check (
    (select coalesce(current_setting('brigade.actor_kind', true), '') not in ('customer', 'courier', '')
         or coalesce(current_setting('brigade.actor_kind', true), '') = '' and coalesce(current_setting('brigade.batch_tenants', true), '') = '')
    or (select coalesce(current_setting('brigade.actor_kind', true), '') = '' and coalesce(current_setting('brigade.batch_tenants', true), '') <> '')
       and coalesce(events.metadata #>> '{actor,kind}', '') not in ('customer', 'courier')
    or ordering.order_names_actor(events.tenant_id, events.stream_id, events.metadata)
  );
