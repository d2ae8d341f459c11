// The development login: asks the platform (embedded only) to mint a token, then signs in with it.
// A courier or customer without an id is registered first, through the platform's own API (an admin
// token registers the courier; a customer signs up), so the pages that read them find them.
import { ADMIN_NEXT_STEP, landingFor, problemText, say, setToken } from './common.js';

const form = document.getElementById('dev-login');
const message = document.getElementById('message');
const next = new window.URLSearchParams(window.location.search).get('next');

/** POSTs JSON; answers `{ ok, status, body }` as `api()` does (a network failure: status 0, said in words). */
async function post(path, body, token) {
  const headers = { 'content-type': 'application/json', ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) };
  let response;
  try {
    response = await fetch(path, { method: 'POST', headers, body: JSON.stringify(body) });
  } catch {
    return { ok: false, status: 0, body: { detail: 'The platform could not be reached. Check that it is running and try again.' } };
  }
  return { ok: response.ok, status: response.status, body: await response.json().catch(() => null) };
}

/** A token minted by the development login. */
const mint = (request) => post('/dev/tokens', request);

/** Registers a new courier (as a development admin) or customer (signs up); answers `{ ok, token, subject }` or a failed answer. */
async function register(role, city) {
  const unique = window.crypto.randomUUID();
  if (role === 'customer') {
    const signedUp = await post('/v1/customers', { name: 'Development customer', email: `dev-${unique}@dev.example`, address: 'Development street 1' });
    return signedUp.ok ? { ok: true, token: signedUp.body.token, subject: signedUp.body.id } : signedUp;
  }
  const admin = await mint({ role: 'admin' });
  if (!admin.ok) return admin;
  const courier = await post('/v1/couriers', { name: `Development courier ${unique.slice(0, 4)}`, city }, admin.body.token);
  if (!courier.ok) return courier;
  const minted = await mint({ role: 'courier', subject: courier.body.id });
  return minted.ok ? { ok: true, token: minted.body.token, subject: courier.body.id } : minted;
}

const submit = form.querySelector('button[type="submit"]');

// One sign-in at a time: the button stays disabled while its requests run (a second click minted,
// or registered a courier, again).
form.addEventListener('submit', async (event) => {
  event.preventDefault();
  if (submit.disabled) return;
  submit.disabled = true;
  let leaving = false;
  try {
    leaving = await signIn();
  } finally {
    // Still disabled while the browser goes on to the next page.
    if (!leaving) submit.disabled = false;
  }
});

// The button is shipped disabled (the form, submitted before this script had run, reloaded the page
// with its fields in the URL): the form has its handler now.
submit.disabled = false;

// Back to this page from the next one (the back-forward cache keeps it as it was): usable again.
window.addEventListener('pageshow', (event) => {
  if (event.persisted) submit.disabled = false;
});

/** Mints (registering first when asked) and signs in with the token, or says why not; true when it goes on to another page. */
async function signIn() {
  const role = form.elements.role.value;
  const restaurantId = form.elements.restaurantId.value.trim();
  const subject = form.elements.subject.value.trim();
  const city = form.elements.city.value.trim();
  let result;
  for (const field of FIELDS) form.elements[field].removeAttribute('aria-invalid');
  if ((role === 'courier' || role === 'customer') && subject === '') {
    if (role === 'courier' && city === '') {
      markField('city');
      say(message, 'A new courier needs a city: the city of the restaurants they deliver for (or give your courier id).', 'error');
      return false;
    }
    result = await register(role, city);
  } else {
    // An empty field is not sent: `restaurantId: ""` got the schema's "must match format uuid" instead
    // of the route's own "A staff token needs the restaurant id".
    const minted = await mint({ role, ...(role === 'staff' && restaurantId !== '' ? { restaurantId } : {}), ...(subject === '' ? {} : { subject }) });
    result = minted.ok ? { ok: true, token: minted.body.token, subject: minted.body.subject } : minted;
  }
  if (!result.ok) {
    say(message, problemText(result), 'error');
    // The route names the field it refuses (`field`, as `body.restaurantId`): marked and focused, as the city above.
    const refused = typeof result.body?.field === 'string' ? result.body.field.replace(/^body\./, '') : undefined;
    if (FIELDS.includes(refused)) markField(refused);
    return false;
  }
  setToken(result.token);
  const target = landingFor(result.token, next);
  if (target !== null) {
    window.location.assign(target);
    return true;
  }
  const where = role === 'admin' ? `${ADMIN_NEXT_STEP.before}/docs${ADMIN_NEXT_STEP.after}` : 'Open a page: /track/<order id>.';
  say(message, `Signed in as ${role} ${result.subject}. ${where}`, 'ok');
  return false;
}

/** The form's fields that the page or the token route may refuse, by name. */
const FIELDS = ['restaurantId', 'subject', 'city'];

/** Marks the field named `name` as the one to correct, and puts focus on it. */
function markField(name) {
  form.elements[name].setAttribute('aria-invalid', 'true');
  form.elements[name].focus();
}
