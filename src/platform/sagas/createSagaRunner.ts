import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { ValidationError } from '../errors/index.ts';
import type { UnitOfWorkFn } from '../tenancy/index.ts';
import { UNDO, type SagaInput } from './applySagaEvent.ts';
import pg from 'pg';
import { SagaDefinitionError, SagaHandlerError, SagaResultNotSerializableError, SagaStepAbortedError, SagaStepTimeoutError } from './sagaErrors.ts';
import { claimSagaWork } from './claimSagaWork.ts';
import { renewSagaLease } from './renewSagaLease.ts';
import type { SagaRegistry } from './createSagaRegistry.ts';
import { sagaWorkKey } from './sagaWork.ts';
import { DEFAULT_STEP_TIMEOUT_MS, isStepTimeout, MAX_STEP_TIMEOUT_MS } from './stepTimeout.ts';
import { transitionSaga } from './transitionSaga.ts';
import { sleep } from '../runtime/sleep.ts';
import { waitForWork } from '../runtime/workWakeups.ts';

/** Options of {@link createSagaRunner}. */
export interface SagaRunnerOptions {
  /** Runs a transaction (`deps.unitOfWork`, or `unitOfWork` bound to a pool). */
  readonly unitOfWork: UnitOfWorkFn;
  /** The service whose role the transactions take, e.g. `payments`. */
  readonly service: string;
  readonly registry: SagaRegistry;
  /**
   * Names this runner in leases (`locked_by`, which `brigade sagas show`, the stuck list and a refused
   * resume or close print). Default `<host>:<pid>/runner-<8 hex>`: the process a person restarts
   * should the runner hang.
   */
  readonly workerId?: string;
  /**
   * How long a claimed item stays this runner's without news from it. While the step runs, the runner
   * renews the lease every third of it, so a step slower than the lease (provider calls that time
   * out in turn) keeps it, and a runner that dies loses it within `leaseMs`. Default 30 000 ms.
   */
  readonly leaseMs?: number;
  /** Idle poll interval. Default 500 ms; a step made due in this process wakes an idle runner at once. */
  readonly pollMs?: number;
  /** Attempts of a retryable failure before the step counts as failed, for steps without their own `maxAttempts`. Default 5. */
  readonly maxAttempts?: number;
  /**
   * How long an attempt of a step may take, in ms, for steps without their own `timeoutMs`: then the
   * runner stops waiting, aborts `ctx.signal`, lets its lease go and records a retryable failure
   * (`SAGA_STEP_TIMED_OUT`). Default 300 000 (5 minutes).
   */
  readonly stepTimeoutMs?: number;
  /** Delay before attempt `n + 1` after `n` failures. Default 200 ms · 2^(n−1), at most 30 s. */
  readonly backoffMs?: (failures: number) => number;
  /** Receives errors of the loop itself (database down); the loop goes on after pollMs. */
  readonly onError?: (error: unknown) => void;
  /**
   * The label of the database this runner claims from when it is not the shared one (`deps.placement`,
   * decision 0008). An announced step wakes one idle runner per database of the store (`waitForWork`'s
   * group), so a dedicated database's runner is woken although the shared database's runners waited longer.
   */
  readonly database?: string;
}

/** A saga runner. */
export interface SagaRunner {
  /**
   * Claims and runs one due work item; `false` when none was due (or `signal` was already aborted).
   * `signal` stops the item's step as `run`'s does: it aborts `ctx.signal`, and a step that then fails
   * is recorded as stopped (`SAGA_STEP_ABORTED`), its lease let go.
   */
  runOnce(signal?: AbortSignal): Promise<boolean>;
  /**
   * Runs items until `signal` aborts; while idle, polls every pollMs and wakes when this process makes a
   * step due. An abort while a step runs aborts the step's `ctx.signal` too, and `run` returns once that
   * step has ended and its outcome is recorded: a step that passes the signal to its I/O ends at once,
   * and its attempt is recorded as a retryable failure (`SAGA_STEP_ABORTED`) with its lease let go, so
   * another runner takes it at once. A step that ignores the signal is waited for (up to its timeout).
   */
  run(signal: AbortSignal): Promise<void>;
}

const SYSTEM = { kind: 'system', id: 'saga-runner' } as const;

/**
 * An outcome that cannot be recorded however often it is tried: its decision throws (a handler's bug,
 * an inconsistent decision), or PostgreSQL refuses its data (SQLSTATE class 22, data exception; 23,
 * integrity constraint violation). Anything else (40P01 deadlock, a reset connection, 57P01…) passes.
 */
function unrecordable(error: unknown): boolean {
  if (error instanceof SagaHandlerError || error instanceof SagaDefinitionError || error instanceof SagaResultNotSerializableError) return true;
  return error instanceof pg.DatabaseError && /^2[23]/.test(error.code ?? '');
}

/**
 * Runs sagas' steps: claims an instance whose head work item is due (a step, or `undo:<step>` while
 * compensating), runs its action outside any transaction with the idempotency key `${sagaId}:${step}`
 * (`…:compensate` for compensations), then records the outcome as the event `<step>.succeeded` or
 * `<step>.failed` under optimistic concurrency. A process killed between the action and that record
 * loses its lease; the item runs again with the same key, so its effect happens once. An outcome that
 * can never be recorded (a handler that throws or returns a state JSON cannot hold, a result PostgreSQL refuses as data or JSON cannot hold) parks the saga
 * with the error instead of running the item again at every lease expiry; any other failure to
 * record (a deadlock, a lost connection) leaves the item to its lease.
 *
 * @example
 * const runner = createSagaRunner({ unitOfWork: deps.unitOfWork, service: 'payments', registry });
 * await runner.run(signal);
 */
export function createSagaRunner(options: SagaRunnerOptions): SagaRunner {
  const workerId = options.workerId ?? `${os.hostname()}:${process.pid}/runner-${randomUUID().slice(0, 8)}`;
  const leaseMs = options.leaseMs ?? 30_000;
  const stepTimeoutMs = options.stepTimeoutMs ?? DEFAULT_STEP_TIMEOUT_MS;
  if (!isStepTimeout(stepTimeoutMs)) throw new ValidationError(`stepTimeoutMs must be a whole number of ms from 1 to ${MAX_STEP_TIMEOUT_MS}`, { field: 'stepTimeoutMs' });
  const maxAttempts = options.maxAttempts ?? 5;
  const backoff = options.backoffMs ?? ((n: number) => Math.min(30_000, 200 * 2 ** (n - 1)));
  const { registry, service } = options;

  const runOnce = async (stop?: AbortSignal): Promise<boolean> => {
    // A function, not a narrowed property: the signal may abort while the claim runs.
    const stopping = (): boolean => stop?.aborted === true;
    if (stopping()) return false;
    const instance = await options.unitOfWork({ service, actor: SYSTEM }, (tx) => claimSagaWork(tx, registry, workerId, leaseMs));
    if (instance === null) return false;
    const item = instance.pending[0] as string;
    const undo = item.startsWith(UNDO);
    const step = undo ? item.slice(UNDO.length) : item;
    const definition = registry.definition(instance.name);
    const spec = definition.steps[step];
    const abort = new AbortController();
    const ctx = { sagaId: instance.id, tenantId: instance.tenantId, step, idempotencyKey: `${instance.id}:${step}${undo ? ':compensate' : ''}`, state: instance.state, attempt: instance.attempts + 1, signal: abort.signal };
    let outcome: { ok: true; result: unknown } | { ok: false; error: unknown };
    // Before, only the step's timeout aborted its signal, and `run` looked at its own only between
    // steps: a shutdown during a slow provider call waited for the call (past the CLI's 10 s worker
    // stop, which then closed the pools under the step and exited 1), and the item, its outcome never
    // recorded, waited for its lease before another instance ran it. Now the stop aborts the step's
    // signal; the runner still waits for the step (a step that passes the signal to its I/O ends at
    // once; a database command finishes its transaction), and records a failure then as stopped.
    let stopped = false;
    const onStop = () => {
      if (abort.signal.aborted) return; // timed out first: that is the attempt's failure
      stopped = true;
      abort.abort(new SagaStepAbortedError(instance.name, item, ctx.attempt));
    };
    stop?.addEventListener('abort', onStop, { once: true });
    if (stopping()) onStop(); // aborted while the claim ran
    // Before, a step slower than the lease lost it while it ran: another runner started the same step
    // beside it, and a person's close or resume was no longer refused as in flight.
    const renewal = setInterval(() => {
      options
        .unitOfWork({ service, tenantId: instance.tenantId, actor: SYSTEM }, (tx) => renewSagaLease(tx, registry, { tenantId: instance.tenantId, sagaId: instance.id, workerId, leaseMs }))
        .catch((error: unknown) => options.onError?.(error));
    }, Math.max(1, Math.floor(leaseMs / 3)));
    // The renewal keeps the lease for as long as the action is pending, so an action that never
    // settles (a call without a timeout, a lost promise) held it for ever: the saga could be neither
    // claimed, resumed nor closed, and this runner ran nothing else. At the step's timeout the runner
    // stops waiting (the renewal ends with it), aborts the signal, and records a retryable failure,
    // which releases the lease. An action that ignores the signal may still make its effect later,
    // under the same key as the retry: once, as after a lapsed lease.
    const timeoutMs = spec?.timeoutMs ?? stepTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = new SagaStepTimeoutError(instance.name, item, timeoutMs, ctx.attempt);
        abort.abort(error);
        reject(error);
      }, timeoutMs);
    });
    try {
      const act = undo ? spec?.compensate : spec?.action;
      if (act === undefined) throw new Error(`Saga ${instance.name} has no ${undo ? 'compensation' : 'action'} for step ${step}`);
      outcome = { ok: true, result: (await Promise.race([act(ctx), timedOut])) ?? null };
    } catch (error) {
      outcome = { ok: false, error };
    } finally {
      stop?.removeEventListener('abort', onStop);
      clearInterval(renewal);
      clearTimeout(timer);
    }
    const record = (input: SagaInput, delayMs?: number) =>
      options.unitOfWork({ service, tenantId: instance.tenantId, actor: SYSTEM }, (tx) =>
        transitionSaga(tx, registry, instance.id, input, { tenantId: instance.tenantId, releaseLeaseOf: workerId, ...(delayMs === undefined ? {} : { delayMs }) }),
      );
    const recordOutcome = async () => {
      if (outcome.ok) {
        // Stored as JSON: a result JSON cannot hold would fail the same way at every lease.
        try {
          JSON.stringify(outcome.result);
        } catch (error) {
          throw new SagaResultNotSerializableError(instance.name, item, error);
        }
        return record({ kind: 'stepSucceeded', item, result: outcome.result });
      }
      const e = outcome.error as { code?: unknown; message?: unknown; retryable?: unknown };
      if (stopped) {
        // Stopped, not refused: retried at once, whatever the step's retry rules and attempts left (a
        // stop on the last attempt does not fail the step). The attempt still counts (`ctx.attempt`
        // grows): its request may have been sent and may yet be processed, which the payment charge
        // must know on its next attempt (an unknown outcome, not "nothing charged").
        const reason = abort.signal.reason as SagaStepAbortedError;
        const ended = typeof e?.message === 'string' ? e.message : String(outcome.error);
        return record({ kind: 'stepFailed', item, error: { code: reason.code, message: `${reason.message}. The step ended with: ${ended}` }, retry: true });
      }
      const retryable = spec?.retryable !== undefined ? spec.retryable(outcome.error) : e?.retryable === true;
      const retry = retryable && instance.attempts + 1 < (spec?.maxAttempts ?? maxAttempts);
      const error = { code: typeof e?.code === 'string' ? e.code : 'STEP_FAILED', message: typeof e?.message === 'string' ? e.message : String(outcome.error) };
      return record({ kind: 'stepFailed', item, error, retry }, retry ? backoff(instance.attempts + 1) : undefined);
    };
    try {
      await recordOutcome();
    } catch (error) {
      // Unrecorded, the item runs again when its lease expires: right for what passes (a version
      // conflict, a deadlock, a connection reset, a tenant on the move), the lease being the pause.
      // What fails the same way every time would run the action at every lease, for ever, unseen: the
      // saga is parked with the error instead. If even the park cannot be written, the database is
      // what fails, and the lease expires as after a crash.
      if (!unrecordable(error)) throw error;
      const reason =
        `${item} ${outcome.ok ? 'succeeded' : 'failed'} (attempt ${instance.attempts + 1}) but its outcome could not be recorded: ${error instanceof Error ? error.message : String(error)}. ` +
        `Parked so that it does not run again at every lease: fix the cause (the step's handler, its result) and deploy, then 'brigade sagas resume ${instance.id}' runs ${item} again (with its key: its effect happens once); ` +
        `or settle by hand what the step did and 'brigade sagas close ${instance.id} --reason "what you did"'` +
        // A compensation can also be settled alone, the saga running those behind it (settleSagaCompensation).
        (item.startsWith(UNDO) ? `; or, once you have checked or done ${item} by hand, 'brigade sagas resume ${instance.id} --settled "what you did"' runs the compensations after it` : '');
      try {
        await record({ kind: 'park', item, reason });
      } catch {
        throw error;
      }
      options.onError?.(error);
    }
    return true;
  };

  return {
    runOnce,
    run: async (signal) => {
      while (!signal.aborted) {
        let worked = false;
        try {
          worked = await runOnce(signal);
        } catch (error) {
          // The database is down, say: wait out the poll whatever is announced meanwhile.
          options.onError?.(error);
          await sleep(options.pollMs ?? 500, signal);
          continue;
        }
        // Idle: a step committed in this process wakes the runner (decision 0073); other processes' at the poll.
        if (!worked) await waitForWork(sagaWorkKey(registry.schema), options.pollMs ?? 500, signal, options.database ?? '');
      }
    },
  };
}
