import { BrigadeError, UnprocessableError } from '../../platform/errors/index.ts';

/**
 * 422: a courier carrying an order cannot change their availability until it is delivered or
 * cancelled: a command their current state forbids (DESIGN: 422; 409/412 are for conflicting writes).
 */
export class CourierBusyError extends UnprocessableError {
  constructor(courierId: string, orderId: string) {
    super('COURIER_BUSY', `Courier ${courierId} is carrying order ${orderId}; deliver it first`, { courierId, orderId });
  }
}

/** 404: a courier token whose courier is not registered in the courier directory; says what to do. */
export class CourierNotRegisteredError extends BrigadeError {
  constructor(courierId: string) {
    super('NOT_FOUND', 404, `Courier ${courierId} is not registered; ask an admin to register the courier (POST /v1/couriers), then use a token for that courier`, {
      details: { resource: 'courier', courierId },
    });
  }
}
