// The courier's page: an availability toggle, the task list (re-read every few seconds, and right
// after each command with ?after= so the list shows the command's effect), each task saying where to
// pick the order up (the restaurant's name and pick-up address) before where to deliver it, pick-up and deliver.
// Availability is read again with each read of the list (an assignment makes the courier busy). Only
// what changed is announced, in a polite live region of its own; unchanged cards are left as they are.
// A token the platform refuses (401) stops the reads and leaves the list in view, marked as no longer
// current, with every button off and a link to sign in again.
import { announce, api, clockTime, h, onTokenRefused, place, pollWhenVisible, problemText, readErrorShownOn, requireToken, say, setText, shortId, showSignInLink, signInAgainOn, STATUS_LABELS, wireSignOut } from './common.js';

const POLL_MS = 5000;
const message = document.getElementById('message');
const toggle = document.getElementById('availability');
const toggleState = document.getElementById('availability-state');
const list = document.getElementById('tasks');
const updates = document.getElementById('updates');
/** The tasks last drawn; null before the first read (which is not announced: it is the page itself). */
let tasks = null;
/** When the list was last read (ISO), or null: a failed read says the list shown is as of then. */
let readAt = null;
/** Cancels the next read (pollWhenVisible's answer). */
let cancelPoll = () => {};
/** A failed read of the list, shown until a read succeeds. */
const readError = readErrorShownOn(message);
/** The courier's availability as last read (`status`, `currentOrderId`, `afterCurrentOrder`), or null when unknown. */
let availability = null;
/** Counts the reads of availability: only the latest one's answer is shown. */
let availabilityReads = 0;
/**
 * The toggle's change is on its way: no read's answer is shown meanwhile. A poll that started during
 * the POST, answered before the change committed, showed the old state for up to a poll (5 s).
 */
let changing = false;
/** The platform refused the token (401), or it is not a courier's (403): nothing is read or sent any more. */
let signedOut = false;

requireToken();
wireSignOut(document.getElementById('sign-out'));

/** Whether the courier takes deliveries: available, or busy and available again after the order (not after a "stop"). */
function taking(a) {
  return a?.status === 'available' || (a?.status === 'busy' && a.afterCurrentOrder !== 'offline');
}

/**
 * Shows the availability. The button says the action it takes ("Start …" / "Stop taking deliveries");
 * the line beside it says the state. No `aria-pressed` as well: a toggle whose label also changes was
 * read "Stop taking deliveries, pressed", two answers to one question. A busy courier who said stop
 * is still on the delivery (delivery frees them when it hears of it): the line says they stop after it.
 */
function showAvailability(status, currentOrderId = null, afterCurrentOrder = null, notice = null) {
  availability = status === null ? null : { status, currentOrderId, afterCurrentOrder };
  setText(toggle, taking(availability) ? 'Stop taking deliveries' : 'Start taking deliveries');
  const state =
    status === 'busy'
      ? `You are on a delivery${currentOrderId ? ` (order ${shortId(currentOrderId)})` : ''}${afterCurrentOrder === 'offline' ? ': you will stop taking deliveries after it' : ''}`
      : ({ available: 'You are available', offline: 'You are offline' }[status] ?? 'Availability unknown');
  // A status region: rewritten only when it changes (it is read again with every poll). `notice`: the
  // API's words for why they are off dispatch (an order taken off them, not picked up in time).
  setText(toggleState, notice ? `${state}. ${notice}` : state);
}

async function loadAvailability() {
  const read = ++availabilityReads;
  const result = await api('/v1/couriers/me/availability');
  if (read !== availabilityReads || changing || signedOut) return;
  if (result.ok) showAvailability(result.body.status, result.body.currentOrderId, result.body.afterCurrentOrder, result.body.notice);
  else if (availability === null) showAvailability(null);
}

toggle.addEventListener('click', async () => {
  const wantAvailable = !taking(availability);
  toggle.disabled = true;
  changing = true;
  let result;
  try {
    result = await api('/v1/couriers/me/availability', { method: 'POST', body: { available: wantAvailable } });
  } finally {
    changing = false;
    // Reads started during the change may have been answered before it committed: their answers are dropped.
    availabilityReads += 1;
  }
  if (signedOut) return;
  toggle.disabled = false;
  // Refused or failed: the state as it is now (the page dropped the reads meanwhile).
  if (!result.ok) loadAvailability();
  if (result.ok && result.body?.status === 'busy') {
    // Still on a delivery as far as dispatch knows (one just delivered reaches it within seconds): the
    // change takes effect when it ends. The page names the order by its short id, as everywhere.
    // The answer's notice too (only Start ends it): dropped here, it came back with the next poll, up to 5 s later.
    showAvailability('busy', result.body.currentOrderId, result.body.afterCurrentOrder, result.body.notice ?? null);
    const order = result.body.currentOrderId ? ` ${shortId(result.body.currentOrderId)}` : '';
    say(message, wantAvailable ? `You will keep taking deliveries after order${order}.` : `You will stop taking deliveries after order${order}.`, 'ok');
  } else if (result.ok) {
    showAvailability(result.body?.status ?? (wantAvailable ? 'available' : 'offline'), result.body?.currentOrderId ?? null, result.body?.afterCurrentOrder ?? null, result.body?.notice ?? null);
    // Offline keeps the dispatch from offering them orders; staff may still ask an offline courier to
    // take one (assign-courier, decisions 0042 and 0089), so the page does not promise that none comes.
    say(
      message,
      wantAvailable
        ? 'You are available: new deliveries can be assigned to you.'
        : 'You are offline: the dispatch will not offer you deliveries (restaurant staff may still ask you to take one).',
      'ok',
    );
  } else if (result.status === 404 && result.body?.code === 'ROUTE_NOT_FOUND') {
    say(message, 'Availability cannot be changed on this platform yet (the delivery service does not offer it). Ask your dispatcher.', 'error');
  } else {
    say(message, problemText(result), 'error');
  }
});

/** Orders whose pick-up or deliver is on its way: their buttons stay disabled through a redraw (the 5 s refresh rebuilt them enabled, and a second click got a false "changed since"). */
const sending = new Set();
/** orderId → the status this page's own command gave it ('delivered': it leaves the list): not announced, the command's message said it. */
const ownChange = new Map();
/** orderId → the card drawn for it and the state it was drawn from: an unchanged card is left as it is. */
const drawn = new Map();
const noTasks = h('li', { class: 'empty' }, 'No deliveries assigned to you right now.');

/** Where to deliver: the address, or what stands in for it once the customer was erased (their address is gone). */
function addressOf(t) {
  return t.deliveryAddress ?? 'address erased at the customer\'s request: ask the restaurant';
}

/**
 * Where to pick the order up: the restaurant's name and pick-up address as it has them now, or what
 * stands in for the address when the restaurant has set none, or for both when they could not be read.
 */
function pickUpOf(t) {
  if (t.restaurantName == null) return 'the restaurant (its name and address could not be read just now: ask the restaurant, or wait for the next read)';
  return t.pickupAddress == null ? `${t.restaurantName} (no pick-up address given: ask the restaurant)` : `${t.restaurantName}, ${t.pickupAddress}`;
}

function taskCard(t) {
  const id = shortId(t.orderId);
  const off = sending.has(t.orderId) || signedOut;
  const action =
    t.status === 'ready' ? h('button', { type: 'button', 'data-action': 'pick-up', 'data-order': t.orderId, disabled: off, onclick: () => send(t, 'pick-up') }, `Picked up order ${id}`)
    : t.status === 'picked_up' ? h('button', { type: 'button', 'data-action': 'deliver', 'data-order': t.orderId, disabled: off, onclick: () => send(t, 'deliver') }, `Delivered order ${id}`)
    : h('p', { class: 'hint' }, 'Waiting for the restaurant to finish it.');
  return h('li', { class: signedOut ? 'card stale' : 'card', 'data-order': t.orderId, 'data-status': t.status },
    h('h3', {}, `Order ${id}`, h('span', {}, STATUS_LABELS[t.status] ?? t.status)),
    signedOut ? h('p', { class: 'stale-note' }, 'No longer current: sign in again to see this delivery as it is.') : null,
    h('p', { class: 'meta' }, 'Pick up at ', h('strong', {}, pickUpOf(t))),
    h('p', { class: 'meta' }, 'Deliver to: ', h('strong', {}, addressOf(t))),
    h('p', { class: 'meta' }, 'Assigned at ', h('time', { datetime: t.assignedAt }, clockTime(t.assignedAt))),
    h('div', { class: 'actions' }, action));
}

/** The card of a task: the one drawn before when nothing it shows has changed, else a new one. */
function cardOf(t) {
  const key = JSON.stringify([t, sending.has(t.orderId), signedOut]);
  const known = drawn.get(t.orderId);
  if (known?.key === key) return known.node;
  const node = taskCard(t);
  drawn.set(t.orderId, { key, node });
  return node;
}

function render() {
  const shown = tasks ?? [];
  setText(document.getElementById('count'), `(${shown.length})`);
  const focused = document.activeElement;
  place(list, shown.length === 0 ? [noTasks] : shown.map(cardOf));
  for (const orderId of drawn.keys()) if (!shown.some((t) => t.orderId === orderId)) drawn.delete(orderId);
  // A card drawn anew (its next step: Picked up → Delivered) keeps focus on its button.
  if (focused?.dataset?.order && document.activeElement !== focused && !signedOut) list.querySelector(`li.card[data-order="${focused.dataset.order}"] button:enabled`)?.focus();
}

/** Announces what a read changed: a new task, a task whose status changed, a task gone; not this page's own commands. */
function announceChanges(before, after) {
  const old = new Map(before.map((t) => [t.orderId, t]));
  const said = [];
  for (const t of after) {
    const was = old.get(t.orderId);
    const label = STATUS_LABELS[t.status] ?? t.status;
    if (ownChange.get(t.orderId) === t.status) continue;
    if (was === undefined) said.push(`New delivery: order ${shortId(t.orderId)} (${label}), to ${addressOf(t)}.`);
    else if (was.status !== t.status) said.push(`Order ${shortId(t.orderId)}: ${label}.`);
  }
  for (const t of before) {
    if (after.some((a) => a.orderId === t.orderId) || ownChange.get(t.orderId) === 'delivered') continue;
    said.push(`Order ${shortId(t.orderId)} is no longer in your list.`);
  }
  for (const orderId of [...ownChange.keys()]) {
    const now = after.find((t) => t.orderId === orderId);
    if (now === undefined || now.status === ownChange.get(orderId)) ownChange.delete(orderId);
  }
  if (said.length > 0) announce(updates, said.join(' '));
}

/**
 * How many reads of the list have been asked. A poll and the read after a command can be in flight
 * together: only the latest one's answer is drawn (an older poll that answered last brought back the
 * order as it was, a "Picked up" button of the old version, and a false "changed since" on click).
 */
let reads = 0;

async function load(after) {
  cancelPoll();
  if (signedOut) return;
  const read = ++reads;
  // Availability with every read: an assignment (or a delivery) changes it without this page.
  loadAvailability();
  const result = await api(`/v1/couriers/me/tasks${after ? `?after=${encodeURIComponent(after)}` : ''}`);
  // Overtaken: the later read draws the list and schedules the next poll.
  if (read !== reads) return;
  // Refused: said once for the page (signInAgainOn); no more polls.
  if (result.status === 401 || signedOut) return;
  // A token of another role, or of a courier never registered: asking again would be refused the same way.
  if (result.status === 403) {
    notForThisToken(result, 'This page is for couriers: ', "sign in with a courier's token");
    return;
  }
  if (result.status === 404 && result.body?.resource === 'courier') {
    notForThisToken(result, '', "Sign in with a registered courier's token");
    return;
  }
  // The next poll; a refusal's Retry-After is waited in full.
  const wait = Math.max(POLL_MS, (result.retryAfter ?? 0) * 1000);
  if (result.ok) {
    if (tasks !== null) announceChanges(tasks, result.body.tasks);
    tasks = result.body.tasks;
    readAt = new Date().toISOString();
    render();
    readError.succeeded();
    document.body.dataset.loaded = 'true';
  } else {
    // The page polls on its own (the platform's "try again" would ask the courier to), and the list in
    // view may be old: both are said.
    const seconds = Math.round(wait / 1000);
    readError.failed(result, readAt === null ? `The page tries again in ${seconds} s.` : `The list below is not updated since ${clockTime(readAt)}; the page tries again in ${seconds} s.`);
  }
  cancelPoll = pollWhenVisible(load, wait);
}

/**
 * The token can never read this page: not a courier's (403: a staff member's, after
 * `/login?next=/courier`), or a courier's that no courier is registered under (404 `resource:
 * 'courier'`: `brigade token --role courier` without `--subject` gives a random one, and registering a
 * courier makes a new id). The page stops asking and its toggle is off, and the message says why, then
 * `before` and a link to sign-in (which comes back here) reading `linkText`. It polled the 403 (and,
 * later found, the 404) every 5 s for ever, saying it tried again, with the toggle answering the same.
 */
function notForThisToken(result, before, linkText) {
  signedOut = true;
  cancelPoll();
  toggle.disabled = true;
  // As signInAgainOn's link: later messages (say) do not replace it.
  showSignInLink(message, `${problemText(result)} ${before}`, linkText, '.');
}

async function send(task, command) {
  if (sending.has(task.orderId) || signedOut) return;
  sending.add(task.orderId);
  for (const b of list.querySelectorAll(`button[data-order="${task.orderId}"]`)) b.disabled = true;
  // The card was drawn enabled and its button is now off by hand: the next draw draws it anew (as the
  // board does). Kept, its key came back the same once the command ended, and a failed command left
  // the button off until a reload ("try again shortly", with nothing to try it with).
  drawn.delete(task.orderId);
  let result;
  try {
    result = await api(`/v1/orders/${task.orderId}/${command}`, { method: 'POST', body: {}, ifMatch: task.version });
  } finally {
    sending.delete(task.orderId);
  }
  if (result.status === 401) return;
  if (result.ok) {
    ownChange.set(task.orderId, command === 'pick-up' ? 'picked_up' : 'delivered');
    say(message, `Order ${shortId(task.orderId)}: ${command === 'pick-up' ? 'picked up' : 'delivered'}.`, 'ok');
    await load(result.body.position);
  } else if (result.status === 412) {
    say(message, `Order ${shortId(task.orderId)} changed since this list showed it; nothing was sent. The list is refreshed: check it and try again.`, 'error');
    await load();
  } else {
    say(message, `Order ${shortId(task.orderId)}: ${problemText(result)}`, 'error');
    // Nothing changed: the button is back at once (the read below may fail too, on a network that does).
    render();
    await load();
  }
}

onTokenRefused(() => {
  signedOut = true;
  cancelPoll();
  toggle.disabled = true;
  render();
});
signInAgainOn(message, 'The list below is no longer kept current, and its buttons are off.');
load();
