// The development login: asks the platform (embedded only) to mint a token, then signs in with it.
import { landingFor, problemText, say, setToken } from './common.js';

const form = document.getElementById('dev-login');
const message = document.getElementById('message');
const next = new window.URLSearchParams(window.location.search).get('next');

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const role = form.elements.role.value;
  const restaurantId = form.elements.restaurantId.value.trim();
  const subject = form.elements.subject.value.trim();
  const body = { role, ...(role === 'staff' ? { restaurantId } : {}), ...(subject === '' ? {} : { subject }) };
  const response = await fetch('/dev/tokens', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const parsed = await response.json().catch(() => null);
  if (!response.ok) {
    say(message, problemText({ status: response.status, body: parsed }), 'error');
    return;
  }
  setToken(parsed.token);
  const target = landingFor(parsed.token, next);
  if (target !== null) window.location.assign(target);
  else say(message, `Signed in as ${role} ${parsed.subject}. Open a page: /track/<order id>.`, 'ok');
});
