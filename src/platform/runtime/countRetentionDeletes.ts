import type client from 'prom-client';
import { sharedCounter } from './sharedMetric.ts';

/**
 * The `onBatch` of a retention loop ({@link runRetentionPasses}) that counts the rows it deleted in
 * `brigade_retention_deleted_total{table}` of `registry`: how much a retention worker deletes, and
 * whether it deletes at all (a series that stays flat while its table grows). The series is there,
 * at 0, from the first call on.
 *
 * @param table - the table pruned, schema-qualified: `platform.token_revocations`.
 * @example
 * runRetentionPasses({ …, onBatch: countRetentionDeletes(deps.metrics, 'platform.customer_sign_in_attempts') })
 */
export function countRetentionDeletes(registry: client.Registry, table: string): (deleted: number) => void {
  const counter = sharedCounter(registry, { name: 'brigade_retention_deleted_total', help: 'Rows deleted by a retention worker, by table', labelNames: ['table'] });
  counter.inc({ table }, 0);
  return (deleted) => counter.inc({ table }, deleted);
}
