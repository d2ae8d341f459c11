import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { migrationSets, SERVICE_NAMES } from '../../src/composition/services.ts';
import { runMigrations } from '../../src/platform/migrations/index.ts';
import { ensureProviderSchema } from '../../src/services/payments/provider/index.ts';
import { runMain } from '../support/cli.ts';
import { adminQuery, createOwnerRole, urlFor, useTestDatabase } from '../support/db.ts';
import { restaurantRows } from '../support/restaurantRows.ts';

/**
 * runMain: the command listens for SIGINT and SIGTERM while it moves; the listeners it adds go with the
 * suite (registered in the calling describe).
 */
function dropSignalListenersAfter(): void {
  const listeners = { SIGINT: [] as unknown[], SIGTERM: [] as unknown[] };
  before(() => {
    listeners.SIGINT = process.listeners('SIGINT');
    listeners.SIGTERM = process.listeners('SIGTERM');
  });
  after(() => {
    for (const name of ['SIGINT', 'SIGTERM'] as const) {
      for (const l of process.listeners(name)) if (!listeners[name].includes(l)) process.off(name, l);
    }
  });
}

// `brigade tenants move` pointed at a database it cannot reach or enter (decision 0008): said of the
// target, never as the DATABASE_URL advice that main gives a failure to reach the shared database.
describe('brigade tenants move: a target that cannot be reached or entered', () => {
  const shared = useTestDatabase();
  let admin: pg.Pool;
  const env = () => ({ DATABASE_URL: shared.db.url, BRIGADE_SECRET: 'x'.repeat(40) });
  const { addRestaurant, staffRows, placed } = restaurantRows(() => admin);

  dropSignalListenersAfter();
  before(() => {
    admin = shared.pool(2);
  });

  test('is said as the target database, with what to do and its password hidden, never as advice about DATABASE_URL', async () => {
    const rid = await addRestaurant('Unreachable');
    const refused = await runMain(['tenants', 'move', rid, '--to-database', 'postgres://postgres:s3cret@127.0.0.1:1/nowhere'], env());
    assert.equal(refused.code, 1, refused.stdout + refused.stderr);
    assert.match(
      refused.stderr,
      /^brigade tenants: Cannot connect to the target database \(--to-database postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:1\/nowhere\): connect ECONNREFUSED 127\.0\.0\.1:1; is PostgreSQL running there\? Check the host and port\. Nothing moved$/,
    );
    assert.doesNotMatch(refused.stderr + refused.stdout, /DATABASE_URL|s3cret/);

    const missing = `brigade_missing_${randomUUID().slice(0, 8)}`;
    const absent = await runMain(['tenants', 'move', rid, '--to-database', urlFor(missing)], env());
    assert.equal(absent.code, 1, absent.stdout + absent.stderr);
    assert.match(absent.stderr, new RegExp(`^brigade tenants: Cannot connect to the target database \\(--to-database .*/${missing}\\): database "${missing}" does not exist; create it \\(psql -c 'create database <name>'\\), empty, or check its name\\. Nothing moved$`));
    assert.doesNotMatch(absent.stderr, /DATABASE_URL/);
    assert.equal(await staffRows(rid), 3);
    assert.equal(await placed(rid), 0);
  });

  test('--fence-timeout is a number of seconds above 0, at most 3600: anything else is bad usage, said before any database is opened', async () => {
    for (const given of ['0', '-1', 'soon', ' ', '3601']) {
      const bad = await runMain(['tenants', 'move', randomUUID(), '--to-database', 'postgres://postgres@127.0.0.1:1/nowhere', `--fence-timeout=${given}`], env());
      assert.equal(bad.code, 2, `${JSON.stringify(given)}: ${bad.stderr}`);
      assert.match(bad.stderr, /--fence-timeout must be a number of seconds above 0, at most 3600/);
    }
    const elsewhere = await runMain(['tenants', 'list', '--fence-timeout', '5'], env());
    assert.equal(elsewhere.code, 2, elsewhere.stderr);
    assert.match(elsewhere.stderr, /--fence-timeout goes with brigade tenants move/);
  });
});

// Found by a review: after brigade start or demo, whose stand-in payment provider keeps its tables in
// schema payment_provider of the shared database, a move pointed at the shared database itself was told
// the database "is that of another application" (the check of what it holds came first), not that it
// is the source.
describe('brigade tenants move --to-database the shared database itself, with the stand-in provider\'s schema in it', () => {
  const shared = useTestDatabase();
  const env = () => ({ DATABASE_URL: shared.db.url, BRIGADE_SECRET: 'x'.repeat(40) });
  let admin: pg.Pool;
  const { addRestaurant, staffRows, placed } = restaurantRows(() => admin);
  dropSignalListenersAfter();
  before(async () => {
    admin = shared.pool(2);
    // What brigade start and brigade demo leave there: the provider's schema.
    await ensureProviderSchema(admin);
  });

  test('is refused as the source (TENANT_TARGET_IS_SOURCE), not as another application\'s database; nothing moved', async () => {
    const rid = await addRestaurant('Same Place');
    for (const url of [shared.db.url, `${shared.db.url}?application_name=same-database`]) {
      const refused = await runMain(['tenants', 'move', rid, '--to-database', url], env());
      assert.equal(refused.code, 1, refused.stdout + refused.stderr);
      assert.match(refused.stderr, /^brigade tenants: The target is the shared database itself; create a new, empty database and move the tenant there$/m, refused.stderr);
      assert.doesNotMatch(refused.stderr, /another application|not Brigade's/);
    }
    assert.equal(await staffRows(rid), 3);
    assert.equal(await placed(rid), 0);
  });
});

// Found by a review: the check told the shared database by the target session's backend start in
// pg_stat_activity, which PostgreSQL shows as NULL to a role without the other role's privileges. A
// shared database owned by a BYPASSRLS role that is no superuser (decision 0008), named in
// --to-database with another login role that is a member of the owner, passed the check, and the move
// "succeeded": it cleared the live rows as an earlier copy, copied them back, deleted them as moved, and
// left the restaurant with no rows anywhere (with no other restaurant there to trip TENANT_TARGET_IN_USE).
describe('brigade tenants move --to-database the shared database under another login role, one restaurant in it', () => {
  dropSignalListenersAfter();

  test('is refused as the source (TENANT_TARGET_IS_SOURCE): the other role cannot see the owner\'s sessions in pg_stat_activity, nor the owner its; nothing moved', async () => {
    const owner = await createOwnerRole(
      SERVICE_NAMES.map((s) => `brigade_${s}`),
      { bypassRls: true },
    );
    // Not brigade_…: roles are the cluster's (see createOwnerRole). A member of the owner, as an ops
    // role would be, with BYPASSRLS and neither superuser nor pg_read_all_stats.
    const other = `test_other_${randomBytes(4).toString('hex')}`;
    const password = randomBytes(12).toString('hex');
    try {
      const shared = await owner.createDatabase();
      await runMigrations({ url: shared.url, sets: migrationSets() });
      await adminQuery(`create role "${other}" login password '${password}' nosuperuser bypassrls in role "${owner.name}"`);
      const asOther = new URL(shared.url);
      asOther.username = other;
      asOther.password = password;
      const admin = new pg.Pool({ connectionString: urlFor(shared.name), max: 2 });
      try {
        const { addRestaurant, staffRows, placed } = restaurantRows(() => admin);
        const rid = await addRestaurant('Two Logins');
        const refused = await runMain(['tenants', 'move', rid, '--to-database', asOther.toString()], { DATABASE_URL: shared.url, BRIGADE_SECRET: 'x'.repeat(40) });
        assert.equal(refused.code, 1, refused.stdout + refused.stderr);
        assert.match(refused.stderr, /^brigade tenants: The target is the shared database itself; create a new, empty database and move the tenant there$/m, refused.stderr);
        assert.equal(await staffRows(rid), 3, 'the restaurant keeps its rows');
        assert.equal(await placed(rid), 0, 'and is placed nowhere else');
      } finally {
        await admin.end();
      }
    } finally {
      await owner.drop();
      await adminQuery(`drop role if exists "${other}"`);
    }
  });
});
