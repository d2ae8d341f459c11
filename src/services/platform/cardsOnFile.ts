import type { UnitOfWorkFn } from '../../platform/tenancy/index.ts';
import { readCardOnFile } from './operations/readCardOnFile.ts';

const PAYMENTS = { kind: 'system', id: 'payments-saga' } as const;

/**
 * The customers' cards on file, for the payments service's port (in-process adapter). Reads one
 * customer's card number in a read-only transaction of the platform service as the payments saga
 * (a `system` actor: the only one the table's RLS lets read numbers).
 *
 * @example
 * const card = await cardsOnFile(deps.unitOfWork).cardOf(customerId); // null: no card on file
 */
export function cardsOnFile(unitOfWork: UnitOfWorkFn) {
  return {
    cardOf: (customerId: string): Promise<string | null> =>
      unitOfWork({ service: 'platform', actor: PAYMENTS, readOnly: true }, (tx) => readCardOnFile(tx, customerId)),
  };
}
