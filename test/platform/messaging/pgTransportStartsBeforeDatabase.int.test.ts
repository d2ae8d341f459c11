import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { freePort } from '../../../src/platform/db/localPorts.ts';
import { createPgTransport, ensureBusSchema, UnknownSubscriptionError } from '../../../src/platform/messaging/index.ts';
import { useTestDatabase } from '../../support/db.ts';
import { silentProxy } from '../../support/silentProxy.ts';
import { message, token, waitFor } from './support.ts';

// Found by a review: a PostgreSQL-transport worker started while its database was down (compose or k8s
// starting the workers first) failed at once: the subscription's first query (its lease) rejected
// `subscribe(...).done`, before any retry applied, and `brigade worker` shut down with exit 1. A worker
// that was already running when the database went away retried, as the LISTEN connection does.

const database = useTestDatabase();

test('a worker subscribed while its database does not answer yet reports and retries, then consumes once it answers; an unknown subscription still fails it', async () => {
  await database.ready;
  const direct = database.pool(4);
  await ensureBusSchema(direct);
  const publisher = createPgTransport({ pool: direct, pollIntervalMs: 100 });
  const t = token();
  await publisher.ensureSubscription({ subscription: t, pattern: `pgd.${t}.*` });

  // The worker's pool points at a port where nothing listens yet: every connection is refused.
  const port = await freePort();
  const later = new URL(database.db.url);
  later.hostname = '127.0.0.1';
  later.port = String(port);
  const pool = new pg.Pool({ connectionString: later.toString(), max: 4, connectionTimeoutMillis: 5000 });
  pool.on('error', () => undefined);
  const transport = createPgTransport({ pool, pollIntervalMs: 100 });
  const stop = new AbortController();
  const reported: unknown[] = [];
  const handled: string[] = [];
  let failed: unknown = null;
  const worker = transport.subscribe({ subscription: t, signal: stop.signal, onError: (error) => reported.push(error) }, async (m) => void handled.push(m.id));
  const done = worker.done.catch((error: unknown) => void (failed = error ?? new Error('rejected')));
  let proxy: { close(): Promise<void> } | null = null;
  try {
    // Before: `done` rejected with ECONNREFUSED at once, and nothing was reported.
    await waitFor('the worker to report the refused connection twice (or to fail)', () => failed !== null || reported.length >= 2, 60_000);
    assert.equal(failed, null, `the worker failed while the database was down: ${String(failed)}`);
    assert.match(String((reported[0] as Error).message), /ECONNREFUSED/);

    // The database comes up on that port: the worker gets its subscription and consumes what waits.
    const m = message(`pgd.${t}.waited`, {});
    await publisher.publish([m]);
    proxy = await silentProxy(database.db.url, port);
    await waitFor('the waiting message to be handled', () => failed !== null || handled.length === 1, 60_000);
    assert.equal(failed, null, `the worker failed: ${String(failed)}`);
    assert.deepEqual(handled, [m.id]);
  } finally {
    stop.abort();
    await done;
    await transport.close();
    await pool.end();
    await proxy?.close();
    await publisher.close();
  }
  assert.equal(failed, null, `the worker failed: ${String(failed)}`);

  // Only a subscription the database does not know is fatal: retrying would not make it known.
  const unknown = createPgTransport({ pool: direct });
  try {
    await assert.rejects(unknown.subscribe({ subscription: `nope_${t}`, signal: new AbortController().signal }, async () => undefined).done, UnknownSubscriptionError);
  } finally {
    await unknown.close();
  }
});

test('a worker stopped while its database still does not answer ends without an error', async () => {
  const port = await freePort();
  const pool = new pg.Pool({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 5000 });
  pool.on('error', () => undefined);
  const transport = createPgTransport({ pool });
  const stop = new AbortController();
  const reported: unknown[] = [];
  const worker = transport.subscribe({ subscription: token(), signal: stop.signal, onError: (error) => reported.push(error) }, async () => undefined);
  let failed: unknown = null;
  const done = worker.done.catch((error: unknown) => void (failed = error ?? new Error('rejected')));
  try {
    await waitFor('the worker to report the refused connection (or to fail)', () => failed !== null || reported.length >= 1, 60_000);
    stop.abort();
    await done;
    assert.equal(failed, null, `the worker failed: ${String(failed)}`);
  } finally {
    stop.abort();
    await done;
    await transport.close();
    await pool.end();
  }
});
