import pg from 'pg';
import { redact } from '../config/index.ts';
import { BrigadeError } from '../errors/index.ts';
import { TRACKING_TABLE } from '../migrations/index.ts';
import { moveClient } from './moveClient.ts';
import { refuseTargetIsSource } from './refuseTargetIsSource.ts';

/**
 * The session lock a move holds in its target database from before its first check to its end. Two
 * moves into one database would each check it empty before either copied (the checks cannot see an
 * uncommitted copy), and the loser's copy was left in the winner's dedicated database; a fixed key in
 * the target database serialises them whatever URL each was given for it.
 */
const MOVE_TARGET_LOCK = `hashtext('brigade.tenant_move_target'), 0`;

/** What to do about a failure to reach or enter the target database, by its error code. */
const CONNECTION_ADVICE: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'is PostgreSQL running there? Check the host and port',
  ETIMEDOUT: 'is PostgreSQL running there? Check the host and port',
  EHOSTUNREACH: 'check the host and port',
  ENETUNREACH: 'check the host and port',
  ENOTFOUND: 'check the host name',
  EAI_AGAIN: 'check the host name',
  '3D000': "create it (psql -c 'create database <name>'), empty, or check its name",
  '28000': 'check the user: PostgreSQL does not let it in',
  '28P01': 'check the user and password',
  '53300': 'the server has no connection to spare; retry later',
  '57P03': 'the server is starting or stopping; retry in a moment',
};

/** Options of {@link openMoveTarget}. */
export interface OpenMoveTargetOptions {
  readonly url: string;
  readonly tenantId: string;
  /** The schemas that are Brigade's (the migration sets' names); with any schema named `brigade_…`. */
  readonly schemas: readonly string[];
  /** The move's session on its source, the shared database: a target that is that database is refused before any other check. */
  readonly source: pg.Client;
  /**
   * Ends the connection when it aborts before the target is returned: a statement waiting for a target
   * that stopped answering then fails at once.
   */
  readonly signal?: AbortSignal;
}

/**
 * The error that says the move's target database (`url`, its password hidden) could not be reached or
 * entered, and what to do: `TENANT_TARGET_UNREACHABLE` (503), or undefined when `error` is no
 * connection failure.
 */
export function targetConnectionError(error: unknown, url: string, always = false): BrigadeError | undefined {
  const code = (error as { code?: string }).code ?? '';
  const advice = CONNECTION_ADVICE[code];
  if (advice === undefined && !always) return undefined;
  return new BrigadeError(
    'TENANT_TARGET_UNREACHABLE',
    503,
    `Cannot connect to the target database (--to-database ${redact(url)}): ${(error as Error).message ?? String(error)}; ${advice ?? 'check its host, port, user and name'}. Nothing moved`,
    { details: { code }, cause: error },
  );
}

/**
 * Opens the move's session on its target database (a failure to connect is
 * `TENANT_TARGET_UNREACHABLE`, never a driver error the CLI would blame on DATABASE_URL), checks first
 * that it is not the source ({@link refuseTargetIsSource}), takes the move's lock there and checks that
 * the database is Brigade's or empty, all before anything is migrated or written there. The lock is the
 * session's: it lasts until the session ends. The client is a {@link moveClient}: it gives up on a
 * target that does not let it in, and probes an idle connection.
 *
 * @throws {BrigadeError} `TENANT_TARGET_UNREACHABLE` (503); `TENANT_TARGET_IS_SOURCE` (409): it is the
 * shared database itself; `TENANT_TARGET_BUSY` (409): another move into that database is running;
 * `TENANT_TARGET_NOT_BRIGADE` (409): it holds schemas or tables that are not Brigade's (a mistyped URL
 * that names another application's database).
 */
export async function openMoveTarget(options: OpenMoveTargetOptions): Promise<pg.Client> {
  const target = moveClient(options.url, 'brigade-tenant-move');
  const stop = () => void target.end().catch(() => undefined);
  options.signal?.addEventListener('abort', stop, { once: true });
  try {
    try {
      await target.connect();
    } catch (error) {
      await target.end().catch(() => undefined);
      throw targetConnectionError(error, options.url, true);
    }
    options.signal?.throwIfAborted();
    // First: the shared database itself holds what a Brigade target must not (the stand-in provider's
    // schema), and "another application's" would hide the mistake.
    await refuseTargetIsSource(options.source, target);
    const locked = await target.query<{ ok: boolean }>(`select pg_try_advisory_lock(${MOVE_TARGET_LOCK}) as ok`);
    if (locked.rows[0]?.ok !== true) {
      throw new BrigadeError(
        'TENANT_TARGET_BUSY',
        409,
        `Another move into that database (--to-database ${redact(options.url)}) is running; wait for it to finish. Nothing moved: tenant ${options.tenantId} stays where it is. ` +
          'A dedicated database serves one restaurant, so once that move has placed its own, give this one a new, empty database',
      );
    }
    await refuseForeignObjects(target, options.schemas);
    return target;
  } catch (error) {
    await target.end().catch(() => undefined);
    throw error;
  } finally {
    options.signal?.removeEventListener('abort', stop);
  }
}

/**
 * Refuses a target that holds what Brigade's migrations would not have made: a schema other than
 * `public`, Brigade's (`schemas`, the migrations' own, any `brigade_…`) and the system's, or a table,
 * view or sequence outside Brigade's schemas. What an extension made is left out (its objects are its
 * own, whatever schema they are in).
 */
async function refuseForeignObjects(target: pg.Client, schemas: readonly string[]): Promise<void> {
  const ours = [...new Set([...schemas, TRACKING_TABLE.split('.')[0] ?? ''])];
  const { rows } = await target.query<{ name: string }>(
    `with foreign_schemas as (
       select n.oid, n.nspname from pg_namespace n
        where n.nspname <> all($1::text[]) and n.nspname not like 'brigade\\_%'
          and n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast') and n.nspname not like 'pg\\_temp\\_%' and n.nspname not like 'pg\\_toast\\_temp\\_%'
          and not exists (select 1 from pg_depend d where d.classid = 'pg_namespace'::regclass and d.objid = n.oid and d.deptype = 'e'))
     select format('%I.%I', s.nspname, c.relname) as name from pg_class c join foreign_schemas s on s.oid = c.relnamespace
      where c.relkind in ('r', 'p', 'v', 'm', 'f', 'S')
        and not exists (select 1 from pg_depend d where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e')
     union all
     select format('%I', s.nspname) || ' (schema)' from foreign_schemas s where s.nspname <> 'public'
     order by 1`,
    [ours],
  );
  if (rows.length === 0) return;
  const shown = rows.slice(0, 5).map((r) => r.name).join(', ');
  throw new BrigadeError(
    'TENANT_TARGET_NOT_BRIGADE',
    409,
    `That database holds ${rows.length === 1 ? 'a table or schema' : `${rows.length} tables or schemas`} that ${rows.length === 1 ? 'is' : 'are'} not Brigade's (${shown}${rows.length > 5 ? ', …' : ''}): ` +
      'is the URL that of another application? Nothing was changed there; create a new, empty database and move the tenant there',
    { details: { objects: rows.slice(0, 20).map((r) => r.name) } },
  );
}
