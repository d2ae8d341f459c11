import { isLockNotAvailable } from '../../db/index.ts';
import { DeadLetterBusyError } from '../errors.ts';

/**
 * The `catch` of a `for update nowait` of dead letter `id`: a letter another redrive or drop holds
 * right now is {@link DeadLetterBusyError} (409: retry); any other failure is thrown as it was.
 */
export function heldAsBusy(id: string): (error: unknown) => never {
  return (error) => {
    throw isLockNotAvailable(error) ? new DeadLetterBusyError(id, { cause: error }) : error;
  };
}
