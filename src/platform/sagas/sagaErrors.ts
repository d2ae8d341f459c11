import { BrigadeError, NotFoundError, UnprocessableError } from '../errors/index.ts';

/** 404: no saga with this id (in the transaction's tenant). */
export class SagaNotFoundError extends NotFoundError {
  constructor(sagaId: string) {
    super('Saga', sagaId);
  }
}

/** 422: the saga type has no handler for this event. */
export class SagaEventUnhandledError extends UnprocessableError {
  constructor(saga: string, type: string) {
    super('SAGA_EVENT_UNHANDLED', `Saga ${saga} has no handler for event ${JSON.stringify(type)}`, { saga, type });
  }
}

/** 500: a definition is inconsistent (unknown step, complete with pending steps, a step run twice). A programming error. */
export class SagaDefinitionError extends BrigadeError {
  constructor(message: string) {
    super('SAGA_DEFINITION_INVALID', 500, message);
  }
}
