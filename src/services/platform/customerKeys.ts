import type { UnitOfWorkFn } from '../../platform/tenancy/index.ts';
import { isUuid } from '../../platform/ids/index.ts';
import { SubjectErasedError, type ReadKeys, type SubjectKey } from '../../platform/temporal/index.ts';
import { customerKey, readCustomerKeys } from './operations/customerKey.ts';
import { isCustomerErased } from './operations/isCustomerErased.ts';

const KEYS = { kind: 'system', id: 'customer-keys' } as const;
const PREFIX = 'customer:';

/** The key id of a customer's data key: `customer:<uuid>`, as sealed values and event envelopes name it. */
export function customerKeyId(customerId: string): string {
  return `${PREFIX}${customerId.toLowerCase()}`;
}

/**
 * The customers' data keys, for the ordering service's port (in-process adapter, decision 0090): the
 * key to seal a customer's personal fields with, made on first use, whether the customer was erased
 * (waiting for an erasure in progress), and the keys to open them. Each call is a transaction of the
 * platform service as a `system` actor (the only one the table's policies let read keys).
 *
 * @example
 * const sealed = sealFields(data, ['/deliveryAddress'], await customerKeys(deps.unitOfWork).keyFor(customerId));
 */
export function customerKeys(unitOfWork: UnitOfWorkFn): { keyFor(customerId: string): Promise<SubjectKey>; isErased(customerId: string): Promise<boolean>; readKeys: ReadKeys } {
  return {
    /** @throws {SubjectErasedError} the customer was erased (410 `SUBJECT_ERASED`). */
    keyFor: async (customerId) => {
      const keyId = customerKeyId(customerId);
      const { key } = await unitOfWork({ service: 'platform', actor: KEYS }, (tx) => customerKey(tx, customerId));
      if (key === null) throw new SubjectErasedError(keyId);
      return { keyId, key };
    },
    /** Whether the customer is erased, once an erasure of theirs in progress has ended (it waits for it). */
    isErased: (customerId) => unitOfWork({ service: 'platform', actor: KEYS, readOnly: true }, (tx) => isCustomerErased(tx, customerId)),
    // Ids of other shapes name no key here: their values read as erased.
    readKeys: async (keyIds) => {
      const ids = keyIds.filter((id) => id.startsWith(PREFIX) && isUuid(id.slice(PREFIX.length))).map((id) => id.slice(PREFIX.length));
      if (ids.length === 0) return new Map();
      const keys = await unitOfWork({ service: 'platform', actor: KEYS, readOnly: true }, (tx) => readCustomerKeys(tx, ids));
      return new Map([...keys].map(([id, key]) => [customerKeyId(id), key]));
    },
  };
}
