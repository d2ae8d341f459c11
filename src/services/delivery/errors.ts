import { BrigadeError } from '../../platform/errors/index.ts';

/** 409: a courier carrying an order cannot change their availability until it is delivered or cancelled. */
export class CourierBusyError extends BrigadeError {
  constructor(courierId: string, orderId: string) {
    super('COURIER_BUSY', 409, `Courier ${courierId} is carrying order ${orderId}; deliver it first`, { details: { courierId, orderId } });
  }
}
