import type pg from 'pg';
import { ValidationError } from '../errors/index.ts';

/** Who is acting: set per transaction and read by Row-Level Security policies. */
export interface Actor {
  /** `public`: an anonymous reader (read-only routes such as a restaurant's menu). */
  readonly kind: 'admin' | 'staff' | 'courier' | 'customer' | 'system' | 'public';
  /** The actor's id (a UUID), or a name for `system` actors. */
  readonly id: string;
}

/** What one transaction runs as. */
export interface UnitOfWorkContext {
  /** The service whose role the transaction takes (`SET LOCAL ROLE brigade_<service>`). */
  readonly service: string;
  /** The tenant (restaurant) id, or `null`/absent: tenant-scoped tables then show no rows. */
  readonly tenantId?: string | null;
  /** The actor, or absent. */
  readonly actor?: Actor | null;
  /** Isolation level. Default `read committed`. */
  readonly isolation?: 'read committed' | 'repeatable read' | 'serializable';
  /** Start the transaction `READ ONLY`. */
  readonly readOnly?: boolean;
}

/** The transaction handed to a unit of work's function. Pass it to gateways; never keep it. */
export interface Tx {
  /** Runs one statement with bound values. */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: readonly unknown[]): Promise<pg.QueryResult<R>>;
  /** The context this transaction runs as. */
  readonly context: UnitOfWorkContext;
  /** Registers work to run after a successful COMMIT (cache eviction, wake-ups). Not run on rollback. */
  afterCommit(fn: () => void | Promise<void>): void;
  /** Values of {@link UnitOfWorkOptions.setupSelect}, in order (empty when none was asked for). */
  readonly setup: readonly unknown[];
}

/** Options of {@link unitOfWork}. */
export interface UnitOfWorkOptions {
  /** Receives errors thrown by `afterCommit` callbacks (the commit stands). */
  readonly onAfterCommitError?: (error: unknown) => void;
  /**
   * Extra SQL expressions evaluated in the same round trip as BEGIN and the settings, after them
   * (so they see the role and tenant), e.g. the tenant fence. Platform code only: never user input.
   */
  readonly setupSelect?: readonly string[];
}

/** PostgreSQL settings the policies read; all `SET LOCAL`, so they end with the transaction. */
export const CONTEXT_SETTINGS = Object.freeze({
  tenantId: 'brigade.tenant_id',
  actorKind: 'brigade.actor_kind',
  actorId: 'brigade.actor_id',
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const SERVICE = /^[a-z][a-z0-9_]{0,40}$/;
const ACTOR_ID = /^[A-Za-z0-9_.:-]{1,100}$/;
const ACTOR_KINDS = new Set(['admin', 'staff', 'courier', 'customer', 'system', 'public']);

/** The database role a service's transactions run as. */
export function serviceRole(service: string): string {
  return `brigade_${service}`;
}

/**
 * Runs `fn` in one transaction on `pool`, as the service's role, with the tenant and actor set
 * for Row-Level Security. Everything is transaction-local (`SET LOCAL ROLE`, `set_config(…, true)`),
 * so a pooled connection never carries one request's role or tenant into the next.
 *
 * Commits when `fn` resolves, rolls back when it throws (and rethrows). `afterCommit` callbacks run
 * after COMMIT; their errors go to `onAfterCommitError` and never undo the committed work.
 *
 * @example
 * const item = await unitOfWork(pool, { service: 'menu', tenantId, actor }, (tx) =>
 *   tx.query('select * from menu.items where id = $1', [id]));
 */
export async function unitOfWork<T>(
  pool: pg.Pool,
  context: UnitOfWorkContext,
  fn: (tx: Tx) => Promise<T>,
  options: UnitOfWorkOptions = {},
): Promise<T> {
  validateContext(context);
  const client = await pool.connect();
  const hooks: Array<() => void | Promise<void>> = [];
  let result: T;
  try {
    // One round trip for BEGIN + role + settings: the simple-query protocol takes several statements,
    // but no bound values, so the values are validated above and escaped by the driver here.
    const lit = (v: string) => client.escapeLiteral(v);
    const begin = ['BEGIN', context.isolation ? `ISOLATION LEVEL ${context.isolation.toUpperCase()}` : '', context.readOnly ? 'READ ONLY' : '']
      .filter(Boolean)
      .join(' ');
    const extra = options.setupSelect ?? [];
    const results = (await client.query(
      `${begin}; SET LOCAL ROLE ${client.escapeIdentifier(serviceRole(context.service))}; ` +
        `SELECT set_config('${CONTEXT_SETTINGS.tenantId}', ${lit(context.tenantId ?? '')}, true), ` +
        `set_config('${CONTEXT_SETTINGS.actorKind}', ${lit(context.actor?.kind ?? '')}, true), ` +
        `set_config('${CONTEXT_SETTINGS.actorId}', ${lit(context.actor?.id ?? '')}, true)` +
        (extra.length === 0 ? '' : `; SELECT ${extra.map((e, i) => `${e} AS s${i}`).join(', ')}`),
    )) as unknown as pg.QueryResult[];
    const setupRow = extra.length === 0 ? undefined : results.at(-1)?.rows[0];
    result = await fn({
      context,
      setup: extra.map((_, i) => setupRow?.[`s${i}`]),
      query: (text, values) => client.query(text, values as unknown[] | undefined),
      afterCommit: (hook) => {
        hooks.push(hook);
      },
    });
    await client.query('COMMIT');
  } catch (error) {
    // Whatever failed (the setup, `fn` or COMMIT), end the transaction before the connection goes
    // back to the pool; a connection that cannot even roll back is destroyed, not reused.
    const rollbackError = await client.query('ROLLBACK').then(
      () => undefined,
      (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
    );
    client.release(rollbackError);
    throw error;
  }
  client.release();
  for (const hook of hooks) {
    try {
      await hook();
    } catch (error) {
      options.onAfterCommitError?.(error);
    }
  }
  return result;
}

function validateContext(context: UnitOfWorkContext): void {
  if (!SERVICE.test(context.service)) throw new ValidationError(`Unknown service name ${JSON.stringify(context.service)}`, { field: 'service' });
  if (context.tenantId != null && !UUID.test(context.tenantId)) throw new ValidationError('tenantId must be a UUID', { field: 'tenantId' });
  if (context.actor != null) {
    if (!ACTOR_KINDS.has(context.actor.kind)) throw new ValidationError('Unknown actor kind', { field: 'actor.kind' });
    if (!ACTOR_ID.test(context.actor.id)) throw new ValidationError('actor.id must be an id', { field: 'actor.id' });
  }
}
