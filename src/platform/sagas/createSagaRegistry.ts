import { ValidationError } from '../errors/index.ts';
import { SagaDefinitionError } from './sagaErrors.ts';
import type { AnySagaDefinition, SagaDefinition } from './types.ts';

/** Where a service keeps its sagas and which types it runs. */
export interface SagaRegistry {
  /** The schema holding `saga_instances` and `saga_deadlines` (see sagaSchemaSql). */
  readonly schema: string;
  /** The schema, quoted for SQL. */
  readonly table: (name: 'saga_instances' | 'saga_deadlines') => string;
  /** The definition of a saga type. @throws SagaDefinitionError for an unknown name. */
  definition(name: string): SagaDefinition<unknown, unknown>;
  readonly names: readonly string[];
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,40}$/;

/**
 * The saga types a service runs, and the schema their instances live in.
 *
 * @example
 * const sagas = createSagaRegistry({ schema: 'payments', sagas: [paymentSaga] });
 */
export function createSagaRegistry(options: { readonly schema: string; readonly sagas: ReadonlyArray<AnySagaDefinition> }): SagaRegistry {
  if (!IDENTIFIER.test(options.schema)) throw new ValidationError('schema must be a lower-case SQL identifier', { field: 'schema' });
  const byName = new Map<string, SagaDefinition<unknown, unknown>>();
  for (const saga of options.sagas) {
    if (byName.has(saga.name)) throw new SagaDefinitionError(`Saga ${saga.name} is registered twice`);
    byName.set(saga.name, saga as unknown as SagaDefinition<unknown, unknown>);
  }
  return Object.freeze({
    schema: options.schema,
    table: (name: 'saga_instances' | 'saga_deadlines') => `"${options.schema}".${name}`,
    definition: (name: string) => {
      const found = byName.get(name);
      if (found === undefined) throw new SagaDefinitionError(`No saga type ${JSON.stringify(name)} is registered (known: ${[...byName.keys()].join(', ')})`);
      return found;
    },
    names: Object.freeze([...byName.keys()]),
  });
}
