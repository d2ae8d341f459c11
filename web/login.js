// Sign-in by pasting a token: kept in sessionStorage for this tab, then on to the page asked for.
import { api, claimsOf, h, landingFor, problemText, say, setToken, shortId, STATUS_LABELS } from './common.js';

const form = document.getElementById('login');
const input = document.getElementById('token');
const message = document.getElementById('message');
const ordersSection = document.getElementById('orders');
const orderLinks = document.getElementById('order-links');
const ordersMore = document.getElementById('orders-more');
const next = new window.URLSearchParams(window.location.search).get('next');
/** How many of a customer's orders sign-in lists (the latest). */
const ORDERS_SHOWN = 20;
/** A compact JWT: three base64url parts. Any other character (a quote, an ellipsis pasted with it) is refused here, not by fetch. */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
/** Counts the sign-ins: only the latest one's answer is shown (an older token's late answer is not this tab's). */
let submits = 0;

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const submit = ++submits;
  // Each attempt starts without the last one's orders: a refused, other-role or non-token sign-in left
  // the previous customer's list on the page, under a message that was not about them.
  hideOrders();
  // A token holds no whitespace: one copied from a terminal that wrapped it holds line breaks (and
  // maybe spaces), which fetch refuses in a header ("could not be reached", a board reconnecting for ever).
  const token = input.value.replace(/\s+/g, '');
  const claims = claimsOf(token);
  if (!TOKEN_SHAPE.test(token) || claims === null || typeof claims.role !== 'string') {
    say(message, 'That is not a Brigade token: it should be three parts separated by dots (xxxxx.yyyyy.zzzzz).', 'error');
    input.setAttribute('aria-invalid', 'true');
    input.focus();
    return;
  }
  input.removeAttribute('aria-invalid');
  setToken(token);
  const target = landingFor(token, next);
  if (target !== null) {
    window.location.assign(target);
    return;
  }
  if (claims.role === 'customer') {
    const result = await api(`/v1/customers/me/orders?limit=${ORDERS_SHOWN}`);
    if (submit !== submits) return;
    if (!result.ok) {
      say(message, problemText(result), 'error');
      return;
    }
    const { orders, next } = result.body;
    // No orders: nothing to choose (it said "Choose an order to track" above an empty list).
    if (orders.length === 0) {
      say(message, 'Signed in. You have no orders yet.', 'ok');
      return;
    }
    say(message, 'Signed in. Choose an order to track.', 'ok');
    orderLinks.replaceChildren(
      ...orders.map((o) => h('li', {}, h('a', { href: `/track/${o.orderId}` }, `Order ${shortId(o.orderId)} — ${STATUS_LABELS[o.status] ?? o.status}`))),
    );
    // `next`: the customer has older orders than the ones listed.
    ordersMore.textContent = `Only your latest ${ORDERS_SHOWN} orders are shown.`;
    ordersMore.hidden = next === null || next === undefined;
    ordersSection.hidden = false;
  } else {
    say(message, `Signed in as ${claims.role}.`, 'ok');
  }
});

/** Takes the orders listed by a customer's sign-in off the page. */
function hideOrders() {
  ordersSection.hidden = true;
  orderLinks.replaceChildren();
  ordersMore.hidden = true;
  ordersMore.textContent = '';
}

// The button is shipped disabled: pressed before this script had run, the form submitted itself (a GET
// with the token in the URL, the server's log and the history). Now the form has a handler.
form.querySelector('button[type="submit"]').disabled = false;

// Offer the development login only where it exists (embedded database).
fetch('/dev-login', { method: 'HEAD' }).then((r) => {
  if (r.ok) document.getElementById('dev').hidden = false;
}, () => undefined);
