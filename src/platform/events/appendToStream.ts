import type { Tx } from '../db/index.ts';
import { ConcurrencyError, ValidationError } from '../errors/index.ts';
import type { StoredMetadata } from './rowToEvent.ts';
import type { StoreConfig } from './storeConfig.ts';
import type { EventMetadata, ExpectedVersion, NewEvent, RecordedEvent } from './types.ts';
import { uuidv7 } from './uuidv7.ts';

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

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_STREAM_ID = 200;

interface AppendRow {
  version: string;
  reordered: boolean | null;
  global_position: string | null;
  transaction_id: string | null;
  stream_version: string | null;
  recorded_at: Date | null;
}

/**
 * Appends `events` to a stream of the transaction's tenant, in the caller's transaction, if the stream
 * is at `expectedVersion`. One statement, one round trip.
 *
 * @throws {ConcurrencyError} the stream is not at `expectedVersion`, or another transaction appended
 *   the same version first (the primary key on (tenant, stream, version) makes exactly one of several
 *   concurrent appends at one version win), or an older transaction tries to append after a newer
 *   one (see decision 0011): retry the command in a new transaction.
 * @throws {ValidationError} no tenant in the unit of work, no events, or a malformed input.
 */
export async function appendToStream(
  config: StoreConfig,
  tx: Tx,
  streamId: string,
  events: readonly NewEvent[],
  expectedVersion: ExpectedVersion,
  options: AppendOptions = {},
): Promise<AppendResult> {
  const tenantId = tx.context.tenantId;
  if (tenantId == null) throw new ValidationError('Appending needs a tenant in the unit of work', { field: 'tenantId' });
  if (typeof streamId !== 'string' || streamId.length === 0 || streamId.length > MAX_STREAM_ID) {
    throw new ValidationError(`streamId must be 1–${MAX_STREAM_ID} characters`, { field: 'streamId' });
  }
  if (expectedVersion !== 'any' && (!Number.isSafeInteger(expectedVersion) || expectedVersion < 0)) {
    throw new ValidationError("expectedVersion must be a non-negative integer or 'any'", { field: 'expectedVersion' });
  }
  if (events.length === 0) throw new ValidationError('Append at least one event', { field: 'events' });

  const now = config.clock();
  const messageIds = events.map((e) => e.messageId ?? uuidv7(now.getTime()));
  const correlationId = options.causedBy?.correlationId ?? options.correlationId ?? messageIds[0]!;
  const causationId = options.causedBy?.messageId ?? options.causationId ?? null;
  for (const [field, id] of [['correlationId', correlationId], ['causationId', causationId], ...messageIds.map((m) => ['messageId', m])] as const) {
    if (id !== null && !UUID.test(id)) throw new ValidationError(`${field} must be a UUID`, { field });
  }
  const actor = tx.context.actor ?? null;
  const stored: StoredMetadata[] = events.map((e, i) => {
    if (typeof e.type !== 'string' || e.type.length === 0 || e.type.length > 200) throw new ValidationError('type must be 1–200 characters', { field: `events[${i}].type` });
    const v = e.schemaVersion ?? 1;
    if (!Number.isInteger(v) || v < 1) throw new ValidationError('schemaVersion must be a positive integer', { field: `events[${i}].schemaVersion` });
    if (e.data === undefined) throw new ValidationError('data is required', { field: `events[${i}].data` });
    return {
      correlationId,
      causationId,
      actor: actor === null ? null : { kind: actor.kind, id: actor.id },
      source: tx.context.service,
      occurredAt: (e.occurredAt ?? now).toISOString(),
      ...(e.encryption === undefined ? {} : { encryption: { keyId: e.encryption.keyId, fields: [...e.encryption.fields] } }),
      ...(e.extra === undefined ? {} : { extra: { ...e.extra } }),
    };
  });

  // One round trip: the schema's append_events function (eventStoreSchemaSql explains its SQL and why
  // it is a function: its plan is kept per session).
  const result = await tx.query<AppendRow>(
    `select o_version::text as version, o_reordered as reordered, o_global_position::text as global_position,
            o_transaction_id::text as transaction_id, o_stream_version::text as stream_version, o_recorded_at as recorded_at
       from ${config.appendFunction}($1, $2, $3, $4::uuid[], $5::text[], $6::int[], $7::jsonb[], $8::jsonb[])`,
    [
      tenantId,
      streamId,
      expectedVersion === 'any' ? null : expectedVersion,
      messageIds,
      events.map((e) => e.type),
      events.map((e) => e.schemaVersion ?? 1),
      events.map((e) => JSON.stringify(e.data)),
      stored.map((m) => JSON.stringify(m)),
    ],
  ).catch((error: unknown) => {
    throw mapAppendError(error, config, streamId, expectedVersion);
  });

  const rows = result.rows;
  const first = rows[0];
  if (first === undefined) throw new Error('append returned no row');
  const current = Number(first.version);
  if (first.global_position === null) {
    if (first.reordered === true) {
      throw new ConcurrencyError(
        expectedVersion === 'any' ? 'any' : expectedVersion,
        current,
        `Stream ${streamId} was appended to by a newer transaction after this one began writing; retry in a new transaction`,
        { streamId, reason: 'TRANSACTION_ORDER' },
      );
    }
    throw new ConcurrencyError(expectedVersion, current, `Stream ${streamId} is at version ${current}, not ${String(expectedVersion)}`, { streamId });
  }

  const appended: RecordedEvent[] = rows.map((row, i) => {
    const event = events[i]!;
    const meta = stored[i]!;
    const metadata: EventMetadata = {
      messageId: messageIds[i]!,
      correlationId: meta.correlationId,
      causationId: meta.causationId,
      tenantId,
      actor: meta.actor,
      source: meta.source,
      occurredAt: meta.occurredAt,
      recordedAt: (row.recorded_at ?? now).toISOString(),
      ...(meta.encryption === undefined ? {} : { encryption: meta.encryption }),
      ...(meta.extra === undefined ? {} : { extra: meta.extra }),
    };
    const version = event.schemaVersion ?? 1;
    const raised = config.upcasters.apply(event.type, version, event.data, metadata);
    return {
      streamId,
      streamVersion: Number(row.stream_version),
      type: event.type,
      schemaVersion: raised.schemaVersion,
      storedSchemaVersion: version,
      data: raised.data,
      metadata,
      globalPosition: { transactionId: BigInt(row.transaction_id!), position: BigInt(row.global_position!) },
    };
  });
  if (config.onAppended !== undefined) await config.onAppended(tx, appended);
  return { nextExpectedVersion: appended[appended.length - 1]!.streamVersion, events: appended };
}

/** 23505 on the primary key = another transaction appended this version first. */
function mapAppendError(error: unknown, config: StoreConfig, streamId: string, expectedVersion: ExpectedVersion): unknown {
  const e = error as { code?: string; constraint?: string; table?: string; schema?: string };
  if (e.code === '23505' && e.constraint === 'events_pkey' && e.schema === config.schema) {
    const expected = expectedVersion === 'any' ? 'any' : expectedVersion;
    const winner = expectedVersion === 'any' ? null : expectedVersion + 1;
    return new ConcurrencyError(
      expected,
      winner,
      `Stream ${streamId} was appended to concurrently: another transaction committed version ${winner ?? 'the next version'} first`,
      { streamId, reason: 'CONCURRENT_APPEND' },
    );
  }
  return error;
}
