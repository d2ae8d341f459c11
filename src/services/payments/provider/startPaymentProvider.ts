import type { FastifyBaseLogger } from 'fastify';
import type pg from 'pg';
import { buildPaymentProvider } from './buildPaymentProvider.ts';
import { ensureProviderSchema } from './ensureProviderSchema.ts';
import type { ProviderFaults } from './faults.ts';

/** Options of {@link startPaymentProvider}. */
export interface StartPaymentProviderOptions {
  readonly pool: pg.Pool;
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly faults?: ProviderFaults;
  readonly logger?: boolean | { level: string } | FastifyBaseLogger;
}

/** A listening provider. */
export interface RunningPaymentProvider {
  /** Base URL, e.g. `http://127.0.0.1:3001`. */
  readonly url: string;
  /** Stops accepting requests and waits for in-flight ones (held answers are cut short). Does not end the pool. */
  close(): Promise<void>;
}

/**
 * Ensures the provider's schema, then listens. What `brigade payment-provider` runs, and what
 * `brigade start` runs beside the platform.
 */
export async function startPaymentProvider(options: StartPaymentProviderOptions): Promise<RunningPaymentProvider> {
  await ensureProviderSchema(options.pool);
  const app = await buildPaymentProvider({ pool: options.pool, ...(options.faults ? { faults: options.faults } : {}), ...(options.logger !== undefined ? { logger: options.logger } : {}) });
  const url = await app.listen({ host: options.host, port: options.port });
  return { url, close: () => app.close() };
}
