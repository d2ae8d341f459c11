import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import type { ServiceDeps } from '../../../src/platform/runtime/index.ts';
import { dispatchWorkers, type DeliveryPorts } from '../../../src/services/delivery/index.ts';

test('a dispatch worker whose steps fail says so as a process warning, by default', async () => {
  const deps = { unitOfWork: () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:5432')) } as unknown as ServiceDeps;
  const [worker] = dispatchWorkers(1, () => ({}) as DeliveryPorts);
  const stop = new AbortController();
  const warned = once(process, 'warning');
  const running = worker!.run(deps, stop.signal);
  const [warning] = (await warned) as [Error];
  stop.abort();
  await running;
  assert.match(warning.message, /^delivery dispatch-1: connect ECONNREFUSED 127\.0\.0\.1:5432; retrying \(orders wait in the dispatch queue until it succeeds\)$/);
});
