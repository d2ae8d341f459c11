import type { Tx } from '../db/index.ts';
import { START, type GlobalPosition } from '../events/index.ts';
import { checkpointTable } from './defineProjection.ts';
import type { Projection } from './types.ts';

/** The projection's stored checkpoint, or the start of the log when it has none yet. */
export async function readCheckpoint(tx: Tx, projection: Pick<Projection, 'schema' | 'name'>): Promise<GlobalPosition> {
  const { rows } = await tx.query<{ transaction_id: string; position: string }>(
    `select transaction_id::text as transaction_id, position::text as position from ${checkpointTable(projection)} where name = $1`,
    [projection.name],
  );
  const row = rows[0];
  return row === undefined ? START : { transactionId: BigInt(row.transaction_id), position: BigInt(row.position) };
}
