import type { FastifyBaseLogger } from 'fastify';
import { withDeadline } from '../../../platform/runtime/index.ts';
import type { RestaurantLookup } from '../ports.ts';

/** What a courier task carries about where to pick its order up. */
export interface PickUpFields {
  /** The restaurant's name, or `null` when `pickupUnknown` says why it is missing. */
  readonly restaurantName: string | null;
  /** Where to pick the order up: `null` until the restaurant has set one, or when `pickupUnknown` says why it is missing. */
  readonly pickupAddress: string | null;
  /** Why the name and address are missing (the directory did not answer, or does not know the restaurant), else `null`. */
  readonly pickupUnknown: string | null;
}

/** Said when the directory failed or did not answer in time: the tasks are answered without it. */
export const DIRECTORY_UNAVAILABLE = 'the restaurant directory did not answer: read the tasks again in a moment, or ask the restaurant';
/** Said for a restaurant the directory does not know. */
const RESTAURANT_UNKNOWN = 'the restaurant directory does not know this restaurant: ask the restaurant';

/**
 * Courier tasks with where to pick each one up (decision 0040): the name and the pick-up address of
 * its restaurant as the directory has them now, asked once for the page's restaurants. Read as the
 * tasks are answered, not copied into the view at placement: an address changed after an order was
 * placed is the one the courier must go to. Nothing is cached: a cached address would be an old one
 * after a change, and the read is one indexed statement per page.
 *
 * The tasks are the courier's to act on, so they are answered also when the directory is not: one
 * that fails, or has not answered within `timeoutMs` (another database that is down, a full pool),
 * leaves every task's name and address `null` with `pickupUnknown` saying why, and is logged.
 */
export async function withPickUpPlaces<T extends { readonly restaurantId?: unknown }>(
  tasks: readonly T[],
  restaurants: Pick<RestaurantLookup, 'pickUpPlaces'>,
  timeoutMs: number,
  log: FastifyBaseLogger,
): Promise<Array<T & PickUpFields>> {
  if (tasks.length === 0) return [];
  const ids = [...new Set(tasks.map((t) => t.restaurantId).filter((id): id is string => typeof id === 'string'))];
  let places: Awaited<ReturnType<RestaurantLookup['pickUpPlaces']>> | null;
  try {
    places = await withDeadline(restaurants.pickUpPlaces(ids), timeoutMs);
  } catch (error) {
    log.warn({ err: error }, 'courier tasks answered without their pick-up places: the restaurant directory did not answer');
    places = null;
  }
  return tasks.map((task) => {
    const place = places === null || typeof task.restaurantId !== 'string' ? undefined : places.get(task.restaurantId);
    if (place !== undefined) return { ...task, restaurantName: place.name, pickupAddress: place.pickupAddress, pickupUnknown: null };
    return { ...task, restaurantName: null, pickupAddress: null, pickupUnknown: places === null ? DIRECTORY_UNAVAILABLE : RESTAURANT_UNKNOWN };
  });
}
