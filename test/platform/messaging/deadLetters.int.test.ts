import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import pg from 'pg';
import client from 'prom-client';
import { unitOfWork } from '../../../src/platform/db/index.ts';
import {
  createPgTransport,
  dropDeadLetter,
  ensureBusSchema,
  inboxHandler,
  inboxSchemaSql,
  newMessageId,
  listDeadLetters,
  redriveDeadLetters,
  registerDeadLetterMetrics,
  showDeadLetter,
  RedriveInterruptedError,
  UnknownSubscriptionError,
  type Transport,
} from '../../../src/platform/messaging/index.ts';
import { UnavailableError } from '../../../src/platform/errors/index.ts';
import { useTestDatabase } from '../../support/db.ts';
import { message, token, waitFor } from './support.ts';

const database = useTestDatabase();
let pool: pg.Pool;
let transport: Transport;

before(async () => {
  await database.ready;
  pool = database.pool(10);
  await ensureBusSchema(pool);
  await pool.query(inboxSchemaSql('delivery'));
  await pool.query('create table delivery.effects (id bigint generated always as identity primary key, message_id uuid not null)');
  transport = createPgTransport({ pool, pollIntervalMs: 100 });
  database.defer(() => transport.close());
});

/** Parks `count` messages of a new subscription (named with `suffix`) in the dead-letter store; resolves with the subscription. */
async function parkedLetters(suffix: string, count: number): Promise<string> {
  const sub = `${token()}-${suffix}`;
  await transport.ensureSubscription({ subscription: sub, pattern: 'menu.item.*' });
  const ca = new AbortController();
  const parked = transport.subscribe({ subscription: sub, maxAttempts: 1, signal: ca.signal }, async () => {
    throw new Error('always');
  });
  await transport.publish(Array.from({ length: count }, (_, i) => message('menu.item.changed', { n: i + 1 })));
  await waitFor(`${count} parked`, async () => (await listDeadLetters(pool, { subscription: sub })).length === count);
  ca.abort();
  await parked.done;
  return sub;
}

const depth = async (registry: client.Registry, subscription: string): Promise<number | undefined> => {
  const metric = await registry.getSingleMetric('brigade_dlq_depth')!.get();
  return metric.values.find((v) => v.labels.subscription === subscription)?.value;
};

describe('poison message, dead-letter store and redrive', () => {
  test('a poison message is parked after N attempts with its effects rolled back; after the fix a redrive handles it once', async () => {
    const sub = `${token()}-poison`;
    await transport.ensureSubscription({ subscription: sub, pattern: 'delivery.task.*' });
    const registry = new client.Registry();
    registerDeadLetterMetrics(registry, pool);
    let fixed = false;
    let attempts = 0;
    const c = new AbortController();
    const w = transport.subscribe(
      { subscription: sub, maxAttempts: 4, backoff: { initialMs: 10, maxMs: 50 }, signal: c.signal },
      inboxHandler({
        subscription: sub,
        schema: 'delivery',
        transaction: (_m, fn) => unitOfWork(pool, { service: 'delivery', actor: { kind: 'system', id: 'test' } }, fn),
        handle: async (tx, m) => {
          // The effect is written before the failure: the rollback must take it away with the claim.
          await tx.query('insert into delivery.effects (message_id) values ($1)', [m.id]);
          if (!fixed) {
            attempts++;
            throw new TypeError(`cannot read price of undefined (attempt ${m.attempt})`);
          }
        },
      }),
    );
    const poison = message('delivery.task.assign', { order: null });
    await transport.publish([poison]);
    await waitFor('parked', async () => (await listDeadLetters(pool, { subscription: sub })).length === 1);
    assert.equal(attempts, 4);
    assert.equal((await pool.query('select count(*)::int as n from delivery.effects where message_id = $1', [poison.id])).rows[0].n, 0);
    assert.equal((await pool.query('select count(*)::int as n from delivery.inbox where message_id = $1', [poison.id])).rows[0].n, 0);
    assert.equal(await depth(registry, sub), 1);

    const [listed] = await listDeadLetters(pool, { subscription: sub });
    const shown = await showDeadLetter(pool, listed!.id);
    assert.deepEqual(shown, listed);
    assert.equal(shown.attempts, 4);
    assert.match(shown.error, /^TypeError: cannot read price of undefined \(attempt 4\)/);
    assert.deepEqual(shown.message.payload, { order: null });
    assert.equal(shown.message.headers.correlation, poison.headers.correlation);

    fixed = true;
    assert.deepEqual(await redriveDeadLetters(pool, transport, { id: shown.id }), { redriven: 1, failed: [] });
    await waitFor('handled after redrive', async () => (await pool.query('select 1 from delivery.inbox where message_id = $1', [poison.id])).rowCount === 1);
    // A second redrive of the same message (say the row had been restored from a backup) is absorbed by the inbox.
    await transport.redeliver(sub, poison);
    const marker = message('delivery.task.marker', {});
    await transport.publish([marker]);
    await waitFor('marker', async () => (await pool.query('select 1 from delivery.inbox where message_id = $1', [marker.id])).rowCount === 1);
    c.abort();
    await w.done;
    assert.equal((await pool.query('select count(*)::int as n from delivery.effects where message_id = $1', [poison.id])).rows[0].n, 1);
    assert.deepEqual(await listDeadLetters(pool, { subscription: sub }), []);
    assert.equal(await depth(registry, sub), 0, 'the series reads 0 once its letters are gone');
  });

  test('redrive --all per subscription, drop, and 404s for unknown ids', async () => {
    const subA = `${token()}-a`;
    const subB = `${token()}-b`;
    await transport.ensureSubscription({ subscription: subA, pattern: 'menu.item.*' });
    await transport.ensureSubscription({ subscription: subB, pattern: 'menu.item.*' });
    const ca = new AbortController();
    const fail = async () => {
      throw new Error('always');
    };
    const wa = transport.subscribe({ subscription: subA, maxAttempts: 1, signal: ca.signal }, fail);
    const wb = transport.subscribe({ subscription: subB, maxAttempts: 1, signal: ca.signal }, fail);
    await transport.publish([message('menu.item.changed', { n: 1 }), message('menu.item.changed', { n: 2 })]);
    await waitFor('4 parked', async () => (await listDeadLetters(pool)).filter((d) => d.subscription === subA || d.subscription === subB).length === 4);
    ca.abort();
    await Promise.all([wa.done, wb.done]);
    const registry = new client.Registry();
    registerDeadLetterMetrics(registry, pool);
    assert.equal(await depth(registry, subA), 2);

    assert.deepEqual(await redriveDeadLetters(pool, transport, { all: true, subscription: subA }), { redriven: 2, failed: [] });
    assert.equal((await listDeadLetters(pool, { subscription: subA })).length, 0);
    const redelivered = await pool.query('select count(*)::int as n from brigade_bus.deliveries where subscription = $1 and attempt = 0', [subA]);
    assert.equal(redelivered.rows[0].n, 2, 'only subscription A got them back');
    assert.equal((await pool.query('select count(*)::int as n from brigade_bus.deliveries where subscription = $1', [subB])).rows[0].n, 0);

    const [one, two] = await listDeadLetters(pool, { subscription: subB });
    await dropDeadLetter(pool, one!.id);
    assert.deepEqual((await listDeadLetters(pool, { subscription: subB })).map((d) => d.id), [two!.id]);
    await assert.rejects(dropDeadLetter(pool, one!.id), (e: unknown) => (e as { code?: string }).code === 'NOT_FOUND');
    await assert.rejects(showDeadLetter(pool, "1' or '1'='1"), (e: unknown) => (e as { code?: string }).code === 'NOT_FOUND');
    await assert.rejects(redriveDeadLetters(pool, transport, { id: one!.id }), (e: unknown) => (e as { code?: string }).code === 'NOT_FOUND');
    // A malformed id names no dead letter: the same typed 404 as an unknown one, never a cast error.
    const notFound = (e: unknown) => (e as { code?: string; status?: number }).code === 'NOT_FOUND' && (e as { status?: number }).status === 404;
    for (const bad of ['not-a-uuid', "1' or '1'='1", `${two!.id}x`, '']) {
      await assert.rejects(redriveDeadLetters(pool, transport, { id: bad }), notFound, bad);
      await assert.rejects(dropDeadLetter(pool, bad), notFound, bad);
      await assert.rejects(showDeadLetter(pool, bad), notFound, bad);
    }
    assert.equal((await showDeadLetter(pool, two!.id.toUpperCase())).id, two!.id, 'an id in capitals is the same uuid');
    assert.deepEqual(await listDeadLetters(pool, { subscription: "x' or 1=1 --" }), []);
  });

  test('the depth gauge reads 0, not nothing, for a subscription without letters: a known one, one whose last letter was dropped, and one that left the registry', async () => {
    const sub = await parkedLetters('depth', 2);
    const quiet = `${token()}-quiet`;
    await transport.ensureSubscription({ subscription: quiet, pattern: 'menu.item.*' });
    const registry = new client.Registry();
    registerDeadLetterMetrics(registry, pool);
    assert.deepEqual([await depth(registry, sub), await depth(registry, quiet)], [2, 0]);
    for (const letter of await listDeadLetters(pool, { subscription: sub })) await dropDeadLetter(pool, letter.id);
    assert.equal(await depth(registry, sub), 0, 'the last letter dropped: 0, not a vanished series');
    // A letter of a subscription removed from the registry: counted, then 0 once dropped.
    const removed = `${token()}-removed`;
    const { rows } = await pool.query<{ id: string }>(
      `insert into brigade_bus.dead_letters (id, subscription, message_id, subject, key, headers, payload, error, attempts, first_failed_at, last_failed_at, transport)
       values (gen_random_uuid(), $1, gen_random_uuid(), 'menu.item.changed', 'k', '{}', 'null', 'it failed', 1, now(), now(), 'postgres') returning id::text as id`,
      [removed],
    );
    assert.equal(await depth(registry, removed), 1);
    await dropDeadLetter(pool, rows[0]!.id);
    assert.equal(await depth(registry, removed), 0);
  });

  test('redrive --all commits each letter on its own: one that cannot go back stays and is reported, the others go, and none is sent twice', async () => {
    const sub = await parkedLetters('all', 3);
    const [first, bad, last] = (await listDeadLetters(pool, { subscription: sub })).sort((a, b) => (a.id < b.id ? -1 : 1)); // the redrive's order
    const sent: string[] = [];
    const seenGone: boolean[] = [];
    const flaky: Transport = {
      ...transport,
      async redeliver(subscription, m) {
        // Each earlier letter's removal is committed already (before: one transaction held them all).
        seenGone.push((await pool.query('select 1 from brigade_bus.dead_letters where id = $1', [first!.id])).rowCount === 0);
        if (m.id === bad!.message.id) throw new UnknownSubscriptionError(subscription);
        sent.push(m.id);
        return transport.redeliver(subscription, m);
      },
    };
    const outcome = await redriveDeadLetters(pool, flaky, { all: true, subscription: sub });
    assert.deepEqual(outcome, { redriven: 2, failed: [{ id: bad!.id, subscription: sub, error: new UnknownSubscriptionError(sub).message }] });
    assert.deepEqual(sent, [first!.message.id, last!.message.id]);
    assert.deepEqual(seenGone, [false, true, true]);
    assert.deepEqual((await listDeadLetters(pool, { subscription: sub })).map((d) => d.id), [bad!.id], 'the one that could not go back stays');
    // A second run sends nothing again but the one that stayed.
    sent.length = 0;
    assert.deepEqual((await redriveDeadLetters(pool, flaky, { all: true, subscription: sub })).redriven, 0);
    assert.deepEqual(sent, []);
  });

  test('redrive --all stops when the transport fails, not the letter: what went back is counted, the rest stay parked and are not tried', async () => {
    const sub = await parkedLetters('down', 3);
    const [first, second, third] = (await listDeadLetters(pool, { subscription: sub })).sort((a, b) => (a.id < b.id ? -1 : 1));
    const tried: string[] = [];
    // The broker goes down after the first letter went back.
    const downAfterOne: Transport = {
      ...transport,
      async redeliver(subscription, m) {
        tried.push(m.id);
        if (tried.length > 1) throw new UnavailableError('NATS is not answering');
        return transport.redeliver(subscription, m);
      },
    };
    await assert.rejects(redriveDeadLetters(pool, downAfterOne, { all: true, subscription: sub }), (error: RedriveInterruptedError) => {
      assert.equal(error.code, 'REDRIVE_INTERRUPTED');
      assert.equal(error.status, 503);
      assert.deepEqual(error.details, { redriven: 1, failed: [] });
      assert.match(error.message, /^The redrive stopped after 1 dead letter\(s\) went back: the transport failed \(NATS is not answering\)\. The rest stay parked: run the redrive again once it answers$/);
      return true;
    });
    assert.deepEqual(tried, [first!.message.id, second!.message.id], 'the third is not tried against a transport that is down');
    assert.deepEqual((await listDeadLetters(pool, { subscription: sub })).map((d) => d.id).sort(), [second!.id, third!.id].sort(), 'the rest stay parked');
    // Once it answers again, the next redrive sends them.
    assert.deepEqual(await redriveDeadLetters(pool, transport, { all: true, subscription: sub }), { redriven: 2, failed: [] });
  });

  test('redrive --all takes the letters there when it began: one that fails again and is parked anew (a later id) is not taken again by the same redrive', async () => {
    const sub = await parkedLetters('again', 2);
    let sends = 0;
    const reparking: Transport = {
      ...transport,
      async redeliver(subscription, m) {
        sends++;
        if (sends > 10) throw new Error('the redrive keeps taking the letters it parked again');
        // As if the handler failed again at once: the letter is parked anew, under a later id.
        await pool.query(
          `insert into brigade_bus.dead_letters select (json_populate_record(d, json_build_object('id', $2::uuid))).* from brigade_bus.dead_letters d where d.subscription = $3 and d.message_id = $1 limit 1`,
          [m.id, newMessageId(), subscription],
        );
      },
    };
    const outcome = await redriveDeadLetters(pool, reparking, { all: true, subscription: sub });
    // Before, each letter parked anew was taken again, for ever (the test's transport stops it at 10).
    assert.deepEqual([outcome.redriven, outcome.failed, sends], [2, [], 2]);
    assert.equal((await listDeadLetters(pool, { subscription: sub })).length, 2, 'the two parked anew stay for the next redrive');
  });
});
