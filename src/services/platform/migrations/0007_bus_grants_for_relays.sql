-- In-database relay (docs/decisions/0056): a service's outbox relay, running as the service role, copies
-- its claimed rows into the PostgreSQL bus of the same database with one INSERT … SELECT. The service
-- roles may therefore add messages and their deliveries to the bus, and read what that statement reads
-- back (the subscriptions to fan out to, and the RETURNING columns). Nothing else: no update, no delete.
grant usage on schema brigade_bus to brigade_platform, brigade_menu, brigade_ordering, brigade_delivery, brigade_payments;
grant select on brigade_bus.subscriptions to brigade_platform, brigade_menu, brigade_ordering, brigade_delivery, brigade_payments;
grant insert, select (id, subject) on brigade_bus.messages to brigade_platform, brigade_menu, brigade_ordering, brigade_delivery, brigade_payments;
grant insert, select (subscription, message_id) on brigade_bus.deliveries to brigade_platform, brigade_menu, brigade_ordering, brigade_delivery, brigade_payments;
