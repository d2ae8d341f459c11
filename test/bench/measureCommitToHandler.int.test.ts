import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { testEnv } from '../support/env.ts';
import { adminQuery } from '../support/db.ts';

// The harness makes its databases on DATABASE_URL's server (bench/database.ts reads it on import): the test server's.
process.env.DATABASE_URL = testEnv.adminUrl;
const { measureCommitToHandler } = await import('../../bench/messaging/harness.ts');
type BenchSetup = Parameters<typeof measureCommitToHandler>[1];

const OPTIONS = { messages: 200, warmup: 100, producers: 4, stallMs: 300 };

/** A system whose "handler" is called right after each commit, except for the messages in `lost`; it records its stops and its database. */
function fakeSystem(options: { lost?: readonly number[]; failAt?: number; failSetup?: boolean } = {}) {
  const seen = { stops: 0, database: '' };
  const setup: BenchSetup = async (url, producers, onHandled) => {
    seen.database = new URL(url).pathname.slice(1);
    if (options.failSetup === true) throw new Error('the set-up failed');
    return {
      produce: async (n) => {
        if (n === options.failAt) throw new Error(`producing message ${n} failed`);
        await producers.query('insert into bench_orders (n) values ($1)', [n]);
        if (!(options.lost ?? []).includes(n)) setImmediate(() => onHandled(n));
      },
      stop: async () => {
        seen.stops++;
      },
    };
  };
  return { setup, seen };
}

const exists = async (database: string) => (await adminQuery('select 1 from pg_database where datname = $1', [database])).rowCount === 1;

describe('measureCommitToHandler: a failed system is stopped and its database dropped', () => {
  test('every message handled: the figures, the system stopped, the database dropped', async () => {
    const { setup, seen } = fakeSystem();
    const result = await measureCommitToHandler(OPTIONS, setup);
    assert.equal(result.latencies.length, OPTIONS.messages);
    assert.ok(result.rate > 0 && result.producerTps > 0);
    assert.equal(seen.stops, 1);
    assert.equal(await exists(seen.database), false, `database ${seen.database} dropped`);
  });

  test('a message that never reaches its handler fails the run within the stall time, saying how many arrived', { timeout: 30_000 }, async () => {
    const { setup, seen } = fakeSystem({ lost: [150, 260] });
    await assert.rejects(measureCommitToHandler(OPTIONS, setup), /only 298 of 300 messages \(100 warm-up \+ 200\) reached the handler: none arrived in the last 0\.3 s \(message 150 is the first missing\)/);
    assert.equal(seen.stops, 1, 'the consumers were stopped');
    assert.equal(await exists(seen.database), false, `database ${seen.database} dropped`);
  });

  test('a producer that fails fails the run with its error, the system stopped and the database dropped', { timeout: 30_000 }, async () => {
    const { setup, seen } = fakeSystem({ failAt: 120 });
    await assert.rejects(measureCommitToHandler(OPTIONS, setup), /producing message 120 failed/);
    assert.equal(seen.stops, 1);
    assert.equal(await exists(seen.database), false, `database ${seen.database} dropped`);
  });

  test('a set-up that fails leaves no database behind', { timeout: 30_000 }, async () => {
    const { setup, seen } = fakeSystem({ failSetup: true });
    await assert.rejects(measureCommitToHandler(OPTIONS, setup), /the set-up failed/);
    assert.equal(seen.stops, 0, 'nothing to stop');
    assert.equal(await exists(seen.database), false, `database ${seen.database} dropped`);
  });
});
