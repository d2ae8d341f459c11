import type pg from 'pg';
import type { Tx, UnitOfWorkContext } from '../db/index.ts';
import { readAllForFold } from '../events/index.ts';
import { handledEvents } from './handledEvents.ts';
import { inTransaction } from './inTransaction.ts';
import { readAhead } from './readAhead.ts';
import type { ReplayState } from './replayState.ts';
import { serialQueue } from './serialQueue.ts';
import type { Projection, ProjectionReplay } from './types.ts';

/** Once this many changed rows have gathered, the least recently changed half is written (the rest at the end). */
const PENDING_ROWS = 10_000;
/** Writes the reader may run ahead of before it waits for them. */
const MAX_QUEUED_WRITES = 2;

/** What {@link replayInMemory} works with. */
export interface InMemoryReplay {
  readonly pool: pg.Pool;
  /** The owner's connection: it writes the shadow (no policies, no grants yet, so COPY may load it). */
  readonly owner: pg.ClientBase;
  readonly projection: Projection;
  readonly replay: ProjectionReplay;
  /** The escaped, qualified shadow table. */
  readonly shadow: string;
  /** The service role and `system` actor the log is read as. */
  readonly context: UnitOfWorkContext;
  readonly batchSize: number;
  /** Rows the replay may hold in memory; past it, it writes and forgets them. */
  readonly rowsInMemory: number;
  readonly state: ReplayState;
  /** Called after each page, outside any transaction; awaited. */
  readonly onPage: () => Promise<void>;
}

/**
 * Step 2 of a rebuild for a projection with a `replay`: reads the log from the start with
 * `readAllForFold` one page ahead (`readAhead`, read-only transactions on pooled connections), folds
 * each page into memory, and whenever `PENDING_ROWS` changed rows have gathered hands the least
 * recently changed half to a writer on the owner's connection that runs behind the reader (new rows by
 * COPY, rows written before by upsert; its own transactions with `synchronous_commit` off: the shadow
 * is dropped if the rebuild does not finish). Ends when a page comes back short, after the rest of
 * the rows are written.
 */
export async function replayInMemory(run: InMemoryReplay): Promise<void> {
  const { owner, replay, shadow, state } = run;
  const writes = serialQueue();
  const inOwnerTransaction = <T>(fn: (tx: Tx) => Promise<T>) =>
    inTransaction(owner, run.context, async (tx) => {
      await tx.query('set local synchronous_commit = off');
      return fn(tx);
    });
  const write = (max?: number) => {
    const rows = replay.take(max);
    if (rows.fresh.length + rows.rewritten.length === 0) return;
    state.rowsWritten += rows.fresh.length + rows.rewritten.length;
    writes.push(() => inOwnerTransaction((tx) => replay.write(tx, shadow, rows, owner)));
  };
  const reader = readAhead(run.pool, run.context, (tx, after, limit) => readAllForFold(run.projection.store, tx, { after, limit }), state.checkpoint, run.batchSize);
  try {
    for (;;) {
      const page = await reader.next();
      const events = handledEvents(run.projection, page.events);
      if (!replay.complete && events.length > 0) {
        await writes.idle(); // what the fold reads back must have been written
        await inOwnerTransaction((tx) => replay.load(tx, events, shadow));
      }
      replay.fold(events);
      if (replay.size > run.rowsInMemory) {
        write();
        await writes.idle();
        replay.forget();
      } else if (replay.pending >= PENDING_ROWS) write(PENDING_ROWS / 2);
      state.checkpoint = page.checkpoint;
      state.events += page.events.length;
      await run.onPage();
      if (page.events.length < run.batchSize) break;
      if (writes.queued > MAX_QUEUED_WRITES) await writes.idle();
    }
    write();
  } catch (error) {
    await writes.idle().catch(() => undefined); // nothing may still write when the caller drops the shadow
    throw error;
  }
  await writes.idle();
}
