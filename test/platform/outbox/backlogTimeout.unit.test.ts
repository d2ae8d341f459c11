import assert from 'node:assert/strict';
import { test } from 'node:test';
import client from 'prom-client';
import { outboxMetrics } from '../../../src/platform/outbox/outboxMetrics.ts';
import { within } from '../../support/eventually.ts';

test("a scrape goes on without the series of a database whose backlog read hangs; the others' are there", async () => {
  const registry = new client.Registry();
  const metrics = outboxMetrics(registry);
  // A dedicated database that accepts the query and never answers; the shared one answers.
  metrics.watch({ outbox: 'ordering', database: 'db-1a2b3c4d' }, () => new Promise(() => undefined));
  metrics.watch({ outbox: 'ordering' }, async () => ({ depth: 3, oldestAgeSeconds: 1.5 }));
  // Before, the scrape waited for the hung read for ever, and lost every series.
  const text = await within(registry.metrics(), 20_000, 'the scrape');
  const series = (name: string) => text.split('\n').filter((l) => l.startsWith(`${name}{`));
  assert.deepEqual(series('brigade_outbox_depth'), ['brigade_outbox_depth{outbox="ordering"} 3']);
  assert.deepEqual(series('brigade_outbox_oldest_age_seconds'), ['brigade_outbox_oldest_age_seconds{outbox="ordering"} 1.5']);
});
