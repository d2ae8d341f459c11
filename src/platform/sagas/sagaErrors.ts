import { BrigadeError, NotFoundError, UnprocessableError } from '../errors/index.ts';
import { DEFAULT_STEP_TIMEOUT_MS } from './stepTimeout.ts';
import type { SagaStatus } from './types.ts';

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

/**
 * 500: no saga type of this name is in the registry. Not a bug of the saga: another process's
 * registry may know it (a rolling deploy, two services' registries on one schema), so the runner and
 * the deadline scheduler never take it for work that can never be done (no park, no deadline marked
 * fired with it). Their claims take only the registry's types; should one be met anyway, the
 * scheduler leaves the deadline unfired and the runner leaves the item to its lease.
 */
export class SagaTypeNotRegisteredError extends BrigadeError {
  constructor(name: string, known: readonly string[]) {
    super('SAGA_TYPE_NOT_REGISTERED', 500, `No saga type ${JSON.stringify(name)} is registered (known: ${known.join(', ')})`, { details: { name, known } });
  }
}

/**
 * 500: a saga's handler threw instead of returning a decision (a bug in the saga's definition; its
 * error is the cause), returned something that is not a decision (`returned`: `undefined`, `null`,
 * a number), or returned a decision whose state JSON cannot hold (`stateNotJson`: a BigInt, a cycle;
 * the serialiser's error is the cause). It would do the same again on the same input, so the runner
 * parks a saga whose step outcome it makes unrecordable, and the deadline scheduler marks the
 * deadline fired with the error.
 */
export class SagaHandlerError extends BrigadeError {
  constructor(saga: string, type: string, cause: unknown, result?: { readonly returned: unknown } | { readonly stateNotJson: true }) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    const [what, rule] =
      result === undefined
        ? [`threw: ${reason}`, 'A handler must return a decision']
        : 'stateNotJson' in result
          ? [`returned a state that cannot be stored as JSON: ${reason}`, 'A state must be plain JSON data (numbers as numbers or strings, no BigInt, no cycles)']
          : [`returned ${describeValue(result.returned)}, not a decision (an object such as {} or { run: [...] })`, 'A handler must return a decision'];
    super('SAGA_HANDLER_FAILED', 500, `The handler of ${JSON.stringify(type)} in saga ${saga} ${what}. ${rule}: fix it, then deliver the event again`, {
      ...(result === undefined || 'stateNotJson' in result ? { cause } : {}),
      details: { saga, type },
    });
  }
}

/** A value as an error message names it: `undefined`, `null`, `42`, `"text"`, `an array`. */
function describeValue(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return 'an array';
  if (typeof (value as { then?: unknown } | null)?.then === 'function') return 'a promise (handlers are synchronous: no async, no await)';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'function') return 'a function';
  return String(value);
}

/** 500: a step's action returned a result that cannot be stored as JSON (a BigInt, a cycle): its outcome can never be recorded. */
export class SagaResultNotSerializableError extends BrigadeError {
  constructor(saga: string, item: string, cause: unknown) {
    super(
      'SAGA_RESULT_NOT_SERIALIZABLE',
      500,
      `The result of ${item} in saga ${saga} cannot be stored as JSON: ${cause instanceof Error ? cause.message : String(cause)}. A step must return plain JSON data (numbers as numbers or strings, no BigInt, no cycles)`,
      { cause, details: { saga, item } },
    );
  }
}

/** 409: tenants share the saga id, and the command did not say which tenant's saga it means. */
export class SagaIdAmbiguousError extends BrigadeError {
  constructor(sagaId: string, tenantIds: readonly string[]) {
    super('SAGA_ID_AMBIGUOUS', 409, `Saga id ${sagaId} exists in ${tenantIds.length} tenants (${tenantIds.join(', ')}): say which one (--tenant ID)`, { details: { sagaId, tenantIds } });
  }
}

/**
 * 409: a runner holds a live lease on the saga's head item, so its step may still be in flight (and
 * may yet move money): a person's resume or close waits until the lease ends, when the step's
 * outcome is recorded, its timeout passes, or the lease expires. The message names the runner
 * (`lockedBy`, by default its host and process id): a live runner renews the lease while the step
 * runs, so "until" moves, and a runner that is hung is restarted, not waited for.
 */
export class SagaStepInFlightError extends BrigadeError {
  constructor(sagaId: string, command: 'resume' | 'close', item: string | undefined, leasedUntil: Date, lockedBy: string | null) {
    const minutes = DEFAULT_STEP_TIMEOUT_MS / 60_000;
    super(
      'SAGA_STEP_IN_FLIGHT',
      409,
      `Saga ${sagaId} cannot be ${command === 'resume' ? 'resumed' : 'closed'} yet: ${lockedBy === null ? 'a runner' : `runner ${lockedBy}`} holds the lease of ${item ?? 'its work'} until ${leasedUntil.toISOString()} and renews it while the step runs, so that step may still be running. ` +
        `Retry once the step has ended: its outcome is then recorded, or at the step's timeout (timeoutMs, ${minutes} minutes by default) the attempt counts as failed and the lease is let go; 'brigade sagas show ${sagaId}' shows what it did meanwhile. ` +
        `If that runner is hung (the lease keeps moving past the step's timeout), restart the process it names${lockedBy === null ? '' : ` (${lockedBy})`}: the lease then lapses within its length (leaseMs, 30 s by default)`,
      { details: { sagaId, item: item ?? null, leasedUntil: leasedUntil.toISOString(), lockedBy } },
    );
  }
}

/**
 * 504: a step's action (or compensation) did not settle within its timeout (`SagaStep.timeoutMs`, or
 * the runner's `stepTimeoutMs`). The runner stopped waiting for it, aborted `ctx.signal` with this
 * error, and records the attempt as a failure; `retryable`, so it is retried with the same key (as the
 * step's `retryable` decides, up to its `maxAttempts`), then goes to `<step>.failed`.
 */
export class SagaStepTimeoutError extends BrigadeError {
  /** A step that timed out may succeed on another attempt. */
  readonly retryable = true;

  constructor(saga: string, item: string, timeoutMs: number, attempt: number) {
    super(
      'SAGA_STEP_TIMED_OUT',
      504,
      `${item} of saga ${saga} did not settle within ${timeoutMs} ms (attempt ${attempt}): the runner stopped waiting, aborted the step's signal and counts the attempt as failed; it runs again with the same key under the step's retry rules. ` +
        `Give the step's calls timeouts of their own (or pass ctx.signal to them), or raise the step's timeoutMs if it is this slow by design`,
      { details: { saga, item, timeoutMs, attempt } },
    );
  }
}

/**
 * 503: the runner was stopped (its `run(signal)` aborted: a shutdown, a rolling restart) while a step's
 * action (or compensation) ran. The runner aborts `ctx.signal` with this error, waits for the step to
 * end (a step that passes the signal to its I/O ends at once), and records an attempt that failed so as
 * this error: `retryable`, retried at once with the same key whatever the step's retry rules and
 * attempts left, with its lease let go, so another runner takes it without waiting for the lease. A
 * step that succeeded all the same is recorded as succeeded.
 */
export class SagaStepAbortedError extends BrigadeError {
  /** A step stopped by its runner was not refused: another runner runs it again. */
  readonly retryable = true;

  constructor(saga: string, item: string, attempt: number) {
    super(
      'SAGA_STEP_ABORTED',
      503,
      `${item} of saga ${saga} was stopped (attempt ${attempt}): its runner is stopping and aborted the step's signal. The attempt counts as failed and its lease is let go: another runner runs it again at once with the same key, so its effect happens once`,
      { details: { saga, item, attempt } },
    );
  }
}

/**
 * 422: only a parked saga can be resumed (a command the saga's status forbids; 409 is for a
 * conflict, such as {@link SagaStepInFlightError}).
 */
export class SagaNotParkedError extends UnprocessableError {
  /** `pending`: the saga's pending work, which names the way out of a failed saga. */
  constructor(sagaId: string, status: SagaStatus, pending: readonly string[] = []) {
    const head = pending[0];
    // A failed saga's head is the compensation that failed for good: a plain resume would run it again
    // under its key, so the message names the resume that skips it once it is settled by hand.
    const failedHint =
      status === 'failed' && head?.startsWith('undo:') === true
        ? `: its compensation ${head} failed for good, and a resume would run it again. Settle ${head} by hand, then 'brigade sagas resume ${sagaId} --settled TEXT' runs ${pending.length > 1 ? `the rest (${pending.slice(1).join(', ')})` : 'nothing more and ends it compensated'}; or settle all of it by hand and 'brigade sagas close ${sagaId} --reason TEXT'`
        : `: only a saga parked for a person can be resumed. 'brigade sagas show ${sagaId}' shows what it is doing`;
    super('SAGA_NOT_PARKED', `Saga ${sagaId} is ${status}, not parked${failedHint}`, { sagaId, status });
  }
}

/**
 * 422: only a failed saga, or one parked on a compensation, has a compensation a person can settle by
 * hand and have the saga go on past ({@link settleSagaCompensation}); a command the saga's status forbids.
 */
export class SagaNotSettleableError extends UnprocessableError {
  constructor(sagaId: string, status: SagaStatus) {
    super(
      'SAGA_NOT_SETTLEABLE',
      `Saga ${sagaId} is ${status}: only a failed saga, or one parked on a compensation, has a compensation to settle by hand and go on past. ` +
        `'brigade sagas show ${sagaId}' shows what it is doing`,
      { sagaId, status },
    );
  }
}

/**
 * 422: the head of the saga's pending work is not a compensation (an `undo:` item), so it cannot be
 * settled by hand and skipped: a forward step's outcome is what the saga goes on from (its result, and
 * whether it must be undone). The person runs it again (`resume`) or settles everything and closes.
 */
export class SagaHeadNotCompensationError extends UnprocessableError {
  constructor(sagaId: string, status: SagaStatus, head: string | undefined) {
    const what =
      head === undefined
        ? `has nothing pending, so there is no compensation to settle: 'brigade sagas resume ${sagaId}' lets it wait for its events, or settle what is left by hand and 'brigade sagas close ${sagaId} --reason TEXT'`
        : `is at ${head}, a forward step, not a compensation: it cannot be settled by hand and skipped, because the saga goes on from its outcome (its result, and whether it must be undone). ` +
          `Put its reason right and 'brigade sagas resume ${sagaId}' runs it again, or settle all that is left by hand and 'brigade sagas close ${sagaId} --reason TEXT'`;
    super('SAGA_HEAD_NOT_COMPENSATION', `Saga ${sagaId} (${status}) ${what}`, { sagaId, status, head: head ?? null });
  }
}

/** 422: only a saga that waits for a person (parked, or failed) can be closed (a command the saga's status forbids). */
export class SagaNotClosableError extends UnprocessableError {
  constructor(sagaId: string, status: SagaStatus) {
    super(
      'SAGA_NOT_CLOSABLE',
      `Saga ${sagaId} is ${status}: only a parked or failed saga, settled by hand, can be closed. 'brigade sagas show ${sagaId}' shows what it is doing`,
      { sagaId, status },
    );
  }
}
