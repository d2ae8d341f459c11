import { checkPoolSize, type Config } from '../platform/config/index.ts';
import { checkNatsReachable } from '../platform/messaging/index.ts';
import { heldConnections, type ProcessRun } from '../composition/heldConnections.ts';
import { checkHttpPortFree, checkPortFree } from './portInUse.ts';
import { standInProviderAt } from './standInProvider.ts';

/** What else {@link checkBeforeStarting} checks. */
export interface StartChecks {
  /** Whether the command runs the stand-in payment provider beside the API (`start`, `demo`): its port is checked too, unless `PAYMENT_PROVIDER_URL` names another provider. */
  readonly standInProvider?: boolean;
}

/**
 * What the start-up of `run` would refuse anyway, checked before anything is done (the embedded
 * PostgreSQL started, a migration applied, the payment provider started): a `DATABASE_POOL_SIZE` its
 * workers would exhaust (`checkPoolSize`), with HTTP a `PORT` in use or a `HOST` that is not this
 * machine's (`checkHttpPortFree`), with the stand-in provider a `PROVIDER_PORT` in use, and, for a
 * run with workers, a `NATS_URL` no server answers at (`checkNatsReachable`). Each fails with the error
 * the later step would have thrown. `brigade start` used to migrate and start the provider first, and
 * only then refuse; `serve` and `worker` started the embedded PostgreSQL first.
 *
 * A run without workers (`brigade serve`) is not refused for NATS: it runs no relay, consumer or saga,
 * and connects to the broker in the background (`createPlatform`'s `brokerOptional`), so that an API
 * instance can come back during a broker outage (decision 0016, "Fixed later (forty-fifth session, 7 Dec): `serve`
 * comes up while NATS is down").
 *
 * @example
 * await checkBeforeStarting(config, { http: true, services: SERVICES, workers: workersOf(SERVICES) }, { standInProvider: true });
 */
export async function checkBeforeStarting(config: Config, run: ProcessRun, checks: StartChecks = {}): Promise<void> {
  checkPoolSize(config, heldConnections(config, run));
  if (run.http) await checkHttpPortFree(config);
  if (checks.standInProvider === true && config.paymentProviderUrl === null && config.providerPort !== 0) {
    await checkPortFree(standInProviderAt({ host: config.host, port: config.providerPort }));
  }
  if (config.natsUrl !== null && run.workers.length > 0) await checkNatsReachable(config.natsUrl);
}
