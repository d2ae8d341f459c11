// Sign-in: a customer's e-mail and password (POST /v1/customers/sign-in), or a pasted token (staff,
// couriers, admins). The token is kept in sessionStorage for this tab, then on to the page asked for.
import { ADMIN_NEXT_STEP, api, claimsOf, clockTime, h, landingFor, problemText, say, setToken, shortId, STATUS_LABELS } from './common.js';

const form = document.getElementById('login');
const input = document.getElementById('token');
const customerForm = document.getElementById('customer-login');
const emailInput = document.getElementById('email');
const passwordInput = document.getElementById('password');
const customerSubmit = customerForm.querySelector('button[type="submit"]');
const message = document.getElementById('message');
const ordersSection = document.getElementById('orders');
const orderLinks = document.getElementById('order-links');
const ordersMore = document.getElementById('orders-more');
const next = new window.URLSearchParams(window.location.search).get('next');
/** How many of a customer's orders sign-in lists (the latest). */
const ORDERS_SHOWN = 20;
/** A compact JWT: three base64url parts. Any other character (a quote, an ellipsis pasted with it) is refused here, not by fetch. */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
/** An e-mail address as the platform takes one: something, one @, something; no spaces. */
const EMAIL_SHAPE = /^[^@\s]+@[^@\s]+$/;
/** Counts the sign-ins (of either form): only the latest one's answer is shown (an older token's late answer is not this tab's). */
let submits = 0;

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const submit = startAttempt();
  // A token holds no whitespace: one copied from a terminal that wrapped it holds line breaks (and
  // maybe spaces), which fetch refuses in a header ("could not be reached", a board reconnecting for ever).
  const token = input.value.replace(/\s+/g, '');
  const claims = claimsOf(token);
  if (!TOKEN_SHAPE.test(token) || claims === null || typeof claims.role !== 'string') {
    refuse(input, 'That is not a Brigade token: it should be three parts separated by dots (xxxxx.yyyyy.zzzzz).');
    return;
  }
  input.removeAttribute('aria-invalid');
  await signedIn(token, submit);
});

// A customer's e-mail and password. One attempt at a time (each wrong one counts towards the
// platform's limit for the address): the button is off while it is on its way.
customerForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  if (customerSubmit.disabled) return;
  const submit = startAttempt();
  const email = emailInput.value.trim();
  const password = passwordInput.value;
  if (!EMAIL_SHAPE.test(email)) {
    refuse(emailInput, 'Enter the e-mail address you signed up with, such as ana@example.com.');
    return;
  }
  emailInput.removeAttribute('aria-invalid');
  if (password === '') {
    refuse(passwordInput, 'Enter your password.');
    return;
  }
  customerSubmit.disabled = true;
  let result;
  try {
    // Without the tab's token: a token sent along is checked, and one that was refused (the reason the
    // customer is here) would refuse the sign-in too.
    result = await api('/v1/customers/sign-in', { method: 'POST', body: { email, password }, anonymous: true });
  } finally {
    customerSubmit.disabled = false;
  }
  if (submit !== submits) return;
  if (!result.ok) {
    const why = signInRefusal(result);
    // The password is not kept after a refusal: it is typed again (and the e-mail checked).
    if (result.status === 401) passwordInput.value = '';
    // A wrong pair: the password is typed again. Too many attempts: nothing to correct, only to wait.
    refuse(result.status === 401 ? passwordInput : null, why);
    return;
  }
  passwordInput.value = '';
  passwordInput.removeAttribute('aria-invalid');
  await signedIn(result.body.token, submit);
});

/** Starts a sign-in attempt of either form: the last one's orders and marks leave the page. Answers its number. */
function startAttempt() {
  // A refused, other-role or non-token sign-in left the previous customer's list on the page, under a
  // message that was not about them.
  hideOrders();
  for (const field of [input, emailInput, passwordInput]) field.removeAttribute('aria-invalid');
  return ++submits;
}

/** Says why an attempt is refused; marks `field` (when given) as the one to correct, and puts focus on it. */
function refuse(field, text) {
  say(message, text, 'error');
  if (field === null) return;
  field.setAttribute('aria-invalid', 'true');
  field.focus();
}

/** What a refused e-mail sign-in says, in words for the customer. */
function signInRefusal(result) {
  if (result.status === 401) return 'The e-mail address or the password is not right: check both and try again.';
  if (result.status === 429) {
    const seconds = result.retryAfter ?? result.body?.retryAfterSeconds ?? null;
    if (typeof seconds !== 'number') return 'Too many failed sign-ins for this e-mail address: try again later.';
    const at = clockTime(new Date(Date.now() + seconds * 1000).toISOString());
    const wait = seconds < 60 ? `${seconds} seconds` : `about ${Math.ceil(seconds / 60)} minute${Math.ceil(seconds / 60) === 1 ? '' : 's'}`;
    return `Too many failed sign-ins for this e-mail address, so it is paused for a while. Try again in ${wait} (at ${at}).`;
  }
  if (result.status === 404 && result.body?.code === 'ROUTE_NOT_FOUND') {
    return 'This server does not offer signing in with a password (it does not serve the platform service): paste a token below instead.';
  }
  return problemText(result);
}

/** Goes on with `token`, now the tab's: to `next` or the role's page, else the customer's orders, else what to do next. */
async function signedIn(token, submit) {
  setToken(token);
  const target = landingFor(token, next);
  if (target !== null) {
    window.location.assign(target);
    return;
  }
  const role = claimsOf(token)?.role;
  if (role === 'customer') {
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
  } else if (role === 'admin') {
    // No page of its own: where an admin goes from here (it was "Signed in as admin." and nothing more).
    say(message, `Signed in as admin. ${ADMIN_NEXT_STEP.before}`, 'ok');
    message.append(h('a', { href: '/docs' }, '/docs'), ADMIN_NEXT_STEP.after);
  } else {
    say(message, `Signed in as ${role}.`, 'ok');
  }
}

/** Takes the orders listed by a customer's sign-in off the page. */
function hideOrders() {
  ordersSection.hidden = true;
  orderLinks.replaceChildren();
  ordersMore.hidden = true;
  ordersMore.textContent = '';
}

// The buttons are shipped disabled: pressed before this script had run, a form submitted itself (a GET
// with the token in the URL, the server's log and the history). Now the forms have their handlers.
form.querySelector('button[type="submit"]').disabled = false;
customerSubmit.disabled = false;

// Back to this page from the next one (the back-forward cache keeps it as it was): usable again.
window.addEventListener('pageshow', (event) => {
  if (event.persisted) customerSubmit.disabled = false;
});

// Offer the development login only where it exists (embedded database).
fetch('/dev-login', { method: 'HEAD' }).then((r) => {
  if (r.ok) document.getElementById('dev').hidden = false;
}, () => undefined);
