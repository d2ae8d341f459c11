import type pg from 'pg';
import { unitOfWork, type UnitOfWorkContext } from '../db/index.ts';
import { handledEvents } from './handledEvents.ts';
import { readAhead } from './readAhead.ts';
import type { ReplayState } from './replayState.ts';
import { serialQueue } from './serialQueue.ts';
import type { Projection } from './types.ts';

/** Pages the reader may run ahead of the applies before it waits for them. */
const MAX_QUEUED_APPLIES = 2;

/** What {@link replayThroughApply} works with. */
export interface ApplyReplay {
  readonly pool: pg.Pool;
  readonly projection: Projection;
  /** The escaped, qualified shadow table (secured: the service role writes it under RLS). */
  readonly shadow: string;
  /** The service role and `system` actor the log is read and the shadow written as. */
  readonly context: UnitOfWorkContext;
  readonly batchSize: number;
  readonly state: ReplayState;
  /** Called after each page, outside any transaction; awaited. */
  readonly onPage: () => Promise<void>;
}

/**
 * Step 2 of a rebuild for a projection without a `replay`: reads the log from the start with the
 * store's `readAll` one page ahead (`readAhead`) and applies each page to the shadow with the
 * projection's `apply`, each in its own unit of work on another pooled connection, in order, behind
 * the reader. Ends when a page comes back short, after the last apply has committed.
 */
export async function replayThroughApply(run: ApplyReplay): Promise<void> {
  const { projection, state } = run;
  const applies = serialQueue();
  const reader = readAhead(run.pool, run.context, (tx, after, limit) => projection.store.readAll(tx, { after, limit }), state.checkpoint, run.batchSize);
  try {
    for (;;) {
      const page = await reader.next();
      const events = handledEvents(projection, page.events);
      if (events.length > 0) applies.push(() => unitOfWork(run.pool, run.context, (tx) => projection.apply(tx, events, run.shadow)));
      state.checkpoint = page.checkpoint;
      state.events += page.events.length;
      await run.onPage();
      if (page.events.length < run.batchSize) break;
      if (applies.queued > MAX_QUEUED_APPLIES) await applies.idle();
    }
  } catch (error) {
    await applies.idle().catch(() => undefined); // nothing may still write when the caller drops the shadow
    throw error;
  }
  await applies.idle();
}
