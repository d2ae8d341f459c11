import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { actorContext, authorize } from '../../api/index.ts';
import { BrigadeError, NotFoundError } from '../../platform/errors/index.ts';
import type { ServiceDeps } from '../../platform/runtime/index.ts';
import { showSaga } from '../../platform/sagas/index.ts';
import { customerErrorOf, PaymentViewSchema, toPaymentView, type PaymentView } from './paymentView.ts';
import type { OrderAccess } from './ports.ts';
import type { PaymentSagaState } from './saga/index.ts';

/** What a customer or a courier reads in place of an error's text (a customer reads its own failures' as {@link customerErrorOf} words them). */
export const ERROR_FOR_CUSTOMERS = 'the payment needs attention; the restaurant and the platform can see why';

/** The steps that pay the restaurant and the courier out. */
const PAYOUT_STEPS = new Set(['payoutRestaurant', 'payoutCourier']);

/**
 * The view as a customer or a courier reads it. The errors' text is written for the restaurant and the
 * platform's operators (the provider's address, keys, the commands to run: `brigade sagas resume …`):
 * they read that there is an error. The payouts are the restaurant's and the courier's business: a
 * customer sees neither (the restaurant's share would give the platform's commission away), a courier
 * only their own; the others are `null`, amounts and the provider's references alike. The card's last
 * four digits are the customer's: a courier reads `null`. Whether there is an error, and where the
 * money is (`payment`: declined, unknown, …), stay. A customer whose charge failed for a reason they can
 * fix (`customerError`: no card on file, a declined card, on a saga that waits for nothing) reads what to
 * do, in the view's error and the charge's failed steps; every other error reads {@link ERROR_FOR_CUSTOMERS}.
 */
function asCustomerOrCourier(view: PaymentView, role: 'customer' | 'courier', customerError: string | null): PaymentView {
  const own = role === 'customer' ? customerError : null;
  const hide = (error: string | null, mine = false) => (error === null ? null : mine && own !== null ? own : ERROR_FOR_CUSTOMERS);
  const hidden = (step: string) => PAYOUT_STEPS.has(step) && !(role === 'courier' && step === 'payoutCourier');
  return {
    ...view,
    error: hide(view.error, true),
    cardLast4: role === 'courier' ? null : view.cardLast4,
    amounts: { ...view.amounts, paidOutRestaurant: null, paidOutCourier: role === 'courier' ? view.amounts.paidOutCourier : null },
    steps: view.steps.map((step) => ({
      ...step,
      error: hide(step.error, step.step === 'charge' && !step.compensation),
      ...(hidden(step.step) ? { amount: null, reference: null } : {}),
    })),
  };
}

/**
 * The payments service's routes: `GET /orders/:id/payment`, the payment saga of an order (status,
 * each step with its outcome, time and amount, the events it took, its deadlines), for the people
 * who may read the order itself (ordering decides through the {@link OrderAccess} port; the errors' text and the restaurant's payout for staff and admins only); anyone else,
 * and an order whose payment has not started yet, gets 404.
 */
export function paymentRoutes(orderAccess: (deps: ServiceDeps) => OrderAccess): FastifyPluginAsync<{ deps: ServiceDeps }> {
  return async (plugin, { deps }) => {
    const app = plugin.withTypeProvider<TypeBoxTypeProvider>();
    const access = orderAccess(deps);
    app.get(
      '/orders/:id/payment',
      {
        schema: {
          tags: ['payments'],
          summary: "An order's payment: the saga's state and steps with amounts (its customer, restaurant staff, assigned courier, admin)",
          security: [{ bearer: [] }],
          params: Type.Object({ id: Type.String({ format: 'uuid' }) }),
          response: { 200: PaymentViewSchema },
        },
        config: { docs: { errors: { 404: 'NOT_FOUND: no such order, or not one this caller may see; PAYMENT_NOT_STARTED: not yet there for this caller (retry in a few seconds)' } } },
      },
      async (request) => {
        const principal = authorize(request, 'customer', 'staff', 'courier', 'admin');
        const { id } = request.params;
        const restaurantId = await access.restaurantOf(principal, id);
        if (restaurantId === null) throw new NotFoundError('order', id);
        // The saga's own RLS too: the transaction runs in the order's restaurant.
        const saga = await deps.unitOfWork(
          { ...actorContext(principal, 'payments', restaurantId), readOnly: true },
          (tx) => showSaga<PaymentSagaState>(tx, 'payments', id, { tenantId: restaurantId }),
        );
        // The order exists and the caller may read it: its payment starts once OrderPlaced reaches payments.
        // A courier reads it once CourierAssigned has reached payments too (the saga's per-actor RLS).
        if (saga === null) {
          const why = principal.role === 'courier' ? "its payment is visible to the assigned courier once the assignment reaches payments" : "it starts once the order's placement reaches payments";
          throw new BrigadeError('PAYMENT_NOT_STARTED', 404, `The payment of order ${id} is not there for you yet (${why}): retry in a few seconds`, { details: { orderId: id } });
        }
        // The money's own people (the restaurant, the platform) read the errors and every payout.
        return principal.role === 'customer' || principal.role === 'courier' ? asCustomerOrCourier(toPaymentView(saga), principal.role, customerErrorOf(saga)) : toPaymentView(saga);
      },
    );
  };
}
