import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { brigadeBin, repoRoot, runMain } from '../support/cli.ts';
import { freePort } from '../../src/platform/db/localPorts.ts';
import { useTestDatabase } from '../support/db.ts';
import { silentProxy, type SilentProxy } from '../support/silentProxy.ts';

describe('brigade serve --service NAME prints, and serves, only the pages whose API it serves', () => {
  const database = useTestDatabase();

  /** Runs `brigade serve --service name` until it is up; returns what it printed and its address, then stops it. */
  async function serve(name: string, visit: (base: string, out: string, output: () => string) => Promise<void>, env: Record<string, string> = {}): Promise<void> {
    const child = spawn(process.execPath, [brigadeBin, 'serve', '--service', name], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'warn', DATABASE_URL: database.db.url, PORT: '0', BRIGADE_SECRET: 'x'.repeat(40), ...env },
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const up = await Promise.race([
        new Promise<boolean>((resolve) => child.stdout.on('data', () => out.includes('Press Ctrl+C') && resolve(true))),
        exited.then(() => false),
      ]);
      assert.ok(up, `brigade serve --service ${name} did not come up:\n${out}`);
      const base = /API\s+(http:\/\/\S+)\/v1/.exec(out)?.[1];
      assert.ok(base !== undefined, out);
      await visit(base, out, () => out);
    } finally {
      child.kill('SIGINT');
    }
    assert.equal(await exited, 0, out);
  }

  test('menu alone: no pages (they all call ordering); / leads to the API docs', async () => {
    await serve('menu', async (base, out) => {
      // Before, it printed /login, /board/<restaurant id>, /courier and /track/<order id> and served them.
      assert.doesNotMatch(out, /pages|\/login|\/board|\/courier|\/track/, out);
      for (const url of ['/login', '/board/5b0f7c39-60a4-4a52-8a57-2a0d1e6f2f11', '/courier', '/track/5b0f7c39-60a4-4a52-8a57-2a0d1e6f2f11', '/web/common.js']) {
        assert.equal((await fetch(`${base}${url}`)).status, 404, url);
      }
      const root = await fetch(`${base}/`, { redirect: 'manual' });
      assert.equal(root.headers.get('location'), '/docs');
    });
  });

  test('ordering alone: the sign-in, board and tracking pages, not the courier page (it needs delivery too)', async () => {
    await serve('ordering', async (base, out) => {
      const line = /^ {2}pages {4}(.*)$/m.exec(out)?.[1];
      assert.equal(line, `${base}/login · ${base}/board/<restaurant id> · ${base}/track/<order id>`, out);
      assert.equal((await fetch(`${base}/board/5b0f7c39-60a4-4a52-8a57-2a0d1e6f2f11`)).status, 200);
      assert.equal((await fetch(`${base}/courier`)).status, 404);
      assert.equal((await fetch(`${base}/web/courier.js`)).status, 404);
    });
  });

  // Found by a review: a REDIS_URL nobody answers at does not stop the start (the cache reads uncached,
  // decision 0020), and the only sign was a JSON "cache degraded" warning that did not name REDIS_URL.
  test('a REDIS_URL that does not answer is said in one line at start-up; one that answers is not', async () => {
    const nowhere = `redis://127.0.0.1:${await freePort()}`;
    await serve(
      'menu',
      async (_base, _out, output) => {
        // On stderr: it may reach this process after stdout's "Press Ctrl+C" (seconds later on a loaded machine).
        for (let waited = 0; !output().includes('warning: REDIS_URL') && waited < 30_000; waited += 20) await sleep(20);
        assert.match(output(), new RegExp(`^warning: REDIS_URL \\(127\\.0\\.0\\.1:${nowhere.split(':').at(-1)}\\) did not answer: menus are read uncached until it does$`, 'm'), output());
        // The database's line, when there is one, comes before Redis's on the same stream: this one answers.
        assert.doesNotMatch(output(), /DATABASE_URL/, output());
      },
      { REDIS_URL: nowhere },
    );
    const redisUrl = process.env.REDIS_URL;
    if (redisUrl === undefined) return;
    await serve(
      'menu',
      async (_base, _out, output) => {
        await sleep(300);
        assert.doesNotMatch(output(), /REDIS_URL/, output());
      },
      { REDIS_URL: redisUrl },
    );
  });

  // Found by a review of the CLI: with a DATABASE_URL that refused connections, serve said "Brigade is
  // up" and nothing else (Redis got a line); only /health/ready's 503 and the log told why.
  test('a DATABASE_URL that refuses connections is said in one line at start-up; serve still comes up, and is ready once the database answers', async () => {
    const port = await freePort();
    const closed = new URL(database.db.url);
    closed.hostname = '127.0.0.1';
    closed.port = String(port);
    // Opened on that port once the warning is seen: a proxy to the test's PostgreSQL.
    let relay = null as SilentProxy | null;
    try {
      await serve(
        'menu',
        async (base, _out, output) => {
          for (let waited = 0; !output().includes('warning: DATABASE_URL') && waited < 30_000; waited += 20) await sleep(20);
          assert.match(output(), new RegExp(`^warning: DATABASE_URL \\(127\\.0\\.0\\.1:${port}\\) did not answer: /health/ready answers 503 until it does$`, 'm'), output());
          assert.equal(output().match(/warning: DATABASE_URL/g)?.length, 1, output());
          assert.equal((await fetch(`${base}/health/ready`)).status, 503);
          relay = await silentProxy(database.db.url, port);
          let status = 0;
          for (let waited = 0; status !== 200 && waited < 30_000; waited += 200) {
            status = (await fetch(`${base}/health/ready`)).status;
            if (status !== 200) await sleep(200);
          }
          assert.equal(status, 200, 'ready once the database answers');
        },
        { DATABASE_URL: closed.toString() },
      );
    } finally {
      await relay?.close();
    }
  });
  // Found by a review: serve runs no relay, consumer or saga (requests write to the outbox), yet it
  // refused to start while NATS was down ("NATS is not reachable"), so an API instance that crashed or
  // was redeployed during a broker outage could not come back. Its only use of the broker is the admin
  // redrive of dead letters.
  test('a NATS_URL nobody answers at: serve comes up, says so in one line, reads a menu, is ready with "nats" shown but not counted, and a redrive answers 503 saying what to do', async () => {
    const env = { DATABASE_URL: database.db.url, BRIGADE_SECRET: 'x'.repeat(40) };
    const added = await runMain(['tenants', 'add', 'Casa Sem Broker', '--city', 'Porto'], env);
    assert.equal(added.code, 0, added.stderr);
    const rid = /created restaurant ([0-9a-f-]{36})/.exec(added.stdout)![1]!;
    const minted = await runMain(['token', '--role', 'admin'], env);
    assert.equal(minted.code, 0, minted.stderr);
    const admin = minted.stdout.trim();
    // A letter JetStream parked, for the redrive to need the broker.
    const client = new pg.Client({ connectionString: database.db.url });
    await client.connect();
    let letter: string;
    try {
      const { rows } = await client.query<{ id: string }>(
        `insert into brigade_bus.dead_letters (id, subscription, message_id, subject, key, headers, payload, error, attempts, first_failed_at, last_failed_at, transport)
         values (gen_random_uuid(), 'delivery.order-events', gen_random_uuid(), 'ordering.order.Placed', 'k', '{}', '{}', 'it failed', 5, now(), now(), 'nats') returning id::text as id`,
      );
      letter = rows[0]!.id;
    } finally {
      await client.end();
    }
    const port = await freePort();
    await serve(
      'menu',
      async (base, _out, output) => {
        for (let waited = 0; !output().includes('warning: NATS_URL') && waited < 30_000; waited += 20) await sleep(20);
        assert.match(
          output(),
          new RegExp(`^warning: NATS_URL \\(nats://127\\.0\\.0\\.1:${port}\\) did not answer: this process runs no workers and serves without it; dead-letter redrives answer 503 until it connects \\(it keeps trying; /health/ready shows "nats"\\)$`, 'm'),
          output(),
        );
        const menu = await fetch(`${base}/v1/restaurants/${rid}/menu`);
        assert.equal(menu.status, 200, await menu.text());
        const ready = await fetch(`${base}/health/ready`);
        const readiness = (await ready.json()) as { ok: boolean; checks: Record<string, { ok: boolean; detail?: string }> };
        assert.equal(ready.status, 200, JSON.stringify(readiness));
        assert.equal(readiness.ok, true);
        assert.deepEqual(readiness.checks.nats, {
          ok: false,
          detail: 'not connected: this process runs no workers and serves without it (dead-letter redrives answer 503 until it connects; the instance stays ready). Check that NATS is up and NATS_URL names it (the log has the reason)',
        });
        const auth = { authorization: `Bearer ${admin}` };
        // The store is the database's: listed as before.
        const list = await fetch(`${base}/v1/admin/dead-letters`, { headers: auth });
        assert.equal(list.status, 200);
        assert.equal(((await list.json()) as { total: number }).total, 1);
        const redrive = await fetch(`${base}/v1/admin/dead-letters/${letter}/redrive`, { method: 'POST', headers: auth });
        const problem = (await redrive.json()) as { code: string; detail: string };
        assert.equal(redrive.status, 503, JSON.stringify(problem));
        assert.equal(problem.code, 'UNAVAILABLE');
        assert.match(problem.detail, new RegExp(`^NATS is not connected at nats://127\\.0\\.0\\.1:${port}: this process keeps trying in the background`));
        const all = await fetch(`${base}/v1/admin/dead-letters/redrive`, { method: 'POST', headers: auth });
        assert.equal(all.status, 503);
        assert.match(((await all.json()) as { detail: string }).detail, /NATS is not connected at/);
        // The letter stays parked.
        assert.equal(((await (await fetch(`${base}/v1/admin/dead-letters`, { headers: auth })).json()) as { total: number }).total, 1);
      },
      { ...env, NATS_URL: `nats://127.0.0.1:${port}` },
    );
  });
});
