import type pg from 'pg';
import { unitOfWork } from '../../src/platform/db/index.ts';
import type { UnitOfWorkFn } from '../../src/platform/tenancy/index.ts';

/**
 * A unit of work on `pool` for a polling worker under test, and `wentIdle`, which resolves the first
 * time a transaction's result says the worker found nothing (`isIdle`). The worker then starts its idle
 * wait in the same turn of the event loop, before any I/O the test starts after `await wentIdle`.
 */
export function watchForIdle(pool: pg.Pool, isIdle: (result: unknown) => boolean): { unitOfWork: UnitOfWorkFn; wentIdle: Promise<void> } {
  let idle!: () => void;
  const wentIdle = new Promise<void>((resolve) => (idle = resolve));
  return {
    wentIdle,
    unitOfWork: async (context, fn) => {
      const result = await unitOfWork(pool, context, fn);
      if (isIdle(result)) idle();
      return result;
    },
  };
}
