// The restaurant live-board: open orders grouped by status, kept current by the board's
// Server-Sent Events stream (read with fetch so the token travels in the Authorization header),
// with a timer on each order and the accept / ready / cancel commands sent with If-Match. An order the
// delivery service found no courier for carries a dispatch alert, shown on its card and in the
// alerts list at the top until a courier is assigned; its card (and that of any ready order without a
// courier) has a courier picker: the couriers of the restaurant's city staff may assign
// (GET /v1/restaurants/:rid/couriers), and an Assign button that sends assign-courier with If-Match.
// Served without delivery (that route not found), the pickers say couriers cannot be assigned here.
// A token that cannot read this board (403, 404) stops it with a link to sign in as this restaurant's staff.
// A token the platform refuses (401, from the stream or a command) stops the stream and leaves the
// cards in view, marked as no longer current, with every button off and a link to sign in again.
import {
  announce as announceIn, api, clockTime, elapsed, focusIfLost, h, money, onTokenRefused, place, problemText, readErrorShownOn, readEventStream, reconnectDelay, requireToken, say, setText,
  shortId, showSignInLink, signInAgainOn, STATUS_LABELS, UUID, wireSignOut, worthRetrying,
} from './common.js';

const OPEN = ['placed', 'accepted', 'ready', 'picked_up'];
/** Statuses staff may cancel an order in: before its pick-up (the API's rule). */
const CANCELLABLE = ['placed', 'accepted', 'ready'];
/** The reason a cancel from the board gives (the customer's tracking page shows it). */
const CANCEL_REASON = 'Cancelled by the restaurant';
/** The board's commands: their body, and the word for a success. */
const COMMANDS = {
  accept: { body: {}, done: 'accepted' },
  ready: { body: {}, done: 'marked ready' },
  cancel: { body: { reason: CANCEL_REASON }, done: 'cancelled' },
  'assign-courier': { body: {}, done: 'courier assigned' },
};
/** How long the list of couriers is used before it is read again while a card needs it. */
const COURIERS_FRESH_MS = 15_000;

const rid = decodeURIComponent(window.location.pathname.split('/')[2] ?? '');
const message = document.getElementById('message');
/** A failed read of the board, shown until a read succeeds (it is tried again, and at the stream's next start). */
const readError = readErrorShownOn(message);
/** The stream's refusal (a non-OK answer, asked again later), shown until a connection opens. */
const streamError = readErrorShownOn(message);
/** The first wait before a failed board read is tried again, doubled at each failure ({@link reconnectDelay}). */
const READ_RETRY_FIRST_MS = 1000;
const updates = document.getElementById('updates');
const streamStatus = document.getElementById('stream-status');
const alerts = document.getElementById('alerts');
/** What staff can do about an order without a courier: assign one with the picker on its card, or cancel it. */
const ALERT_ADVICE =
  "Choose a courier of the restaurant's city in the picker on its card and press Assign (a busy courier takes it after their current order), " +
  'or cancel it with the Cancel button.';
/** Why this board has no courier picker: the server serves ordering without delivery (`brigade serve --service ordering`). */
const NO_COURIERS_HERE = 'Couriers cannot be assigned on this server: it does not serve the delivery service.';
/** The advice of a dispatch alert on such a board. */
const ALERT_ADVICE_WITHOUT_PICKER = `${NO_COURIERS_HERE} Cancel it with the Cancel button, or have a courier assigned where delivery is served.`;
/** orderId → board row (as GET /board and the stream give it). */
const orders = new Map();
/** Orders whose accept, ready or cancel is on its way: their buttons stay disabled through a redraw (a stream event rebuilt them enabled, and a second click got a false 412). */
const sending = new Set();
/** orderId → the version at which a finished order left: an older copy of it (a board read that crossed the stream) does not bring it back. */
const finished = new Map();
/** The stream is open, and the board has been read since it (re)started: only both together are "Live". */
const live = { streamOpen: false, boardRead: false, readFailed: false };
/** Counts the stream's starts: a newer start's read supersedes an older one's, and its retries. */
let reads = 0;
/**
 * Whether a read of the board has worked yet. Until one has, its rows are not announced: the orders
 * open when the page opened are the page itself, not news ("New order …" was said of an order placed
 * before, as the courier page does not).
 */
let boardReadOnce = false;
/** Whether the open stream started afresh (no last event id: the first one, or after a move). */
let freshStart = true;
/** Orders the stream has changed since its last start: a fresh read's replacement keeps them. */
const streamedSinceStart = new Set();
/**
 * The couriers staff may assign (GET /v1/restaurants/:rid/couriers), read while a card needs them:
 * `version` counts the reads that changed what a picker shows (`shown`, that read's {@link pickerShows}),
 * so that a card's picker is drawn anew only when the list changed. It counted every read: a picker was
 * drawn anew every 15–30 s with the same couriers, which closed it while open and moved focus to the new
 * one (a screen reader said it again).
 */
const couriers = { city: '', list: [], more: false, error: null, readAt: 0, loading: false, version: 0, shown: null, unavailable: false };
/** courierId → name, from every list read: a card names its courier with it. */
const courierNames = new Map();
/**
 * Couriers of cards that the last successful list read did not name (not in the directory, past the
 * listed ones, or offline): their cards do not want the list again (it was read every 15 s for ever);
 * a card with a picker still does, and each such read looks for their names again.
 */
const unnamed = new Set();
/** orderId → the courier chosen in its picker: kept through redraws until it is assigned. */
const chosen = new Map();
/**
 * orderId → the card drawn for it, and the state it was drawn from: an unchanged card is kept as it is
 * (a redraw for another order's change does not close an open picker or move focus).
 */
const drawn = new Map();
/** Orders the board has seen past their ETA: each is announced once (see showLate). */
const lateSeen = new Set();
/** The platform refused the token: the board is no longer current, and its buttons are off. */
let signedOut = false;
/**
 * The token can never read this board (the stream's final 403 or 404, see notThisTokensBoard): the
 * pause control is off and no longer read. Before, it stayed live: its Pause sent a PUT the API refused.
 */
let refused = false;
/** The actions a card offers next, in the order focus looks for one after its card moved (never Cancel). */
const NEXT_ACTIONS = ['accept', 'ready', 'courier', 'assign'];

requireToken();
wireSignOut(document.getElementById('sign-out'));
// The id, smaller, under the heading: staff use it in the CLI (brigade token --restaurant …).
if (UUID.test(rid)) document.getElementById('restaurant-id').textContent = rid;
/** Whether the header names the restaurant yet ({@link nameRestaurant}). */
let restaurantNamed = false;

/**
 * Names the restaurant in the header and the tab's title, read from the public directory
 * (GET /v1/restaurants/:rid, asked without the token: a refusal of it is not the board's). Asked at the
 * page's start and at each read of the board until it works; until then the header says "Live board"
 * and the id. The header said the id alone (to screen readers only), though staff know it by its name.
 */
async function nameRestaurant() {
  if (restaurantNamed || !UUID.test(rid)) return;
  const result = await api(`/v1/restaurants/${rid}`, { anonymous: true });
  if (restaurantNamed || !result.ok || typeof result.body?.name !== 'string') return;
  restaurantNamed = true;
  document.getElementById('restaurant').textContent = ` · ${result.body.name}`;
  document.title = `${result.body.name} · Live board · Brigade`;
}

/** What the board says of an order whose courier was taken off it (not picked up in time, decision 0040). */
const COURIER_LOST = 'courier taken off: not picked up in time. It needs a courier again: the dispatch is looking for one, or pick one on its card.';

/** Applies a row unless the board already holds a newer version of it; finished orders leave. Changes are announced unless `quiet`. */
function upsert(row, quiet = false) {
  const known = orders.get(row.orderId);
  const announce = quiet ? () => {} : announceChange;
  if (known !== undefined && known.version > row.version) return;
  if ((finished.get(row.orderId) ?? -1) >= row.version) return;
  if (!OPEN.includes(row.status)) {
    if (known !== undefined) announce(`Order ${shortId(row.orderId)} is ${STATUS_LABELS[row.status]?.toLowerCase() ?? row.status}.`);
    orders.delete(row.orderId);
    finished.set(row.orderId, row.version);
    return;
  }
  if (row.dispatchAlert && row.dispatchAlert.alertId !== known?.dispatchAlert?.alertId) {
    announce(`Order ${shortId(row.orderId)}: no courier found: assign one with the picker on its card, or cancel it.`);
  } else if (known === undefined && row.status === 'placed') {
    const what = (row.lines ?? []).map((l) => `${l.quantity} × ${l.name}`).join(', ');
    announce(`New order ${shortId(row.orderId)}: ${what}.`);
  } else if (known !== undefined && known.status !== row.status) {
    announce(`Order ${shortId(row.orderId)}: ${STATUS_LABELS[row.status]}.`);
  }
  // Only ordering's CourierUnassigned takes a courier off an open order: the pick-up deadline, missed.
  const courierLost = Boolean(known?.courierId) && !row.courierId;
  if (courierLost) announce(`Order ${shortId(row.orderId)}: ${COURIER_LOST}`);
  const next = { ...known, ...row, courierLost: row.courierId ? false : courierLost || Boolean(known?.courierLost) };
  // A card that now needs a courier picker reads the couriers anew: the list read for other cards may be old.
  if (needsCourier(next) && !(known !== undefined && needsCourier(known))) couriers.readAt = 0;
  orders.set(row.orderId, next);
}

/** The words of a dispatch alert. */
function alertText(order) {
  const a = order.dispatchAlert;
  // Delivery's reason may say what to do; the page's advice says how, here.
  const reason = a.reason.replace(/\.$/, '');
  return `No courier found after ${a.attempts} attempt${a.attempts === 1 ? '' : 's'} (since ${clockTime(a.raisedAt)}): ${reason}. ${couriers.unavailable ? ALERT_ADVICE_WITHOUT_PICKER : ALERT_ADVICE}`;
}

/** Whether staff may pick a courier for the order here: it has none, and the dispatch gave up (an alert) or it is ready. */
function needsCourier(order) {
  return !order.courierId && (order.status === 'accepted' || order.status === 'ready') && (Boolean(order.dispatchAlert) || order.status === 'ready');
}

/** How a courier is named for people: their name, else the end of their id. */
function courierName(courierId) {
  return courierNames.get(courierId) ?? `Courier …${shortId(courierId)}`;
}

/** What the picker says of a courier. */
function courierOption(courier) {
  const name = courierName(courier.courierId);
  if (courier.status === 'busy') return `${name} — busy: takes this order after their current one`;
  if (courier.held) return `${name} — held for another order until ${clockTime(courier.heldUntil)}`;
  return `${name} — available since ${clockTime(courier.availableSince)}`;
}

/** Whether the board needs the list of couriers: a card has a picker, or names a courier it has no name for that the last read did not already leave unnamed. */
function wantsCouriers() {
  return [...orders.values()].some((o) => needsCourier(o) || (o.courierId && !courierNames.has(o.courierId) && !unnamed.has(o.courierId)));
}

/** Reads the couriers staff may assign when the board needs them and the list is older than {@link COURIERS_FRESH_MS} (or `now`). */
async function loadCouriers(now = false) {
  if (signedOut || couriers.unavailable || couriers.loading || !UUID.test(rid) || (!now && (!wantsCouriers() || Date.now() - couriers.readAt < COURIERS_FRESH_MS))) return;
  couriers.loading = true;
  let result;
  try {
    result = await api(`/v1/restaurants/${rid}/couriers`);
  } finally {
    couriers.loading = false;
    couriers.readAt = Date.now();
  }
  if (result.ok) {
    couriers.city = result.body.city;
    couriers.list = result.body.couriers;
    couriers.more = result.body.more;
    couriers.error = null;
    for (const k of couriers.list) if (k.name) courierNames.set(k.courierId, k.name);
    unnamed.clear();
    for (const o of orders.values()) if (o.courierId && !courierNames.has(o.courierId)) unnamed.add(o.courierId);
  } else if (result.status === 401) {
    // Signed out (the refusal's listener has drawn that): no "tries again" under the sign-in link.
    return;
  } else if (result.status === 404 && result.body?.code === 'ROUTE_NOT_FOUND') {
    // This server serves ordering without delivery: asking again would find no route again (it was
    // asked every 15 s for ever, its route-not-found sentence on every card that needs a courier).
    couriers.unavailable = true;
  } else {
    couriers.error = problemText(result);
  }
  const shown = pickerShows();
  if (shown !== couriers.shown) {
    couriers.shown = shown;
    couriers.version += 1;
  }
  render();
}

/** What the pickers show of the last read of the couriers, as one string: a read that leaves it the same draws nothing anew. */
function pickerShows() {
  const listed = couriers.list.map((k) => [k.courierId, k.name, k.status, k.held, k.heldUntil, k.availableSince]);
  return JSON.stringify([couriers.city, listed, couriers.more, couriers.error, couriers.unavailable]);
}

/** The courier picker of an order without a courier: a select of the couriers staff may assign, and Assign. */
function picker(order) {
  const id = shortId(order.orderId);
  const selectId = `courier-${order.orderId}`;
  const off = sending.has(order.orderId) || signedOut;
  let body;
  if (couriers.unavailable) {
    body = [h('p', { class: 'hint' }, `${NO_COURIERS_HERE} Dispatch assigns one on its own; if it cannot, the order gets a dispatch alert.`)];
  } else if (couriers.error !== null) {
    body = [h('p', { class: 'hint' }, `The couriers could not be listed: ${couriers.error} The board tries again in ${COURIERS_FRESH_MS / 1000} s.`)];
  } else if (couriers.version === 0) {
    body = [h('p', { class: 'hint' }, 'Loading the couriers…')];
  } else if (couriers.list.length === 0) {
    body = [h('p', { class: 'hint' }, `No courier of ${couriers.city} is available or busy right now. The list is read again every ${COURIERS_FRESH_MS / 1000} s.`)];
  } else {
    const choice = chosen.get(order.orderId) ?? '';
    body = [
      h('label', { for: selectId }, 'Courier', h('span', { class: 'visually-hidden' }, ` for order ${id}`)),
      h('div', { class: 'picker-row' },
        h('select', { id: selectId, 'data-order': order.orderId, 'data-action': 'courier', disabled: off, onchange: (event) => choose(order.orderId, event.target.value) },
          h('option', { value: '', selected: choice === '' }, 'Choose a courier…'),
          couriers.list.map((k) => h('option', { value: k.courierId, selected: k.courierId === choice }, courierOption(k)))),
        h('button', { type: 'button', 'data-action': 'assign', 'data-order': order.orderId, 'aria-label': `Assign the chosen courier to order ${id}`, disabled: off, onclick: () => assign(order.orderId) }, 'Assign')),
      couriers.more ? h('p', { class: 'hint' }, 'Only the first couriers of the city are listed.') : null,
    ];
  }
  return h('div', { class: 'picker', role: 'group', 'aria-label': `Assign a courier to order ${id}` }, body);
}

function announceChange(text) {
  announceIn(updates, text);
}

/** What the timer of an order counts from, and its label. */
function timerOf(order) {
  switch (order.status) {
    case 'placed':
      return { since: order.placedAt, label: 'waiting' };
    case 'accepted':
      return { since: order.acceptedAt ?? order.placedAt, label: 'preparing', limitMinutes: order.etaMinutes };
    case 'ready':
      return { since: order.readyAt ?? order.updatedAt, label: 'ready for' };
    default:
      return { since: order.updatedAt ?? order.placedAt, label: 'on the way for' };
  }
}

/** When an order's ETA passes (ISO), for an accepted order with an ETA; else null. */
function dueAt(timer) {
  return timer.limitMinutes > 0 ? new Date(Date.parse(timer.since) + timer.limitMinutes * 60_000).toISOString() : null;
}

function card(order) {
  const id = shortId(order.orderId);
  const timer = timerOf(order);
  const due = dueAt(timer);
  const off = sending.has(order.orderId) || signedOut;
  const actions = [];
  if (order.status === 'placed') actions.push(h('button', { type: 'button', 'data-action': 'accept', 'data-order': order.orderId, 'aria-label': `Accept order ${id}`, disabled: off, onclick: () => send(order.orderId, 'accept') }, 'Accept'));
  if (order.status === 'accepted') actions.push(h('button', { type: 'button', 'data-action': 'ready', 'data-order': order.orderId, 'aria-label': `Mark order ${id} ready`, disabled: off, onclick: () => send(order.orderId, 'ready') }, 'Ready'));
  if (CANCELLABLE.includes(order.status)) actions.push(h('button', { type: 'button', class: 'secondary', 'data-action': 'cancel', 'data-order': order.orderId, 'aria-label': `Cancel order ${id}`, disabled: off, onclick: () => cancel(order.orderId) }, 'Cancel'));
  // tabindex -1: focus can rest on the card when it has no action left (see focusCard).
  const node = h(
    'li',
    { class: signedOut ? 'card stale' : 'card', tabindex: -1, 'data-order': order.orderId, 'data-version': order.version, 'aria-labelledby': `order-${order.orderId}` },
    h('h3', { id: `order-${order.orderId}` }, h('span', {}, `Order ${id}`), h('span', {}, money(order.total, order.currency))),
    signedOut ? h('p', { class: 'stale-note' }, 'No longer current: sign in again to see this order as it is.') : null,
    h('p', { class: 'meta' }, 'Placed ', h('time', { datetime: order.placedAt }, clockTime(order.placedAt)), ` · ${timer.label} `,
      h('span', { class: 'timer', 'data-since': timer.since }, elapsed(timer.since)),
      order.etaMinutes ? ` · ETA ${order.etaMinutes} min` : '',
      due === null ? null : h('strong', { class: 'late-note', 'data-due': due })),
    order.dispatchAlert ? h('p', { class: 'dispatch-alert', 'data-alert': order.dispatchAlert.alertId }, h('strong', {}, 'Dispatch alert: '), alertText(order)) : null,
    order.courierId ? h('p', { class: 'courier', 'data-courier': order.courierId }, 'Courier: ', courierName(order.courierId)) : null,
    order.courierLost && !order.courierId ? h('p', { class: 'courier-lost' }, h('strong', {}, 'Courier taken off: '), 'not picked up in time. It needs a courier again: the dispatch is looking for one, or pick one below.') : null,
    h('ul', {}, (order.lines ?? []).map((l) =>
      h('li', { class: l.prepared ? 'done' : '' }, `${l.quantity} × ${l.name}`, l.modifiers?.length ? ` (${l.modifiers.join(', ')})` : '', l.prepared ? h('span', { class: 'visually-hidden' }, ' prepared') : ''))),
    needsCourier(order) ? picker(order) : null,
    actions.length > 0 ? h('div', { class: 'actions' }, actions) : null,
  );
  showLate(node, Date.now());
  return node;
}

/**
 * Marks the card `node` of an order past its ETA (accepted, and its ETA from the acceptance gone by) in
 * words and not by colour alone: " · late by m:ss" in bold after the ETA, a wide left border on the card,
 * and the timer's colour. The first time the board sees an order late it says so once in "Latest"
 * ("Order 1a2b3c4d is past its ETA."), unless it was already late at the board's first read (the page
 * itself, as its orders are). Before, the timer's colour was the only sign (WCAG 1.4.1), and nothing
 * was said.
 */
function showLate(node, now) {
  const note = node.querySelector('.late-note[data-due]');
  if (note === null) return;
  const due = note.dataset.due;
  const late = now > Date.parse(due);
  setText(note, late ? ` · late by ${elapsed(due, now)}` : '');
  node.classList.toggle('late', late);
  node.querySelector('.timer')?.classList.toggle('late', late);
  const orderId = node.dataset.order;
  if (!late || lateSeen.has(orderId)) return;
  lateSeen.add(orderId);
  if (boardReadOnce && !signedOut) announceChange(`Order ${shortId(orderId)} is past its ETA.`);
}

/** The card of an order: the one drawn before when nothing it shows has changed since, else a new one. */
function cardOf(order) {
  const key = JSON.stringify([order, sending.has(order.orderId), signedOut, needsCourier(order) ? couriers.version : 0, order.courierId ? courierNames.get(order.courierId) ?? null : null]);
  const known = drawn.get(order.orderId);
  if (known?.key === key) return known.node;
  const node = card(order);
  drawn.set(order.orderId, { key, node });
  return node;
}

/**
 * Puts focus back on an order's card after a redraw took it away (the card drawn anew, or moved to
 * another column by an accept or ready): on the same control when the card still has it enabled, else
 * on the card's next action (Ready after an accept, the courier picker after a ready), else on the card.
 * Before, focus stayed only on the same button: after Accept or Ready it fell to the page.
 */
function focusCard(orderId, action = null) {
  const node = document.querySelector(`section.column li.card[data-order="${orderId}"]`);
  if (node === null) return;
  const enabled = (name) => node.querySelector(`[data-action="${name}"]:enabled`);
  const target = (action === null ? null : enabled(action)) ?? NEXT_ACTIONS.map(enabled).find((e) => e !== null) ?? node;
  target.focus();
}

/** Whether keyboard focus is in the card of `orderId` (or on nothing at all: a disabled button may have lost it). */
function focusIsOn(orderId) {
  const focused = document.activeElement;
  return focused === null || focused === document.body || focused.closest?.('li.card')?.dataset.order === orderId;
}

/** Redraws the alerts list and the columns, keeping keyboard focus on the same card (see focusCard). */
function render() {
  const alerting = [...orders.values()].filter((o) => o.dispatchAlert).sort((a, b) => Date.parse(a.dispatchAlert.raisedAt) - Date.parse(b.dispatchAlert.raisedAt));
  alerts.hidden = alerting.length === 0;
  alerts.querySelector('.count').textContent = `(${alerting.length})`;
  alerts.querySelector('ul').replaceChildren(...alerting.map((o) => h('li', { 'data-order': o.orderId }, h('strong', {}, `Order ${shortId(o.orderId)}: `), alertText(o))));
  const focused = document.activeElement;
  const focusOrder = focused?.closest?.('li.card')?.dataset.order ?? null;
  const focusAction = focused?.dataset?.action ?? null;
  for (const section of document.querySelectorAll('section.column')) {
    const status = section.dataset.status;
    const list = [...orders.values()].filter((o) => o.status === status).sort((a, b) => Date.parse(a.placedAt) - Date.parse(b.placedAt));
    section.querySelector('.count').textContent = `(${list.length})`;
    const ul = section.querySelector('.cards');
    place(ul, list.length === 0 ? [h('li', { class: 'empty' }, 'None')] : list.map(cardOf));
  }
  for (const orderId of drawn.keys()) if (!orders.has(orderId)) drawn.delete(orderId);
  for (const orderId of lateSeen) if (!orders.has(orderId)) lateSeen.delete(orderId);
  // Signed out, focus goes to the way to sign in again (signInAgainOn), not to a card whose buttons are off.
  if (focusOrder !== null && document.activeElement !== focused && !signedOut) focusCard(focusOrder, focusAction);
  loadCouriers();
}

function tick() {
  const now = Date.now();
  for (const timer of document.querySelectorAll('.timer[data-since]')) timer.textContent = elapsed(timer.dataset.since, now);
  for (const node of document.querySelectorAll('section.column li.card')) showLate(node, now);
}

/** Cancels an order once staff confirm it (it cannot be undone, and the customer is told). */
function cancel(orderId) {
  if (!orders.has(orderId) || sending.has(orderId)) return;
  if (!window.confirm(`Cancel order ${shortId(orderId)}? The customer is told it is cancelled; this cannot be undone.`)) return;
  send(orderId, 'cancel');
}

/** What the board says to an Assign with no courier chosen. */
const chooseFirst = (orderId) => `Order ${shortId(orderId)}: choose a courier in its list first.`;

/** Keeps the courier chosen in an order's picker; a choice answers the board's "choose a courier first". */
function choose(orderId, courierId) {
  chosen.set(orderId, courierId);
  if (courierId !== '' && message.textContent === chooseFirst(orderId)) say(message, '');
}

/** Assigns the courier chosen in the order's picker (none chosen: says so, and sends nothing). */
function assign(orderId) {
  if (!orders.has(orderId) || sending.has(orderId)) return;
  const courierId = chosen.get(orderId) ?? '';
  if (courierId === '') {
    say(message, chooseFirst(orderId), 'error');
    document.getElementById(`courier-${orderId}`)?.focus();
    return;
  }
  send(orderId, 'assign-courier', { courierId });
}

/**
 * Sends accept, ready, cancel or assign-courier (with `body`, else the command's own) with the version
 * this board shows; a 412 means someone else got there first.
 */
async function send(orderId, command, body = COMMANDS[command].body) {
  const order = orders.get(orderId);
  if (order === undefined || sending.has(orderId) || signedOut) return;
  // Pressed from its card: focus follows the card when the answer moves it (Ready after Accept).
  const keepFocus = focusIsOn(orderId);
  sending.add(orderId);
  for (const b of document.querySelectorAll(`.card [data-order="${orderId}"]:is(button, select)`)) b.disabled = true;
  // The card was drawn enabled: the next redraw draws it anew (disabled while this is on its way).
  drawn.delete(orderId);
  let result;
  try {
    result = await api(`/v1/orders/${orderId}/${command}`, { method: 'POST', body, ifMatch: order.version });
  } finally {
    sending.delete(orderId);
  }
  if (result.status === 401) {
    // Said once for the whole page (signInAgainOn); the card is drawn again, disabled.
    render();
    return;
  }
  if (result.ok) {
    const now = new Date().toISOString();
    const status = result.body.status;
    upsert({ ...order, status, version: result.body.version, etaMinutes: result.body.etaMinutes, courierId: result.body.courierId, dispatchAlert: result.body.dispatchAlert,
      ...(status === 'accepted' ? { acceptedAt: now } : {}), ...(status === 'ready' ? { readyAt: now } : {}), updatedAt: now });
    if (command === 'assign-courier') {
      chosen.delete(orderId);
      say(message, `Order ${shortId(orderId)}: ${courierName(body.courierId)} assigned.`, 'ok');
      announceChange(`Order ${shortId(orderId)}: ${courierName(body.courierId)} assigned.`);
    } else {
      say(message, `Order ${shortId(orderId)}: ${COMMANDS[command].done}.`, 'ok');
    }
  } else if (result.status === 412) {
    const now = result.body?.actual ?? 'newer';
    say(message,
      `Order ${shortId(orderId)} was changed by someone else since this board showed it (you saw version ${order.version}; it is now version ${now}). ` +
      'Nothing was sent. The board now shows the order as it is: check it before trying again.', 'error');
    await refresh(orderId);
  } else {
    say(message, `Order ${shortId(orderId)}: ${problemText(result)}`, 'error');
  }
  render();
  // Lost (its button was disabled, or its card drawn anew while it was): back to the card's next action.
  if (keepFocus && (document.activeElement === null || document.activeElement === document.body)) focusCard(orderId);
  // Whatever the answer, the couriers may have changed (the one assigned is busy now; a refused one may have gone offline).
  if (command === 'assign-courier') loadCouriers(true);
}

/** Re-reads one order from its stream (the board view may lag behind it). */
async function refresh(orderId) {
  const result = await api(`/v1/orders/${orderId}`);
  const order = orders.get(orderId);
  if (!result.ok || order === undefined) return;
  upsert({ ...order, status: result.body.status, version: result.body.version, etaMinutes: result.body.etaMinutes, courierId: result.body.courierId, dispatchAlert: result.body.dispatchAlert });
}

/** Shows the stream's state: "Live" only once the board has been read on the open stream. */
function showStatus() {
  if (!live.streamOpen) return;
  if (live.boardRead) {
    streamStatus.className = 'status live';
    streamStatus.textContent = 'Live';
  } else if (live.readFailed) {
    streamStatus.className = 'status stale';
    streamStatus.textContent = 'Not up to date';
  } else {
    streamStatus.className = 'status';
    streamStatus.textContent = 'Loading the board…';
  }
}


/**
 * Reads the board caught up at least to `after`, the position the stream continues from, page after
 * page (`next`) until it has every open order: a busy restaurant's board may not fit one page. Answers
 * the failed answer of a page, or null when every page was read. With `replace` (a fresh start), the
 * orders that neither the read nor the stream since the start holds leave once every page is read,
 * unless a page said it was `lagging`.
 */
async function readBoard(after, run, replace) {
  const read = new Set();
  // A page answered `lagging` (the view had not caught up with `after` in time) may miss orders: such a
  // read is merged, never used to take orders off the board.
  let complete = true;
  let next = null;
  do {
    const page = next === null ? '' : `&before=${encodeURIComponent(next)}`;
    const result = await api(`/v1/restaurants/${rid}/board?after=${encodeURIComponent(after)}${page}`);
    if (run !== reads) return null;
    if (!result.ok) return result;
    if (result.body.lagging === true) complete = false;
    for (const row of result.body.orders) {
      read.add(row.orderId);
      upsert(row, !boardReadOnce);
    }
    render();
    next = result.body.next ?? null;
  } while (next !== null);
  if (replace && complete) {
    for (const orderId of [...orders.keys()]) if (!read.has(orderId) && !streamedSinceStart.has(orderId)) orders.delete(orderId);
    render();
  }
  return null;
}

/**
 * The board's read at a start of the stream, tried again after a failure that may pass (network, 429,
 * 5xx) with a growing wait (or the server's Retry-After) until it works, while the stream stays up:
 * the stream starts again only when it drops, and the board stayed empty under "Live" after one
 * failed read. A later start supersedes it; a drop of the stream ends its retries (the next start reads).
 * A fresh start (`replace`) replaces the board with the read instead of merging it: after a move of
 * the restaurant the stream starts afresh, and orders finished meanwhile in the old database stayed.
 */
async function loadBoard(after, replace) {
  const run = ++reads;
  streamedSinceStart.clear();
  live.boardRead = false;
  live.readFailed = false;
  showStatus();
  for (let failures = 1; ; failures += 1) {
    const failed = await readBoard(after, run, replace);
    if (run !== reads) return;
    if (failed === null) break;
    live.readFailed = true;
    showStatus();
    if (!worthRetrying(failed)) {
      readError.failed(failed);
      return;
    }
    // The page's own back-off is capped; a server's Retry-After is waited in full (the stream's rule).
    const delay = reconnectDelay(READ_RETRY_FIRST_MS, failures, failed.retryAfter);
    readError.failed(failed, `The board tries again in ${Math.round(delay / 1000)} s.`);
    await new Promise((resolve) => setTimeout(resolve, delay));
    // A stream that dropped meanwhile reads the board again at its next start.
    if (run !== reads || !live.streamOpen) return;
  }
  readError.succeeded();
  boardReadOnce = true;
  nameRestaurant();
  live.boardRead = true;
  showStatus();
  document.body.dataset.loaded = 'true';
}

/**
 * The token of this tab cannot read this board (the stream's final 403 or 404): not staff's (a
 * courier's, a customer's), or staff of another restaurant (404: another restaurant's board is not
 * found for them), or no restaurant has this id. The board says so with a link to sign-in, which comes
 * back here; it said the API's sentence alone ("restaurant … not found.", read as if the restaurant did
 * not exist), with nothing to do but "Sign out".
 */
function notThisTokensBoard(reason, status) {
  refused = true;
  const link = status === 403
    ? showSignInLink(message, `${reason} This board is for the restaurant's staff: `, 'sign in with a staff token of this restaurant', '.')
    : showSignInLink(message, `Your token is not for this restaurant (or there is no restaurant ${rid}). `, "Sign in with this restaurant's staff token", '.');
  focusIfLost(link);
}

// ---- Pausing new orders (decision 0094): a section of its own above the columns. ----

/**
 * How long a pause from the board lasts: minutes (0: until staff resume), and the words of each choice.
 * Sent as a duration (`forMinutes`): the server counts it on the database's clock. An instant worked
 * out from this device's clock was off by as much as the clock (refused behind, too long ahead).
 */
const PAUSE_FOR = [[0, 'until resumed'], [30, 'for 30 minutes'], [60, 'for 1 hour'], [120, 'for 2 hours'], [240, 'for 4 hours']];
/**
 * How often the board reads again whether new orders are taken: a pause with an end reopens by itself.
 * Each read sends the menu's ETag it holds (If-None-Match): an unchanged menu answers 304, no body.
 */
const ORDER_PAUSE_READ_MS = 30_000;

/**
 * The "Pause new orders" / "Resume new orders" control: whether the restaurant takes new orders, as its
 * public menu says (`takingOrders`, `pause`), a reason shown to customers and how long, sent with
 * PUT / DELETE /v1/restaurants/:rid/order-pause. While paused, placements are refused with 409
 * RESTAURANT_NOT_TAKING_ORDERS; the orders on the board are not affected. Drawn once, above the columns;
 * answers its redraw, for the board to call when it turns it off (`refused`).
 */
function orderPauseControl() {
  const state = h('p', { id: 'order-taking', class: 'order-taking' }, 'Reading whether new orders are taken…');
  const reason = h('input', { id: 'pause-reason', type: 'text', maxlength: 200, autocomplete: 'off', placeholder: 'e.g. Kitchen closed early' });
  const duration = h('select', { id: 'pause-for' }, PAUSE_FOR.map(([minutes, words]) => h('option', { value: minutes }, words)));
  const pause = h('button', { type: 'button', id: 'pause-orders' }, 'Pause new orders');
  const resume = h('button', { type: 'button', id: 'resume-orders', class: 'secondary' }, 'Resume new orders');
  const pauseForm = h('div', { class: 'order-pause-form' },
    h('label', { for: 'pause-reason' }, 'Reason shown to customers (optional)'), reason,
    h('label', { for: 'pause-for' }, 'Pause'), h('div', { class: 'picker-row' }, duration, pause));
  const note = h('div', { class: 'message', role: 'alert' });
  const section = h('section', { id: 'order-pause', class: 'order-pause', 'aria-labelledby': 'h-order-pause' },
    h('h2', { id: 'h-order-pause' }, 'New orders'), h('div', { role: 'status' }, state), pauseForm, resume, note);
  document.getElementById('board').before(section);
  let paused = null;
  /** The ETag of the menu `paused` was read from: the next read's If-None-Match (a pause that ends by itself changes it, decision 0094). */
  let menuEtag = null;
  /** A pause or resume is on its way: no read's answer is drawn meanwhile. */
  let busy = false;
  /**
   * Counts the reads of the menu, and each pause or resume's end: a read's answer is drawn only if
   * nothing was sent since it began (courier.js's availabilityReads). A read sent before Pause and
   * answered after it, read before the pause committed, showed "Taking new orders." until the next read.
   */
  let reads = 0;
  const draw = () => {
    const off = busy || signedOut || refused;
    if (paused === null) {
      state.textContent = 'Taking new orders.';
      state.className = 'order-taking';
    } else {
      const until = paused.until === null ? 'until you resume them' : `until ${clockTime(paused.until)}`;
      state.textContent = `New orders paused ${until}${paused.reason === null ? '' : ` — “${paused.reason}”`}. Customers cannot order; the orders below go on as usual.`;
      state.className = 'order-taking paused';
    }
    pauseForm.hidden = paused !== null;
    resume.hidden = paused === null;
    for (const control of [reason, duration, pause, resume]) control.disabled = off;
  };
  const read = async () => {
    if (signedOut || refused) return;
    const started = ++reads;
    const result = await api(`/v1/restaurants/${rid}/menu`, { anonymous: true, ifNoneMatch: menuEtag });
    if (started !== reads || busy || refused) return;
    // 304: the menu read last is current, and so is what it said of new orders.
    if (result.status === 304) return;
    if (result.ok) {
      paused = result.body.takingOrders === false ? result.body.pause : null;
      menuEtag = result.etag;
    } else if (result.status !== 0) {
      say(note, `Whether new orders are taken could not be read: ${problemText(result)}`, 'error');
    }
    draw();
  };
  const send = async (method, body) => {
    busy = true;
    draw();
    const result = await api(`/v1/restaurants/${rid}/order-pause`, { method, body });
    busy = false;
    // Reads begun before the answer may have been read before the change committed: theirs are dropped.
    reads += 1;
    if (result.ok) {
      paused = result.body.pause;
      say(note, paused === null ? 'New orders are taken again.' : 'New orders are paused: customers are told so, and cannot order.', 'ok');
      if (paused === null) reason.value = '';
    } else if (result.status !== 401) {
      say(note, problemText(result), 'error');
      // Refused or failed (a lost answer may have paused): the state as it is now, since reads were dropped meanwhile.
      read();
    }
    draw();
  };
  pause.addEventListener('click', () => {
    const minutes = Number(duration.value);
    const text = reason.value.trim();
    send('PUT', { ...(text === '' ? {} : { reason: text }), ...(minutes > 0 ? { forMinutes: minutes } : {}) });
  });
  resume.addEventListener('click', () => send('DELETE'));
  onTokenRefused(draw);
  draw();
  read();
  setInterval(read, ORDER_PAUSE_READ_MS);
  return draw;
}

if (!UUID.test(rid)) {
  say(message, 'This address has no restaurant id: open /board/<restaurant id>.', 'error');
} else {
  render();
  nameRestaurant();
  const drawPauseControl = orderPauseControl();
  const stream = readEventStream(`/v1/restaurants/${rid}/board/stream`, {
    onOpen: ({ resumed }) => {
      streamError.succeeded();
      freshStart = !resumed;
      live.streamOpen = true;
      live.boardRead = false;
      showStatus();
    },
    // The stream's first event names the position it continues from; the board read at least that far
    // (on the primary) and the stream's changes after it together miss nothing.
    onEvent: (type, data) => {
      if (type === 'start') {
        loadBoard(JSON.parse(data).position, freshStart);
        return;
      }
      if (type !== 'order') return;
      const row = JSON.parse(data);
      streamedSinceStart.add(row.orderId);
      upsert(row);
      render();
    },
    onDown: (reason, final, { retryInMs, status }) => {
      // Signed out: the refusal's listener has said so.
      if (signedOut) return;
      live.streamOpen = false;
      streamStatus.className = 'status down';
      if (final) {
        streamStatus.textContent = 'Not connected';
        if (status === 403 || status === 404) {
          notThisTokensBoard(reason, status);
          drawPauseControl();
        } else {
          say(message, reason, 'error');
        }
      } else if (status === null) {
        // A drop (or the network): made again after the server's retry, a moment, or, after drops in a
        // row, a wait that is said.
        streamStatus.textContent = retryInMs > 5000 ? `Reconnecting in ${Math.round(retryInMs / 1000)} s…` : 'Reconnecting…';
      } else {
        // Refused (busy, failing): the wait may be long, and is said, as the board's read says its own.
        const seconds = Math.max(1, Math.round(retryInMs / 1000));
        streamStatus.textContent = `Reconnecting in ${seconds} s…`;
        streamError.failed({ status, body: { detail: reason } }, `The board reconnects in ${seconds} s.`);
      }
    },
  });
  onTokenRefused(() => {
    signedOut = true;
    stream.stop();
    live.streamOpen = false;
    streamStatus.className = 'status down';
    streamStatus.textContent = 'Signed out';
    render();
  });
  signInAgainOn(message, 'The orders below are no longer kept current, and their buttons are off.');
  setInterval(tick, 1000);
  // While a card needs the couriers, their list is read again when it is older than COURIERS_FRESH_MS.
  setInterval(() => loadCouriers(), COURIERS_FRESH_MS);
}
