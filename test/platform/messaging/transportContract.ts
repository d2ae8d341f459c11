/**
 * The transport contract: one suite, run against every Transport implementation
 * (pgTransport.int.test.ts, natsTransport.int.test.ts). Not a test file itself.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { unitOfWork } from '../../../src/platform/db/index.ts';
import {
  inboxHandler,
  inboxSchemaSql,
  listDeadLetters,
  purgeClaimChecks,
  redriveDeadLetters,
  withClaimCheck,
  InvalidMessageError,
  SubscriptionSubjectMismatchError,
  UnknownSubscriptionError,
  type Message,
  type Transport,
} from '../../../src/platform/messaging/index.ts';
import { fixtureProcesses } from '../../support/fixtureProcesses.ts';
import { deferred, message, token, waitFor } from './support.ts';

/** What a transport needs for the suite: made once per file, torn down after. */
export interface ContractSetup {
  readonly transport: Transport;
  readonly pool: pg.Pool;
  /** First subject token every test subject must start with (the NATS stream captures `<prefix>.>`). */
  readonly prefix: string;
  /**
   * How a worker process (fixtures/killableWorker.ts) makes this transport: `kind`, `dbUrl` (the test
   * database, holding the `delivery` schema), and for JetStream `natsUrl`, `stream` and `subjects`.
   */
  readonly killableWorker: Readonly<Record<string, unknown>>;
  teardown(): Promise<void>;
}

export function transportContract(name: string, skip: string | false, setup: () => Promise<ContractSetup>): void {
  describe(`transport contract: ${name}`, { skip }, () => {
    let s: ContractSetup;
    const children = fixtureProcesses();
    const stops: AbortController[] = [];
    const worker = () => {
      const c = new AbortController();
      stops.push(c);
      return c;
    };
    before(async () => {
      s = await setup();
    });
    after(async () => {
      children.killAll();
      for (const c of stops) c.abort();
      await s?.teardown();
    });

    test('pub/sub: each subscription gets every message, with id, subject, key, headers and payload', async () => {
      const t = token();
      const subject = (i: number) => `${s.prefix}.${t}.placed${i}`;
      await s.transport.ensureSubscription({ subscription: `${t}-a`, pattern: `${s.prefix}.${t}.*` });
      await s.transport.ensureSubscription({ subscription: `${t}-b`, pattern: `${s.prefix}.${t}.>` });
      const got = { a: [] as Message[], b: [] as Message[] };
      const ca = worker();
      const cb = worker();
      const wa = s.transport.subscribe({ subscription: `${t}-a`, signal: ca.signal }, async (m) => void got.a.push(m));
      const wb = s.transport.subscribe({ subscription: `${t}-b`, signal: cb.signal }, async (m) => void got.b.push(m));
      const sent = Array.from({ length: 5 }, (_, i) => message(subject(i), { n: i, nested: { ok: true } }));
      await s.transport.publish(sent);
      await waitFor('both subscriptions got 5', () => got.a.length >= 5 && got.b.length >= 5);
      ca.abort();
      cb.abort();
      await Promise.all([wa.done, wb.done]);
      for (const list of [got.a, got.b]) {
        assert.deepEqual(list.map((m) => m.id).sort(), sent.map((m) => m.id).sort());
        for (const m of list) {
          const original = sent.find((x) => x.id === m.id)!;
          assert.equal(m.subject, original.subject);
          assert.equal(m.key, original.key);
          assert.deepEqual({ ...m.headers }, { ...original.headers });
          assert.deepEqual(m.payload, original.payload);
          assert.equal(m.attempt, 1);
        }
      }
    });

    test('a subscription created after messages were published gets the messages published after its creation, none from before', async () => {
      const t = token();
      const subject = `${s.prefix}.${t}.placed`;
      // An earlier subscription of the same subjects: the early messages are stored and delivered, to it.
      await s.transport.ensureSubscription({ subscription: `${t}-early`, pattern: `${s.prefix}.${t}.*` });
      const early = [message(subject, { n: 1 }), message(subject, { n: 2 })];
      await s.transport.publish(early);
      await s.transport.ensureSubscription({ subscription: `${t}-late`, pattern: `${s.prefix}.${t}.*` });
      // Calling it again (a restart) keeps the subscription's place: still nothing from before.
      await s.transport.ensureSubscription({ subscription: `${t}-late`, pattern: `${s.prefix}.${t}.*` });
      const late = message(subject, { n: 3 });
      await s.transport.publish([late]);
      const got = { early: [] as Message[], late: [] as Message[] };
      const c = worker();
      // One handler at a time: each transport delivers a subscription's messages oldest first, so an
      // early message the late subscription were given would be handled before the late one.
      const wl = s.transport.subscribe({ subscription: `${t}-late`, concurrency: 1, prefetch: 1, signal: c.signal }, async (m) => void got.late.push(m));
      const we = s.transport.subscribe({ subscription: `${t}-early`, signal: c.signal }, async (m) => void got.early.push(m));
      await waitFor('the late message reached the late subscription', () => got.late.some((m) => m.id === late.id));
      await waitFor('all three reached the early subscription', () => got.early.length >= 3);
      c.abort();
      await Promise.all([wl.done, we.done]);
      assert.deepEqual(got.late.map((m) => m.id), [late.id], 'the late subscription got only what was published after it');
      assert.deepEqual(got.early.map((m) => m.id).sort(), [...early, late].map((m) => m.id).sort());
    });

    test('competing workers: a message held by one worker goes to no other; each is handled once', async () => {
      const t = token();
      const sub = `${t}-w`;
      await s.transport.ensureSubscription({ subscription: sub, pattern: `${s.prefix}.${t}.*` });
      const handled: Array<{ id: string; by: string }> = [];
      const bInHandler = deferred();
      const aHandledOne = deferred();
      const cb = worker();
      // Worker B takes the first message and holds it until A handled one: A must get the others.
      const wb = s.transport.subscribe({ subscription: sub, concurrency: 1, prefetch: 1, signal: cb.signal }, async (m) => {
        bInHandler.resolve();
        await aHandledOne.promise;
        handled.push({ id: m.id, by: 'b' });
      });
      const first = message(`${s.prefix}.${t}.one`, { n: 0 });
      await s.transport.publish([first]);
      await bInHandler.promise;
      const ca = worker();
      const wa = s.transport.subscribe({ subscription: sub, concurrency: 2, signal: ca.signal }, async (m) => {
        handled.push({ id: m.id, by: 'a' });
        aHandledOne.resolve();
      });
      const rest = Array.from({ length: 30 }, (_, i) => message(`${s.prefix}.${t}.one`, { n: i + 1 }));
      await s.transport.publish(rest);
      await waitFor('31 handled', () => handled.length >= 31);
      ca.abort();
      cb.abort();
      await Promise.all([wa.done, wb.done]);
      const ids = handled.map((h) => h.id);
      assert.equal(new Set(ids).size, ids.length, 'no message handled twice');
      assert.deepEqual([...ids].sort(), [first, ...rest].map((m) => m.id).sort());
      assert.ok(handled.some((h) => h.by === 'a' && h.id !== first.id));
      assert.ok(handled.some((h) => h.by === 'b' && h.id === first.id), 'the held message stayed with B');
    });

    test('retries with backoff, then the dead letter keeps error, attempts and headers; a redrive after the fix handles it once', async () => {
      const t = token();
      const sub = `${t}-r`;
      await s.transport.ensureSubscription({ subscription: sub, pattern: `${s.prefix}.${t}.*` });
      let fixed = false;
      const attempts: number[] = [];
      const handledAfterFix: Message[] = [];
      const c = worker();
      const w = s.transport.subscribe({ subscription: sub, maxAttempts: 3, backoff: { initialMs: 20, maxMs: 100 }, signal: c.signal }, async (m) => {
        if (m.subject.endsWith('.marker')) return void handledAfterFix.push(m);
        if (!fixed) {
          attempts.push(m.attempt);
          throw new Error(`boom on attempt ${m.attempt}`);
        }
        handledAfterFix.push(m);
      });
      const poison = message(`${s.prefix}.${t}.poison`, { bad: true });
      await s.transport.publish([poison]);
      await waitFor('a dead letter', async () => (await listDeadLetters(s.pool, { subscription: sub })).length === 1);
      const [letter] = await listDeadLetters(s.pool, { subscription: sub });
      assert.deepEqual(attempts, [1, 2, 3]);
      assert.equal(letter!.attempts, 3);
      assert.match(letter!.error, /boom on attempt 3/);
      assert.equal(letter!.message.id, poison.id);
      assert.equal(letter!.message.subject, poison.subject);
      assert.equal(letter!.message.key, poison.key);
      assert.deepEqual({ ...letter!.message.headers }, { ...poison.headers });
      assert.deepEqual(letter!.message.payload, poison.payload);
      assert.ok(letter!.firstFailedAt <= letter!.lastFailedAt);
      assert.equal(letter!.transport, s.transport.kind);

      fixed = true;
      assert.deepEqual(await redriveDeadLetters(s.pool, s.transport, { id: letter!.id }), { redriven: 1, failed: [] });
      await waitFor('the redriven message handled', () => handledAfterFix.some((m) => m.id === poison.id));
      // A later message is handled after it; by then a second delivery would have shown up.
      await s.transport.publish([message(`${s.prefix}.${t}.marker`, {})]);
      await waitFor('marker', () => handledAfterFix.some((m) => m.subject.endsWith('.marker')));
      c.abort();
      await w.done;
      const redriven = handledAfterFix.filter((m) => m.id === poison.id);
      assert.equal(redriven.length, 1);
      assert.equal(redriven[0]!.attempt, 1, 'attempts start again after a redrive');
      assert.deepEqual(await listDeadLetters(s.pool, { subscription: sub }), []);
    });

    test('a parked message is settled: it does not come back once its lease is over, and is parked once', async () => {
      const t = token();
      const sub = `${t}-once`;
      const leaseMs = 300;
      await s.transport.ensureSubscription({ subscription: sub, pattern: `${s.prefix}.${t}.*`, leaseMs });
      const attempts: number[] = [];
      const c = worker();
      const w = s.transport.subscribe({ subscription: sub, maxAttempts: 1, signal: c.signal }, async (m) => {
        attempts.push(m.attempt);
        throw new Error('poison');
      });
      try {
        await s.transport.publish([message(`${s.prefix}.${t}.poison`, {})]);
        await waitFor('a dead letter', async () => (await listDeadLetters(s.pool, { subscription: sub })).length > 0);
        // Several leases: a message the broker still counted as unacked would be delivered again meanwhile.
        await new Promise((r) => setTimeout(r, 5 * leaseMs));
      } finally {
        c.abort();
        await w.done;
      }
      // Before, on JetStream (nats-server 2.9), a TERM with a reason was no TERM: the message came back
      // every ack_wait and was parked again each time, past its last attempt, as MESSAGE_ATTEMPTS_EXHAUSTED.
      const letters = await listDeadLetters(s.pool, { subscription: sub });
      assert.deepEqual(letters.map((l) => [l.attempts, l.error.split('\n', 1)[0]]), [[1, 'Error: poison']]);
      assert.deepEqual(attempts, [1]);
    });

    test('a last attempt whose dead letter could not be stored is parked on the next delivery with the handler\'s error and the attempts that ran', async () => {
      const t = token();
      const sub = `${t}-x`;
      // A short lease: the delivery after the failed last attempt comes once it runs out.
      await s.transport.ensureSubscription({ subscription: sub, pattern: `${s.prefix}.${t}.*`, leaseMs: 1000 });
      // The dead-letter store refuses this subscription's letters, except the one that says the attempts ran out.
      const trigger = `refuse_${t}`;
      await s.pool.query(`create function brigade_bus.${trigger}() returns trigger language plpgsql as $$ begin raise exception 'dead-letter store down'; end $$`);
      await s.pool.query(
        `create trigger ${trigger} before insert on brigade_bus.dead_letters for each row
           when (new.subscription = '${sub}' and new.error not like '%MESSAGE_ATTEMPTS_EXHAUSTED%') execute function brigade_bus.${trigger}()`,
      );
      const attempts: number[] = [];
      const reported: unknown[] = [];
      const c = worker();
      const w = s.transport.subscribe(
        { subscription: sub, maxAttempts: 2, backoff: { initialMs: 20, maxMs: 100 }, signal: c.signal, onError: (e) => void reported.push(e) },
        async (m) => {
          attempts.push(m.attempt);
          throw new Error(`boom on attempt ${m.attempt}`);
        },
      );
      try {
        await s.transport.publish([message(`${s.prefix}.${t}.poison`, {})]);
        await waitFor('a dead letter', async () => (await listDeadLetters(s.pool, { subscription: sub })).length === 1, 20_000);
      } finally {
        c.abort();
        await w.done;
        await s.pool.query(`drop trigger ${trigger} on brigade_bus.dead_letters; drop function brigade_bus.${trigger}()`);
      }
      assert.deepEqual(attempts, [1, 2], 'the delivery past the last attempt did not run the handler');
      assert.ok(reported.some((e) => /dead-letter store down/.test(String((e as Error).message))), 'the failed store was reported');
      const [letter] = await listDeadLetters(s.pool, { subscription: sub });
      // Two attempts ran: the third delivery only parked the message (both transports count alike).
      assert.equal(letter!.attempts, 2);
      // The handler's last exception comes first, then the note that the last attempt was not settled.
      assert.match(letter!.error, /^Error: boom on attempt 2\n/);
      assert.match(letter!.error, /MESSAGE_ATTEMPTS_EXHAUSTED/);
      assert.equal(letter!.transport, s.transport.kind);
    });

    /**
     * Runs the killable worker on a new subscription (maxAttempts 2): the message's first attempt throws,
     * and the second (the last) hangs where `mode` says, until the worker is killed. Returns the message.
     */
    const killOnLastAttempt = async (sub: string, subject: string, leaseMs: number, mode: 'mid-handle' | 'after-commit', inbox: boolean) => {
      await s.pool.query(inboxSchemaSql('delivery'));
      await s.pool.query('create table if not exists delivery.effects (id bigint generated always as identity primary key, message_id uuid not null, worker text not null)');
      await s.transport.ensureSubscription({ subscription: sub, pattern: subject, leaseMs });
      const a = children.start(path.join(import.meta.dirname, 'fixtures', 'killableWorker.ts'), { ...s.killableWorker, subscription: sub, mode, inbox, failFirst: true, maxAttempts: 2 });
      await a.line(/READY/);
      const m = message(subject, { task: 1 });
      await s.transport.publish([m]);
      await a.line(mode === 'mid-handle' ? /IN_HANDLER \S+/ : /COMMITTED \S+/);
      a.child.kill('SIGKILL');
      await a.exited;
      return m;
    };
    const effectsOf = async (id: string) => (await s.pool.query<{ worker: string }>('select worker from delivery.effects where message_id = $1', [id])).rows.map((r) => r.worker);
    /** Worker B, in this process: the inbox handler of `sub` (schema `delivery`), and the subscribe options that give its `handled` check. */
    const inboxWorker = (sub: string, runs: Message[], asked: Message[]) => {
      const h = inboxHandler({
        subscription: sub,
        schema: 'delivery',
        transaction: (_m, fn) => unitOfWork(s.pool, { service: 'delivery', actor: { kind: 'system', id: 'worker-b' } }, fn),
        handle: async (tx, m) => {
          await tx.query('insert into delivery.effects (message_id, worker) values ($1, $2)', [m.id, 'b']);
        },
      });
      const handler = async (m: Message) => {
        runs.push(m);
        await h(m);
      };
      const handled = async (m: Message) => {
        asked.push(m);
        return h.handled(m);
      };
      return { handler, handled };
    };

    test('a message handled on its last attempt whose worker died before the ack is acked, not dead-lettered, when the consumer\'s inbox says it was handled', async () => {
      const t = token();
      const sub = `${t}-acklost`;
      const subject = `${s.prefix}.${t}.task`;
      const leaseMs = 2000;
      const m = await killOnLastAttempt(sub, subject, leaseMs, 'after-commit', true);
      const runs: Message[] = [];
      const asked: Message[] = [];
      const b = inboxWorker(sub, runs, asked);
      const c = worker();
      const w = s.transport.subscribe({ subscription: sub, maxAttempts: 2, handled: b.handled, signal: c.signal }, b.handler);
      try {
        await waitFor('B asked the inbox, or parked the message', async () => asked.length > 0 || (await listDeadLetters(s.pool, { subscription: sub })).length > 0, 30_000);
        // A later message is handled by B; by then, and a lease later, a message left unacked would have come back.
        const marker = message(subject, { marker: true });
        await s.transport.publish([marker]);
        await waitFor('the marker handled', () => runs.some((r) => r.id === marker.id));
        await new Promise((r) => setTimeout(r, 1.5 * leaseMs));
      } finally {
        c.abort();
        await w.done;
      }
      // Before, it was parked as MESSAGE_ATTEMPTS_EXHAUSTED "No attempt succeeded", though A's last attempt had committed.
      assert.deepEqual((await listDeadLetters(s.pool, { subscription: sub })).map((l) => l.error), []);
      assert.deepEqual(asked.map((x) => x.id), [m.id], 'the inbox was asked once, about that message');
      assert.deepEqual(runs.map((r) => r.id).filter((id) => id === m.id), [], 'the handler did not run past the last attempt');
      assert.deepEqual(await effectsOf(m.id), ['killed']);
    });

    test('a message whose worker died on its last attempt, with no claim in the consumer\'s inbox, is parked as not handled', async () => {
      const t = token();
      const sub = `${t}-lostrun`;
      const m = await killOnLastAttempt(sub, `${s.prefix}.${t}.task`, 2000, 'mid-handle', true);
      const runs: Message[] = [];
      const asked: Message[] = [];
      const b = inboxWorker(sub, runs, asked);
      const c = worker();
      const w = s.transport.subscribe({ subscription: sub, maxAttempts: 2, handled: b.handled, signal: c.signal }, b.handler);
      try {
        await waitFor('a dead letter', async () => (await listDeadLetters(s.pool, { subscription: sub })).length > 0, 30_000);
      } finally {
        c.abort();
        await w.done;
      }
      const [letter] = await listDeadLetters(s.pool, { subscription: sub });
      assert.equal(letter!.message.id, m.id);
      assert.equal(letter!.attempts, 2);
      // The first attempt's error, then the note: the inbox was asked, so the outcome is known.
      assert.match(letter!.error, /^Error: fails its first attempt/);
      assert.match(letter!.error, /MESSAGE_ATTEMPTS_EXHAUSTED.*the consumer's inbox holds no claim of it: it was not handled/);
      assert.deepEqual(asked.map((x) => x.id), [m.id]);
      assert.deepEqual(runs, []);
      assert.deepEqual(await effectsOf(m.id), [], 'the killed transaction rolled back');
    });

    test('a message whose worker died on its last attempt, in a subscription with no inbox check, is parked with its outcome unknown', async () => {
      const t = token();
      const sub = `${t}-noinbox`;
      const m = await killOnLastAttempt(sub, `${s.prefix}.${t}.task`, 2000, 'after-commit', false);
      const runs: Message[] = [];
      const c = worker();
      const w = s.transport.subscribe({ subscription: sub, maxAttempts: 2, signal: c.signal }, async (x) => void runs.push(x));
      try {
        await waitFor('a dead letter', async () => (await listDeadLetters(s.pool, { subscription: sub })).length > 0, 30_000);
      } finally {
        c.abort();
        await w.done;
      }
      const [letter] = await listDeadLetters(s.pool, { subscription: sub });
      assert.equal(letter!.message.id, m.id);
      assert.equal(letter!.attempts, 2);
      // Before: "No attempt succeeded within 2 deliveries", though the last one had committed its effect.
      assert.doesNotMatch(letter!.error, /No attempt succeeded/);
      assert.match(letter!.error, /MESSAGE_ATTEMPTS_EXHAUSTED.*its outcome is unknown: it may have been handled\. Redrive it only if its handler is idempotent/);
      assert.deepEqual(runs, []);
      assert.deepEqual(await effectsOf(m.id), ['killed'], 'it was handled');
    });

    test('a redelivery to a subscription that does not exist is refused (the dead letter would otherwise be redriven into nothing)', async () => {
      const t = token();
      await assert.rejects(s.transport.redeliver(`${t}-missing`, message(`${s.prefix}.${t}.lost`, {})), (e: unknown) => e instanceof UnknownSubscriptionError && e.code === 'SUBSCRIPTION_UNKNOWN');
    });

    test('a dead letter redriven to a subscription whose pattern no longer takes its subject is refused: it stays parked and is reported, nothing is sent', async () => {
      const t = token();
      const sub = `${t}-moved`;
      await s.transport.ensureSubscription({ subscription: sub, pattern: `${s.prefix}.${t}.now.*` });
      const parked = message(`${s.prefix}.${t}.before.Happened`, { n: 1 });
      // Parked while the subscription still took `before.*`; its pattern changed since.
      const { rows } = await s.pool.query<{ id: string }>(
        `insert into brigade_bus.dead_letters (id, subscription, message_id, subject, key, headers, payload, error, attempts, first_failed_at, last_failed_at, transport)
         values (gen_random_uuid(), $1, $2, $3, $4, $5, $6, 'it failed', 5, now(), now(), $7) returning id::text as id`,
        [sub, parked.id, parked.subject, parked.key, JSON.stringify(parked.headers), JSON.stringify(parked.payload), s.transport.kind],
      );
      const id = rows[0]!.id;
      // A 409 of its own: it was a 400 MESSAGE_INVALID naming field "subject", which no request has.
      const refused = (e: unknown) =>
        e instanceof SubscriptionSubjectMismatchError &&
        e.code === 'SUBSCRIPTION_SUBJECT_MISMATCH' &&
        e.status === 409 &&
        e.details.subscription === sub &&
        e.details.pattern === `${s.prefix}.${t}.now.*` &&
        e.details.subject === parked.subject;
      await assert.rejects(s.transport.redeliver(sub, parked), (e: unknown) => refused(e) && (e as Error).message.includes(`takes ${s.prefix}.${t}.now.*, not ${parked.subject}`));
      const advice = new SubscriptionSubjectMismatchError(sub, `${s.prefix}.${t}.now.*`, parked.subject, { deadLetter: id }).message;
      assert.ok(advice.endsWith(`'brigade dlq drop ${id}' if no subscription is to take it any more`), advice);
      await assert.rejects(redriveDeadLetters(s.pool, s.transport, { id }), (e: unknown) => refused(e) && (e as Error).message === advice && (e as SubscriptionSubjectMismatchError).details.deadLetter === id);
      const outcome = await redriveDeadLetters(s.pool, s.transport, { all: true, subscription: sub });
      assert.equal(outcome.redriven, 0);
      assert.deepEqual(outcome.failed.map((f) => [f.id, f.subscription]), [[id, sub]]);
      assert.equal(outcome.failed[0]!.error, advice, 'the same advice as the redrive of that one letter');
      assert.deepEqual((await listDeadLetters(s.pool, { subscription: sub })).map((d) => d.id), [id], 'the letter stays parked');
      const written = await s.pool.query('select (select count(*)::int from brigade_bus.messages where id = $1) + (select count(*)::int from brigade_bus.deliveries where subscription = $2) as n', [parked.id, sub]);
      assert.equal(written.rows[0].n, 0, 'nothing was sent');
    });

    test('a message with a header or key NATS cannot carry unchanged is refused by publish, on every transport alike', async () => {
      const t = token();
      const bad = [
        message(`${s.prefix}.${t}.x`, {}, { headers: { ...message('a.b.c', {}).headers, traceparent: 'a\r\nb' } }),
        message(`${s.prefix}.${t}.x`, {}, { key: ' padded' }),
      ];
      for (const m of bad) await assert.rejects(s.transport.publish([m]), (e: unknown) => e instanceof InvalidMessageError && e.code === 'MESSAGE_INVALID');
    });

    test('dedupe: a message id published twice is delivered once', async () => {
      const t = token();
      const sub = `${t}-d`;
      await s.transport.ensureSubscription({ subscription: sub, pattern: `${s.prefix}.${t}.*` });
      const seen: string[] = [];
      const c = worker();
      const w = s.transport.subscribe({ subscription: sub, signal: c.signal }, async (m) => void seen.push(m.id));
      const m = message(`${s.prefix}.${t}.once`, { x: 1 });
      await s.transport.publish([m]);
      await s.transport.publish([m, m]);
      const marker = message(`${s.prefix}.${t}.marker`, {});
      await s.transport.publish([marker]);
      await waitFor('marker', () => seen.includes(marker.id));
      c.abort();
      await w.done;
      assert.equal(seen.filter((id) => id === m.id).length, 1);
    });

    test('backpressure: never more than `concurrency` handlers in flight', async () => {
      const t = token();
      const sub = `${t}-b`;
      await s.transport.ensureSubscription({ subscription: sub, pattern: `${s.prefix}.${t}.*` });
      let inFlight = 0;
      let maxInFlight = 0;
      let done = 0;
      const gates: Array<() => void> = [];
      const c = worker();
      const w = s.transport.subscribe({ subscription: sub, concurrency: 3, prefetch: 2, signal: c.signal }, async () => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise<void>((r) => gates.push(r));
        inFlight--;
        done++;
      });
      await s.transport.publish(Array.from({ length: 20 }, (_, i) => message(`${s.prefix}.${t}.slow`, { i })));
      // Release handlers one at a time, only once 3 are waiting: a transport without a bound would
      // have started all 20 by then.
      while (done < 20) {
        await waitFor('handlers waiting', () => gates.length > 0 && (gates.length === 3 || done + gates.length === 20));
        assert.ok(inFlight <= 3, `in flight ${inFlight}`);
        const before = done;
        gates.shift()!();
        await waitFor('one finished', () => done > before);
      }
      c.abort();
      await w.done;
      assert.equal(maxInFlight, 3);
    });

    test('a message that waits in the worker past half its lease (a slow handler ahead of it) is still handled once', async () => {
      const t = token();
      const sub = `${t}-q`;
      // A lease of 1 s, and handlers of 2.5 s, one at a time with two more prefetched: the queued
      // messages wait longer than their lease before their turn.
      await s.transport.ensureSubscription({ subscription: sub, pattern: `${s.prefix}.${t}.*`, leaseMs: 1000 });
      const runs: Message[] = [];
      const c = worker();
      const w = s.transport.subscribe({ subscription: sub, concurrency: 1, prefetch: 2, signal: c.signal }, async (m) => {
        runs.push(m);
        if (!m.subject.endsWith('.marker')) await new Promise((r) => setTimeout(r, 2500));
      });
      const sent = [1, 2, 3].map((n) => message(`${s.prefix}.${t}.slow`, { n }));
      await s.transport.publish(sent);
      await waitFor('all three handled', () => sent.every((m) => runs.some((r) => r.id === m.id)), 60_000);
      // A later message is handled after them; by then a second run of any would have shown up (on
      // JetStream, a copy the server redelivered after the lease ran out reaches the worker first).
      const marker = message(`${s.prefix}.${t}.marker`, {});
      await s.transport.publish([marker]);
      await waitFor('marker', () => runs.some((r) => r.id === marker.id), 60_000);
      c.abort();
      await w.done;
      const ids = runs.filter((r) => r.id !== marker.id).map((r) => r.id);
      assert.deepEqual([...ids].sort(), sent.map((m) => m.id).sort(), 'each message handled exactly once');
    });

    test('attempts count the handler\'s runs: messages that wait behind slow handlers past their lease run once as attempt 1, and one that fails there gets all its attempts', async () => {
      const t = token();
      const sub = `${t}-n`;
      // A lease of 1 s, handlers of 1.5 s, one at a time with two more fetched ahead: the messages
      // queued in the worker wait past their lease, and JetStream delivers them again meanwhile.
      await s.transport.ensureSubscription({ subscription: sub, pattern: `${s.prefix}.${t}.*`, leaseMs: 1000 });
      const runs: Message[] = [];
      const c = worker();
      const w = s.transport.subscribe({ subscription: sub, concurrency: 1, prefetch: 2, maxAttempts: 3, backoff: { initialMs: 10, maxMs: 10 }, signal: c.signal }, async (m) => {
        runs.push(m);
        if (m.subject.endsWith('.bad')) throw new Error(`transient failure on attempt ${m.attempt}`);
        await new Promise((r) => setTimeout(r, 1500));
      });
      const slow = Array.from({ length: 5 }, (_, n) => message(`${s.prefix}.${t}.slow`, { n }));
      const bad = message(`${s.prefix}.${t}.bad`, {});
      await s.transport.publish([...slow, bad]);
      await waitFor('the failing message parked', async () => (await listDeadLetters(s.pool, { subscription: sub })).length > 0, 60_000, 100);
      await waitFor('every slow message run', () => slow.every((m) => runs.some((r) => r.id === m.id)), 60_000);
      c.abort();
      await w.done;
      const of = (id: string) => runs.filter((r) => r.id === id).map((r) => r.attempt);
      // Before, on JetStream, the attempt was the server's delivery count, which each redelivery of a
      // message left waiting in the worker raised: the failing message was parked after one run
      // ("attempts" 3), and with a longer backlog messages that never ran were parked.
      assert.deepEqual(of(bad.id), [1, 2, 3]);
      assert.deepEqual(slow.map((m) => of(m.id)), slow.map(() => [1]), 'each slow message ran once, as its first attempt');
      const letters = await listDeadLetters(s.pool, { subscription: sub });
      assert.deepEqual(letters.map((l) => [l.message.id, l.attempts]), [[bad.id, 3]]);
      assert.match(letters[0]!.error, /transient failure on attempt 3/);
    });

    test('attempts count the handler\'s runs with competing workers: a message that waited in one worker past its lease and went to another costs no attempt, and one failing once runs again', async () => {
      const t = token();
      const sub = `${t}-cw`;
      // Three workers on one subscription, a lease of 1 s, handlers of 1.5 s one at a time with two
      // more fetched ahead: messages queued in one worker wait past their lease, and another worker
      // with room takes them over (PostgreSQL) or gets them redelivered (JetStream), unrun.
      await s.transport.ensureSubscription({ subscription: sub, pattern: `${s.prefix}.${t}.*`, leaseMs: 1000 });
      const runs: Array<{ id: string; attempt: number; by: string }> = [];
      const succeeded = new Set<string>();
      const workers = ['a', 'b', 'c'].map((by) => {
        const c = worker();
        const w = s.transport.subscribe(
          { subscription: sub, concurrency: 1, prefetch: 2, maxAttempts: 3, backoff: { initialMs: 10, maxMs: 10 }, signal: c.signal },
          async (m) => {
            const first = !runs.some((r) => r.id === m.id);
            runs.push({ id: m.id, attempt: m.attempt, by });
            await new Promise((r) => setTimeout(r, 1500));
            // Every third message fails on its first run only: a transient failure.
            if (first && (m.payload as { n: number }).n % 3 === 0) throw new Error(`transient failure of message ${(m.payload as { n: number }).n}`);
            succeeded.add(m.id);
          },
        );
        return { c, w };
      });
      const sent = Array.from({ length: 18 }, (_, n) => message(`${s.prefix}.${t}.m`, { n }));
      try {
        await s.transport.publish(sent);
        await waitFor(
          'every message handled or parked',
          async () => sent.every((m) => succeeded.has(m.id)) || (await listDeadLetters(s.pool, { subscription: sub })).length > 0,
          120_000,
          100,
        );
      } finally {
        for (const { c } of workers) c.abort();
        await Promise.all(workers.map(({ w }) => w.done));
      }
      const of = (id: string) => runs.filter((r) => r.id === id).map((r) => r.attempt);
      const letters = await listDeadLetters(s.pool, { subscription: sub });
      // Before, on PostgreSQL, every claim counted: a message taken over from another worker's queue
      // ran for the first time as attempt 2 or 3, and one failing once could be parked after one run.
      assert.deepEqual(letters.map((l) => [l.message.id, l.attempts, l.error.split('\n', 1)[0]]), [], 'nothing parked');
      assert.deepEqual(
        sent.map((m) => [(m.payload as { n: number }).n, of(m.id)]),
        sent.map((m) => [(m.payload as { n: number }).n, (m.payload as { n: number }).n % 3 === 0 ? [1, 2] : [1]]),
        'each message ran as attempt 1 first, and a failing one once more as attempt 2',
      );
      assert.ok(new Set(runs.map((r) => r.by)).size > 1, 'the workers competed');
    });

    test('a stopping worker starts nothing more, and what it had fetched ahead goes to the next worker well before its lease runs out', async () => {
      const t = token();
      const sub = `${t}-stop`;
      // A lease far longer than the test waits: a message left to run out its lease would show.
      await s.transport.ensureSubscription({ subscription: sub, pattern: `${s.prefix}.${t}.*`, leaseMs: 30_000 });
      const sent = Array.from({ length: 5 }, (_, n) => message(`${s.prefix}.${t}.m`, { n }));
      // Worker 1 (a rolling restart's old process): one handler at a time, four fetched ahead; it is
      // stopped while its first handler runs.
      const c1 = worker();
      const first: Message[] = [];
      const running = deferred();
      const w1 = s.transport.subscribe({ subscription: sub, concurrency: 1, prefetch: 4, signal: c1.signal }, async (m) => {
        first.push(m);
        running.resolve();
        await new Promise((r) => setTimeout(r, 300));
      });
      await s.transport.publish(sent);
      await running.promise;
      await new Promise((r) => setTimeout(r, 100));
      c1.abort();
      await w1.done;
      // Before, on JetStream, the worker started one more handler after the abort, and left the rest
      // of its prefetch to come back only once their lease ran out.
      assert.equal(first.length, 1, 'no handler starts after the abort');
      const stoppedAt = Date.now();
      const second: Array<{ m: Message; at: number }> = [];
      const c2 = worker();
      const w2 = s.transport.subscribe({ subscription: sub, concurrency: 4, signal: c2.signal }, async (m) => void second.push({ m, at: Date.now() - stoppedAt }));
      const handled = () => new Set([...first, ...second.map((x) => x.m)].map((m) => m.id));
      await waitFor('all handled', () => sent.every((m) => handled().has(m.id)), 40_000);
      c2.abort();
      await w2.done;
      assert.equal(second.length, 4, 'each of the others handled once, by the next worker');
      assert.deepEqual(second.map((x) => x.m.attempt), [1, 1, 1, 1], 'given back unrun, they cost no attempt');
      // At once on PostgreSQL; on JetStream once the stopped worker's pull requests expired (5 s), not
      // after the lease (see NAK_ON_STOP_MS in createNatsTransport.ts).
      assert.ok(Math.max(...second.map((x) => x.at)) < 10_000, `the next worker got them after ${JSON.stringify(second.map((x) => x.at))} ms`);
    });

    test('claim-check: a large payload rides the bus as a reference, arrives whole, and expires once acked', async () => {
      const t = token();
      const sub = `${t}-c`;
      const bus = withClaimCheck(s.transport, { pool: s.pool, thresholdBytes: 1024 });
      await bus.ensureSubscription({ subscription: sub, pattern: `${s.prefix}.${t}.*` });
      const got: Message[] = [];
      const raw: Message[] = [];
      const c = worker();
      const w = bus.subscribe({ subscription: sub, signal: c.signal }, async (m) => void got.push(m));
      // A second, raw subscriber on the same subjects shows what actually travels.
      await s.transport.ensureSubscription({ subscription: `${sub}-raw`, pattern: `${s.prefix}.${t}.*` });
      const c2 = worker();
      const w2 = s.transport.subscribe({ subscription: `${sub}-raw`, signal: c2.signal }, async (m) => void raw.push(m));
      const big = message(`${s.prefix}.${t}.big`, { blob: 'x'.repeat(100_000), n: 1 });
      const small = message(`${s.prefix}.${t}.small`, { n: 2 });
      await bus.publish([big, small]);
      await waitFor('both received', () => got.length === 2 && raw.length === 2);
      c.abort();
      c2.abort();
      await Promise.all([w.done, w2.done]);
      const gotBig = got.find((m) => m.id === big.id)!;
      assert.deepEqual(gotBig.payload, big.payload);
      assert.equal(gotBig.headers['claim-check'], undefined);
      assert.deepEqual(got.find((m) => m.id === small.id)!.payload, small.payload);
      const rawBig = raw.find((m) => m.id === big.id)!;
      assert.equal(rawBig.payload, null);
      assert.match(rawBig.headers['claim-check'] ?? '', /^[0-9a-f]{64}$/);
      // The raw subscription also matched at publish, so it still holds a reference: not purged yet.
      assert.equal(await purgeClaimChecks(s.pool, { graceMs: 0 }), 0);
      await s.pool.query('delete from brigade_bus.claim_check_refs where message_id = $1', [big.id]);
      assert.equal(await purgeClaimChecks(s.pool, { graceMs: 0 }), 1);
    });

    test('claim-check: a payload stored long ago keeps its grace from the last handler that took it, so a redelivery after a lost ack still finds it', async () => {
      const t = token();
      const sub = `${t}-g`;
      const bus = withClaimCheck(s.transport, { pool: s.pool, thresholdBytes: 1024 });
      await bus.ensureSubscription({ subscription: sub, pattern: `${s.prefix}.${t}.*` });
      const big = message(`${s.prefix}.${t}.big`, { blob: 'y'.repeat(50_000), n: 3 });
      let handled = 0;
      let open!: () => void;
      const gate = new Promise<void>((resolve) => (open = resolve));
      const c = worker();
      const w = bus.subscribe({ subscription: sub, signal: c.signal }, async () => {
        await gate;
        handled++;
      });
      // Stored two hours ago (a backlog); the handler takes it only after that.
      await bus.publish([big]);
      await s.pool.query(`update brigade_bus.claim_checks set created_at = now() - interval '2 hours' where sha256 in (select sha256 from brigade_bus.claim_check_refs where message_id = $1)`, [big.id]);
      open();
      await waitFor('handled', () => handled === 1);
      c.abort();
      await w.done;
      // Before, the default grace (1 h) counted from the store: the payload went at once.
      assert.equal(await purgeClaimChecks(s.pool), 0);
      const kept = await s.pool.query(`select 1 from brigade_bus.claim_checks where created_at > now() - interval '1 minute' and payload->>'n' = '3'`);
      assert.equal(kept.rowCount, 1);
    });

    test('claim-check: a message the relay publishes again after it was handled (deduped by the broker) does not keep its payload for ever', async () => {
      const t = token();
      const sub = `${t}-re`;
      const bus = withClaimCheck(s.transport, { pool: s.pool, thresholdBytes: 1024 });
      await bus.ensureSubscription({ subscription: sub, pattern: `${s.prefix}.${t}.*` });
      const big = message(`${s.prefix}.${t}.big`, { blob: 'r'.repeat(5000), n: 4 });
      const handled: string[] = [];
      const c = worker();
      const w = bus.subscribe({ subscription: sub, signal: c.signal }, async (m) => void handled.push(m.id));
      await bus.publish([big]);
      await waitFor('handled', () => handled.length === 1);
      // The relay publishes it again (it died between the broker's ack and its mark); the broker drops the duplicate.
      await bus.publish([big]);
      const marker = message(`${s.prefix}.${t}.marker`, { n: 5 });
      await bus.publish([marker]);
      await waitFor('marker handled', () => handled.includes(marker.id));
      c.abort();
      await w.done;
      assert.deepEqual(handled, [big.id, marker.id], 'the duplicate is not delivered');
      const sha = (await s.pool.query<{ sha256: string }>('select sha256 from brigade_bus.claim_check_refs where message_id = $1', [big.id])).rows[0]!.sha256;
      // Past the grace: before, the republish had written the reference anew, nobody released it, and the payload stayed for ever.
      await s.pool.query(`update brigade_bus.claim_checks set created_at = now() - interval '2 hours' where sha256 = $1`, [sha]);
      assert.equal(await purgeClaimChecks(s.pool), 1);
      assert.equal((await s.pool.query('select 1 from brigade_bus.claim_check_refs where message_id = $1', [big.id])).rowCount, 0, 'its released reference went with it');
    });

    test('claim-check: a republish and a release of the same message at once (forced to overlap) both finish, and the payload is purged after the grace', async () => {
      const t = token();
      const sub = `${t}-dl`;
      const bus = withClaimCheck(s.transport, { pool: s.pool, thresholdBytes: 1024 });
      await bus.ensureSubscription({ subscription: sub, pattern: `${s.prefix}.${t}.*` });
      const big = message(`${s.prefix}.${t}.big`, { blob: 'd'.repeat(5000), n: 7 });
      const gate = deferred();
      const reported: unknown[] = [];
      let handled = 0;
      const c = worker();
      const w = bus.subscribe({ subscription: sub, signal: c.signal, onError: (e) => reported.push(e) }, async () => {
        handled++;
        await gate.promise;
      });
      await bus.publish([big]);
      await waitFor('the handler took it', () => handled === 1);
      // Sessions of this database waiting on a lock, by what they run.
      const waiting = async (waits: string[], text: string) =>
        (
          await s.pool.query(`select 1 from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() and wait_event_type = 'Lock' and wait_event = any($1::text[]) and query ilike $2`, [waits, text])
        ).rowCount! > 0;
      // The republish's statement stops after it locked the payload's row, before it writes the reference:
      // a trigger on that insert waits for an advisory lock the test holds.
      const holder = await s.pool.connect();
      await s.pool.query(`create function public."pause_${t}"() returns trigger language plpgsql as $f$ begin perform pg_advisory_xact_lock(hashtext('${t}')); return new; end $f$`);
      await s.pool.query(`create trigger "pause_${t}" before insert on brigade_bus.claim_check_refs for each row when (new.message_id = '${big.id}') execute function public."pause_${t}"()`);
      try {
        await holder.query('select pg_advisory_lock(hashtext($1))', [t]);
        const republish = bus.publish([big]).then(
          () => null,
          (e: unknown) => e,
        );
        await waitFor('the republish holds the payload and waits at the reference', () => waiting(['advisory'], '%insert into brigade_bus.claim_checks%'));
        // The handler returns: its release runs while the republish holds the payload's row.
        gate.resolve();
        await waitFor('the release waits for the payload', () => waiting(['transactionid', 'tuple'], '%released_at = now()%'));
        await holder.query('select pg_advisory_unlock(hashtext($1))', [t]);
        const released = async () =>
          (await s.pool.query('select 1 from brigade_bus.claim_check_refs where message_id = $1 and subscription = $2 and released_at is not null', [big.id, sub])).rowCount === 1;
        await waitFor('the reference released or the release reported', async () => reported.length > 0 || (await released()));
        // Before, the release locked the reference and then the payload, the republish the other way round:
        // PostgreSQL aborted one of them (40P01), and a release that lost left the reference held for good.
        const codes = (e: unknown) => [e, (e as { cause?: unknown } | null)?.cause].map((x) => (x as { code?: string } | null)?.code);
        assert.deepEqual(reported.map(codes), [], 'the release was not aborted');
        assert.equal(await republish, null, 'the republish was not aborted');
        assert.ok(await released(), 'the reference is released');
      } finally {
        await holder.query('select pg_advisory_unlock_all()');
        holder.release();
        gate.resolve();
        await s.pool.query(`drop trigger "pause_${t}" on brigade_bus.claim_check_refs`);
        await s.pool.query(`drop function public."pause_${t}"()`);
        c.abort();
        await w.done;
      }
      const sha = (await s.pool.query<{ sha256: string }>('select sha256 from brigade_bus.claim_check_refs where message_id = $1', [big.id])).rows[0]!.sha256;
      await s.pool.query(`update brigade_bus.claim_checks set created_at = now() - interval '2 hours' where sha256 = $1`, [sha]);
      assert.equal(await purgeClaimChecks(s.pool), 1, 'nothing holds the payload any more');
    });

    test('claim-check: a release that fails after the handler succeeded is reported, and the message is acked, not retried or dead-lettered', async () => {
      const t = token();
      const sub = `${t}-rel`;
      const bus = withClaimCheck(s.transport, { pool: s.pool, thresholdBytes: 1024 });
      await bus.ensureSubscription({ subscription: sub, pattern: `${s.prefix}.${t}.*` });
      // The database refuses this subscription's release (as it would when it stops answering): the update that releases it (the delete, before).
      await s.pool.query(`create or replace function public.refuse_release() returns trigger language plpgsql as $f$ begin raise exception 'release refused'; end $f$`);
      await s.pool.query(`create trigger "refuse_${t}" before update or delete on brigade_bus.claim_check_refs for each row when (old.subscription = '${sub}') execute function public.refuse_release()`);
      try {
        const big = message(`${s.prefix}.${t}.big`, { blob: 'f'.repeat(5000), n: 6 });
        let handled = 0;
        const reported: unknown[] = [];
        const c = worker();
        const w = bus.subscribe({ subscription: sub, maxAttempts: 1, signal: c.signal, onError: (e) => reported.push(e) }, async () => {
          handled++;
        });
        await bus.publish([big]);
        const parked = async () => (await listDeadLetters(s.pool, { subscription: sub })).length;
        await waitFor('the failed release reported (or the message dead-lettered)', async () => reported.length === 1 || (await parked()) > 0);
        c.abort();
        await w.done;
        // Before, the failed release failed the message: with one attempt it was dead-lettered, though handled.
        assert.equal(await parked(), 0, 'a handled message is not dead-lettered');
        assert.equal(handled, 1);
        const error = reported[0] as { code?: string; message?: string };
        assert.equal(error.code, 'CLAIM_CHECK_RELEASE_FAILED');
        assert.match(error.message ?? '', /release refused/);
        assert.equal((await s.pool.query('select released_at from brigade_bus.claim_check_refs where message_id = $1 and subscription = $2', [big.id, sub])).rows[0]?.released_at, null, 'the reference stays held');
      } finally {
        await s.pool.query(`drop trigger "refuse_${t}" on brigade_bus.claim_check_refs`);
      }
    });

    test('claim-check: a release that PostgreSQL aborts as a deadlock or a serialization failure is tried again, not left held', async () => {
      const t = token();
      const sub = `${t}-rt`;
      const bus = withClaimCheck(s.transport, { pool: s.pool, thresholdBytes: 1024 });
      await bus.ensureSubscription({ subscription: sub, pattern: `${s.prefix}.${t}.*` });
      // The release's update is aborted once as a deadlock victim, once as a serialization failure, then allowed.
      await s.pool.query(`create sequence public."abort_${t}"`);
      await s.pool.query(
        `create function public."abort_${t}"() returns trigger language plpgsql as $f$
         declare n bigint := nextval('public."abort_${t}"');
         begin
           if n = 1 then raise exception 'forced deadlock' using errcode = 'deadlock_detected'; end if;
           if n = 2 then raise exception 'forced serialization failure' using errcode = 'serialization_failure'; end if;
           return new;
         end $f$`,
      );
      await s.pool.query(`create trigger "abort_${t}" before update on brigade_bus.claim_check_refs for each row when (old.subscription = '${sub}') execute function public."abort_${t}"()`);
      try {
        const big = message(`${s.prefix}.${t}.big`, { blob: 'a'.repeat(5000), n: 8 });
        const reported: unknown[] = [];
        let handled = 0;
        const c = worker();
        const w = bus.subscribe({ subscription: sub, maxAttempts: 1, signal: c.signal, onError: (e) => reported.push(e) }, async () => {
          handled++;
        });
        await bus.publish([big]);
        const released = async () =>
          (await s.pool.query('select 1 from brigade_bus.claim_check_refs where message_id = $1 and subscription = $2 and released_at is not null', [big.id, sub])).rowCount === 1;
        await waitFor('the reference released or the release reported', async () => reported.length > 0 || (await released()));
        c.abort();
        await w.done;
        assert.equal(handled, 1);
        // Before, the first abort was reported (CLAIM_CHECK_RELEASE_FAILED) and the reference stayed held.
        assert.deepEqual(reported.map((e) => (e as { message?: string }).message), []);
        assert.ok(await released(), 'the reference is released');
        assert.equal((await s.pool.query<{ n: string }>(`select last_value::text as n from public."abort_${t}"`)).rows[0]!.n, '3', 'two aborted tries, the third went through');
      } finally {
        await s.pool.query(`drop trigger "abort_${t}" on brigade_bus.claim_check_refs`);
        await s.pool.query(`drop function public."abort_${t}"()`);
        await s.pool.query(`drop sequence public."abort_${t}"`);
      }
    });
  });
}
