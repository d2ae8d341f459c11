-- The live-board shows an alert on an order that delivery could not find a courier for
-- (DispatchAlertRaised, recorded from delivery.dispatch.DispatchFailed; cleared by CourierAssigned).
-- Decision record: docs/decisions/0053-dispatch-alerts-on-the-live-board.md.
--
-- Expand only: a nullable column, no default to write, so the ALTER takes its lock for a moment and
-- rewrites nothing. Existing rows read null (no alert) until the projector next touches them; a
-- rebuild (blue/green, `create table … (like … including all)`) carries the column.
alter table ordering.board_view add column dispatch_alert jsonb;
