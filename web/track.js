// Customer order tracking: the order's events as a timeline with the time of each, re-read every
// few seconds until the order is finished.
import { api, clockTime, focusIfLost, h, money, pollWhenVisible, problemText, requireToken, say, setText, shortId, showSignInLink, signInAgainOn, STATUS_LABELS, UUID, wireSignOut, worthRetrying } from './common.js';

const EVENT_LABELS = {
  OrderPlaced: 'Order placed',
  OrderAccepted: 'Accepted by the restaurant',
  OrderRejected: 'Rejected by the restaurant',
  ItemPrepared: 'An item is prepared',
  OrderReady: 'Ready for pick-up',
  DispatchAlertRaised: 'No courier free yet: the restaurant is arranging the delivery',
  CourierAssigned: 'A courier is assigned',
  CourierUnassigned: 'The courier did not come for it: finding another courier',
  OrderPickedUp: 'Picked up by the courier',
  OrderDelivered: 'Delivered',
  OrderCancelled: 'Cancelled',
};
const STATUS_OF = { OrderPlaced: 'placed', OrderAccepted: 'accepted', OrderRejected: 'rejected', OrderReady: 'ready', OrderPickedUp: 'picked_up', OrderDelivered: 'delivered', OrderCancelled: 'cancelled' };
const FINISHED = ['delivered', 'rejected', 'cancelled'];
/**
 * What the note under the timeline says once the order is finished and the page stops reading it: it
 * said "checks for news every few seconds until the order is delivered" under Delivered, Rejected and
 * Cancelled alike.
 */
const STOPPED = {
  delivered: 'The order is delivered: this page no longer checks for news.',
  rejected: 'The restaurant rejected the order: this page no longer checks for news.',
  cancelled: 'The order is cancelled: this page no longer checks for news.',
};
const POLL_MS = 2000;

const orderId = decodeURIComponent(window.location.pathname.split('/')[2] ?? '');
const message = document.getElementById('message');
const statusEl = document.getElementById('status');
const timeline = document.getElementById('timeline');
let shownVersion = 0;
/** The status last read, in words, and when it was read (ISO); null before the first read. */
let shownStatus = null;
let readAt = null;

requireToken();
wireSignOut(document.getElementById('sign-out'));
signInAgainOn(message, 'The status below is no longer kept current.');

function detailOf(event) {
  if (event.type === 'OrderAccepted' && typeof event.data.etaMinutes === 'number') return ` — ready in about ${event.data.etaMinutes} min`;
  if (event.type === 'OrderRejected' && event.data.reason) return ` — ${event.data.reason}`;
  if (event.type === 'OrderCancelled' && event.data.reason) return ` — ${event.data.reason}`;
  // A customer's reason is sealed under their key: null once they were erased (decision 0090).
  if (event.type === 'OrderCancelled' && event.data.reason === null) return ' — any reason the customer gave was erased with their data';
  return '';
}

/** Says `text` unless the message already says it: an alert rewritten with the same words may be read out again. */
function tell(text) {
  if (message.textContent !== text || !message.classList.contains('error')) say(message, text, 'error');
}

async function poll() {
  const result = await api(`/v1/orders/${encodeURIComponent(orderId)}/events`);
  if (!result.ok) {
    if (worthRetrying(result)) {
      // Tried again, after the server's Retry-After when it is longer: the page says so (the platform's
      // "try again" would ask the reader to), and that the status shown is the last one known.
      const wait = Math.max(POLL_MS * 2, (result.retryAfter ?? 0) * 1000);
      tell(`${problemText(result)} The page tries again in ${Math.round(wait / 1000)} s.`);
      if (shownStatus !== null) setText(statusEl, `${shownStatus} (not updated since ${clockTime(readAt)})`);
      pollWhenVisible(poll, wait);
      return;
    }
    // Not tried again (401, 403, 404): the status is not known, or no longer kept current.
    statusEl.textContent = shownStatus === null ? 'Unknown' : `${shownStatus} (no longer updated)`;
    if (result.status === 403 || result.status === 404) notThisTokensOrder(result);
    else say(message, problemText(result), 'error');
    return;
  }
  say(message, '');
  readAt = new Date().toISOString();
  const { events, version } = result.body;
  let status = 'placed';
  for (const e of events) status = STATUS_OF[e.type] ?? status;
  shownStatus = STATUS_LABELS[status] ?? status;
  // Rewritten only when it changes (a live region): after a failed read it loses its "not updated since".
  setText(statusEl, shownStatus);
  if (version !== shownVersion) {
    shownVersion = version;
    document.body.dataset.status = status;
    const placed = events.find((e) => e.type === 'OrderPlaced');
    if (placed) document.getElementById('summary').textContent = `Order ${shortId(orderId)} · ${money(placed.data.total, placed.data.currency)}`;
    timeline.replaceChildren(
      ...events.map((e) => h('li', { 'data-type': e.type }, h('time', { datetime: e.metadata.occurredAt }, clockTime(e.metadata.occurredAt)), EVENT_LABELS[e.type] ?? e.type, detailOf(e))),
    );
  }
  if (FINISHED.includes(status)) setText(document.getElementById('poll-note'), STOPPED[status]);
  else pollWhenVisible(poll, POLL_MS);
}

/**
 * The token of this tab cannot read the order: another customer's (404: an order that is not theirs is
 * not found for them), or not a customer's (403, a courier's; or 404). Likely on a shared device, or
 * after support pasted a token. The page says so and links to sign-in, which comes back here: it said
 * "order … not found." with nothing more, and the reader had only "Sign out".
 */
function notThisTokensOrder(result) {
  const why = result.status === 404
    ? `Order ${shortId(orderId)} was not found for the token of this tab: it is not one of your orders, or it does not exist. `
    : `${problemText(result)} This page is for the customer who placed order ${shortId(orderId)}. `;
  focusIfLost(showSignInLink(message, why, 'Sign in as the customer who placed it', '.'));
}

// An address that holds no order id is said as such, before the API is asked: its answer was
// `params.id must match format "uuid"`.
if (UUID.test(orderId)) {
  poll();
} else {
  statusEl.textContent = 'Unknown';
  say(message, 'This address has no order id: open the tracking link of your order (/track/<order id>).', 'error');
}
