import assert from 'node:assert/strict';
import { before, beforeEach, describe, test } from 'node:test';
import pg from 'pg';
import { clientTx, type Tx } from '../../../src/platform/db/index.ts';
import { createEventStore, type FoldEvent } from '../../../src/platform/events/index.ts';
import { ValidationError } from '../../../src/platform/errors/index.ts';
import { defineRowProjection, type RowProjectionOptions, type RowState } from '../../../src/platform/projections/index.ts';
import { useTestDatabase } from '../../support/db.ts';

/** An event of stream `stream` at position (7, `position`): `Opened` starts the row, `Bumped` counts. */
const event = (stream: string, type: 'Opened' | 'Bumped', position: number): FoldEvent => ({
  streamId: stream,
  streamVersion: position,
  type,
  schemaVersion: 1,
  storedSchemaVersion: 1,
  data: {},
  globalPosition: { transactionId: 7n, position: BigInt(position) },
  metadata: { tenantId: '00000000-0000-4000-8000-000000000000', occurredAt: '2026-12-03T00:00:00.000Z' },
});

const evolve = (row: RowState | null, e: FoldEvent): RowState | undefined =>
  e.type === 'Opened' ? { k: e.streamId, n: 0 } : row === null ? undefined : { ...row, n: Number(row.n) + 1 };

/** The tally projection over `public.tally_view`, with or without `startsRow`; `overrides` change the rest. */
const tally = (startsRow?: (e: FoldEvent) => boolean, overrides: Partial<RowProjectionOptions> = {}) =>
  defineRowProjection({
    name: 'tally',
    service: 'ordering',
    schema: 'public',
    table: 'tally_view',
    store: createEventStore({ schema: 'public' }),
    columns: { k: 'text', n: 'integer' },
    key: ['k'],
    keyOf: (e) => [e.streamId],
    evolve,
    ...(startsRow === undefined ? {} : { startsRow }),
    ...overrides,
  });
const opens = (e: FoldEvent) => e.type === 'Opened';

describe('defineRowProjection startsRow: a batch that starts a row does not look it up', () => {
  const database = useTestDatabase();
  let pool: pg.Pool;
  let client: pg.PoolClient;
  /** The transaction the projection writes in, recording every statement's text. */
  let tx: Tx;
  let statements: string[];

  before(async () => {
    pool = database.pool(1);
    await pool.query('create table public.tally_view (k text primary key, n integer not null, last_transaction_id xid8 not null, last_position bigint not null)');
    client = await pool.connect();
    database.defer(() => client.release());
    const inner = clientTx(client, { service: 'ordering', actor: { kind: 'system', id: 'test' } });
    tx = {
      context: inner.context,
      afterCommit: (fn) => inner.afterCommit(fn),
      query: (text, values) => {
        statements.push(typeof text === 'string' ? text : text.text);
        return inner.query(text, values);
      },
    };
  });
  beforeEach(async () => {
    statements = [];
    await client.query('truncate public.tally_view');
  });

  const rows = async () => (await client.query<{ k: string; n: number; last_position: string }>('select k, n, last_position from public.tally_view order by k')).rows;
  const lookups = () => statements.filter((s) => s.includes('cross join lateral')).length;

  test('keys whose first event starts the row are not looked up; the others are, in one statement', async () => {
    await client.query(`insert into public.tally_view values ('b', 5, '7', 2)`);
    await tally(opens).apply(tx, [event('a', 'Opened', 3), event('a', 'Bumped', 4), event('b', 'Bumped', 5), event('a', 'Bumped', 6)], 'public.tally_view');
    assert.deepEqual(await rows(), [
      { k: 'a', n: 2, last_position: '6' },
      { k: 'b', n: 6, last_position: '5' },
    ]);
    assert.equal(lookups(), 1, 'b is looked up');

    statements = [];
    await tally(opens).apply(tx, [event('c', 'Opened', 7), event('d', 'Opened', 8), event('c', 'Bumped', 9)], 'public.tally_view');
    assert.equal(lookups(), 0, 'every key starts here: no lookup at all');
    // Without startsRow every key is looked up (what the option saves).
    statements = [];
    await tally().apply(tx, [event('e', 'Opened', 10)], 'public.tally_view');
    assert.equal(lookups(), 1);
  });

  test('a stored row that is newer than the batch stays as it is (a replay after a rewind)', async () => {
    await client.query(`insert into public.tally_view values ('a', 9, '7', 20)`);
    await tally(opens).apply(tx, [event('a', 'Opened', 3), event('a', 'Bumped', 4)], 'public.tally_view');
    assert.deepEqual(await rows(), [{ k: 'a', n: 9, last_position: '20' }]);
  });

  test('a stored row that is older is replaced by the fold from the starting event', async () => {
    await client.query(`insert into public.tally_view values ('a', 40, '7', 1)`);
    await tally(opens).apply(tx, [event('a', 'Opened', 3), event('a', 'Bumped', 4)], 'public.tally_view');
    assert.deepEqual(await rows(), [{ k: 'a', n: 1, last_position: '4' }]);
  });

  test('a key that keyOf spells otherwise than the database (an upper-case uuid) is refused, not folded as a new row', async () => {
    await client.query('create table public.uuid_view (k uuid primary key, n integer not null, last_transaction_id xid8 not null, last_position bigint not null)');
    const id = '0198c3a0-aaaa-7000-8000-00000000000a';
    const shouting = tally(undefined, { name: 'shouting', table: 'uuid_view', columns: { k: 'uuid', n: 'integer' }, keyOf: (e) => [e.streamId.toUpperCase()] });
    await shouting.apply(tx, [event(id, 'Opened', 3), event(id, 'Bumped', 4)], 'public.uuid_view');
    await assert.rejects(shouting.apply(tx, [event(id, 'Bumped', 5)], 'public.uuid_view'), (e: unknown) => e instanceof ValidationError && /spells otherwise .* lower-case uuids/.test(e.message));
    assert.deepEqual((await client.query('select n, last_position from public.uuid_view')).rows, [{ n: 1, last_position: '4' }], 'the stored row is untouched');
  });
});
