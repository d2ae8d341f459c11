-- brigade:no-transaction
-- The lists of open orders read through indexes of open orders only (decision 0065). The live-board
-- (`GET /v1/restaurants/:rid/board`) and the courier task-list (`GET /v1/couriers/me/tasks`) list the
-- orders that are not finished; a view keeps every order it ever saw, so without these the board read
-- every order a restaurant ever had and sorted them, and a courier's list every task the courier ever
-- had, on each request. The predicate is the routes' own, word for word with FINISHED_STATUSES
-- (src/services/ordering/views/orderEventsOf.ts), so that the planner can prove the index applies; a
-- test checks the plans.
--
-- Built CONCURRENTLY (reads and the projector's writes go on while it builds), so outside a
-- transaction. A build that failed leaves an invalid index behind, and this file runs again: each
-- index is dropped first, then built.
drop index concurrently if exists ordering.board_view_open;
create index concurrently board_view_open on ordering.board_view (tenant_id, placed_at, order_id)
  where status not in ('delivered', 'rejected', 'cancelled');
drop index concurrently if exists ordering.courier_tasks_view_open;
create index concurrently courier_tasks_view_open on ordering.courier_tasks_view (courier_id, assigned_at desc, order_id)
  where courier_id is not null and status not in ('delivered', 'rejected', 'cancelled');
