import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { createPlatform } from '../../src/composition/runtime.ts';
import { migrationSets, MOVING_SCHEMAS, SERVICE_NAMES } from '../../src/composition/services.ts';
import { loadConfig } from '../../src/platform/config/index.ts';
import { databaseLabel } from '../../src/platform/db/createDatabases.ts';
import { unitOfWork } from '../../src/platform/db/index.ts';
import { createSagaRegistry, defineSaga, startSaga } from '../../src/platform/sagas/index.ts';
import { moveTenant } from '../../src/platform/tenancy/index.ts';
import { brigadeBin, repoRoot, runMain } from '../support/cli.ts';
import { createTestDatabase, useTestDatabase, type TestDatabase } from '../support/db.ts';
import { eventually } from '../support/eventually.ts';
import { append, event, newOrder, placed, viewRows } from '../services/ordering/views/support.ts';

const SYSTEM = { kind: 'system', id: 'test' } as const;
/**
 * The payments set's last migration, which the upgrade tests forget in the dedicated database to play a
 * release's new one (it has to be the last, or the set reads as out of order, and it has to be safe to
 * run again: it only revokes and grants privileges, which leaves the same grants however often it runs).
 */
const NEWEST_PAYMENTS_MIGRATION = '0023_saga_runnable_by_type.sql';
const newestOnDisk = async () => (await fs.readdir(path.join(repoRoot, 'src/services/payments/migrations'))).filter((f) => f.endsWith('.sql')).sort().at(-1);
const registry = createSagaRegistry({ schema: 'payments', sagas: [defineSaga({ name: 'probe', initialState: {}, start: () => ({ state: {} }), steps: {}, on: {} })] });

// Decision 0008: after 'brigade tenants move', a restaurant's events, view rows, projection checkpoints
// and sagas are in its dedicated database. The commands that read them without a tenant look in the
// shared database and in each dedicated one of the placement catalog, and name each by its pool's label
// (`db-` and 8 hex digits of its host, port and name, the same in every process), never by its
// connection string.
describe('brigade projections and brigade sagas after a restaurant moved to its own database', () => {
  const shared = useTestDatabase();
  let target: TestDatabase;
  let pool: pg.Pool;
  let targetPool: pg.Pool;
  const env = () => ({ DATABASE_URL: shared.db.url, BRIGADE_SECRET: 'x'.repeat(40) });
  const run = (...args: string[]) => runMain(args, env());
  const ids = { movedParked: randomUUID(), movedFailed: randomUUID(), stayed: randomUUID() };
  let movedRid = '';
  /** The dedicated database's label. */
  let db1 = '';
  let stayedRid = '';
  /** A staff member of the moved restaurant: their row moved with it. */
  let movedStaff = '';

  before(async () => {
    pool = shared.pool(4);
    target = await createTestDatabase({ empty: true });
    const add = async (name: string) => {
      const added = await run('tenants', 'add', name, '--city', 'Porto');
      assert.equal(added.code, 0, added.stderr);
      return /created restaurant ([0-9a-f-]{36})/.exec(added.stdout)![1]!;
    };
    movedRid = await add('Moved Pizzeria');
    stayedRid = await add('Stayed Pizzeria');
    // An order of each: two events of the moving restaurant, one of the staying one.
    const moving = newOrder(movedRid);
    await append(pool, moving, [placed(moving), event(moving, 'OrderAccepted', { etaMinutes: 5 })]);
    const staying = newOrder(stayedRid);
    await append(pool, staying, [placed(staying)]);
    // Sagas of each; the moving restaurant's waiting for a person, one parked and one failed.
    const start = (tenantId: string, id: string) => unitOfWork(pool, { service: 'payments', tenantId, actor: SYSTEM }, (tx) => startSaga(tx, registry, { name: 'probe', id, input: {} }));
    await start(movedRid, ids.movedParked);
    await start(movedRid, ids.movedFailed);
    await start(stayedRid, ids.stayed);
    await pool.query(`update payments.saga_instances set status = 'parked', error = 'probe: ask the restaurant' where id = $1`, [ids.movedParked]);
    await pool.query(`update payments.saga_instances set status = 'failed', error = 'probe: refund failed' where id = $1`, [ids.movedFailed]);

    movedStaff = (await pool.query<{ id: string }>(`insert into platform.staff (tenant_id, name, email) values ($1, 'Ana', 'ana@example.com') returning id`, [movedRid])).rows[0]!.id;

    await moveTenant({ tenantId: movedRid, sourceUrl: shared.db.url, targetUrl: target.url, sets: migrationSets(), schemas: MOVING_SCHEMAS });
    targetPool = new pg.Pool({ connectionString: target.url, max: 2 });
    db1 = databaseLabel(target.url);
    assert.match(db1, /^db-[0-9a-f]{8}$/);
  });
  after(async () => {
    await targetPool?.end();
    await target?.drop();
  });

  /** No output names the dedicated database by its connection string (it may hold a password). */
  const noUrl = (text: string) => {
    assert.ok(!text.includes(target.url) && !text.includes(target.name), `the connection string stays out of the output:\n${text}`);
  };

  test("projections status shows each projection once per database, the moved restaurant's lag in its database", async () => {
    // [lag events, database] of each projection's rows: the staying order's one event in main, the moved
    // one's two in its database. The lag counts events below the cluster's oldest running transaction
    // (what a projector could read now), so another test file's open transaction can hold it at 0 for a
    // moment: ask again until it shows (it delays, never skips).
    const lags = (stdout: string) =>
      ['board', 'customer-orders', 'courier-tasks'].map((name) =>
        stdout
          .split('\n')
          .filter((l) => l.startsWith(`${name} `))
          .map((l) => l.split(/\s{2,}/))
          .map((c) => [c[2], c[5]]),
      );
    const expected = [['1', 'main'], ['2', db1]];
    const status = await eventually('the lag of both databases', () => run('projections', 'status'), (s) => s.code !== 0 || lags(s.stdout).every((rows) => JSON.stringify(rows) === JSON.stringify(expected)), 60_000);
    assert.equal(status.code, 0, status.stderr);
    noUrl(status.stdout);
    assert.match(status.stdout.split('\n')[0]!, /^projection\s+position\s+lag events\s+lag s\s+applied\s+database\s+leader$/);
    for (const rows of lags(status.stdout)) assert.deepEqual(rows, expected, status.stdout);
  });

  test('tenants list names the moved restaurant\'s database by the label the other commands use, with its redacted URL (before: the URL only)', async () => {
    const listed = await run('tenants', 'list');
    assert.equal(listed.code, 0, listed.stderr);
    const line = (rid: string) => listed.stdout.split('\n').find((l) => l.startsWith(rid)) ?? '';
    assert.match(line(movedRid), new RegExp(`  dedicated ${db1} \\(postgres://[^)]*/${target.name}\\)$`), listed.stdout);
    assert.match(line(stayedRid), / {2}shared$/, listed.stdout);
  });

  test('token revoke finds the moved restaurant\'s staff member in its database: no "No staff has the id" (before: it said so, and to check the spelling)', async () => {
    const revoked = await run('token', 'revoke', '--role', 'staff', '--subject', movedStaff);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.match(revoked.stdout, new RegExp(`^revoked the staff tokens of ${movedStaff} `, 'm'));
    assert.doesNotMatch(revoked.stdout, /No staff has the id/);
    const nobody = await run('token', 'revoke', '--role', 'staff', '--subject', randomUUID());
    assert.equal(nobody.code, 0, nobody.stderr);
    assert.match(nobody.stdout, /No staff has the id .*check the spelling/, 'an id in no database is still unmatched');
    noUrl(`${revoked.stdout}${revoked.stderr}`);
  });

  test('projections rebuild rebuilds in every database, one after the other, naming each', async () => {
    const rebuilt = await run('projections', 'rebuild', 'board');
    assert.equal(rebuilt.code, 0, rebuilt.stderr);
    noUrl(rebuilt.stdout);
    const lines = rebuilt.stdout.split('\n');
    assert.deepEqual(
      lines.filter((l) => /^rebuil(ding|t) /.test(l)).map((l) => l.replace(/ in [\d.]+ s .* swapped in at \S+/, ' …')),
      [
        'rebuilding board (ordering.board_view) in database main …',
        'rebuilt board: 1 events → 1 rows … in database main',
        `rebuilding board (ordering.board_view) in database ${db1} …`,
        `rebuilt board: 2 events → 1 rows … in database ${db1}`,
      ],
    );
    assert.deepEqual((await viewRows(targetPool, 'board_view')).map((r) => [r.tenant_id, r.status]), [[movedRid, 'accepted']]);
    assert.deepEqual((await viewRows(pool, 'board_view')).map((r) => [r.tenant_id, r.status]), [[stayedRid, 'placed']]);
    const status = await run('projections', 'status');
    assert.match(status.stdout, new RegExp(`^board\\s+\\S+\\s+0\\s+0\\.0\\s+\\d+\\s+${db1}\\s+none`, 'm'), 'the rebuilt view is at the head of the dedicated database');
  });

  test("sagas list and show find the moved restaurant's sagas in its database", async () => {
    const listed = await run('sagas', 'list', '--json');
    assert.equal(listed.code, 0, listed.stderr);
    const rows = JSON.parse(listed.stdout) as Array<{ id: string; tenantId: string; database: string; status: string }>;
    assert.deepEqual(
      rows.map((r) => [r.id, r.tenantId, r.database, r.status]).sort(),
      [
        [ids.movedParked, movedRid, db1, 'parked'],
        [ids.movedFailed, movedRid, db1, 'failed'],
        [ids.stayed, stayedRid, 'main', 'running'],
      ].sort(),
    );
    const stuck = await run('sagas', 'list', '--stuck');
    assert.equal(stuck.code, 0, stuck.stderr);
    noUrl(stuck.stdout);
    assert.match(stuck.stdout, new RegExp(`^${ids.movedFailed}  payments/probe +failed +- +\\S+  ${db1}$`, 'm'));
    assert.match(stuck.stdout, /2 saga\(s\) need attention/);

    const shown = await run('sagas', 'show', ids.movedParked);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, new RegExp(`^saga ${ids.movedParked} \\(payments/probe\\) of tenant ${movedRid}, in database ${db1}\\n {2}status {5}parked`));
  });

  test('sagas list --stuck over both databases: the moved restaurant\'s failed and parked sagas come before a running one of the shared database that changed since, and a cut says so (before: the running one first, the cut unsaid)', async () => {
    // The staying restaurant's saga has waited for an event for 20 minutes; the moved ones were parked and failed an hour ago.
    await pool.query(`update payments.saga_instances set updated_at = now() - interval '20 minutes' where id = $1`, [ids.stayed]);
    await targetPool.query(`update payments.saga_instances set updated_at = now() - interval '1 hour' where id = any($1::uuid[])`, [[ids.movedParked, ids.movedFailed]]);
    const listedIds = (stdout: string) => stdout.split('\n').filter((l) => /^[0-9a-f-]{36} {2}/.test(l)).map((l) => l.slice(0, 36));
    const cut = await run('sagas', 'list', '--stuck', '--limit', '2');
    assert.equal(cut.code, 0, cut.stderr);
    assert.deepEqual(listedIds(cut.stdout).sort(), [ids.movedParked, ids.movedFailed].sort(), cut.stdout);
    assert.match(cut.stdout, /^… and more: the list was cut at 2; /m);
    const whole = await run('sagas', 'list', '--stuck');
    assert.equal(whole.code, 0, whole.stderr);
    assert.equal(listedIds(whole.stdout).at(-1), ids.stayed, whole.stdout);
    assert.match(whole.stdout, /3 saga\(s\) need attention/);
    assert.doesNotMatch(whole.stdout, /and more/);
  });

  test('sagas close and resume act on the saga where it lives', async () => {
    const closed = await run('sagas', 'close', ids.movedFailed, '--reason', 'refunded by hand', '--by', 'ana');
    assert.equal(closed.code, 0, closed.stderr);
    assert.match(closed.stdout, new RegExp(`^closed saga ${ids.movedFailed} \\(payments\\) by ana; it had been failed .*\\(database ${db1}\\)$`));
    // The staying restaurant has a saga with the same id in the shared database: which one is meant, --tenant says.
    await unitOfWork(pool, { service: 'payments', tenantId: stayedRid, actor: SYSTEM }, (tx) => startSaga(tx, registry, { name: 'probe', id: ids.movedParked, input: {} }));
    const ambiguous = await run('sagas', 'resume', ids.movedParked, '--by', 'ana');
    assert.equal(ambiguous.code, 1);
    assert.match(ambiguous.stderr, new RegExp(`Saga id ${ids.movedParked} exists in 2 tenants \\(${stayedRid}, ${movedRid}\\): say which one \\(--tenant ID\\)`));
    const resumed = await run('sagas', 'resume', ids.movedParked, '--by', 'ana', '--tenant', movedRid);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stdout, new RegExp(`^resumed saga ${ids.movedParked} \\(payments\\) by ana: running, .*\\(database ${db1}\\)$`));
    const { rows } = await targetPool.query<{ id: string; status: string }>(`select id, status from payments.saga_instances where id = any($1::uuid[]) order by status`, [[ids.movedFailed, ids.movedParked]]);
    assert.deepEqual(rows.map((r) => [r.id, r.status]), [[ids.movedFailed, 'closed'], [ids.movedParked, 'running']]);
    const missing = await run('sagas', 'resume', randomUUID());
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, new RegExp(`No saga .* in payments\\. .* Looked in databases main, ${db1}\\.`));
  });

  test('sagas show names the other databases that hold a saga of that id, as resume and close refuse to choose', async () => {
    // After the previous test the shared database has another tenant's saga with the id ids.movedParked.
    const other = await run('sagas', 'show', ids.movedParked);
    assert.equal(other.code, 0, other.stderr);
    assert.match(other.stdout, new RegExp(`^saga ${ids.movedParked} \\(payments/probe\\) of tenant ${stayedRid}, in database main\\n`));
    assert.match(other.stdout, new RegExp(`^note: another saga with this id, of tenant ${movedRid}, is in database ${db1}; resume and close need --tenant$`, 'm'));
    // A copy of a moved saga in the shared database, as an unfinished move leaves it (written unfenced).
    await unitOfWork(pool, { service: 'payments', tenantId: movedRid, actor: SYSTEM }, (tx) => startSaga(tx, registry, { name: 'probe', id: ids.movedFailed, input: {} }));
    const copy = await run('sagas', 'show', ids.movedFailed);
    assert.equal(copy.code, 0, copy.stderr);
    assert.match(copy.stdout, new RegExp(`^note: this saga is also in database ${db1}: an unfinished 'brigade tenants move' left a copy; resume and close refuse it until the move is finished$`, 'm'));
    noUrl(copy.stdout);
    const json = await run('sagas', 'show', ids.movedFailed, '--json');
    assert.deepEqual((JSON.parse(json.stdout) as { database: string; alsoIn: unknown }).database, 'main');
    assert.deepEqual((JSON.parse(json.stdout) as { alsoIn: unknown }).alsoIn, [{ database: db1, tenantId: movedRid }]);
    const refused = await run('sagas', 'close', ids.movedFailed, '--reason', 'x', '--by', 'ana');
    assert.match(refused.stderr, /an unfinished 'brigade tenants move' left a copy/);
  });

  test("an upgrade reaches the moved restaurant's database: brigade migrate migrates it, /health/ready checks it, each by its label", async () => {
    const current = await run('migrate');
    assert.equal(current.code, 0, current.stderr);
    noUrl(current.stdout);
    const title = `database ${db1} (a restaurant's own, placement catalog):`;
    const lines = current.stdout.split('\n');
    assert.equal(lines[lines.indexOf(title) + 1], 'nothing to apply: the database is current', current.stdout);

    // A release's new migration, as the dedicated database sees it: one file it has not applied, the last
    // of its set. (This one may run again: see NEWEST_PAYMENTS_MIGRATION.)
    assert.equal(await newestOnDisk(), NEWEST_PAYMENTS_MIGRATION, 'the newest payments migration is the one forgotten here');
    const forgotten = await targetPool.query(`delete from brigade_meta.schema_migrations where set_name = 'payments' and name = $1`, [NEWEST_PAYMENTS_MIGRATION]);
    assert.equal(forgotten.rowCount, 1);
    const config = loadConfig(env(), { services: SERVICE_NAMES });
    const platform = await createPlatform(config, { url: shared.db.url, embedded: null }, { logger: false });
    try {
      const behind = await platform.app.inject({ url: '/health/ready' });
      assert.equal(behind.statusCode, 503, behind.body);
      const checks = behind.json().checks as Record<string, { ok: boolean; detail?: string }>;
      assert.deepEqual(Object.keys(checks).sort(), ['database', `database:${db1}`, 'migrations', `migrations:${db1}`]);
      assert.deepEqual(checks[`migrations:${db1}`], { ok: false, detail: `payments/${NEWEST_PAYMENTS_MIGRATION} pending; run brigade migrate` });
      assert.deepEqual([checks.database, checks.migrations, checks[`database:${db1}`]], [{ ok: true }, { ok: true }, { ok: true }]);
      noUrl(behind.body);

      const upgraded = await run('migrate');
      assert.equal(upgraded.code, 0, upgraded.stderr);
      noUrl(upgraded.stdout);
      const after = upgraded.stdout.split('\n');
      assert.match(after[after.indexOf(title) + 1] ?? '', new RegExp(`^\\[1/1\\] applied payments/${NEWEST_PAYMENTS_MIGRATION.replaceAll('.', '\\.')} in \\d+ ms( \\(no transaction\\))?$`), upgraded.stdout);
      const ready = await platform.app.inject({ url: '/health/ready' });
      assert.equal(ready.statusCode, 200, ready.body);
    } finally {
      await platform.close();
    }
    const status = await run('migrate', 'status');
    assert.equal(status.code, 0, status.stderr);
    assert.ok(status.stdout.includes(title), status.stdout);
    noUrl(status.stdout);
  });

  test("brigade start migrates the moved restaurant's database too, as brigade migrate does", async () => {
    const forgotten = await targetPool.query(`delete from brigade_meta.schema_migrations where set_name = 'payments' and name = $1`, [NEWEST_PAYMENTS_MIGRATION]);
    assert.equal(forgotten.rowCount, 1);
    const home = await fs.mkdtemp(path.join(os.tmpdir(), 'brigade-start-moved-'));
    const child = spawn(process.execPath, [brigadeBin, 'start'], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env(), BRIGADE_HOME: home, PORT: '0', LOG_LEVEL: 'warn' },
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await eventually('brigade start to be ready', async () => out, (o) => /Brigade is up in \d+ ms/.test(o) || child.exitCode !== null, 90_000);
      assert.match(out, new RegExp(`database ${db1} \\(a restaurant's own, placement catalog\\):\n\\[1/1\\] applied payments/${NEWEST_PAYMENTS_MIGRATION.replaceAll('.', '\\.')}`), out);
      noUrl(out);
      const tracked = await targetPool.query(`select 1 from brigade_meta.schema_migrations where set_name = 'payments' and name = $1`, [NEWEST_PAYMENTS_MIGRATION]);
      assert.equal(tracked.rowCount, 1);
    } finally {
      child.kill('SIGTERM');
      await exited;
      await fs.rm(home, { recursive: true, force: true });
    }
  });
});
