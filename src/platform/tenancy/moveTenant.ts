import pg from 'pg';
import { BrigadeError, NotFoundError } from '../errors/index.ts';
import { cancelBackend, CLIENT_CONNECTION_CHECK } from '../db/cancelBackend.ts';
import { runMigrations, type MigrationSet } from '../migrations/index.ts';
import { moveClient, moveSessionSettings } from './moveClient.ts';
import { openMoveTarget, targetConnectionError } from './openMoveTarget.ts';
import { readOutboxMarks } from './outboxMarks.ts';
import { releaseTenantFence } from './releaseTenantFence.ts';
import { DEFAULT_FENCE_WAIT_MS, takeTenantFence } from './takeTenantFence.ts';
import { tenantTables, type TenantTable } from './tenantTables.ts';

/** Options of {@link moveTenant}. */
export interface MoveTenantOptions {
  readonly tenantId: string;
  /** The shared database, which holds the placement catalog and the tenant's rows now. */
  readonly sourceUrl: string;
  /** The dedicated database; migrated here with the same sets before anything is copied. */
  readonly targetUrl: string;
  readonly sets: readonly MigrationSet[];
  /** Schemas whose tenant tables move (every service schema). */
  readonly schemas: readonly string[];
  readonly onProgress?: (line: string) => void;
  /**
   * How long the move waits for the tenant's transactions in flight before it gives up, in ms (it
   * holds the tenant's new ones meanwhile). Default {@link DEFAULT_FENCE_WAIT_MS}, below the router's
   * `moveWaitMs`, so the writes held by a wait that gives up are delayed, not refused.
   */
  readonly fenceWaitMs?: number;
  /**
   * How often, in ms, a line says what the move is doing and how long the tenant's writes have been
   * held when nothing else was said meanwhile (a long copy, delete or check). Default 5000.
   */
  readonly progressEveryMs?: number;
  /**
   * Stops the move: the statements running are cancelled, the move's connections are closed (so a
   * statement waiting for a database that stopped answering fails at once, and each server rolls back
   * and releases the session's locks, the fence among them) and the move ends with
   * `TENANT_MOVE_INTERRUPTED`, nothing moved, unless the shared database's commit was already sent (then
   * the move finishes). `brigade tenants move` aborts it on SIGINT and SIGTERM.
   */
  readonly signal?: AbortSignal;
}

const BATCH = 5000;

/** Default of {@link MoveTenantOptions.progressEveryMs}. */
const PROGRESS_EVERY_MS = 5000;

/**
 * A 64-bit hash of a row's JSON text `j` (the first 16 hex digits of its md5, as a signed bigint).
 * Summed over a table's rows of the tenant, it tells the rows the copy read from the rows the delete
 * removed, in any order.
 */
const ROW_HASH = `('x' || left(md5(j), 16))::bit(64)::bigint`;

/** The rows of one table as the copy read them or a delete removed them. */
interface Fingerprint {
  readonly rows: bigint;
  /** The sum of {@link ROW_HASH} over the rows. */
  readonly hashes: bigint;
}

/**
 * Deletes the tenant's rows of `table` and returns what the delete removed, hashed over the same
 * columns and JSON text as the copy (`xid8` columns left out).
 */
async function deleteRows(source: pg.Client, table: TenantTable, tenant: string): Promise<Fingerprint> {
  const copiedCols = table.columns.filter((c) => !table.transactionIdColumns.includes(c));
  const { rows } = await source.query<{ n: string; h: string }>(
    `with gone as (delete from ${table.qualified} where tenant_id = $1 returning ${copiedCols.join(', ')})
     select count(*)::text as n, coalesce(sum(${ROW_HASH}), 0)::text as h from (select row_to_json(gone)::text as j from gone) r`,
    [tenant],
  );
  return { rows: BigInt(rows[0]!.n), hashes: BigInt(rows[0]!.h) };
}

/**
 * Whether `table` holds projection view rows: each carries the position of the last event it applied
 * (`last_transaction_id xid8`, `last_position`, decision 0030). Projectors write them without a
 * tenant, so they may change during the copy; the target's projectors apply the copied events after
 * the copied rows' positions, so a copied row that was behind catches up there.
 */
function isViewTable(db: Pick<pg.ClientBase, 'escapeIdentifier'>, table: TenantTable): boolean {
  return table.transactionIdColumns.includes(db.escapeIdentifier('last_transaction_id')) && table.columns.includes(db.escapeIdentifier('last_position'));
}

/** Every `projection_checkpoints` table of `schemas` (qualified, escaped), in schema order. */
async function projectionCheckpointTables(db: Pick<pg.ClientBase, 'query' | 'escapeIdentifier'>, schemas: readonly string[]): Promise<string[]> {
  const { rows } = await db.query<{ schema: string }>(
    `select n.nspname as schema from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relname = 'projection_checkpoints' and c.relkind in ('r', 'p') and n.nspname = any($1::text[])
      order by n.nspname`,
    [schemas],
  );
  return rows.map((r) => `${db.escapeIdentifier(r.schema)}.projection_checkpoints`);
}

/**
 * Moves one tenant to its own database: checks both databases, migrates the target, fences the tenant's writes, copies
 * every tenant row (tables found in the catalog, parents first; with `brigade.tenant_copy` set, so
 * triggers do not write again what is being copied; `xid8` transaction ids rewritten to the copy's own;
 * sequences advanced past the copied ids), switches the placement and deletes the old rows, then
 * lifts the fence. Writers refused by the fence meanwhile wait without a connection and continue on
 * the new database (see createTenantRouter).
 *
 * Before anything is migrated or written, the move refuses what it can tell from the shared database
 * (an unknown or already moved tenant, a role that cannot see past Row-Level Security), then opens the
 * target (`openMoveTarget`): a connection failure is `TENANT_TARGET_UNREACHABLE`; it takes the target's
 * move lock, a session lock on a fixed key there, so a second move into the same database is refused
 * at once (`TENANT_TARGET_BUSY`) instead of copying beside the first; and it refuses a database that
 * holds what is not Brigade's, the shared database itself, and one that serves or holds another
 * restaurant. The fence waits at most `fenceWaitMs` for the tenant's transactions in flight
 * (`takeTenantFence`, which names them meanwhile). The sessions set `client_connection_check_interval`,
 * so a killed client's statement stops and its locks go, and keepalives and a TCP user timeout on both
 * ends (`moveClient`, `moveSessionSettings`), so a connection whose peer went silent (packets dropped)
 * fails instead of waiting for ever: within about half a minute on the server's side, which releases
 * the fence, and about 11 to 15 minutes on the move's (the system's probe interval). The shared
 * database also ends the move's session after a minute idle inside a transaction (the copy waiting for a
 * silent target). An abort closes the move's connections, so it ends at once whatever the databases do.
 *
 * The copy reads one REPEATABLE READ snapshot of the source, which it then ends (it only read). The
 * deletes and the placement run in a new READ COMMITTED transaction of the same connection (the fence
 * is a session lock of that connection, so it still holds):
 * 1. The rows of tables that are not views are deleted first, and what each delete removes must be
 *    exactly what was copied (count and a sum of row hashes, both sides of the same `row_to_json`
 *    text): background work without a tenant is not fenced (a saga runner's lease, a deadline fired
 *    with its saga's step), and a change it made after the snapshot would be lost with the old row.
 *    Then the move fails with `TENANT_CHANGED_DURING_MOVE` and can be run again.
 * 2. Every `projection_checkpoints` table of the moving schemas is locked (EXCLUSIVE: projector batches
 *    in flight end first, new ones and new checkpoint rows wait for the commit) and its `epoch` goes
 *    up by one. Projectors run without a tenant, so the fence does not hold them: without this a batch
 *    running across the delete wrote the moved restaurant's view rows back, and the process's shared
 *    tail of the log served its events, read before the delete, to a projector that was behind. After
 *    the commit every batch reads the new epoch, and the tail drops what it read under the old one
 *    (see `readSharedPage`).
 * 3. Then the view tables' rows (a view row carries `last_transaction_id` and `last_position`) are
 *    deleted: this statement sees every row the batches wrote, and they may differ from the copy,
 *    since the target's projectors apply the copied events after the copied rows' positions.
 * 4. The placement is recorded, with the last row each shared outbox's relay has yet to publish
 *    (`readOutboxMarks`: outbox rows have no tenant, so they stay), and the transaction commits. The
 *    new database's relays wait until the shared relays have passed those rows (`waitForMovedMessages`),
 *    so the tenant's messages leave in the order they were written.
 *
 * The target commits before that transaction begins; if the process dies (or the transaction fails)
 * before the source commits, the source is still authoritative and a rerun starts by clearing the
 * target's copy. The shared database's projectors wait from step 2 to the commit.
 *
 * @throws {BrigadeError} `TENANT_CHANGED_DURING_MOVE` (409): a row that is not a view row changed
 * after the copy read it; nothing moved. `TENANT_FENCE_TIMEOUT` (409): the tenant's transactions in
 * flight did not end within `fenceWaitMs`. `TENANT_MOVE_INTERRUPTED` (503): `signal` aborted before the
 * shared database's commit. `TENANT_TARGET_IN_USE`, `TENANT_TARGET_BUSY`, `TENANT_TARGET_NOT_BRIGADE`,
 * `TENANT_TARGET_IS_SOURCE`, `TENANT_TARGET_UNREACHABLE`, `TENANT_ALREADY_DEDICATED`,
 * `TENANT_MOVE_NEEDS_BYPASSRLS`, `TENANT_TABLE_MISSING`: refused, nothing moved.
 *
 * @example
 * await moveTenant({ tenantId, sourceUrl, targetUrl, sets: migrationSets(), schemas: MOVING_SCHEMAS, onProgress: console.log });
 */
export async function moveTenant(options: MoveTenantOptions): Promise<{ rows: Record<string, number> }> {
  const tenant = options.tenantId;
  const signal = options.signal;
  const everyMs = options.progressEveryMs ?? PROGRESS_EVERY_MS;
  let lastLineAt = performance.now();
  const progress = (line: string) => {
    lastLineAt = performance.now();
    options.onProgress?.(line);
  };
  /** What the move is doing now: the heartbeat's line, and what an interruption stopped. */
  let doing = 'checking the shared database';
  /** When the fence was taken (`performance.now()`). */
  let fencedAt: number | undefined;
  const heldFor = () => (fencedAt === undefined ? '0.0 s' : seconds(fencedAt));
  // A long copy, delete or check says what it is doing, and how long the tenant's writes have waited.
  const heartbeat = setInterval(() => {
    if (fencedAt !== undefined && performance.now() - lastLineAt >= everyMs) progress(`  … ${doing}; tenant ${tenant}'s writes held for ${heldFor()}`);
  }, Math.max(10, everyMs / 4));
  heartbeat.unref();

  /** The move's sessions (database and backend), whose running statement an abort cancels. */
  const sessions: Array<{ readonly url: string; readonly pid: number }> = [];
  const cancels: Array<Promise<void>> = [];
  /** The shared database's commit has been sent: from then on an abort changes nothing. */
  let committing = false;
  /** The target's copy has committed (and is left there, unplaced, by a failure before the source commits). */
  let copyCommitted = false;
  const source = moveClient(options.sourceUrl, 'brigade-tenant-move');
  let target: pg.Client | undefined;
  const onAbort = () => {
    if (committing) return;
    for (const s of sessions) cancels.push(cancelBackend(s.url, s.pid, 'brigade-tenant-move-cancel'));
    // A database that stopped answering answers neither the statement nor its cancel: closing the move's
    // own connections fails the statement waiting at once (the move then says nothing moved), and each
    // server, its client gone, rolls the session's transaction back and releases its locks (the fence,
    // the target's move lock). The cancels still stop a running statement at once on any server.
    void source.end().catch(() => undefined);
    void target?.end().catch(() => undefined);
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  /** Between statements: an abort that came meanwhile stops the move here. */
  const checkpoint = () => signal?.throwIfAborted();
  const enter = async (client: pg.Client, url: string, which: 'shared' | 'target') => {
    const { rows } = await client.query<{ pid: number }>(CLIENT_CONNECTION_CHECK);
    sessions.push({ url, pid: rows[0]!.pid });
    await client.query(moveSessionSettings(which));
  };

  const rows: Record<string, number> = {};
  try {
    await source.connect();
    await enter(source, options.sourceUrl, 'shared');
    // Every refusal that needs no table of the target's comes before the target is touched, and every
    // other one before it is migrated: a refused move leaves the database it was pointed at as it was.
    await refuseWithoutBypass(source, 'shared');
    const restaurant = await source.query(`select r.*, to_jsonb(c) as city from platform.restaurants r join platform.cities c on c.id = r.city_id where r.id = $1`, [tenant]);
    if (restaurant.rowCount === 0) throw new NotFoundError('restaurant', tenant);
    await refuseIfPlaced(source, tenant);
    checkpoint();
    doing = 'checking the target database';
    target = await openMoveTarget({ url: options.targetUrl, tenantId: tenant, schemas: [...options.sets.map((s) => s.name), ...options.schemas], source, signal });
    // An abort from here on closes it (onAbort); one that came as it was returned stops the move here.
    checkpoint();
    await enter(target, options.targetUrl, 'target');
    await refuseWithoutBypass(target, 'target');
    // One restaurant per dedicated database: the workers of a database in the catalog act on every
    // tenant row in it, so a copy that a failed move left behind in such a database would be served
    // (its sagas' deadlines fired, its events projected) beside the live rows in the shared database.
    // A database that serves nobody yet runs no workers, and a rerun clears the copy first. Read under
    // the target's move lock (openMoveTarget): no other move's copy is in flight there.
    const taken = await source.query(`select 1 from platform.tenant_placements where database_url = $1 and tenant_id <> $2 limit 1`, [options.targetUrl, tenant]);
    if ((taken.rowCount ?? 0) > 0) {
      throw new BrigadeError('TENANT_TARGET_IN_USE', 409, `That database already serves another restaurant; a dedicated database serves one restaurant. Create a new, empty database and move tenant ${tenant} there`);
    }
    await refuseOtherTenants(target, tenant, await tenantTables(target, options.schemas));
    checkpoint();

    doing = 'migrating the target database';
    progress(`migrating the target database …`);
    // An abort cancels the migration's running statement too (and ends its session, releasing its lock).
    const migrating = runMigrations({ url: options.targetUrl, sets: options.sets, onProgress: (l) => progress(`  ${l}`), signal });
    migrating.catch(() => undefined); // an interruption stops waiting for it; it ends on its own
    try {
      await (signal === undefined ? migrating : Promise.race([migrating, abortOf(signal)]));
    } catch (error) {
      throw targetConnectionError(error, options.targetUrl) ?? error;
    }
    checkpoint();

    const context = `select set_config('brigade.tenant_id', $1, false), set_config('brigade.actor_kind', 'admin', false), set_config('brigade.actor_id', 'tenant-move', false)`;
    await source.query(context, [tenant]);
    await target.query(context, [tenant]);

    doing = `waiting for tenant ${tenant}'s transactions in flight`;
    // Exclusive here, shared in every tenant transaction (platform.enter_tenant): from now on the
    // tenant's new transactions are refused (BRMVG) and wait in the router without a connection, and
    // the ones in flight have finished when this returns (or it gives up, nothing moved).
    const fenceAsked = performance.now();
    await takeTenantFence({ session: source, url: options.sourceUrl, tenantId: tenant, waitMs: options.fenceWaitMs ?? DEFAULT_FENCE_WAIT_MS, reportEveryMs: everyMs, progress });
    fencedAt = performance.now();
    try {
      progress(`fenced tenant ${tenant} after ${seconds(fenceAsked)}: its new transactions wait until the move ends`);
      doing = 'checking the shared and the target database under the fence';
      // Another move of the tenant may have ended while this one waited for the fence.
      await refuseIfPlaced(source, tenant);
      // The placement catalog stays where it is: it is what says the tenant has moved.
      // Tables that the migrations make, so the target has them too: a rebuild's shadow (`<view>_rebuild`)
      // exists only in the source, and the rebuild refuses to swap it in after a move (its epoch check).
      const targetTables = await tenantTables(target, options.schemas);
      const migrated = new Set(targetTables.map((t) => t.qualified));
      const sourceTables = (await tenantTables(source, options.schemas)).filter((t) => !(t.schema === 'platform' && t.name === 'tenant_placements') && !isRebuildTable(t.name));
      const missing = sourceTables.filter((t) => !migrated.has(t.qualified));
      if (missing.length > 0) {
        throw new BrigadeError('TENANT_TABLE_MISSING', 409, `The target database lacks ${missing.map((t) => `${t.schema}.${t.name}`).join(', ')}, which the shared one has: run brigade migrate, then the move again`);
      }
      const tables = sourceTables;
      await refuseOtherTenants(target, tenant, targetTables);
      const checkpointTables = await projectionCheckpointTables(source, options.schemas);
      /** Per table (qualified): the rows the copy read, counted and hashed as `deleteRows` does. */
      const copiedPrints = new Map<string, Fingerprint>();
      await target.query('begin');
      // Menu's history trigger (and any trigger that honours it) writes nothing for copied rows: their
      // history and versions are copied as they are (menu migration 0006).
      await target.query(`select set_config('brigade.tenant_copy', 'on', true)`);
      await target.query(
        `insert into platform.cities select * from json_populate_record(null::platform.cities, $1::json) on conflict (id) do nothing`,
        [JSON.stringify(restaurant.rows[0].city)],
      );
      const { city: _city, ...restaurantRow } = restaurant.rows[0] as Record<string, unknown>;
      await target.query(`insert into platform.restaurants select * from json_populate_record(null::platform.restaurants, $1::json) on conflict (id) do nothing`, [
        JSON.stringify(restaurantRow),
      ]);
      doing = 'clearing what an earlier move of the tenant left in the target database';
      for (const table of [...tables].reverse()) await target.query(`delete from ${table.qualified} where tenant_id = $1`, [tenant]);
      await source.query('begin isolation level repeatable read read only');
      const copyStarted = performance.now();
      for (const table of tables) {
        const name = `${table.schema}.${table.name}`;
        doing = `copying ${name}`;
        const cols = table.columns.join(', ');
        // Transaction ids are the source server's: on the target they may lie ahead of its own (an
        // append then refuses the stream as reordered, readers below the oldest running transaction
        // skip the rows). Every copied one becomes the copy's own transaction id, committed before
        // any later writer of the tenant starts there; copied rows keep their positions, so one
        // stream's events keep their order (decision 0008 says what else this means).
        const copiedCols = table.columns.filter((c) => !table.transactionIdColumns.includes(c));
        const values = table.columns.map((c) => (table.transactionIdColumns.includes(c) ? 'pg_current_xact_id()' : c)).join(', ');
        // Rows travel as PostgreSQL's own JSON text, never as driver values: a Date keeps milliseconds
        // only and turns 'infinity' (an open menu.history range) into null.
        await source.query(
          `declare rows_cursor no scroll cursor for select j, ${ROW_HASH} as h from (select row_to_json(r)::text as j from (select ${copiedCols.join(', ')} from ${table.qualified} where tenant_id = $1) r) r`,
          [tenant],
        );
        const started = performance.now();
        let copied = 0;
        let hashes = 0n;
        for (;;) {
          checkpoint();
          const batch = await source.query<{ j: string; h: string }>(`fetch ${BATCH} from rows_cursor`);
          if (batch.rowCount === 0) break;
          await target.query(
            `insert into ${table.qualified} (${cols}) ${table.identityAlways ? 'overriding system value' : ''}
             select ${values} from json_populate_recordset(null::${table.qualified}, $1::json)`,
            [`[${batch.rows.map((r) => r.j).join(',')}]`],
          );
          copied += batch.rowCount ?? 0;
          for (const r of batch.rows) hashes += BigInt(r.h);
          doing = `copying ${name}: ${copied} row(s) so far (${rate(copied, started)})`;
        }
        await source.query('close rows_cursor');
        copiedPrints.set(table.qualified, { rows: BigInt(copied), hashes });
        // Copied ids were inserted past the target's sequence: move it beyond them, or the next
        // insert draws an id that is taken (payments.saga_deadlines). Never backwards.
        for (const { column, sequence } of table.sequences) {
          await target.query(`select setval($1::regclass, greatest(max(${column}), pg_sequence_last_value($1::regclass))) from ${table.qualified} having max(${column}) is not null`, [sequence]);
        }
        rows[name] = copied;
        progress(`  copied ${copied} row(s) of ${name} in ${seconds(started)} (${rate(copied, started)}); writes held for ${heldFor()}`);
      }
      // The snapshot only read. The deletes need a later one: the rows projectors write meanwhile
      // (step 3 of the JSDoc), and updating checkpoint rows they changed after it would fail (40001).
      await source.query('commit');
      checkpoint();
      doing = 'committing the copy in the target database';
      // The copy is durable in the target before the source lets go of anything.
      await target.query('commit');
      copyCommitted = true;
      const copiedRows = Object.values(rows).reduce((a, b) => a + b, 0);
      progress(`copied ${copiedRows} row(s) in ${seconds(copyStarted)} (${rate(copiedRows, copyStarted)}); deleting them from the shared database, each table checked against the copy …`);
      await source.query('begin isolation level read committed');
      const views = tables.filter((t) => isViewTable(source, t));
      for (const table of [...tables].reverse()) {
        if (views.includes(table)) continue;
        checkpoint();
        const name = `${table.schema}.${table.name}`;
        doing = `deleting the rows of ${name} from the shared database and checking them against the copy`;
        progress(`  ${doing} …`);
        const started = performance.now();
        const deleted = await deleteRows(source, table, tenant);
        const copied = copiedPrints.get(table.qualified);
        if (copied === undefined || deleted.rows !== copied.rows || deleted.hashes !== copied.hashes) {
          throw new BrigadeError(
            'TENANT_CHANGED_DURING_MOVE',
            409,
            `Rows of tenant ${tenant} in ${name} changed while they were copied (background work without a tenant wrote them); nothing moved, run the move again`,
            { details: { table: name, copied: String(copied?.rows ?? 0n), found: String(deleted.rows) } },
          );
        }
        progress(`  deleted ${deleted.rows} row(s) of ${name} in ${seconds(started)} (${rate(Number(deleted.rows), started)}): the same rows as the copy; writes held for ${heldFor()}`);
      }
      if (checkpointTables.length > 0) {
        checkpoint();
        doing = 'holding the projectors: waiting for their batches in flight';
        progress(`${doing} …`);
        // EXCLUSIVE conflicts with the row lock every batch takes first (and with inserts of new
        // checkpoint rows, which take the epoch of the others), not with readers of the checkpoints.
        await source.query(`lock table ${checkpointTables.join(', ')} in exclusive mode`);
        for (const table of checkpointTables) await source.query(`update ${table} set epoch = epoch + 1`);
      }
      for (const table of [...views].reverse()) {
        checkpoint();
        doing = `deleting the view rows of ${table.schema}.${table.name} from the shared database`;
        progress(`  ${doing} …`);
        await source.query(`delete from ${table.qualified} where tenant_id = $1`, [tenant]);
      }
      checkpoint();
      doing = 'recording the placement';
      // Outbox rows have no tenant: what the shared relays have yet to publish stays here, and the new
      // database's relays start once the shared ones have passed it (waitForMovedMessages).
      const marks = await readOutboxMarks(source, options.schemas);
      const held = Object.keys(marks);
      if (held.length > 0) progress(`the shared relays of ${held.join(', ')} have messages to publish first: the new database's relays of those outboxes start once they have`);
      try {
        await source.query(
          `insert into platform.tenant_placements (tenant_id, database_url, outbox_marks) values ($1, $2, $3::jsonb)
           on conflict (tenant_id) do update set database_url = excluded.database_url, outbox_marks = excluded.outbox_marks,
             version = platform.tenant_placements.version + 1, moved_at = now()`,
          [tenant, options.targetUrl, JSON.stringify(marks)],
        );
      } catch (error) {
        if ((error as { code?: string; constraint?: string }).code !== '23505' || (error as { constraint?: string }).constraint !== 'tenant_placements_one_per_database') throw error;
        // Another restaurant was placed there meanwhile (platform migration 0018), by something that
        // did not take the target's move lock. This move's copy must not stay beside it.
        const cleared = await clearCopy(target, tables, tenant).then(
          () => true,
          () => false,
        );
        throw new BrigadeError(
          'TENANT_TARGET_IN_USE',
          409,
          `Another restaurant was placed in that database while this move ran; a dedicated database serves one restaurant. Nothing moved: tenant ${tenant} stays in the shared database` +
            (cleared ? ', and its copy was cleared from that database' : `; its copy is still in that database: delete tenant ${tenant}'s rows there`) +
            '. Create a new, empty database and move it there',
          { cause: error },
        );
      }
      checkpoint();
      committing = true;
      await source.query('commit');
      progress(`tenant ${tenant} now lives in its own database; its rows are gone from the shared one (its writes were held for ${heldFor()})`);
    } catch (error) {
      // An abort's cancel in flight lands before the rollback, not on it.
      await Promise.all(cancels);
      await target.query('rollback').catch(() => undefined);
      await source.query('rollback').catch(() => undefined);
      throw error;
    } finally {
      await releaseTenantFence(source, tenant).catch(() => undefined);
    }
    return { rows };
  } catch (error) {
    if (signal?.aborted !== true || committing) throw error;
    const why = typeof signal.reason === 'string' ? signal.reason : 'an abort';
    throw new BrigadeError(
      'TENANT_MOVE_INTERRUPTED',
      503,
      `The move of tenant ${tenant} was interrupted by ${why} while ${doing}: nothing moved. Its rows are in the shared database as before${fencedAt === undefined ? '' : ' and its writes run there again'}` +
        (copyCommitted ? ' (the copy left in the target database is cleared by the next move)' : '') +
        '. Run the same command again to move it',
      { details: { tenantId: tenant }, cause: error },
    );
  } finally {
    clearInterval(heartbeat);
    signal?.removeEventListener('abort', onAbort);
    await Promise.all(cancels);
    // Ending the sessions releases their locks (the target's move lock, the fence if its unlock failed).
    await source.end().catch(() => undefined);
    await target?.end().catch(() => undefined);
  }
}

/** Seconds since `since` (`performance.now()`), one decimal, with the unit. */
function seconds(since: number): string {
  return `${((performance.now() - since) / 1000).toFixed(1)} s`;
}

/** `n` rows over the time since `since`, as rows/s. */
function rate(n: number, since: number): string {
  return `${Math.round(n / Math.max((performance.now() - since) / 1000, 0.001))} rows/s`;
}

/** Rejects with the signal's reason once it aborts. */
function abortOf(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

/** Deletes the tenant's copy from the target (its rows, then its restaurant), writing no history for it. */
async function clearCopy(target: pg.Client, tables: readonly TenantTable[], tenant: string): Promise<void> {
  await target.query('begin');
  try {
    await target.query(`select set_config('brigade.tenant_copy', 'on', true)`);
    for (const table of [...tables].reverse()) await target.query(`delete from ${table.qualified} where tenant_id = $1`, [tenant]);
    await target.query(`delete from platform.restaurants where id = $1`, [tenant]);
    await target.query('commit');
  } catch (error) {
    await target.query('rollback').catch(() => undefined);
    throw error;
  }
}

/** A rebuild's shadow (`<view>_rebuild`) or the table a swap leaves (`<view>_old`): in the source only, never moved. */
function isRebuildTable(name: string): boolean {
  return name.endsWith('_rebuild') || name.endsWith('_old');
}

/**
 * A move reads and deletes every row of a tenant past Row-Level Security, so both sessions must bypass
 * it (superuser or BYPASSRLS): under the policies alone they would see no row, copy nothing, and place
 * the tenant in an empty database.
 */
async function refuseWithoutBypass(client: pg.Client, which: 'shared' | 'target'): Promise<void> {
  const role = await client.query<{ ok: boolean }>(`select rolsuper or rolbypassrls as ok from pg_roles where rolname = current_user`);
  if (role.rows[0]?.ok !== true) {
    throw new BrigadeError('TENANT_MOVE_NEEDS_BYPASSRLS', 409, `The ${which} database's connection role neither is a superuser nor has BYPASSRLS, so it cannot see every row of the tenant: connect as the migration owner with BYPASSRLS (ALTER ROLE … BYPASSRLS) and move again`);
  }
}

/** `TENANT_ALREADY_DEDICATED` when the catalog places the tenant in a dedicated database already. */
async function refuseIfPlaced(source: pg.Client, tenant: string): Promise<void> {
  const placed = await source.query<{ database_url: string | null }>(`select database_url from platform.tenant_placements where tenant_id = $1`, [tenant]);
  if (placed.rows[0]?.database_url != null) {
    throw new BrigadeError('TENANT_ALREADY_DEDICATED', 409, `Tenant ${tenant} already lives in a dedicated database; moving it again is not supported`);
  }
}

/**
 * One restaurant per dedicated database (decision 0008): the workers of a database in the catalog act on
 * every tenant row in it. So the target must hold no other restaurant and no other tenant's row, whether
 * placed there or left by a failed move (which a rerun of that move clears). Read under the target's move
 * lock, before the target is migrated (a database not migrated yet has no table to probe) and again under
 * the fence, as the move's own (superuser or BYPASSRLS) session.
 */
async function refuseOtherTenants(target: pg.Client, tenant: string, tables: readonly TenantTable[]): Promise<void> {
  const hasRestaurants = (await target.query<{ ok: boolean }>(`select to_regclass('platform.restaurants') is not null as ok`)).rows[0]?.ok === true;
  const probes = [...(hasRestaurants ? [`select 'platform.restaurants' as t from platform.restaurants where id <> $1`] : []), ...tables.map((t) => `select '${t.schema}.${t.name}' as t from ${t.qualified} where tenant_id <> $1`)];
  if (probes.length === 0) return;
  const found = await target.query<{ t: string }>(`${probes.map((p) => `(${p} limit 1)`).join(' union all ')} limit 1`, [tenant]);
  if ((found.rowCount ?? 0) > 0) {
    throw new BrigadeError(
      'TENANT_TARGET_IN_USE',
      409,
      `That database holds another restaurant's rows (${found.rows[0]!.t}); a dedicated database serves one restaurant. Create a new, empty database and move tenant ${tenant} there (or finish the move of the restaurant whose rows these are)`,
    );
  }
}
