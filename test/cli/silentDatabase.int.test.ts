import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawnCli, type CliResult } from '../support/cli.ts';

/**
 * How long a command may run before it counts as hung (before the fix these ran for ever). Not a
 * timing: a loaded machine took over 15 s to start brigade at all.
 */
const HANG_MS = 60_000;

/** Runs brigade to its exit, or kills it (SIGKILL) after `ms`: a hang fails the test instead of holding it. */
async function runWithin(ms: number, args: readonly string[], env: Record<string, string>): Promise<CliResult & { readonly killed: boolean }> {
  const cli = spawnCli(args, env);
  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    cli.child.kill('SIGKILL');
  }, ms);
  try {
    return { ...(await cli.exited), killed };
  } finally {
    clearTimeout(timer);
  }
}

// A DATABASE_URL at a port that takes the connection and never answers (Redis's, a dead proxy) held
// brigade start, migrate, migrate status and the commands for ever, printing nothing: their
// connections had no time limit. One Ctrl+C did not stop start or migrate either (the migrator waited
// for its connection to open before it could cancel anything). A port that closes the connection at
// once (NATS's) got "Connection terminated unexpectedly", which named nothing and said nothing to do.
describe('a DATABASE_URL at a port where no PostgreSQL answers', () => {
  /** Takes connections and never writes a byte. */
  let silent: net.Server;
  /** Takes connections and closes them at once. */
  let closing: net.Server;
  /** Resets the connection (RST) once the client has written. */
  let resetting: net.Server;
  /** Answers a client's SSL request as a PostgreSQL without SSL does ('N'), then closes. */
  let noSsl: net.Server;
  const sockets = new Set<net.Socket>();
  const secret = 'x'.repeat(40);
  const portOf = (server: net.Server) => (server.address() as net.AddressInfo).port;
  const urlAt = (server: net.Server) => `postgres://postgres@127.0.0.1:${portOf(server)}/brigade`;

  before(async () => {
    silent = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => sockets.delete(socket));
    });
    closing = net.createServer((socket) => socket.destroy());
    resetting = net.createServer((socket) => {
      socket.on('error', () => undefined);
      socket.once('data', () => socket.resetAndDestroy());
    });
    noSsl = net.createServer((socket) => {
      socket.on('error', () => undefined);
      socket.once('data', () => socket.end('N'));
    });
    await Promise.all([silent, closing, resetting, noSsl].map((server) => new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))));
  });
  after(async () => {
    for (const socket of sockets) socket.destroy();
    await Promise.all([silent, closing, resetting, noSsl].map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  });

  const silentMessage = (command: string) =>
    new RegExp(
      `^brigade ${command}: no PostgreSQL answered at DATABASE_URL \\(127\\.0\\.0\\.1:\\d+\\) within 0\\.4 s: is that a PostgreSQL server's port, and is it up\\? Or unset DATABASE_URL to use the embedded PostgreSQL\\.$`,
      'm',
    );

  for (const args of [['start'], ['migrate'], ['migrate', 'status'], ['dlq', 'list']]) {
    test(`brigade ${args.join(' ')} gives up after DATABASE_ACQUIRE_TIMEOUT_MS and says where nothing answered`, async () => {
      const result = await runWithin(HANG_MS, args, { DATABASE_URL: urlAt(silent), DATABASE_ACQUIRE_TIMEOUT_MS: '400', BRIGADE_SECRET: secret, PORT: '0', PROVIDER_PORT: '0' });
      // Before: still running after 10 minutes, having printed nothing.
      assert.equal(result.killed, false, `still running after ${HANG_MS / 1000} s: ${result.stdout}${result.stderr}`);
      assert.equal(result.code, 1, result.stdout + result.stderr);
      assert.match(result.stderr, silentMessage(args[0] as string));
      assert.equal(result.stderr.split('\n').filter(Boolean).length, 1, result.stderr);
    });
  }

  test('one Ctrl+C while brigade start waits for the connection ends it at once (exit 130), naming brigade start to run again', async () => {
    // The default time limit (5 s): the signal, not the limit, must end it.
    const cli = spawnCli(['start'], { DATABASE_URL: urlAt(silent), BRIGADE_SECRET: secret, PORT: '0', PROVIDER_PORT: '0' });
    const before = sockets.size;
    while (sockets.size === before && !cli.gone()) await sleep(10);
    // Its signal handlers are installed before it connects; give the connect a moment to be under way.
    await sleep(200);
    const signalled = performance.now();
    cli.child.kill('SIGINT');
    const timer = setTimeout(() => cli.child.kill('SIGKILL'), 10_000);
    const result = await cli.exited.finally(() => clearTimeout(timer));
    // Before: still running 10 minutes later.
    assert.equal(result.code, 130, cli.output());
    // Promptly, not at the 5 s limit: a bound far above the time taken, so a loaded machine passes.
    assert.ok(performance.now() - signalled < 4500, `exited ${Math.round(performance.now() - signalled)} ms after the signal`);
    assert.match(result.stderr, /^brigade start: SIGINT during start-up: stopping the migrations/m);
    // Said of start, which the user ran: before, "run brigade migrate again".
    assert.match(result.stderr, /^brigade start: Migrating was interrupted by SIGINT while connecting: nothing was applied\. Nothing to fix: run brigade start again\.$/m);
  });

  for (const [how, server] of [
    ['closes', () => closing],
    ['resets', () => resetting],
  ] as const) {
    test(`brigade start: a port that ${how} the connection is named, with what to check`, async () => {
      const result = await runWithin(HANG_MS, ['start'], { DATABASE_URL: urlAt(server()), BRIGADE_SECRET: secret, PORT: '0', PROVIDER_PORT: '0' });
      assert.equal(result.code, 1, result.stdout + result.stderr);
      // Before: "brigade start: Connection terminated unexpectedly" (or "read ECONNRESET") and the stack-trace hint, no advice.
      assert.match(
        result.stderr,
        /^brigade start: PostgreSQL at DATABASE_URL \(127\.0\.0\.1:\d+\) closed the connection while connecting: is that a PostgreSQL server's port\? Or unset DATABASE_URL to use the embedded PostgreSQL\.$/m,
      );
    });
  }

  test("brigade migrate status: the driver's own refusal while connecting (no SSL where sslmode=require asks for it) is said in its words, not as a wrong port", async () => {
    const result = await runWithin(HANG_MS, ['migrate', 'status'], { DATABASE_URL: `${urlAt(noSsl)}?sslmode=require`, BRIGADE_SECRET: secret });
    assert.equal(result.code, 1, result.stdout + result.stderr);
    // Before (a cross-check of the connect messages): "closed the connection while connecting: is that a PostgreSQL server's port?".
    assert.match(result.stderr, /^brigade migrate: The server does not support SSL connections/m);
    assert.doesNotMatch(result.stderr, /closed the connection/);
  });
});
