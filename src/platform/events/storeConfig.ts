import pg from 'pg';
import type { Statement, UnitOfWorkContext } from '../db/index.ts';
import { ValidationError } from '../errors/index.ts';
import { createUpcasters, type Upcasters } from './createUpcasters.ts';
import type { PendingEvent } from './types.ts';

/** Options for {@link createEventStore}. */
export interface EventStoreOptions {
  /** Schema holding the `events` table made by `eventStoreSchemaSql`, e.g. `ordering`. */
  readonly schema: string;
  /** Upcasters applied on every read. Default none. */
  readonly upcasters?: Upcasters;
  /** Clock for `occurredAt` when an event does not bring its own. Default `() => new Date()`. */
  readonly clock?: () => Date;
  /**
   * Statements that must commit with every append (outbox messages), built from the envelopes being
   * appended. They run in the appending transaction right after the append, in the same round trip,
   * and only if the append succeeded; a statement that fails rolls the append back, and a throw here
   * refuses the append before anything is sent.
   *
   * @example
   * createEventStore({ schema: 'ordering', onAppend: outboxOnAppend('ordering', 'order') })
   */
  readonly onAppend?: (context: UnitOfWorkContext, events: readonly PendingEvent[]) => readonly Statement[];
}

/** A store's resolved settings, shared by the operations. Internal. */
export interface StoreConfig {
  readonly schema: string;
  /** `"schema".events`, escaped once. */
  readonly table: string;
  /** The append statement, values to be bound. */
  readonly appendStatement: Statement;
  readonly upcasters: Upcasters;
  readonly clock: () => Date;
  readonly onAppend: EventStoreOptions['onAppend'];
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/** Validates the options and escapes the table name once. */
export function resolveStoreConfig(options: EventStoreOptions): StoreConfig {
  if (!IDENTIFIER.test(options.schema)) throw new ValidationError('schema must be a lower-case SQL identifier', { field: 'schema' });
  return Object.freeze({
    schema: options.schema,
    table: `${pg.escapeIdentifier(options.schema)}.events`,
    appendStatement: {
      name: `brigade_append_${options.schema}`,
      text:
        `select o_global_position::text as global_position, o_transaction_id::text as transaction_id, o_stream_version::text as stream_version, o_recorded_at as recorded_at ` +
        `from ${pg.escapeIdentifier(options.schema)}.append_events($1, $2, $3, $4::uuid[], $5::text[], $6::int[], $7::jsonb[], $8::jsonb[])`,
    },
    upcasters: options.upcasters ?? createUpcasters(),
    clock: options.clock ?? (() => new Date()),
    onAppend: options.onAppend,
  });
}
