import { ConcurrencyError, NotFoundError } from '../../platform/errors/index.ts';
import type { CommitStatementsFn, UnitOfWorkFn } from '../../platform/tenancy/index.ts';
import { loadOrder } from './operations/loadOrder.ts';
import { runOrderCommand } from './operations/runOrderCommand.ts';
import { createOrderStore } from './orderStore.ts';

const DISPATCH = { kind: 'system' as const, id: 'delivery-dispatch' };

/**
 * The in-process adapter other services' ports use to command orders (the delivery service's
 * dispatch assigns couriers). Runs ordering's own command path as a `system` actor, at the order's
 * current version, retrying a few times when another command got there first. Assigning the courier
 * already assigned appends nothing, so a retried dispatch is harmless.
 */
export function orderCommands(deps: { readonly unitOfWork: UnitOfWorkFn; readonly commitStatements: CommitStatementsFn }) {
  const { unitOfWork, commitStatements } = deps;
  const store = createOrderStore();
  return {
    async assignCourier(input: { readonly restaurantId: string; readonly orderId: string; readonly courierId: string }): Promise<void> {
      const context = { service: 'ordering', tenantId: input.restaurantId, actor: DISPATCH };
      for (let attempt = 0; ; attempt++) {
        const loaded = await unitOfWork(context, (tx) => loadOrder(store, tx, input.orderId));
        if (loaded === null) throw new NotFoundError('order', input.orderId);
        try {
          await runOrderCommand(
            { unitOfWork, commitStatements, store },
            { context, orderId: input.orderId, expectedVersion: loaded.version, command: { type: 'assign-courier', by: DISPATCH, courierId: input.courierId }, lineage: {} },
          );
          return;
        } catch (error) {
          if (!(error instanceof ConcurrencyError) || attempt >= 3) throw error;
        }
      }
    },
  };
}
