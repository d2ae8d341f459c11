import type pg from 'pg';
import { defineSaga, type StepContext } from '../../../src/platform/sagas/index.ts';

/** The toy saga's state: what happened, in order, as the saga saw it. */
export interface ToyState {
  readonly log: readonly string[];
}

/** Start input: which step fails for good, which fails once with a retryable error. */
export interface ToyInput {
  readonly failAt?: string;
  readonly flakyAt?: string;
  /** Whose compensation fails for good (a non-retryable error), e.g. `b`: its `undo:b` throws. */
  readonly undoFailAt?: string;
  /** Schedule deadline `accept` this many ms after start and wait for `accepted` after step a. */
  readonly acceptWithinMs?: number;
}

/** Test tables the toy's effects go to (owned by the test, outside Brigade's schemas). */
export const TOY_TABLES = `
create table if not exists public.toy_attempts (id bigint generated always as identity primary key, saga_id uuid not null, step text not null, key text not null);
create table if not exists public.toy_effects (key text primary key, saga_id uuid not null, step text not null, seq bigint generated always as identity);`;

/**
 * A saga of three steps a → b → c (a and b can be compensated). Each action records an attempt, then
 * its effect keyed by the idempotency key (a second run with the same key adds no effect), like a
 * provider call with an Idempotency-Key. `hang` makes step b wait forever after its effect committed.
 */
export function toySaga(pool: pg.Pool, options: { hangAt?: string } = {}) {
  const effect = (kind: string) => async (ctx: StepContext<ToyState & { input: ToyInput }>) => {
    const step = `${kind}${ctx.step}`;
    await pool.query(`insert into public.toy_attempts (saga_id, step, key) values ($1, $2, $3)`, [ctx.sagaId, step, ctx.idempotencyKey]);
    if (kind === '' && ctx.state.input.failAt === ctx.step) throw Object.assign(new Error(`${ctx.step} refused`), { code: 'TOY_REFUSED' });
    if (kind === '' && ctx.state.input.flakyAt === ctx.step && ctx.attempt === 1) throw Object.assign(new Error(`${ctx.step} timed out`), { retryable: true });
    if (kind === 'undo-' && ctx.state.input.undoFailAt === ctx.step) throw Object.assign(new Error(`undo of ${ctx.step} refused`), { code: 'TOY_UNDO_REFUSED' });
    await pool.query(`insert into public.toy_effects (key, saga_id, step) values ($1, $2, $3) on conflict (key) do nothing`, [ctx.idempotencyKey, ctx.sagaId, step]);
    if (options.hangAt === step) await new Promise(() => undefined);
    return { step };
  };
  const note = (s: ToyState & { input: ToyInput }, line: string) => ({ ...s, log: [...s.log, line] });
  return defineSaga<ToyState & { input: ToyInput }, ToyInput>({
    name: 'toy',
    initialState: { log: [], input: {} },
    start: (s, input) => ({
      state: { ...note(s, 'started'), input },
      run: ['a'],
      ...(input.acceptWithinMs !== undefined ? { schedule: [{ name: 'accept', inMs: input.acceptWithinMs }] } : {}),
    }),
    steps: {
      a: { action: effect(''), compensate: effect('undo-') },
      b: { action: effect(''), compensate: effect('undo-') },
      c: { action: effect('') },
    },
    on: {
      'a.succeeded': (s) => (s.input.acceptWithinMs !== undefined ? { state: note(s, 'a done, waiting') } : { state: note(s, 'a done'), run: ['b', 'c'] }),
      'b.succeeded': (s) => ({ state: note(s, 'b done') }),
      'c.succeeded': (s) => ({ state: note(s, 'c done'), complete: true }),
      accepted: (s) => ({ state: note(s, 'accepted'), run: ['b', 'c'], cancel: ['accept'] }),
      poke: (s, e) => ({ state: note(s, `poke ${String(e.data)}`) }),
      'deadline.accept': (s) => ({ state: note(s, 'deadline accept'), fail: 'not accepted in time' }),
    },
  });
}
