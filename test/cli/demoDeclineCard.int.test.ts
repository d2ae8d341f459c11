import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCli } from '../support/cli.ts';
import { useTestDatabase } from '../support/db.ts';

// Beside demo.int.test.ts, in a file of its own: each demo starts a whole platform, and one file's tests run one after another.
const database = useTestDatabase();

// Found by a review: the demo gave its declining customers 4000000000000002 whatever PROVIDER_DECLINE_CARD
// told the stand-in provider to decline, so with another card nobody was declined, and with none the
// demo still said some customers would be. The two rushes run one after the other: each one's workers
// would take the other's sagas to its own provider.
test('brigade demo follows PROVIDER_DECLINE_CARD: another card is the one its declining customers keep; none declines nobody, and it says so', async () => {
  const rush = ['demo', '--restaurants', '1', '--couriers', '2', '--orders', '4', '--rate', '20', '--declined', '0.5'];
  const other = await runCli(rush, { DATABASE_URL: database.db.url, PORT: '0', PROVIDER_DECLINE_CARD: '4111111111111111' });
  assert.equal(other.code, 0, other.stdout + other.stderr);
  assert.match(other.stdout, /2 customer\(s\) keep a card on file that the payment provider declines/);
  const declined = Number(/(\d+) declined \(card refused\), 0 failed/.exec(other.stdout)?.[1] ?? assert.fail(other.stdout));
  // Before: 0 (their card, 4000000000000002, was approved).
  assert.equal(declined, 2, other.stdout);

  const none = await runCli(rush, { DATABASE_URL: database.db.url, PORT: '0', PROVIDER_DECLINE_CARD: 'none' });
  assert.equal(none.code, 0, none.stdout + none.stderr);
  assert.match(none.stdout, /the payment provider declines no card \(PROVIDER_DECLINE_CARD=none\): no customer's card is declined/);
  assert.doesNotMatch(none.stdout, /keep a card on file that the payment provider declines/);
  assert.match(none.stdout, / 0 declined \(card refused\), 0 failed/);
});
