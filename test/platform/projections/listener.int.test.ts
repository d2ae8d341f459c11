import assert from 'node:assert/strict';
import { once } from 'node:events';
import { before, describe, test } from 'node:test';
import pg from 'pg';
import type { GlobalPosition } from '../../../src/platform/events/index.ts';
import { listenToProjections } from '../../../src/platform/projections/index.ts';
import { useTestDatabase } from '../../support/db.ts';
import { FLOW_MS, within } from '../../support/eventually.ts';

describe('the projection listener', () => {
  const database = useTestDatabase();
  let pool: pg.Pool;
  const projection = { schema: 'ordering', name: 'listened' };

  before(() => {
    pool = database.pool({ max: 2 });
  });

  /** Sends `payload` on the projections' channel, as any role of the cluster may. */
  const notify = (payload: string) => pool.query(`select pg_notify('brigade_projections', $1)`, [payload]);

  test('ignores a notification that is not "<projection> <position>", and a throwing subscriber stops neither the others nor the listener', async () => {
    const listener = await listenToProjections(pool);
    try {
      const seen: GlobalPosition[] = [];
      let delivered!: () => void;
      const arrived = new Promise<void>((resolve) => (delivered = resolve));
      listener.subscribe(projection, () => {
        throw new Error('a subscriber bug');
      });
      listener.subscribe(projection, (at) => {
        seen.push(at);
        delivered();
      });
      const warned = once(process, 'warning');
      // Before the fix, the malformed position threw inside pg's socket handler: an uncaught exception.
      await notify('ordering.listened not-a-position');
      await notify('ordering.listened');
      await notify('ordering.listened 12.34');
      await within(arrived, FLOW_MS, 'the well-formed notification reaches the second subscriber');
      const [warning] = (await within(warned, FLOW_MS, 'the subscriber error is reported as a warning')) as [Error & { code?: string }];
      assert.match(warning.message, /^a subscriber of projection ordering\.listened threw: Error: a subscriber bug$/);
      assert.equal(warning.code, 'BRIGADE_PROJECTION_SUBSCRIBER');
      assert.deepEqual(seen, [{ transactionId: 12n, position: 34n }]);
    } finally {
      await listener.close();
    }
  });

  test('gives its connection back, discarded, when LISTEN fails', async () => {
    const failure = new Error('connection terminated');
    const released: Array<Error | boolean | undefined> = [];
    const listeners = new Map<string, number>();
    const client = {
      on(event: string) {
        listeners.set(event, (listeners.get(event) ?? 0) + 1);
        return client;
      },
      off(event: string) {
        listeners.set(event, (listeners.get(event) ?? 0) - 1);
        return client;
      },
      query: () => Promise.reject(failure),
      release: (error?: Error | boolean) => void released.push(error),
    };
    const failingPool = { connect: () => Promise.resolve(client) } as unknown as pg.Pool;
    await assert.rejects(listenToProjections(failingPool), failure);
    assert.deepEqual(released, [failure], 'released once, with the error, so the pool discards it');
    assert.deepEqual(Object.fromEntries(listeners), { notification: 0, error: 0 }, 'no handler left on the client');
  });
});
