import assert from 'node:assert/strict';
import { test } from 'node:test';
import { unitOfWork } from '../../../src/platform/db/index.ts';
import { newMessageId, pruneInbox } from '../../../src/platform/messaging/index.ts';
import { useTestDatabase } from '../../support/db.ts';

// A consuming service prunes its inbox (decision 0092), and can never delete a claim younger than a day:
// not through pruneInbox asked for less, nor through any DELETE of its own role (the restrictive policy of
// delivery migration 0021), since a redelivered or republished copy of a recent message must still find it.

const database = useTestDatabase();
const asDelivery = { service: 'delivery', actor: { kind: 'system', id: 'inbox-retention-test' } } as const;

async function claims(admin: import('pg').Pool, ages: readonly string[]): Promise<string[]> {
  const ids = ages.map(() => newMessageId());
  for (const [i, age] of ages.entries()) {
    await admin.query(`insert into delivery.inbox (subscription, message_id, subject, handled_at) values ('probe', $1, 'ordering.order.OrderReady', now() - $2::interval)`, [ids[i], age]);
  }
  return ids;
}

test('pruneInbox deletes the claims past the retention, oldest first in batches, and never one younger than a day', async () => {
  await database.ready;
  const admin = database.pool(2);
  const [, eightDays, twoDays, now] = await claims(admin, ['10 days', '8 days', '2 days', '0 seconds']);
  const left = async () => (await admin.query<{ id: string }>(`select message_id::text as id from delivery.inbox where subscription = 'probe' order by handled_at`)).rows.map((r) => r.id);

  // One claim per batch: the oldest goes first.
  assert.equal(await unitOfWork(admin, asDelivery, (tx) => pruneInbox(tx, { schema: 'delivery', olderThanMs: 7 * 86_400_000, batchSize: 1 })), 1);
  assert.deepEqual(await left(), [eightDays, twoDays, now]);
  assert.equal(await unitOfWork(admin, asDelivery, (tx) => pruneInbox(tx, { schema: 'delivery', olderThanMs: 7 * 86_400_000 })), 1);
  assert.deepEqual(await left(), [twoDays, now]);
  // Asked for a second, it keeps a day.
  assert.equal(await unitOfWork(admin, asDelivery, (tx) => pruneInbox(tx, { schema: 'delivery', olderThanMs: 1000 })), 1);
  assert.deepEqual(await left(), [now]);
});

test("the service's own DELETE cannot remove a claim handled less than a day ago", async () => {
  await database.ready;
  const admin = database.pool(2);
  const [old, recent] = await claims(admin, ['25 hours', '23 hours']);
  const deleted = await unitOfWork(admin, asDelivery, async (tx) => (await tx.query(`delete from delivery.inbox where message_id = any($1::uuid[])`, [[old, recent]])).rowCount);
  assert.equal(deleted, 1, 'only the claim past a day');
  const { rows } = await admin.query<{ id: string }>(`select message_id::text as id from delivery.inbox where message_id = any($1::uuid[])`, [[old, recent]]);
  assert.deepEqual(rows.map((r) => r.id), [recent]);
});
