import assert from 'node:assert/strict';
import { setMaxListeners } from 'node:events';
import { test } from 'node:test';
import { workersOf } from '../../src/cli/runUntilSignal.ts';
import { heldConnections } from '../../src/composition/heldConnections.ts';
import { createPlatform } from '../../src/composition/runtime.ts';
import { SERVICES, SERVICE_NAMES } from '../../src/composition/services.ts';
import { loadConfig } from '../../src/platform/config/index.ts';
import { createTestDatabase } from '../support/db.ts';
import { eventually } from '../support/eventually.ts';
import { TEST_SECRET } from '../support/platform.ts';

// What `checkPoolSize` weighs DATABASE_POOL_SIZE against is what the workers really keep: every worker
// of `brigade start` runs on a database of the test's own, and the sessions that hold a leader's lock
// or only LISTEN are counted in PostgreSQL, while the pool's connections in use are counted in the
// process. Both must come to heldConnections' count: the first shows it counts nothing that is not
// held, the second (which can never fall below what is held) that nothing else is held for good.

test("the connections heldConnections counts for brigade start's workers are the ones they keep", async () => {
  const db = await createTestDatabase();
  const config = loadConfig({ DATABASE_URL: db.url, BRIGADE_SECRET: TEST_SECRET, DATABASE_POOL_SIZE: '20' }, { services: SERVICE_NAMES });
  const platform = await createPlatform(config, { url: db.url, embedded: null }, { logger: false });
  const stop = new AbortController();
  setMaxListeners(0, stop.signal);
  const workers = workersOf(SERVICES);
  const running = workers.map((w) =>
    w.run(platform.deps, stop.signal).catch((error: unknown) => {
      if (!stop.signal.aborted) process.emitWarning(`worker ${w.service}/${w.name} crashed: ${String(error)}`);
    }),
  );
  try {
    const [expected] = heldConnections(config, { http: false, services: SERVICES, workers });
    assert.equal(expected?.database, 'main');
    const count = expected!.holders.reduce((sum, h) => sum + h.count, 0);
    const pool = platform.databases.poolFor('platform');
    const sessions = async () => {
      const { rows } = await pool.query<{ held: number }>(
        `select count(*)::int as held from pg_stat_activity a
          where a.datname = current_database() and a.pid <> pg_backend_pid()
            and (exists (select 1 from pg_locks l where l.pid = a.pid and l.locktype = 'advisory' and l.granted and l.mode = 'ExclusiveLock')
                 or (a.state = 'idle' and a.query ilike 'listen %'))`,
      );
      return rows[0]!.held;
    };
    const seen = await eventually(
      `${count} kept connections (${expected!.holders.map((h) => `${h.count} ${h.what}`).join(', ')})`,
      async () => ({ sessions: await sessions(), inUse: pool.totalCount - pool.idleCount }),
      // This look-up's own connection is back in the pool once it has answered.
      (now) => now.sessions === count && now.inUse === count,
      60_000,
    );
    assert.deepEqual(seen, { sessions: 9, inUse: 9 }, '5 relays and 3 projections lead, and the transport LISTENs');
  } finally {
    stop.abort();
    await Promise.all(running);
    await platform.close();
    await db.drop();
  }
});
