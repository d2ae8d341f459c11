import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { databaseLabel } from '../../src/platform/db/createDatabases.ts';
import { freePort } from '../../src/platform/db/localPorts.ts';
import { runMain } from '../support/cli.ts';
import { createTestDatabase, useTestDatabase, type TestDatabase } from '../support/db.ts';
import { newBrigadeHome, serveBrigade } from '../support/embeddedHome.ts';

// Decision 0008: one restaurant's database must not take the platform down. A restaurant placed in a
// database that does not answer (its placement points at a closed port) is named by its label, address
// and restaurant, never by DATABASE_URL's advice, and every other database is still migrated, read and
// served: brigade migrate migrates the others and creates the subscriptions, then exits 1 naming it;
// status lists it as not read; verify exits 1; brigade start comes up and serves the other restaurants.
describe('a restaurant whose own database does not answer', () => {
  const shared = useTestDatabase();
  /** A dedicated database that answers, placed after the unreachable one (the catalog is read in URL order). */
  let reachable: TestDatabase;
  let pool: pg.Pool;
  let reachablePool: pg.Pool;
  const env = () => ({ DATABASE_URL: shared.db.url, BRIGADE_SECRET: 'x'.repeat(40) });
  const run = (...args: string[]) => runMain(args, env());
  const rid = { gone: '', placed: '', stayed: '' };
  let goneUrl = '';
  let gone = '';
  let address = '';

  before(async () => {
    pool = shared.pool(2);
    reachable = await createTestDatabase({ empty: true });
    reachablePool = new pg.Pool({ connectionString: reachable.url, max: 1 });
    const add = async (name: string) => {
      const added = await run('tenants', 'add', name, '--city', 'Braga');
      assert.equal(added.code, 0, added.stderr);
      return /created restaurant ([0-9a-f-]{36})/.exec(added.stdout)![1]!;
    };
    rid.gone = await add('Gone Tasca');
    rid.placed = await add('Placed Tasca');
    rid.stayed = await add('Stayed Tasca');
    // Nothing listens there; `app` sorts it before the reachable database's `postgres` user.
    const port = await freePort();
    goneUrl = `postgres://app:s3cret-pw@127.0.0.1:${port}/gone_db`;
    gone = databaseLabel(goneUrl);
    address = `127.0.0.1:${port}/gone_db`;
    await pool.query(`insert into platform.tenant_placements (tenant_id, database_url) values ($1, $2), ($3, $4)`, [rid.gone, goneUrl, rid.placed, reachable.url]);
  });
  after(async () => {
    await reachablePool?.end();
    await reachable?.drop();
  });

  /** The line that names the unreachable database: label, address, restaurant, what to do. */
  const namesIt = (text: string, what: string) => {
    assert.ok(
      text.includes(`${what} database ${gone} (${address}), which holds restaurant "Gone Tasca" (${rid.gone}): connect ECONNREFUSED 127.0.0.1:`),
      `names the database, its address and restaurant:\n${text}`,
    );
    assert.match(text, /correct its row in platform\.tenant_placements/);
    assert.ok(!text.includes('s3cret-pw') && !text.includes('app:'), `no user or password in the output:\n${text}`);
    assert.ok(!text.includes('DATABASE_URL'), `the advice is not DATABASE_URL's:\n${text}`);
  };
  const appliedIn = async (p: pg.Pool) => Number((await p.query<{ n: string }>(`select count(*) as n from brigade_meta.schema_migrations`)).rows[0]?.n);

  test('brigade migrate migrates every other database, creates the subscriptions, and exits 1 naming it', async () => {
    const migrated = await run('migrate');
    assert.equal(migrated.code, 1, migrated.stdout + migrated.stderr);
    namesIt(migrated.stderr, 'could not migrate');
    assert.match(migrated.stderr, new RegExp(`^brigade migrate: 1 restaurant database\\(s\\) not migrated: ${gone} \\(${address}\\), which holds restaurant "Gone Tasca"`, 'm'));
    assert.match(migrated.stderr, /Every other database is migrated\./);
    // The dedicated database after it was migrated, and the subscriptions created.
    assert.match(migrated.stdout, new RegExp(`database ${databaseLabel(reachable.url)} \\(a restaurant's own, placement catalog\\):\\n(\\[\\d+/\\d+\\] applied .*\\n)+applied \\d+ migration\\(s\\)`), migrated.stdout);
    assert.ok((await appliedIn(reachablePool)) > 0);
    assert.match(migrated.stdout, /^subscriptions on the PostgreSQL bus: \S+/m);
  });

  test('brigade migrate status lists it as not read, and the other databases, with exit 0', async () => {
    const status = await run('migrate', 'status');
    assert.equal(status.code, 0, status.stdout + status.stderr);
    const title = `database ${gone} (a restaurant's own, placement catalog):`;
    const lines = status.stdout.split('\n');
    assert.ok(lines.includes(title), status.stdout);
    namesIt(lines[lines.indexOf(title) + 1] ?? '', 'could not read');
    // Both databases that answer are listed in full.
    assert.equal(lines.filter((l) => /^\d+ applied, 0 pending$/.test(l)).length, 2, status.stdout);
  });

  test('brigade migrate verify verifies the others and exits 1: it could not verify that one', async () => {
    const verified = await run('migrate', 'verify');
    assert.equal(verified.code, 1, verified.stdout + verified.stderr);
    namesIt(verified.stderr, 'could not verify');
    assert.equal(verified.stdout.split('\n').filter((l) => /^verified: \d+ applied file\(s\) match their checksums$/.test(l)).length, 2, verified.stdout);
  });

  test('brigade start comes up, says which database it starts without, and serves the other restaurants', async () => {
    const { home, cleanUp } = await newBrigadeHome('brigade-start-unreachable-');
    try {
      const started = await serveBrigade(['start'], { ...env(), BRIGADE_HOME: home, PORT: '0' });
      try {
        namesIt(started.output(), 'could not migrate');
        assert.match(started.output(), new RegExp(`^warning: starting without restaurant database ${gone} \\(${address}\\), which holds restaurant "Gone Tasca" \\(${rid.gone}\\)`, 'm'));
        const menu = (id: string) => fetch(`${started.base}/v1/restaurants/${id}/menu`);
        for (const id of [rid.stayed, rid.placed]) {
          const answer = await menu(id);
          assert.equal(answer.status, 200, `${id}: ${await answer.text()}\n${started.output()}`);
        }
        // Its requests fail; which 5xx is the router's business (DATABASE_UNAVAILABLE).
        assert.ok((await menu(rid.gone)).status >= 500);
        const ready = await fetch(`${started.base}/health/ready`);
        assert.equal(ready.status, 200, await ready.clone().text());
        assert.equal(((await ready.json()) as { checks: Record<string, { ok: boolean }> }).checks[`database:${gone}`]?.ok, false);
        assert.equal(await started.stop('SIGTERM'), 0, started.output());
      } finally {
        started.child.kill('SIGKILL');
      }
    } finally {
      await cleanUp();
    }
  });

  test("the main database not answering is still fatal, with DATABASE_URL's advice; a service's own names its variable", async () => {
    const closed = `postgres://postgres@127.0.0.1:${await freePort()}/nowhere`;
    const main = await runMain(['migrate'], { ...env(), DATABASE_URL: closed });
    assert.equal(main.code, 1);
    assert.match(main.stderr, /^brigade migrate: connect ECONNREFUSED 127\.0\.0\.1:\d+\nIs PostgreSQL running at DATABASE_URL\? Unset DATABASE_URL to use the embedded one\./);
    const menu = await runMain(['migrate'], { ...env(), MENU_DATABASE_URL: closed });
    assert.equal(menu.code, 1);
    assert.match(menu.stderr, /^brigade migrate: connect ECONNREFUSED 127\.0\.0\.1:\d+\nIs PostgreSQL running at MENU_DATABASE_URL\?\n/);
  });
});
