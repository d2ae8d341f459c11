import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { command, courier, customer, placeOrder, seedRestaurant, type SeededRestaurant } from '../services/ordering/support.ts';
import { eventually, FLOW_MS } from '../support/eventually.ts';
import { assertStopsAsking, launchChromium, requireChromium, signedInPage, startBrowserPlatform, type BrowserPlatform } from './browser.ts';

const { skip } = await requireChromium();
const WAIT = { timeout: FLOW_MS };
/** For what the page does on its own within a poll or two (no projection in between). */
const SOON = { timeout: 30_000 };
/** How the pages name an order for people: the last 8 characters of its id. */
const short = (id: string) => id.slice(-8);
/**
 * Wraps the page's fetch so that the answer to the next request whose URL holds `window.cutNext` has its
 * body cut after the headers, once: as Chromium's `text()` does when the connection resets mid-body (a
 * mobile network, a proxy). Records every text the page's message takes (`window.said`): a read's error
 * is taken down at the next read that works, which may be too soon to be seen by waiting for it.
 */
const CUT_A_BODY = `{
  const realFetch = window.fetch;
  window.cuts = 0;
  window.said = [];
  window.fetch = async (input, init) => {
    const response = await realFetch(input, init);
    const url = typeof input === 'string' ? input : input.url;
    if (typeof window.cutNext !== 'string' || !url.includes(window.cutNext)) return response;
    window.cutNext = null;
    window.cuts += 1;
    return new Response(new ReadableStream({ start: (c) => c.error(new TypeError('network error')) }), { status: response.status, headers: response.headers });
  };
  document.addEventListener('DOMContentLoaded', () => {
    const message = document.getElementById('message');
    new MutationObserver(() => window.said.push(message.textContent)).observe(message, { childList: true, characterData: true, subtree: true });
  });
}`;
const CUT_OFF = "The platform's answer was cut off: check your connection.";
const unavailable = { status: 503, contentType: 'application/problem+json', body: JSON.stringify({ status: 503, code: 'DATABASE_UNAVAILABLE', detail: 'The database is not answering; try again shortly.' }) };

/**
 * What the pages say, and when: what the board announces, what a page that cannot read says while it
 * tries again (and how long it waits), what sign-in says to a customer. Beside `pages.e2e.test.ts`,
 * whose file-wide bound these would pass.
 */
describe('what the web pages say, in headless Chromium', { skip }, () => {
  let p: BrowserPlatform;
  let browser: Browser;
  let r: SeededRestaurant;

  before(async () => {
    p = await startBrowserPlatform();
    browser = await launchChromium();
    r = await seedRestaurant(p.t, 'Messages Pizzeria');
  });
  after(async () => {
    await browser?.close();
    await p?.close();
  });

  const order = async () => {
    const c = await customer(p.t);
    const placed = await placeOrder(p.t, c.token, { restaurantId: r.rid, deliveryAddress: 'Rua das Flores 1, Porto', lines: [{ itemId: r.cola, quantity: 1 }] });
    assert.equal(placed.statusCode, 201, placed.body);
    return { id: placed.json().id as string, customer: c };
  };
  const card = (page: Page, status: string, orderId: string) => page.locator(`section[data-status="${status}"] li.card[data-order="${orderId}"]`);
  const openBoard = async () => {
    const opened = await signedInPage(browser, r.staff);
    await opened.page.goto(`${p.base}/board/${r.rid}`);
    await opened.page.locator('#stream-status', { hasText: 'Live' }).waitFor(WAIT);
    await opened.page.locator('body[data-loaded="true"]').waitFor(WAIT);
    return opened;
  };
  /** Takes an order to a courier, ready for pick-up. */
  const assignTo = async (id: string, courierId: string) => {
    let version = 1;
    for (const [name, body] of [['accept', { etaMinutes: 15 }], ['ready', undefined], ['assign-courier', { courierId }]] as const) {
      const res = await command(p.t, r.staff, id, name, version, body);
      assert.equal(res.statusCode, 200, res.body);
      version = res.json().version;
    }
  };

  /** A courier with an order assigned to them, ready for pick-up, and their page once it shows it (`init` run before the page's own scripts). */
  const courierPageWithTask = async (init?: string) => {
    const rider = await courier(p.t);
    const { id } = await order();
    await assignTo(id, rider.id);
    const opened = await signedInPage(browser, rider.token);
    if (init !== undefined) await opened.page.addInitScript(init);
    await opened.page.goto(`${p.base}/courier`);
    await opened.page.locator(`li.card[data-order="${id}"][data-status="ready"]`).waitFor(WAIT);
    return { id, ...opened };
  };

  test("the board's first read announces nothing (the orders open before the page opened are the page itself), and later changes still are (before: \"New order …\" for an order placed before)", async () => {
    const { id: old } = await order();
    /** Whether the board view holds the order (so that it comes with the page's first read, not the stream). */
    const onBoard = async () => ((await p.t.request({ url: `/v1/restaurants/${r.rid}/board`, token: r.staff })).json().orders as Array<{ orderId: string }>).some((o) => o.orderId === old);
    await eventually('the order on the board view', onBoard, (open) => open);
    const { page, errors } = await openBoard();
    await card(page, 'placed', old).waitFor(WAIT);
    assert.equal(await page.locator('#updates').innerText(), 'no change since this board opened.');
    const { id: later } = await order();
    await page.locator('#updates', { hasText: `New order ${short(later)}` }).waitFor(WAIT);
    assert.doesNotMatch(await page.locator('#updates').innerText(), new RegExp(short(old)));
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  test('changes that come in one update are announced together (before: each replaced the one before, and only the last was heard)', async () => {
    const { page, errors } = await signedInPage(browser, r.staff);
    const row = (orderId: string, name: string) => ({
      orderId, version: 1, status: 'placed', placedAt: new Date().toISOString(), updatedAt: new Date().toISOString(), total: 250, currency: 'EUR', lines: [{ itemId: randomUUID(), name, quantity: 1, modifiers: [], prepared: false }],
    });
    const [a, b] = [randomUUID(), randomUUID()];
    // One answer holding the start and two orders, read at once; no reconnect during the test.
    await page.route(`**/v1/restaurants/${r.rid}/board/stream`, (route) =>
      route.fulfill({ status: 200, contentType: 'text/event-stream', body: `retry: 600000\nevent: start\ndata: {"position":"0.0"}\n\nevent: order\ndata: ${JSON.stringify(row(a, 'Soup'))}\n\nevent: order\ndata: ${JSON.stringify(row(b, 'Bread'))}\n\n` }),
    );
    await page.goto(`${p.base}/board/${r.rid}`);
    await card(page, 'placed', b).waitFor(WAIT);
    const said = await page.locator('#updates').innerText();
    assert.match(said, new RegExp(`New order ${short(a)}: 1 × Soup\\. New order ${short(b)}: 1 × Bread\\.`), said);
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  test("a board stream refused with a Retry-After is not asked again before it, and the status says when it is (before: every 2 s, \"Reconnecting…\")", async () => {
    const { page, errors } = await signedInPage(browser, r.staff);
    let streams = 0;
    await page.route(`**/v1/restaurants/${r.rid}/board/stream`, (route) => {
      streams += 1;
      return route.fulfill({ ...unavailable, headers: { 'retry-after': '60' } });
    });
    await page.goto(`${p.base}/board/${r.rid}`);
    await page.locator('#stream-status', { hasText: 'Reconnecting in 60 s' }).waitFor(WAIT);
    assert.match(await page.locator('#message').innerText(), /The database is not answering.*The board reconnects in 60 s\./);
    await page.waitForTimeout(5000);
    assert.equal(streams, 1, 'asked again before the Retry-After');
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  test('a tracking page that cannot reach the platform says it tries again and marks the status as last known, then shows it current again (before: "Check your connection and try again" over a status that looked current)', async () => {
    const { id, customer: c } = await order();
    const { page, errors } = await signedInPage(browser, c.token);
    await page.goto(`${p.base}/track/${id}`);
    await page.locator('body[data-status="placed"]').waitFor(WAIT);
    await page.context().setOffline(true);
    await page.locator('#message.error').waitFor(WAIT);
    const said = await page.locator('#message').innerText();
    assert.match(said, /could not be reached.* The page tries again in \d+ s\./, said);
    assert.doesNotMatch(said, /try again\./);
    assert.match(await page.locator('#status').innerText(), /^New \(not updated since \d{1,2}:\d{2}:\d{2}/);
    await page.context().setOffline(false);
    await page.locator('#status', { hasText: /^New$/ }).waitFor(WAIT);
    assert.equal(await page.locator('#message').innerText(), '');
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  test("a tracking page refused with a Retry-After waits it, and says so (before: it asked again after 4 s)", async () => {
    const c = await customer(p.t);
    const { page, errors } = await signedInPage(browser, c.token);
    const id = randomUUID();
    let reads = 0;
    await page.route(`**/v1/orders/${id}/events`, (route) => {
      reads += 1;
      return route.fulfill({ status: 429, headers: { 'retry-after': '30' }, contentType: 'application/problem+json', body: JSON.stringify({ status: 429, code: 'RATE_LIMITED', detail: 'Too many requests; try again shortly.' }) });
    });
    await page.goto(`${p.base}/track/${id}`);
    await page.locator('#message.error', { hasText: 'The page tries again in 30 s.' }).waitFor(WAIT);
    await page.waitForTimeout(5000);
    assert.equal(reads, 1);
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  test("a courier page that cannot reach the platform says it tries again and since when its list is not updated (before: \"Check your connection and try again\" while it polled)", async () => {
    const { page, errors } = await courierPageWithTask();
    await page.context().setOffline(true);
    await page.locator('#message.error').waitFor(WAIT);
    const said = await page.locator('#message').innerText();
    assert.match(said, /could not be reached.* The list below is not updated since \d{1,2}:\d{2}:\d{2}.*; the page tries again in 5 s\./, said);
    assert.doesNotMatch(said, /try again\./);
    await page.context().setOffline(false);
    // The next poll reads the list again, and takes the error down.
    await page.locator('#message.error').waitFor({ ...WAIT, state: 'detached' });
    assert.equal(await page.locator('#message').innerText(), '');
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  test('a customer without orders is told so on sign-in, and one with a full first page that only the latest are shown (before: "Choose an order to track" above an empty list)', async () => {
    const c = await customer(p.t);
    const { page, errors } = await signedInPage(browser, null);
    await page.goto(`${p.base}/login`);
    await page.getByLabel('Your access token').fill(c.token);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.locator('#message.ok').waitFor(WAIT);
    assert.equal(await page.locator('#message').innerText(), 'Signed in. You have no orders yet.');
    assert.equal(await page.locator('#orders').isVisible(), false);

    const orders = Array.from({ length: 20 }, () => ({ orderId: randomUUID(), status: 'delivered' }));
    await page.route('**/v1/customers/me/orders*', (route) => route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ position: '0.0', lagging: false, orders, next: 'more' }) }));
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.locator('#message', { hasText: 'Choose an order to track' }).waitFor(WAIT);
    assert.equal(await page.locator('#order-links li').count(), 20);
    assert.equal(await page.locator('#orders-more').innerText(), 'Only your latest 20 orders are shown.');
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  test("a courier's pick-up that fails (503, then the network) leaves its button usable, and the next click picks the order up (before: the button stayed disabled until a reload)", async () => {
    const { id, page, errors } = await courierPageWithTask();
    const answers = ['unavailable', 'no network'];
    await page.route(`**/v1/orders/${id}/pick-up`, (route) => {
      const answer = answers.shift();
      if (answer === 'unavailable') return route.fulfill(unavailable);
      if (answer === 'no network') return route.abort('failed');
      return route.continue();
    });
    const pickUp = page.getByRole('button', { name: `Picked up order ${short(id)}` });
    await pickUp.click();
    await page.locator('#message.error', { hasText: `Order ${short(id)}: The database is not answering` }).waitFor(WAIT);
    // Drawn again with the answer (not a poll later): the courier can try again at once.
    assert.equal(await pickUp.isDisabled(), false, 'the button is usable after a 503');
    await pickUp.click();
    await page.locator('#message.error', { hasText: `Order ${short(id)}: The platform could not be reached` }).waitFor(WAIT);
    assert.equal(await pickUp.isDisabled(), false, 'the button is usable after a network failure');
    await pickUp.click();
    await page.locator(`li.card[data-order="${id}"][data-status="picked_up"]`).waitFor(WAIT);
    await page.locator('#message.ok', { hasText: `Order ${short(id)}: picked up.` }).waitFor(WAIT);
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  test("a courier's list read whose answer is cut off mid-way says so and is read again at the next poll, which takes the message down (before: api() rejected, the polling stopped for good, nothing said)", async () => {
    const { page, errors } = await courierPageWithTask(CUT_A_BODY);
    await page.evaluate(`window.cutNext = '/v1/couriers/me/tasks'`);
    await page.locator('#message.error', { hasText: CUT_OFF }).waitFor(SOON);
    assert.match(await page.locator('#message').innerText(), /The list below is not updated since \d{1,2}:\d{2}:\d{2}.*; the page tries again in 5 s\.$/);
    // The poll goes on: the next read works and takes the message down.
    await page.locator('#message.error').waitFor({ ...SOON, state: 'detached' });
    assert.equal(await page.locator('#message').innerText(), '');
    assert.equal(await page.evaluate('window.cuts'), 1);
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  test("a tracking page's read whose answer is cut off mid-way says so and goes on polling: a later change is shown (before: the status froze, nothing said)", async () => {
    const { id, customer: c } = await order();
    const { page, errors } = await signedInPage(browser, c.token);
    await page.addInitScript(CUT_A_BODY);
    await page.goto(`${p.base}/track/${id}`);
    await page.locator('body[data-status="placed"]').waitFor(WAIT);
    await page.evaluate(`window.cutNext = '/v1/orders/${id}/events'`);
    await page.locator('#message.error', { hasText: `${CUT_OFF} The page tries again in 4 s.` }).waitFor(SOON);
    const accepted = await command(p.t, r.staff, id, 'accept', 1, { etaMinutes: 15 });
    assert.equal(accepted.statusCode, 200, accepted.body);
    await page.locator('body[data-status="accepted"]').waitFor(WAIT);
    assert.equal(await page.locator('#message').innerText(), '');
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  test("a board read whose answer is cut off mid-way says so and is tried again; a command's cut-off answer is said on the board (before: \"Loading the board…\" until the stream dropped; the command's failure said nothing)", async () => {
    const { id } = await order();
    const { page, errors } = await signedInPage(browser, r.staff);
    await page.addInitScript(CUT_A_BODY);
    // The board's first read (not its stream, /board/stream).
    await page.addInitScript(`window.cutNext = '/v1/restaurants/${r.rid}/board?after='`);
    await page.goto(`${p.base}/board/${r.rid}`);
    await page.locator('#stream-status', { hasText: 'Live' }).waitFor(WAIT);
    await card(page, 'placed', id).waitFor(WAIT);
    const said = (await page.evaluate('window.said')) as string[];
    assert.ok(said.includes(`${CUT_OFF} The board tries again in 1 s.`), `the message said ${JSON.stringify(said)}`);
    assert.equal(await page.evaluate('window.cuts'), 1);
    assert.equal(await page.locator('#message').innerText(), '', 'taken down once a read worked');

    await page.evaluate(`window.cutNext = '/v1/orders/${id}/accept'`);
    await card(page, 'placed', id).getByRole('button', { name: `Accept order ${short(id)}` }).click();
    await page.locator('#message.error', { hasText: `Order ${short(id)}: ${CUT_OFF}` }).waitFor(SOON);
    // The platform did accept it (only its answer was lost): the stream shows it.
    await card(page, 'accepted', id).waitFor(WAIT);
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  test('a token pasted with line breaks and spaces inside it signs in (before: "could not be reached" and a board "Reconnecting" for ever); one with characters no token holds is refused in words', async () => {
    const { page, errors } = await signedInPage(browser, null);
    await page.goto(`${p.base}/login`);
    const field = page.getByLabel('Your access token');
    // As copied from a terminal that wrapped it.
    const wrapped = `${r.staff.slice(0, 40)}\n${r.staff.slice(40, -10)}\r\n ${r.staff.slice(-10)}\n`;
    await field.fill(wrapped);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(`${p.base}/board/${r.rid}`, WAIT);
    await page.locator('#stream-status', { hasText: 'Live' }).waitFor(WAIT);
    assert.equal(await page.evaluate(`window.sessionStorage.getItem('brigade.token')`), r.staff);

    const other = await signedInPage(browser, null);
    await other.page.goto(`${p.base}/login`);
    await other.page.getByLabel('Your access token').fill(`${r.staff.slice(0, -10)}…${r.staff.slice(-10)}`);
    await other.page.getByRole('button', { name: 'Sign in', exact: true }).click();
    assert.match(await other.page.locator('#message.error').innerText(), /^That is not a Brigade token/);
    assert.equal(await other.page.evaluate(`window.sessionStorage.getItem('brigade.token')`), null);
    assert.deepEqual([...errors, ...other.errors], []);
    await page.context().close();
    await other.page.context().close();
  });

  test("a courier page opened with another role's token says it is for couriers, links to sign-in, and stops asking (before: the 403 every 5 s for ever, \"the page tries again\")", async () => {
    const { page, requested, errors } = await signedInPage(browser, r.staff);
    await page.goto(`${p.base}/courier`);
    const link = page.locator('#message.error').getByRole('link', { name: "sign in with a courier's token" });
    await link.waitFor(SOON);
    assert.equal(await link.getAttribute('href'), `/login?next=${encodeURIComponent('/courier')}`);
    const said = await page.locator('#message').innerText();
    assert.equal(said, "This needs the role courier; your token is staff. This page is for couriers: sign in with a courier's token.");
    assert.doesNotMatch(said, /tries again/);
    assert.equal(await page.locator('#availability').isDisabled(), true);
    await assertStopsAsking(page, requested);
    assert.deepEqual(errors, []);
    await page.context().close();
  });
});
