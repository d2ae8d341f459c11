import assert from 'node:assert/strict';
import { test } from 'node:test';
import { requireService } from './services.ts';

// Later issues' tests depend on these; in CI a missing one fails here, first and clearly.
for (const kind of ['redis', 'nats'] as const) {
  test(`${kind} is reachable (skipped locally, failed in CI, when it is not)`, async (t) => {
    const service = await requireService(kind);
    if (service.skip) return t.skip(service.skip);
    assert.equal(service.ok, true);
  });
}
