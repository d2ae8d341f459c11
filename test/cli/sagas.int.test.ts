import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { before, describe, mock, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { commitStatements, unitOfWork } from '../../src/platform/db/index.ts';
import type { UnitOfWorkFn } from '../../src/platform/tenancy/index.ts';
import { createSagaRegistry, createSagaRunner, showSaga, type SagaRegistry, type SagaRunner } from '../../src/platform/sagas/index.ts';
import { orderCommands } from '../../src/services/ordering/index.ts';
import { buildPaymentProvider, createPaymentProviderClient, ensureProviderSchema, NO_FAULTS, type ProviderFaults } from '../../src/services/payments/provider/index.ts';
import { handleOrderEvent, paymentSaga } from '../../src/services/payments/saga/index.ts';
import { runCli, runMain } from '../support/cli.ts';
import { useTestDatabase } from '../support/db.ts';

const SYSTEM = { kind: 'system', id: 'test' } as const;

describe('brigade sagas list|show', () => {
  const database = useTestDatabase();
  let pool: pg.Pool;
  let provider: FastifyInstance;
  let registry: SagaRegistry;
  let runner: SagaRunner;
  let uow: UnitOfWorkFn;
  let faults: ProviderFaults = NO_FAULTS;
  const tenant = randomUUID();
  const ids = { failed: randomUUID(), waiting: randomUUID(), due: randomUUID(), fresh: randomUUID() };
  const cards = new Map<string, string>();

  /** Starts the payment saga of an order as its OrderPlaced message would (the order itself is not in ordering). */
  const place = async (orderId: string, card: string) => {
    const customerId = randomUUID();
    cards.set(customerId, card);
    const message = { subject: 'ordering.order.OrderPlaced', headers: { tenant } as never, payload: { orderId, customerId, total: 1250, currency: 'EUR' } };
    assert.equal(await uow({ service: 'payments', tenantId: tenant, actor: SYSTEM }, (tx) => handleOrderEvent(tx, registry, message)), 'started');
  };
  /** Places an order whose charge the provider refuses on every attempt, and runs the saga until it parks at `charge`. */
  const placeParked = async (orderId: string) => {
    faults = { ...NO_FAULTS, errorRate: 1 };
    try {
      await place(orderId, '4242424242424242');
      while (await runner.runOnce());
    } finally {
      faults = NO_FAULTS;
    }
  };
  /** `brigade sagas …` as a real child process. */
  const cli = (...args: string[]) => runCli(['sagas', ...args], { DATABASE_URL: database.db.url, BRIGADE_SECRET: 'x'.repeat(40) });
  /** The same `main()` the binary runs, in this process (no start-up cost): for the cases that need no process of their own. */
  const run = (...args: string[]) => runMain(['sagas', ...args], { DATABASE_URL: database.db.url });

  before(async () => {
    pool = database.pool(4);
    uow = (context, fn) => unitOfWork(pool, context, fn);
    await ensureProviderSchema(pool);
    provider = await buildPaymentProvider({ pool, faults: () => faults });
    database.defer(() => provider.close());
    const client = createPaymentProviderClient({ baseUrl: await provider.listen({ host: '127.0.0.1', port: 0 }), timeoutMs: 2000 });
    // Ordering's real cancel: these orders are not in ordering, so a compensation's cancel fails for good (404).
    registry = createSagaRegistry({
      schema: 'payments',
      sagas: [paymentSaga({ provider: client, orders: orderCommands({ commitStatements: (context, statements) => commitStatements(pool, context, statements) }, 'payments-saga'), paymentMethods: { cardFor: async ({ customerId }) => cards.get(customerId) as string } }, { acceptWithinMs: 10 * 60_000 })],
    });
    runner = createSagaRunner({ unitOfWork: uow, service: 'payments', registry, backoffMs: () => 0 });
    await place(ids.failed, NO_FAULTS.declineCard as string); // declined → cancel the order → 404: failed, needs a person
    await place(ids.waiting, '4242424242424242'); // charged, waiting for the restaurant
    await place(ids.fresh, '4242424242424242');
    while (await runner.runOnce());
    await place(ids.due, '4242424242424242'); // started, but no runner ever took its steps
    // An hour passes for two of them (the clock moving, rather than waiting).
    await pool.query(`update payments.saga_instances set updated_at = now() - interval '1 hour', run_after = run_after - interval '1 hour' where id = any($1::uuid[])`, [[ids.waiting, ids.due]]);
  });

  test('list: every saga, most recently changed first', async () => {
    const result = await run('list');
    assert.equal(result.code, 0, result.stderr);
    for (const id of Object.values(ids)) assert.match(result.stdout, new RegExp(`${id}  payments/payment`));
    assert.match(result.stdout, /4 saga\(s\)/);
  });

  test('list --stuck: the failed one and the two unchanged for an hour, each with what to do; not the fresh one', async () => {
    const result = await cli('list', '--stuck');
    assert.equal(result.code, 0, result.stderr);
    assert.doesNotMatch(result.stdout, new RegExp(ids.fresh));
    const reasonOf = (id: string) => new RegExp(`${id}[^\\n]*\\n    ([^\\n]*)`).exec(result.stdout)?.[1] ?? '';
    assert.match(reasonOf(ids.failed), /^failed: charge failed: .*compensation order failed: .*a person must put things right: undo:order, by hand \(the saga will not retry\)/);
    assert.match(reasonOf(ids.waiting), /^waiting for an event since .* \(deadline accept due .*\)/);
    assert.match(reasonOf(ids.due), /^order has been due since .* no runner took it; is the saga runner \(brigade worker\) running\?/);
    assert.match(result.stdout, /3 saga\(s\) need attention; 'brigade sagas show ID' for the details/);

    const older = await run('list', '--stuck', '--older-than', '120');
    assert.equal(older.code, 0, older.stderr);
    assert.match(older.stdout, new RegExp(ids.failed));
    assert.doesNotMatch(older.stdout, new RegExp(`${ids.waiting}|${ids.due}`), 'an hour is not 120 minutes');
  });

  test('list --stuck puts the failed saga first however old, and says when the limit cut the list (before: cut off behind newer running ones, with no word of it)', async () => {
    // The failed one older than the two unchanged for an hour: the order they were listed in hid it behind them.
    await pool.query(`update payments.saga_instances set updated_at = updated_at - interval '2 hours' where id = $1`, [ids.failed]);
    try {
      const cut = await run('list', '--stuck', '--limit', '2');
      assert.equal(cut.code, 0, cut.stderr);
      const listed = cut.stdout.split('\n').filter((l) => /^[0-9a-f-]{36} {2}/.test(l)).map((l) => l.slice(0, 36));
      assert.equal(listed.length, 2, cut.stdout);
      assert.equal(listed[0], ids.failed, cut.stdout);
      assert.ok(([ids.waiting, ids.due] as string[]).includes(listed[1]!), cut.stdout);
      assert.match(cut.stdout, /^2 saga\(s\) need attention; 'brigade sagas show ID' for the details\n… and more: the list was cut at 2; narrow it with --status or --older-than, or raise --limit$/m);
      // As JSON the rows stay a list; the cut is said on stderr.
      const json = await run('list', '--stuck', '--limit', '2', '--json');
      assert.equal(json.code, 0, json.stderr);
      assert.deepEqual((JSON.parse(json.stdout) as Array<{ id: string }>).map((r) => r.id)[0], ids.failed);
      assert.match(json.stderr, /… and more: the list was cut at 2/);
      // Not cut: no such line.
      const whole = await run('list', '--stuck', '--limit', '3');
      assert.match(whole.stdout, /3 saga\(s\) need attention/);
      assert.doesNotMatch(whole.stdout + whole.stderr, /and more/);
    } finally {
      await pool.query(`update payments.saga_instances set updated_at = updated_at + interval '2 hours' where id = $1`, [ids.failed]);
    }
  });

  test('list --status failed --json: machine-readable', async () => {
    const result = await run('list', '--status', 'failed', '--json');
    assert.equal(result.code, 0, result.stderr);
    const rows = JSON.parse(result.stdout) as Array<{ id: string; service: string; status: string; tenantId: string }>;
    assert.deepEqual(rows.map((r) => [r.id, r.service, r.status, r.tenantId]), [[ids.failed, 'payments', 'failed', tenant]]);
  });

  test('show: status, state, every version of the log with its time, and the deadlines', async () => {
    const result = await cli('show', ids.failed);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`^saga ${ids.failed} \\(payments/payment\\) of tenant ${tenant}`));
    assert.match(result.stdout, /status {5}failed \(version 4\): charge failed: .*compensation order failed: .*; left: undo:order\n/);
    assert.ok(
      result.stdout.includes(`\n  pending    undo:order (left undone: undo:order failed for good after 1 attempt(s); settle it by hand, then 'brigade sagas resume ${ids.failed} --settled TEXT' ends it, or settle it by hand and close the saga)\n`),
      result.stdout,
    );
    const log = result.stdout.split('\n').filter((l) => /^ {2}v\d/.test(l));
    assert.deepEqual(
      log.map((l) => l.replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/, 'T').replace(/\s+/g, ' ').trim().split(' ').slice(0, 5).join(' ')),
      ['v1 T started payment ->', 'v2 T succeeded order (attempt', 'v3 T failed charge (attempt', 'v4 T failed undo:order (attempt'],
    );
    assert.match(result.stdout, /deadlines:\n {2}accept {7}due \S+ {2}cancelled /);

    const json = JSON.parse((await run('show', ids.waiting, '--json')).stdout) as { state: { chargeId: string }; log: Array<{ kind: string; item: string; data: { amount?: number } }> };
    assert.equal(typeof json.state.chargeId, 'string');
    assert.deepEqual(json.log.map((e) => [e.kind, e.item]), [['started', 'payment'], ['succeeded', 'order'], ['succeeded', 'charge']]);
    assert.equal(json.log[2]?.data.amount, 1250, "the step's result (the provider's charge) is logged");
  });

  test('an unknown saga exits 1 saying where to look', async () => {
    const result = await run('show', randomUUID());
    assert.equal(result.code, 1);
    assert.match(result.stderr, /No saga .* in payments\. 'brigade sagas list' shows the ids/);
  });

  test('usage errors exit 2 with the usage line; --help exits 0', async () => {
    for (const args of [[], ['sideways'], ['show'], ['show', 'not-a-uuid'], ['list', 'extra'], ['list', '--older-than', '5'], ['list', '--stuck', '--older-than', 'soon'], ['list', '--status', 'lost'], ['show', ids.failed, '--stuck'], ['list', '--bogus']]) {
      const result = await run(...args);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stdout}${result.stderr}`);
      assert.match(result.stderr, /Usage: brigade sagas/);
    }
    const help = await run('--help');
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: brigade sagas <list\|show\|resume\|close>/);
    for (const args of [
      ['resume'], ['resume', 'not-a-uuid'], ['resume', ids.fresh, '--status', 'parked'], ['close', ids.fresh], ['close', ids.fresh, '--reason', ' '], ['list', '--reason', 'x'],
      ['close', ids.fresh, '--reason', 'x', '--by', ''], ['show', ids.fresh, '--by', 'ana'], ['resume', ids.fresh, '--tenant', 'restaurant-1'],
      ['resume', ids.fresh, '--settled', ' '], ['close', ids.fresh, '--reason', 'x', '--settled', 'y'], ['show', ids.fresh, '--settled', 'y'], ['resume', ids.fresh, '--reason', 'x'],
    ]) {
      assert.equal((await run(...args)).code, 2, args.join(' '));
    }
  });

  test('a user id with no name (a container run as a bare uid): list and show work; resume and close ask for --by', async (t) => {
    // os.userInfo() throws ENOENT for a uid without a passwd entry; list crashed with "uv_os_get_passwd returned ENOENT".
    const userInfo = mock.method(os, 'userInfo', () => {
      throw Object.assign(new Error('A system error occurred: uv_os_get_passwd returned ENOENT (no such file or directory)'), { code: 'ERR_SYSTEM_ERROR' });
    });
    t.after(() => userInfo.mock.restore());
    const listed = await run('list', '--limit', '1');
    assert.equal(listed.code, 0, listed.stderr);
    assert.equal((await run('show', ids.failed)).code, 0);
    const nameless = await runMain(['sagas', 'close', ids.fresh, '--reason', 'x'], { DATABASE_URL: database.db.url, USER: undefined, LOGNAME: undefined });
    assert.equal(nameless.code, 2);
    assert.match(nameless.stderr, /no name .*--by NAME/);
  });

  test('close: a failed saga settled by hand is closed with who and why, and is no longer stuck; one that is running is refused', async () => {
    const running = await run('close', ids.fresh, '--reason', 'nothing to do');
    assert.equal(running.code, 1);
    assert.match(running.stderr, new RegExp(`Saga ${ids.fresh} is running: only a parked or failed saga, settled by hand, can be closed`));
    const me = os.userInfo().username; // without --by, the operator's OS user
    const closed = await cli('close', ids.failed, '--reason', 'order cancelled by hand in ordering');
    assert.equal(closed.code, 0, closed.stderr);
    // The order's cancel that failed for good is what the person did by hand (before: "nothing left").
    assert.match(closed.stdout, new RegExp(`^closed saga ${ids.failed} \\(payments\\) by ${me}; it had been failed with undo:order left: charge failed: `));
    const shown = await run('show', ids.failed);
    assert.match(shown.stdout, new RegExp(`status {5}closed \\(version 5\\): Closed by ${me}: order cancelled by hand in ordering\\. It had been failed with: charge failed: `));
    const closedEntry = shown.stdout.split('\n').find((l) => /^ {2}v5 /.test(l)) ?? '';
    assert.match(closedEntry, /event {5}closed -> closed {2}\{/);
    assert.deepEqual(
      (({ by, reason, was }) => ({ by, reason, was }))(JSON.parse(closedEntry.slice(closedEntry.indexOf('{'))) as { by: string; reason: string; was: string }),
      { by: me, reason: 'order cancelled by hand in ordering', was: 'failed' },
    );
    assert.doesNotMatch((await run('list', '--stuck')).stdout, new RegExp(ids.failed));
    assert.match((await run('close', ids.failed, '--reason', 'again')).stderr, /is closed: only a parked or failed saga/);
  });

  test('resume: a parked charge, once the provider answers again, is resumed by the person who settled it and goes on', async () => {
    const parkedId = randomUUID();
    await placeParked(parkedId);
    assert.match((await run('show', parkedId)).stdout, /status {5}parked /);
    const resumed = await cli('resume', parkedId, '--by', 'ana', '--tenant', tenant);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stdout, new RegExp(`^resumed saga ${parkedId} \\(payments\\) by ana: running, next charge; it had been parked with: charge: no answer says whether the card was charged`));
    while (await runner.runOnce());
    const saga = await uow({ service: 'payments', actor: SYSTEM, readOnly: true }, (tx) => showSaga<{ chargeId: string | null }>(tx, 'payments', parkedId));
    assert.deepEqual([saga?.status, saga?.completed, typeof saga?.state.chargeId], ['running', ['order', 'charge'], 'string'], 'charged, waiting for the restaurant');
    assert.deepEqual(saga?.log.filter((e) => e.item === 'resumed').map((e) => (e.data as { by: string }).by), ['ana']);
    assert.match((await run('resume', parkedId)).stderr, /is running, not parked/);
  });

  test('resume: a saga that is not parked is refused with what to do; an unknown one is not found', async () => {
    const running = await run('resume', ids.fresh);
    assert.equal(running.code, 1);
    assert.match(running.stderr, new RegExp(`Saga ${ids.fresh} is running, not parked: .*'brigade sagas show ${ids.fresh}'`));
    assert.match((await run('resume', randomUUID())).stderr, /No saga .* in payments/);
  });

  test('resume --settled: a failed saga whose compensation a person did by hand is resumed past it, logged with who and what; a running saga and a forward step at the head are refused with what to do', async () => {
    const failedId = randomUUID();
    await place(failedId, NO_FAULTS.declineCard as string); // declined → the order's cancel fails for good (404): failed with undo:order left
    while (await runner.runOnce());
    const plain = await run('resume', failedId);
    assert.equal(plain.code, 1);
    assert.match(plain.stderr, new RegExp(`Saga ${failedId} is failed, not parked: its compensation undo:order failed for good, and a resume would run it again\\. Settle undo:order by hand, then 'brigade sagas resume ${failedId} --settled TEXT'`));

    const running = await run('resume', ids.fresh, '--settled', 'nothing');
    assert.equal(running.code, 1);
    assert.match(running.stderr, new RegExp(`Saga ${ids.fresh} is running: only a failed saga, or one parked on a compensation, has a compensation to settle by hand`));
    const parkedId = randomUUID();
    await placeParked(parkedId);
    const atCharge = await run('resume', parkedId, '--settled', 'charged by hand');
    assert.equal(atCharge.code, 1);
    assert.match(atCharge.stderr, new RegExp(`Saga ${parkedId} \\(parked\\) is at charge, a forward step, not a compensation: it cannot be settled by hand and skipped.*'brigade sagas resume ${parkedId}' runs it again.*'brigade sagas close ${parkedId} --reason TEXT'`));
    assert.match((await run('show', parkedId)).stdout, /status {5}parked /, 'left as it was');

    const settled = await cli('resume', failedId, '--settled', 'order cancelled by hand in ordering', '--by', 'ana');
    assert.equal(settled.code, 0, settled.stderr);
    assert.match(settled.stdout, new RegExp(`^resumed saga ${failedId} \\(payments\\) by ana past undo:order, settled by hand: order cancelled by hand in ordering; compensated, nothing left to undo; it had been failed with: charge failed: .*; left: undo:order \\(database main\\)`));
    const shown = await run('show', failedId);
    assert.match(shown.stdout, /status {5}compensated \(version 5\): charge failed: .*; undo:order settled by hand by ana: order cancelled by hand in ordering\n/);
    const entry = shown.stdout.split('\n').find((l) => /^ {2}v5 /.test(l)) ?? '';
    assert.match(entry, /event {5}settled -> compensated {2}\{/);
    assert.deepEqual(
      (({ by, settled: what, item, was, left }) => ({ by, what, item, was, left }))(JSON.parse(entry.slice(entry.indexOf('{'))) as { by: string; settled: string; item: string; was: string; left: string[] }),
      { by: 'ana', what: 'order cancelled by hand in ordering', item: 'undo:order', was: 'failed', left: [] },
    );
    assert.doesNotMatch((await run('list', '--stuck')).stdout, new RegExp(failedId), 'no longer stuck');
    const again = await run('resume', failedId, '--settled', 'again', '--json');
    assert.equal(again.code, 1);
    assert.match(again.stderr, /is compensated: only a failed saga/);
  });
  test('an id two tenants share in one database: resume, resume --settled and close refuse with SAGA_ID_AMBIGUOUS and ask for --tenant; show names the other tenant and shows either with --tenant (before: the CLI acted on the first-started one, and show hid the other)', async () => {
    const [first, second, sagaId] = [randomUUID(), randomUUID(), randomUUID()];
    await pool.query(
      `insert into payments.saga_instances (tenant_id, id, name, state, status, pending, error, created_at)
       values ($1, $3, 'payment', '{}', 'parked', '{charge}', 'settle the charge', now() - interval '1 minute'), ($2, $3, 'payment', '{}', 'parked', '{charge}', 'settle the charge', now())`,
      [first, second, sagaId],
    );
    const statuses = async () => (await pool.query(`select tenant_id, status from payments.saga_instances where id = $1 order by created_at`, [sagaId])).rows;
    for (const args of [['close', sagaId, '--reason', 'settled'], ['resume', sagaId], ['resume', sagaId, '--settled', 'done by hand']]) {
      const refused = await run(...args, '--by', 'ops');
      assert.equal(refused.code, 1, args.join(' '));
      assert.match(refused.stderr, new RegExp(`Saga id ${sagaId} exists in 2 tenants \\(${first}, ${second}\\): say which one \\(--tenant ID\\)`), args.join(' '));
    }
    assert.deepEqual(await statuses(), [{ tenant_id: first, status: 'parked' }, { tenant_id: second, status: 'parked' }], 'neither was touched');

    const shown = await run('show', sagaId);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, new RegExp(`^saga ${sagaId} \\(payments/payment\\) of tenant ${first}, in database main\\n`));
    assert.match(shown.stdout, new RegExp(`^note: another saga with this id, of tenant ${second}, is in database main; resume and close need --tenant$`, 'm'));
    assert.deepEqual((JSON.parse((await run('show', sagaId, '--json')).stdout) as { alsoIn: unknown }).alsoIn, [{ database: 'main', tenantId: second }]);
    const theSecond = await run('show', sagaId, '--tenant', second);
    assert.equal(theSecond.code, 0, theSecond.stderr);
    assert.match(theSecond.stdout, new RegExp(`^saga ${sagaId} \\(payments/payment\\) of tenant ${second}, in database main\\n`));
    assert.doesNotMatch(theSecond.stdout, /^note:/m, 'the tenant named, nothing else matches');

    const closed = await run('close', sagaId, '--reason', 'settled', '--by', 'ops', '--tenant', second);
    assert.equal(closed.code, 0, closed.stderr);
    assert.deepEqual(await statuses(), [{ tenant_id: first, status: 'parked' }, { tenant_id: second, status: 'closed' }], "only the named tenant's saga");
    assert.equal((await run('close', sagaId, '--reason', 'settled', '--by', 'ops', '--tenant', first)).code, 0); // nothing stuck for the other tests
  });
});

describe('brigade sagas list --stuck names the sagas of a type no runner holds any more', () => {
  const database = useTestDatabase();

  test('a running saga of a retired type is listed as such, with what to do (before: "no runner took it; is the saga runner running?", which sent the operator to a runner that was running)', async () => {
    const pool = database.pool(1);
    const tenant = randomUUID();
    const retired = randomUUID();
    const known = randomUUID();
    await pool.query(
      `insert into payments.saga_instances (tenant_id, id, name, state, status, pending, run_after, updated_at) values
         ($1, $2, 'loyalty', '{}', 'running', '{grant}', now() - interval '2 hours', now() - interval '2 hours'),
         ($1, $3, 'payment', '{}', 'running', '{charge}', now() - interval '1 hour', now() - interval '1 hour')`,
      [tenant, retired, known],
    );
    const listed = await runMain(['sagas', 'list', '--stuck'], { DATABASE_URL: database.db.url });
    assert.equal(listed.code, 0, listed.stderr);
    const reasonOf = (id: string) => {
      const lines = listed.stdout.split('\n');
      return lines[lines.findIndex((l) => l.startsWith(id)) + 1] ?? '';
    };
    assert.match(
      reasonOf(retired),
      /^ {4}saga type loyalty is held by no runner of this release \(payment\): a type retired from the code, or a runner deployed without it; nothing runs its steps \(grant\) or delivers its deadlines\. Deploy a release that registers loyalty/,
    );
    assert.match(reasonOf(known), /^ {4}charge has been due since .* and no runner took it; is the saga runner \(brigade worker\) running\?$/);
  });
});

describe('brigade sagas list without --stuck shows a bounded page', () => {
  const database = useTestDatabase();

  test('of many sagas, the 100 most recently changed, then a line that says the list was cut and how to see more', async () => {
    const pool = database.pool(1);
    await pool.query(
      `insert into payments.saga_instances (tenant_id, id, name, state, status, pending, updated_at)
       select gen_random_uuid(), gen_random_uuid(), 'payment', '{}', 'completed', '{}', now() - g * interval '1 second' from generate_series(1, 5000) g`,
    );
    const newest = (await pool.query<{ id: string }>(`select id from payments.saga_instances order by updated_at desc limit 1`)).rows[0]!.id;
    const listed = await runMain(['sagas', 'list'], { DATABASE_URL: database.db.url });
    assert.equal(listed.code, 0, listed.stderr);
    const lines = listed.stdout.trimEnd().split('\n');
    assert.equal(lines.filter((l) => / payments\/payment /.test(l)).length, 100);
    assert.ok(lines[1]!.startsWith(newest), 'newest first');
    assert.deepEqual(lines.slice(-2), ['100 saga(s)', '… and more: the list was cut at 100; narrow it with --status, or raise --limit']);
  });
});
