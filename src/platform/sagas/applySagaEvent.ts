import { SagaDefinitionError, SagaEventUnhandledError, SagaHandlerError } from './sagaErrors.ts';
import type { DeadlineRequest, SagaDecision, SagaDefinition, SagaEvent, SagaInstance, SagaStatus } from './types.ts';

/** What happened: an event from outside or a deadline, or the outcome of the head pending work item. */
export type SagaInput =
  | { readonly kind: 'event'; readonly event: SagaEvent }
  | { readonly kind: 'stepSucceeded'; readonly item: string; readonly result: unknown }
  | { readonly kind: 'stepFailed'; readonly item: string; readonly error: { code: string; message: string }; readonly retry: boolean }
  /** The runner could not record the head item's outcome: park the saga for a person, with `reason`. */
  | { readonly kind: 'park'; readonly item: string; readonly reason: string };

/** The instance's next fields and the deadline changes to write with them; `null` when the input no longer applies. */
export interface SagaTransition<S> {
  readonly state: S;
  readonly status: SagaStatus;
  readonly pending: string[];
  readonly completed: string[];
  /** Steps failed for good, in order (none runs again). */
  readonly failed: string[];
  readonly attempts: number;
  readonly error: string | null;
  readonly errorBeforePark: string | null;
  readonly schedule: readonly DeadlineRequest[];
  /** Deadline names to cancel, or `'all'` when the saga finished. */
  readonly cancel: readonly string[] | 'all';
}

/** The prefix of a compensation work item. */
export const UNDO = 'undo:';

/** True while a saga still takes events. */
export function isActive(status: SagaStatus): boolean {
  return status === 'running' || status === 'compensating';
}

/**
 * The status a parked saga would have without its park, which a resume restores and which decides
 * whether it still takes business events: `compensating` when it had failed (a failure keeps its
 * error in `errorBeforePark`; a running saga has none) or any pending item is a compensation, else
 * `running`. Pending items alone cannot tell: a saga failed while its head step ran, with nothing to
 * undo, has only that forward step pending.
 */
export function statusBeforePark(saga: Pick<SagaInstance, 'pending' | 'errorBeforePark'>): 'running' | 'compensating' {
  return saga.errorBeforePark !== null || saga.pending.some((p) => p.startsWith(UNDO)) ? 'compensating' : 'running';
}

/**
 * The saga's decide function: the instance and one input in, the next fields out. Pure (no I/O), so
 * a conflicting concurrent write is handled by reading again and calling it again.
 * Returns `null` when the input is stale: the saga has finished, a step outcome is for a work item
 * that is no longer at the head (a runner whose lease expired reporting late) or for a parked saga
 * (which runs nothing; it still takes events, and stays parked).
 */
export function applySagaEvent<S, I = unknown>(definition: SagaDefinition<S, I>, instance: SagaInstance<S>, input: SagaInput): SagaTransition<S> | null {
  // A parked saga runs nothing, but it still takes events and its head's outcome (see below).
  if (instance.status === 'parked' && input.kind !== 'event') return headOutcomeWhileParked(definition, instance, input);
  if (!isActive(instance.status) && !(instance.status === 'parked' && input.kind === 'event')) return null;
  let pending = [...instance.pending];
  let completed = [...instance.completed];
  let attempts = instance.attempts;
  const base = { state: instance.state, status: instance.status, failed: [...instance.failed], error: instance.error, errorBeforePark: instance.errorBeforePark };

  if (input.kind === 'event') {
    // A failing saga takes no more business events; nor does one parked while it was compensating.
    if (instance.status === 'compensating' || (instance.status === 'parked' && statusBeforePark(instance) === 'compensating')) return null;
    const handler = definition.on[input.event.type];
    if (handler === undefined) throw new SagaEventUnhandledError(definition.name, input.event.type);
    const t = decide(definition, { ...base, pending, completed, attempts }, handle(definition.name, input.event.type, () => handler(instance.state, input.event)), true);
    if (instance.status !== 'parked') return t;
    // Parked: the head waits for a person as a step in flight waits for its runner, so the decision is
    // taken as it would be then (its state, deadlines and steps to run after the head; a fail keeps
    // the head first, then the compensations), and nothing runs until the resume. Dropping the event
    // instead would lose what the saga must do after the resume (refund a rejected order's charge).
    // A saga parked with nothing left to run (its head's outcome came under the park) ends when the
    // event finishes it: kept parked, a resume would leave it running with nothing to do.
    if (t.status === 'completed') return { ...t, error: null, errorBeforePark: null }; // its park's instructions no longer apply
    if (t.status === 'compensated' || t.status === 'failed') return t;
    return { ...t, status: 'parked', error: t.status === 'parked' ? t.error : instance.error, errorBeforePark: t.status === 'compensating' ? t.error : instance.errorBeforePark };
  }

  if (pending[0] !== input.item) return null;
  if (input.kind === 'park') return { ...base, status: 'parked', pending, completed, attempts, error: input.reason, errorBeforePark: instance.error, schedule: [], cancel: [] };
  const undo = input.item.startsWith(UNDO);
  const step = undo ? input.item.slice(UNDO.length) : input.item;

  if (input.kind === 'stepFailed' && input.retry) {
    return { ...base, pending, completed, attempts: attempts + 1, schedule: [], cancel: [] };
  }
  if (undo && input.kind === 'stepFailed') {
    // A compensation that failed for good stops the saga for a person, with the failed compensation
    // still first and those behind it after it, in the order they would have run: what is left
    // undone, which the row, the error, the stuck list and a close all name. Before, `pending` was
    // emptied and the compensations behind it (the order's cancel behind a refund) were named nowhere.
    const left = [...instance.pending];
    return {
      ...base,
      status: 'failed',
      pending: left,
      completed,
      attempts: attempts + 1,
      error: `${base.error ?? 'failed'}; compensation ${step} failed: ${input.error.message}; left: ${left.join(', ')}`,
      schedule: [],
      cancel: 'all',
    };
  }
  pending = pending.slice(1);
  attempts = 0;
  if (undo) {
    return { ...base, status: pending.length === 0 ? 'compensated' : 'compensating', pending, completed, attempts, schedule: [], cancel: [] };
  }
  if (instance.status === 'compensating') {
    // A forward step that was running when an event failed the saga (decide kept it first): a success
    // is recorded, with the state its handler gives (what the compensation needs), and undone first;
    // a failure is asked of its `<step>.failed` handler: a park (an unknown outcome, decision 0079)
    // keeps the step at the head for a person, as it would unfailed; anything else leaves nothing to
    // undo, and the step is dropped (the handler's state kept).
    if (input.kind === 'stepFailed') {
      const onFailure = definition.on[`${step}.failed`];
      const decision = onFailure === undefined ? {} : handle(definition.name, `${step}.failed`, () => onFailure(instance.state, { type: `${step}.failed`, data: input.error }));
      const state = decision.state ?? instance.state;
      if (decision.park !== undefined) {
        return { ...base, state, status: 'parked', pending: [...instance.pending], completed, attempts: instance.attempts + 1, error: decision.park, errorBeforePark: instance.error, schedule: [], cancel: [] };
      }
      return { ...base, state, status: pending.length === 0 ? 'compensated' : 'compensating', pending, completed, failed: [...base.failed, step], attempts, schedule: [], cancel: [] };
    }
    const onSuccess = definition.on[`${step}.succeeded`];
    const state = (onSuccess === undefined ? undefined : handle(definition.name, `${step}.succeeded`, () => onSuccess(instance.state, { type: `${step}.succeeded`, data: input.result })).state) ?? instance.state;
    const undoIt = definition.steps[step]?.compensate !== undefined ? [`${UNDO}${step}`] : [];
    const next = [...undoIt, ...pending];
    return { ...base, state, status: next.length === 0 ? 'compensated' : 'compensating', pending: next, completed: [...completed, step], attempts, schedule: [], cancel: [] };
  }
  if (input.kind === 'stepSucceeded') {
    completed = [...completed, step];
    const handler = definition.on[`${step}.succeeded`];
    return decide(definition, { ...base, pending, completed, attempts }, handler === undefined ? {} : handle(definition.name, `${step}.succeeded`, () => handler(instance.state, { type: `${step}.succeeded`, data: input.result })));
  }
  const handler = definition.on[`${step}.failed`];
  const decision: SagaDecision<S> = handler === undefined ? { fail: `${step} failed: ${input.error.message}` } : handle(definition.name, `${step}.failed`, () => handler(instance.state, { type: `${step}.failed`, data: input.error }));
  // Parked, the failed step stays at the head with its failed attempts: the work a person finds left.
  if (decision.park !== undefined) return decide(definition, { ...base, pending: [...instance.pending], completed, attempts: instance.attempts + 1 }, decision);
  // Dropped from pending, the step is kept as failed for good: no later decision runs it again.
  return decide(definition, { ...base, pending, completed, failed: [...base.failed, step], attempts }, decision, false, step);
}

/**
 * The outcome of a parked saga's head: a step that was in flight when an event parked the saga (a
 * runner's lease outlives the park; close and resume wait for it), or a runner whose lease had ended
 * reporting late. It happened, so it is taken as the saga would take it unparked (its state, the
 * steps it queues, a failure's compensations) rather than dropped, which made a resume run the step
 * again. The saga stays parked, with its park reason, for the person it waits for, even with nothing
 * left to run (a resume then lets it wait for its events); only an outcome that finishes it
 * (completed, compensated, failed) ends it. A handler that parks it again adds its reason; an outcome
 * the runner cannot record (`park`) leaves the head to run again after the resume, with that reason
 * added, and the write releases the runner's lease.
 */
function headOutcomeWhileParked<S, I>(definition: SagaDefinition<S, I>, instance: SagaInstance<S>, input: Exclude<SagaInput, { kind: 'event' }>): SagaTransition<S> | null {
  if (instance.pending[0] !== input.item) return null;
  const also = (reason: string | null) => (reason === null || reason === instance.error ? instance.error : `${instance.error ?? 'parked'}; then ${reason}`);
  if (input.kind === 'park') {
    return { state: instance.state, status: 'parked', pending: [...instance.pending], completed: [...instance.completed], failed: [...instance.failed], attempts: instance.attempts, error: also(input.reason), errorBeforePark: instance.errorBeforePark, schedule: [], cancel: [] };
  }
  const unparked: SagaInstance<S> = { ...instance, status: statusBeforePark(instance), error: instance.errorBeforePark, errorBeforePark: null };
  const t = applySagaEvent(definition, unparked, input);
  if (t === null) return null;
  if (t.status === 'parked') return { ...t, error: also(t.error) };
  if (!isActive(t.status)) return t;
  return { ...t, status: 'parked', error: instance.error, errorBeforePark: t.error };
}

/**
 * Runs a handler of the definition; what it throws, a result that is not a decision (`undefined`
 * from a branch that forgot its `return`, `null`, a number, a promise), or a decision whose `state`
 * JSON cannot hold (a BigInt, a cycle, a `toJSON` that throws) is a {@link SagaHandlerError}: a bug in
 * the saga, which the runner and the deadline scheduler tell from a database that failed. Before, a
 * result that was not a decision made `decide` throw a TypeError outside this wrapper, and a state
 * JSON cannot hold made the write (`transitionSaga`, `startSaga`) throw one, which they took for a
 * passing failure: the runner ran the step again at every lease, and the scheduler rolled back its
 * whole batch at every poll.
 */
function handle<S>(saga: string, type: string, handler: () => SagaDecision<S>): SagaDecision<S> {
  let decision: unknown;
  try {
    decision = handler();
  } catch (error) {
    throw new SagaHandlerError(saga, type, error);
  }
  // A promise (an async handler) is no decision either: handlers are pure and synchronous.
  if (typeof decision !== 'object' || decision === null || Array.isArray(decision) || typeof (decision as { then?: unknown }).then === 'function') throw new SagaHandlerError(saga, type, undefined, { returned: decision });
  // The state is stored as JSON with the transition: one that JSON cannot hold fails the same way at
  // every try, so it is the handler's bug, said here, not a TypeError from the write. (A second
  // serialisation of a small object per transition; the write serialises it again.)
  const { state } = decision as SagaDecision<S>;
  if (state !== undefined) {
    let json: string | undefined;
    try {
      json = JSON.stringify(state);
    } catch (error) {
      throw new SagaHandlerError(saga, type, error, { stateNotJson: true });
    }
    if (json === undefined) throw new SagaHandlerError(saga, type, new TypeError(`JSON.stringify gives nothing for ${typeof state === 'function' ? 'a function' : typeof state}`), { stateNotJson: true });
  }
  return decision as SagaDecision<S>;
}

type Fields<S> = Pick<SagaTransition<S>, 'state' | 'status' | 'pending' | 'completed' | 'failed' | 'attempts' | 'error' | 'errorBeforePark'>;

/**
 * `headMayRun`: the head of `current.pending` may be running right now (the decision is an event's, not
 * a step outcome's). `current.failed`: the steps failed for good, neither pending nor completed, yet
 * run under their keys, so no decision may run them again. `failedStep`: the one of them that just
 * failed, whose `.failed` handler made the decision (named in the refusal).
 */
function decide<S, I>(definition: SagaDefinition<S, I>, current: Fields<S>, decision: SagaDecision<S>, headMayRun = false, failedStep?: string): SagaTransition<S> {
  const state = decision.state === undefined ? current.state : decision.state;
  if (decision.park !== undefined) {
    if (current.pending.length === 0) throw new SagaDefinitionError(`Saga ${definition.name} cannot park with nothing pending: a resume would have nothing to run (fail or complete it instead)`);
    // Deadlines stay open: one that fires while parked is taken like any event.
    return { ...current, state, status: 'parked', error: decision.park, errorBeforePark: current.error, schedule: decision.schedule ?? [], cancel: decision.cancel ?? [] };
  }
  if (decision.fail !== undefined) {
    // Compensate in reverse order every completed step that has a compensation.
    const undo = [...current.completed].reverse().filter((s) => definition.steps[s]?.compensate !== undefined).map((s) => `${UNDO}${s}`);
    // A runner's lease does not change the version, so a forward step at the head may be running:
    // it stays first, and its outcome is taken before the compensations (a success is undone too).
    const head = current.pending[0];
    const running = headMayRun && head !== undefined && !head.startsWith(UNDO) ? [head] : [];
    const pending = [...running, ...undo];
    return { state, status: pending.length === 0 ? 'compensated' : 'compensating', pending, completed: current.completed, failed: current.failed, attempts: running.length > 0 ? current.attempts : 0, error: decision.fail, errorBeforePark: current.errorBeforePark, schedule: [], cancel: 'all' };
  }
  const pending = [...current.pending];
  for (const step of decision.run ?? []) {
    if (definition.steps[step] === undefined) throw new SagaDefinitionError(`Saga ${definition.name} has no step ${JSON.stringify(step)}`);
    // Before, a `.failed` handler's "try it again" ({ run: [step] }) was taken: the step ran again under
    // the key it had failed with, so a provider that keeps the failure under the key answered it again,
    // and one that does not acted a second time under a key the saga had already used.
    // And a step that failed for good earlier, while the saga went on (its handler decided neither
    // fail nor park): before, the instance did not remember it, and a later event's or step's decision
    // queued it again under the same key (`failed`, payments migration 0022).
    if (current.failed.includes(step)) {
      throw new SagaDefinitionError(
        `Step ${step} of saga ${definition.name} failed for good${step === failedStep ? `, and its handler "${step}.failed" runs it again` : ' earlier, and this decision runs it again'}: a step runs at most once per saga ` +
          `(its idempotency key is per saga and step, so a second run would go under the key the failure came with). ` +
          `To try it again, make the failure retryable (the step's retryable and maxAttempts: retried with backoff under its key), or park the saga ({ park: reason }) so that a person resumes it`,
      );
    }
    if (current.completed.includes(step) || pending.includes(step)) {
      throw new SagaDefinitionError(`Step ${step} of saga ${definition.name} is already ${pending.includes(step) ? 'pending' : 'done'}: a step runs at most once (its idempotency key is per saga and step)`);
    }
    pending.push(step);
  }
  if (decision.complete === true) {
    if (pending.length > 0) throw new SagaDefinitionError(`Saga ${definition.name} cannot complete with steps pending (${pending.join(', ')})`);
    return { ...current, state, pending, status: 'completed', schedule: [], cancel: 'all' };
  }
  return { ...current, state, pending, schedule: decision.schedule ?? [], cancel: decision.cancel ?? [] };
}

/** The fields of a new instance: the definition's initial state and the decision of `start`. */
export function applySagaStart<S, I>(definition: SagaDefinition<S, I>, input: I): SagaTransition<S> {
  const initial: Fields<S> = { state: definition.initialState, status: 'running', pending: [], completed: [], failed: [], attempts: 0, error: null, errorBeforePark: null };
  return decide(definition, initial, handle(definition.name, 'start', () => definition.start(definition.initialState, input)));
}
