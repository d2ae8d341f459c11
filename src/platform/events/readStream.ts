import type pg from 'pg';
import type { Statement, Tx } from '../db/index.ts';
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

/** A stream read as a statement, and what turns its result into a {@link StreamRead}. */
export interface PreparedStreamRead {
  readonly statement: Statement;
  result(result: pg.QueryResult): StreamRead;
}

/**
 * Reads one stream's committed events in version order, upcast to their current schema versions.
 *
 * @example
 * const { events, version } = await readStream(config, tx, `order-${orderId}`);
 * const order = events.reduce(evolve, initial);
 */
export async function readStream(config: StoreConfig, tx: Tx, streamId: string, options: ReadStreamOptions = {}): Promise<StreamRead> {
  const read = prepareStreamRead(config, options.tenantId ?? tx.context.tenantId, streamId, options);
  return read.result(await tx.query<EventRow>(read.statement));
}

/**
 * The statement of a stream read of `tenantId` (validated here), prepared once per connection under
 * a name of its own: the read is the first half of every command, and its policies (the per-actor
 * one of the order streams) made parsing and planning it again the larger part of its server time.
 */
export function prepareStreamRead(config: StoreConfig, tenantId: string | null | undefined, streamId: string, options: ReadStreamOptions = {}): PreparedStreamRead {
  if (tenantId == null) throw new ValidationError('Reading a stream needs a tenant', { field: 'tenantId' });
  const after = options.afterVersion ?? 0;
  if (!Number.isSafeInteger(after) || after < 0) throw new ValidationError('afterVersion must be a non-negative integer', { field: 'afterVersion' });
  if (options.limit !== undefined && (!Number.isSafeInteger(options.limit) || options.limit < 1)) {
    throw new ValidationError('limit must be a positive integer', { field: 'limit' });
  }
  return {
    statement: {
      name: `brigade_read_stream_${config.schema}`,
      text: `select ${EVENT_COLUMNS} from ${config.table}
              where tenant_id = $1 and stream_id = $2 and stream_version > $3
              order by stream_version
              limit $4`,
      values: [tenantId, streamId, after, options.limit ?? null],
    },
    result: ({ rows }) => {
      const events = (rows as EventRow[]).map((row) => rowToEvent(config, row));
      return { events, version: events.length === 0 ? after : events[events.length - 1]!.streamVersion };
    },
  };
}
