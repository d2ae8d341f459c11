import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../support/cli.ts';
import { useTestDatabase } from '../support/db.ts';

describe('a port already in use is named, with the variable that moves it', () => {
  const database = useTestDatabase();
  let taken: net.Server;
  let port: number;
  before(async () => {
    // A plain server holds the port, as another `brigade start` would.
    taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    port = (taken.address() as net.AddressInfo).port;
  });
  after(() => new Promise<void>((resolve) => taken.close(() => resolve())));

  test('brigade demo: the stand-in payment provider on PROVIDER_PORT', async () => {
    const result = await runCli(['demo', '--orders', '1'], { DATABASE_URL: database.db.url, PORT: '0', PROVIDER_PORT: String(port) });
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.match(result.stderr, new RegExp(`the stand-in payment provider cannot listen on 127\\.0\\.0\\.1:${port} \\(PROVIDER_PORT, default PORT \\+ 1\\): the port is already in use, perhaps by another brigade`));
    assert.match(result.stderr, /set PROVIDER_PORT to a free port/);
    assert.doesNotMatch(result.stderr, /EADDRINUSE/);
  });

  test('brigade demo: the HTTP API on PORT', async () => {
    const result = await runCli(['demo', '--orders', '1'], { DATABASE_URL: database.db.url, PORT: String(port), PROVIDER_PORT: '0' });
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.match(result.stderr, new RegExp(`the HTTP API cannot listen on 127\\.0\\.0\\.1:${port} \\(PORT\\): the port is already in use, perhaps by another brigade \\(start or demo\\) still running\\. Stop it, or set PORT to a free port\\.`));
  });

  test('brigade start and demo: the HTTP API on PORT is checked first, so a second brigade on the same ports is told about PORT, not about the provider\'s port beside it', async () => {
    // The provider's port is taken too, as by the first brigade's provider.
    const providers = net.createServer();
    await new Promise<void>((resolve) => providers.listen(0, '127.0.0.1', resolve));
    const providerPort = (providers.address() as net.AddressInfo).port;
    try {
      for (const command of [['start'], ['demo', '--orders', '1']]) {
        const result = await runCli(command, { DATABASE_URL: database.db.url, PORT: String(port), PROVIDER_PORT: String(providerPort) });
        assert.equal(result.code, 1, result.stdout + result.stderr);
        assert.match(result.stderr, new RegExp(`the HTTP API cannot listen on 127\\.0\\.0\\.1:${port} \\(PORT\\)`), command.join(' '));
        assert.doesNotMatch(result.stderr + result.stdout, /stand-in payment provider cannot listen|\bready in \d|Brigade is up/, command.join(' '));
      }
    } finally {
      await new Promise<void>((resolve) => providers.close(() => resolve()));
    }
  });

  test('brigade serve: the HTTP API on PORT', async () => {
    const result = await runCli(['serve'], { DATABASE_URL: database.db.url, PORT: String(port) });
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.match(result.stderr, new RegExp(`the HTTP API cannot listen on 127\\.0\\.0\\.1:${port} \\(PORT\\).*set PORT to a free port`));
  });
});
