-- Messages of a moved restaurant leave in the order they were written (decision 0008). Outbox rows have
-- no tenant, so the ones the shared relays had not yet published when a restaurant moved stay in the
-- shared outboxes, while its new ones are written in its own database. The move records, per outbox
-- schema, the last row in the relay's order that the shared relay had not yet published
-- ({"ordering": {"transactionId": "…", "id": "…"}}; none when it had published everything), and the
-- relays of the restaurant's database start only once the shared relay's checkpoint has passed it.
-- Every tenant transaction reads this table in its fence: wait at most 5 s for the lock (then fail, to
-- be run again).
set local lock_timeout = '5s';
alter table platform.tenant_placements add column if not exists outbox_marks jsonb not null default '{}'::jsonb;
