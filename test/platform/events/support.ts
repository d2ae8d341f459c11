import type pg from 'pg';
import { unitOfWork, type Tx, type UnitOfWorkContext } from '../../../src/platform/db/index.ts';
import type { EventStore, RecordedEvent } from '../../../src/platform/events/index.ts';
import { FLOW_MS } from '../../support/eventually.ts';

/** A promise with its resolve/reject handles. */
export function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A unit of work held open after `fn` ran, until the test commits or rolls it back. */
export interface HeldTransaction<T> {
  readonly pid: number;
  readonly result: T;
  commit(): Promise<void>;
  rollback(): Promise<void>;
}

const ROLLBACK = Symbol('rollback');

/**
 * Runs `fn` in a unit of work and keeps the transaction open (its connection checked out) until
 * `commit()` or `rollback()`: the way tests force a late commit.
 */
export async function holdOpen<T>(pool: pg.Pool, context: UnitOfWorkContext, fn: (tx: Tx) => Promise<T>): Promise<HeldTransaction<T>> {
  const ready = deferred<{ pid: number; result: T }>();
  const gate = deferred<void>();
  const done = unitOfWork(pool, context, async (tx) => {
    const pid = (await tx.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
    const result = await fn(tx);
    ready.resolve({ pid, result });
    await gate.promise;
  });
  done.catch((error: unknown) => ready.reject(error));
  const { pid, result } = await ready.promise;
  return {
    pid,
    result,
    commit: async () => {
      gate.resolve();
      await done;
    },
    rollback: async () => {
      gate.reject(ROLLBACK);
      await done.catch((error: unknown) => {
        if (error !== ROLLBACK) throw error;
      });
    },
  };
}

/**
 * Waits until every backend in `pids` is blocked on a lock. Polls pg_stat_activity; gives up after
 * 20 s (a bound on a hang, not a timing claim).
 */
export async function waitForLockWaiters(admin: pg.Pool, pids: readonly number[]): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const { rows } = await admin.query<{ n: string }>(
      `select count(*) as n from pg_stat_activity where pid = any($1::int[]) and wait_event_type = 'Lock'`,
      [pids],
    );
    if (Number(rows[0]?.n) === pids.length) return;
    if (Date.now() > deadline) throw new Error(`expected ${pids.length} backends waiting on a lock, saw ${rows[0]?.n}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * Starts a unit of work whose `fn` will block, and resolves with its backend pid as soon as it has one,
 * before `fn` runs; `done` settles when the unit of work does.
 */
export async function startUnitOfWork<T>(pool: pg.Pool, context: UnitOfWorkContext, fn: (tx: Tx) => Promise<T>): Promise<{ pid: number; done: Promise<T> }> {
  const started = deferred<number>();
  const done = unitOfWork(pool, context, async (tx) => {
    started.resolve((await tx.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid);
    return fn(tx);
  });
  done.catch((error: unknown) => started.reject(error));
  return { pid: await started.promise, done };
}

/**
 * Reads the whole global order as a system actor, again and again until `enough(events)` holds.
 * Transaction ids are cluster-wide, so a write transaction of another database (a parallel test
 * file holding one open on purpose) holds readAll's bound back for a while: that delays events, never
 * reorders or skips them. Gives up after FLOW_MS (a bound on a hang, not a timing claim).
 */
export async function readAllUntil(pool: pg.Pool, store: EventStore, enough: (events: readonly RecordedEvent[]) => boolean): Promise<readonly RecordedEvent[]> {
  const deadline = Date.now() + FLOW_MS;
  for (;;) {
    const events = await unitOfWork(pool, { service: 'ordering', actor: { kind: 'system', id: 'test-reader' } }, async (tx) => {
      const all: RecordedEvent[] = [];
      for (let page = await store.readAll(tx, { limit: 1000 }); page.events.length > 0; page = await store.readAll(tx, { after: page.checkpoint, limit: 1000 })) {
        all.push(...page.events);
      }
      return all;
    });
    if (enough(events)) return events;
    if (Date.now() > deadline) throw new Error('readAll did not reach the expected events');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
