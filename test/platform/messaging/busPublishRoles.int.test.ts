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

/** Publishes `messages` with the bus's own publish statement (the in-database relay's), as `role`, in one transaction. */
async function publishAs(role: string, messages: readonly OutgoingMessage[]): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    await client.query(`set local role ${client.escapeIdentifier(role)}`);
    await publishToBus(client, messages);
    await client.query('commit');
  } catch (error) {
    await client.query('rollback');
    throw error;
  } finally {
    client.release();
  }
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
