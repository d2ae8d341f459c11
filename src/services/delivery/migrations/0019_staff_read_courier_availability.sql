-- Staff read the couriers they may assign (GET /v1/restaurants/:rid/couriers, decision 0089).
--
-- A restaurant's staff assign a courier of the restaurant's city to an order the dispatch found no
-- courier for (POST /v1/orders/:id/assign-courier), and until now no route could tell them who those
-- couriers are: courier availability was readable by the courier themselves, the dispatch (system)
-- and admins only. Staff may now read the rows; the route reads only the restaurant's city, and
-- answers only who each courier is, whether they are available, busy or held, and since when: never
-- the order a courier carries (another restaurant's).
--
-- Not a tenant table (a courier serves every restaurant of their city), so the policy is on the actor
-- kind, read once per statement as an InitPlan as the table's other policies do. Select only: staff
-- change a courier's availability only through ordering's assign-courier and its reservation.
-- CREATE POLICY takes the table's ACCESS EXCLUSIVE lock for a moment; behind a long dispatch
-- transaction this fails after 5 s, to run again later, instead of queueing the dispatch behind it.
set local lock_timeout = '5s';

drop policy if exists staff_read on delivery.courier_availability;
create policy staff_read on delivery.courier_availability for select
  using ((select current_setting('brigade.actor_kind', true)) = 'staff');
