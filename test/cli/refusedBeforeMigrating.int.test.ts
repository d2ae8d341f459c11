import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { freePort } from '../../src/platform/db/localPorts.ts';
import { runCli } from '../support/cli.ts';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';

/** A port something listens on, for the cases of a port in use. */
let taken: net.Server;
let busyPort: number;
before(async () => {
  taken = net.createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  busyPort = (taken.address() as net.AddressInfo).port;
});
after(() => new Promise<void>((resolve) => taken.close(() => resolve())));

// What start-up would refuse anyway (a DATABASE_POOL_SIZE the process would exhaust, a PORT or PROVIDER_PORT already in
// use, a NATS_URL nobody answers at) is refused before anything is done: no migration applied, no
// payment provider started. brigade start used to migrate the database and start the provider first,
// then refuse; demo checked the port and NATS only after migrating.
describe('brigade start and demo refuse a bad setting before they migrate or start anything', () => {
  /** The schemas of `database` besides PostgreSQL's own: none while nothing was migrated. */
  const madeSchemas = async (database: TestDatabase) => {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      const schemas = await client.query<{ nspname: string }>(`select nspname from pg_namespace where nspname not in ('public', 'information_schema') and nspname not like 'pg\\_%' order by 1`);
      return schemas.rows.map((r) => r.nspname);
    } finally {
      await client.end();
    }
  };

  const cases: Array<{ name: string; env: () => Promise<Record<string, string>>; says: RegExp; never?: RegExp; commands: string[][] }> = [
    // Found by a review of the contracts: start read these only once the database was migrated, one per
    // run, named by a flag (`--latency-ms`) it does not take. Listed together with the platform's own.
    {
      name: 'PROVIDER_* variables of the stand-in provider out of range, with a bad variable of the platform',
      env: async () => ({ PORT: '0', PROVIDER_LATENCY_MS: 'abc', PROVIDER_ERROR_RATE: '2', PROVIDER_DECLINE_CARD: '42', LOG_LEVEL: 'loud' }),
      says:
        /Invalid configuration:\n {2}LOG_LEVEL: expected one of [^\n]+\n {2}PROVIDER_LATENCY_MS: expected an integer from 0 to 600000, got "abc"\n {2}PROVIDER_ERROR_RATE: expected a number from 0 to 1, got "2"\n {2}PROVIDER_DECLINE_CARD: expected 12 to 19 digits or 'none', got "42"\nSet these variables/,
      never: /--latency-ms|--error-rate|--decline-card/,
      commands: [['start'], ['demo', '--orders', '1']],
    },
    {
      name: 'a PROVIDER_LATENCY_MS that is not a number, alone',
      env: async () => ({ PORT: '0', PROVIDER_LATENCY_MS: 'abc' }),
      says: /Invalid configuration:\n {2}PROVIDER_LATENCY_MS: expected an integer from 0 to 600000, got "abc"\nSet these variables/,
      never: /--latency-ms/,
      commands: [['start']],
    },
    {
      name: 'a DATABASE_POOL_SIZE below what it keeps',
      env: async () => ({ PORT: '0', DATABASE_POOL_SIZE: '5' }),
      says: /Invalid configuration:\n {2}DATABASE_POOL_SIZE: expected at least \d+/,
      commands: [['start']],
    },
    {
      name: 'a PORT in use',
      env: async () => ({ PORT: String(busyPort), PROVIDER_PORT: '0' }),
      says: /the HTTP API cannot listen on 127\.0\.0\.1:\d+ \(PORT\): the port is already in use/,
      commands: [['start'], ['demo', '--orders', '1']],
    },
    {
      name: 'a PROVIDER_PORT in use',
      env: async () => ({ PORT: '0', PROVIDER_PORT: String(busyPort) }),
      says: /the stand-in payment provider cannot listen on 127\.0\.0\.1:\d+ \(PROVIDER_PORT, default PORT \+ 1\): the port is already in use/,
      commands: [['start'], ['demo', '--orders', '1']],
    },
    {
      name: 'a NATS_URL nobody answers at',
      env: async () => ({ PORT: '0', NATS_URL: `nats://127.0.0.1:${await freePort()}` }),
      says: /NATS is not reachable at nats:\/\/127\.0\.0\.1:\d+: start it \(nats-server -js\), or unset NATS_URL to use the PostgreSQL bus/,
      commands: [['start'], ['demo', '--orders', '1']],
    },
  ];
  for (const c of cases) {
    for (const command of c.commands) {
      test(`brigade ${command.join(' ')}: ${c.name}`, async () => {
        // Empty, and its own: what the command migrated would show in it.
        const database = await createTestDatabase({ empty: true });
        try {
          const result = await runCli(command, { DATABASE_URL: database.url, BRIGADE_SECRET: 'x'.repeat(40), ...(await c.env()) });
          const output = result.stdout + result.stderr;
          assert.equal(result.code, 1, output);
          assert.match(result.stderr, c.says);
          assert.doesNotMatch(output, /applied |nothing to apply|payment provider at|Brigade is up/);
          if (c.never !== undefined) assert.doesNotMatch(output, c.never);
          assert.deepEqual(await madeSchemas(database), [], output);
        } finally {
          await database.drop();
        }
      });
    }
  }
});

// serve and worker open no database before the same checks: with a database nobody answers at, the
// setting is what they name (they used to try the database first, and an embedded one was started).
describe('brigade serve and worker refuse a bad setting before they open the database', () => {
  const cases: Array<{ name: string; env: () => Promise<Record<string, string>>; says: RegExp; commands: string[][] }> = [
    { name: 'a PORT in use', env: async () => ({ PORT: String(busyPort) }), says: /the HTTP API cannot listen on 127\.0\.0\.1:\d+ \(PORT\): the port is already in use/, commands: [['serve']] },
    {
      name: 'a NATS_URL nobody answers at',
      env: async () => ({ PORT: '0', NATS_URL: `nats://127.0.0.1:${await freePort()}` }),
      says: /NATS is not reachable at nats:\/\/127\.0\.0\.1:\d+/,
      // Not serve: it runs no workers, and comes up without the broker (test/cli/serve.int.test.ts).
      commands: [['worker']],
    },
    { name: 'a DATABASE_POOL_SIZE below what it keeps', env: async () => ({ PORT: '0', DATABASE_POOL_SIZE: '3' }), says: /DATABASE_POOL_SIZE: expected at least \d+/, commands: [['worker']] },
  ];
  for (const c of cases) {
    for (const command of c.commands) {
      test(`brigade ${command.join(' ')}: ${c.name}`, async () => {
        const nobody = `postgres://postgres@127.0.0.1:${await freePort()}/brigade`;
        const result = await runCli(command, { DATABASE_URL: nobody, BRIGADE_SECRET: 'x'.repeat(40), ...(await c.env()) });
        assert.equal(result.code, 1, result.stdout + result.stderr);
        assert.match(result.stderr, c.says);
      });
    }
  }
});
