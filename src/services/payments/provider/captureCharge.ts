import type pg from 'pg';
import { endAuthorization } from './endAuthorization.ts';
import type { Charge } from './resources.ts';

/** Captures an authorized charge in full and writes the capture's ledger entry (422 CHARGE_NOT_CAPTURABLE for any other). */
export function captureCharge(client: pg.PoolClient, chargeId: string, idempotencyKey: string): Promise<Charge> {
  return endAuthorization(client, chargeId, idempotencyKey, {
    status: 'captured',
    movement: 'capture',
    refusal: { code: 'CHARGE_NOT_CAPTURABLE', advice: 'only an authorized charge can be captured' },
  });
}
