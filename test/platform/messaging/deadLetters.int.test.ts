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
  purgeClaimChecks,
  withClaimCheck,
  busDeadLettersUniqueSql,
  ClaimCheckMissingError,
  DeadLetterBusyError,
  DeadLetterTransportMismatchError,
  RedriveInterruptedError,
  UnknownSubscriptionError,
  type Transport,
} from '../../../src/platform/messaging/index.ts';
import { UnavailableError } from '../../../src/platform/errors/index.ts';
import { createTestDatabase, useTestDatabase } from '../../support/db.ts';
import { createHash } from 'node:crypto';
import { message, token, waitFor } from './support.ts';
import { within } from '../../support/eventually.ts';
import { overlapUnderLock } from '../../support/overlapUnderLock.ts';

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

    assert.deepEqual(await redriveDeadLetters(pool, transport, { all: true, subscription: subA }), { redriven: 2, failed: [], left: 0, next: null });
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

  test('with the dead letters locked, overlapping scrapes share one read, which ends in the database within its bound, and the gauge has no series rather than its last counts', async () => {
    const sub = await parkedLetters('locked', 1);
    const registry = new client.Registry();
    registerDeadLetterMetrics(registry, pool);
    assert.equal(await depth(registry, sub), 1);
    // Found by a review: 20 scrapes held the whole pool the API shares until the lock went.
    const texts = await overlapUnderLock(database.db.url, 'brigade_bus.dead_letters', 8, () => registry.metrics(), 4000);
    for (const text of texts) assert.doesNotMatch(text, /^brigade_dlq_depth\{/m, 'no series, not the last counts as if current');
    assert.equal(await depth(registry, sub), 1, 'the lock gone, the next scrape reads again');
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
    assert.deepEqual(outcome, { redriven: 2, failed: [{ id: bad!.id, subscription: sub, error: new UnknownSubscriptionError(sub, { deadLetter: bad!.id }).message }], left: 0, next: null });
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
    assert.deepEqual(await redriveDeadLetters(pool, transport, { all: true, subscription: sub }), { redriven: 2, failed: [], left: 0, next: null });
  });

  test('redrive --all takes the letters there when it began: one that fails again and is parked anew (a later id) is not taken again by the same redrive', async () => {
    const sub = await parkedLetters('again', 2);
    let sends = 0;
    const reparked: Array<Promise<unknown>> = [];
    const reparking: Transport = {
      ...transport,
      async redeliver(subscription, m) {
        sends++;
        if (sends > 10) throw new Error('the redrive keeps taking the letters it parked again');
        // As if the handler failed again at once: the letter is parked anew, under a later id (once the
        // redrive's delete of the old one commits: one letter per message and subscription).
        const letter = (await listDeadLetters(pool, { subscription })).find((d) => d.message.id === m.id)!;
        reparked.push(
          pool.query(
            `insert into brigade_bus.dead_letters (id, subscription, message_id, subject, key, headers, payload, error, attempts, first_failed_at, last_failed_at, transport)
             values ($1, $2, $3, $4, $5, $6, $7, 'failed again', 1, now(), now(), 'postgres')`,
            [newMessageId(), subscription, m.id, m.subject, m.key, JSON.stringify(letter.message.headers), JSON.stringify(letter.message.payload)],
          ),
        );
      },
    };
    const outcome = await redriveDeadLetters(pool, reparking, { all: true, subscription: sub });
    await Promise.all(reparked);
    // Before, each letter parked anew was taken again, for ever (the test's transport stops it at 10).
    assert.deepEqual([outcome.redriven, outcome.failed, sends], [2, [], 2]);
    assert.equal((await listDeadLetters(pool, { subscription: sub })).length, 2, 'the two parked anew stay for the next redrive');
  });

  test('redrive --all bounds its letters by the database\'s clock: one parked anew during the run under an id below the bound (a host whose clock is behind) is not sent back twice', async () => {
    const sub = `${token()}-skew`;
    await transport.ensureSubscription({ subscription: sub, pattern: 'menu.item.*' });
    // Ids that leave room between them: the second letter's id is the run's bound (`until`).
    const base = newMessageId().slice(0, 24);
    const [first, second] = [message('menu.item.changed', { n: 1 }), message('menu.item.changed', { n: 2 })];
    for (const [m, suffix] of [[first, '000000000001'], [second, '000000000003']] as const) {
      await pool.query(
        `insert into brigade_bus.dead_letters (id, subscription, message_id, subject, key, headers, payload, error, attempts, first_failed_at, last_failed_at, transport)
         values ($1, $2, $3, $4, $5, $6, $7, 'it failed', 1, now(), now(), 'postgres')`,
        [base + suffix, sub, m.id, m.subject, m.key, JSON.stringify(m.headers), JSON.stringify(m.payload)],
      );
    }
    // Forced: as the first letter is taken, its message fails again and is parked anew by a worker on a
    // host whose clock is behind, under an id between the two letters (below the bound, above the
    // cursor). In the redrive's own transaction, so the next letter's read sees it, as it would once committed.
    const trigger = `skew_${token()}`;
    await pool.query(
      `create function brigade_bus.${trigger}() returns trigger language plpgsql as $f$ begin
         insert into brigade_bus.dead_letters (id, subscription, message_id, subject, key, headers, payload, error, attempts, first_failed_at, last_failed_at, transport)
         values ('${base}000000000002', old.subscription, old.message_id, old.subject, old.key, old.headers, old.payload, 'failed again', 1, now(), now(), 'postgres');
         return old;
       end $f$`,
    );
    await pool.query(`create trigger ${trigger} after delete on brigade_bus.dead_letters for each row when (old.subscription = '${sub}' and old.id = '${base}000000000001') execute function brigade_bus.${trigger}()`);
    const sent: string[] = [];
    const counting: Transport = {
      ...transport,
      async redeliver(subscription, m) {
        sent.push(m.id);
        return transport.redeliver(subscription, m);
      },
    };
    try {
      const outcome = await redriveDeadLetters(pool, counting, { all: true, subscription: sub });
      // Before, the letter parked anew sorted below the bound and was taken by the same run: its message sent back twice.
      assert.deepEqual(sent, [first.id, second.id], 'each message sent back once');
      assert.deepEqual(outcome, { redriven: 2, failed: [], left: 0, next: null });
    } finally {
      await pool.query(`drop trigger ${trigger} on brigade_bus.dead_letters; drop function brigade_bus.${trigger}()`);
    }
    const left = await listDeadLetters(pool, { subscription: sub });
    assert.deepEqual(left.map((l) => [l.id, l.error]), [[`${base}000000000002`, 'failed again']], 'the letter parked anew stays for the next redrive');
  });
});

/** Parks a letter of `subscription` straight in the store, as `transport` would have; resolves with its id. */
async function park(subscription: string, m: ReturnType<typeof message>, parkedBy = 'postgres'): Promise<string> {
  const { rows } = await pool.query<{ id: string }>(
    `insert into brigade_bus.dead_letters (id, subscription, message_id, subject, key, headers, payload, error, attempts, first_failed_at, last_failed_at, transport)
     values ($1, $2, $3, $4, $5, $6, $7, 'it failed', 5, now(), now(), $8) returning id::text as id`,
    [newMessageId(), subscription, m.id, m.subject, m.key, JSON.stringify(m.headers), JSON.stringify(m.payload), parkedBy],
  );
  return rows[0]!.id;
}

/** Stores a claim-checked payload (stored two hours ago) with an unreleased reference of `subscription` to `messageId`; resolves with its sha-256. */
async function claimChecked(messageId: string, subscription: string): Promise<string> {
  const sha = createHash('sha256').update(messageId).digest('hex');
  await pool.query(`insert into brigade_bus.claim_checks (sha256, payload, size_bytes, created_at) values ($1, '{"big": true}', 13, now() - interval '2 hours')`, [sha]);
  await pool.query('insert into brigade_bus.claim_check_refs (sha256, message_id, subscription) values ($1, $2, $3)', [sha, messageId, subscription]);
  return sha;
}

const deliveriesOf = async (subscription: string) =>
  (await pool.query<{ n: number }>('select count(*)::int as n from brigade_bus.deliveries where subscription = $1', [subscription])).rows[0]!.n;

describe('what a redrive refuses, and what a drop keeps', () => {
  test('a letter parked by the other transport stays parked and says which transport it needs; --all reports it and sends the rest', async () => {
    const sub = `${token()}-other`;
    await transport.ensureSubscription({ subscription: sub, pattern: 'menu.item.*' });
    const byNats = await park(sub, message('menu.item.changed', { n: 1 }), 'nats');
    const own = await park(sub, message('menu.item.changed', { n: 2 }));
    // Before, the PostgreSQL transport took the JetStream letter into brigade_bus.deliveries, which no JetStream worker reads, and dropped it from the store.
    await assert.rejects(redriveDeadLetters(pool, transport, { id: byNats }), (e: unknown) => {
      assert.ok(e instanceof DeadLetterTransportMismatchError);
      assert.equal(e.code, 'DEAD_LETTER_OTHER_TRANSPORT');
      assert.equal(e.status, 409);
      assert.match(e.message, new RegExp(`^Dead letter ${byNats} was parked by the nats transport, and this redrive runs on the postgres one, where no worker would read it: run the redrive with NATS_URL set`));
      return true;
    });
    assert.equal(await deliveriesOf(sub), 0, 'nothing was sent');
    const outcome = await redriveDeadLetters(pool, transport, { all: true, subscription: sub });
    assert.equal(outcome.redriven, 1, 'the letter of this transport goes on');
    assert.deepEqual(outcome.failed, [{ id: byNats, subscription: sub, error: new DeadLetterTransportMismatchError(byNats, 'nats', 'postgres').message }]);
    assert.deepEqual((await listDeadLetters(pool, { subscription: sub })).map((d) => d.id), [byNats]);
    assert.equal(await deliveriesOf(sub), 1);
    assert.ok(!(await listDeadLetters(pool, { subscription: sub })).some((d) => d.id === own));
  });

  test('a claim-checked letter whose payload was purged stays parked and is reported; one whose payload is stored holds it again until handled', async () => {
    const bus = withClaimCheck(transport, { pool, thresholdBytes: 1024 });
    const sub = `${token()}-cc`;
    await bus.ensureSubscription({ subscription: sub, pattern: 'menu.item.*' });
    const gone = message('menu.item.changed', null);
    const sha = await claimChecked(gone.id, sub);
    const purgedId = await park(sub, { ...gone, headers: { ...gone.headers, 'claim-check': sha } });
    await pool.query('delete from brigade_bus.claim_checks where sha256 = $1', [sha]); // purged (as if its reference had gone)
    // Before, it was counted redriven and removed, then failed CLAIM_CHECK_MISSING on every attempt and was parked anew.
    await assert.rejects(redriveDeadLetters(pool, bus, { id: purgedId }), (e: unknown) => {
      assert.ok(e instanceof ClaimCheckMissingError);
      assert.equal(e.code, 'CLAIM_CHECK_MISSING');
      assert.match(e.message, new RegExp(`^Dead letter ${purgedId} cannot go back: its claim-checked payload ${sha} is no longer stored .*'brigade dlq drop ${purgedId}' removes it$`));
      return true;
    });
    assert.equal(await deliveriesOf(sub), 0, 'nothing was sent');

    // A letter whose reference was released (its message handled once already) but whose payload is still there.
    const kept = message('menu.item.changed', null);
    const keptSha = await claimChecked(kept.id, sub);
    await pool.query('update brigade_bus.claim_check_refs set released_at = now() - interval \'2 hours\' where message_id = $1', [kept.id]);
    await park(sub, { ...kept, headers: { ...kept.headers, 'claim-check': keptSha } });
    const outcome = await redriveDeadLetters(pool, bus, { all: true, subscription: sub });
    assert.equal(outcome.redriven, 1);
    // With what to do with the letter, as its redrive alone says it.
    assert.deepEqual(outcome.failed.map((f) => [f.id, f.error]), [[purgedId, new ClaimCheckMissingError(sha, { deadLetter: purgedId }).message]]);
    assert.deepEqual((await listDeadLetters(pool, { subscription: sub })).map((d) => d.id), [purgedId], 'the one that cannot go back stays');
    // The redriven message holds its payload again until its handler releases it: the purge leaves it.
    assert.equal(await purgeClaimChecks(pool, { graceMs: 0 }), 0);
    const payloads: unknown[] = [];
    const c = new AbortController();
    const w = bus.subscribe({ subscription: sub, signal: c.signal }, async (m) => void payloads.push(m.payload));
    await waitFor('the redriven message handled', () => payloads.length === 1);
    c.abort();
    await w.done;
    assert.deepEqual(payloads, [{ big: true }]);
    assert.equal(await purgeClaimChecks(pool, { graceMs: 0 }), 1, 'released by its handler, it goes');
  });

  test('a drop and a redrive of the same claim-checked letter at once (forced to overlap) both end: the redrive sends it, the drop is told at once that it is busy', async () => {
    const bus = withClaimCheck(transport, { pool, thresholdBytes: 1024 });
    const sub = `${token()}-race`;
    await bus.ensureSubscription({ subscription: sub, pattern: 'menu.item.*' });
    const m = message('menu.item.changed', null);
    const sha = await claimChecked(m.id, sub);
    const letter = await park(sub, { ...m, headers: { ...m.headers, 'claim-check': sha } });
    // The redrive stops between locking its letter and holding the payload again (a broker round trip, a slow pool).
    // (Waited for by the gate itself: a wait for its query in pg_stat_activity matched any idle backend
    // whose last query had locked with skip locked, and without one timed out and left the redrive's
    // transaction open, which held every relay and projector of the cluster behind it.)
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    let reached!: () => void;
    const atGate = new Promise<void>((resolve) => (reached = resolve));
    const gated: Transport = { ...bus, redeliver: async (subscription, sent) => (reached(), await gate, bus.redeliver(subscription, sent)) };
    const redrive = redriveDeadLetters(pool, gated, { id: letter }).then(() => 'redriven', (e: Error) => `redrive failed: ${e.message}`);
    let drop: Promise<string>;
    try {
      await within(atGate, 15_000, 'the redrive holding its letter');
      drop = dropDeadLetter(pool, letter).then(() => 'dropped', (e: { code?: string }) => e.code ?? String(e));
      // Answered at once (409 DEAD_LETTER_BUSY), not left waiting behind the redrive's broker round trip.
      await within(drop, 5_000, 'the drop answered while the redrive holds the letter');
    } finally {
      // Never left holding its transaction, whatever failed above.
      open();
    }
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([Promise.all([redrive, drop]), new Promise((resolve) => (timer = setTimeout(() => resolve('both still waiting after 5 s'), 5000)))]);
    clearTimeout(timer);
    if (!Array.isArray(outcome)) {
      // Before, each waited on the other through a lock PostgreSQL could not see as a deadlock: ended here, so the database can be dropped.
      await pool.query(`select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() and wait_event_type = 'Lock'`);
      await Promise.all([redrive, drop]);
    }
    assert.deepEqual(outcome, ['redriven', 'DEAD_LETTER_BUSY']);
    assert.deepEqual(await listDeadLetters(pool, { subscription: sub }), []);
    await assert.rejects(dropDeadLetter(pool, letter), (e: unknown) => (e as { code?: string }).code === 'NOT_FOUND', 'a drop once the redrive went: gone for real');
    assert.equal(await deliveriesOf(sub), 1, 'sent once');
    assert.equal((await pool.query('select released_at from brigade_bus.claim_check_refs where message_id = $1 and subscription = $2', [m.id, sub])).rows[0]?.released_at, null, 'the payload is held for the redriven message');
  });
});

// Found by a review: a redrive of a letter another redrive held skipped its locked row and answered
// 404 "may have been redriven or dropped already"; when the first then failed, the letter stayed parked.
describe('a letter another redrive holds', () => {
  test('a redrive or a drop of it is a 409 DEAD_LETTER_BUSY (retry), not a 404; the first redrive failing, the letter is still there and goes back on the retry', async () => {
    const sub = `${token()}-busy`;
    await transport.ensureSubscription({ subscription: sub, pattern: 'menu.item.*' });
    const letter = await park(sub, message('menu.item.changed', { n: 1 }));
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    let reached!: () => void;
    const atGate = new Promise<void>((resolve) => (reached = resolve));
    // The first redrive holds its letter until the gate opens, then its transport fails (rolled back: the letter stays).
    const failing: Transport = { ...transport, redeliver: async () => (reached(), await gate, Promise.reject(new UnavailableError('the broker went away'))) };
    const first = redriveDeadLetters(pool, failing, { id: letter }).then(() => 'redriven', (e: { code?: string }) => e.code ?? String(e));
    const busy = (e: unknown) => {
      assert.ok(e instanceof DeadLetterBusyError, String(e));
      assert.deepEqual([e.code, e.status, e.details], ['DEAD_LETTER_BUSY', 409, { deadLetter: letter }]);
      assert.equal(e.message, `Dead letter ${letter} is being redriven or dropped right now: retry in a moment ('brigade dlq show ${letter}' shows whether it is still parked)`);
      return true;
    };
    try {
      await within(atGate, 15_000, 'the first redrive holding its letter');
      await assert.rejects(redriveDeadLetters(pool, transport, { id: letter }), busy);
      await assert.rejects(dropDeadLetter(pool, letter), busy);
    } finally {
      open();
    }
    assert.equal(await first, 'UNAVAILABLE');
    assert.equal((await showDeadLetter(pool, letter)).id, letter, 'still parked');
    assert.deepEqual(await redriveDeadLetters(pool, transport, { id: letter }), { redriven: 1, failed: [] });
    await assert.rejects(redriveDeadLetters(pool, transport, { id: letter }), (e: unknown) => (e as { code?: string }).code === 'NOT_FOUND', 'gone for real: 404');
  });
});

describe('one dead letter per subscription and message', () => {
  test('a redriven message that fails again before its redrive commits is parked anew, not lost: the old letter goes before the message is sent back', async () => {
    const sub = `${token()}-refail`;
    await transport.ensureSubscription({ subscription: sub, pattern: 'menu.item.*' });
    const m = message('menu.item.changed', { n: 1 });
    const old = await park(sub, m);
    const runs: unknown[] = [];
    const c = new AbortController();
    const w = transport.subscribe({ subscription: sub, maxAttempts: 1, signal: c.signal }, async (msg) => {
      runs.push(msg);
      throw new Error('fails again');
    });
    // Forced interleaving: the redrive's transaction stays open until the redriven message has failed
    // and its park has either been stored or is waiting for that transaction.
    const parkWaitsOrIsDone = async () =>
      (
        await pool.query<{ done: boolean }>(
          `select (select count(*) from brigade_bus.deliveries where subscription = $1) = 0
               or exists (select from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query like '%insert into brigade_bus.dead_letters%') as done`,
          [sub],
        )
      ).rows[0]!.done;
    const holding: Transport = {
      ...transport,
      redeliver: async (subscription, sent) => {
        await transport.redeliver(subscription, sent);
        await waitFor('the redriven message failed and is being parked', async () => runs.length === 1 && (await parkWaitsOrIsDone()));
      },
    };
    try {
      assert.deepEqual(await redriveDeadLetters(pool, holding, { id: old }), { redriven: 1, failed: [] });
      await waitFor('parked anew', async () => (await listDeadLetters(pool, { subscription: sub })).length === 1 && (await deliveriesOf(sub)) === 0);
    } finally {
      c.abort();
      await w.done;
    }
    // Deleted after the redelivery, the old letter would have made the park store nothing (the message
    // parked already), and then gone itself: no letter left, the message lost.
    const letters = await listDeadLetters(pool, { subscription: sub });
    assert.equal(letters.length, 1);
    assert.notEqual(letters[0]!.id, old);
    assert.match(letters[0]!.error, /fails again/);
  });

  test('the migration keeps the oldest letter of each subscription and message, deletes the later ones, and changes nothing when run again', async () => {
    const db = await createTestDatabase();
    const other = new pg.Pool({ connectionString: db.url, max: 2 });
    try {
      // A bus from before the migration, holding letters parked twice.
      await other.query('drop index brigade_bus.dead_letters_message_subscription_key');
      const [m1, m2] = [message('menu.item.changed', { n: 1 }), message('menu.item.changed', { n: 2 })];
      const letter = (n: number, subscription: string, m: ReturnType<typeof message>) =>
        other.query(
          `insert into brigade_bus.dead_letters (id, subscription, message_id, subject, key, headers, payload, error, attempts, first_failed_at, last_failed_at, transport)
           values ($1, $2, $3, $4, $5, '{}', 'null', $6, 1, now(), now(), 'nats')`,
          [`01900000-0000-7000-8000-00000000000${n}`, subscription, m.id, m.subject, m.key, `letter ${n}`],
        );
      await letter(3, 'a', m1);
      await letter(1, 'a', m1);
      await letter(2, 'a', m1);
      await letter(4, 'a', m2);
      await letter(5, 'b', m1);
      const left = async () => (await other.query<{ error: string }>('select error from brigade_bus.dead_letters order by id')).rows.map((r) => r.error);
      await other.query(busDeadLettersUniqueSql());
      assert.deepEqual(await left(), ['letter 1', 'letter 4', 'letter 5']);
      await other.query(busDeadLettersUniqueSql());
      assert.deepEqual(await left(), ['letter 1', 'letter 4', 'letter 5']);
      await assert.rejects(letter(6, 'a', m1), (e: { code?: string }) => e.code === '23505');
    } finally {
      await other.end();
      await db.drop();
    }
  });
});
