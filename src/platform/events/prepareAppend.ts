import type pg from 'pg';
import type { Statement, UnitOfWorkContext } from '../db/index.ts';
import { ConcurrencyError, ValidationError } from '../errors/index.ts';
import { TRANSACTION_ORDER, WRONG_EXPECTED_VERSION } from './appendFunctionSql.ts';
import type { StoredMetadata } from './rowToEvent.ts';
import type { StoreConfig } from './storeConfig.ts';
import type { EventMetadata, ExpectedVersion, NewEvent, PendingEvent, RecordedEvent } from './types.ts';
import { uuidv7 } from './uuidv7.ts';
import { isUuid } from '../ids/index.ts';

/** Lineage of an append: what caused it. */
export interface AppendOptions {
  /**
   * The message being handled: its `correlationId` is kept and its `messageId` becomes the causation
   * id. Takes precedence over `correlationId`/`causationId`.
   */
  readonly causedBy?: Pick<EventMetadata, 'messageId' | 'correlationId'>;
  /** Correlation id (a UUID). Default: the first appended event's message id. */
  readonly correlationId?: string;
  /** Causation id (a UUID). Default `null`. */
  readonly causationId?: string | null;
}

/** The outcome of an append. */
export interface AppendResult {
  /** The stream's version now: pass it as the expected version of the next append. */
  readonly nextExpectedVersion: number;
  /** The stored envelopes, in order (global positions, recorded time included). */
  readonly events: readonly RecordedEvent[];
}

/**
 * An append turned into statements: the append itself, then the store's `onAppend` statements. Run
 * them in one transaction, in order (pipelined: one round trip), and hand their results, or the
 * first error, back.
 */
export interface PreparedAppend {
  readonly statements: readonly Statement[];
  /** The outcome, from the results of {@link statements} (the append's is the first). */
  result(results: readonly pg.QueryResult[]): AppendResult;
  /** Maps the first error of the statements to the store's typed errors (e.g. `ConcurrencyError`). */
  error(cause: unknown): unknown;
}

const MAX_STREAM_ID = 200;

interface AppendRow {
  global_position: string;
  transaction_id: string;
  stream_version: string;
  recorded_at: Date;
}

/**
 * Validates an append to a stream of `context`'s tenant and builds its statements. Nothing is sent.
 *
 * @throws {ValidationError} no tenant in the context, no events, or a malformed input.
 */
export function prepareAppend(
  config: StoreConfig,
  context: UnitOfWorkContext,
  streamId: string,
  events: readonly NewEvent[],
  expectedVersion: ExpectedVersion,
  options: AppendOptions = {},
): PreparedAppend {
  const tenantId = context.tenantId;
  if (tenantId == null) throw new ValidationError('Appending needs a tenant in the unit of work', { field: 'tenantId' });
  if (typeof streamId !== 'string' || streamId.length === 0 || streamId.length > MAX_STREAM_ID) {
    throw new ValidationError(`streamId must be 1–${MAX_STREAM_ID} characters`, { field: 'streamId' });
  }
  if (expectedVersion !== 'any' && (!Number.isSafeInteger(expectedVersion) || expectedVersion < 0)) {
    throw new ValidationError("expectedVersion must be a non-negative integer or 'any'", { field: 'expectedVersion' });
  }
  if (events.length === 0) throw new ValidationError('Append at least one event', { field: 'events' });

  const now = config.clock();
  const correlationInput = options.causedBy?.correlationId ?? options.correlationId;
  const causationId = options.causedBy?.messageId ?? options.causationId ?? null;
  const actor = context.actor == null ? null : { kind: context.actor.kind, id: context.actor.id };
  const pending: PendingEvent[] = [];
  const stored: StoredMetadata[] = [];
  for (const [i, e] of events.entries()) {
    if (typeof e.type !== 'string' || e.type.length === 0 || e.type.length > 200) throw new ValidationError('type must be 1–200 characters', { field: `events[${i}].type` });
    const schemaVersion = e.schemaVersion ?? 1;
    if (!Number.isInteger(schemaVersion) || schemaVersion < 1) throw new ValidationError('schemaVersion must be a positive integer', { field: `events[${i}].schemaVersion` });
    if (e.data === undefined) throw new ValidationError('data is required', { field: `events[${i}].data` });
    const messageId = e.messageId ?? uuidv7(now.getTime());
    const correlationId = correlationInput ?? pending[0]?.metadata.messageId ?? messageId;
    const meta: StoredMetadata = {
      correlationId,
      causationId,
      actor,
      source: context.service,
      occurredAt: (e.occurredAt ?? now).toISOString(),
      ...(e.encryption === undefined ? {} : { encryption: { keyId: e.encryption.keyId, fields: [...e.encryption.fields] } }),
      ...(e.extra === undefined ? {} : { extra: { ...e.extra } }),
    };
    stored.push(meta);
    pending.push({ streamId, type: e.type, schemaVersion, data: e.data, metadata: { messageId, tenantId, ...meta } });
  }
  const first = pending[0]!.metadata;
  for (const [field, id] of [['correlationId', first.correlationId], ['causationId', causationId], ...pending.map((p) => ['messageId', p.metadata.messageId])] as const) {
    if (id !== null && !isUuid(id)) throw new ValidationError(`${field} must be a UUID`, { field });
  }

  config.appendSql?.validate?.(pending);

  const append: Statement = {
    ...config.appendStatement,
    values: [
      tenantId,
      streamId,
      expectedVersion === 'any' ? null : expectedVersion,
      pending.map((p) => p.metadata.messageId),
      pending.map((p) => p.type),
      pending.map((p) => p.schemaVersion),
      pending.map((p) => JSON.stringify(p.data)),
      stored.map((m) => JSON.stringify(m)),
    ],
  };
  const hooked = config.onAppend?.(context, pending) ?? [];

  return {
    statements: [append, ...hooked],
    error: (cause) => appendError(cause, config, streamId, expectedVersion),
    result: (results) => {
      const rows = [...(results[0]?.rows as AppendRow[] | undefined ?? [])].sort((a, b) => Number(a.stream_version) - Number(b.stream_version));
      if (rows.length !== pending.length) throw new Error(`append_events returned ${rows.length} rows for ${pending.length} events`);
      const appended: RecordedEvent[] = rows.map((row, i) => {
        const p = pending[i]!;
        const metadata: EventMetadata = { ...p.metadata, recordedAt: row.recorded_at.toISOString() };
        const raised = config.upcasters.apply(p.type, p.schemaVersion, p.data, metadata);
        return {
          streamId,
          streamVersion: Number(row.stream_version),
          type: p.type,
          schemaVersion: raised.schemaVersion,
          storedSchemaVersion: p.schemaVersion,
          data: raised.data,
          metadata,
          globalPosition: { transactionId: BigInt(row.transaction_id), position: BigInt(row.global_position) },
        };
      });
      return { nextExpectedVersion: appended.at(-1)!.streamVersion, events: appended };
    },
  };
}

/**
 * The append's SQL errors as `ConcurrencyError`s: a stale expected version (BRVER), an older
 * transaction appending after a newer one (BRORD, decision 0011), or a concurrent append that
 * committed the same version first (23505 on the primary key).
 */
function appendError(error: unknown, config: StoreConfig, streamId: string, expectedVersion: ExpectedVersion): unknown {
  const e = error as { code?: string; constraint?: string; schema?: string; detail?: string };
  const expected = expectedVersion === 'any' ? 'any' : expectedVersion;
  if (e.code === WRONG_EXPECTED_VERSION) {
    const current = Number(e.detail);
    return new ConcurrencyError(expected, current, `Stream ${streamId} is at version ${current}, not ${String(expectedVersion)}`, { streamId });
  }
  if (e.code === TRANSACTION_ORDER) {
    return new ConcurrencyError(expected, Number(e.detail), `Stream ${streamId} was appended to by a newer transaction after this one began writing; retry in a new transaction`, {
      streamId,
      reason: 'TRANSACTION_ORDER',
    });
  }
  if (e.code === '23505' && e.constraint === 'events_pkey' && e.schema === config.schema) {
    const winner = expectedVersion === 'any' ? null : expectedVersion + 1;
    return new ConcurrencyError(expected, winner, `Stream ${streamId} was appended to concurrently: another transaction committed version ${winner ?? 'the next version'} first`, {
      streamId,
      reason: 'CONCURRENT_APPEND',
    });
  }
  return error;
}
