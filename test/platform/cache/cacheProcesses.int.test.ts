import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { useTestDatabase } from '../../support/db.ts';
import { testEnv } from '../../support/env.ts';
import { requireService } from '../../support/services.ts';
import { scriptRun } from '../../support/scriptRun.ts';
import { createProbe } from './probe.ts';

const redis = await requireService('redis');

interface Instance {
  call(command: Record<string, unknown>): Promise<{ price?: number; source?: string }>;
  close(): Promise<void>;
}

/** Starts one app instance (a real process) sharing the database and Redis. */
async function start(url: string, namespace: string): Promise<Instance> {
  const { execArgv, file } = scriptRun(path.join(import.meta.dirname, 'cacheProcess.ts'));
  const child: ChildProcess = fork(file, [url, testEnv.redisUrl, namespace], {
    execArgv: [...execArgv],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const waiting = new Map<number, (reply: Record<string, unknown>) => void>();
  child.on('message', (reply: Record<string, unknown>) => waiting.get(reply.id as number)?.(reply));
  let next = 1;
  const call = (command: Record<string, unknown>) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const id = next++;
      waiting.set(id, (reply) => (reply.error === undefined ? resolve(reply) : reject(new Error(String(reply.error)))));
      child.send({ ...command, id });
    });
  await new Promise<void>((resolve, reject) => {
    waiting.set(0, () => resolve());
    child.once('exit', (code) => reject(new Error(`instance exited with ${code}`)));
  });
  return {
    call: (command) => call(command) as Promise<{ price?: number; source?: string }>,
    close: async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      await call({ op: 'close' });
      await exited;
    },
  };
}

describe('eviction across two app processes sharing Redis', { skip: redis.skip }, () => {
  const database = useTestDatabase();
  const namespace = `t_${randomUUID().slice(0, 8)}`;
  let a: Instance;
  let b: Instance;
  before(async () => {
    const probe = await createProbe(database.db.url, { setup: true });
    await probe.close();
    // The two processes hold connections to the database: they close before it is dropped.
    database.defer(async () => {
      await Promise.all([a?.close(), b?.close()]);
      const admin = new Redis(testEnv.redisUrl);
      const keys = await admin.keys(`${namespace}:*`);
      if (keys.length > 0) await admin.del(...keys);
      await admin.quit();
    });
    [a, b] = await Promise.all([start(database.db.url, namespace), start(database.db.url, namespace)]);
  });

  test('a read on one process right after another committed a change never returns the old price', async () => {
    const tenant = randomUUID();
    await a.call({ op: 'write', tenant, price: 1000 });
    let hits = 0;
    for (let price = 1001; price <= 1040; price += 1) {
      // Both processes read (and so cache) the current price…
      assert.equal((await a.call({ op: 'read', tenant })).price, price - 1);
      const cached = await b.call({ op: 'read', tenant });
      assert.equal(cached.price, price - 1);
      if (cached.source === 'redis') hits += 1;
      // …then one of them commits a change (evicting after commit) and the other reads at once.
      const [writer, reader] = price % 2 === 0 ? [a, b] : [b, a];
      await writer.call({ op: 'write', tenant, price });
      assert.equal((await reader.call({ op: 'read', tenant })).price, price);
    }
    assert.ok(hits >= 39, `the old price was served from Redis before each change (${hits} hits), so eviction is what the test checks`);
  });
});
