import { BrigadeError } from '../../platform/errors/index.ts';

/**
 * 409 `RESTAURANT_NOT_TAKING_ORDERS`: the restaurant's staff paused new orders (decision 0094), so a
 * placement is refused before anything is charged. `details` carry `restaurantId`, `until` (RFC 3339
 * in UTC, or null: until its staff resume) and `reason` (what staff wrote, or null).
 */
export class RestaurantNotTakingOrdersError extends BrigadeError {
  constructor(restaurantId: string, until: string | null, reason: string | null) {
    const when = until === null ? 'until its staff resume them' : `until ${until}`;
    super(
      'RESTAURANT_NOT_TAKING_ORDERS',
      409,
      `This restaurant is not taking new orders ${when}${reason === null ? '' : ` (${JSON.stringify(reason)})`}; nothing was charged. Order ${until === null ? 'later' : 'after then'}, or from another restaurant.`,
      { details: { restaurantId, until, reason } },
    );
  }
}
