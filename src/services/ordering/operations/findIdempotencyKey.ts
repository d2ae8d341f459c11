import type { Tx } from '../../../platform/db/index.ts';

/** How long a key is remembered. After it, the same key places a new order. */
export const IDEMPOTENCY_KEY_TTL_HOURS = 24;

/** A remembered key. */
export interface IdempotencyRecord {
  readonly orderId: string;
  readonly restaurantId: string;
  /** SHA-256 of the canonical request body. */
  readonly requestHash: Buffer;
  /** The status of the first response (201). */
  readonly responseStatus: number;
  /**
   * A reservation: the shared database's hold on a key whose order is placed in its restaurant's own
   * database (migration 0037), where the replayable record is. It binds the key to its body only.
   */
  readonly reservation: boolean;
}

const COLUMNS = `order_id as "orderId", restaurant_id as "restaurantId", request_hash as "requestHash", response_status as "responseStatus", reservation`;

/** The customer's unexpired key, or `null`. Runs as the customer (RLS shows only their keys). */
export async function findIdempotencyKey(tx: Tx, customerId: string, key: string): Promise<IdempotencyRecord | null> {
  const { rows } = await tx.query<IdempotencyRecord>({
    name: 'brigade_find_idempotency_key',
    text: `select ${COLUMNS} from ordering.idempotency_keys
            where customer_id = $1 and key = $2 and created_at > now() - make_interval(hours => $3)`,
    values: [customerId, key, IDEMPOTENCY_KEY_TTL_HOURS],
  });
  return rows[0] ?? null;
}
