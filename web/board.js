// The restaurant live-board: open orders grouped by status, kept current by the board's
// Server-Sent Events stream (read with fetch so the token travels in the Authorization header),
// with a timer on each order and the accept / ready / cancel commands sent with If-Match. An order the
// delivery service found no courier for carries a dispatch alert, shown on its card and in the
// alerts list at the top until a courier is assigned.
import { api, clockTime, elapsed, h, money, problemText, readErrorShownOn, readEventStream, requireToken, say, shortId, STATUS_LABELS, UUID, wireSignOut, worthRetrying } from './common.js';

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
};

const rid = decodeURIComponent(window.location.pathname.split('/')[2] ?? '');
const message = document.getElementById('message');
/** A failed read of the board, shown until a read succeeds (it is tried again, and at the stream's next start). */
const readError = readErrorShownOn(message);
/** The first wait before a failed board read is tried again, doubled at each failure up to the last. */
const READ_RETRY_FIRST_MS = 1000;
const READ_RETRY_MAX_MS = 30_000;
const updates = document.getElementById('updates');
const streamStatus = document.getElementById('stream-status');
const alerts = document.getElementById('alerts');
/**
 * What staff can do about an order without a courier: cancel it here, or assign a courier through the
 * API (the board cannot: it knows no couriers to choose from).
 */
const alertAdvice = (order) =>
  'Cancel it with the Cancel button on its card, or assign a courier of the restaurant\'s city through the API: ' +
  `POST /v1/orders/${order.orderId}/assign-courier with {"courierId": "<the courier's id>"} and If-Match: "${order.version}".`;
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
/** Whether the open stream started afresh (no last event id: the first one, or after a move). */
let freshStart = true;
/** Orders the stream has changed since its last start: a fresh read's replacement keeps them. */
const streamedSinceStart = new Set();

requireToken();
wireSignOut(document.getElementById('sign-out'));
document.getElementById('restaurant').textContent = `for restaurant ${rid}`;

/** Applies a row unless the board already holds a newer version of it; finished orders leave. */
function upsert(row) {
  const known = orders.get(row.orderId);
  if (known !== undefined && known.version > row.version) return;
  if ((finished.get(row.orderId) ?? -1) >= row.version) return;
  if (!OPEN.includes(row.status)) {
    if (known !== undefined) announce(`Order ${shortId(row.orderId)} is ${STATUS_LABELS[row.status]?.toLowerCase() ?? row.status}.`);
    orders.delete(row.orderId);
    finished.set(row.orderId, row.version);
    return;
  }
  if (row.dispatchAlert && row.dispatchAlert.alertId !== known?.dispatchAlert?.alertId) {
    announce(`Order ${shortId(row.orderId)}: no courier found: cancel it from its card, or assign a courier through the API (its alert says how).`);
  } else if (known === undefined && row.status === 'placed') {
    const what = (row.lines ?? []).map((l) => `${l.quantity} × ${l.name}`).join(', ');
    announce(`New order ${shortId(row.orderId)}: ${what}.`);
  } else if (known !== undefined && known.status !== row.status) {
    announce(`Order ${shortId(row.orderId)}: ${STATUS_LABELS[row.status]}.`);
  }
  orders.set(row.orderId, { ...known, ...row });
}

/** The words of a dispatch alert. */
function alertText(order) {
  const a = order.dispatchAlert;
  // Delivery's reason may say what to do; the page's advice says how, here.
  const reason = a.reason.replace(/\.$/, '');
  return `No courier found after ${a.attempts} attempt${a.attempts === 1 ? '' : 's'} (since ${clockTime(a.raisedAt)}): ${reason}. ${alertAdvice(order)}`;
}

function announce(text) {
  updates.textContent = `${clockTime(new Date().toISOString())} — ${text}`;
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

function card(order) {
  const id = shortId(order.orderId);
  const timer = timerOf(order);
  const actions = [];
  if (order.status === 'placed') actions.push(h('button', { type: 'button', 'data-action': 'accept', 'data-order': order.orderId, 'aria-label': `Accept order ${id}`, disabled: sending.has(order.orderId), onclick: () => send(order.orderId, 'accept') }, 'Accept'));
  if (order.status === 'accepted') actions.push(h('button', { type: 'button', 'data-action': 'ready', 'data-order': order.orderId, 'aria-label': `Mark order ${id} ready`, disabled: sending.has(order.orderId), onclick: () => send(order.orderId, 'ready') }, 'Ready'));
  if (CANCELLABLE.includes(order.status)) actions.push(h('button', { type: 'button', class: 'secondary', 'data-action': 'cancel', 'data-order': order.orderId, 'aria-label': `Cancel order ${id}`, disabled: sending.has(order.orderId), onclick: () => cancel(order.orderId) }, 'Cancel'));
  return h(
    'li',
    { class: 'card', 'data-order': order.orderId, 'data-version': order.version, 'aria-labelledby': `order-${order.orderId}` },
    h('h3', { id: `order-${order.orderId}` }, h('span', {}, `Order ${id}`), h('span', {}, money(order.total, order.currency))),
    h('p', { class: 'meta' }, 'Placed ', h('time', { datetime: order.placedAt }, clockTime(order.placedAt)), ` · ${timer.label} `,
      h('span', { class: 'timer', 'data-since': timer.since, 'data-limit': timer.limitMinutes ?? '' }, elapsed(timer.since)),
      order.etaMinutes ? ` · ETA ${order.etaMinutes} min` : ''),
    order.dispatchAlert ? h('p', { class: 'dispatch-alert', 'data-alert': order.dispatchAlert.alertId }, h('strong', {}, 'Dispatch alert: '), alertText(order)) : null,
    h('ul', {}, (order.lines ?? []).map((l) =>
      h('li', { class: l.prepared ? 'done' : '' }, `${l.quantity} × ${l.name}`, l.modifiers?.length ? ` (${l.modifiers.join(', ')})` : '', l.prepared ? h('span', { class: 'visually-hidden' }, ' prepared') : ''))),
    actions.length > 0 ? h('div', { class: 'actions' }, actions) : null,
  );
}

/** Redraws the alerts list and the columns, keeping keyboard focus on the same button when it still exists. */
function render() {
  const alerting = [...orders.values()].filter((o) => o.dispatchAlert).sort((a, b) => Date.parse(a.dispatchAlert.raisedAt) - Date.parse(b.dispatchAlert.raisedAt));
  alerts.hidden = alerting.length === 0;
  alerts.querySelector('.count').textContent = `(${alerting.length})`;
  alerts.querySelector('ul').replaceChildren(...alerting.map((o) => h('li', { 'data-order': o.orderId }, h('strong', {}, `Order ${shortId(o.orderId)}: `), alertText(o))));
  const focused = document.activeElement;
  const focusKey = focused?.dataset?.order ? `${focused.dataset.order}:${focused.dataset.action}` : null;
  for (const section of document.querySelectorAll('section.column')) {
    const status = section.dataset.status;
    const list = [...orders.values()].filter((o) => o.status === status).sort((a, b) => Date.parse(a.placedAt) - Date.parse(b.placedAt));
    section.querySelector('.count').textContent = `(${list.length})`;
    const ul = section.querySelector('.cards');
    ul.replaceChildren(...(list.length === 0 ? [h('li', { class: 'empty' }, 'None')] : list.map(card)));
  }
  if (focusKey !== null) {
    const [order, action] = focusKey.split(':');
    document.querySelector(`button[data-order="${order}"][data-action="${action}"]`)?.focus();
  }
}

function tick() {
  const now = Date.now();
  for (const timer of document.querySelectorAll('.timer[data-since]')) {
    timer.textContent = elapsed(timer.dataset.since, now);
    const limit = Number(timer.dataset.limit);
    timer.classList.toggle('late', limit > 0 && now - Date.parse(timer.dataset.since) > limit * 60_000);
  }
}

/** Cancels an order once staff confirm it (it cannot be undone, and the customer is told). */
function cancel(orderId) {
  if (!orders.has(orderId) || sending.has(orderId)) return;
  if (!window.confirm(`Cancel order ${shortId(orderId)}? The customer is told it is cancelled; this cannot be undone.`)) return;
  send(orderId, 'cancel');
}

/** Sends accept, ready or cancel with the version this board shows; a 412 means someone else got there first. */
async function send(orderId, command) {
  const order = orders.get(orderId);
  if (order === undefined || sending.has(orderId)) return;
  sending.add(orderId);
  for (const b of document.querySelectorAll(`button[data-order="${orderId}"]`)) b.disabled = true;
  let result;
  try {
    result = await api(`/v1/orders/${orderId}/${command}`, { method: 'POST', body: COMMANDS[command].body, ifMatch: order.version });
  } finally {
    sending.delete(orderId);
  }
  if (result.ok) {
    const now = new Date().toISOString();
    const status = result.body.status;
    upsert({ ...order, status, version: result.body.version, etaMinutes: result.body.etaMinutes,
      ...(status === 'accepted' ? { acceptedAt: now } : {}), ...(status === 'ready' ? { readyAt: now } : {}), updatedAt: now });
    say(message, `Order ${shortId(orderId)}: ${COMMANDS[command].done}.`, 'ok');
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
}

/** Re-reads one order from its stream (the board view may lag behind it). */
async function refresh(orderId) {
  const result = await api(`/v1/orders/${orderId}`);
  const order = orders.get(orderId);
  if (!result.ok || order === undefined) return;
  upsert({ ...order, status: result.body.status, version: result.body.version, etaMinutes: result.body.etaMinutes });
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
      upsert(row);
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
  for (let wait = READ_RETRY_FIRST_MS; ; wait = Math.min(wait * 2, READ_RETRY_MAX_MS)) {
    const failed = await readBoard(after, run, replace);
    if (run !== reads) return;
    if (failed === null) break;
    live.readFailed = true;
    showStatus();
    if (!worthRetrying(failed)) {
      readError.failed(failed);
      return;
    }
    // The page's own back-off is capped; a server's Retry-After is waited in full.
    const delay = Math.max(wait, (failed.retryAfter ?? 0) * 1000);
    readError.failed(failed, `The board tries again in ${Math.round(delay / 1000)} s.`);
    await new Promise((resolve) => setTimeout(resolve, delay));
    // A stream that dropped meanwhile reads the board again at its next start.
    if (run !== reads || !live.streamOpen) return;
  }
  readError.succeeded();
  live.boardRead = true;
  showStatus();
  document.body.dataset.loaded = 'true';
}

if (!UUID.test(rid)) {
  say(message, 'This address has no restaurant id: open /board/<restaurant id>.', 'error');
} else {
  render();
  readEventStream(`/v1/restaurants/${rid}/board/stream`, {
    onOpen: ({ resumed }) => {
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
    onDown: (reason, final) => {
      live.streamOpen = false;
      streamStatus.className = 'status down';
      streamStatus.textContent = final ? 'Not connected' : 'Reconnecting…';
      if (final) say(message, reason, 'error');
    },
  });
  setInterval(tick, 1000);
}
