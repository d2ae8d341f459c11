import pg from 'pg';
import type { Tx } from '../db/index.ts';
import type { EventStore } from './createEventStore.ts';
import { GLOBAL_ORDER_PAGE, pageValues, type ReadAllOptions } from './readAll.ts';
import type { EventMetadata, GlobalPosition, RecordedEvent } from './types.ts';

/**
 * The part of an event that a fold reads, and all that {@link readAllForFold} reads: no message id,
 * lineage, actor or recorded time. Every {@link RecordedEvent} is one, so a fold typed against it runs
 * on live batches and on rebuilds alike, and the compiler keeps it from reading what a rebuild skips.
 */
export type FoldEvent<Data = unknown> = Pick<RecordedEvent<Data>, 'streamId' | 'streamVersion' | 'type' | 'schemaVersion' | 'storedSchemaVersion' | 'data' | 'globalPosition'> & {
  readonly metadata: Pick<EventMetadata, 'tenantId' | 'occurredAt'>;
};

/** A page of the global order as fold events. */
export interface FoldRead {
  readonly events: readonly FoldEvent[];
  /** The checkpoint after `events` (the last one's position, or `after` when none). */
  readonly checkpoint: GlobalPosition;
}

/** A row of {@link FOLD_COLUMNS} as the driver returns it (internal to the events module). */
export interface FoldRow {
  global_position: string;
  transaction_id: string;
  tenant_id: string;
  stream_id: string;
  stream_version: string;
  type: string;
  schema_version: number;
  data: string;
  occurred_at: string;
}

/** The select list of a fold read, over `<events> e` (internal to the events module). */
export const FOLD_COLUMNS = `e.global_position::text as global_position, e.transaction_id::text as transaction_id, e.tenant_id, e.stream_id,
            e.stream_version, e.type, e.schema_version, e.data::text as data, e.metadata->>'occurredAt' as occurred_at`;

/** Per store: whether its upcasters raise events of `<schemaVersion>:<type>` (found out once, by reading one). */
const upcastsByStore = new WeakMap<EventStore, Map<string, boolean>>();

/**
 * What is known of `store`'s upcasters so far, by `<schemaVersion>:<type>`: true = it raises such
 * events, false = it leaves them, absent = not seen yet (internal to the events module).
 */
export function knownUpcasts(store: EventStore): Map<string, boolean> {
  let known = upcastsByStore.get(store);
  if (known === undefined) upcastsByStore.set(store, (known = new Map()));
  return known;
}

/** The fold event of a row that no upcaster raises (internal to the events module). */
export function foldEventOf(row: FoldRow): FoldEvent {
  return {
    streamId: row.stream_id,
    streamVersion: Number(row.stream_version),
    type: row.type,
    schemaVersion: row.schema_version,
    storedSchemaVersion: row.schema_version,
    data: JSON.parse(row.data),
    metadata: { tenantId: row.tenant_id, occurredAt: row.occurred_at },
    globalPosition: { transactionId: BigInt(row.transaction_id), position: BigInt(row.global_position) },
  };
}

/**
 * `store.readAll` for folds (rebuilds): the same global order, bound and RLS (decision 0011), but only
 * the columns a {@link FoldEvent} has, `data` as text parsed once, `occurredAt` picked out of the
 * metadata by the server. Why: 240,000 events in pages of 20,000 read at 95,642 events/s (3.06 s of
 * Node CPU, 0.68 s of server CPU) as whole envelopes and at 143,849 events/s (2.13 s, 0.47 s) this way
 * (bench/projections/rebuild.ts, same run; decision 0033).
 *
 * Upcasters stay in force without this function seeing them: the first event of each stored
 * (type, schema version) is also read through `store.readAll`; if the store raises its version, every
 * page holding such events is read again through `store.readAll` (whole envelopes, upcast). The rows
 * below the bound are final (0011), so that read returns the same events first.
 *
 * @example
 * const page = await readAllForFold(store, tx, { after: checkpoint, limit: 5000 });
 */
export async function readAllForFold(store: EventStore, tx: Tx, options: ReadAllOptions = {}): Promise<FoldRead> {
  const { after, values } = pageValues(options);
  const { rows } = await tx.query<FoldRow>(`select ${FOLD_COLUMNS} from ${pg.escapeIdentifier(store.schema)}.events e ${GLOBAL_ORDER_PAGE}`, values);
  if (rows.length === 0) return { events: [], checkpoint: after };
  if (await anyUpcast(store, tx, after, rows)) return store.readAll(tx, { after, limit: rows.length });
  const events = rows.map(foldEventOf);
  return { events, checkpoint: events[events.length - 1]!.globalPosition };
}

/** Whether the store's upcasters raise any of `rows`; learns each new (type, version) by reading its event whole. */
async function anyUpcast(store: EventStore, tx: Tx, after: GlobalPosition, rows: readonly FoldRow[]): Promise<boolean> {
  const known = knownUpcasts(store);
  let any = false;
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    const key = `${row.schema_version}:${row.type}`;
    let upcasts = known.get(key);
    if (upcasts === undefined) {
      const before = i === 0 ? after : { transactionId: BigInt(rows[i - 1]!.transaction_id), position: BigInt(rows[i - 1]!.global_position) };
      const [event] = (await store.readAll(tx, { after: before, limit: 1 })).events as [RecordedEvent | undefined];
      if (event?.globalPosition.position.toString() !== row.global_position) throw new Error(`the event at position ${row.global_position} did not read back`);
      upcasts = event.schemaVersion !== event.storedSchemaVersion;
      known.set(key, upcasts);
    }
    any ||= upcasts;
  }
  return any;
}
