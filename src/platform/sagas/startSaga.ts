import { randomUUID } from 'node:crypto';
import type { Tx } from '../db/index.ts';
import { ValidationError } from '../errors/index.ts';
import { applySagaStart } from './applySagaEvent.ts';
import type { SagaRegistry } from './createSagaRegistry.ts';
import { instanceOf, type SagaRow } from './sagaRows.ts';
import { announceDueStep } from './sagaWork.ts';
import type { SagaInstance } from './types.ts';
import { writeDeadlines } from './writeDeadlines.ts';

/** What to start. */
export interface StartSagaOptions<I> {
  /** The saga type's name. */
  readonly name: string;
  /** The instance id; a new UUID when absent. Starting an id that exists changes nothing (idempotent start). */
  readonly id?: string;
  readonly input: I;
}

/**
 * Starts a saga instance in the caller's transaction (so it commits with the change that caused it),
 * in the transaction's tenant: its initial state, the first steps `start` decided, and their deadlines.
 * The runner picks the steps up after commit: an idle runner in this process at once (decision 0073).
 *
 * @returns the instance, and whether this call created it (`false`: the id existed and is returned as is).
 */
export async function startSaga<S = unknown, I = unknown>(tx: Tx, registry: SagaRegistry, options: StartSagaOptions<I>): Promise<{ instance: SagaInstance<S>; created: boolean }> {
  const tenantId = tx.context.tenantId;
  if (tenantId === undefined || tenantId === null) throw new ValidationError('A saga belongs to a tenant: start it in a transaction with a tenant', { field: 'tenantId' });
  const definition = registry.definition(options.name);
  const id = options.id ?? randomUUID();
  const t = applySagaStart(definition, options.input);
  // The instance and its first log entry (version 1, `started`, with the input) in one statement.
  const { rows } = await tx.query<SagaRow>(
    `with created as (
       insert into ${registry.table('saga_instances')} (tenant_id, id, name, state, status, pending, completed, error)
       values ($1, $2, $3, $4::jsonb, $5, $6::text[], $7::text[], $8)
       on conflict (tenant_id, id) do nothing
       returning *),
     logged as (
       insert into ${registry.table('saga_log')} (tenant_id, saga_id, version, kind, item, status, data)
       select tenant_id, id, version, 'started', name, status, $9::jsonb from created)
     select * from created`,
    [tenantId, id, definition.name, JSON.stringify(t.state), t.status, t.pending, t.completed, t.error, JSON.stringify(options.input ?? null)],
  );
  if (rows[0] === undefined) {
    const existing = await tx.query<SagaRow>(`select * from ${registry.table('saga_instances')} where tenant_id = $1 and id = $2`, [tenantId, id]);
    return { instance: instanceOf<S>(existing.rows[0] as SagaRow), created: false };
  }
  await writeDeadlines(tx, registry, tenantId, id, t);
  if (t.pending.length > 0) announceDueStep(tx, registry);
  return { instance: instanceOf<S>(rows[0]), created: true };
}
