import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import client from 'prom-client';
import { createPgTransport } from '../../../src/platform/messaging/index.ts';
import { createRelay, type RelayEvent } from '../../../src/platform/outbox/index.ts';
import { createTestDatabase } from '../../support/db.ts';
import { eventually } from '../../support/eventually.ts';

/** The first key of the relay's leader lock ('outb', decision 0035). */
const LEADER_LOCK_CLASS = 0x6f75_7462;

test("a scrape's backlog read stuck behind a lock ends in the database too, not only for the scrape", async () => {
  const db = await createTestDatabase();
  const pool = new pg.Pool({ connectionString: db.url, max: 4 });
  const transport = createPgTransport({ pool, pollIntervalMs: 100 });
  const leader = new pg.Client({ connectionString: db.url });
  const locker = new pg.Client({ connectionString: db.url });
  const stop = new AbortController();
  let run: Promise<void> | undefined;
  try {
    await leader.connect();
    await locker.connect();
    // The test holds the leader lock, so the relay stands by and only the scrape reads the outbox.
    assert.equal((await leader.query(`select pg_try_advisory_lock($1::int, hashtext('brigade_outbox:delivery')) as ok`, [LEADER_LOCK_CLASS])).rows[0].ok, true);
    const registry = new client.Registry();
    const events: RelayEvent[] = [];
    run = createRelay({ pool, service: 'delivery', transport, registry, lockPollMs: 600_000, onProgress: (e) => events.push(e) }).run(stop.signal);
    await eventually('the relay stands by', async () => events.some((e) => e.kind === 'standby'), (ok) => ok);

    await locker.query('begin');
    await locker.query('lock table delivery.outbox in access exclusive mode');
    const text = await registry.metrics();
    assert.ok(!/^brigade_outbox_depth\{/m.test(text), 'the scrape answers without the stuck outbox');
    await eventually(
      'the backlog read to end in the database',
      async () => Number((await leader.query(`select count(*) as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`)).rows[0].n),
      (n) => n === 0,
      30_000,
    );
  } finally {
    await locker.query('rollback').catch(() => undefined);
    stop.abort();
    await run;
    await leader.end();
    await locker.end();
    await transport.close();
    await pool.end();
    await db.drop();
  }
});
