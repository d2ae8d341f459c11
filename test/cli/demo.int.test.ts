import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCli } from '../support/cli.ts';
import { useTestDatabase } from '../support/db.ts';

const database = useTestDatabase();

test('brigade demo: a small dinner rush through the real API, paid out, voided (cancelled before capture) and declined, with its summary', async () => {
  // A dead letter from before the demo: not the demo's, so not in its count.
  await database.pool(1).query(
    `insert into brigade_bus.dead_letters (id, subscription, message_id, subject, key, headers, payload, error, attempts, first_failed_at, last_failed_at, transport)
     values (gen_random_uuid(), 'earlier/consumer', gen_random_uuid(), 'earlier.event', 'k', '{}', 'null', 'an earlier failure', 5, now() - interval '1 day', now() - interval '1 day', 'postgres')`,
  );
  const result = await runCli(['demo', '--restaurants', '2', '--couriers', '3', '--orders', '10', '--rate', '8', '--declined', '0.2'], { DATABASE_URL: database.db.url, PORT: '0' });
  assert.equal(result.code, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /\/board\/[0-9a-f-]{36}/, 'it prints the pages to watch');
  // DATABASE_URL is set: no development login there, so the hint is the token command.
  assert.match(result.stdout, /\/board\/([0-9a-f-]{36}) +\(sign in with the token of: brigade token --role staff --restaurant \1\)/);
  assert.doesNotMatch(result.stdout, /dev-login/);
  assert.match(result.stdout, /dead letters +0\n/, 'the dead letter from before the demo is not counted');
  // Its couriers go off duty at the end: left available, the next run's orders in their city (or anyone's) went to them.
  const available = await database.pool(1).query(`select count(*)::int as n from delivery.courier_availability where status = 'available'`);
  assert.equal(available.rows[0].n, 0);
  assert.match(result.stdout, /payment provider at http:\/\/127\.0\.0\.1:\d+/, 'it runs the stand-in provider beside the platform');
  assert.match(result.stdout, /2 customer\(s\) keep a card on file that the payment provider declines/);
  assert.match(result.stdout, /\[#+\] 10\/10 orders/, 'it shows progress');
  const [, delivered, cancelled, declined] = /Dinner rush: (\d+) delivered, (\d+) cancelled by the customer, (\d+) declined \(card refused\), 0 failed/.exec(result.stdout)?.map(Number) ?? assert.fail(result.stdout);
  assert.equal(delivered! + cancelled! + declined!, 10);
  assert.equal(declined, 2, 'the two customers with the declined card: payments cancelled their orders');
  const payments = /payments +(.*) \((\d+)\/10 settled/.exec(result.stdout) ?? assert.fail(result.stdout);
  const tally = Object.fromEntries((payments[1] as string).split(', ').map((part) => [part.replace(/^\d+ /, ''), Number(part.split(' ')[0])]));
  assert.equal(payments[2], '10', 'every payment settled');
  assert.deepEqual(tally, { ...(delivered ? { 'paid out': delivered } : {}), ...(cancelled ? { voided: cancelled } : {}), declined: 2 });
  for (const line of ['completed orders/s', 'conflicts (412)', 'dead letters', 'menu cache hit rate']) assert.match(result.stdout, new RegExp(line.replace(/[()]/g, '\\$&')));
  assert.match(result.stdout, /place\s+10\s+[\d.]+\s+[\d.]+/);
  assert.match(result.stdout, /card on file\s+10\s+/);
  // The links printed above stop answering when the demo ends: said after the summary, with the way back (before: nothing).
  const stopped = result.stdout.indexOf('The demo has stopped its platform: the pages above no longer answer.');
  assert.ok(stopped > result.stdout.indexOf('card on file'), result.stdout);
  assert.match(result.stdout.slice(stopped), /npx brigade start \(with the same DATABASE_URL\) serves those pages again/);
  assert.equal((await runCli(['demo', '--orders', 'many'])).code, 2);
  assert.equal((await runCli(['demo', '--declined', '2'])).code, 2);
});
