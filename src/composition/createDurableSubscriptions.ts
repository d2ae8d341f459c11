import type { Config } from '../platform/config/index.ts';
import { createDatabases } from '../platform/db/index.ts';
import { UnavailableError } from '../platform/errors/index.ts';
import type { Transport } from '../platform/messaging/index.ts';
import { createTransport } from './runtime.ts';
import { DURABLE_SUBSCRIPTIONS } from './services.ts';

/**
 * Creates every service's durable subscriptions ({@link DURABLE_SUBSCRIPTIONS}) on the configured
 * transport (JetStream at `NATS_URL`, else the PostgreSQL bus in the platform's database), keeping an
 * existing one's place. `brigade migrate` runs it once the migrations are applied: a subscription gets
 * only what is published after its creation (decision 0015), so a subscription that a release adds
 * must exist before the rollout, while the older release's relays still publish; the relays create
 * them too, but only when the new release's first process starts. Resolves with the names created or
 * kept.
 *
 * @throws UnavailableError naming the transport and what to do when it cannot be reached.
 * @example
 * const names = await createDurableSubscriptions(config, db.url);
 */
export async function createDurableSubscriptions(config: Config, mainUrl: string): Promise<readonly string[]> {
  const databases = createDatabases({ url: mainUrl, serviceUrls: config.serviceDatabaseUrls, poolSize: 2, acquireTimeoutMs: config.databaseAcquireTimeoutMs, applicationName: 'brigade-migrate' });
  let transport: Transport | undefined;
  try {
    transport = await createTransport(config, databases.poolFor('platform'));
    for (const spec of DURABLE_SUBSCRIPTIONS) await transport.ensureSubscription(spec);
    return DURABLE_SUBSCRIPTIONS.map((spec) => spec.subscription);
  } catch (error) {
    const where = config.natsUrl === null ? 'the PostgreSQL bus' : 'NATS JetStream at NATS_URL';
    const detail = error instanceof Error ? error.message : String(error);
    throw new UnavailableError(
      `the migrations are applied, but the durable subscriptions could not be created on ${where} (${detail}). ` +
        `Run 'brigade migrate' again once it answers, before starting this release: until then a subscription it adds misses what running processes publish`,
      { cause: error },
    );
  } finally {
    await transport?.close().catch(() => undefined);
    await databases.close();
  }
}
