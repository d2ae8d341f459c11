import { BrigadeError, UnprocessableError } from '../../platform/errors/index.ts';

/** 404: a courier token whose courier is not registered in the courier directory; says what to do. */
export class CourierNotRegisteredError extends BrigadeError {
  constructor(courierId: string) {
    super('NOT_FOUND', 404, `Courier ${courierId} is not registered; ask an admin to register the courier (POST /v1/couriers), then use a token for that courier`, {
      details: { resource: 'courier', courierId },
    });
  }
}

/**
 * 422: staff assign an order to a courier who is carrying another and asked to stop taking deliveries
 * after it (they pressed Stop while on it: `released_status` offline and `asked_to_stop`). Their page
 * has told them they stop after it; handing them this order would break that (decision 0089, "Fixed
 * later"). Says what to do instead.
 */
export class CourierStoppingError extends UnprocessableError {
  constructor(courierId: string, currentOrderId: string | null) {
    super(
      'COURIER_STOPPING',
      `Courier ${courierId} is on a delivery${currentOrderId === null ? '' : ` (order ${currentOrderId.slice(0, 8)})`} and stops taking deliveries after it; assign another courier, or ask them to press "Start taking deliveries" first and assign again`,
      { field: 'courierId', courierId },
    );
  }
}
