import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createDatabases, databaseLabel } from '../../../src/platform/db/createDatabases.ts';

const DEDICATED = 'postgres://brand_a_owner:s3cret-pw@db-eu-1.example:6432/brand_a?sslmode=require';

test('a dedicated database has the same label in every process, whatever else each has met', async () => {
  // The server has a replica and a service database; the CLI has neither. Before, the server called
  // the first dedicated database db2 (its replica was db1's number) and the CLI db1.
  const server = createDatabases({
    url: 'postgres://app@main.example/brigade',
    replicaUrl: 'postgres://app@standby.example/brigade',
    serviceUrls: { ordering: 'postgres://app@orders.example/brigade' },
    poolSize: 1,
  });
  const cli = createDatabases({ url: 'postgres://app@main.example/brigade', poolSize: 1 });
  try {
    server.poolFor('ordering');
    server.poolForUrl('postgres://app@standby.example/brigade');
    server.poolForUrl('postgres://other@elsewhere.example/brand_b');
    const onServer = server.labelOf(server.poolForUrl(DEDICATED));
    const inCli = cli.labelOf(cli.poolForUrl(DEDICATED));
    assert.equal(onServer, inCli);
    assert.equal(onServer, databaseLabel(DEDICATED));
    assert.deepEqual(
      server.list().map((e) => e.label),
      ['main', 'ordering', 'replica', databaseLabel('postgres://other@elsewhere.example/brand_b'), databaseLabel(DEDICATED)],
    );
    assert.equal(server.labelOf(cli.poolFor('menu')), undefined, "another registry's pool has no label here");
  } finally {
    await Promise.all([server.close(), cli.close()]);
  }
});

test('the label comes from the host, port and database name only: never the user or password', () => {
  const label = databaseLabel(DEDICATED);
  assert.match(label, /^db-[0-9a-f]{8}$/);
  assert.equal(databaseLabel('postgres://someone-else:other-pw@db-eu-1.example:6432/brand_a'), label, 'user and password do not change it');
  assert.equal(databaseLabel('postgresql://DB-EU-1.example:6432/brand_a?application_name=x'), label, 'nor the scheme, the case of the host or other parameters');
  assert.notEqual(databaseLabel('postgres://db-eu-1.example:6432/brand_b'), label, 'another database');
  assert.notEqual(databaseLabel('postgres://db-eu-1.example/brand_a'), label, 'another port (5432)');
  assert.equal(databaseLabel('postgres://db-eu-1.example/brand_a'), databaseLabel('postgres://db-eu-1.example:5432/brand_a'), 'the default port is 5432');
  assert.notEqual(databaseLabel('postgres://db-eu-2.example:6432/brand_a'), label, 'another host');
  assert.equal(databaseLabel('postgres://u@x/brand_a?host=/run/postgresql'), databaseLabel('/run/postgresql brand_a'), "pg's socket forms");
});
