import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCli } from '../support/cli.ts';

test('brigade demo runs a small dinner rush through the real API and prints its summary', async () => {
  const { createTestDatabase } = await import('../support/db.ts');
  const db = await createTestDatabase();
  try {
    const result = await runCli(['demo', '--restaurants', '2', '--couriers', '3', '--orders', '6', '--rate', '6'], { DATABASE_URL: db.url, PORT: '0' });
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /\/board\/[0-9a-f-]{36}/, 'it prints the pages to watch');
    assert.match(result.stdout, /\[#+\] 6\/6 orders/, 'it shows progress');
    assert.match(result.stdout, /Dinner rush: \d+ delivered, \d+ cancelled, 0 failed/);
    for (const line of ['completed orders/s', 'conflicts (412)', 'dead letters', 'menu cache hit rate']) assert.match(result.stdout, new RegExp(line.replace(/[()]/g, '\\$&')));
    assert.match(result.stdout, /place\s+6\s+[\d.]+\s+[\d.]+/);
    assert.equal((await runCli(['demo', '--orders', 'many'])).code, 2);
  } finally {
    await db.drop();
  }
});
