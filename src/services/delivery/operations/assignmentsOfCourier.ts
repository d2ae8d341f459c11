import type { Tx } from '../../../platform/db/index.ts';
import type { CommandCause } from '../ports.ts';
import { causeOfRow, type CauseColumns } from './dispatchCause.ts';

/** An order assigned to a courier, with ordering's number of the assignment ({@link assignmentsOfCourier}). */
export interface CourierAssignment {
  readonly tenantId: string;
  readonly orderId: string;
  /** Ordering's number of the assignment: `unassign-courier` takes a courier off by number only. */
  readonly assignment: number;
  /** The order event that queued the order: the cause of a command about it. */
  readonly cause: CommandCause;
}

/**
 * The orders delivery has assigned to `courierId` with ordering's number of the assignment (its
 * CourierAssigned applied), of every restaurant, oldest assignment first. Delivery does not hear of
 * pick-ups: the ones the courier picked up are among them, and ordering tells them apart (its
 * `unassign-courier` refuses a picked-up order). An assignment ordering has not confirmed yet (no
 * number) is left out. A read; run as the system actor.
 */
export async function assignmentsOfCourier(tx: Tx, courierId: string): Promise<CourierAssignment[]> {
  const { rows } = await tx.query<{ tenant_id: string; order_id: string; courier_assignment: number } & CauseColumns>(
    `select tenant_id, order_id, courier_assignment, causation_id, correlation_id, traceparent from delivery.dispatch_queue
      where courier_id = $1 and state = 'assigned' and courier_assignment is not null
      order by assigned_at, order_id`,
    [courierId],
  );
  return rows.map((row) => ({ tenantId: row.tenant_id, orderId: row.order_id, assignment: row.courier_assignment, cause: causeOfRow(row) }));
}
