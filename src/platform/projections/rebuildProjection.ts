import pg from 'pg';
import { clientTx, serviceRole, unitOfWork, type Tx } from '../db/index.ts';
import { START, type GlobalPosition } from '../events/index.ts';
import { ensureCheckpoint } from './applyBatch.ts';
import { checkpointTable, qualifiedTable } from './defineProjection.ts';
import { RebuildInProgressError } from './errors.ts';
import type { ApplyContext, Projection } from './types.ts';

/** Where a rebuild is. */
export interface RebuildProgress {
  /** `replaying` into the shadow table, `swapping` (live projector paused, final catch-up), `done`. */
  readonly phase: 'replaying' | 'swapping' | 'done';
  /** Events read so far. */
  readonly events: number;
  /** Events in the log when the rebuild started (an estimate of the work; appends add to it). */
  readonly total: number;
  /** Events read per second since the rebuild started. */
  readonly eventsPerSecond: number;
  /** The shadow's checkpoint. */
  readonly checkpoint: GlobalPosition;
}

/** Options of {@link rebuildProjection}. */
export interface RebuildOptions {
  /** Events per replay transaction. Default 5000. */
  readonly batchSize?: number;
  /** Called after every replayed batch and at each phase. */
  readonly onProgress?: (progress: RebuildProgress) => void;
  /**
   * Called inside the swap transaction after the final catch-up, before the tables are renamed (the
   * live projector is paused there). For tests that force interleavings; leave unset otherwise.
   */
  readonly beforeSwap?: () => Promise<void>;
  /** Called after each replayed batch, outside any transaction. For tests; leave unset otherwise. */
  readonly afterBatch?: (events: number) => Promise<void>;
}

/** What a rebuild did. */
export interface RebuildResult {
  readonly events: number;
  readonly rows: number;
  readonly seconds: number;
  readonly checkpoint: GlobalPosition;
}

const MAX_CATCH_UP_PASSES = 100;

/**
 * Blue/green rebuild: replays the whole log into a new table beside the live one and swaps it in
 * atomically once it has caught up, so readers never see an empty or partial view.
 *
 * 1. Takes the projection's rebuild lock (one rebuild at a time) and creates `<table>_rebuild` like
 *    the live table: columns, defaults, checks, indexes (`LIKE … INCLUDING ALL`), then the live
 *    table's RLS settings, policies and grants, copied from the catalog.
 * 2. Replays every event into it in batches of `batchSize` as the service role (actor `system`),
 *    while the live projector keeps serving, until a batch comes back short of full.
 * 3. In ONE transaction: locks the live checkpoint row (every live batch locks it first, so the live
 *    projector pauses), replays what was appended meanwhile, moves the checkpoint to the shadow's,
 *    renames live → `<table>_old` and shadow → live (indexes renamed to the live names), drops the
 *    old table, commits. Readers that queued on the rename see the new table.
 *
 * `pool` must connect as the tables' owner (the migrating role): app roles own nothing and cannot
 * create or rename tables. The replay itself runs as `brigade_<service>` so RLS applies as usual.
 *
 * @throws {RebuildInProgressError} another rebuild of the projection is running.
 */
export async function rebuildProjection(pool: pg.Pool, projection: Projection, options: RebuildOptions = {}): Promise<RebuildResult> {
  const batchSize = options.batchSize ?? 5000;
  const started = performance.now();
  const key = `${projection.schema}.${projection.name}`;
  const live = qualifiedTable(projection);
  const shadowName = `${projection.table}_rebuild`;
  const oldName = `${projection.table}_old`;
  const shadow = qualifiedTable(projection, shadowName);
  const actor = { kind: 'system' as const, id: `rebuild.${projection.name}` };
  const owner = await pool.connect();
  let ownerError: Error | undefined;
  const onOwnerError = (error: Error) => (ownerError = error);
  owner.on('error', onOwnerError);
  let events = 0;
  let total = 0;
  let checkpoint: GlobalPosition = START;
  const progress = (phase: RebuildProgress['phase']) =>
    options.onProgress?.({ phase, events, total, checkpoint, eventsPerSecond: events / Math.max(1e-3, (performance.now() - started) / 1000) });

  try {
    const locked = await owner.query<{ ok: boolean }>(`select pg_try_advisory_lock(hashtext('brigade.projection-rebuild'), hashtext($1)) as ok`, [key]);
    if (locked.rows[0]?.ok !== true) throw new RebuildInProgressError(projection.name);
    try {
      total = await unitOfWork(pool, { service: projection.service, actor }, async (tx) => {
        await ensureCheckpoint(tx, projection);
        const { rows } = await tx.query<{ n: string }>(`select count(*)::text as n from ${pg.escapeIdentifier(projection.schema)}.events`);
        return Number(rows[0]?.n ?? 0);
      });
      await createShadow(owner, projection, shadowName);

      // 2. Replay while the live projector serves. The shadow starts empty and only this rebuild writes
      // it, so the rows it wrote are remembered across batches instead of read back.
      const context: ApplyContext = { rows: new Map(), complete: true, returnRows: false };
      const replayBatch = async (tx: Tx) => {
        const page = await projection.store.readAll(tx, { after: checkpoint, limit: batchSize });
        const relevant = projection.eventTypes === undefined ? page.events : page.events.filter((e) => projection.eventTypes!.has(e.type));
        if (relevant.length > 0) await projection.apply(tx, relevant, shadow, context);
        checkpoint = page.checkpoint;
        events += page.events.length;
        return page.events.length;
      };
      try {
        for (;;) {
          const read = await unitOfWork(pool, { service: projection.service, actor }, replayBatch);
          progress('replaying');
          if (options.afterBatch !== undefined) await options.afterBatch(events);
          if (read < batchSize) break;
        }

        // 3. Pause the live projector, catch up, swap, in one transaction.
        progress('swapping');
        await owner.query('begin');
        try {
          const role = pg.escapeIdentifier(serviceRole(projection.service));
          await owner.query(`set local role ${role}`);
          await owner.query(`select set_config('brigade.tenant_id', '', true), set_config('brigade.actor_kind', 'system', true), set_config('brigade.actor_id', $1, true)`, [actor.id]);
          const tx: Tx = clientTx(owner, { service: projection.service, actor });
          await tx.query(`select 1 from ${checkpointTable(projection)} where name = $1 for update`, [projection.name]);
          for (let pass = 0; (await replayBatch(tx)) > 0; pass++) {
            if (pass > MAX_CATCH_UP_PASSES) throw new Error('the log grows faster than the rebuild catches up; retry when appends slow down');
          }
          await tx.query(`update ${checkpointTable(projection)} set transaction_id = $2::xid8, position = $3::bigint, updated_at = now() where name = $1`, [
            projection.name,
            checkpoint.transactionId.toString(),
            checkpoint.position.toString(),
          ]);
          if (options.beforeSwap !== undefined) await options.beforeSwap();
          await owner.query('set local role none');
          await swapTables(owner, projection, live, shadowName, oldName);
          await owner.query('commit');
        } catch (error) {
          await owner.query('rollback').catch(() => undefined);
          throw error;
        }
      } catch (error) {
        await owner.query(`drop table if exists ${shadow}`).catch(() => undefined);
        throw error;
      }
      const rows = await unitOfWork(pool, { service: projection.service, actor }, async (tx) => Number((await tx.query<{ n: string }>(`select count(*)::text as n from ${live}`)).rows[0]?.n));
      progress('done');
      return { events, rows, seconds: (performance.now() - started) / 1000, checkpoint };
    } finally {
      await owner.query(`select pg_advisory_unlock(hashtext('brigade.projection-rebuild'), hashtext($1))`, [key]).catch(() => undefined);
    }
  } finally {
    owner.off('error', onOwnerError);
    owner.release(ownerError);
  }
}

/** Creates the shadow table like the live one, with its RLS flags, policies and grants. */
async function createShadow(owner: pg.PoolClient, projection: Projection, shadowName: string): Promise<void> {
  const live = qualifiedTable(projection);
  const shadow = qualifiedTable(projection, shadowName);
  const esc = pg.escapeIdentifier;
  const flags = await owner.query<{ rls: boolean; force: boolean }>(
    `select relrowsecurity as rls, relforcerowsecurity as force from pg_class where oid = $1::regclass`,
    [live],
  );
  const policies = await owner.query<{ name: string; permissive: string; roles: string[]; cmd: string; qual: string | null; check: string | null }>(
    `select policyname as name, permissive, roles::text[] as roles, cmd, qual, with_check as check
       from pg_policies where schemaname = $1 and tablename = $2 order by policyname`,
    [projection.schema, projection.table],
  );
  const grants = await owner.query<{ grantee: string; privilege: string }>(
    `select case when a.grantee = 0 then 'public' else a.grantee::regrole::text end as grantee, a.privilege_type as privilege
       from pg_class c, aclexplode(c.relacl) a
      where c.oid = $1::regclass and a.grantee <> c.relowner`,
    [live],
  );
  const statements = [`drop table if exists ${shadow}`, `create table ${shadow} (like ${live} including all)`];
  if (flags.rows[0]?.rls === true) statements.push(`alter table ${shadow} enable row level security`);
  if (flags.rows[0]?.force === true) statements.push(`alter table ${shadow} force row level security`);
  // Policy expressions come from the catalog (pg_policies deparses them), never from input.
  for (const p of policies.rows) {
    const roles = p.roles.map((r) => (r === 'public' ? 'public' : esc(r))).join(', ');
    statements.push(
      `create policy ${esc(p.name)} on ${shadow} as ${p.permissive === 'PERMISSIVE' ? 'permissive' : 'restrictive'} for ${p.cmd.toLowerCase()} to ${roles}` +
        (p.qual === null ? '' : ` using (${p.qual})`) +
        (p.check === null ? '' : ` with check (${p.check})`),
    );
  }
  statements.push(`revoke all on table ${shadow} from public`);
  for (const g of grants.rows) {
    if (!/^[A-Z ]+$/.test(g.privilege)) continue;
    statements.push(`grant ${g.privilege.toLowerCase()} on table ${shadow} to ${g.grantee === 'public' ? 'public' : esc(g.grantee.replace(/^"|"$/g, ''))}`);
  }
  await owner.query('begin');
  try {
    for (const sql of statements) await owner.query(sql);
    await owner.query('commit');
  } catch (error) {
    await owner.query('rollback').catch(() => undefined);
    throw error;
  }
}

/** Inside the caller's transaction: live → old, shadow → live, old dropped, indexes given the live names. */
async function swapTables(owner: pg.PoolClient, projection: Projection, live: string, shadowName: string, oldName: string): Promise<void> {
  const esc = pg.escapeIdentifier;
  const schema = esc(projection.schema);
  const indexes = async (table: string) =>
    (
      await owner.query<{ name: string; signature: string }>(
        `select c.relname as name,
                i.indisunique::text || i.indisprimary::text || split_part(pg_get_indexdef(i.indexrelid), ' USING ', 2) as signature
           from pg_index i join pg_class c on c.oid = i.indexrelid
          where i.indrelid = $1::regclass`,
        [table],
      )
    ).rows;
  const liveIndexes = await indexes(live);
  const shadowIndexes = await indexes(qualifiedTable(projection, shadowName));
  await owner.query(`lock table ${live} in access exclusive mode`);
  await owner.query(`alter table ${live} rename to ${esc(oldName)}`);
  await owner.query(`alter table ${qualifiedTable(projection, shadowName)} rename to ${esc(projection.table)}`);
  await owner.query(`drop table ${qualifiedTable(projection, oldName)}`);
  for (const index of shadowIndexes) {
    const twin = liveIndexes.find((l) => l.signature === index.signature);
    if (twin !== undefined && twin.name !== index.name) await owner.query(`alter index ${schema}.${esc(index.name)} rename to ${esc(twin.name)}`);
  }
}
