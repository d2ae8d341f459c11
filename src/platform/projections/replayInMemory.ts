import type pg from 'pg';
import { NO_FLUSH_WAIT, type Actor, type Tx, type UnitOfWorkContext } from '../db/index.ts';
import { readAllForFold, streamAllForFold, type FoldEvent } from '../events/index.ts';
import { enterServiceRole } from './enterServiceRole.ts';
import { handledEvents } from './handledEvents.ts';
import { inTransaction } from './inTransaction.ts';
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
  readonly context: UnitOfWorkContext & { readonly actor: Actor };
  /** Events per statement read from the log. */
  readonly batchSize: number;
  /** Rows the replay may hold in memory; past it, it writes and forgets them. */
  readonly rowsInMemory: number;
  readonly state: ReplayState;
  /** Called after each statement's events, outside the writer's transactions; awaited. */
  readonly onPage: () => Promise<void>;
}

/**
 * Step 2 of a rebuild for a projection with a `replay`: reads the log from the start on a pooled
 * connection of its own (one read-only transaction: no transaction id, so it holds back nobody's
 * bound; each statement takes its own snapshot and bound), folding the events into memory as they
 * stream in (`streamAllForFold`, `batchSize` per statement; a page of `readAllForFold` where the stream
 * stops at a (type, version) it has to learn or upcast). Whenever `PENDING_ROWS` changed rows have
 * gathered, the least recently changed half goes to a writer on the owner's connection that runs
 * behind the reader: new rows by COPY, rows written before by upsert, in transactions with
 * `synchronous_commit` off (the shadow is dropped if the rebuild does not finish). Past `rowsInMemory`
 * it writes everything, forgets it and goes on page by page, reading back the rows pages touch. Ends
 * when the log is read to its bound, after the rest of the rows are written.
 */
export async function replayInMemory(run: InMemoryReplay): Promise<void> {
  const { owner, replay, shadow, state, projection } = run;
  const writes = serialQueue();
  const inOwnerTransaction = <T>(fn: (tx: Tx) => Promise<T>) =>
    inTransaction(owner, run.context, async (tx) => {
      await tx.query(NO_FLUSH_WAIT);
      return fn(tx);
    });
  const write = (max?: number) => {
    const rows = replay.take(max);
    if (rows.fresh.length + rows.rewritten.length === 0) return;
    state.rowsWritten += rows.fresh.length + rows.rewritten.length;
    writes.push(() => inOwnerTransaction((tx) => replay.write(tx, shadow, rows, owner)));
  };
  /** Folds events read in order; false once memory is full (the caller then writes and forgets). */
  const fold = (events: readonly FoldEvent[]) => {
    replay.fold(handledEvents(projection, events));
    state.events += events.length;
    state.checkpoint = events[events.length - 1]?.globalPosition ?? state.checkpoint;
    if (replay.size > run.rowsInMemory) return false;
    if (replay.pending >= PENDING_ROWS) write(PENDING_ROWS / 2);
    return true;
  };
  const reader = await run.pool.connect();
  try {
    await inTransaction(reader, run.context, async (tx) => {
      await tx.query('set transaction read only');
      await enterServiceRole(tx, run.context);
      for (;;) {
        let caughtUp: boolean;
        if (replay.complete) {
          const streamed = await streamAllForFold(projection.store, reader, { after: state.checkpoint, limit: run.batchSize }, fold);
          caughtUp = !streamed.stopped && streamed.rows < run.batchSize;
          if (streamed.stopped && replay.complete && replay.size <= run.rowsInMemory) {
            // A (type, version) to learn or upcast: this page the careful way.
            const page = await readAllForFold(projection.store, tx, { after: state.checkpoint, limit: run.batchSize });
            fold(page.events);
            caughtUp = page.events.length < run.batchSize;
          }
        } else {
          const page = await readAllForFold(projection.store, tx, { after: state.checkpoint, limit: run.batchSize });
          const events = handledEvents(projection, page.events);
          if (events.length > 0) {
            await writes.idle(); // what the fold reads back must have been written
            await inOwnerTransaction((ownerTx) => replay.load(ownerTx, events, shadow));
          }
          fold(page.events);
          caughtUp = page.events.length < run.batchSize;
        }
        if (replay.size > run.rowsInMemory) {
          write();
          await writes.idle();
          replay.forget();
        }
        await run.onPage();
        if (caughtUp) break;
        if (writes.queued > MAX_QUEUED_WRITES) await writes.idle();
      }
    });
    write();
  } catch (error) {
    reader.release(error instanceof Error ? error : new Error(String(error))); // not reused after a failure
    await writes.idle().catch(() => undefined); // nothing may still write when the caller drops the shadow
    throw error;
  }
  reader.release();
  await writes.idle();
}
