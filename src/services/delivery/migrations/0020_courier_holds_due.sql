-- brigade:no-transaction
-- The dispatch's sweep settles staff holds of couriers whose lease has ended (decision 0084, "Fixed
-- later (dispatch review)"): a hold stands until ordering's CourierAssigned for the held order ends it
-- or the sweep, asking ordering, finds that the order does not have that courier. Every dispatch step
-- with no notice due looks for the hold due longest ago (`claimDueHold`); held couriers are a handful
-- among a city's couriers, so a partial index keeps that look-up from reading every availability row.
-- Built CONCURRENTLY (writers are not blocked while it builds), so outside a transaction. A build that
-- failed leaves an invalid index behind, and this file runs again: the index is dropped first, then built.
drop index concurrently if exists delivery.courier_availability_held;
create index concurrently courier_availability_held on delivery.courier_availability (held_until) where held_until is not null;
