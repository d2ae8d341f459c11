import type pg from 'pg';
import { endAuthorization } from './endAuthorization.ts';
import type { Charge } from './resources.ts';

/**
 * Voids an authorized charge (releases the authorization: nothing was taken, so nothing is refunded)
 * and writes the void's ledger entry, of the whole amount. A charge that is not `authorized` (captured,
 * voided, declined) is refused with 422 CHARGE_NOT_VOIDABLE, its status in `details.chargeStatus`: a
 * captured one is refunded instead.
 */
export function voidCharge(client: pg.PoolClient, chargeId: string, idempotencyKey: string): Promise<Charge> {
  return endAuthorization(client, chargeId, idempotencyKey, {
    status: 'voided',
    movement: 'void',
    refusal: { code: 'CHARGE_NOT_VOIDABLE', advice: 'only an authorized charge can be voided (refund a captured one)' },
  });
}
