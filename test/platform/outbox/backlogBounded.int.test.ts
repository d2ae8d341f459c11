import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import client from 'prom-client';
import { createPgTransport } from '../../../src/platform/messaging/index.ts';
import { createRelay, type RelayEvent } from '../../../src/platform/outbox/index.ts';
import { createTestDatabase } from '../../support/db.ts';
import { eventually } from '../../support/eventually.ts';
import { overlapUnderLock } from '../../support/overlapUnderLock.ts';

/** The first key of the relay's leader lock ('outb', decision 0035). */
const LEADER_LOCK_CLASS = 0x6f75_7462;

/**
 * Runs `fn` on a database of its own with delivery's relay standing by (the test holds the leader lock
 * on `leader`, so only scrapes read the outbox), its metrics in `registry`, its pool of `max` connections.
 */
async function withStandbyRelay(max: number, fn: (it: { url: string; registry: client.Registry }) => Promise<void>): Promise<void> {
  const db = await createTestDatabase();
  const pool = new pg.Pool({ connectionString: db.url, max });
  const transport = createPgTransport({ pool, pollIntervalMs: 100 });
  const leader = new pg.Client({ connectionString: db.url });
  const stop = new AbortController();
  let run: Promise<void> | undefined;
  try {
    await leader.connect();
    assert.equal((await leader.query(`select pg_try_advisory_lock($1::int, hashtext('brigade_outbox:delivery')) as ok`, [LEADER_LOCK_CLASS])).rows[0].ok, true);
    const registry = new client.Registry();
    const events: RelayEvent[] = [];
    run = createRelay({ pool, service: 'delivery', transport, registry, lockPollMs: 600_000, onProgress: (e) => events.push(e) }).run(stop.signal);
    await eventually('the relay stands by', async () => events.some((e) => e.kind === 'standby'), (ok) => ok);
    await fn({ url: db.url, registry });
  } finally {
    stop.abort();
    await run;
    await leader.end();
    await transport.close();
    await pool.end();
    await db.drop();
  }
}

test("a scrape's backlog read stuck behind a lock ends in the database too, not only for the scrape", async () => {
  await withStandbyRelay(4, async ({ url, registry }) => {
    const [text] = await overlapUnderLock(url, 'delivery.outbox', 1, () => registry.metrics(), 2000);
    assert.ok(!/^brigade_outbox_depth\{/m.test(text!), 'the scrape answers without the stuck outbox');
  });
});

test('with the outbox locked, overlapping scrapes share one backlog read, which ends in the database, and have no outbox series', async () => {
  await withStandbyRelay(8, async ({ url, registry }) => {
    assert.match(await registry.metrics(), /^brigade_outbox_depth\{outbox="delivery"\} 0$/m);
    // Found by a review: each scrape started its own read, and each held a connection of the pool the
    // relay and the API share for up to 2 s (the two gauges of one scrape already shared one).
    const texts = await overlapUnderLock(url, 'delivery.outbox', 6, () => registry.metrics(), 2000);
    for (const text of texts) assert.doesNotMatch(text, /^brigade_outbox_(depth|oldest_age_seconds)\{/m, 'no series, not a stale count');
    assert.match(await registry.metrics(), /^brigade_outbox_depth\{outbox="delivery"\} 0$/m, 'the lock gone, the next scrape reads again');
  });
});
