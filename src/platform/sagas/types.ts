/** Something that happened to a saga: from outside (`restaurant.accepted`), or a deadline (`deadline.<name>`). */
export interface SagaEvent {
  /** Names the handler in {@link SagaDefinition.on}. */
  readonly type: string;
  readonly data?: unknown;
}

/** A deadline a decision schedules: the event `deadline.<name>` fires at `at` (or `inMs` from the transaction's clock), or at once when that is already past (due then, never before the transaction's clock). */
export interface DeadlineRequest {
  readonly name: string;
  readonly at?: Date;
  readonly inMs?: number;
}

/** What a handler decides; every field optional ("nothing changes" is `{}`). */
export interface SagaDecision<S> {
  /**
   * The new state; the old one stays when absent. Stored as JSON: plain data only (an amount as a
   * number or a string, no BigInt, no cycles), else the handler fails with `SAGA_HANDLER_FAILED`.
   */
  readonly state?: S;
  /**
   * Steps to run next, appended in order to the steps already pending. Each step runs at most once per
   * saga: running one that is pending, done, or failed for good (`SagaInstance.failed`, also from its
   * own `.failed` handler) is a `SagaDefinitionError` (a retry is the step's `retryable` and `maxAttempts`).
   */
  readonly run?: readonly string[];
  /** Deadlines to schedule (stored in the same transaction). */
  readonly schedule?: readonly DeadlineRequest[];
  /** Names of open deadlines to cancel. */
  readonly cancel?: readonly string[];
  /** The saga succeeded: status `completed`, open deadlines cancelled. Only when no step is pending. */
  readonly complete?: boolean;
  /**
   * The saga failed for this reason: the completed steps' compensations run in reverse order. Decided
   * by an event while a step may be running (the head of the pending work), that step is kept first:
   * its outcome is still taken, and a success is compensated before the others.
   */
  readonly fail?: string;
  /**
   * The saga can neither go on by itself nor be undone (money moved for an order already delivered):
   * status `parked` for a person, nothing compensated, the pending work kept (a step whose `.failed`
   * handler parks stays at its head), deadlines left open. The reason says what the person should
   * do. Takes precedence over `fail`. Decide it in a step's `.failed` handler: decided by an event while
   * a step is in flight, that step's outcome is not recorded (a parked saga runs nothing). Parking
   * with no work pending is refused (there would be nothing to resume).
   *
   * A parked saga still takes events and deadlines, as a running saga whose head step is in flight
   * would: the decision's state, deadlines and steps to run are kept, a `fail` keeps the head first and
   * queues the compensations; it stays parked, and nothing runs until a person resumes it.
   */
  readonly park?: string;
}

/** What a step's action and compensation get. */
export interface StepContext<S> {
  readonly sagaId: string;
  readonly tenantId: string;
  readonly step: string;
  /**
   * `${sagaId}:${step}` for the action, `${sagaId}:${step}:compensate` for its compensation: the same on
   * every attempt and after every restart, so an effect sent with it (a provider's Idempotency-Key, a
   * unique key) happens once however often the step runs.
   */
  readonly idempotencyKey: string;
  readonly state: S;
  /** 1 on the first attempt. */
  readonly attempt: number;
  /**
   * Aborted when the step's timeout passes (`SagaStep.timeoutMs`), with the `SagaStepTimeoutError` as
   * its reason: the runner has stopped waiting and counted the attempt as failed. Aborted too when the
   * runner is stopped (a shutdown), with a `SagaStepAbortedError`: the runner waits for the step to end,
   * then records a failure as stopped (retried at once, by any runner: its lease is let go). Pass it to
   * the action's I/O (`fetch(url, { signal: ctx.signal })`) so that the attempt stops at once; one that
   * goes on may still make its effect, under the same key as the retry, and holds a stopping process up.
   */
  readonly signal: AbortSignal;
}

/** One step: an action with an effect outside the saga's row, and optionally the action that undoes it. */
export interface SagaStep<S> {
  /** Runs outside any transaction; its result is the data of the event `<step>.succeeded`. Must be idempotent by `ctx.idempotencyKey`. */
  readonly action: (ctx: StepContext<S>) => Promise<unknown>;
  /** Undoes the action during compensation; idempotent by its own key. */
  readonly compensate?: (ctx: StepContext<S>) => Promise<unknown>;
  /**
   * Whether a failure is worth another attempt (with backoff, up to the runner's maxAttempts).
   * Default: errors with `retryable: true` (e.g. a provider timeout or 503).
   */
  readonly retryable?: (error: unknown) => boolean;
  /** Attempts of a retryable failure of this step (its action, and its compensation) before it counts as failed. Default the runner's maxAttempts. */
  readonly maxAttempts?: number;
  /**
   * How long an attempt of the action (or of the compensation) may take, in ms. When it passes, the
   * runner stops waiting, aborts `ctx.signal`, stops renewing its lease and records the attempt as a
   * failure (`SAGA_STEP_TIMED_OUT`, retryable: retried with backoff up to `maxAttempts`, as this
   * step's `retryable` decides, then `<step>.failed`). Without it, an action that never settles (a
   * call without a timeout, a lost promise) kept its lease renewed for ever: the saga could be neither
   * claimed, resumed nor closed, and its runner ran nothing else. Set it above the slowest attempt the
   * step may legitimately make. Default the runner's `stepTimeoutMs` (5 minutes); at most 2^31 − 1.
   */
  readonly timeoutMs?: number;
}

/**
 * A saga (process manager) type: its initial state, its steps, and handlers that decide what follows
 * each event. Step results arrive as events `<step>.succeeded` (data: the action's result) and
 * `<step>.failed` (data: `{ code, message }`); a step without a `.succeeded` handler just completes, one
 * without a `.failed` handler fails the saga (compensation). Deadlines arrive as `deadline.<name>`.
 * Handlers are pure: they return a {@link SagaDecision} and do no I/O.
 */
export interface SagaDefinition<S = unknown, I = unknown> {
  /** Stored with every instance, e.g. `payment`. */
  readonly name: string;
  /** The state of a new instance, before `start`. */
  readonly initialState: S;
  /** Decides the first steps from the start input. */
  readonly start: (state: S, input: I) => SagaDecision<S>;
  readonly steps: Readonly<Record<string, SagaStep<S>>>;
  readonly on: Readonly<Record<string, (state: S, event: SagaEvent) => SagaDecision<S>>>;
}

/**
 * A saga's lifecycle. `failed`: a compensation itself failed for good and needs a person; its
 * `pending` keeps that compensation first, then those it held up, and nothing of it runs until the
 * person settles that compensation by hand and has the saga run the rest (`settleSagaCompensation`). `parked`: a
 * handler decided `park` (a step failed where undoing is wrong); it needs a person, who reads the error
 * and resumes it (`resumeSaga`) or settles it by hand and closes it. `closed`: a person closed a failed
 * or parked saga (`closeSaga`); finished, nothing more runs.
 */
export type SagaStatus = 'running' | 'completed' | 'compensating' | 'compensated' | 'failed' | 'parked' | 'closed';

/** A persisted saga instance. */
export interface SagaInstance<S = unknown> {
  readonly tenantId: string;
  readonly id: string;
  readonly name: string;
  readonly state: S;
  /** Starts at 1; +1 with every change (optimistic concurrency). */
  readonly version: number;
  readonly status: SagaStatus;
  /** Work waiting to run, in order: step names, or `undo:<step>` during compensation; while `failed` or `parked`, the work left for a person. */
  readonly pending: readonly string[];
  /** Steps that succeeded, in order. */
  readonly completed: readonly string[];
  /**
   * Steps that failed for good (their retries spent, or a failure not worth retrying) while the saga
   * went on, in order: like the completed ones, none of them runs again (`SagaDecision.run` refuses them).
   */
  readonly failed: readonly string[];
  /** Failed attempts of the head of `pending`. */
  readonly attempts: number;
  /** Why the saga failed, or `null`; while `parked`, why it was parked (what the person should do). */
  readonly error: string | null;
  /** While `parked`: the saga's error from before it was parked (why it failed, when it was compensating), which a resume restores. */
  readonly errorBeforePark: string | null;
}

/** Any saga definition, whatever its state and input types (a registry holds several). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- state and input types differ per saga; each definition is typed where it is written
export type AnySagaDefinition = SagaDefinition<any, any>;
