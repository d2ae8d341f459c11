import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { checkoutBrigadeBin, repoRoot } from '../support/cli.ts';
import { useTestDatabase } from '../support/db.ts';
import { serveBrigade } from '../support/embeddedHome.ts';
import { FLOW_MS } from '../support/eventually.ts';
import { requireCommand } from '../support/services.ts';

// The walkthrough is bash and curl; a machine with nothing but Node skips it (CI fails instead).
const curl = await requireCommand('curl', ['--version']);
const bash = await requireCommand('bash', ['--version']);

/**
 * The README's walkthrough as a new user runs it, against `brigade start`: its shell blocks, in
 * order, word for word but for three things a test must change: the address (PORT=0 here, 3000 in
 * the README), `npx brigade` (the same binary, without npx's lookup), and the walkthrough's
 * `sleep 2` before the payment, which becomes a wait for the charge (bounded, never a measurement).
 */
describe('the README walkthrough', () => {
  const database = useTestDatabase();
  const homes: string[] = [];
  after(() => Promise.all(homes.map((home) => fs.rm(home, { recursive: true, force: true }))));

  test('runs as written against brigade start: a restaurant, its menu, a customer with a card, an order charged, its saga shown', { skip: curl.skip || bash.skip }, async (t) => {
    const readme = await fs.readFile(path.join(repoRoot, 'README.md'), 'utf8');
    const walkthrough = readme.slice(readme.indexOf('## A walkthrough'), readme.indexOf('## Architecture'));
    const blocks = [...walkthrough.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((match) => match[1]!);
    assert.equal(blocks.length, 2, 'the walkthrough has its two shell blocks');
    assert.equal(blocks.join('').match(/\bsleep 2;/g)?.length, 1, 'the payment is read after one `sleep 2;`');

    const home = await fs.mkdtemp(path.join(os.tmpdir(), 'brigade-readme-'));
    homes.push(home);
    const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', DATABASE_URL: database.db.url, BRIGADE_SECRET: 'r'.repeat(40), BRIGADE_HOME: home, LOG_LEVEL: 'warn' };
    const server = await serveBrigade(['start'], { ...env, PORT: '0', PROVIDER_PORT: '0' });
    t.after(() => server.stop('SIGTERM'));
    const api = server.base.replace(/^http:\/\//, '');

    const waitForCharge = `for _ in $(seq 1 ${FLOW_MS / 200}); do curl -sS localhost:3000/v1/orders/$ORDER/payment -H "authorization: Bearer $CUSTOMER" | grep -q '"payment":"authorized"' && break; sleep 0.2; done;`;
    const script = blocks
      .join('\n')
      .replace(/\bsleep 2;/, waitForCharge)
      .replaceAll('localhost:3000', api)
      .replaceAll('npx brigade', `${JSON.stringify(process.execPath)} ${JSON.stringify(checkoutBrigadeBin)}`);
    // stdin from /dev/null: bash given a socket for stdin (Node's pipes) takes itself for rshd's and reads bashrc.
    const shell = spawn('bash', ['-euo', 'pipefail', '-c', script], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    shell.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    shell.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => shell.on('close', resolve));
    const transcript = `exit ${code}\n--- stdout\n${stdout}\n--- stderr\n${stderr}\n--- brigade start\n${server.output()}`;
    assert.equal(code, 0, transcript);
    assert.match(stdout, /^open 127\.0\.0\.1:\d+\/board\/[0-9a-f-]{36} and sign in with ey/m, transcript);
    assert.match(stdout, /^\{"cardLast4":"4242",/m, transcript);
    const payment = JSON.parse(/^\{"orderId".*$/m.exec(stdout)?.[0] ?? 'null') as { payment: string; amounts: { total: number; authorized: number } } | null;
    assert.ok(payment !== null, transcript);
    assert.equal(payment.payment, 'authorized', transcript);
    // Two Margheritas at 900.
    assert.deepEqual([payment.amounts.total, payment.amounts.authorized], [1800, 1800]);
    assert.match(stdout, /^saga [0-9a-f-]{36} \(payments\/payment\) of tenant [0-9a-f-]{36}/m, transcript);
    assert.match(stdout, /succeeded charge \(attempt 1\)/, transcript);
    assert.equal(stderr, '', transcript);
  });
});
