import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, test } from 'node:test';
import pg from 'pg';
import { rebuildProjection, RebuildOwnerError, RebuildSchemaChangedError } from '../../../src/platform/projections/index.ts';
import { ORDER_VIEWS } from '../../../src/services/ordering/views/index.ts';
import { useTestDatabase } from '../../support/db.ts';
import { append, drain, freshFold, newOrder, placed, viewRows } from '../../services/ordering/views/support.ts';
import { COUNTS_DDL, countingProjection } from './fixtures/countingProjection.ts';

const { board } = ORDER_VIEWS;
const courierTasks = ORDER_VIEWS.all.find((p) => p.name === 'courier-tasks')!;

/**
 * What happens to the live view while a rebuild runs (a migration, a grant, a wait behind an old
 * transaction) must not be lost or blamed wrongly at the swap; and the swapped-in table keeps the
 * live one's owner (a review of decisions 0031 and 0033).
 */
describe('rebuild swap: the live view’s schema, grants and owner; the backlog of the horizon wait', () => {
  const database = useTestDatabase();
  let pool: pg.Pool;
  let admin: pg.Pool;
  const tenant = randomUUID();

  before(async () => {
    pool = database.pool(12);
    admin = database.pool(2);
    for (let i = 0; i < 30; i++) {
      const o = newOrder(tenant);
      await append(pool, o, [placed(o)]);
    }
  });

  /** A role that goes with the test's clean-up, whatever happens (roles outlive the test's database). */
  const role = async (prefix: string, options = '') => {
    const name = `${prefix}_${randomUUID().slice(0, 8)}`;
    await admin.query(`create role ${pg.escapeIdentifier(name)} ${options}`);
    database.defer(async () => {
      await admin.query(`reassign owned by ${pg.escapeIdentifier(name)} to current_user`);
      await admin.query(`drop owned by ${pg.escapeIdentifier(name)}`);
      await admin.query(`drop role ${pg.escapeIdentifier(name)}`);
    });
    return name;
  };
  const indexes = async (table: string) => (await admin.query(`select indexname from pg_indexes where schemaname = 'ordering' and tablename = $1 order by 1`, [table])).rows.map((r) => r.indexname);
  const shadowGone = async () => assert.equal((await admin.query(`select to_regclass('ordering.board_view_rebuild') as t`)).rows[0].t, null, 'the shadow table is dropped');

  test('a column and an index added to the live view during the replay (a migration): the swap refuses, says what changed, and the live view keeps them', async () => {
    const before = await viewRows(admin, 'board_view');
    let migrated = false;
    await assert.rejects(
      rebuildProjection(pool, board, {
        batchSize: 10,
        afterBatch: async () => {
          if (migrated) return;
          migrated = true;
          await admin.query(`alter table ordering.board_view add column probe_col text`);
          await admin.query(`create index board_view_probe on ordering.board_view (status)`);
        },
      }),
      (e: unknown) => {
        assert.ok(e instanceof RebuildSchemaChangedError, String(e));
        assert.equal(e.code, 'PROJECTION_REBUILD_SCHEMA_CHANGED');
        assert.match(e.message, /schema changed during the rebuild \(a migration\?\); nothing swapped; run the rebuild again/);
        assert.match(e.message, /column probe_col text/);
        assert.match(e.message, /index .*btree \(status\)/);
        return true;
      },
    );
    assert.ok(migrated);
    const columns = (await admin.query(`select column_name from information_schema.columns where table_schema = 'ordering' and table_name = 'board_view' and column_name = 'probe_col'`)).rowCount;
    assert.equal(columns, 1, 'the live view keeps the added column');
    assert.ok((await indexes('board_view')).includes('board_view_probe'), 'the live view keeps the added index');
    assert.deepEqual((await viewRows(admin, 'board_view')).length, before.length, 'the live view is untouched');
    await shadowGone();

    // Run again, it swaps in a table with the migration's column and index (under their live names).
    await rebuildProjection(pool, board, { batchSize: 10 });
    assert.equal((await admin.query(`select 1 from information_schema.columns where table_schema = 'ordering' and table_name = 'board_view' and column_name = 'probe_col'`)).rowCount, 1);
    assert.ok((await indexes('board_view')).includes('board_view_probe'), String(await indexes('board_view')));
    await admin.query(`drop index ordering.board_view_probe`);
    await admin.query(`alter table ordering.board_view drop column probe_col`);
  });

  test('a grant, a policy and a revoke made on the live table during the replay (through apply, secured before it) are on the swapped-in table', async () => {
    await admin.query(COUNTS_DDL);
    await admin.query(`grant select, insert, update, delete on ordering.crash_counts to brigade_ordering`);
    const counting = countingProjection();
    const reader = await role('rv_reader');
    let secured = false;
    await rebuildProjection(pool, counting, {
      batchSize: 10,
      afterBatch: async () => {
        if (secured) return;
        secured = true;
        await admin.query(`alter table ordering.crash_counts enable row level security`);
        await admin.query(`create policy crash_counts_all on ordering.crash_counts for all to brigade_ordering using (true) with check (true)`);
        await admin.query(`grant select on ordering.crash_counts to ${pg.escapeIdentifier(reader)}`);
        await admin.query(`revoke delete on ordering.crash_counts from brigade_ordering`);
      },
    });
    assert.ok(secured);
    const grants = (await admin.query(`select grantee, privilege_type as p from information_schema.role_table_grants where table_schema = 'ordering' and table_name = 'crash_counts'`)).rows;
    assert.ok(grants.some((g) => g.grantee === reader && g.p === 'SELECT'), `the grant made during the replay came over: ${JSON.stringify(grants)}`);
    assert.ok(!grants.some((g) => g.grantee === 'brigade_ordering' && g.p === 'DELETE'), `the revoke made during the replay came over: ${JSON.stringify(grants)}`);
    assert.ok(grants.some((g) => g.grantee === 'brigade_ordering' && g.p === 'INSERT'));
    const policies = (await admin.query(`select policyname from pg_policies where schemaname = 'ordering' and tablename = 'crash_counts' order by 1`)).rows.map((r) => r.policyname);
    assert.deepEqual(policies, ['crash_counts_all']);
    const rls = (await admin.query(`select relrowsecurity from pg_class where oid = 'ordering.crash_counts'::regclass`)).rows[0].relrowsecurity;
    assert.equal(rls, true, 'row-level security, enabled during the replay, is on');
    const counted = (await admin.query(`select sum(n)::int as n from ordering.crash_counts`)).rows[0].n;
    assert.equal(counted, (await admin.query(`select count(*)::int as n from ordering.events`)).rows[0].n);
  });

  test('appends during a long horizon wait are replayed before the swap, not inside it: many pages of backlog, and the swap catches up only the rest', async () => {
    const holder = await admin.connect();
    const progress: Array<{ phase: string; events: number }> = [];
    let appendedBeforeCommit = 0;
    let foreignHolders = 0;
    let last;
    try {
      // A transaction with an id from before the rebuild holds the read bound: the rebuild waits for it.
      await holder.query('begin');
      await holder.query('select pg_current_xact_id()');
      let waiting!: () => void;
      const waited = new Promise<void>((r) => (waiting = r));
      const rebuilt = rebuildProjection(pool, board, {
        batchSize: 2,
        horizonTimeoutMs: 120_000,
        onProgress: (p) => {
          progress.push({ phase: p.phase, events: p.events });
          if (p.phase === 'waiting') waiting();
        },
      });
      rebuilt.catch(() => undefined);
      await waited;
      // 250 events at 2 a page: 125 pages, past the swap's bound of 100 (before: RebuildFallingBehindError).
      const lasts = await Promise.all(
        Array.from({ length: 5 }, async () => {
          let at;
          for (let i = 0; i < 50; i++) {
            const o = newOrder(tenant);
            at = await append(pool, o, [placed(o)]);
          }
          return at!;
        }),
      );
      last = lasts.reduce((a, b) => (a.transactionId > b.transactionId || (a.transactionId === b.transactionId && a.position > b.position) ? a : b));
      appendedBeforeCommit = (await admin.query(`select count(*)::int as n from ordering.events`)).rows[0].n;
      await holder.query('commit');
      // Transaction ids are cluster-wide: another test file's transaction older than the last append,
      // still open now, holds the second pass's read bound back and leaves the rest to the swap. Only
      // one open now can (any begun later has a newer id).
      foreignHolders = (
        await admin.query(
          `select count(*)::int as n from pg_stat_activity
            where datname is distinct from current_database() and backend_xid is not null and age(backend_xid) >= age(xid($1::xid8))`,
          [String(last.transactionId)],
        )
      ).rows[0].n;
      await rebuilt;
    } finally {
      await holder.query('rollback').catch(() => undefined);
      holder.release();
    }
    const swapping = progress.find((p) => p.phase === 'swapping');
    assert.ok(swapping !== undefined, JSON.stringify(progress.map((p) => p.phase)));
    // Held back by another test file's transaction (seen once in a CI check: 197 of 280 read), the
    // swap catches up the rest, which the rebuild having ended at all shows (before: RebuildFallingBehindError).
    if (foreignHolders === 0) {
      assert.ok(swapping.events >= appendedBeforeCommit, `the backlog (${appendedBeforeCommit} events in the log) was read before the swap, not in it (${swapping.events} read at the swap)`);
    }
    await drain(pool, board, last);
    assert.deepEqual(await viewRows(admin, 'board_view'), await freshFold(admin, pool, board), 'the swapped-in view equals a fresh fold');
  });

  test('a view owned by the migrating role, rebuilt by another: the swapped-in table belongs to the migrating role, which can still alter it', async () => {
    const migrator = await role('rv_migrator');
    await admin.query(`grant usage, create on schema ordering to ${pg.escapeIdentifier(migrator)}`);
    await admin.query(`alter table ordering.courier_tasks_view owner to ${pg.escapeIdentifier(migrator)}`);
    const owner = async () => (await admin.query(`select pg_get_userbyid(relowner) as owner from pg_class where oid = 'ordering.courier_tasks_view'::regclass`)).rows[0].owner;
    await rebuildProjection(pool, courierTasks);
    assert.equal(await owner(), migrator, 'the swapped-in table keeps the live owner');
    const client = await admin.connect();
    try {
      await client.query('begin');
      await client.query(`set local role ${pg.escapeIdentifier(migrator)}`);
      await client.query(`alter table ordering.courier_tasks_view add column probe int`); // before: must be owner of table
    } finally {
      await client.query('rollback');
      client.release();
    }
    await admin.query(`alter table ordering.courier_tasks_view owner to current_user`);
  });

  test('a connecting role that cannot give the rebuilt table to the live owner: refused before anything is made, naming the owner', async () => {
    // With a password: the embedded PostgreSQL of a machine without one (CI) asks every login for one.
    const rebuilder = await role('rv_rebuilder', "login password 'rebuild-probe'");
    await admin.query(`grant usage, create on schema ordering to ${pg.escapeIdentifier(rebuilder)}`);
    const liveOwner = (await admin.query(`select pg_get_userbyid(relowner) as owner from pg_class where oid = 'ordering.board_view'::regclass`)).rows[0].owner;
    const url = new URL(database.db.url);
    url.username = rebuilder;
    url.password = 'rebuild-probe';
    const as = new pg.Pool({ connectionString: url.toString(), max: 4 });
    try {
      await assert.rejects(rebuildProjection(as, board), (e: unknown) => {
        assert.ok(e instanceof RebuildOwnerError, String(e));
        assert.equal(e.code, 'PROJECTION_REBUILD_NOT_OWNER');
        assert.ok(e.message.includes(`owned by role ${liveOwner}`), e.message);
        assert.match(e.message, /run the rebuild connected as/);
        return true;
      });
    } finally {
      await as.end();
    }
    await shadowGone();
  });
  /**
   * What the swap must keep of the live board beyond its shape, policies and table grants, as sorted
   * lines: grants with their grantor and grant option (on the table and on each column), storage
   * parameters (the table's and its TOAST table's), per-column statistics targets and n_distinct,
   * comments, replica identity (with its index).
   */
  const keptSettings = async () =>
    (
      await admin.query<{ line: string }>(
        `with live as (select 'ordering.board_view'::regclass as oid)
         select format('grant %s on table to %s by %s%s', a.privilege_type, coalesce(pg_get_userbyid(nullif(a.grantee, 0)), 'public'), pg_get_userbyid(a.grantor), case when a.is_grantable then ' with grant option' else '' end) as line
           from pg_class c, aclexplode(c.relacl) a where c.oid = (select oid from live)
         union all
         select format('grant %s (%s) to %s by %s%s', a.privilege_type, att.attname, coalesce(pg_get_userbyid(nullif(a.grantee, 0)), 'public'), pg_get_userbyid(a.grantor), case when a.is_grantable then ' with grant option' else '' end)
           from pg_attribute att, aclexplode(att.attacl) a where att.attrelid = (select oid from live)
         union all
         select 'option ' || o from pg_class c, unnest(c.reloptions) o where c.oid = (select oid from live)
         union all
         select 'toast option ' || o from pg_class c join pg_class t on t.oid = c.reltoastrelid, unnest(t.reloptions) o where c.oid = (select oid from live)
         union all
         select format('statistics %s %s', attname, attstattarget) from pg_attribute where attrelid = (select oid from live) and attnum > 0 and attstattarget <> -1
         union all
         select format('column option %s %s', attname, o) from pg_attribute, unnest(attoptions) o where attrelid = (select oid from live) and o like 'n\\_distinct%'
         union all
         select 'comment ' || coalesce(obj_description((select oid from live), 'pg_class'), '-')
         union all
         select format('column comment %s %s', attname, col_description(attrelid, attnum)) from pg_attribute where attrelid = (select oid from live) and attnum > 0 and col_description(attrelid, attnum) is not null
         union all
         select 'replica identity ' || relreplident::text || coalesce(' ' || (select i.indexrelid::regclass::text from pg_index i where i.indrelid = c.oid and i.indisreplident), '')
           from pg_class c where c.oid = (select oid from live)
         order by 1`,
      )
    ).rows.map((r) => r.line);

  test('column grants, grant options and grants made through them, storage parameters, statistics targets, comments and replica identity, set before the rebuild or changed just before its swap, are on the swapped-in table', async () => {
    const [reporting, analyst, viewer] = [await role('rv_reporting'), await role('rv_analyst'), await role('rv_viewer')];
    const [r, a, v] = [reporting, analyst, viewer].map((n) => pg.escapeIdentifier(n));
    await admin.query(`grant usage on schema ordering to ${r}, ${a}`);
    /** Runs `sql` as `grantor` (a grant made through its grant option). */
    const as = async (grantor: string, sql: string) => {
      const client = await admin.connect();
      try {
        await client.query('begin');
        await client.query(`set local role ${pg.escapeIdentifier(grantor)}`);
        await client.query(sql);
        await client.query('commit');
      } catch (error) {
        await client.query('rollback').catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    };
    try {
      // The review's probe, and the rest of what LIKE does not copy or the swap did not carry over.
      await admin.query(`grant select (order_id, status) on ordering.board_view to ${r}`);
      await admin.query(`grant select on ordering.board_view to ${a} with grant option`);
      await as(analyst, `grant select on ordering.board_view to ${v}`);
      await admin.query(`alter table ordering.board_view set (fillfactor = 70, autovacuum_vacuum_scale_factor = 0.01, toast.autovacuum_enabled = false)`);
      await admin.query(`alter table ordering.board_view alter column status set statistics 1000`);
      await admin.query(`alter table ordering.board_view alter column courier_id set (n_distinct = -0.5)`);
      await admin.query(`comment on table ordering.board_view is 'The restaurant live-board'`);
      await admin.query(`comment on column ordering.board_view.status is 'Where the order is'`);
      await admin.query(`alter table ordering.board_view replica identity full`);
      const before = await keptSettings();
      await rebuildProjection(pool, board, { batchSize: 10 });
      // Before: none of the grants, options, targets, the table comment or the replica identity.
      assert.deepEqual(await keptSettings(), before);

      // Changed after the replay's last page, in the swap's transaction before it takes the live table:
      // only the swap's own copy, made with the table locked, can see it.
      let during: string[] | undefined;
      await rebuildProjection(pool, board, {
        batchSize: 10,
        beforeSwap: async () => {
          await admin.query(`grant select (total) on ordering.board_view to ${r} with grant option`);
          await as(reporting, `grant select (total) on ordering.board_view to ${v}`);
          await admin.query(`revoke select on ordering.board_view from ${a} cascade`);
          await admin.query(`alter table ordering.board_view reset (fillfactor), set (autovacuum_analyze_threshold = 500)`);
          await admin.query(`alter table ordering.board_view alter column status set statistics -1, alter column placed_at set statistics 200`);
          await admin.query(`comment on table ordering.board_view is 'Changed during the rebuild'`);
          await admin.query(`comment on column ordering.board_view.status is null`);
          await admin.query(`alter table ordering.board_view replica identity using index board_view_pkey`);
          during = await keptSettings();
        },
      });
      assert.ok(during?.includes('replica identity i ordering.board_view_pkey'), JSON.stringify(during));
      assert.deepEqual(await keptSettings(), during);
    } finally {
      // The roles' clean-up revokes only what the owner granted: what the others granted through their grant options goes with these.
      await admin.query(`revoke all on ordering.board_view from ${r}, ${a} cascade`);
      await admin.query(`alter table ordering.board_view reset (fillfactor, autovacuum_vacuum_scale_factor, autovacuum_analyze_threshold, toast.autovacuum_enabled), replica identity default,
                           alter column status set statistics -1, alter column placed_at set statistics -1, alter column courier_id reset (n_distinct)`);
      await admin.query(`comment on table ordering.board_view is null`);
    }
  });

  test('a deadlock while securing the shadow before the swap is tried again: the rebuild swaps in, the grants on it', async () => {
    // An event trigger fails the first GRANT after it is made as PostgreSQL fails a deadlock's victim
    // (40P01); a sequence counts, since the failed transaction rolls back whatever it wrote.
    await admin.query(`create sequence ordering.secure_deadlocks`);
    await admin.query(`create function ordering.secure_deadlock() returns event_trigger language plpgsql as $$
      begin
        if nextval('ordering.secure_deadlocks') = 1 then raise exception 'deadlock detected (test)' using errcode = '40P01'; end if;
      end $$`);
    await admin.query(`create event trigger secure_deadlock on ddl_command_end when tag in ('GRANT') execute function ordering.secure_deadlock()`);
    try {
      const o = newOrder(tenant);
      const head = await append(pool, o, [placed(o)]);
      await rebuildProjection(pool, board, { batchSize: 10 });
      await drain(pool, board, head);
      assert.ok(Number((await admin.query(`select last_value from ordering.secure_deadlocks`)).rows[0].last_value) > 1, 'the deadlock was met, and the grants made again');
      assert.deepEqual(await viewRows(admin, 'board_view'), await freshFold(admin, pool, board));
      const grants = (await admin.query(`select grantee, privilege_type from information_schema.role_table_grants where table_schema = 'ordering' and table_name = 'board_view' and grantee = 'brigade_ordering'`)).rows;
      assert.ok(grants.some((g) => g.privilege_type === 'SELECT'), JSON.stringify(grants));
      await shadowGone();
    } finally {
      await admin.query(`drop event trigger secure_deadlock`);
      await admin.query(`drop function ordering.secure_deadlock()`);
      await admin.query(`drop sequence ordering.secure_deadlocks`);
    }
  });
});
