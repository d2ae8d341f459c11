import type { Tx } from '../../../platform/db/index.ts';

/** A city of the directory. */
export interface City {
  readonly id: string;
  /** As first written: the spelling every restaurant and courier of the city shows. */
  readonly name: string;
}

/**
 * The city named `name`, created on first use. A name matches a city whatever its case ("lisbon"
 * finds the Lisbon a restaurant was created in) and the city keeps the spelling it was created with:
 * the delivery service pairs couriers with orders by the city's name, so a courier registered as
 * "lisbon" beside restaurants in "Lisbon" was a city of its own that no order was ever offered in.
 * Two first uses of one name (in any case) at once are serialised by a transaction-scoped advisory
 * lock on its lower-case form, so they make one city. The table is the directory's few cities: the
 * look-up scans it. Admin only (RLS enforces it).
 */
export async function findOrCreateCity(tx: Tx, name: string): Promise<City> {
  await tx.query(`select pg_advisory_xact_lock(hashtext('brigade.platform.city'), hashtext(lower($1)))`, [name]);
  const found = await tx.query<City>(`select id, name from platform.cities where lower(name) = lower($1) order by created_at, id limit 1`, [name]);
  if (found.rows[0] !== undefined) return found.rows[0];
  const made = await tx.query<City>(`insert into platform.cities (name) values ($1) returning id, name`, [name]);
  return made.rows[0]!;
}
