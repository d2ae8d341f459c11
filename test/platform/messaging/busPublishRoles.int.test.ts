import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type pg from 'pg';
import { createPgTransport, publishToBus, type OutgoingMessage } from '../../../src/platform/messaging/index.ts';
import { useTestDatabase } from '../../support/db.ts';
import { message, token } from './support.ts';

const SERVICES = ['platform', 'menu', 'ordering', 'delivery', 'payments'];
const database = useTestDatabase();
let pool: pg.Pool;

before(async () => {
  await database.ready;
  pool = database.pool(4);
});

/** Runs `fn` as `role` in one transaction, committed. */
async function asRole<T>(role: string, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    await client.query(`set local role ${client.escapeIdentifier(role)}`);
    const result = await fn(client);
    await client.query('commit');
    return result;
  } catch (error) {
    await client.query('rollback');
    throw error;
  } finally {
    client.release();
  }
}

/** Publishes `messages` with the bus's own publish statement (the in-database relay's), as `role`, in one transaction. */
async function publishAs(role: string, messages: readonly OutgoingMessage[]): Promise<void> {
  await asRole(role, (client) => publishToBus(client, messages));
}

describe('PostgreSQL bus: a service role publishes only its own subjects (platform migration 0020)', () => {
  test("each service role publishes and fans out its own subjects, and no other service's", async () => {
    const t = token();
    const transport = createPgTransport({ pool });
    database.defer(() => transport.close());
    // One subscription takes every service's subjects of this test: the fan-out runs as the role too.
    for (const service of SERVICES) await transport.ensureSubscription({ subscription: `${t}-${service}`, pattern: `${service}.${t}.*` });
    for (const service of SERVICES) {
      const own = message(`${service}.${t}.Happened`, { by: service });
      await publishAs(`brigade_${service}`, [own]);
      const fanned = await pool.query('select subscription from brigade_bus.deliveries where message_id = $1', [own.id]);
      assert.deepEqual(fanned.rows, [{ subscription: `${t}-${service}` }], `${service} published its own subject`);
      for (const other of SERVICES.filter((s) => s !== service)) {
        // A batch with one foreign message in it is refused whole: nothing of it is published.
        const batch = [message(`${service}.${t}.Happened`, {}), message(`${other}.${t}.Happened`, { forgedBy: service })];
        await assert.rejects(publishAs(`brigade_${service}`, batch), (e: unknown) => (e as { code?: string }).code === '42501', `${service} may not publish ${other}'s subjects`);
        const stored = await pool.query('select 1 from brigade_bus.messages where id = any($1::uuid[])', [batch.map((m) => m.id)]);
        assert.equal(stored.rowCount, 0);
      }
    }
    // A subject that only starts like a service's name is another service's too.
    await assert.rejects(publishAs('brigade_menu', [message(`menus.${t}.Happened`, {})]), (e: unknown) => (e as { code?: string }).code === '42501');
    // The transport itself (the bus's owner) publishes any subject: the platform's own publishes and redrives.
    const anySubject = message(`ordering.${t}.Happened`, {});
    await transport.publish([anySubject]);
    assert.equal((await pool.query('select 1 from brigade_bus.messages where id = $1', [anySubject.id])).rowCount, 1);
  });

  test("a service role queues deliveries of its own messages only, not another service's (platform migration 0041)", async () => {
    const t = token();
    const transport = createPgTransport({ pool });
    database.defer(() => transport.close());
    // Ordering's OrderPlaced, published and fanned out; a subscription added after it has no delivery of it.
    await transport.ensureSubscription({ subscription: `${t}-placed`, pattern: `ordering.${t}.*` });
    const placed = message(`ordering.${t}.OrderPlaced`, { orderId: 'o-1' });
    await transport.publish([placed]);
    await transport.ensureSubscription({ subscription: `${t}-late`, pattern: `ordering.${t}.*` });
    const queue = (role: string, subscription: string, messageId: string) =>
      asRole(role, (client) => client.query('insert into brigade_bus.deliveries (subscription, message_id) values ($1, $2)', [subscription, messageId]));
    const refused = (e: unknown) => (e as { code?: string }).code === '42501';
    // Menu may not queue ordering's message, neither for a subscription that never had it nor again for one that had it (acked since).
    await pool.query('delete from brigade_bus.deliveries where message_id = $1', [placed.id]);
    await assert.rejects(queue('brigade_menu', `${t}-late`, placed.id), refused, 'menu queued ordering.*.OrderPlaced');
    await assert.rejects(queue('brigade_menu', `${t}-placed`, placed.id), refused, 'menu queued ordering.*.OrderPlaced again');
    // Nor a delivery of a message that does not exist (yet): it would be waiting for that id.
    await assert.rejects(queue('brigade_menu', `${t}-late`, message(`menu.${t}.Happened`, {}).id), refused);
    assert.equal((await pool.query('select 1 from brigade_bus.deliveries where message_id = $1', [placed.id])).rowCount, 0);
    // Ordering itself may (its own message).
    await queue('brigade_ordering', `${t}-late`, placed.id);
    const queued = await pool.query('select subscription from brigade_bus.deliveries where message_id = $1', [placed.id]);
    assert.deepEqual(queued.rows, [{ subscription: `${t}-late` }]);
  });

  test("a service role reads back only its own messages' ids and subjects", async () => {
    const t = token();
    const transport = createPgTransport({ pool });
    database.defer(() => transport.close());
    await transport.publish([message(`ordering.${t}.Happened`, {}), message(`delivery.${t}.Happened`, {})]);
    const client = await pool.connect();
    try {
      await client.query('begin');
      await client.query('set local role brigade_delivery');
      const { rows } = await client.query('select subject from brigade_bus.messages where subject like $1', [`%.${t}.%`]);
      assert.deepEqual(rows, [{ subject: `delivery.${t}.Happened` }]);
    } finally {
      await client.query('rollback');
      client.release();
    }
  });
});
