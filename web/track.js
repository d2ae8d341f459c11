// Customer order tracking: the order's events as a timeline with the time of each, re-read every
// few seconds until the order is finished.
import { api, clockTime, h, money, problemText, requireToken, say, shortId, signInAgainOn, STATUS_LABELS, UUID, wireSignOut, worthRetrying } from './common.js';

const EVENT_LABELS = {
  OrderPlaced: 'Order placed',
  OrderAccepted: 'Accepted by the restaurant',
  OrderRejected: 'Rejected by the restaurant',
  ItemPrepared: 'An item is prepared',
  OrderReady: 'Ready for pick-up',
  DispatchAlertRaised: 'No courier free yet: the restaurant is arranging the delivery',
  CourierAssigned: 'A courier is assigned',
  OrderPickedUp: 'Picked up by the courier',
  OrderDelivered: 'Delivered',
  OrderCancelled: 'Cancelled',
};
const STATUS_OF = { OrderPlaced: 'placed', OrderAccepted: 'accepted', OrderRejected: 'rejected', OrderReady: 'ready', OrderPickedUp: 'picked_up', OrderDelivered: 'delivered', OrderCancelled: 'cancelled' };
const FINISHED = ['delivered', 'rejected', 'cancelled'];
const POLL_MS = 2000;

const orderId = decodeURIComponent(window.location.pathname.split('/')[2] ?? '');
const message = document.getElementById('message');
const statusEl = document.getElementById('status');
const timeline = document.getElementById('timeline');
let shownVersion = 0;

requireToken();
wireSignOut(document.getElementById('sign-out'));
signInAgainOn(message, 'The status below is no longer kept current.');

function detailOf(event) {
  if (event.type === 'OrderAccepted' && typeof event.data.etaMinutes === 'number') return ` — ready in about ${event.data.etaMinutes} min`;
  if (event.type === 'OrderRejected' && event.data.reason) return ` — ${event.data.reason}`;
  if (event.type === 'OrderCancelled' && event.data.reason) return ` — ${event.data.reason}`;
  return '';
}

async function poll() {
  const result = await api(`/v1/orders/${encodeURIComponent(orderId)}/events`);
  if (!result.ok) {
    say(message, problemText(result), 'error');
    if (worthRetrying(result)) {
      setTimeout(poll, POLL_MS * 2);
      return;
    }
    // Not tried again (401, 403, 404): the status is not known, or no longer kept current.
    statusEl.textContent = shownVersion === 0 ? 'Unknown' : `${statusEl.textContent} (no longer updated)`;
    return;
  }
  say(message, '');
  const { events, version } = result.body;
  let status = 'placed';
  for (const e of events) status = STATUS_OF[e.type] ?? status;
  if (version !== shownVersion) {
    shownVersion = version;
    statusEl.textContent = STATUS_LABELS[status] ?? status;
    document.body.dataset.status = status;
    const placed = events.find((e) => e.type === 'OrderPlaced');
    if (placed) document.getElementById('summary').textContent = `Order ${shortId(orderId)} · ${money(placed.data.total, placed.data.currency)}`;
    timeline.replaceChildren(
      ...events.map((e) => h('li', { 'data-type': e.type }, h('time', { datetime: e.metadata.occurredAt }, clockTime(e.metadata.occurredAt)), EVENT_LABELS[e.type] ?? e.type, detailOf(e))),
    );
  }
  if (!FINISHED.includes(status)) setTimeout(poll, POLL_MS);
}

// An address that holds no order id is said as such, before the API is asked: its answer was
// `params.id must match format "uuid"`.
if (UUID.test(orderId)) {
  poll();
} else {
  statusEl.textContent = 'Unknown';
  say(message, 'This address has no order id: open the tracking link of your order (/track/<order id>).', 'error');
}
