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
}

/** PostgreSQL settings the policies read; all transaction-local, so they end with the transaction. */
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

// set_config('role', …, true) is SET LOCAL ROLE with a bound value, so role, tenant and actor travel as
// bound values of one statement instead of text escaped into SQL.
const SETTINGS: Statement = {
  name: 'brigade_settings',
  resultless: true,
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
  if (context.tenantId != null && !UUID.test(context.tenantId)) throw new ValidationError('tenantId must be a UUID', { field: 'tenantId' });
  if (context.actor != null) {
    if (!ACTOR_KINDS.has(context.actor.kind)) throw new ValidationError('Unknown actor kind', { field: 'actor.kind' });
    if (!ACTOR_ID.test(context.actor.id)) throw new ValidationError('actor.id must be an id', { field: 'actor.id' });
  }
}
