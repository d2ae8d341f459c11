import type { Tx } from '../db/index.ts';
import type { SagaRegistry } from './createSagaRegistry.ts';
import { instanceOf, type SagaRow } from './sagaRows.ts';
import type { SagaInstance } from './types.ts';

/** The saga instance `sagaId` as the transaction sees it (its tenant's, or any for `system`), or `null`. */
export async function loadSaga<S = unknown>(tx: Tx, registry: SagaRegistry, sagaId: string): Promise<SagaInstance<S> | null> {
  const { rows } = await tx.query<SagaRow>(`select * from ${registry.table('saga_instances')} where id = $1`, [sagaId]);
  return rows[0] === undefined ? null : instanceOf<S>(rows[0]);
}
