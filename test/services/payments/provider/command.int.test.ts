import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import pg from 'pg';
import { createPaymentProviderClient } from '../../../../src/services/payments/provider/index.ts';
import { repoRoot } from '../../../support/cli.ts';
import { useTestDatabase } from '../../../support/db.ts';

// The command module runs in a real child process (as `brigade payment-provider` will once main.ts
// registers it), so the signal handling is the real one.
const SCRIPT = `
const { run } = await import('./src/cli/commands/paymentProvider.ts');
const io = { out: (l) => process.stdout.write(l + '\\n'), err: (l) => process.stderr.write(l + '\\n') };
process.exitCode = await run(process.argv.slice(1), { env: process.env, io });
`;

describe('brigade payment-provider (command module)', () => {
  const database = useTestDatabase();

  test('starts on --port with faults from the environment, serves charges, stops cleanly on SIGTERM', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', SCRIPT, '--', '--port', '0', '--decline-card', '5555555555554444'], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, DATABASE_URL: database.db.url, PROVIDER_ERROR_RATE: '0', LOG_LEVEL: 'warn' },
    });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const reference = randomUUID();
    try {
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (c: Buffer) => {
          stdout += c.toString();
          const m = /listening on (http:\/\/\S+)[\s\S]*Press Ctrl\+C/.exec(stdout);
          if (m?.[1] !== undefined) resolve(m[1]);
        });
        void exited.then((code) => reject(new Error(`exited ${code} before listening: ${stderr}`)));
      });
      assert.match(stdout, /declined card 5555555555554444/);
      const client = createPaymentProviderClient({ baseUrl: url, timeoutMs: 5000 });
      const charged = await client.charge({ amount: 990, currency: 'EUR', card: '4242424242424242', reference }, `${reference}:charge`);
      assert.equal(charged.status, 'authorized');
      await assert.rejects(client.charge({ amount: 990, currency: 'EUR', card: '5555555555554444', reference }, `${reference}:declined`), { code: 'PAYMENT_DECLINED' });
      child.kill('SIGTERM');
      assert.equal(await exited, 0, stderr);
      assert.match(stdout, /Stopped cleanly\./);
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    }
    const check = new pg.Client({ connectionString: database.db.url });
    await check.connect();
    try {
      const { rows } = await check.query(`select movement from payment_provider.ledger_entries where reference = $1`, [reference]);
      assert.deepEqual(rows, [{ movement: 'authorization' }]);
    } finally {
      await check.end();
    }
  });

  test('a bad fault setting is refused before anything starts', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', SCRIPT, '--', '--error-rate', '2'], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, DATABASE_URL: database.db.url },
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    assert.notEqual(code, 0);
    assert.match(stderr, /error-rate.*from 0 to 1/);
  });
});
