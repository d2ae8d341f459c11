import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, mock, test } from 'node:test';
import pg from 'pg';
import {
  MigrationDriftError,
  MigrationOrderError,
  MigrationFileError,
  MigrationInterruptedError,
  MIGRATION_LOCK_KEY,
  migrationStatus,
  runMigrations,
  TRACKING_TABLE,
  type MigrationSet,
} from '../../src/platform/migrations/index.ts';
import { runCli, runMain } from '../support/cli.ts';
import { adminQuery, createTestDatabase, urlFor, useTestDatabase } from '../support/db.ts';
import { randomBytes } from 'node:crypto';

async function tempSet(name: string, files: Record<string, string>): Promise<MigrationSet & { write(file: string, sql: string): Promise<void>; remove(file: string): Promise<void> }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), `brigade-mig-${name}-`));
  const write = (file: string, sql: string) => fs.writeFile(path.join(dir, file), sql);
  for (const [file, sql] of Object.entries(files)) await write(file, sql);
  return { name, dir, write, remove: (file) => fs.rm(path.join(dir, file)) };
}

async function query<R extends pg.QueryResultRow>(url: string, sql: string, values: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(sql, values)).rows;
  } finally {
    await client.end();
  }
}

/**
 * Aborts `controller` with the reason SIGINT, as Ctrl+C does, the moment the result of `statement`
 * comes back to its client, before the client's caller sees it: the moment the statement can no
 * longer be cancelled, forced rather than timed. Returns the undo.
 */
function abortOnReturn(controller: AbortController, statement: string): () => void {
  const send = pg.Client.prototype.query as unknown as (this: pg.Client, ...args: unknown[]) => unknown;
  const spy = mock.method(pg.Client.prototype, 'query', function (this: pg.Client, ...args: unknown[]) {
    const result = send.apply(this, args);
    if (args[0] !== statement) return result;
    return (result as Promise<unknown>).then((r) => {
      controller.abort('SIGINT');
      return r;
    });
  } as unknown as typeof pg.Client.prototype.query);
  return () => spy.mock.restore();
}

/**
 * Aborts `controller` with the reason SIGINT once the migrator's session is running `statement` (it
 * shows as active in pg_stat_activity): a cancel sent earlier, before the server has read the
 * statement, would be lost.
 */
async function abortWhileRunning(url: string, controller: AbortController, statement: string): Promise<void> {
  await untilRunning(url, statement);
  controller.abort('SIGINT');
}

/** Waits until the migrator's session is running `statement` (it shows as active in pg_stat_activity); returns its backend pid. */
async function untilRunning(url: string, statement: string): Promise<number> {
  for (let i = 0; ; i++) {
    const running = await query<{ pid: number }>(url, `select pid from pg_stat_activity where application_name = 'brigade-migrate' and state = 'active' and query = $1`, [statement]);
    if (running[0] !== undefined) return running[0].pid;
    assert.ok(i < 500, `the migrator never ran ${statement}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('forward-only migrations', () => {
  const database = useTestDatabase({ empty: true });

  test('five concurrent migrators apply each file exactly once and all succeed', async () => {
    // Not idempotent on purpose: a second application of 0001 fails, a second of 0002 adds a row.
    const set = await tempSet('race', {
      '0001_create.sql': 'create schema race; create table race.applied (n int not null);',
      '0002_count.sql': 'insert into race.applied values (2); select pg_sleep(0.2);',
      '0003_index.sql': '-- brigade:no-transaction\ncreate index concurrently applied_n on race.applied (n);',
    });
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => runMigrations({ url: database.db.url, sets: [set] })));
    assert.deepEqual(results.map((r) => (r.status === "rejected" ? String(r.reason) : r.status)), Array(5).fill("fulfilled"));
    const applied = results.map((r) => (r.status === 'fulfilled' ? r.value.applied.length : -1));
    assert.deepEqual([...applied].sort(), [0, 0, 0, 0, 3], 'one migrator applied all three files, the others none');
    assert.deepEqual(await query(database.db.url, 'select n from race.applied'), [{ n: 2 }]);
    const tracked = await query<{ name: string; checksum: string; duration_ms: number; applied_by: string; applied_at: Date }>(
      database.db.url,
      `select name, checksum, duration_ms, applied_by, applied_at from brigade_meta.schema_migrations where set_name = 'race' order by name`,
    );
    assert.deepEqual(tracked.map((t) => t.name), ['0001_create.sql', '0002_count.sql', '0003_index.sql']);
    const bytes = await fs.readFile(path.join(set.dir, '0002_count.sql'));
    assert.equal(tracked[1]?.checksum, createHash('sha256').update(bytes).digest('hex'));
    assert.ok((tracked[1]?.duration_ms ?? 0) >= 150, 'the duration of the file is recorded');
    assert.match(tracked[0]?.applied_by ?? '', /via .+@.+ pid \d+/);
    assert.ok(tracked[0]?.applied_at instanceof Date);
    // CREATE INDEX CONCURRENTLY cannot run inside a transaction: it ran because of the marker.
    assert.deepEqual(await query(database.db.url, `select indexname from pg_indexes where schemaname = 'race'`), [{ indexname: 'applied_n' }]);
  });

  test('five concurrent `brigade migrate` processes all exit 0 and apply the platform files once', async () => {
    const fresh = await createTestDatabase({ empty: true });
    try {
      const runs = await Promise.all(Array.from({ length: 5 }, () => runCli(['migrate'], { DATABASE_URL: fresh.url })));
      for (const run of runs) assert.equal(run.code, 0, run.stderr);
      const appliedLines = runs.flatMap((r) => r.stdout.split('\n').filter((l) => /\] applied /.test(l)));
      const rows = await query<{ n: string }>(fresh.url, `select count(*) as n from brigade_meta.schema_migrations`);
      assert.equal(appliedLines.length, Number(rows[0]?.n), 'each tracked file was applied by exactly one process');
      assert.ok(Number(rows[0]?.n) >= 1);
    } finally {
      await fresh.drop();
    }
  });

  test('a user id with no passwd entry (a container run as a bare uid): the run succeeds and records the uid', async (t) => {
    // os.userInfo() throws ENOENT for such a uid; runMigrations (brigade migrate, brigade start) crashed on it.
    const userInfo = mock.method(os, 'userInfo', () => {
      throw Object.assign(new Error('A system error occurred: uv_os_get_passwd returned ENOENT (no such file or directory)'), { code: 'ERR_SYSTEM_ERROR' });
    });
    t.after(() => userInfo.mock.restore());
    const fresh = await createTestDatabase({ empty: true });
    try {
      const set = await tempSet('nameless', { '0001_a.sql': 'create schema nameless;' });
      const result = await runMigrations({ url: fresh.url, sets: [set] });
      assert.deepEqual(result.applied, ['nameless/0001_a.sql']);
      const tracked = await query<{ applied_by: string }>(fresh.url, `select applied_by from brigade_meta.schema_migrations where set_name = 'nameless'`);
      assert.match(tracked[0]?.applied_by ?? '', / via uid \d+@.+ pid \d+$/);
    } finally {
      await fresh.drop();
    }
  });

  test('a failing file rolls back whole, names itself, and is not recorded', async () => {
    const set = await tempSet('broken', {
      '0001_ok.sql': 'create schema broken; create table broken.t (x int);',
      '0002_bad.sql': 'insert into broken.t values (1);\nselect * from broken.nope;',
    });
    await assert.rejects(runMigrations({ url: database.db.url, sets: [set] }), (e: unknown) => {
      assert.ok(e instanceof MigrationFileError);
      assert.match(e.message, /broken\/0002_bad\.sql failed: relation "broken\.nope" does not exist/);
      assert.match(e.message, /Nothing of it was applied/);
      return true;
    });
    assert.deepEqual(await query(database.db.url, 'select * from broken.t'), [], 'the insert before the failure was rolled back');
    const rows = await query<{ name: string }>(database.db.url, `select name from brigade_meta.schema_migrations where set_name = 'broken'`);
    assert.deepEqual(rows.map((r) => r.name), ['0001_ok.sql']);
    // Fixed, it applies.
    await set.write('0002_bad.sql', 'insert into broken.t values (1);');
    assert.deepEqual((await runMigrations({ url: database.db.url, sets: [set] })).applied, ['broken/0002_bad.sql']);
  });

  test('drift: a changed or missing applied file is detected by verify and refused by migrate', async () => {
    const set = await tempSet('drift', {
      '0001_a.sql': 'create schema drift;',
      '0002_b.sql': 'create table drift.t (x int);',
    });
    await runMigrations({ url: database.db.url, sets: [set] });
    await set.write('0001_a.sql', 'create schema drift; -- edited after it was applied');
    await set.write('0003_c.sql', 'create table drift.u (x int);');
    const rows = await migrationStatus({ url: database.db.url, sets: [set] });
    assert.deepEqual(
      rows.map((r) => [r.id, r.state]),
      [
        ['drift/0001_a.sql', 'changed'],
        ['drift/0002_b.sql', 'applied'],
        ['drift/0003_c.sql', 'pending'],
      ],
    );
    await assert.rejects(runMigrations({ url: database.db.url, sets: [set] }), (e: unknown) => {
      assert.ok(e instanceof MigrationDriftError);
      assert.deepEqual(e.drift, [{ id: 'drift/0001_a.sql', problem: 'changed' }]);
      assert.match(e.message, /drift\/0001_a\.sql: changed since it was applied/);
      return true;
    });
    assert.deepEqual(await query(database.db.url, `select to_regclass('drift.u') as t`), [{ t: null }], 'nothing ran while drifted');
    await assert.rejects(runMigrations({ url: database.db.url, sets: [set], dryRun: true }), MigrationDriftError);

    await set.write('0001_a.sql', 'create schema drift;');
    await set.remove('0002_b.sql');
    await assert.rejects(runMigrations({ url: database.db.url, sets: [set] }), (e: unknown) => {
      assert.ok(e instanceof MigrationDriftError);
      assert.deepEqual(e.drift, [{ id: 'drift/0002_b.sql', problem: 'missing' }]);
      return true;
    });
  });

  test('rows a newer release applied (numbered above every file here) are ahead: migrate runs and warns, status lists them; a gap is still missing', async () => {
    const set = await tempSet('ahead', { '0001_a.sql': 'create schema ahead;', '0002_b.sql': 'create table ahead.t (x int);' });
    await runMigrations({ url: database.db.url, sets: [set] });
    // The older release: it has 0001 only, the database has 0002 as well (a rolling deploy).
    await set.remove('0002_b.sql');
    const rows = await migrationStatus({ url: database.db.url, sets: [set] });
    assert.deepEqual(
      rows.map((r) => [r.id, r.state]),
      [
        ['ahead/0001_a.sql', 'applied'],
        ['ahead/0002_b.sql', 'ahead'],
      ],
    );
    const lines: string[] = [];
    const result = await runMigrations({ url: database.db.url, sets: [set], onProgress: (l) => lines.push(l) });
    assert.deepEqual(result.applied, []);
    assert.ok(lines.some((l) => /^warning: ahead\/0002_b\.sql was applied by a newer release/.test(l)), lines.join('\n'));
    assert.deepEqual((await runMigrations({ url: database.db.url, sets: [set], dryRun: true })).applied, []);

    // With 0003 on disk, the applied 0002 without a file is a gap (a deleted file): still refused.
    await set.write('0003_c.sql', 'create table ahead.u (x int);');
    await assert.rejects(runMigrations({ url: database.db.url, sets: [set] }), (e: unknown) => {
      assert.ok(e instanceof MigrationDriftError);
      assert.deepEqual(e.drift, [{ id: 'ahead/0002_b.sql', problem: 'missing' }]);
      return true;
    });
  });

  test('a transactional file that begins or ends a transaction itself is refused before anything runs, naming the file and the statements', async () => {
    const set = await tempSet('txctl', {
      // Not top-level: a DO block's BEGIN … END and a BEGIN ATOMIC function body (its END included).
      '0001_ok.sql': 'create schema txctl;\ndo $$ begin perform 1; end $$;\ncreate function txctl.f() returns int language sql begin atomic select 1; end;',
      '0002_commits.sql': 'create table txctl.t (x int);\nCOMMIT;\nselect * from txctl.nope;',
    });
    const refused = (e: unknown) => {
      assert.ok(e instanceof MigrationFileError, String(e));
      assert.match(e.message, /may not begin or end one themselves:\n {2}txctl\/0002_commits\.sql: "COMMIT"\n/);
      assert.match(e.message, /Remove these statements, or make the file's first line '-- brigade:no-transaction'/);
      return true;
    };
    await assert.rejects(runMigrations({ url: database.db.url, sets: [set] }), refused);
    await assert.rejects(runMigrations({ url: database.db.url, sets: [set], dryRun: true }), refused);
    assert.deepEqual(await query(database.db.url, `select to_regnamespace('txctl') as s`), [{ s: null }], 'nothing ran, not even 0001');
    await set.write('0002_commits.sql', 'create table txctl.t (x int);');
    assert.deepEqual((await runMigrations({ url: database.db.url, sets: [set] })).applied, ['txctl/0001_ok.sql', 'txctl/0002_commits.sql']);
  });

  test('a BEGIN ATOMIC function with CASE … END in its body migrates, in a transactional file and in a no-transaction one', async () => {
    // Before: the CASE's END was taken for the body's, so the body's END was refused as a COMMIT, and in
    // a no-transaction file the function was sent in pieces ("syntax error at end of input").
    const fn = (name: string) => `create function atomiccase.${name}(x int) returns text language sql\nbegin atomic\n  select case when x > 0 then 'positive' else 'not positive' end;\nend;`;
    const set = await tempSet('atomiccase', {
      '0001_tx.sql': `create schema atomiccase;\n${fn('f')}`,
      '0002_notx.sql': `-- brigade:no-transaction\n${fn('g')}\nselect E'it\\'s; commit; fine';`,
    });
    assert.deepEqual((await runMigrations({ url: database.db.url, sets: [set] })).applied, ['atomiccase/0001_tx.sql', 'atomiccase/0002_notx.sql']);
    assert.deepEqual(await query(database.db.url, 'select atomiccase.f(1) as f, atomiccase.g(0) as g'), [{ f: 'positive', g: 'not positive' }]);
  });

  test("a plain SET in a file (search_path, timeouts, SET ROLE, SET SESSION AUTHORIZATION) ends with the file: the files build the same schema in one run as in a run each, and the runner records them", async () => {
    // Before: every file of a run shared one session and nothing reset it. In one run 0005's table went
    // to schema sessionset (0001's search_path), its sleep hit 0002's statement_timeout, and 0003's SET
    // ROLE made the tracking insert run as that role ("permission denied"); a run per file did none of that.
    const files: Record<string, string> = {
      '0001_path.sql': 'create schema sessionset;\nset search_path = sessionset;\ncreate table sessionset_t1 (x int);',
      '0002_timeouts.sql': "-- brigade:no-transaction\nset statement_timeout = '100ms';\nset lock_timeout = '100ms';\ncreate temp table sessionset_scratch (x int);",
      '0003_role.sql': 'set role pg_read_all_data;',
      '0004_authorization.sql': '-- brigade:no-transaction\nset session authorization pg_read_all_data;',
      '0005_after.sql': `select pg_sleep(0.3);
create table sessionset_t5 (y int);
do $$ begin
  if current_user <> session_user or to_regclass('pg_temp.sessionset_scratch') is not null
     or current_setting('client_connection_check_interval') <> '1s' or current_setting('application_name') <> 'brigade-migrate' then
    raise exception 'not the runner''s session: user % (session %), temp table %, check interval %, application %', current_user, session_user,
      to_regclass('pg_temp.sessionset_scratch'), current_setting('client_connection_check_interval'), current_setting('application_name');
  end if;
end $$;`,
    };
    const built = (url: string) =>
      query<{ table: string; schema: string }>(
        url,
        `select c.relname as table, n.nspname as schema from pg_class c join pg_namespace n on n.oid = c.relnamespace
          where c.relname like 'sessionset\\_%' and c.relpersistence = 'p' order by 1`,
      );
    const recordedByRunner = async (url: string) =>
      (await query<{ name: string }>(url, `select name from brigade_meta.schema_migrations where set_name = 'sessionset' and applied_by like session_user || ' via %' order by name`)).map((r) => r.name);
    const expected = [
      { table: 'sessionset_t1', schema: 'sessionset' },
      { table: 'sessionset_t5', schema: 'public' },
    ];

    const together = await tempSet('sessionset', files);
    assert.deepEqual((await runMigrations({ url: database.db.url, sets: [together] })).applied, Object.keys(files).map((name) => `sessionset/${name}`));
    assert.deepEqual(await built(database.db.url), expected);
    assert.deepEqual(await recordedByRunner(database.db.url), Object.keys(files));

    const fresh = await createTestDatabase({ empty: true });
    try {
      const oneByOne = await tempSet('sessionset', {});
      for (const [name, sql] of Object.entries(files)) {
        await oneByOne.write(name, sql);
        assert.deepEqual((await runMigrations({ url: fresh.url, sets: [oneByOne] })).applied, [`sessionset/${name}`]);
      }
      assert.deepEqual(await built(fresh.url), expected);
      assert.deepEqual(await recordedByRunner(fresh.url), Object.keys(files));
    } finally {
      await fresh.drop();
    }
  });

  test('a no-transaction file that leaves a transaction open fails the run, naming the file: what ran after its BEGIN is rolled back, nothing of it is recorded', async () => {
    // Before: "[1/2] applied unclosed/0001_unclosed.sql", and the next file's BEGIN was a no-op (a
    // warning) whose COMMIT ended this file's transaction; had the file been the last, ending the
    // session rolled back its work and its tracking row after "applied", and the run exited 0.
    const set = await tempSet('unclosed', {
      '0001_unclosed.sql': '-- brigade:no-transaction\ncreate schema unclosed;\nbegin;\ncreate table unclosed.t (x int);',
      '0002_next.sql': 'create table unclosed.u (x int);',
    });
    const refused = (e: unknown) => {
      assert.ok(e instanceof MigrationFileError, String(e));
      assert.match(e.message, /^unclosed\/0001_unclosed\.sql left a transaction open: /);
      assert.match(e.message, /add its COMMIT/);
      assert.deepEqual(e.details, { file: 'unclosed/0001_unclosed.sql', openTransaction: true });
      return true;
    };
    await assert.rejects(runMigrations({ url: database.db.url, sets: [set] }), refused);
    const tracked = async () => (await query<{ name: string }>(database.db.url, `select name from brigade_meta.schema_migrations where set_name = 'unclosed'`)).map((r) => r.name);
    assert.deepEqual(await tracked(), []);
    assert.deepEqual(await query(database.db.url, `select to_regnamespace('unclosed') is not null as s, to_regclass('unclosed.t') as t, to_regclass('unclosed.u') as u`), [
      { s: true, t: null, u: null },
    ]);

    // Ctrl+C the moment its last statement returns: still this refusal, not an interruption saying every statement stays applied.
    await set.write('0001_unclosed.sql', '-- brigade:no-transaction\ncreate schema if not exists unclosed;\nstart transaction;\ncreate table unclosed.t (x int);');
    const controller = new AbortController();
    const restore = abortOnReturn(controller, 'create table unclosed.t (x int)');
    try {
      await assert.rejects(runMigrations({ url: database.db.url, sets: [set], signal: controller.signal }), refused);
    } finally {
      restore();
    }
    assert.deepEqual(await tracked(), []);

    // Closed, it applies, and so does the next file.
    await set.write('0001_unclosed.sql', '-- brigade:no-transaction\ncreate schema if not exists unclosed;\nbegin;\ncreate table unclosed.t (x int);\ncommit;');
    assert.deepEqual((await runMigrations({ url: database.db.url, sets: [set] })).applied, ['unclosed/0001_unclosed.sql', 'unclosed/0002_next.sql']);
    assert.deepEqual(await query(database.db.url, `select to_regclass('unclosed.t')::text as t, to_regclass('unclosed.u')::text as u`), [{ t: 'unclosed.t', u: 'unclosed.u' }]);
  });

  // Ctrl+C at each moment of a file: the interruption's message says what stays applied, and that is what stays.
  describe('interrupted', () => {
    const tracked = async (set: string) =>
      (await query<{ name: string }>(database.db.url, 'select name from brigade_meta.schema_migrations where set_name = $1 order by name', [set])).map((r) => r.name);
    const interrupted = (message: RegExp) => (e: unknown) => {
      assert.ok(e instanceof MigrationInterruptedError, String(e));
      assert.match(e.message, message);
      assert.match(e.message, /the migration lock is released/);
      return true;
    };

    test("the moment a no-transaction file's last statement returns: the file is recorded, the run stops before the next file and says so", async () => {
      // Before: the tracking row went through the abort check and was never sent. Every statement was
      // applied and nothing recorded it, so the next run applied the file again and failed (relation already exists).
      const set = await tempSet('lastdone', {
        '0001_notx.sql': '-- brigade:no-transaction\ncreate schema lastdone;\ncreate table lastdone.t (x int);\ninsert into lastdone.t values (1);',
        '0002_next.sql': 'create table lastdone.u (x int);',
      });
      const controller = new AbortController();
      const restore = abortOnReturn(controller, 'insert into lastdone.t values (1)');
      try {
        await assert.rejects(
          runMigrations({ url: database.db.url, sets: [set], signal: controller.signal }),
          interrupted(/^Migrating was interrupted by SIGINT while applying lastdone\/0001_notx\.sql: lastdone\/0001_notx\.sql had finished and is recorded as applied \(the run stopped before the next file\).* Nothing to fix: run brigade migrate again\.$/),
        );
      } finally {
        restore();
      }
      assert.deepEqual(await tracked('lastdone'), ['0001_notx.sql']);
      assert.deepEqual(await query(database.db.url, 'select x from lastdone.t'), [{ x: 1 }]);
      assert.deepEqual(await query(database.db.url, `select to_regclass('lastdone.u') as u`), [{ u: null }], 'the next file did not run');
      assert.deepEqual((await runMigrations({ url: database.db.url, sets: [set] })).applied, ['lastdone/0002_next.sql']);
    });

    test("while a no-transaction file's tracking row is being written: the abort does not cancel it, the file is recorded", async () => {
      const set = await tempSet('rowheld', {
        '0001_notx.sql': '-- brigade:no-transaction\ncreate schema rowheld;',
        '0002_next.sql': 'create table rowheld.u (x int);',
      });
      // A transaction holding the same key keeps the tracking insert waiting (and running) until it rolls back.
      const blocker = new pg.Client({ connectionString: database.db.url });
      await blocker.connect();
      await blocker.query('begin');
      await blocker.query(`insert into ${TRACKING_TABLE} (set_name, name, checksum, duration_ms, applied_by) values ('rowheld', '0001_notx.sql', repeat('0', 64), 0, 'test')`);
      const controller = new AbortController();
      try {
        const run = runMigrations({ url: database.db.url, sets: [set], signal: controller.signal });
        run.catch(() => undefined);
        // Asked outside the blocker's transaction, which would see one snapshot of pg_stat_activity.
        const waiting = async () =>
          (await query(database.db.url, `select 1 from pg_stat_activity where application_name = 'brigade-migrate' and wait_event_type = 'Lock' and datname = current_database()`)).length === 1;
        for (let i = 0; !(await waiting()); i++) {
          assert.ok(i < 500, 'the tracking insert never waited');
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        controller.abort('SIGINT');
        // Time for a cancel to land, had one been sent (it takes a connection of a few ms): the insert still waits.
        await new Promise((resolve) => setTimeout(resolve, 500));
        assert.equal(await waiting(), true, 'the tracking insert was not cancelled');
        await blocker.query('rollback');
        await assert.rejects(run, interrupted(/rowheld\/0001_notx\.sql had finished and is recorded as applied/));
      } finally {
        await blocker.end();
      }
      assert.deepEqual(await tracked('rowheld'), ['0001_notx.sql']);
    });

    test('the moment a statement in the middle of a no-transaction file returns: the message counts the statements that stay applied and says the file runs again from the top', async () => {
      const set = await tempSet('middone', {
        '0001_notx.sql': '-- brigade:no-transaction\ncreate schema middone;\ncreate table middone.t (x int);\ninsert into middone.t values (1);',
      });
      const controller = new AbortController();
      const restore = abortOnReturn(controller, 'create table middone.t (x int)');
      try {
        await assert.rejects(
          runMigrations({ url: database.db.url, sets: [set], signal: controller.signal }),
          interrupted(
            /middone\/0001_notx\.sql runs outside a transaction \(-- brigade:no-transaction\): 2 of its 3 statements had finished and stay applied, but it is not recorded, so the next brigade migrate runs it again from its first statement.* Before that, make sure those statements can run twice \(IF NOT EXISTS\)/,
          ),
        );
      } finally {
        restore();
      }
      assert.deepEqual(await tracked('middone'), []);
      assert.deepEqual(await query(database.db.url, 'select x from middone.t'), [], 'the third statement never ran');
      // As the message warned: these statements cannot run twice.
      await assert.rejects(runMigrations({ url: database.db.url, sets: [set] }), /schema "middone" already exists/);
    });

    test("while a no-transaction file's last statement runs: it is cancelled, and the message counts the statements before it", async () => {
      const set = await tempSet('lastcut', { '0001_notx.sql': '-- brigade:no-transaction\ncreate schema lastcut;\nselect pg_sleep(30);' });
      const controller = new AbortController();
      const started = performance.now();
      const run = runMigrations({ url: database.db.url, sets: [set], signal: controller.signal });
      run.catch(() => undefined);
      await abortWhileRunning(database.db.url, controller, 'select pg_sleep(30)');
      await assert.rejects(
        run,
        interrupted(/lastcut\/0001_notx\.sql runs outside a transaction \(-- brigade:no-transaction\): 1 of its 2 statements had finished and stay applied, but it is not recorded/),
      );
      assert.ok(performance.now() - started < 20_000, 'the sleep was cancelled');
      assert.deepEqual(await tracked('lastcut'), []);
    });

    test("the moment a transactional file's COMMIT returns: the message says it is applied, not rolled back", async () => {
      // Before: "the file being applied was rolled back", of a file committed and recorded.
      const set = await tempSet('txdone', { '0001_a.sql': 'create schema txdone;', '0002_b.sql': 'create table txdone.u (x int);' });
      const controller = new AbortController();
      const restore = abortOnReturn(controller, 'commit');
      try {
        await assert.rejects(
          runMigrations({ url: database.db.url, sets: [set], signal: controller.signal }),
          interrupted(/while applying txdone\/0001_a\.sql: txdone\/0001_a\.sql had finished and is recorded as applied \(the run stopped before the next file\)/),
        );
      } finally {
        restore();
      }
      assert.deepEqual(await tracked('txdone'), ['0001_a.sql']);
    });

    test("while a transactional file's statement runs: it is cancelled and the file rolled back, nothing to fix", async () => {
      const set = await tempSet('txcut', { '0001_a.sql': 'create schema txcut; select pg_sleep(30);' });
      const controller = new AbortController();
      const run = runMigrations({ url: database.db.url, sets: [set], signal: controller.signal });
      run.catch(() => undefined);
      await abortWhileRunning(database.db.url, controller, 'create schema txcut; select pg_sleep(30);');
      await assert.rejects(
        run,
        interrupted(/while applying txcut\/0001_a\.sql: txcut\/0001_a\.sql was rolled back \(nothing of it is applied\).* Nothing to fix: run brigade migrate again\.$/),
      );
      assert.deepEqual(await tracked('txcut'), []);
      assert.deepEqual(await query(database.db.url, `select to_regnamespace('txcut') as s`), [{ s: null }]);
    });
  });

  // What a failed file's message tells the operator to do depends on why it failed (its SQLSTATE):
  // before, every failure said "Fix the file (it has never been applied …) and run brigade migrate again".
  describe('a failed file says what to do by why it failed', () => {
    // 3 s: the runner looks for the sessions a file waits behind once it has run 1 s.
    test('a lock another session holds past the file\'s lock_timeout: nothing applied, the holder named, run the command again when it is done (not "fix the file")', async () => {
      const set = await tempSet('lockwait', { '0001_table.sql': 'create schema lockwait; create table lockwait.t (x int);' });
      await runMigrations({ url: database.db.url, sets: [set] });
      await set.write('0002_alter.sql', "set local lock_timeout = '3s';\nalter table lockwait.t add column y int;");
      const holder = new pg.Client({ connectionString: database.db.url, application_name: 'test-lock-holder' });
      await holder.connect();
      try {
        const holderPid = (await holder.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]?.pid;
        await holder.query('begin');
        await holder.query('select * from lockwait.t');
        await assert.rejects(runMigrations({ url: database.db.url, sets: [set], command: 'brigade start' }), (e: unknown) => {
          assert.ok(e instanceof MigrationFileError, String(e));
          assert.match(e.message, /^lockwait\/0002_alter\.sql failed: canceling statement due to lock timeout\n/);
          assert.match(e.message, /Nothing of it was applied/);
          assert.match(e.message, new RegExp(`backend pid ${holderPid}\\b[^\\n]*test-lock-holder`));
          assert.match(e.message, /run brigade start again/);
          assert.doesNotMatch(e.message, /[Ff]ix the file|brigade migrate again/);
          return true;
        });
      } finally {
        await holder.query('rollback').catch(() => undefined);
        await holder.end();
      }
      assert.deepEqual((await runMigrations({ url: database.db.url, sets: [set] })).applied, ['lockwait/0002_alter.sql'], 'run again once the holder is done, it applies');
    });

    test('the connection lost while a file runs (its backend terminated): the database went away, see brigade migrate status (not "fix the file")', async () => {
      const set = await tempSet('gone', { '0001_sleep.sql': 'create schema gone; select pg_sleep(30);' });
      const run = runMigrations({ url: database.db.url, sets: [set] });
      run.catch(() => undefined);
      const pid = await untilRunning(database.db.url, 'create schema gone; select pg_sleep(30);');
      await query(database.db.url, 'select pg_terminate_backend($1)', [pid]);
      await assert.rejects(run, (e: unknown) => {
        assert.ok(e instanceof MigrationFileError, String(e));
        assert.match(e.message, /^gone\/0001_sleep\.sql failed: terminating connection due to administrator command\n/);
        assert.match(e.message, /[Tt]he database went away/);
        assert.match(e.message, /Nothing of it was applied/);
        assert.match(e.message, /brigade migrate status/);
        assert.doesNotMatch(e.message, /[Ff]ix the file/);
        return true;
      });
      assert.deepEqual(await query(database.db.url, `select to_regnamespace('gone') as s`), [{ s: null }]);
    });

    test('a file with an error of its own (a syntax error) still says to fix the file, with the command to run again', async () => {
      const set = await tempSet('typo', { '0001_typo.sql': 'create tabel typo (x int);' });
      await assert.rejects(runMigrations({ url: database.db.url, sets: [set], command: 'brigade demo' }), (e: unknown) => {
        assert.ok(e instanceof MigrationFileError, String(e));
        assert.match(e.message, /typo\/0001_typo\.sql failed: syntax error at or near "tabel"/);
        assert.match(e.message, /Nothing of it was applied\. Fix the file \(it has never been applied, so it may still change\) and run brigade demo again\.$/);
        return true;
      });
    });
  });

  test('the holder of the migration lock gone by the time it is looked up: the run tries the lock again instead of saying "another migrator (it has just finished) holds the migration lock"', async () => {
    // Forced: the holder lets go of the lock just after the migrator's try failed, before its look-up of the holder.
    const set = await tempSet('lockgone', { '0001_a.sql': 'create schema lockgone;' });
    const holder = new pg.Client({ connectionString: database.db.url });
    await holder.connect();
    const send = pg.Client.prototype.query as unknown as (this: pg.Client, ...args: unknown[]) => unknown;
    const tryLock = 'select pg_try_advisory_lock($1::bigint) as ok';
    let released = false;
    const spy = mock.method(pg.Client.prototype, 'query', function (this: pg.Client, ...args: unknown[]) {
      const result = send.apply(this, args);
      if (args[0] !== tryLock || released) return result;
      return (result as Promise<pg.QueryResult<{ ok: boolean }>>).then(async (r) => {
        if (r.rows[0]?.ok === false) {
          released = true;
          await holder.query('select pg_advisory_unlock($1::bigint)', [MIGRATION_LOCK_KEY]);
        }
        return r;
      });
    } as unknown as typeof pg.Client.prototype.query);
    try {
      await holder.query('select pg_advisory_lock($1::bigint)', [MIGRATION_LOCK_KEY]);
      const lines: string[] = [];
      const result = await runMigrations({ url: database.db.url, sets: [set], onProgress: (l) => lines.push(l) });
      assert.equal(released, true, 'the lock was held when the migrator first tried it');
      assert.deepEqual(result.applied, ['lockgone/0001_a.sql']);
      assert.deepEqual(lines.filter((l) => /migration lock/.test(l)), [], lines.join('\n'));
    } finally {
      spy.mock.restore();
      await holder.end();
    }
  });

  test('a new file numbered below an applied one is refused', async () => {
    const set = await tempSet('order', { '0002_second.sql': 'create schema ordered;' });
    await runMigrations({ url: database.db.url, sets: [set] });
    await set.write('0001_first.sql', 'create table ordered.t (x int);');
    await assert.rejects(runMigrations({ url: database.db.url, sets: [set] }), (e: unknown) => {
      assert.ok(e instanceof MigrationOrderError);
      assert.match(e.message, /order\/0001_first\.sql \(already applied: order\/0002_second\.sql\)/);
      return true;
    });
  });

  test('badly named and duplicate-numbered files are errors, not skipped', async () => {
    const badName = await tempSet('names', { '1_first.sql': 'select 1;' });
    await assert.rejects(runMigrations({ url: database.db.url, sets: [badName] }), /names\/1_first\.sql: migration files are named NNNN_name\.sql/);
    const dup = await tempSet('dups', { '0001_a.sql': 'select 1;', '0001_b.sql': 'select 1;' });
    await assert.rejects(runMigrations({ url: database.db.url, sets: [dup] }), /share the number 0001/);
    const upper = await tempSet('upper', { '0001_a.SQL': 'create schema upper_case;' });
    await assert.rejects(runMigrations({ url: database.db.url, sets: [upper] }), /upper\/0001_a\.SQL: migration files are named NNNN_name\.sql/);
  });

  test('a leading UTF-8 byte order mark is not sent to PostgreSQL, nor hides the no-transaction marker; the checksum is of the bytes on disk', async () => {
    const set = await tempSet('bom', {
      '0001_schema.sql': '\uFEFFcreate schema bom; create table bom.t (x int);',
      '0002_index.sql': '\uFEFF-- brigade:no-transaction\ncreate index concurrently t_x on bom.t (x);',
    });
    assert.deepEqual((await runMigrations({ url: database.db.url, sets: [set] })).applied, ['bom/0001_schema.sql', 'bom/0002_index.sql']);
    assert.deepEqual(await query(database.db.url, `select indexname from pg_indexes where schemaname = 'bom'`), [{ indexname: 't_x' }]);
    const bytes = await fs.readFile(path.join(set.dir, '0001_schema.sql'));
    assert.deepEqual([...bytes.subarray(0, 3)], [0xef, 0xbb, 0xbf]);
    const tracked = await query<{ checksum: string }>(database.db.url, `select checksum from brigade_meta.schema_migrations where set_name = 'bom' and name = '0001_schema.sql'`);
    assert.equal(tracked[0]?.checksum, createHash('sha256').update(bytes).digest('hex'));
    assert.deepEqual((await migrationStatus({ url: database.db.url, sets: [set] })).map((r) => r.state), ['applied', 'applied']);
  });

  test('--dry-run lists what would run and runs nothing', async () => {
    const set = await tempSet('dry', { '0001_a.sql': 'create schema dry;', '0002_b.sql': '-- brigade:no-transaction\nselect 1;' });
    const lines: string[] = [];
    const result = await runMigrations({ url: database.db.url, sets: [set], dryRun: true, onProgress: (l) => lines.push(l) });
    assert.deepEqual(result.applied, ['dry/0001_a.sql', 'dry/0002_b.sql']);
    assert.deepEqual(lines, ['would apply dry/0001_a.sql', 'would apply dry/0002_b.sql (no transaction)', '2 file(s) would be applied']);
    assert.deepEqual(await query(database.db.url, `select to_regnamespace('dry') as s`), [{ s: null }]);
  });
});

describe('brigade migrate (CLI)', () => {
  test('a user that may not create schemas (SQLSTATE 42501) is told what DATABASE_URL needs', async () => {
    const fresh = await createTestDatabase({ empty: true });
    const role = `test_nopriv_${randomBytes(4).toString('hex')}`;
    const password = randomBytes(12).toString('hex');
    await adminQuery(`create role "${role}" login password '${password}' nosuperuser nocreaterole`);
    try {
      const url = new URL(fresh.url);
      url.username = role;
      url.password = password;
      const result = await runMain(['migrate'], { DATABASE_URL: url.toString() });
      assert.equal(result.code, 1, result.stdout + result.stderr);
      assert.match(result.stderr, /permission denied/);
      assert.match(result.stderr, /DATABASE_URL's user must be able to create schemas and roles, e\.g\. the database owner/);
    } finally {
      await fresh.drop();
      await adminQuery(`drop role if exists "${role}"`);
    }
  });

  test('a database owner without CREATEROLE (a managed PostgreSQL): the first file says the role in DATABASE_URL needs CREATEROLE, not "fix the file"', async () => {
    // Its own database, so it may create schemas: the first file fails creating the brigade_ roles.
    const role = `test_nocreaterole_${randomBytes(4).toString('hex')}`;
    const password = randomBytes(12).toString('hex');
    const name = `brigade_nocreaterole_t_${randomBytes(4).toString('hex')}`;
    await adminQuery(`create role "${role}" login password '${password}' nosuperuser nocreaterole`);
    try {
      await adminQuery(`create database "${name}" owner "${role}" template template0`);
      const url = new URL(urlFor(name));
      url.username = role;
      url.password = password;
      const result = await runMain(['migrate'], { DATABASE_URL: url.toString() });
      assert.equal(result.code, 1, result.stdout + result.stderr);
      assert.match(result.stderr, /platform\/0001_service_schemas_and_roles\.sql failed: permission denied to create role/);
      assert.match(result.stderr, /Nothing of it was applied/);
      assert.match(result.stderr, new RegExp(`DATABASE_URL's role \\(${role}\\)[^\\n]*CREATEROLE[^\\n]*create schemas[^\\n]*superuser`));
      assert.match(result.stderr, /run brigade migrate again/);
      assert.doesNotMatch(result.stderr, /[Ff]ix the file/);
    } finally {
      await adminQuery(`drop database if exists "${name}"`);
      await adminQuery(`drop role if exists "${role}"`);
    }
  });

  test('status lists applied, pending and ahead files; verify names a changed or out-of-order file and exits 1', async () => {
    const fresh = await createTestDatabase({ empty: true });
    try {
      const env = { DATABASE_URL: fresh.url };
      const pendingStatus = await runCli(['migrate', 'status'], env);
      assert.equal(pendingStatus.code, 0, pendingStatus.stderr);
      assert.match(pendingStatus.stdout, /platform\/0001_service_schemas_and_roles\.sql\s+pending/);
      assert.match(pendingStatus.stdout, /0 applied, \d+ pending \(run brigade migrate\)/);
      // Verify passes (nothing applied has drifted) but says what is not applied (before: "verified: 0 applied file(s) match their checksums", nothing more).
      const pendingVerify = await runCli(['migrate', 'verify'], env);
      assert.equal(pendingVerify.code, 0, pendingVerify.stderr);
      assert.match(pendingVerify.stdout, /^verified: 0 applied file\(s\) match their checksums; \d+ pending, not applied yet \(run brigade migrate\)$/m);

      const dry = await runCli(['migrate', '--dry-run'], env);
      assert.equal(dry.code, 0, dry.stderr);
      assert.match(dry.stdout, /would apply platform\/0001_service_schemas_and_roles\.sql/);
      assert.match(dry.stdout, /^would create or keep the subscriptions on the PostgreSQL bus: ordering-dispatch-alerts, delivery-dispatch, payments-saga$/m);

      assert.equal((await runCli(['migrate'], env)).code, 0);
      const status = await runCli(['migrate', 'status'], env);
      assert.match(status.stdout, /platform\/0001_service_schemas_and_roles\.sql\s+applied\s+\d{4}-\d\d-\d\dT/);
      assert.match(status.stdout, /\d+ applied, 0 pending/);
      const verified = await runCli(['migrate', 'verify'], env);
      assert.equal(verified.code, 0, verified.stderr);
      assert.match(verified.stdout, /^verified: \d+ applied file\(s\) match their checksums$/m, 'nothing pending is said once migrated');

      // A file a newer release applied (numbered above every platform file here): listed as ahead, not an error.
      await query(
        fresh.url,
        `insert into brigade_meta.schema_migrations (set_name, name, checksum, duration_ms, applied_by) values ('platform', '9999_next_release.sql', repeat('0', 64), 1, 'test')`,
      );
      const aheadStatus = await runMain(['migrate', 'status'], env);
      assert.equal(aheadStatus.code, 0, aheadStatus.stderr);
      assert.match(aheadStatus.stdout, /platform\/9999_next_release\.sql\s+ahead\s/);
      assert.match(aheadStatus.stdout, /\d+ applied, 0 pending, 1 ahead \(applied by a newer release/);
      const aheadVerify = await runMain(['migrate', 'verify'], env);
      assert.equal(aheadVerify.code, 0, aheadVerify.stderr);
      // Named on stderr: it may as well be this release's newest file, deleted (before, verify passed without a word).
      assert.match(aheadVerify.stderr, /warning: platform\/9999_next_release\.sql was applied by a newer release, or its file was deleted: .*check which before deploying/);
      const strictVerify = await runMain(['migrate', 'verify', '--strict'], env);
      assert.equal(strictVerify.code, 1, strictVerify.stdout + strictVerify.stderr);
      assert.match(strictVerify.stderr, /platform\/9999_next_release\.sql/);
      assert.match(strictVerify.stderr, /--strict: 1 applied file\(s\) with no file in this release/);
      assert.equal((await runMain(['migrate', 'status', '--strict'], env)).code, 2);
      const aheadMigrate = await runMain(['migrate'], env);
      assert.equal(aheadMigrate.code, 0, aheadMigrate.stderr);
      // A warning, on stderr (it was on stdout, among the progress lines).
      assert.match(aheadMigrate.stderr, /warning: platform\/9999_next_release\.sql was applied by a newer release/);
      await query(fresh.url, `delete from brigade_meta.schema_migrations where name = '9999_next_release.sql'`);

      // Simulate an applied file edited after the fact: its recorded checksum no longer matches.
      await query(fresh.url, `update brigade_meta.schema_migrations set checksum = repeat('0', 64) where name = '0001_service_schemas_and_roles.sql'`);
      const drifted = await runCli(['migrate', 'verify'], env);
      assert.equal(drifted.code, 1);
      assert.match(drifted.stderr, /platform\/0001_service_schemas_and_roles\.sql: changed since it was applied/);
      const refused = await runCli(['migrate'], env);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /Applied migrations no longer match their files/);
      // The status's summary says so too, not only its row (before: "64 applied, 0 pending").
      const driftStatus = await runMain(['migrate', 'status'], env);
      assert.match(driftStatus.stdout, /\d+ applied, 0 pending, 1 changed \(brigade migrate refuses to run: brigade migrate verify says why\)$/m, driftStatus.stdout);

      // A file numbered below an applied one (here 0001, its tracking row gone): migrate refuses it, so verify fails too.
      await query(fresh.url, `delete from brigade_meta.schema_migrations where name = '0001_service_schemas_and_roles.sql'`);
      const late = await runMain(['migrate', 'verify'], env);
      assert.equal(late.code, 1, late.stdout);
      assert.match(late.stderr, /New migrations are numbered below ones already applied:\n {2}platform\/0001_service_schemas_and_roles\.sql \(already applied: platform\//);
    } finally {
      await fresh.drop();
    }
  });
});
