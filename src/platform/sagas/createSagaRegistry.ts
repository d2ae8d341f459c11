import { ValidationError } from '../errors/index.ts';
import { SagaDefinitionError, SagaTypeNotRegisteredError } from './sagaErrors.ts';
import type { AnySagaDefinition, SagaDefinition } from './types.ts';

/** The tables of a saga store (sagaSchemaSql, sagaLogSchemaSql). */
export type SagaTable = 'saga_instances' | 'saga_deadlines' | 'saga_log';

/** Where a service keeps its sagas and which types it runs. */
export interface SagaRegistry {
  /** The schema holding `saga_instances`, `saga_deadlines` and `saga_log` (see sagaSchemaSql, sagaLogSchemaSql). */
  readonly schema: string;
  /** A table of the saga store, qualified and quoted for SQL. */
  readonly table: (name: SagaTable) => string;
  /** The definition of a saga type. @throws SagaTypeNotRegisteredError for a name this registry does not hold. */
  definition(name: string): SagaDefinition<unknown, unknown>;
  /** The saga types it holds: the runner's claim and the deadline scheduler's take only sagas of these. */
  readonly names: readonly string[];
  /**
   * The SQL condition on a row's tenant that claims of saga work and firings of deadlines also require
   * (`'true'` unless the registry was given a `claimGuard`), for the row's tenant column `column`.
   */
  claimGuard(column: string): string;
}

/** Options of {@link createSagaRegistry}. */
export interface SagaRegistryOptions {
  /** The schema holding the saga store. */
  readonly schema: string;
  readonly sagas: ReadonlyArray<AnySagaDefinition>;
  /**
   * An SQL condition on a row's tenant (`column`, qualified) that a claim of saga work and a deadline's
   * firing also require: those run without a tenant, across tenants, and a row whose tenant it refuses
   * is left for a later poll. Brigade passes `tenantNotMoving` (decision 0008): while a restaurant moves
   * to its own database, work without a tenant must not change its sagas, or the move finds them changed
   * and fails. Default: every tenant's rows.
   */
  readonly claimGuard?: (column: string) => string;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,40}$/;

/**
 * The qualified tables of the saga store in `schema`, for code that reads sagas without running them
 * (inspection needs no saga definitions).
 *
 * @throws ValidationError when `schema` is not a lower-case SQL identifier.
 */
export function sagaTables(schema: string): (name: SagaTable) => string {
  if (!IDENTIFIER.test(schema)) throw new ValidationError('schema must be a lower-case SQL identifier', { field: 'schema' });
  return (name) => `"${schema}".${name}`;
}

/**
 * The saga types a service runs, and the schema their instances live in.
 *
 * @example
 * const sagas = createSagaRegistry({ schema: 'payments', sagas: [paymentSaga] });
 */
export function createSagaRegistry(options: SagaRegistryOptions): SagaRegistry {
  const table = sagaTables(options.schema);
  const byName = new Map<string, SagaDefinition<unknown, unknown>>();
  for (const saga of options.sagas) {
    if (byName.has(saga.name)) throw new SagaDefinitionError(`Saga ${saga.name} is registered twice`);
    byName.set(saga.name, saga as unknown as SagaDefinition<unknown, unknown>);
  }
  return Object.freeze({
    schema: options.schema,
    table,
    definition: (name: string) => {
      const found = byName.get(name);
      if (found === undefined) throw new SagaTypeNotRegisteredError(name, [...byName.keys()]);
      return found;
    },
    names: Object.freeze([...byName.keys()]),
    claimGuard: options.claimGuard ?? (() => 'true'),
  });
}
