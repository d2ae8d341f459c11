import type { Tx } from '../../../platform/db/index.ts';
import type { Courier } from './createCourier.ts';

/** The courier the transaction's actor is (RLS shows a courier only their own row). */
export async function getCourier(tx: Tx, id: string): Promise<Courier | null> {
  const row = await tx.query<Courier>(
    `select k.id, k.name, c.name as city, c.id as "cityId", k.created_at as "createdAt"
       from platform.couriers k join platform.cities c on c.id = k.city_id where k.id = $1`,
    [id],
  );
  return row.rows[0] ?? null;
}
