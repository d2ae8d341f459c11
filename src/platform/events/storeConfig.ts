import { createHash } from 'node:crypto';
import pg from 'pg';
import type { Statement, UnitOfWorkContext } from '../db/index.ts';
import { ValidationError } from '../errors/index.ts';
import { appendMerge } from './appendMerge.ts';
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
   * Statements that must commit with every append, built in Node from the envelopes being appended.
   * They run in the appending transaction right after the append, in the same round trip, and only if
   * the append succeeded; a statement that fails rolls the append back, and a throw here refuses the
   * append before anything is sent. (Outbox rows are cheaper as `appendSql`: they need no second copy
   * of the events.)
   *
   * @example
   * createEventStore({ schema: 'ordering', onAppend: (context, events) => [auditStatement(context, events)] })
   */
  readonly onAppend?: (context: UnitOfWorkContext, events: readonly PendingEvent[]) => readonly Statement[];
  /**
   * SQL that writes with every append in the append's own statement, reading the values the append
   * binds (no second copy of the events travels, is parsed or is planned): the outbox rows of
   * `outboxAppendSql`. Its rows exist only if the append succeeded, and its failure fails the append.
   *
   * @example
   * createEventStore({ schema: 'ordering', appendSql: outboxAppendSql('ordering', 'order') })
   */
  readonly appendSql?: AppendSql;
  /**
   * Let the group committer merge appends of several units of work into one statement
   * (docs/decisions/0063). Needs the schema's third migration (`mergedAppendSchemaSql`) and, with an
   * `appendSql`, its `batchSql`; an append with `onAppend` or `extra` statements is not merged. Default `true`.
   */
  readonly mergeAppends?: boolean;
}

/**
 * A data-modifying statement that an append runs as a WITH query of its own statement. It may read the
 * append's parameters, cast exactly so: `$1::uuid` tenant id, `$2::text` stream id, `$4::uuid[]` message
 * ids, `$5::text[]` types, `$6::int[]` schema versions, `$7::jsonb[]` data and `$8::jsonb[]` stored
 * metadata (`correlationId`, `causationId`, `actor`, `source`, `occurredAt`, `extra`), one element per
 * event in append order.
 */
export interface AppendSql {
  readonly sql: string;
  /**
   * The same rows for a merged append of several streams and tenants (docs/decisions/0063): a
   * data-modifying statement reading the relation `appended` (`tenant_id` uuid, `stream_id` text,
   * `stream_version` bigint, `message_id` uuid, `type` text, `schema_version` int, `data` jsonb,
   * `metadata` jsonb, `n`: the row's order). Without it the store's appends are not merged.
   */
  readonly batchSql?: string;
  /** Refuses events the SQL cannot take (throws a `ValidationError`) before anything is sent. */
  readonly validate?: (events: readonly PendingEvent[]) => void;
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
  readonly appendSql: AppendSql | undefined;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/** Validates the options and escapes the table name once. */
export function resolveStoreConfig(options: EventStoreOptions): StoreConfig {
  if (!IDENTIFIER.test(options.schema)) throw new ValidationError('schema must be a lower-case SQL identifier', { field: 'schema' });
  return Object.freeze({
    schema: options.schema,
    table: `${pg.escapeIdentifier(options.schema)}.events`,
    appendStatement: appendStatement(options),
    upcasters: options.upcasters ?? createUpcasters(),
    clock: options.clock ?? (() => new Date()),
    onAppend: options.onAppend,
    appendSql: options.appendSql,
  });
}

/**
 * The append statement (values to be bound), with the store's `appendSql` as a WITH query. One statement
 * succeeds or fails whole: when the append refuses (a version check), the hook's rows are not written
 * either. A prepared statement's name stands for one text on every connection, so a hooked text gets a
 * name of its own. With `merge` the group committer may run it merged with other units' appends.
 */
function appendStatement(options: EventStoreOptions): Statement {
  const { schema } = options;
  const hook = options.appendSql?.sql;
  const mergeable = options.mergeAppends !== false && (hook === undefined || options.appendSql?.batchSql !== undefined);
  const merge = mergeable ? { merge: appendMerge(schema, options.appendSql?.batchSql) } : {};
  const append =
    `select o_global_position::text as global_position, o_transaction_id::text as transaction_id, o_stream_version::text as stream_version, o_recorded_at as recorded_at ` +
    `from ${pg.escapeIdentifier(schema)}.append_events($1::uuid, $2::text, $3::bigint, $4::uuid[], $5::text[], $6::int[], $7::jsonb[], $8::jsonb[])`;
  if (hook === undefined) return { name: `brigade_append_${schema}`, text: append, ...merge };
  const text = `with append_hook as (\n${hook}\n)\n${append}`;
  return { name: `brigade_append_${schema}_${createHash('sha256').update(text).digest('hex').slice(0, 12)}`, text, ...merge };
}
