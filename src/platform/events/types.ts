import type { Actor } from '../db/index.ts';

/**
 * Where an event sits in the global order: the writer's transaction id (xid8) and the row's position.
 * Events are read in ascending (transactionId, position); a checkpoint is the pair of the last event
 * handled. Both are `bigint` because both are 64-bit in PostgreSQL.
 */
export interface GlobalPosition {
  readonly transactionId: bigint;
  readonly position: bigint;
}

/** The checkpoint before the first event. */
export const START: GlobalPosition = Object.freeze({ transactionId: 0n, position: 0n });

/**
 * Room for crypto-shredding: which data fields are encrypted under which key. The store does not
 * encrypt; the caller encrypts the listed fields with the key (e.g. the customer's key) before
 * appending, and erasure destroys the key. Readers without the key see ciphertext.
 */
export interface EncryptionInfo {
  /** Id of the key the fields are encrypted with, e.g. `customer:<uuid>:v1`. */
  readonly keyId: string;
  /** JSON Pointers (RFC 6901) of the encrypted fields inside `data`, e.g. `/customer/name`. */
  readonly fields: readonly string[];
}

/** An event to append. */
export interface NewEvent<Data = unknown> {
  /** Event type, e.g. `OrderPlaced`. */
  readonly type: string;
  /** The payload; stored as jsonb. */
  readonly data: Data;
  /** Schema version of `data`. Default 1. Upcasters raise old versions on read. */
  readonly schemaVersion?: number;
  /** Message id (a UUID). Default: a new UUID v7. */
  readonly messageId?: string;
  /** When it happened, by the caller's clock. Default: the store's clock. */
  readonly occurredAt?: Date;
  /** Which fields of `data` are encrypted under which key (crypto-shredding). */
  readonly encryption?: EncryptionInfo;
  /** Extra metadata (string keys, JSON values) kept beside the standard fields. */
  readonly extra?: Readonly<Record<string, unknown>>;
}

/** The metadata every stored event carries (lineage). */
export interface EventMetadata {
  readonly messageId: string;
  /** The id shared by every message of one request or process; the first message's id when none given. */
  readonly correlationId: string;
  /** The id of the message that caused this one, or `null` for a command from outside. */
  readonly causationId: string | null;
  readonly tenantId: string;
  /** Who acted, from the unit of work. */
  readonly actor: Actor | null;
  /** The service that appended it (the unit of work's service). */
  readonly source: string;
  /** ISO time the caller says it happened. */
  readonly occurredAt: string;
  /** ISO time the database recorded it (the appending transaction's time). */
  readonly recordedAt: string;
  readonly encryption?: EncryptionInfo;
  readonly extra?: Readonly<Record<string, unknown>>;
}

/** An event as read (or as just appended): the envelope. */
export interface RecordedEvent<Data = unknown> {
  readonly streamId: string;
  /** 1 for a stream's first event. */
  readonly streamVersion: number;
  readonly type: string;
  /** The schema version of `data` as returned: after upcasting, the current one. */
  readonly schemaVersion: number;
  /** The schema version the event was stored with. */
  readonly storedSchemaVersion: number;
  readonly data: Data;
  readonly metadata: EventMetadata;
  /** Its place in the global order; a checkpoint after handling it. */
  readonly globalPosition: GlobalPosition;
}

/**
 * What an append expects the stream to be at: the number of events it holds now (0 = the stream must
 * not exist yet), or `'any'` to skip the check (versions stay dense and unique either way).
 */
export type ExpectedVersion = number | 'any';

/**
 * An event being appended, as the store's `onAppend` hook sees it: the envelope without what only the
 * database assigns (stream version, global position, recorded time).
 */
export interface PendingEvent<Data = unknown> {
  readonly streamId: string;
  readonly type: string;
  /** The schema version it is stored with. */
  readonly schemaVersion: number;
  readonly data: Data;
  readonly metadata: Omit<EventMetadata, 'recordedAt'>;
}
