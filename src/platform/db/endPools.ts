import pg from 'pg';
import { databaseAddress } from './databaseAddress.ts';

/**
 * How long {@link endPools} waits for the connections still in use (a request or a worker behind a
 * lock another session holds, a statement that runs on) before it cuts them, in ms.
 */
export const END_POOLS_DEADLINE_MS = 5000;

/**
 * How long the cut itself may take, in ms: the side session that cancels the backends (to open, then
 * to answer), and then the pool's end once its sockets are closed. A database that answers nothing
 * (packets dropped) must not hold the shutdown here either.
 */
const CUT_TIMEOUT_MS = 2000;

/** A pool whose connections {@link endPools} had to cut. */
export interface CutPool {
  /** The pool's label (`main`, a service's, `replica`, `db-…`: `Databases.list`). */
  readonly label: string;
  /** `host:port/database` of its connection string, never its user or password (`databaseAddress`). */
  readonly address: string;
  /** The connections still in use at the deadline, all of them cut. */
  readonly connections: number;
  /** Their backends: `pid`, the backends holding the locks it waited on (`pg_blocking_pids`), and whether it was cancelled. */
  readonly backends: ReadonlyArray<{ readonly pid: number; readonly blockedBy: readonly number[]; readonly cancelled: boolean }>;
  /**
   * Why the backends could not be cancelled (the side session did not open or answer), if so: then a
   * statement still waiting may run once its lock goes (its transaction ends with its closed session).
   */
  readonly cancelFailure?: string;
}

/** pg-pool 3 keeps every client it opened, in use or not, in `_clients`; it has no public list of them. */
interface PoolClients {
  readonly _clients?: ReadonlyArray<pg.Client & { readonly processID?: number | null; readonly connection?: { readonly stream?: { destroy(): void } } }>;
}

/**
 * Ends every pool, bounded: each pool ends as `pool.end()` does (idle connections at once, the others
 * as they are released), but a pool still waiting for connections in use `deadlineMs` after the call
 * has them cut: their backends are cancelled from a fresh short session of the pool's own settings
 * (`pg_cancel_backend`: the statement fails and its transaction rolls back, so nothing it waited to do
 * runs once the lock goes), with `pg_blocking_pids` read just before (who held them up), and their
 * sockets are closed, so the pool ends. Returns the pools that were cut, none when every connection
 * came back in time.
 *
 * Before, `Databases.close` waited for every checked-out connection: a request stuck behind a row lock
 * that another session held kept `brigade serve` from exiting for as long as the lock was held (119 s
 * once), and it then said "Stopped cleanly.".
 *
 * @param options.deadlineMs How long connections in use are waited for; default {@link END_POOLS_DEADLINE_MS}.
 *
 * @example
 * const cut = await endPools(databases.list());
 * for (const pool of cut) log(`${pool.label}: ${pool.connections} connection(s) cut`);
 */
export async function endPools(pools: ReadonlyArray<{ readonly label: string; readonly pool: pg.Pool }>, options: { readonly deadlineMs?: number } = {}): Promise<CutPool[]> {
  const deadlineMs = options.deadlineMs ?? END_POOLS_DEADLINE_MS;
  const cuts = await Promise.all(pools.map(({ label, pool }) => endPool(label, pool, deadlineMs)));
  return cuts.filter((cut): cut is CutPool => cut !== null);
}

/** Ends one pool within `deadlineMs`, else cuts what it still waits for; the cut, or null. */
async function endPool(label: string, pool: pg.Pool, deadlineMs: number): Promise<CutPool | null> {
  // Never rejects: pg-pool calls back without an error, and a pool that is ended already is left so.
  const ended = pool.ended || pool.ending ? Promise.resolve() : pool.end().catch(() => undefined);
  if (await settlesWithin(ended, deadlineMs)) return null;
  const clients = [...((pool as unknown as PoolClients)._clients ?? [])];
  const pids = clients.map((client) => client.processID).filter((pid): pid is number => typeof pid === 'number');
  const cancelled = await cancelBackends(pool, pids);
  // Closed whether or not the cancel worked: the pool ends either way (the queries fail with
  // "Connection terminated", their callers release, pg-pool removes the broken clients).
  for (const client of clients) client.connection?.stream?.destroy();
  // A caller that never releases its client would still hold pool.end(): the process goes on without it.
  await settlesWithin(ended, CUT_TIMEOUT_MS);
  return {
    label,
    address: databaseAddress(pool.options.connectionString ?? ''),
    connections: clients.length,
    backends: pids.map((pid) => ({ pid, blockedBy: cancelled.blockedBy.get(pid) ?? [], cancelled: cancelled.done.has(pid) })),
    ...(cancelled.failure === undefined ? {} : { cancelFailure: cancelled.failure }),
  };
}

/**
 * Reads who blocks each of `pids`, then cancels them, in one statement on a session of its own (the
 * pool's settings, bounded by {@link CUT_TIMEOUT_MS}); a failure is returned as text, not thrown.
 */
async function cancelBackends(pool: pg.Pool, pids: readonly number[]): Promise<{ blockedBy: Map<number, number[]>; done: Set<number>; failure?: string }> {
  const blockedBy = new Map<number, number[]>();
  const done = new Set<number>();
  if (pids.length === 0) return { blockedBy, done };
  // The pool's own settings (where, as whom, TLS): pg.Client takes what it knows of them and ignores the rest.
  const side = new pg.Client({ ...pool.options, application_name: 'brigade-shutdown-cancel', connectionTimeoutMillis: CUT_TIMEOUT_MS, query_timeout: CUT_TIMEOUT_MS });
  side.on('error', () => undefined);
  try {
    await side.connect();
    // Materialised first: the blockers are read before any cancel reaches its backend.
    const { rows } = await side.query<{ pid: number; blocked_by: number[]; cancelled: boolean }>(
      `with waiting as materialized (select pid, pg_blocking_pids(pid) as blocked_by from unnest($1::int[]) as pid)
       select pid, blocked_by, pg_cancel_backend(pid) as cancelled from waiting`,
      [pids],
    );
    for (const row of rows) {
      blockedBy.set(row.pid, row.blocked_by);
      if (row.cancelled) done.add(row.pid);
    }
    return { blockedBy, done };
  } catch (error) {
    return { blockedBy, done, failure: error instanceof Error ? error.message : String(error) };
  } finally {
    // Not awaited past the bound: a server that stopped answering answers no Terminate either.
    await settlesWithin(side.end().catch(() => undefined), CUT_TIMEOUT_MS);
  }
}

/** Whether `promise` settles within `ms`. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}
