import type { SagaInstance, SagaStatus } from './types.ts';

/** A row of `<schema>.saga_instances`. */
export interface SagaRow {
  tenant_id: string;
  id: string;
  name: string;
  state: unknown;
  version: number;
  status: SagaStatus;
  pending: string[];
  completed: string[];
  failed: string[];
  attempts: number;
  error: string | null;
  error_before_park: string | null;
}

/** Maps a row to the instance the runtime hands out. */
export function instanceOf<S = unknown>(row: SagaRow): SagaInstance<S> {
  return {
    tenantId: row.tenant_id,
    id: row.id,
    name: row.name,
    state: row.state as S,
    version: row.version,
    status: row.status,
    pending: row.pending,
    completed: row.completed,
    failed: row.failed,
    attempts: row.attempts,
    error: row.error,
    errorBeforePark: row.error_before_park ?? null,
  };
}
