import pg from 'pg';
import { connectClient } from '../db/connectingClient.ts';

/** A session that held a lock the migrator waited for, as `pg_stat_activity` shows it. */
export interface LockHolder {
  readonly pid: number;
  /** Its role; null when the reader may not see it. */
  readonly user: string | null;
  /** Its `application_name`; null when empty, or hidden from a reader who is not a member of its role (nor of `pg_read_all_stats`). */
  readonly app: string | null;
  /** `active`, `idle in transaction` …; null when hidden. */
  readonly state: string | null;
  /** How long its transaction has been open, in whole seconds; null outside one, or when hidden. */
  readonly transactionSeconds: number | null;
}

/** The columns of a {@link LockHolder}, from `pg_stat_activity a`. */
const HOLDER_COLUMNS = `a.pid, a.usename as "user", nullif(a.application_name, '') as app, a.state,
       floor(extract(epoch from clock_timestamp() - a.xact_start))::int as "transactionSeconds"`;

/**
 * The sessions backend `$1` waits behind. `pg_blocking_pids` takes the lock manager's locks for a moment,
 * so it is asked only while that backend waits on a lock (the CASE reads `wait_event_type` first).
 */
const BLOCKERS = `select ${HOLDER_COLUMNS}
  from pg_stat_activity a
 where a.pid = any(case when (select wait_event_type from pg_stat_activity where pid = $1) = 'Lock' then pg_blocking_pids($1) else '{}'::int[] end)
 order by a.pid`;

/** How often the sessions a file waits behind are looked up, once the watch has begun. */
const WATCH_EVERY_MS = 250;

/** Watches one backend while it runs a file ({@link watchLockWaits}). */
export interface LockWaitWatch {
  /**
   * Ends the watch (its side session with it) and returns the sessions the backend last waited behind,
   * empty when it was never seen waiting. Safe to call more than once: the later calls return the same.
   */
  stop(): Promise<readonly LockHolder[]>;
}

/**
 * Notes the sessions backend `pid` waits behind while it runs a migration file, so that a file a lock
 * timeout (55P03), a cancel (57014) or a deadlock (40P01) ended can name them: once that statement has
 * failed, its wait is gone from `pg_locks`, and PostgreSQL's message names nobody. The backend is busy
 * with the file, so the look-up runs on a side session of its own, opened only when the file has run
 * `afterMs` (the runner's 1 s, when it names a slow file; the shipped files' lock timeouts are 5 s and
 * 10 s) and asked every {@link WATCH_EVERY_MS} until {@link LockWaitWatch.stop}; a quick file opens
 * nothing. A side session that cannot open or read leaves the list empty: it is advice, never the run's
 * failure.
 *
 * @example
 * const watch = watchLockWaits(url, pid, { afterMs: 1000, connectTimeoutMs: 5000 });
 * try { await client.query(sql); } catch (error) { const holders = await watch.stop(); … } finally { await watch.stop(); }
 */
export function watchLockWaits(url: string, pid: number, options: { readonly afterMs: number; readonly connectTimeoutMs: number }): LockWaitWatch {
  let last: readonly LockHolder[] = [];
  let stopped = false;
  let wake: (() => void) | undefined;
  /** The side session, once open: ended by the watch itself when it stops. */
  let side: pg.Client | undefined;
  /**
   * Destroys the side session's connect in flight. Not `end()`: called while connecting, pg's connect()
   * never settles, and a stop that waits for the watch would hang the run (a loaded test run did, while
   * this was written: test/platform/watchLockWaits.unit.test.ts).
   */
  const abandon = new AbortController();
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  const watching = (async () => {
    await pause(options.afterMs);
    if (stopped) return;
    const client = new pg.Client({ connectionString: url, application_name: 'brigade-migrate-watch', connectionTimeoutMillis: options.connectTimeoutMs });
    client.on('error', () => undefined);
    await connectClient(client, abandon.signal);
    side = client;
    try {
      while (!stopped) {
        const { rows } = await client.query<LockHolder>(BLOCKERS, [pid]);
        if (rows.length > 0) last = rows;
        await pause(WATCH_EVERY_MS);
      }
    } finally {
      await client.end().catch(() => undefined);
    }
  })().catch(() => undefined);
  let ended: Promise<readonly LockHolder[]> | undefined;
  return {
    stop() {
      ended ??= (async () => {
        stopped = true;
        wake?.();
        // Connecting: the attempt is destroyed. Open: ended at once, a look-up in flight cut short (the
        // watch ends it too, whichever comes first; pg resolves both ends with the connection's).
        abandon.abort();
        void side?.end().catch(() => undefined);
        await watching;
        return last;
      })();
      return ended;
    },
  };
}

/** The sessions among `pids` still there, for a deadlock's message when the watch saw none (PostgreSQL's detail names the pids). */
export async function readLockHolders(client: pg.Client, pids: readonly number[]): Promise<LockHolder[]> {
  if (pids.length === 0) return [];
  const { rows } = await client.query<LockHolder>(`select ${HOLDER_COLUMNS} from pg_stat_activity a where a.pid = any($1::int[]) order by a.pid`, [pids]);
  return rows;
}

/**
 * One session, as a failure's message names it, so that it can be found (`pg_stat_activity`) and, if
 * need be, ended (`pg_terminate_backend(pid)`): `backend pid 4242 (brigade-serve, user brigade, idle in
 * transaction for 31 s)`.
 */
export function describeLockHolder(holder: LockHolder): string {
  const what = [
    holder.app,
    holder.user === null ? null : `user ${holder.user}`,
    holder.state === null ? null : holder.transactionSeconds === null ? holder.state : `${holder.state}${holder.state.startsWith('idle in transaction') ? '' : ', in a transaction'} for ${holder.transactionSeconds} s`,
  ].filter((w) => w !== null);
  return `backend pid ${holder.pid}${what.length === 0 ? '' : ` (${what.join(', ')})`}`;
}
