// The courier's page: an availability toggle, the task list (re-read every few seconds, and right
// after each command with ?after= so the list shows the command's effect), pick-up and deliver.
import { api, clockTime, h, problemText, readErrorShownOn, requireToken, say, shortId, STATUS_LABELS, wireSignOut } from './common.js';

const POLL_MS = 5000;
const message = document.getElementById('message');
const toggle = document.getElementById('availability');
const toggleState = document.getElementById('availability-state');
const list = document.getElementById('tasks');
let tasks = [];
let timer = null;
/** A failed read of the list, shown until a read succeeds. */
const readError = readErrorShownOn(message);

requireToken();
wireSignOut(document.getElementById('sign-out'));

function showAvailability(status) {
  const available = status === 'available' || status === 'busy';
  toggle.setAttribute('aria-pressed', String(available));
  toggle.textContent = available ? 'Stop taking deliveries' : 'Start taking deliveries';
  toggleState.textContent = { available: 'You are available', busy: 'You are on a delivery', offline: 'You are offline' }[status] ?? 'Availability unknown';
}

async function loadAvailability() {
  const result = await api('/v1/couriers/me/availability');
  showAvailability(result.ok ? result.body.status : null);
}

toggle.addEventListener('click', async () => {
  const wantAvailable = toggle.getAttribute('aria-pressed') !== 'true';
  toggle.disabled = true;
  const result = await api('/v1/couriers/me/availability', { method: 'POST', body: { available: wantAvailable } });
  toggle.disabled = false;
  if (result.ok) {
    showAvailability(result.body?.status ?? (wantAvailable ? 'available' : 'offline'));
    say(message, wantAvailable ? 'You are available: new deliveries can be assigned to you.' : 'You are offline: no new deliveries will be assigned.', 'ok');
  } else if (result.status === 404 && result.body?.code === 'ROUTE_NOT_FOUND') {
    say(message, 'Availability cannot be changed on this platform yet (the delivery service does not offer it). Ask your dispatcher.', 'error');
  } else {
    say(message, problemText(result), 'error');
  }
});

/** Orders whose pick-up or deliver is on its way: their buttons stay disabled through a redraw (the 5 s refresh rebuilt them enabled, and a second click got a false "changed since"). */
const sending = new Set();

function render() {
  document.getElementById('count').textContent = `(${tasks.length})`;
  if (tasks.length === 0) {
    list.replaceChildren(h('li', { class: 'empty' }, 'No deliveries assigned to you right now.'));
    return;
  }
  list.replaceChildren(
    ...tasks.map((t) => {
      const id = shortId(t.orderId);
      const action =
        t.status === 'ready' ? h('button', { type: 'button', 'data-action': 'pick-up', 'data-order': t.orderId, disabled: sending.has(t.orderId), onclick: () => send(t, 'pick-up') }, `Picked up order ${id}`)
        : t.status === 'picked_up' ? h('button', { type: 'button', 'data-action': 'deliver', 'data-order': t.orderId, disabled: sending.has(t.orderId), onclick: () => send(t, 'deliver') }, `Delivered order ${id}`)
        : h('p', { class: 'hint' }, 'Waiting for the restaurant to finish it.');
      return h('li', { class: 'card', 'data-order': t.orderId, 'data-status': t.status },
        h('h3', {}, `Order ${id}`, h('span', {}, STATUS_LABELS[t.status] ?? t.status)),
        h('p', { class: 'meta' }, 'Deliver to: ', h('strong', {}, t.deliveryAddress)),
        h('p', { class: 'meta' }, 'Assigned at ', h('time', { datetime: t.assignedAt }, clockTime(t.assignedAt))),
        h('div', { class: 'actions' }, action));
    }),
  );
}

/**
 * How many reads of the list have been asked. A poll and the read after a command can be in flight
 * together: only the latest one's answer is drawn (an older poll that answered last brought back the
 * order as it was, a "Picked up" button of the old version, and a false "changed since" on click).
 */
let reads = 0;

async function load(after) {
  clearTimeout(timer);
  const read = ++reads;
  const result = await api(`/v1/couriers/me/tasks${after ? `?after=${encodeURIComponent(after)}` : ''}`);
  // Overtaken: the later read draws the list and schedules the next poll.
  if (read !== reads) return;
  if (result.ok) {
    tasks = result.body.tasks;
    render();
    readError.succeeded();
    document.body.dataset.loaded = 'true';
  } else {
    readError.failed(result);
  }
  timer = setTimeout(load, POLL_MS);
}

async function send(task, command) {
  if (sending.has(task.orderId)) return;
  sending.add(task.orderId);
  for (const b of list.querySelectorAll(`button[data-order="${task.orderId}"]`)) b.disabled = true;
  let result;
  try {
    result = await api(`/v1/orders/${task.orderId}/${command}`, { method: 'POST', body: {}, ifMatch: task.version });
  } finally {
    sending.delete(task.orderId);
  }
  if (result.ok) {
    say(message, `Order ${shortId(task.orderId)}: ${command === 'pick-up' ? 'picked up' : 'delivered'}.`, 'ok');
    await load(result.body.position);
  } else if (result.status === 412) {
    say(message, `Order ${shortId(task.orderId)} changed since this list showed it; nothing was sent. The list is refreshed: check it and try again.`, 'error');
    await load();
  } else {
    say(message, `Order ${shortId(task.orderId)}: ${problemText(result)}`, 'error');
    await load();
  }
}

loadAvailability();
load();
