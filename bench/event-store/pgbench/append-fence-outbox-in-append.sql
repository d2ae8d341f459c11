\set aid random(1, 1000000000)
BEGIN;
SELECT set_config('role', 'brigade_ordering', true), set_config('brigade.tenant_id', md5(:client_id::text)::uuid::text, true), set_config('brigade.actor_kind', 'customer', true), set_config('brigade.actor_id', 'x', true);
SELECT platform.enter_tenant(md5(:client_id::text)::uuid, '');
WITH append_hook AS (insert into "ordering".outbox (message_id, subject, aggregate_key, headers, payload)
select e.message_id, 'ordering.order.' || e.type, 'order-' || :aid,
       jsonb_build_object('correlation', e.metadata ->> 'correlationId', 'causation', coalesce(e.metadata ->> 'causationId', ''), 'tenant', coalesce(current_setting('brigade.tenant_id', true), ''),
                          'traceparent', case when jsonb_typeof(e.metadata -> 'extra' -> 'traceparent') = 'string' then e.metadata -> 'extra' ->> 'traceparent' else '' end),
       e.data
  from unnest(ARRAY[gen_random_uuid()], ARRAY['OrderPlaced'], ARRAY[jsonb_build_object('orderId', 'x', 'lines', jsonb_build_array(jsonb_build_object('name', 'Margherita', 'unitPrice', 950, 'quantity', 2)), 'total', 2200)], ARRAY[jsonb_build_object('correlationId', 'x', 'causationId', null, 'actor', jsonb_build_object('kind', 'customer', 'id', 'x'), 'source', 'ordering', 'occurredAt', '2026-12-02T09:00:00Z')]) with ordinality as e(message_id, type, data, metadata, n)
 order by e.n)
SELECT o_global_position FROM ordering.append_events(md5(:client_id::text)::uuid, 'order-' || :aid, 0, ARRAY[gen_random_uuid()], ARRAY['OrderPlaced'], ARRAY[1], ARRAY[jsonb_build_object('orderId', 'x', 'lines', jsonb_build_array(jsonb_build_object('name', 'Margherita', 'unitPrice', 950, 'quantity', 2)), 'total', 2200)], ARRAY[jsonb_build_object('correlationId', 'x', 'causationId', null, 'actor', jsonb_build_object('kind', 'customer', 'id', 'x'), 'source', 'ordering', 'occurredAt', '2026-12-02T09:00:00Z')]);
COMMIT;
