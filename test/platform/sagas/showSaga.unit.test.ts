import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Tx } from '../../../src/platform/db/index.ts';
import { showSaga } from '../../../src/platform/sagas/index.ts';

test('showSaga keeps the milliseconds of the timestamps pg returns as Dates (before: created/updated at whole seconds, earlier than the last log entry)', async () => {
  const at = (ms: number) => new Date(Date.UTC(2026, 0, 2, 3, 4, 5, ms));
  const row = {
    tenant_id: 't', id: 's', name: 'toy', state: {}, version: 2, status: 'running', pending: ['a'], completed: [], attempts: 0, error: null, error_before_park: null,
    created_at: at(123), updated_at: at(987), run_after: at(456), locked_by: 'r', locked_until: at(789),
    log: [{ version: 2, at: '2026-01-02T03:04:05.987+00:00', kind: 'event', item: 'poke', attempt: null, status: 'running', data: null, error: null }],
    deadlines: [{ name: 'd', dueAt: '2026-01-02T03:04:06.5+00:00', firedAt: null, cancelledAt: null, error: null }],
  };
  const tx = { query: async () => ({ rows: [row] }) } as unknown as Tx;
  const saga = await showSaga(tx, 'payments', 's', { tenantId: 't' });
  assert.deepEqual(
    [saga?.createdAt, saga?.updatedAt, saga?.runAfter, saga?.lockedUntil, saga?.log[0]?.at, saga?.deadlines[0]?.dueAt],
    ['2026-01-02T03:04:05.123Z', '2026-01-02T03:04:05.987Z', '2026-01-02T03:04:05.456Z', '2026-01-02T03:04:05.789Z', '2026-01-02T03:04:05.987Z', '2026-01-02T03:04:06.500Z'],
  );
});
