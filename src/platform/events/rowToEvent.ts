import type { Actor } from '../db/index.ts';
import type { StoreConfig } from './storeConfig.ts';
import type { EncryptionInfo, EventMetadata, RecordedEvent } from './types.ts';

/** The columns every read selects, in the order {@link rowToEvent} expects. */
export const EVENT_COLUMNS =
  'global_position::text as global_position, transaction_id::text as transaction_id, tenant_id, stream_id, stream_version, ' +
  'message_id, type, schema_version, data, metadata, recorded_at';

/** A row of `events` as the driver returns it. */
export interface EventRow {
  global_position: string;
  transaction_id: string;
  tenant_id: string;
  stream_id: string;
  stream_version: string;
  message_id: string;
  type: string;
  schema_version: number;
  data: unknown;
  metadata: StoredMetadata;
  recorded_at: Date;
}

/** What the `metadata` column holds (the rest of the envelope lives in columns). */
export interface StoredMetadata {
  correlationId: string;
  causationId: string | null;
  actor: Actor | null;
  source: string;
  occurredAt: string;
  encryption?: EncryptionInfo;
  extra?: Record<string, unknown>;
}

/** Assembles the envelope of a stored row and applies the upcasters. */
export function rowToEvent(config: StoreConfig, row: EventRow): RecordedEvent {
  const stored = row.metadata;
  const metadata: EventMetadata = {
    messageId: row.message_id,
    correlationId: stored.correlationId,
    causationId: stored.causationId,
    tenantId: row.tenant_id,
    actor: stored.actor,
    source: stored.source,
    occurredAt: stored.occurredAt,
    recordedAt: row.recorded_at.toISOString(),
    ...(stored.encryption === undefined ? {} : { encryption: stored.encryption }),
    ...(stored.extra === undefined ? {} : { extra: stored.extra }),
  };
  const raised = config.upcasters.apply(row.type, row.schema_version, row.data, metadata);
  return {
    streamId: row.stream_id,
    streamVersion: Number(row.stream_version),
    type: row.type,
    schemaVersion: raised.schemaVersion,
    storedSchemaVersion: row.schema_version,
    data: raised.data,
    metadata,
    globalPosition: { transactionId: BigInt(row.transaction_id), position: BigInt(row.global_position) },
  };
}
