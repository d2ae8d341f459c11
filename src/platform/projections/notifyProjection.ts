import type { Tx } from '../db/index.ts';
import type { GlobalPosition } from '../events/index.ts';
import { projectionKey } from './defineProjection.ts';
import { formatPosition } from './position.ts';
import type { Projection } from './types.ts';

/** The channel every write that moves a projection's checkpoint notifies on, with payload `<schema>.<name> <position>`. */
export const PROJECTION_CHANNEL = 'brigade_projections';

/**
 * Tells the projection's listeners (`listenToProjections`: the live-board stream, the `?after=` waits)
 * that its checkpoint moved to `checkpoint`, in the caller's transaction: the NOTIFY is delivered when
 * it commits, and never if it rolls back. Every writer that moves a checkpoint past events it applied
 * sends it: each live batch (`applyBatch`) and a rebuild's swap, whose catch-up may apply events the
 * live projector then never sees.
 */
export function notifyProjection(tx: Tx, projection: Pick<Projection, 'schema' | 'name'>, checkpoint: GlobalPosition): Promise<unknown> {
  return tx.query('select pg_notify($1, $2)', [PROJECTION_CHANNEL, `${projectionKey(projection)} ${formatPosition(checkpoint)}`]);
}
