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
 * lock on its lower-case form, so they make one city. A name is taken in its composed form
 * ({@link cityName}). The table is the directory's few cities: the look-up scans it. Admin only (RLS
 * enforces it).
 */
export async function findOrCreateCity(tx: Tx, name: string): Promise<City> {
  const spelled = cityName(name);
  await tx.query(`select pg_advisory_xact_lock(hashtext('brigade.platform.city'), hashtext(lower($1)))`, [spelled]);
  const found = await tx.query<City>(`select id, name from platform.cities where lower(name) = lower($1) order by created_at, id limit 1`, [spelled]);
  if (found.rows[0] !== undefined) return found.rows[0];
  const made = await tx.query<City>(`insert into platform.cities (name) values ($1) returning id, name`, [spelled]);
  return made.rows[0]!;
}

/**
 * A city's name as the directory keeps and compares it: in Unicode's composed form (NFC). "Évora"
 * typed on one keyboard is one code point for the É, pasted from another source it may be an E and
 * a combining accent (NFD): the same name to everyone who reads it, and to `lower()` two others, so
 * it was a second city, whose couriers no order of the first was offered to. Cities made before
 * this in decomposed form stay as they are (as those made twice in two cases before 0040's fix).
 */
export function cityName(name: string): string {
  return name.normalize('NFC');
}
