import { BrigadeError } from '../../platform/errors/index.ts';

/** 404: a courier token whose courier is not registered in the courier directory; says what to do. */
export class CourierNotRegisteredError extends BrigadeError {
  constructor(courierId: string) {
    super('NOT_FOUND', 404, `Courier ${courierId} is not registered; ask an admin to register the courier (POST /v1/couriers), then use a token for that courier`, {
      details: { resource: 'courier', courierId },
    });
  }
}
