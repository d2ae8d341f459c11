// Shared helpers of the Brigade pages: the token in sessionStorage, API calls, messages and the
// Server-Sent Events reader. No framework, no build step: this file is served as it is.

const TOKEN_KEY = 'brigade.token';

/**
 * Why the platform refused this page's token (a 401 from `api()` or from `readEventStream`: expired,
 * or not valid), as a sentence; null while it has not. One place for both: the token is forgotten,
 * the pages' listeners ({@link onTokenRefused}) told once, and `api()` sends nothing more until a new
 * token is set (each request would be refused the same way).
 */
let refusal = null;
const refusalListeners = [];

/** The token of this tab, or null. */
export function getToken() {
  return window.sessionStorage.getItem(TOKEN_KEY);
}

/** Keeps the token for this tab only (sessionStorage: gone when the tab closes); a new token is not refused yet. */
export function setToken(token) {
  window.sessionStorage.setItem(TOKEN_KEY, token);
  refusal = null;
}

/** Forgets the token. */
export function clearToken() {
  window.sessionStorage.removeItem(TOKEN_KEY);
}

/** The claims of a token, decoded for display only (the server verifies it). */
export function claimsOf(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(window.atob(part));
  } catch {
    return null;
  }
}

/** The sign-in page, coming back to this page afterwards. */
export const signInPath = () => `/login?next=${encodeURIComponent(window.location.pathname)}`;

/**
 * The token, or a redirect to the sign-in page that comes back here. The redirect replaces this page
 * in the tab's history: Back from sign-in does not come here only to be sent there again.
 *
 * A page the browser kept in its back-forward cache comes back on Back as it was left, without being
 * loaded again, so this check would not run: the page checks again when it is shown (`pageshow`). The
 * tab signed out meanwhile (on another page of the tab): to sign-in. Signed in with another token:
 * loaded again, as that token's.
 */
export function requireToken() {
  const token = getToken();
  if (token === null) {
    window.location.replace(signInPath());
    throw new Error('not signed in');
  }
  window.addEventListener('pageshow', (event) => {
    if (!event.persisted) return;
    const now = getToken();
    if (now === null) window.location.replace(signInPath());
    else if (now !== token) window.location.reload();
  });
  return token;
}

/**
 * Wires a "sign out" button: forget the token, empty the page and go to the sign-in page in its place
 * in the tab's history. Before, Back after "Sign out" showed the page as it was (the browser had kept
 * it): a courier's customer address, a board's cards. Now there is no entry to go back to, and the
 * page left holds nothing even if a browser kept it.
 */
export function wireSignOut(button) {
  button.addEventListener('click', () => {
    clearToken();
    document.querySelector('main')?.replaceChildren();
    window.location.replace(signInPath());
  });
}

/** Text as a sentence: trimmed, with a full stop unless it ends with one (the API's details have none). */
export function sentence(text) {
  const trimmed = String(text).trim();
  return /[.!?…]$/.test(trimmed) ? trimmed : `${trimmed}.`;
}

/** Whether the platform has refused this page's token. */
export const tokenRefused = () => refusal !== null;

/** Calls `listener(reason)` once the platform refuses the token (at once if it has already). */
export function onTokenRefused(listener) {
  refusalListeners.push(listener);
  if (refusal !== null) listener(refusal);
}

/**
 * Records a 401 of a request sent with `sentWith`: forgets the token and tells the listeners, the first
 * time only. A refusal of a token that is no longer this tab's (a late answer to a request sent before
 * another token was set, as on /login) says nothing of the current one: it is ignored.
 */
function refuseToken(sentWith, detail) {
  if (refusal !== null || getToken() !== sentWith) return;
  refusal = sentence(withoutRoutes(detail ?? 'Your token was refused.'));
  clearToken();
  for (const listener of refusalListeners) listener(refusal);
}

/**
 * The API's sentence without the routes it names for API callers ("sign in again (POST
 * /v1/customers/sign-in) with …"): on a page, the way on is its link, and a route means nothing to a
 * customer.
 */
function withoutRoutes(text) {
  return String(text).replace(/\s*\((?:GET|POST|PUT|PATCH|DELETE) \/v1\/[^)]*\)/g, '');
}

/**
 * Shows on the page's message element (an alert) `before`, a link to the sign-in page that comes back
 * here reading `linkText`, and `after`, and marks it so that later messages ({@link say}) do not replace
 * it. Answers the link.
 *
 * @example
 * showSignInLink(message, 'This page is for couriers: ', "sign in with a courier's token", '.');
 */
export function showSignInLink(element, before, linkText, after) {
  element.className = 'message error';
  element.dataset.signIn = 'true';
  const link = h('a', { href: signInPath() }, linkText);
  element.replaceChildren(before, link, after);
  return link;
}

/**
 * Shows, on the page's message element (an alert), why the token was refused and a "Sign in again" link
 * to the sign-in page that comes back here, followed by `then` (what no longer works on this page), once
 * the platform refuses the token. The page stays as it was (marked by the page as no longer current)
 * rather than being sent to the sign-in page: the reason stays readable, what the page showed stays in
 * view, and leaving is the reader's choice. Focus that was on nothing (or on a button the refusal
 * disabled) goes to the link. Later messages ({@link say}) do not replace it.
 */
export function signInAgainOn(element, then) {
  onTokenRefused((reason) => {
    focusIfLost(showSignInLink(element, `${reason} `, 'Sign in again', ` to go on. ${then}`));
  });
}

/**
 * Puts focus on `element` (the way on, a sign-in link) when it is on nothing, or on a button that has
 * been disabled: after the page's own work of this task (a refusal's listeners turn buttons off).
 */
export function focusIfLost(element) {
  window.setTimeout(() => {
    const focused = document.activeElement;
    if (focused === null || focused === document.body || focused.disabled === true) element.focus();
  }, 0);
}

/**
 * What sign-in says to an admin, whom no page is for: where to go, around a link to the API's
 * documentation (`before`, the link `/docs`, `after`).
 */
export const ADMIN_NEXT_STEP = Object.freeze({
  before: "Open a restaurant's board at /board/<restaurant id> (the ids: brigade tenants list), or the API and its documentation at ",
  after: '.',
});

/**
 * Calls `read` after `ms`; while the tab is hidden, not until it is shown again (then at once). A page
 * left open in a background tab asked the platform every few seconds, for as long as the tab stayed
 * open, for a list nobody saw. Answers a function that cancels the call.
 */
export function pollWhenVisible(read, ms) {
  let timer = null;
  const shown = () => {
    if (document.hidden) return;
    document.removeEventListener('visibilitychange', shown);
    read();
  };
  timer = window.setTimeout(() => {
    timer = null;
    if (document.hidden) document.addEventListener('visibilitychange', shown);
    else read();
  }, ms);
  return () => {
    if (timer !== null) window.clearTimeout(timer);
    document.removeEventListener('visibilitychange', shown);
  };
}

/**
 * Calls the platform's API with the bearer token. Answers `{ ok, status, body, etag, retryAfter }`
 * (`retryAfter`: the seconds of a `Retry-After` header, else null); a network failure answers
 * status 0, and so does an answer whose body is cut off after its headers (the connection reset
 * mid-way: likeliest on a courier's mobile network). `ifMatch` is the version the page last saw.
 * `ifNoneMatch` is the ETag of the answer the page holds, sent as it came: an unchanged one answers
 * status 304 (`ok` false, no body), which the caller reads as "what you hold is current".
 * `anonymous`: sent without the tab's token (a customer's sign-in), whose refusal it then says
 * nothing of. It never rejects but on an abort (`signal`): the pages' polls schedule their next read after it.
 */
export async function api(path, { method = 'GET', body, ifMatch, ifNoneMatch, signal, anonymous = false } = {}) {
  // Refused already: asking again would be refused the same way.
  if (refusal !== null && !anonymous) return { ok: false, status: 401, body: { code: 'TOKEN_REFUSED', detail: refusal }, etag: null, retryAfter: null };
  const headers = { accept: 'application/json' };
  const token = anonymous ? null : getToken();
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (ifMatch !== undefined) headers['if-match'] = `"${ifMatch}"`;
  if (ifNoneMatch !== undefined && ifNoneMatch !== null) headers['if-none-match'] = ifNoneMatch;
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal });
  } catch (error) {
    if (error?.name === 'AbortError') throw error;
    // Not "try again": the pages' reads try again on their own, and say when.
    return { ok: false, status: 0, body: { detail: 'The platform could not be reached: check your connection.' }, etag: null, retryAfter: null };
  }
  let text;
  try {
    text = await response.text();
  } catch (error) {
    if (error?.name === 'AbortError') throw error;
    // The answer's headers came, its body did not: a network failure, tried again as one. It rejected,
    // and a poll that awaited it (the courier's list, the tracking page) never asked again.
    return { ok: false, status: 0, body: { detail: "The platform's answer was cut off: check your connection." }, etag: null, retryAfter: null };
  }
  let parsed = null;
  try {
    parsed = text === '' ? null : JSON.parse(text);
  } catch {
    parsed = { detail: text };
  }
  if (response.status === 401 && !anonymous) refuseToken(token, parsed?.detail ?? parsed?.title);
  const retryAfter = /^\d+$/.test(response.headers.get('retry-after') ?? '') ? Number(response.headers.get('retry-after')) : null;
  return { ok: response.ok, status: response.status, body: parsed, etag: response.headers.get('etag'), retryAfter };
}

/** Whether a failed `api()` answer may pass if the request is sent again: the platform unreachable, busy (429) or failing (5xx). */
export const worthRetrying = (result) => result.status === 0 || result.status === 429 || result.status >= 500;

/** A human sentence for a failed API answer (problem+json `detail`, else its title), ending with a full stop. */
export function problemText(result) {
  return sentence(result.body?.detail ?? result.body?.title ?? `The request failed (HTTP ${result.status})`);
}

/**
 * Shows a message in an element (`kind`: 'error' | 'ok' | ''); the element is an aria-live region.
 * An element showing the way to sign in again ({@link signInAgainOn}) keeps it: after a refused token,
 * a command's or a read's failure would only say the same and take the link away.
 */
export function say(element, text, kind = '') {
  if (element.dataset.signIn === 'true') return;
  element.className = `message ${kind}`.trim();
  element.textContent = text;
}

/** region → the texts announced in it in this task, not yet written. */
const announcing = new Map();

/**
 * Says `text` in a polite live region (`region`: an element with `aria-live="polite"`), with the time.
 * Only what changed is said: a region whose content is replaced on every read is read out every time.
 * What is announced in one task (a stream's events read together, a page of the board) is said in one
 * text, written once the task's own work is done: each text replaced the one before, and a screen
 * reader heard only the last of several orders.
 */
export function announce(region, text) {
  const queued = announcing.get(region);
  if (queued !== undefined) {
    queued.push(text);
    return;
  }
  announcing.set(region, [text]);
  window.queueMicrotask(() => {
    const texts = announcing.get(region);
    announcing.delete(region);
    region.textContent = `${clockTime(new Date().toISOString())} — ${texts.join(' ')}`;
  });
}

/** Sets an element's text only when it differs: a live region rewritten with the same words may be read out again. */
export function setText(element, text) {
  if (element.textContent !== text) element.textContent = text;
}

/**
 * Puts `nodes` in `list` in this order, moving only those not in place: a node that stays where it was
 * is not touched (an open picker stays open, focus stays on it, nothing is redrawn for a screen reader).
 */
export function place(list, nodes) {
  nodes.forEach((node, i) => {
    if (list.children[i] !== node) list.insertBefore(node, list.children[i] ?? null);
  });
  while (list.children.length > nodes.length) list.lastElementChild.remove();
}

/**
 * The error of a read that repeats (a poll, the board's read) shown on `element` until a read
 * succeeds: `failed(result, then)` shows it (followed by `then`, what the page does next, when given),
 * `succeeded()` takes it down again, unless another message has replaced it meanwhile (a command's
 * "picked up" or "changed since" stays). Without it, a poll that failed once left its error on screen
 * over a list that was current again.
 */
export function readErrorShownOn(element) {
  let shown = null;
  return {
    failed(result, then = '') {
      const text = `${problemText(result)}${then === '' ? '' : ` ${then}`}`;
      // The same failure again (a read that repeats): an alert rewritten with the same words may be read out again.
      if (text === shown && element.textContent === text) return;
      shown = text;
      say(element, shown, 'error');
    },
    succeeded() {
      if (shown !== null && element.textContent === shown) say(element, '');
      shown = null;
    },
  };
}

/** A UUID as the platform's ids are written: what an address must hold before the page asks the API about it. */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** `m:ss` (or `h:mm:ss`) since an instant. */
export function elapsed(sinceIso, now = Date.now()) {
  const seconds = Math.max(0, Math.floor((now - Date.parse(sinceIso)) / 1000));
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = String(seconds % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

/** A local clock time, with seconds. */
export function clockTime(iso) {
  return new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** Money in minor units. */
export function money(minor, currency) {
  try {
    return new Intl.NumberFormat(undefined, { style: 'currency', currency }).format(minor / 100);
  } catch {
    return `${(minor / 100).toFixed(2)} ${currency}`;
  }
}

/** Words for statuses. */
export const STATUS_LABELS = {
  placed: 'New',
  accepted: 'Preparing',
  ready: 'Ready for pick-up',
  picked_up: 'On the way',
  delivered: 'Delivered',
  rejected: 'Rejected',
  cancelled: 'Cancelled',
};

/** The last 8 characters of an id, for people (ids are time-ordered: their first ones are alike). */
export const shortId = (id) => String(id).slice(-8);

/** Creates an element with attributes and children (strings become text: nothing is parsed as HTML). */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name === 'class') element.className = value;
    else if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof window.Node ? child : String(child));
  }
  return element;
}

/** The longest wait the page's own back-off makes before asking a refusing server again (a server's longer `retry` or `Retry-After` is waited in full). */
const RECONNECT_MAX_MS = 30_000;

/**
 * How long to wait before asking again (a stream's connection, the board's read): after the
 * `failures`-th failure in a row (the first: 1), `retryMs` (the server's `retry`) doubled for each one
 * before it, up to {@link RECONNECT_MAX_MS}, and never less than the answer's `Retry-After`
 * (`retryAfter`, in seconds, or null).
 *
 * @example
 * reconnectDelay(2000, 1, null); // 2000
 * reconnectDelay(2000, 3, null); // 8000
 * reconnectDelay(2000, 1, 60); // 60000
 */
export function reconnectDelay(retryMs, failures, retryAfter) {
  const backoff = Math.min(retryMs * 2 ** (Math.max(1, failures) - 1), Math.max(RECONNECT_MAX_MS, retryMs));
  return Math.max(backoff, (retryAfter ?? 0) * 1000);
}

/**
 * Reads a Server-Sent Events stream with fetch(), which (unlike EventSource) can send the
 * Authorization header. Reconnects with `Last-Event-ID` after the server's `retry`, doubled for each
 * failure in a row ({@link reconnectDelay}, up to 30 s) and never sooner than a `Retry-After`: a
 * failure is a non-OK answer (a 503 of a busy database, a 429), a network failure, or a connection
 * that dropped before it had stayed open `stableMs`; one that stayed open that long starts the count
 * again. Before, it asked again every 2 s whatever the server said, and while the platform was down
 * or a proxy closed each connection at once, every page asked every 2 s. Calls
 * `onOpen({ resumed })` when a connection is established (the stream's starting point is fixed then;
 * `resumed`: it was asked to continue after a last event id, else it starts afresh; an `id` field
 * without a value clears the last event id, as the board's stream does after a restaurant moved),
 * `onEvent(type, data, id)` per event and `onDown(reason, final, { retryInMs, status })` when it drops
 * (`final`: it is not made again, as after a 401; `retryInMs`: the wait before the next try; `status`:
 * the non-OK answer's HTTP status, or null after a drop or a network failure). A connection on which
 * nothing arrives for `silenceMs` (the server sends a heartbeat every 15 s) is dropped and made again:
 * one that went silent without closing (a network change, a laptop waking) would otherwise read
 * nothing for ever while the page said "Live". Returns `stop()`.
 */
export function readEventStream(path, { onOpen, onEvent, onDown, silenceMs = 45_000, stableMs = 10_000 }) {
  const controller = new AbortController();
  let lastEventId = null;
  let retryMs = 2000;
  /** The tries in a row that failed: refused, not reached, or dropped before `stableMs`. */
  let failures = 0;
  const connect = async () => {
    while (!controller.signal.aborted) {
      // A token refused (here or by an api() call) would only be refused again.
      if (refusal !== null) {
        onDown(refusal, true, { retryInMs: null, status: 401 });
        return;
      }
      let reason = 'the connection closed';
      /** A non-OK answer's status and Retry-After (seconds), else null. */
      let status = null;
      let retryAfter = null;
      /** When this connection opened (performance.now()), or null while it has not. */
      let openedAt = null;
      // This connection's own abort: the page's stop, or the silence watchdog.
      const connection = new AbortController();
      const stopConnection = () => connection.abort();
      controller.signal.addEventListener('abort', stopConnection, { once: true });
      let silent = false;
      let watchdog;
      const watch = () => {
        clearTimeout(watchdog);
        watchdog = setTimeout(() => {
          silent = true;
          connection.abort();
        }, silenceMs);
      };
      try {
        // The token this connection is sent with: only its own refusal is the page's (see refuseToken).
        const token = getToken();
        const headers = { accept: 'text/event-stream', authorization: `Bearer ${token}` };
        // As EventSource: an empty last event id (cleared by the server) is not sent.
        const resumed = lastEventId !== null && lastEventId !== '';
        if (resumed) headers['last-event-id'] = lastEventId;
        watch();
        const response = await fetch(path, { headers, signal: connection.signal });
        if (!response.ok) {
          const result = { status: response.status, body: await response.json().catch(() => null) };
          reason = problemText(result);
          // As api(): the token is forgotten and the page told (its listener may stop this stream).
          if (response.status === 401) refuseToken(token, result.body?.detail ?? result.body?.title);
          if (controller.signal.aborted) return;
          if (response.status === 401 || response.status === 403 || response.status === 404) {
            onDown(reason, true, { retryInMs: null, status: response.status });
            return;
          }
          status = response.status;
          const header = response.headers.get('retry-after') ?? '';
          retryAfter = /^\d+$/.test(header) ? Number(header) : null;
        } else {
          openedAt = performance.now();
          onOpen({ resumed });
          const reader = response.body.getReader();
          const decoder = new window.TextDecoder();
          let buffer = '';
          for (;;) {
            watch();
            const { value, done } = await reader.read();
            if (done) break;
            buffer += decoder.decode(value, { stream: true });
            let end;
            while ((end = buffer.indexOf('\n\n')) >= 0) {
              const block = buffer.slice(0, end);
              buffer = buffer.slice(end + 2);
              let type = 'message';
              let id = null;
              const data = [];
              for (const line of block.split('\n')) {
                if (line.startsWith(':')) continue;
                const colon = line.indexOf(':');
                const field = colon < 0 ? line : line.slice(0, colon);
                const text = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
                if (field === 'event') type = text;
                else if (field === 'data') data.push(text);
                else if (field === 'id') id = text;
                else if (field === 'retry' && /^\d+$/.test(text)) retryMs = Number(text);
              }
              if (id !== null) lastEventId = id;
              if (data.length > 0) onEvent(type, data.join('\n'), id);
            }
          }
        }
      } catch (error) {
        if (controller.signal.aborted) return;
        reason = silent ? `nothing arrived for ${silenceMs / 1000} s` : (error?.message ?? String(error));
      } finally {
        clearTimeout(watchdog);
        controller.signal.removeEventListener('abort', stopConnection);
      }
      if (controller.signal.aborted) return;
      failures = openedAt !== null && performance.now() - openedAt >= stableMs ? 1 : failures + 1;
      const wait = reconnectDelay(retryMs, failures, retryAfter);
      onDown(reason, false, { retryInMs: wait, status });
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  };
  connect();
  return { stop: () => controller.abort() };
}

/**
 * Where to go after signing in: `next` when it is a path on this platform, else the page of the
 * token's role (staff: their board; courier: tasks). Customers (no single page) get null. `next` is
 * resolved as the browser would and must stay on `origin`: `/\evil.example` is `//evil.example` to a
 * browser, and the URL parser drops tabs and newlines, so a backslash or control character refuses it.
 * The path it answers must itself stay on `origin`: resolving removes dot-segments, and
 * `/.//evil.example` (or `/..//`, `/board/..//`, `/%2e%2e//`) resolved to the path `//evil.example`,
 * which `location.assign` took for another host.
 */
export function landingFor(token, next, origin = window.location.origin) {
  const path = samePlatformPath(next, origin);
  if (path !== null && !path.startsWith('/login') && !path.startsWith('/dev-login')) return path;
  const claims = claimsOf(token) ?? {};
  if (claims.role === 'staff' && claims.rid) return `/board/${claims.rid}`;
  if (claims.role === 'courier') return '/courier';
  return null;
}

/** `next` as a path (with query and fragment) on `origin`, or null when it is not one. */
function samePlatformPath(next, origin) {
  // eslint-disable-next-line no-control-regex
  if (typeof next !== 'string' || !next.startsWith('/') || /[\\\u0000-\u001f\u007f]/.test(next)) return null;
  let url;
  try {
    url = new URL(next, origin);
  } catch {
    return null;
  }
  if (url.origin !== origin) return null;
  const path = `${url.pathname}${url.search}${url.hash}`;
  // A path that begins `//` is protocol-relative (another host): checked again as the browser will read it.
  if (path.startsWith('//') || new URL(path, origin).origin !== origin) return null;
  return path;
}
