import { before } from 'node:test';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { buildPaymentProvider, ensureProviderSchema, NO_FAULTS, type ProviderFaults } from '../../../../src/services/payments/provider/index.ts';
import { useTestDatabase } from '../../../support/db.ts';

/** The stand-in provider of {@link listeningProvider}: its database pool, its address and its faults. */
export interface ProviderFixture {
  /** A pool on the provider's test database (its schema in place). */
  readonly pool: pg.Pool;
  /** The provider's app (for `inject`). */
  readonly app: FastifyInstance;
  /** Where the provider listens, e.g. `http://127.0.0.1:41234`. */
  readonly baseUrl: string;
  /** The faults the provider applies to the next requests; see {@link withFaults}. */
  faults: ProviderFaults;
}

/**
 * The stand-in payment provider on a test database of its own, listening on a free port. Call it in a
 * `describe`: it registers the `before` that starts it and the `after` that stops it and drops the
 * database; the returned object is filled in by the time the tests run.
 */
export function listeningProvider(poolSize = 5): ProviderFixture {
  const database = useTestDatabase();
  const fixture = { pool: undefined as unknown as pg.Pool, app: undefined as unknown as FastifyInstance, baseUrl: '', faults: NO_FAULTS };
  before(async () => {
    fixture.pool = database.pool(poolSize);
    await ensureProviderSchema(fixture.pool);
    fixture.app = await buildPaymentProvider({ pool: fixture.pool, faults: () => fixture.faults });
    database.defer(() => fixture.app.close());
    fixture.baseUrl = await fixture.app.listen({ host: '127.0.0.1', port: 0 });
  });
  return fixture;
}

/** Runs `fn` while the provider applies `faults`, then goes back to none. */
export async function withFaults<T>(provider: ProviderFixture, faults: Partial<ProviderFaults>, fn: () => Promise<T>): Promise<T> {
  provider.faults = { ...NO_FAULTS, ...faults };
  try {
    return await fn();
  } finally {
    provider.faults = NO_FAULTS;
  }
}
