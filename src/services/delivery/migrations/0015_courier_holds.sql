-- Staff's reassignment holds the courier they chose off the dispatch (decision 0084, "Later: a
-- reassignment holds the chosen courier"). A reservation for an order that already holds another
-- courier leaves that order's row alone (ordering's append may still fail), so the chosen courier is
-- marked on their own availability row instead: not dispatched until `held_until`, or until ordering's
-- CourierAssigned for that order (`held_tenant_id`, `held_order_id`) is applied.
--
-- On the availability row, not in a table of its own: the dispatch's claim locks that row
-- (FOR UPDATE SKIP LOCKED) and PostgreSQL re-checks the claim's conditions on the row's newest version
-- (EvalPlanQual), so a hold committed after the claim's snapshot but before its lock is still seen. A
-- NOT EXISTS over another table is evaluated with the claim's snapshot only and would miss it.
--
-- Safe on a live database: nullable columns without a default change the catalog only (no rewrite),
-- under ACCESS EXCLUSIVE for a moment; lock_timeout so that behind a long dispatch transaction this
-- fails after 5 s, to run again later, instead of queueing the dispatch behind it.
set local lock_timeout = '5s';
alter table delivery.courier_availability add column if not exists held_until timestamptz;
alter table delivery.courier_availability add column if not exists held_tenant_id uuid;
alter table delivery.courier_availability add column if not exists held_order_id uuid;
