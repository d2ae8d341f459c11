import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, test } from 'node:test';
import pg from 'pg';
import { commitStatements, RolledBackError, unitOfWork, type CommitStatementsFn, type UnitOfWorkContext } from '../../../src/platform/db/index.ts';
import { ConcurrencyError, ValidationError } from '../../../src/platform/errors/index.ts';
import { createEventStore, createUpcasters, type PendingEvent, type RecordedEvent } from '../../../src/platform/events/index.ts';
import { useTestDatabase } from '../../support/db.ts';
import { holdOpen, readAllUntil, startUnitOfWork, waitForLockWaiters } from './support.ts';

describe('event store: append and read a stream', () => {
  const database = useTestDatabase();
  let pool: pg.Pool;
  let admin: pg.Pool;
  const tenant = randomUUID();
  // Staff of the restaurant: they read every stream of it. A customer or a courier reads only the streams of
  // their own orders (ordering migration 0039), and these streams are in no order index.
  const ctx: UnitOfWorkContext = { service: 'ordering', tenantId: tenant, actor: { kind: 'staff', id: randomUUID() } };
  const clock = () => new Date('2031-02-03T04:05:06.789Z');
  const store = createEventStore({ schema: 'ordering', clock });

  before(() => {
    pool = database.pool(12);
    admin = database.pool(2);
  });

  test('appends at version 0, returns the stored envelopes, and reads them back identically', async () => {
    const stream = `order-${randomUUID()}`;
    const result = await unitOfWork(pool, ctx, (tx) =>
      store.append(tx, stream, [
        { type: 'OrderPlaced', data: { items: [{ sku: 'pizza', qty: 2 }] } },
        { type: 'OrderAccepted', data: {}, occurredAt: new Date('2031-02-03T04:05:07Z'), encryption: { keyId: 'customer:1:v1', fields: ['/address'] } },
      ], 0),
    );
    assert.equal(result.nextExpectedVersion, 2);
    const [placed, accepted] = result.events as [RecordedEvent, RecordedEvent];
    assert.deepEqual([placed.streamVersion, accepted.streamVersion], [1, 2]);
    assert.match(placed.metadata.messageId, /^[0-9a-f-]{14}7/);
    assert.notEqual(placed.metadata.messageId, accepted.metadata.messageId);
    assert.equal(placed.metadata.correlationId, placed.metadata.messageId, 'an append with no cause correlates to its first message');
    assert.equal(accepted.metadata.correlationId, placed.metadata.messageId);
    assert.equal(placed.metadata.causationId, null);
    assert.equal(placed.metadata.tenantId, tenant);
    assert.deepEqual(placed.metadata.actor, ctx.actor);
    assert.equal(placed.metadata.source, 'ordering');
    assert.equal(placed.metadata.occurredAt, '2031-02-03T04:05:06.789Z', 'occurredAt comes from the caller’s clock');
    assert.equal(accepted.metadata.occurredAt, '2031-02-03T04:05:07.000Z');
    assert.notEqual(placed.metadata.recordedAt, placed.metadata.occurredAt, 'recordedAt is the database’s time');
    assert.deepEqual(accepted.metadata.encryption, { keyId: 'customer:1:v1', fields: ['/address'] });
    assert.equal(placed.globalPosition.transactionId, accepted.globalPosition.transactionId, 'one transaction');
    assert.ok(placed.globalPosition.position < accepted.globalPosition.position);

    const read = await unitOfWork(pool, ctx, (tx) => store.readStream(tx, stream));
    assert.equal(read.version, 2);
    assert.deepEqual(read.events, result.events);
    const tail = await unitOfWork(pool, ctx, (tx) => store.readStream(tx, stream, { afterVersion: 1 }));
    assert.deepEqual(tail.events.map((e) => e.type), ['OrderAccepted']);
    const empty = await unitOfWork(pool, ctx, (tx) => store.readStream(tx, `order-${randomUUID()}`));
    assert.deepEqual(empty, { events: [], version: 0 });
  });

  test('a stale expected version raises ConcurrencyError with the actual version and writes nothing', async () => {
    const stream = `order-${randomUUID()}`;
    await unitOfWork(pool, ctx, (tx) => store.append(tx, stream, [{ type: 'A', data: 1 }, { type: 'B', data: 2 }], 0));
    for (const stale of [0, 1, 3]) {
      const error = await unitOfWork(pool, ctx, (tx) => store.append(tx, stream, [{ type: 'C', data: 3 }], stale)).then(
        () => assert.fail('must not append'),
        (e: unknown) => e,
      );
      assert.ok(error instanceof ConcurrencyError);
      assert.equal(error.code, 'CONCURRENCY_CONFLICT');
      assert.equal(error.status, 412);
      assert.deepEqual([error.expected, error.actual], [stale, 2]);
    }
    const next = await unitOfWork(pool, ctx, (tx) => store.append(tx, stream, [{ type: 'C', data: 3 }], 2));
    assert.equal(next.nextExpectedVersion, 3);
    const any = await unitOfWork(pool, ctx, (tx) => store.append(tx, stream, [{ type: 'D', data: 4 }], 'any'));
    assert.equal(any.nextExpectedVersion, 4);
    const read = await unitOfWork(pool, ctx, (tx) => store.readStream(tx, stream));
    assert.deepEqual(read.events.map((e) => [e.streamVersion, e.type]), [[1, 'A'], [2, 'B'], [3, 'C'], [4, 'D']]);
  });

  test('of eight appends at one version, forced to overlap, exactly one wins (the holder commits)', async () => {
    const stream = `order-${randomUUID()}`;
    const first = await holdOpen(pool, ctx, (tx) => store.append(tx, stream, [{ type: 'Winner', data: 0 }], 0));
    const losers = await Promise.all(
      Array.from({ length: 7 }, (_, i) => startUnitOfWork(pool, ctx, (tx) => store.append(tx, stream, [{ type: 'Loser', data: i + 1 }], 0))),
    );
    // All seven passed the version check and now wait on the holder's uncommitted primary-key entry.
    await waitForLockWaiters(admin, losers.map((l) => l.pid));
    await first.commit();
    const outcomes = await Promise.allSettled(losers.map((l) => l.done));
    for (const o of outcomes) {
      assert.equal(o.status, 'rejected');
      assert.ok(o.reason instanceof ConcurrencyError, String(o.reason));
      assert.equal(o.reason.details.reason, 'CONCURRENT_APPEND');
      assert.deepEqual([o.reason.expected, o.reason.actual], [0, 1]);
    }
    const read = await unitOfWork(pool, ctx, (tx) => store.readStream(tx, stream));
    assert.deepEqual(read.events.map((e) => e.type), ['Winner']);
  });

  test('of eight appends at one version, forced to overlap, exactly one wins (the holder rolls back)', async () => {
    const stream = `order-${randomUUID()}`;
    const first = await holdOpen(pool, ctx, (tx) => store.append(tx, stream, [{ type: 'RolledBack', data: 0 }], 0));
    const racers = await Promise.all(
      Array.from({ length: 7 }, (_, i) => startUnitOfWork(pool, ctx, (tx) => store.append(tx, stream, [{ type: 'Racer', data: i + 1 }], 0))),
    );
    await waitForLockWaiters(admin, racers.map((l) => l.pid));
    await first.rollback();
    const outcomes = await Promise.allSettled(racers.map((l) => l.done));
    const won = outcomes.filter((o) => o.status === 'fulfilled');
    const lost = outcomes.filter((o) => o.status === 'rejected');
    assert.equal(won.length, 1, 'exactly one append wins');
    for (const o of lost) assert.ok(o.reason instanceof ConcurrencyError, String(o.reason));
    const read = await unitOfWork(pool, ctx, (tx) => store.readStream(tx, stream));
    assert.equal(read.events.length, 1);
    assert.equal(read.events[0]?.type, 'Racer');
  });

  test('an older transaction cannot append behind a newer one, so stream order holds in the global order', async () => {
    const stream = `order-${randomUUID()}`;
    // The old transaction takes its transaction id first (by appending to another stream) ...
    const older = await holdOpen(pool, ctx, async (tx) => {
      await store.append(tx, `other-${randomUUID()}`, [{ type: 'Other', data: null }], 0);
      return tx;
    });
    // ... a newer one appends version 1 and commits ...
    await unitOfWork(pool, ctx, (tx) => store.append(tx, stream, [{ type: 'First', data: 1 }], 0));
    // ... then the old one, which now sees version 1, is refused: stored, its event would sort before version 1.
    await assert.rejects(
      store.append(older.result, stream, [{ type: 'Second', data: 2 }], 1),
      (e: unknown) => e instanceof ConcurrencyError && e.details.reason === 'TRANSACTION_ORDER' && e.actual === 1,
    );
    // A refused append fails its transaction (so nothing sent behind it runs): nothing of it commits.
    await assert.rejects(older.commit(), RolledBackError);
    await unitOfWork(pool, ctx, (tx) => store.append(tx, stream, [{ type: 'Second', data: 2 }], 1));
    const all = await readAllUntil(pool, store, (events) => events.filter((e) => e.streamId === stream).length === 2);
    assert.deepEqual(all.filter((e) => e.streamId === stream).map((e) => e.streamVersion), [1, 2]);
  });

  test('lineage: causedBy keeps the correlation id and makes the cause’s message id the causation id', async () => {
    const cause = { messageId: randomUUID(), correlationId: randomUUID() };
    const { events } = await unitOfWork(pool, ctx, (tx) => store.append(tx, `order-${randomUUID()}`, [{ type: 'X', data: {}, extra: { requestId: 'r-1' } }], 0, { causedBy: cause }));
    assert.equal(events[0]?.metadata.correlationId, cause.correlationId);
    assert.equal(events[0]?.metadata.causationId, cause.messageId);
    assert.deepEqual(events[0]?.metadata.extra, { requestId: 'r-1' });
  });

  test('an upcaster is applied to a stored v1 event on read (chained to v3)', async () => {
    const stream = `order-${randomUUID()}`;
    await unitOfWork(pool, ctx, (tx) => store.append(tx, stream, [{ type: 'OrderPlaced', schemaVersion: 1, data: { totalCents: 990 } }], 0));
    const upcasting = createEventStore({
      schema: 'ordering',
      upcasters: createUpcasters([
        { type: 'OrderPlaced', fromVersion: 1, upcast: (d) => ({ ...(d as object), currency: 'EUR' }) },
        { type: 'OrderPlaced', fromVersion: 2, upcast: (d, meta) => ({ total: { cents: (d as { totalCents: number }).totalCents, currency: (d as { currency: string }).currency }, placedAt: meta.occurredAt }) },
      ]),
    });
    const stored = (await admin.query<{ schema_version: number; data: unknown }>('select schema_version, data from ordering.events where stream_id = $1', [stream])).rows;
    assert.deepEqual(stored, [{ schema_version: 1, data: { totalCents: 990 } }], 'the stored event is v1');
    for (const events of [
      (await unitOfWork(pool, ctx, (tx) => upcasting.readStream(tx, stream))).events,
      (await readAllUntil(pool, upcasting, (events) => events.some((e) => e.streamId === stream))).filter((e) => e.streamId === stream),
    ]) {
      assert.equal(events.length, 1);
      assert.equal(events[0]?.schemaVersion, 3);
      assert.equal(events[0]?.storedSchemaVersion, 1);
      assert.deepEqual(events[0]?.data, { total: { cents: 990, currency: 'EUR' }, placedAt: '2031-02-03T04:05:06.789Z' });
    }
  });

  test('onAppend statements run in the appending transaction with the envelopes, only after a successful append; their failure rolls the append back', async () => {
    await admin.query('create table ordering.outbox_probe (tenant_id uuid not null, message_id uuid not null, type text not null check (type <> \'Poison\')); grant select, insert on ordering.outbox_probe to brigade_ordering');
    const seen: PendingEvent[][] = [];
    const hooked = createEventStore({
      schema: 'ordering',
      onAppend: (_context, events) => {
        seen.push([...events]);
        return events.map((e) => ({ text: 'insert into ordering.outbox_probe values ($1, $2, $3)', values: [e.metadata.tenantId, e.metadata.messageId, e.type] }));
      },
    });
    const commit: CommitStatementsFn = (context, statements) => commitStatements(pool, context, statements);
    const stream = `order-${randomUUID()}`;
    const ok = await unitOfWork(pool, ctx, (tx) => hooked.append(tx, stream, [{ type: 'Fine', data: 1 }], 0));
    await assert.rejects(unitOfWork(pool, ctx, (tx) => hooked.append(tx, stream, [{ type: 'Poison', data: 2 }], 1)), /outbox_probe_type_check/);
    await assert.rejects(hooked.appendAndCommit(commit, ctx, stream, [{ type: 'Poison', data: 2 }], 1), /outbox_probe_type_check/);
    // A stale version raises in SQL: the hook's statements were sent behind it and never ran.
    await assert.rejects(unitOfWork(pool, ctx, (tx) => hooked.append(tx, stream, [{ type: 'Late', data: 3 }], 0)), ConcurrencyError);
    await assert.rejects(hooked.appendAndCommit(commit, ctx, stream, [{ type: 'Late', data: 3 }], 0), ConcurrencyError);
    const two = await hooked.appendAndCommit(commit, ctx, stream, [{ type: 'Second', data: 4 }], 1);
    assert.deepEqual(seen.map((batch) => batch.map((e) => e.type)), [['Fine'], ['Poison'], ['Poison'], ['Late'], ['Late'], ['Second']]);
    assert.equal(seen[0]?.[0]?.metadata.messageId, ok.events[0]?.metadata.messageId);
    const outbox = (await admin.query<{ message_id: string }>('select message_id from ordering.outbox_probe order by type')).rows;
    assert.deepEqual(outbox.map((r) => r.message_id), [ok.events[0]?.metadata.messageId, two.events[0]?.metadata.messageId]);
    const read = await unitOfWork(pool, ctx, (tx) => store.readStream(tx, stream));
    assert.deepEqual(read.events.map((e) => e.type), ['Fine', 'Second']);
  });

  test('appendAndCommit: one transaction of its own, same envelopes and checks as append', async () => {
    {
      for (const p of [pool]) {
        const commit: CommitStatementsFn = (context, statements) => commitStatements(p, context, statements);
        const stream = `order-${randomUUID()}`;
        const first = await store.appendAndCommit(commit, ctx, stream, [{ type: 'A', data: { n: 1 } }, { type: 'B', data: { n: 2 } }], 0);
        assert.equal(first.nextExpectedVersion, 2);
        const stale = await store.appendAndCommit(commit, ctx, stream, [{ type: 'C', data: 3 }], 1).then(
          () => assert.fail('a stale version must be refused'),
          (e: unknown) => e,
        );
        assert.ok(stale instanceof ConcurrencyError);
        assert.equal(stale.actual, 2);
        const read = await unitOfWork(p, ctx, (tx) => store.readStream(tx, stream));
        assert.deepEqual(read.events, first.events, 'the returned envelopes are what was stored');
        // The connection is idle and clean after the refused append.
        const after = await unitOfWork(p, { service: 'ordering' }, async (tx) => (await tx.query<{ t: string }>(`select current_setting('brigade.tenant_id', true) as t`)).rows[0]?.t);
        assert.equal(after, '');
      }
    }
  });

  test('readStreamAndCommit: the same read as readStream, as one read-only batch whose statement is prepared once per connection', async () => {
    const single = database.pool(1);
    const stream = `order-${randomUUID()}`;
    const sent: Array<{ readOnly: boolean | undefined; statements: number }> = [];
    const commit: CommitStatementsFn = (context, statements) => {
      sent.push({ readOnly: context.readOnly, statements: statements.length });
      return commitStatements(single, context, statements);
    };
    await store.appendAndCommit(commit, ctx, stream, [{ type: 'A', data: { n: 1 } }, { type: 'B', data: { n: 2 } }, { type: 'C', data: { n: 3 } }], 0);
    sent.length = 0;
    const whole = await store.readStreamAndCommit(commit, ctx, stream);
    assert.deepEqual(whole, await unitOfWork(pool, ctx, (tx) => store.readStream(tx, stream)));
    assert.equal(whole.version, 3);
    const tail = await store.readStreamAndCommit(commit, ctx, stream, { afterVersion: 1, limit: 1 });
    assert.deepEqual(tail.events.map((e) => e.type), ['B']);
    assert.deepEqual(await store.readStreamAndCommit(commit, ctx, `order-${randomUUID()}`), { events: [], version: 0 });
    assert.deepEqual(sent, [1, 2, 3].map(() => ({ readOnly: true, statements: 1 })), 'each read is one read-only batch of one statement');
    // Another tenant's context reads nothing of this stream (RLS), on the same connection.
    assert.deepEqual(await store.readStreamAndCommit(commit, { ...ctx, tenantId: randomUUID() }, stream, { tenantId: tenant }), { events: [], version: 0 });
    const prepared = await single.query<{ n: string }>(`select count(*) as n from pg_prepared_statements where name = 'brigade_read_stream_ordering'`);
    assert.equal(prepared.rows[0]!.n, '1', 'four reads on one connection prepared the read once');
    await assert.rejects(store.readStreamAndCommit(commit, { service: 'ordering' }, stream), ValidationError);
  });

  test('bad input is refused before SQL, and hostile strings are stored as data, never run', async () => {
    await assert.rejects(unitOfWork(pool, { service: 'ordering' }, (tx) => store.append(tx, 's', [{ type: 'A', data: 1 }], 0)), ValidationError);
    await assert.rejects(unitOfWork(pool, ctx, (tx) => store.append(tx, 's', [], 0)), ValidationError);
    await assert.rejects(unitOfWork(pool, ctx, (tx) => store.append(tx, 's', [{ type: 'A', data: 1 }], -1)), ValidationError);
    await assert.rejects(unitOfWork(pool, ctx, (tx) => store.append(tx, 's', [{ type: 'A', data: 1 }], 1.5)), ValidationError);
    await assert.rejects(unitOfWork(pool, ctx, (tx) => store.append(tx, '', [{ type: 'A', data: 1 }], 0)), ValidationError);
    await assert.rejects(unitOfWork(pool, ctx, (tx) => store.append(tx, 's', [{ type: 'A', data: 1, messageId: "x'); drop table ordering.events; --" }], 0)), ValidationError);
    await assert.rejects(unitOfWork(pool, ctx, (tx) => store.append(tx, 's', [{ type: 'A', data: 1 }], 0, { correlationId: 'nope' })), ValidationError);
    assert.throws(() => createEventStore({ schema: 'ordering.events; --' }), ValidationError);
    const hostile = `x'); drop table ordering.events; --"\\`;
    const stream = `order-${hostile}`;
    await unitOfWork(pool, ctx, (tx) => store.append(tx, stream, [{ type: hostile, data: { note: hostile, "k'\"": [hostile] } }], 0));
    const read = await unitOfWork(pool, ctx, (tx) => store.readStream(tx, stream));
    assert.equal(read.events[0]?.type, hostile);
    assert.deepEqual(read.events[0]?.data, { note: hostile, "k'\"": [hostile] });
  });
});
