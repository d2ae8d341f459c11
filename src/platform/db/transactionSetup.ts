import type pg from 'pg';
import { ValidationError } from '../errors/index.ts';
import { isUuid } from '../ids/index.ts';

/** Who is acting: set per transaction and read by Row-Level Security policies. */
export interface Actor {
  /** `public`: an anonymous reader (read-only routes such as a restaurant's menu). */
  readonly kind: 'admin' | 'staff' | 'courier' | 'customer' | 'system' | 'public';
  /** The actor's id (a UUID), or a name for `system` actors. */
  readonly id: string;
}

/**
 * An actor as one string, `kind:id` (`staff:<id>`, `admin:ops`, `system:delivery-dispatch`): how the
 * outbox's `actor` header, the replica router's own-writes and the records of who changed what name it.
 */
export function actorName(actor: Actor): string {
  return `${actor.kind}:${actor.id}`;
}

/** What one transaction runs as. */
export interface UnitOfWorkContext {
  /** The service whose role the transaction takes (`brigade_<service>`, transaction-local). */
  readonly service: string;
  /** The tenant (restaurant) id, or `null`/absent: tenant-scoped tables then show no rows. */
  readonly tenantId?: string | null;
  /** The actor, or absent. */
  readonly actor?: Actor | null;
  /** Isolation level. Default `read committed`. */
  readonly isolation?: 'read committed' | 'repeatable read' | 'serializable';
  /** Start the transaction `READ ONLY`. */
  readonly readOnly?: boolean;
  /**
   * With `readOnly`: the read may run on the read replica (`DATABASE_REPLICA_URL`), where the tenant
   * router sends it unless the replica has not replayed this actor's own latest write or lags too far
   * (docs/decisions/0082). Only for reads whose answer goes back to a client; a read that decides a
   * write stays on the primary.
   */
  readonly replicaOk?: boolean;
  /**
   * With `replicaOk`: whose own writes the read must see, when that is not `actor` (a read that runs
   * as the anonymous public for RLS but is made by a signed-in caller). Default `actor`. On a write:
   * the caller it is made for, when it runs as another actor (a staff member's change of the
   * directory runs as the directory): it counts as their write too, which their next reads see.
   */
  readonly ownWritesOf?: Actor | null;
}

/** One SQL statement with bound values. */
export interface Statement {
  readonly text: string;
  readonly values?: readonly unknown[];
  /**
   * Prepare it on the server under this name, once per connection, and only bind and execute it
   * afterwards (in batches: `sendBatch`, `commitStatements`). For hot statements of constant text; one
   * name per text, `brigade_` prefixed.
   */
  readonly name?: string;
  /**
   * Nobody reads its result (the settings, the tenant fence): in batches it is sent without Describe
   * and its rows are not parsed; its result comes back empty.
   */
  readonly resultless?: boolean;
  /**
   * How this statement runs together with the same statement of other units of work as ONE statement
   * (group commit, docs/decisions/0063). Platform code only: the merged statements act for several
   * tenants at once.
   */
  readonly merge?: StatementMerge;
}

/**
 * Turns the same statement of several units of work into one. The group committer merges units only
 * when every statement of each has a merge, and their ids and keys agree statement by statement; the
 * merged statements run last in their transaction, and any failure among them runs the units again
 * unmerged, so each caller still gets its own result or error.
 */
export interface StatementMerge {
  /** Names what the statement does; units merge when their statements' ids are equal, in order. */
  readonly id: string;
  /** What else must be equal among the merged units (e.g. the role); `undefined`: this one cannot merge. Default `''`. */
  key?(values: readonly unknown[]): string | undefined;
  /** The one statement that does what the statements with these values (one per unit, in order) would do. */
  statement(values: readonly (readonly unknown[])[]): Statement;
  /** Each unit's result from the merged statement's. Absent: a resultless statement (empty results). */
  split?(result: pg.QueryResult, values: readonly (readonly unknown[])[]): pg.QueryResult[];
}

/** PostgreSQL settings the policies read; all transaction-local, so they end with the transaction. */
export const CONTEXT_SETTINGS = Object.freeze({
  tenantId: 'brigade.tenant_id',
  actorKind: 'brigade.actor_kind',
  actorId: 'brigade.actor_id',
  /**
   * The tenants of a merged batch (comma-separated UUIDs; docs/decisions/0063): set, with no tenant of
   * its own, by the transaction that appends for several tenants in one statement, after
   * `platform.enter_tenants` has fenced exactly these.
   */
  batchTenants: 'brigade.batch_tenants',
});

const SERVICE = /^[a-z][a-z0-9_]{0,40}$/;
const ACTOR_ID = /^[A-Za-z0-9_.:-]{1,100}$/;
const ACTOR_KINDS = new Set(['admin', 'staff', 'courier', 'customer', 'system', 'public']);

/** The database role a service's transactions run as. */
export function serviceRole(service: string): string {
  return `brigade_${service}`;
}

/**
 * Units of the same role and with a tenant merge into one settings statement: the role, no tenant and
 * no actor of their own, and the units' tenants as {@link CONTEXT_SETTINGS.batchTenants}. Only a tenant
 * id in canonical (lower-case) form merges: merged statements write it as the server prints a uuid,
 * where a unit alone writes it as its context gives it (the outbox's `tenant` header), so a unit whose
 * id is in another form runs unmerged and writes exactly what it would have written before.
 */
const SETTINGS_MERGE: StatementMerge = Object.freeze({
  id: 'brigade_settings',
  key: (values: readonly unknown[]) => {
    const tenant = values[1] as string;
    return tenant === '' || tenant !== tenant.toLowerCase() ? undefined : String(values[0]);
  },
  statement: (values: readonly (readonly unknown[])[]): Statement => ({
    name: 'brigade_batch_settings',
    resultless: true,
    text:
      `select set_config('role', $1, true), set_config('${CONTEXT_SETTINGS.tenantId}', '', true), ` +
      `set_config('${CONTEXT_SETTINGS.actorKind}', '', true), set_config('${CONTEXT_SETTINGS.actorId}', '', true), ` +
      `set_config('${CONTEXT_SETTINGS.batchTenants}', $2, true)`,
    values: [values[0]![0], values.map((v) => v[1]).join(',')],
  }),
});

// set_config('role', …, true) is SET LOCAL ROLE with a bound value, so role, tenant and actor travel as
// bound values of one statement instead of text escaped into SQL.
const SETTINGS: Statement = {
  name: 'brigade_settings',
  resultless: true,
  merge: SETTINGS_MERGE,
  text:
    `select set_config('role', $1, true), set_config('${CONTEXT_SETTINGS.tenantId}', $2, true), ` +
    `set_config('${CONTEXT_SETTINGS.actorKind}', $3, true), set_config('${CONTEXT_SETTINGS.actorId}', $4, true)`,
};

/**
 * The statements that open a unit of work: BEGIN (with the isolation level and access mode), then the
 * role, tenant and actor as transaction-local settings. Validates the context first.
 */
export function transactionSetup(context: UnitOfWorkContext): Statement[] {
  validateContext(context);
  const begin = ['BEGIN', context.isolation ? `ISOLATION LEVEL ${context.isolation.toUpperCase()}` : '', context.readOnly ? 'READ ONLY' : '']
    .filter(Boolean)
    .join(' ');
  return [
    { text: begin },
    { ...SETTINGS, values: [serviceRole(context.service), context.tenantId ?? '', context.actor?.kind ?? '', context.actor?.id ?? ''] },
  ];
}

function validateContext(context: UnitOfWorkContext): void {
  if (!SERVICE.test(context.service)) throw new ValidationError(`Unknown service name ${JSON.stringify(context.service)}`, { field: 'service' });
  if (context.tenantId != null && !isUuid(context.tenantId)) throw new ValidationError('tenantId must be a UUID', { field: 'tenantId' });
  if (context.actor != null) {
    if (!ACTOR_KINDS.has(context.actor.kind)) throw new ValidationError('Unknown actor kind', { field: 'actor.kind' });
    if (!ACTOR_ID.test(context.actor.id)) throw new ValidationError('actor.id must be an id', { field: 'actor.id' });
  }
}
