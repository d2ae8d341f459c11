import { checkPoolSize, type Config } from '../platform/config/index.ts';
import { checkNatsReachable } from '../platform/messaging/index.ts';
import { heldConnections, type ProcessRun } from '../composition/heldConnections.ts';
import { checkHttpPortFree } from './portInUse.ts';

/**
 * What the start-up of `run` would refuse anyway, checked before anything is done (the embedded
 * PostgreSQL started, a migration applied, the payment provider started): a `DATABASE_POOL_SIZE` its
 * workers would exhaust (`checkPoolSize`), with HTTP a `PORT` in use or a `HOST` that is not this
 * machine's (`checkHttpPortFree`), and a `NATS_URL` no server answers at (`checkNatsReachable`). Each
 * fails with the error the later step would have thrown. `brigade start` used to migrate and start the
 * provider first, and only then refuse.
 *
 * @example
 * await checkBeforeStarting(config, { http: true, services: SERVICES, workers: workersOf(SERVICES) });
 */
export async function checkBeforeStarting(config: Config, run: ProcessRun): Promise<void> {
  checkPoolSize(config, heldConnections(config, run));
  if (run.http) await checkHttpPortFree(config);
  if (config.natsUrl !== null) await checkNatsReachable(config.natsUrl);
}
