import pg from 'pg';
import type { Tx } from '../db/index.ts';
import { ValidationError } from '../errors/index.ts';
import type { EventStore, RecordedEvent } from '../events/index.ts';
import type { EnvelopeProjection, ProjectionBase, ProjectionReplay, ViewRow } from './types.ts';

/** Options of {@link defineProjection}. */
export interface ProjectionOptions {
  /** Unique within the schema; lower-case letters, digits, `_` and `-`. */
  readonly name: string;
  /** The service whose role reads and writes, e.g. `ordering`. */
  readonly service: string;
  /** The schema of the events, the checkpoint table and the view table. */
  readonly schema: string;
  /** The view table, unqualified. A rebuild uses `<table>_rebuild` beside it. */
  readonly table: string;
  /** The event store of `schema`. */
  readonly store: EventStore;
  /** Only these event types reach `apply` (the checkpoint passes the others). Default: all. */
  readonly eventTypes?: readonly string[];
  /** See {@link EnvelopeProjection.apply}. */
  readonly apply: (tx: Tx, events: readonly RecordedEvent[], target: string) => Promise<readonly ViewRow[]>;
  /** See {@link ProjectionBase.replay}. Absent: a rebuild replays through `apply`. */
  readonly replay?: () => ProjectionReplay;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,50}$/;
const NAME = /^[a-z][a-z0-9_-]{0,99}$/;

/**
 * Declares a projection whose `apply` takes whole envelopes. The runner (`runProjection`) and the
 * rebuild (`rebuildProjection`) take it. A projection that needs only fold events is cheaper to run
 * live: see `defineRowProjection`.
 *
 * @example
 * const audit = defineProjection({ name: 'audit', service: 'ordering', schema: 'ordering', table: 'audit_view', store,
 *   apply: async (tx, events, target) => { ...; return []; } });
 */
export function defineProjection(options: ProjectionOptions): EnvelopeProjection {
  if (!NAME.test(options.name)) throw new ValidationError('name must be lower-case letters, digits, _ or -', { field: 'name' });
  for (const field of ['service', 'schema', 'table'] as const) {
    if (!IDENTIFIER.test(options[field])) throw new ValidationError(`${field} must be a lower-case SQL identifier of at most 51 characters`, { field });
  }
  if (options.store.schema !== options.schema) throw new ValidationError('store must be the event store of schema', { field: 'store' });
  return Object.freeze({
    name: options.name,
    service: options.service,
    schema: options.schema,
    table: options.table,
    store: options.store,
    ...(options.eventTypes === undefined ? {} : { eventTypes: new Set(options.eventTypes) }),
    apply: options.apply,
    ...(options.replay === undefined ? {} : { replay: options.replay }),
  });
}

/**
 * `<schema>.<name>`: a projection's identity across schemas, as its leader lock, its notifications
 * (batches, wake-ups) and its metrics label carry it.
 */
export function projectionKey(projection: Pick<ProjectionBase, 'schema' | 'name'>): string {
  return `${projection.schema}.${projection.name}`;
}

/** `"schema"."table"` of a projection, or of another table beside it (a rebuild's shadow). */
export function qualifiedTable(projection: Pick<ProjectionBase, 'schema' | 'table'>, table: string = projection.table): string {
  return `${pg.escapeIdentifier(projection.schema)}.${pg.escapeIdentifier(table)}`;
}

/** `"schema".projection_checkpoints`. */
export function checkpointTable(projection: Pick<ProjectionBase, 'schema'>): string {
  return `${pg.escapeIdentifier(projection.schema)}.projection_checkpoints`;
}
