-- Orders that ended before their payment saga started. Decision record: docs/decisions/0048-payment-saga.md
-- ("Fixed later: an order that ended before its OrderPlaced reached payments").
--
-- An OrderCancelled or OrderRejected whose order has no saga yet is delivered again for a few seconds
-- (its OrderPlaced may be a retry behind), then acked as ignored. An OrderPlaced that comes later still
-- (a failed handler, a dead letter redriven, a restaurant moved) started the saga and authorized a
-- charge for an order that had already ended. The consumer now writes the ignored end here, in its own
-- transaction, and the saga that such an order's OrderPlaced starts ends at once without charging.
-- No personal data: the event's type and when payments took it.
--
-- Written again safely (create if not exists, policies dropped first, create or replace): the newest
-- migration of the set may be run twice on a restaurant's own database (test/cli/movedTenant).
create table if not exists "payments".orders_ended_before_start (
  tenant_id   uuid        not null,
  order_id    uuid        not null,
  event       text        not null check (event in ('OrderCancelled', 'OrderRejected')),
  recorded_at timestamptz not null default now(),
  primary key (tenant_id, order_id)
);

alter table "payments".orders_ended_before_start enable row level security;
alter table "payments".orders_ended_before_start force row level security;

-- As the saga tables: the transaction's tenant, or the runtime and the operators (system, admin).
drop policy if exists orders_ended_before_start_access on "payments".orders_ended_before_start;
create policy orders_ended_before_start_access on "payments".orders_ended_before_start
  for all to "brigade_payments"
  using (tenant_id = (select nullif(current_setting('brigade.tenant_id', true), '')::uuid)
         or (select current_setting('brigade.actor_kind', true)) in ('system', 'admin'))
  with check (tenant_id = (select nullif(current_setting('brigade.tenant_id', true), '')::uuid)
         or (select current_setting('brigade.actor_kind', true)) in ('system', 'admin'));

-- No customer or courier reads or writes it (only the order-events consumer does, as system).
drop policy if exists orders_ended_before_start_actor on "payments".orders_ended_before_start;
create policy orders_ended_before_start_actor on "payments".orders_ended_before_start
  as restrictive for all to "brigade_payments"
  using ((select coalesce(current_setting('brigade.actor_kind', true), '') not in ('customer', 'courier')))
  with check ((select coalesce(current_setting('brigade.actor_kind', true), '') not in ('customer', 'courier')));

revoke all on table "payments".orders_ended_before_start from public;
revoke all on table "payments".orders_ended_before_start from "brigade_payments";
grant select, insert on table "payments".orders_ended_before_start to "brigade_payments";

-- The OrderPlaced side, in one round trip: waits for the order's start lock, then reads the order's end.
-- The consumer that writes an end takes the same lock first (then looks for the saga again), so an
-- OrderPlaced and the order's last OrderCancelled handled at once cannot both miss the other: whichever
-- takes the lock second sees what the first committed. VOLATILE, so the read after the wait takes a new
-- snapshot (READ COMMITTED): a read in the same statement as the wait would not see a row committed
-- while it waited. Security invoker: the caller's RLS applies.
create or replace function "payments".order_ended_before_start(p_tenant uuid, p_order uuid) returns jsonb
  language plpgsql volatile security invoker set search_path = pg_catalog as $fn$
begin
  perform pg_advisory_xact_lock(hashtext('brigade.payments.order_start'), hashtext(p_order::text));
  return (select jsonb_build_object('event', e.event, 'at', e.recorded_at)
            from "payments".orders_ended_before_start e
           where e.tenant_id = p_tenant and e.order_id = p_order);
end
$fn$;
revoke all on function "payments".order_ended_before_start(uuid, uuid) from public;
grant execute on function "payments".order_ended_before_start(uuid, uuid) to "brigade_payments";
