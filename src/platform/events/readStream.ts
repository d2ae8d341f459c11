import type { Tx } from '../db/index.ts';
import { ValidationError } from '../errors/index.ts';
import { EVENT_COLUMNS, rowToEvent, type EventRow } from './rowToEvent.ts';
import type { StoreConfig } from './storeConfig.ts';
import type { RecordedEvent } from './types.ts';

/** Options for {@link readStream}. */
export interface ReadStreamOptions {
  /** Return events after this version. Default 0 (from the start). */
  readonly afterVersion?: number;
  /** At most this many events. Default: all. */
  readonly limit?: number;
  /** The tenant whose stream to read. Default: the unit of work's tenant (an admin/system reader may name another). */
  readonly tenantId?: string;
}

/** A stream read. */
export interface StreamRead {
  readonly events: readonly RecordedEvent[];
  /**
   * The version of the last event returned (or `afterVersion` when none): the expected version for an
   * append after folding a stream read in full.
   */
  readonly version: number;
}

/**
 * Reads one stream's committed events in version order, upcast to their current schema versions.
 *
 * @example
 * const { events, version } = await readStream(config, tx, `order-${orderId}`);
 * const order = events.reduce(evolve, initial);
 */
export async function readStream(config: StoreConfig, tx: Tx, streamId: string, options: ReadStreamOptions = {}): Promise<StreamRead> {
  const tenantId = options.tenantId ?? tx.context.tenantId;
  if (tenantId == null) throw new ValidationError('Reading a stream needs a tenant', { field: 'tenantId' });
  const after = options.afterVersion ?? 0;
  if (!Number.isSafeInteger(after) || after < 0) throw new ValidationError('afterVersion must be a non-negative integer', { field: 'afterVersion' });
  if (options.limit !== undefined && (!Number.isSafeInteger(options.limit) || options.limit < 1)) {
    throw new ValidationError('limit must be a positive integer', { field: 'limit' });
  }
  const { rows } = await tx.query<EventRow>(
    `select ${EVENT_COLUMNS} from ${config.table}
      where tenant_id = $1 and stream_id = $2 and stream_version > $3
      order by stream_version
      limit $4`,
    [tenantId, streamId, after, options.limit ?? null],
  );
  const events = rows.map((row) => rowToEvent(config, row));
  return { events, version: events.length === 0 ? after : events[events.length - 1]!.streamVersion };
}
