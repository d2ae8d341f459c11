import { BrigadeError } from '../../platform/errors/index.ts';

/**
 * 404 `NOT_FOUND` to a courier's command (pick-up, deliver) on an order they cannot see: there is no
 * such order, or it is not assigned to them, most often because staff gave it to another courier
 * since their task list was drawn, or taken off them because they had not picked it up in time (the
 * pick-up deadline, decision 0040: their availability's `notice` says which order and that they are
 * off dispatch). One message for both, word for word, so that it tells no courier
 * whether an order exists or whose it is now; it says what to do (refresh the list, which drops the
 * order if it left them). Other roles keep `NotFoundError`'s "order <id> not found".
 */
export class CourierOrderNotFoundError extends BrigadeError {
  constructor(orderId: string) {
    super(
      'NOT_FOUND',
      404,
      `order ${orderId} not found, or no longer assigned to you (it may have been given to another courier, or taken off you because it was not picked up in time: ` +
        'then your availability says so, and you take no orders until you press "Start taking deliveries"): refresh your task list',
      { details: { resource: 'order' } },
    );
  }
}
