import pg from 'pg';
import { BrigadeError } from '../errors/index.ts';
import { isLockNotAvailable } from '../db/index.ts';
import { moveClient } from './moveClient.ts';
import { releaseTenantFence } from './releaseTenantFence.ts';
import { moveFenceKeys, tenantFenceKey, tenantFenceKeyBefore0032 } from './tenantFence.ts';

/** Default of `fenceWaitMs` in {@link takeTenantFence} and `moveTenant`: how long a move waits for the tenant's transactions in flight. */
export const DEFAULT_FENCE_WAIT_MS = 10_000;

/** How often the side session looks at who holds the tenant's shared lock while the move waits for it. */
const LOOK_EVERY_MS = 250;

/** Options of {@link takeTenantFence}. */
export interface TakeTenantFenceOptions {
  /** The move's session on the shared database; the fence becomes its session lock. */
  readonly session: pg.ClientBase;
  /** The shared database's URL: a side session reads who holds the lock meanwhile (`pg_locks`). */
  readonly url: string;
  readonly tenantId: string;
  /** How long to wait for the tenant's transactions in flight, in ms. Default {@link DEFAULT_FENCE_WAIT_MS}. */
  readonly waitMs?: number;
  /** How often the same list of holders is printed again while it does not change, in ms. */
  readonly reportEveryMs: number;
  readonly progress: (line: string) => void;
}

/** A session that holds the tenant's shared move lock: a transaction of the tenant, or a saga claim. */
interface Holder {
  readonly pid: number;
  readonly app: string;
  readonly state: string;
  /** Seconds since its transaction began. */
  readonly ageS: number;
}

/**
 * Holders of the tenant's shared move locks other than `self`, read from `pg_locks`, longest first: of
 * {@link tenantFenceKey} (one bigint: its high and low 32 bits are `classid`, `objid`, with `objsubid`
 * 1) and of {@link tenantFenceKeyBefore0032} (two ints: `classid`, `objid`, with `objsubid` 2), which an
 * older release's saga claims try.
 */
async function readHolders(db: pg.ClientBase, tenantId: string, self: number): Promise<Holder[]> {
  const { rows } = await db.query<{ pid: number; app: string; state: string; age_s: number }>(
    `select distinct l.pid, coalesce(nullif(a.application_name, ''), '(no application_name)') as app, coalesce(a.state, '?') as state,
            coalesce(extract(epoch from now() - coalesce(a.xact_start, a.backend_start)), 0)::int as age_s
       from pg_locks l
       left join pg_stat_activity a on a.pid = l.pid
       cross join lateral (values (${tenantFenceKey('$1::uuid')}, ${tenantFenceKeyBefore0032('$1::uuid')})) k(fence, class, obj)
      where l.locktype = 'advisory' and l.granted and l.pid <> $2
        and l.database = (select oid from pg_database where datname = current_database())
        and ((l.objsubid = 1 and l.classid = ((k.fence >> 32) & 4294967295)::oid and l.objid = (k.fence & 4294967295)::oid)
          or (l.objsubid = 2 and l.classid = k.class::oid and l.objid = k.obj::oid))
      order by age_s desc, l.pid`,
    [tenantId, self],
  );
  return rows.map((r) => ({ pid: r.pid, app: r.app, state: r.state, ageS: r.age_s }));
}

/** `pid 123 (brigade, idle in transaction, 12 s)`, comma-separated. */
function describeHolders(holders: readonly Holder[]): string {
  return holders.map((h) => `pid ${h.pid} (${h.app}, ${h.state}, ${h.ageS} s)`).join(', ');
}

/**
 * Takes the tenant's fence, the exclusive move locks ({@link moveFenceKeys}) that `platform.enter_tenant`
 * and the saga claims' guard try shared, as session locks of `session`, waiting at most `waitMs` in all
 * for the tenant's transactions in flight. While a request waits it is queued, so the tenant's new
 * transactions are refused (`BRMVG`) and wait in the router: the wait is bounded because a transaction
 * left open (idle in transaction, a stuck client) would otherwise hold the move and the tenant's writes
 * with it. Meanwhile a side session names the holders (pid, application, state, age) whenever they
 * change and every `reportEveryMs`. Released by {@link releaseTenantFence}.
 *
 * @throws {BrigadeError} `TENANT_FENCE_TIMEOUT` (409): the holders did not finish within `waitMs`; the
 * requests are withdrawn and the keys taken let go (the tenant's transactions run again), nothing moved.
 */
export async function takeTenantFence(options: TakeTenantFenceOptions): Promise<void> {
  const { session, tenantId, progress } = options;
  const waitMs = options.waitMs ?? DEFAULT_FENCE_WAIT_MS;
  const deadline = performance.now() + waitMs;
  const keys = moveFenceKeys('$1::uuid');
  const first = await session.query<{ taken: boolean[]; pid: number; timeout: string }>(
    `select array[${keys.map((k) => `pg_try_advisory_lock(${k})`).join(', ')}] as taken, pg_backend_pid() as pid, current_setting('lock_timeout') as timeout`,
    [tenantId],
  );
  const { taken, pid, timeout } = first.rows[0]!;
  const held = keys.filter((_, i) => taken[i] === true);
  const missing = keys.filter((_, i) => taken[i] !== true);
  if (missing.length === 0) return;
  progress(`fencing tenant ${tenantId}: waiting up to ${(waitMs / 1000).toFixed(1)} s for its transactions in flight to finish (its new ones wait meanwhile) …`);
  const watching = watchHolders(options, pid);
  try {
    for (const key of missing) {
      // lock_timeout bounds the one queued request; a loop of pg_try_advisory_lock would not queue, and a
      // busy tenant's next transaction could always slip in before it. One deadline for every key.
      await session.query(`select set_config('lock_timeout', $1, false)`, [String(Math.max(1, Math.round(deadline - performance.now())))]);
      await session.query(`select pg_advisory_lock(${key})`, [tenantId]);
      held.push(key);
    }
  } catch (error) {
    await releaseTenantFence(session, tenantId, held).catch(() => undefined);
    if (!isLockNotAvailable(error)) throw error;
    const holders = await readHolders(session, tenantId, pid).catch(() => watching.last());
    const named = holders.length === 0 ? 'they have ended since' : describeHolders(holders);
    throw new BrigadeError(
      'TENANT_FENCE_TIMEOUT',
      409,
      `Tenant ${tenantId}'s transactions in flight did not finish within ${(waitMs / 1000).toFixed(1)} s (${named}): nothing moved, and its transactions run again. ` +
        `End them (select pg_terminate_backend(pid)) or retry, with a longer wait if they are meant to run that long`,
      { details: { tenantId, holders: holders.map((h) => h.pid) }, cause: error },
    );
  } finally {
    await watching.stop();
    await session.query(`select set_config('lock_timeout', $1, false)`, [timeout]).catch(() => undefined);
  }
}

/**
 * Reads the holders from a side session every {@link LOOK_EVERY_MS} until stopped and prints them when
 * they change and every `reportEveryMs`. A side session that cannot connect or read only prints nothing.
 */
function watchHolders(options: TakeTenantFenceOptions, self: number): { last(): Holder[]; stop(): Promise<void> } {
  let stopped = false;
  let last: Holder[] = [];
  let wake: (() => void) | undefined;
  const side = moveClient(options.url, 'brigade-tenant-move-watch');
  const loop = (async () => {
    await side.connect();
    let shown = '';
    let shownAt = 0;
    while (!stopped) {
      last = await readHolders(side, options.tenantId, self);
      const pids = last.map((h) => h.pid).join(',');
      if (last.length > 0 && (pids !== shown || performance.now() - shownAt >= options.reportEveryMs)) {
        options.progress(`  waiting for ${last.length} transaction(s) of tenant ${options.tenantId}: ${describeHolders(last)}; end one with select pg_terminate_backend(pid)`);
        shown = pids;
        shownAt = performance.now();
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, LOOK_EVERY_MS).unref();
      });
    }
  })().catch(() => undefined);
  return {
    last: () => last,
    stop: async () => {
      stopped = true;
      wake?.();
      // Ended first: a connect or read in flight then fails at once instead of being waited for.
      await side.end().catch(() => undefined);
      await loop;
    },
  };
}
