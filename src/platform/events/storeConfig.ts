import pg from 'pg';
import type { Tx } from '../db/index.ts';
import { ValidationError } from '../errors/index.ts';
import { createUpcasters, type Upcasters } from './createUpcasters.ts';
import type { RecordedEvent } from './types.ts';

/** Options for {@link createEventStore}. */
export interface EventStoreOptions {
  /** Schema holding the `events` table made by `eventStoreSchemaSql`, e.g. `ordering`. */
  readonly schema: string;
  /** Upcasters applied on every read. Default none. */
  readonly upcasters?: Upcasters;
  /** Clock for `occurredAt` when an event does not bring its own. Default `() => new Date()`. */
  readonly clock?: () => Date;
  /**
   * Runs inside the appending transaction right after each append, with the stored envelopes: the
   * place to write outbox messages that must commit with the events. A throw rolls the append back.
   */
  readonly onAppended?: (tx: Tx, events: readonly RecordedEvent[]) => void | Promise<void>;
}

/** A store's resolved settings, shared by the operations. Internal. */
export interface StoreConfig {
  readonly schema: string;
  /** `"schema".events`, escaped once. */
  readonly table: string;
  /** `"schema".append_events`, escaped once. */
  readonly appendFunction: string;
  readonly upcasters: Upcasters;
  readonly clock: () => Date;
  readonly onAppended: EventStoreOptions['onAppended'];
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/** Validates the options and escapes the table name once. */
export function resolveStoreConfig(options: EventStoreOptions): StoreConfig {
  if (!IDENTIFIER.test(options.schema)) throw new ValidationError('schema must be a lower-case SQL identifier', { field: 'schema' });
  return Object.freeze({
    schema: options.schema,
    table: `${pg.escapeIdentifier(options.schema)}.events`,
    appendFunction: `${pg.escapeIdentifier(options.schema)}.append_events`,
    upcasters: options.upcasters ?? createUpcasters(),
    clock: options.clock ?? (() => new Date()),
    onAppended: options.onAppended,
  });
}
