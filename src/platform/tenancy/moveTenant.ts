import pg from 'pg';
import { BrigadeError, NotFoundError } from '../errors/index.ts';
import { runMigrations, type MigrationSet } from '../migrations/index.ts';
import { tenantTables } from './tenantTables.ts';

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
}

const BATCH = 5000;

/**
 * Moves one tenant to its own database: migrates the target, fences the tenant's writes, copies
 * every tenant row (tables found in the catalog, parents first; with `brigade.tenant_copy` set, so
 * triggers do not write again what is being copied; `xid8` transaction ids rewritten to the copy's own;
 * sequences advanced past the copied ids), switches the placement and deletes the old rows, then
 * lifts the fence. Writers refused by the fence meanwhile wait without a connection and continue on
 * the new database (see createTenantRouter). The target commits first; if the process dies before the source commits,
 * the source is still authoritative and a rerun starts by clearing the target's copy.
 */
export async function moveTenant(options: MoveTenantOptions): Promise<{ rows: Record<string, number> }> {
  const progress = options.onProgress ?? (() => undefined);
  const tenant = options.tenantId;
  progress(`migrating the target database …`);
  await runMigrations({ url: options.targetUrl, sets: options.sets, onProgress: (l) => progress(`  ${l}`) });

  const source = new pg.Client({ connectionString: options.sourceUrl, application_name: 'brigade-tenant-move' });
  const target = new pg.Client({ connectionString: options.targetUrl, application_name: 'brigade-tenant-move' });
  await source.connect();
  await target.connect();
  const rows: Record<string, number> = {};
  try {
    const context = `select set_config('brigade.tenant_id', $1, false), set_config('brigade.actor_kind', 'admin', false), set_config('brigade.actor_id', 'tenant-move', false)`;
    await source.query(context, [tenant]);
    await target.query(context, [tenant]);
    const restaurant = await source.query(`select r.*, to_jsonb(c) as city from platform.restaurants r join platform.cities c on c.id = r.city_id where r.id = $1`, [tenant]);
    if (restaurant.rowCount === 0) throw new NotFoundError('restaurant', tenant);
    const placed = await source.query<{ database_url: string | null }>(`select database_url from platform.tenant_placements where tenant_id = $1`, [tenant]);
    if (placed.rows[0]?.database_url != null) {
      throw new BrigadeError('TENANT_ALREADY_DEDICATED', 409, `Tenant ${tenant} already lives in a dedicated database; moving it again is not supported`);
    }

    progress(`fencing tenant ${tenant}: waiting for its transactions in flight to finish …`);
    // Exclusive here, shared in every tenant transaction (platform.enter_tenant): from now on the
    // tenant's new transactions are refused (BRMVG) and wait in the router without a connection, and
    // the ones in flight have finished when this returns.
    await source.query(`select pg_advisory_lock(hashtext('brigade.tenant_fence'), hashtext($1::uuid::text))`, [tenant]);
    try {
      // The placement catalog stays where it is: it is what says the tenant has moved.
      const tables = (await tenantTables(source, options.schemas)).filter((t) => !(t.schema === 'platform' && t.name === 'tenant_placements'));
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
      for (const table of [...tables].reverse()) await target.query(`delete from ${table.qualified} where tenant_id = $1`, [tenant]);
      await source.query('begin isolation level repeatable read');
      for (const table of tables) {
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
          `declare rows_cursor no scroll cursor for select row_to_json(r)::text as j from (select ${copiedCols.join(', ')} from ${table.qualified} where tenant_id = $1) r`,
          [tenant],
        );
        let copied = 0;
        for (;;) {
          const batch = await source.query<{ j: string }>(`fetch ${BATCH} from rows_cursor`);
          if (batch.rowCount === 0) break;
          await target.query(
            `insert into ${table.qualified} (${cols}) ${table.identityAlways ? 'overriding system value' : ''}
             select ${values} from json_populate_recordset(null::${table.qualified}, $1::json)`,
            [`[${batch.rows.map((r) => r.j).join(',')}]`],
          );
          copied += batch.rowCount ?? 0;
        }
        await source.query('close rows_cursor');
        // Copied ids were inserted past the target's sequence: move it beyond them, or the next
        // insert draws an id that is taken (payments.saga_deadlines). Never backwards.
        for (const { column, sequence } of table.sequences) {
          await target.query(`select setval($1::regclass, greatest(max(${column}), pg_sequence_last_value($1::regclass))) from ${table.qualified} having max(${column}) is not null`, [sequence]);
        }
        rows[`${table.schema}.${table.name}`] = copied;
        progress(`  copied ${copied} row(s) of ${table.schema}.${table.name}`);
      }
      // The copy is durable in the target before the source lets go of anything.
      await target.query('commit');
      for (const table of [...tables].reverse()) await source.query(`delete from ${table.qualified} where tenant_id = $1`, [tenant]);
      await source.query(
        `insert into platform.tenant_placements (tenant_id, database_url) values ($1, $2)
         on conflict (tenant_id) do update set database_url = excluded.database_url, version = platform.tenant_placements.version + 1, moved_at = now()`,
        [tenant, options.targetUrl],
      );
      await source.query('commit');
      progress(`tenant ${tenant} now lives in its own database; its rows are gone from the shared one`);
    } catch (error) {
      await target.query('rollback').catch(() => undefined);
      await source.query('rollback').catch(() => undefined);
      throw error;
    } finally {
      await source.query(`select pg_advisory_unlock(hashtext('brigade.tenant_fence'), hashtext($1::uuid::text))`, [tenant]).catch(() => undefined);
    }
    return { rows };
  } finally {
    await source.end().catch(() => undefined);
    await target.end().catch(() => undefined);
  }
}
