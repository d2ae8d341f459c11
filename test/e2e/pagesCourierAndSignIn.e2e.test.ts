import assert from 'node:assert/strict';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { finishOrder } from '../../src/services/delivery/operations/finishOrder.ts';
import { command, courier, customer, type SeededRestaurant } from '../services/ordering/support.ts';
import { eventually } from '../support/eventually.ts';
import { assertStopsAsking, requireChromium, SCREENSHOTS, signedInPage, type BrowserPlatform } from './browser.ts';
import { pagesFixture, WAIT, short, unavailable, TOKEN_LIFETIME_S } from './pagesFixture.ts';

const { skip } = await requireChromium();

/** The courier page, the tracking page, sign-in and the development login (the board: pages.e2e.test.ts). */
describe('web pages in headless Chromium: courier, tracking and sign-in', { skip }, () => {
  const f = pagesFixture('Pages Courier Grill');
  const { order, openCourierPage, onlyPlatform, shortLived, assignTo, availableCourier } = f;
  let p: BrowserPlatform;
  let browser: Browser;
  let r: SeededRestaurant;
  before(() => ({ p, browser, r } = f));

  test('the courier picks up and delivers from the courier page, and the tracking page reaches delivered', async () => {
    const { id, customer: c } = await order();
    const rider = await courier(p.t);
    const tracking = await signedInPage(browser, c.token);
    await tracking.page.goto(`${p.base}/track/${id}`);
    await tracking.page.locator('body[data-status="placed"]').waitFor(WAIT);
    const pollNote = tracking.page.locator('#poll-note');
    assert.equal(await pollNote.innerText(), 'This page checks for news every few seconds until the order is delivered.');

    await assignTo(id, rider.id);

    const courierPage = await signedInPage(browser, rider.token);
    await courierPage.page.goto(`${p.base}/courier`);
    const task = courierPage.page.locator(`li.card[data-order="${id}"]`);
    await courierPage.page.locator(`li.card[data-order="${id}"][data-status="ready"]`).waitFor(WAIT);
    assert.match(await task.innerText(), /Rua das Flores 1, Porto/);
    // Where to fetch the order first, then where to take it (decision 0040, finding 4): the restaurant
    // has no pick-up address yet, then its staff sets one, which the next read of the list shows.
    const lines = () => task.locator('p.meta').allInnerTexts();
    assert.deepEqual((await lines()).slice(0, 2), ['Pick up at Pages Courier Grill (no pick-up address given: ask the restaurant)', 'Deliver to: Rua das Flores 1, Porto']);
    // Under If-Match, the ETag the restaurant's GET answers (the review of the new routes, finding 3).
    const etag = (await p.t.request({ url: `/v1/restaurants/${r.rid}` })).headers.etag as string;
    const set = await p.t.request({ method: 'PATCH', url: `/v1/restaurants/${r.rid}`, token: r.staff, headers: { 'if-match': etag }, payload: { pickupAddress: 'Rua de Cedofeita 12, Porto' } });
    assert.equal(set.statusCode, 200, set.body);
    await task.locator('p.meta', { hasText: 'Pick up at Pages Courier Grill, Rua de Cedofeita 12, Porto' }).waitFor(WAIT);
    assert.deepEqual((await lines()).slice(0, 2), ['Pick up at Pages Courier Grill, Rua de Cedofeita 12, Porto', 'Deliver to: Rua das Flores 1, Porto']);
    await courierPage.page.screenshot({ path: path.join(SCREENSHOTS, 'courier.png'), fullPage: true });
    await courierPage.page.getByRole('button', { name: `Picked up order ${short(id)}` }).click();
    await courierPage.page.locator(`li.card[data-order="${id}"][data-status="picked_up"]`).waitFor(WAIT);
    await courierPage.page.getByRole('button', { name: `Delivered order ${short(id)}` }).click();
    await courierPage.page.locator('#message.ok', { hasText: 'delivered' }).waitFor(WAIT);
    await task.waitFor({ state: 'detached', ...WAIT });

    await tracking.page.locator('body[data-status="delivered"]').waitFor(WAIT);
    assert.equal(await tracking.page.locator('#status').innerText(), 'Delivered');
    // It stopped checking, and says so (before: "checks for news every few seconds until the order is delivered" under Delivered).
    assert.equal(await pollNote.innerText(), 'The order is delivered: this page no longer checks for news.');
    const steps = tracking.page.locator('#timeline li');
    assert.deepEqual(await steps.evaluateAll((items) => items.map((li) => li.getAttribute('data-type'))), [
      'OrderPlaced', 'OrderAccepted', 'OrderReady', 'CourierAssigned', 'OrderPickedUp', 'OrderDelivered',
    ]);
    const times = await tracking.page.locator('#timeline li time').evaluateAll((items) => items.map((t) => t.getAttribute('datetime')));
    const events = (await p.t.request({ url: `/v1/orders/${id}/events`, token: c.token })).json().events as Array<{ metadata: { occurredAt: string } }>;
    assert.deepEqual(times, events.map((e) => e.metadata.occurredAt), 'each step shows the time of its event');
    await tracking.page.screenshot({ path: path.join(SCREENSHOTS, 'track.png'), fullPage: true });
    onlyPlatform(tracking.requested);
    onlyPlatform(courierPage.requested);
    assert.deepEqual([...tracking.errors, ...courierPage.errors], []);
    await tracking.page.context().close();
    await courierPage.page.context().close();
  });

  test("a poll that answers after a pick-up's own read does not bring back the order as it was (a Picked up button of the old version, a false 412)", async () => {
    const { id } = await order();
    const rider = await courier(p.t);
    await assignTo(id, rider.id);
    const { page, errors } = await signedInPage(browser, rider.token);
    await page.goto(`${p.base}/courier`);
    await page.locator(`li.card[data-order="${id}"][data-status="ready"]`).waitFor(WAIT);
    // The next poll is read while the order is ready, and its answer held until the pick-up has been shown.
    let held!: () => void;
    const holding = new Promise<void>((resolve) => (held = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let holdOne = true;
    await page.route('**/v1/couriers/me/tasks', async (route) => {
      if (!holdOne) return route.continue();
      holdOne = false;
      const response = await route.fetch();
      held();
      await released;
      return route.fulfill({ response });
    });
    await holding;
    await page.getByRole('button', { name: `Picked up order ${short(id)}` }).click();
    await page.locator(`li.card[data-order="${id}"][data-status="picked_up"]`).waitFor(WAIT);
    // From now on, every status the card takes.
    // (Written as the page's own script: these tests compile without the DOM's types.)
    await page.evaluate(`{
      const seen = (window.statuses = []);
      const tasks = document.getElementById('tasks');
      new MutationObserver(() => seen.push(tasks.querySelector('li.card[data-order="${id}"]')?.getAttribute('data-status') ?? null)).observe(tasks, { childList: true, subtree: true, attributes: true });
    }`);
    // The poll after the held one is asked only once the held answer has been taken (or dropped).
    const nextPoll = page.waitForRequest((request) => request.url().endsWith('/v1/couriers/me/tasks'), WAIT);
    release();
    await (await nextPoll).response();
    const statuses = (await page.evaluate('window.statuses')) as Array<string | null>;
    // Before, the held answer was drawn last: the card went back to ready, with the old version on its button.
    assert.ok(!statuses.includes('ready'), `the card took the statuses ${JSON.stringify(statuses)}`);
    await page.locator(`li.card[data-order="${id}"][data-status="picked_up"]`).waitFor(WAIT);
    await page.getByRole('button', { name: `Delivered order ${short(id)}` }).click();
    await page.locator('#message.ok', { hasText: 'delivered' }).waitFor(WAIT);
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  test("a courier page whose token expires offers a way to sign in again, disables its buttons and stops polling (before: it polled every 5 s for ever under the server's text)", async () => {
    const rider = await availableCourier();
    const { id } = await order();
    await assignTo(id, rider.id);
    const { page, requested, errors } = await signedInPage(browser, await shortLived('courier', TOKEN_LIFETIME_S, { subject: rider.id }));
    await page.goto(`${p.base}/courier`);
    await page.locator(`li.card[data-order="${id}"][data-status="ready"]`).waitFor(WAIT);
    const signIn = page.locator('#message.error').getByRole('link', { name: 'Sign in again' });
    await signIn.waitFor(WAIT);
    assert.equal(await signIn.getAttribute('href'), `/login?next=${encodeURIComponent('/courier')}`);
    assert.match(await page.locator('#message').innerText(), /^The token has expired; ask for a new one\. Sign in again to go on\. The list below is no longer kept current, and its buttons are off\.$/);
    assert.equal(await page.evaluate(`window.sessionStorage.getItem('brigade.token')`), null);
    const task = page.locator(`li.card[data-order="${id}"]`);
    assert.match(await task.getAttribute('class') ?? '', /\bstale\b/);
    assert.equal(await page.getByRole('button', { name: `Picked up order ${short(id)}` }).isDisabled(), true);
    assert.equal(await page.locator('#availability').isDisabled(), true);
    // No poll after the refusal (one would be due every 5 s).
    const asked = requested.length;
    await new Promise((resolve) => setTimeout(resolve, 6000));
    assert.deepEqual(requested.slice(asked).filter((url) => url.includes('/v1/')), [], 'the page stopped polling');
    assert.match(await page.locator('#message').innerText(), /Sign in again/, 'the way forward is still shown');
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  test('the courier task list is not a live region: an unchanged poll announces and redraws nothing, a new task and a status change are announced once (before: the whole list re-read every 5 s)', async () => {
    const rider = await availableCourier();
    const { page, errors } = await openCourierPage(rider.token);
    assert.equal(await page.locator('#tasks').getAttribute('aria-live'), null, 'the list itself is not live');
    assert.equal(await page.locator('#updates').getAttribute('aria-live'), 'polite');

    const { id } = await order();
    await assignTo(id, rider.id, 'accepted');
    await page.locator(`li.card[data-order="${id}"][data-status="accepted"]`).waitFor(WAIT);
    await page.locator('#updates', { hasText: `New delivery: order ${short(id)}` }).waitFor(WAIT);

    // A poll with nothing new changes neither the list nor the live regions. (A poll is asked only once
    // the one before has been drawn: the second request means the first answer has been handled.)
    await page.evaluate(`{
      window.mutations = 0;
      const count = () => window.mutations++;
      for (const id of ['tasks', 'updates', 'availability-state']) new MutationObserver(count).observe(document.getElementById(id), { childList: true, subtree: true, characterData: true, attributes: true });
    }`);
    for (let i = 0; i < 2; i++) await page.waitForRequest((request) => request.url().endsWith('/v1/couriers/me/tasks'), WAIT);
    assert.equal(await page.evaluate('window.mutations'), 0, 'an unchanged poll touched the list or the live region');

    const version = (await p.t.request({ url: `/v1/orders/${id}`, token: r.staff })).json().version as number;
    assert.equal((await command(p.t, r.staff, id, 'ready', version)).statusCode, 200);
    await page.locator(`li.card[data-order="${id}"][data-status="ready"]`).waitFor(WAIT);
    await page.locator('#updates', { hasText: `Order ${short(id)}: Ready for pick-up.` }).waitFor(WAIT);
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  test('a task whose customer was erased says so where the address was (decision 0090)', async () => {
    const rider = await availableCourier();
    const { id, customer: c } = await order();
    // The order is on its way, so only an admin's forced erasure goes through (the customer's own waits: 409).
    assert.equal((await p.t.request({ method: 'DELETE', url: '/v1/customers/me', token: c.token })).statusCode, 409);
    const admin = await p.t.token('admin', { subject: 'ops' });
    assert.equal((await p.t.request({ method: 'DELETE', url: `/v1/customers/${c.id}?force=true`, token: admin })).statusCode, 204);
    await assignTo(id, rider.id, 'accepted');
    const { page, errors } = await openCourierPage(rider.token);
    const taskCard = page.locator(`li.card[data-order="${id}"]`);
    await taskCard.waitFor(WAIT);
    assert.match(await taskCard.locator('p.meta', { hasText: 'Deliver to' }).innerText(), /Deliver to: address erased at the customer's request: ask the restaurant/);
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  test("the courier's availability is read with each poll: after an assignment it says busy; a stop right after the page's Deliver, before delivery has heard of it, says they stop after that order (short id), and they are offline once it has (before: \"You are available\" for ever; then the stop refused, 'deliver it first')", async () => {
    const rider = await courier(p.t);
    const { page, errors } = await openCourierPage(rider.token);
    const toggle = page.locator('#availability');
    await page.locator('#availability-state', { hasText: 'You are offline' }).waitFor(WAIT);
    // One way to say the state: the button's label is the action it takes, with no aria-pressed beside it.
    assert.equal(await toggle.getAttribute('aria-pressed'), null);
    assert.equal(await toggle.innerText(), 'Start taking deliveries');
    await toggle.click();
    await page.locator('#availability-state', { hasText: 'You are available' }).waitFor(WAIT);
    assert.equal(await toggle.innerText(), 'Stop taking deliveries');
    assert.equal(await toggle.getAttribute('aria-pressed'), null);

    const { id } = await order();
    await assignTo(id, rider.id);
    const busy = (await p.t.request({ url: '/v1/couriers/me/availability', token: rider.token })).json();
    assert.equal(busy.status, 'busy', 'the assignment made the courier busy');
    await page.locator('#availability-state', { hasText: `You are on a delivery (order ${short(id)})` }).waitFor(WAIT);

    // The courier delivers it from the page. Delivery frees them when ordering's OrderDelivered reaches it
    // over the bus; this harness runs no relay, which stands in for the bus's lag: still busy there.
    await page.getByRole('button', { name: `Picked up order ${short(id)}` }).click();
    await page.getByRole('button', { name: `Delivered order ${short(id)}` }).click();
    await page.locator('#message.ok', { hasText: 'delivered' }).waitFor(WAIT);
    assert.equal((await p.t.request({ url: '/v1/couriers/me/availability', token: rider.token })).json().status, 'busy');

    // Stopping right after: taken at their word for when delivery hears of it, not refused.
    await toggle.click();
    const stopping = page.locator('#message.ok', { hasText: `You will stop taking deliveries after order ${short(id)}` });
    await stopping.waitFor(WAIT);
    assert.equal(await stopping.innerText(), `You will stop taking deliveries after order ${short(id)}.`);
    assert.doesNotMatch(await stopping.innerText(), new RegExp(id));
    assert.equal(await page.locator('#availability-state').innerText(), `You are on a delivery (order ${short(id)}): you will stop taking deliveries after it`);
    assert.equal(await toggle.innerText(), 'Start taking deliveries');
    assert.equal((await p.t.request({ url: '/v1/couriers/me/availability', token: rider.token })).json().afterCurrentOrder, 'offline');
    // Changing their mind, and back again.
    await toggle.click();
    await page.locator('#message.ok', { hasText: `You will keep taking deliveries after order ${short(id)}.` }).waitFor(WAIT);
    assert.equal(await toggle.innerText(), 'Stop taking deliveries');
    await toggle.click();
    await stopping.waitFor(WAIT);

    // What delivery's consumer does with the OrderDelivered: the courier is offline, and the page says so.
    await p.t.platform.deps.unitOfWork({ service: 'delivery', actor: { kind: 'system', id: 'e2e-order-delivered' } }, (tx) => finishOrder(tx, { tenantId: r.rid, orderId: id, reason: 'delivered' }));
    await page.locator('#availability-state', { hasText: 'You are offline' }).waitFor(WAIT);
    assert.equal(await toggle.innerText(), 'Start taking deliveries');
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  test("a failed read of the courier's list shows its error until the next poll succeeds, which takes it down (before: it stayed over a current list)", async () => {
    const rider = await courier(p.t);
    const { page, errors } = await signedInPage(browser, rider.token);
    let failOne = true;
    await page.route('**/v1/couriers/me/tasks', (route) => {
      if (!failOne) return route.continue();
      failOne = false;
      return route.fulfill(unavailable);
    });
    await page.goto(`${p.base}/courier`);
    await page.locator('#message.error', { hasText: 'The database is not answering' }).waitFor(WAIT);
    // The next poll (5 s later) succeeds.
    await page.locator('body[data-loaded="true"]').waitFor(WAIT);
    assert.equal(await page.locator('#message').innerText(), '');
    assert.equal(await page.locator('#message.error').count(), 0);
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  test('a tracking address without an order id says so in plain words, and asks the API nothing (before: params.id must match format "uuid")', async () => {
    const c = await customer(p.t);
    const { page, requested, errors } = await signedInPage(browser, c.token);
    await page.goto(`${p.base}/track/not-an-id`);
    await page.locator('#message.error', { hasText: 'This address has no order id' }).waitFor(WAIT);
    assert.doesNotMatch(await page.locator('#message').innerText(), /params|uuid|format/);
    assert.equal(await page.locator('#status').innerText(), 'Unknown');
    assert.deepEqual(requested.filter((url) => url.includes('/v1/')), []);
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  test('a tracking page whose read is refused as busy (429) tries again, as the board does (before: it stopped, "no longer updated")', async () => {
    const c = await customer(p.t);
    const { page, errors } = await signedInPage(browser, c.token);
    const id = randomUUID();
    let reads = 0;
    await page.route(`**/v1/orders/${id}/events`, (route) =>
      ++reads === 1
        ? route.fulfill({ status: 429, contentType: 'application/problem+json', body: JSON.stringify({ status: 429, code: 'RATE_LIMITED', detail: 'Too many requests; try again shortly.' }) })
        : route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ version: 1, events: [{ type: 'OrderPlaced', data: { total: 2850, currency: 'EUR' }, metadata: { occurredAt: new Date().toISOString() } }] }) }),
    );
    await page.goto(`${p.base}/track/${id}`);
    await page.locator('#status', { hasText: 'New' }).waitFor(WAIT);
    assert.ok(reads >= 2);
    assert.doesNotMatch(await page.locator('#status').innerText(), /no longer updated/);
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  test('a tracking page and a courier page in a hidden tab ask nothing until the tab is shown, then read at once (before: every 2 s and 5 s for as long as the tab stayed open)', async () => {
    const { id, customer: c } = await order();
    const rider = await courier(p.t);
    /** Hides or shows the tab as a browser does (Playwright's page is always visible). */
    const setHidden = (page: Page, hidden: boolean) =>
      page.evaluate(`Object.defineProperty(document, 'hidden', { configurable: true, get: () => ${hidden} });
        Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => '${hidden ? 'hidden' : 'visible'}' });
        document.dispatchEvent(new Event('visibilitychange'));`);
    const tracking = await signedInPage(browser, c.token);
    await tracking.page.goto(`${p.base}/track/${id}`);
    await tracking.page.locator('body[data-status="placed"]').waitFor(WAIT);
    const courierPage = await signedInPage(browser, rider.token);
    await courierPage.page.goto(`${p.base}/courier`);
    await courierPage.page.locator('body[data-loaded="true"]').waitFor(WAIT);

    await setHidden(tracking.page, true);
    await setHidden(courierPage.page, true);
    await assertStopsAsking(tracking.page, tracking.requested);
    await assertStopsAsking(courierPage.page, courierPage.requested, 1000);
    await assignTo(id, rider.id);
    assert.equal(await tracking.page.locator('body').getAttribute('data-status'), 'placed', 'nothing read while hidden');

    await setHidden(tracking.page, false);
    await tracking.page.locator('body[data-status="ready"]').waitFor(WAIT);
    await setHidden(courierPage.page, false);
    await courierPage.page.locator(`li.card[data-order="${id}"][data-status="ready"]`).waitFor(WAIT);
    assert.deepEqual([...tracking.errors, ...courierPage.errors], []);
    await tracking.page.context().close();
    await courierPage.page.context().close();
  });

  test('a tracking page whose order cannot be read (404, 401) says its status is unknown (before: it stayed on "Loading…" under the error)', async () => {
    const c = await customer(p.t);
    for (const [token, said] of [[c.token, /not found|no order/i], ['x.eyJyb2xlIjoiY3VzdG9tZXIifQ.y', /Sign in again/]] as const) {
      const { page, errors } = await signedInPage(browser, token);
      await page.goto(`${p.base}/track/${randomUUID()}`);
      await page.locator('#message.error', { hasText: said }).waitFor(WAIT);
      assert.equal(await page.locator('#status').innerText(), 'Unknown');
      assert.deepEqual(errors, []);
      await page.context().close();
    }
  });

  test("a reason the customer gave for cancelling is shown on the tracking page, and once the customer is erased the page says it was erased (before: the reason stayed readable for ever, decision 0090)", async () => {
    const { id, customer: c } = await order();
    const reason = 'I moved to 12 Rua X, call me on 555 0100';
    const cancelled = await command(p.t, c.token, id, 'cancel', 1, { reason });
    assert.equal(cancelled.statusCode, 200, cancelled.body);
    const { page, errors } = await signedInPage(browser, r.staff);
    const cancelStep = page.locator('#timeline li[data-type="OrderCancelled"]');
    await page.goto(`${p.base}/track/${id}`);
    await page.locator('body[data-status="cancelled"]').waitFor(WAIT);
    assert.match(await cancelStep.innerText(), /Cancelled — I moved to 12 Rua X, call me on 555 0100$/);
    assert.equal(await page.locator('#poll-note').innerText(), 'The order is cancelled: this page no longer checks for news.');
    const erased = await p.t.request({ method: 'DELETE', url: `/v1/customers/${c.id}?force=true`, token: await p.t.token('admin', { subject: 'ops' }) });
    assert.equal(erased.statusCode, 204, erased.body);
    await page.reload();
    await page.locator('body[data-status="cancelled"]').waitFor(WAIT);
    assert.match(await cancelStep.innerText(), /Cancelled — any reason the customer gave was erased with their data$/);
    assert.doesNotMatch(await page.locator('body').innerText(), /Rua X/);
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  test("a late 401 to an older token does not erase the newer one (before: on /login, token A's late refusal cleared token B and put the page in the refused state)", async () => {
    const a = await customer(p.t);
    const b = await customer(p.t);
    const { page, errors } = await signedInPage(browser, null);
    await page.goto(`${p.base}/login`);
    // A's read is held until B's has been answered, then refused.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let aAsked!: () => void;
    const aSeen = new Promise<void>((resolve) => (aAsked = resolve));
    let aAnswered!: () => void;
    const aDone = new Promise<void>((resolve) => (aAnswered = resolve));
    await page.route('**/v1/customers/me/orders*', async (route) => {
      if (route.request().headers().authorization !== `Bearer ${a.token}`) return route.continue();
      aAsked();
      await held;
      await route.fulfill({ status: 401, contentType: 'application/problem+json', body: JSON.stringify({ code: 'TOKEN_EXPIRED', title: 'Unauthorized', detail: 'The token has expired; ask for a new one' }) });
      aAnswered();
    });
    const input = page.getByLabel('Your access token');
    await input.fill(a.token);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await aSeen;
    await input.fill(b.token);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.locator('#message.ok', { hasText: 'Signed in. You have no orders yet.' }).waitFor(WAIT);
    release();
    await aDone;
    // The refused answer reaches the page: wait for its handler to have run (a round trip of the page's loop).
    await page.waitForTimeout(300);
    assert.equal(await page.evaluate(`window.sessionStorage.getItem('brigade.token')`), b.token, "B is kept: A's refusal is not this tab's");
    assert.equal(await page.evaluate(`import('/web/common.js').then((m) => m.tokenRefused())`), false, 'the page is not in the refused state');
    assert.equal(await page.locator('#message').innerText(), 'Signed in. You have no orders yet.', "A's late answer does not replace B's");
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  test("a poll that starts while the availability toggle's POST is on its way does not show the old state (before: the poll's read, answered before the change, won for up to 5 s)", async () => {
    const rider = await courier(p.t);
    const { page, errors } = await openCourierPage(rider.token);
    await page.locator('#availability-state', { hasText: 'You are offline' }).waitFor(WAIT);
    // The POST is held until a poll's read of availability has been answered (with the old state).
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let posted!: () => void;
    const postSeen = new Promise<void>((resolve) => (posted = resolve));
    await page.route('**/v1/couriers/me/availability', async (route) => {
      if (route.request().method() !== 'POST') return route.continue();
      posted();
      await held;
      await route.continue();
    });
    await page.locator('#availability').click();
    await postSeen;
    await page.waitForResponse((response) => response.url().endsWith('/v1/couriers/me/availability') && response.request().method() === 'GET', WAIT);
    // Let the poll's answer reach the page before the POST's.
    await page.waitForTimeout(200);
    release();
    await page.locator('#message.ok', { hasText: 'You are available' }).waitFor(WAIT);
    // At once, not at the next poll 5 s later.
    await page.locator('#availability-state', { hasText: 'You are available' }).waitFor({ timeout: 1500 });
    assert.equal(await page.locator('#availability').innerText(), 'Stop taking deliveries');
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  test("the toggle's answer keeps the missed pick-up's notice on the availability line (before: it was dropped until the next poll, up to 5 s)", async () => {
    // Found by the review of the new routes (forty-eighth session, finding 5).
    const rider = await availableCourier();
    const { page, errors } = await openCourierPage(rider.token);
    await page.locator('#availability-state', { hasText: 'You are available' }).waitFor(WAIT);
    // The page's polls of availability are held: what the line shows after the press comes from the POST's answer.
    await page.route('**/v1/couriers/me/availability', async (route) => {
      if (route.request().method() === 'POST') return route.continue();
      await new Promise<void>(() => undefined);
    });
    // The pick-up deadline took an order off them since the page last read (recordCourierUnassigned's columns).
    const missed = randomUUID();
    const owner = new pg.Pool({ connectionString: p.t.db.url, max: 1 });
    try {
      await owner.query(`update delivery.courier_availability set status = 'offline', missed_order_id = $2, missed_within = '15 minutes' where courier_id = $1`, [rider.id, missed]);
    } finally {
      await owner.end();
    }
    await page.getByRole('button', { name: 'Stop taking deliveries' }).click();
    await page.locator('#message.ok', { hasText: 'You are offline' }).waitFor(WAIT);
    await page.locator('#availability-state', { hasText: `Order ${missed} was taken off you` }).waitFor(WAIT);
    assert.match(await page.locator('#availability-state').innerText(), /^You are offline\. Order .* press "Start taking deliveries" to take orders again\.$/);
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  test('the courier availability toggle answers with a clear message', async () => {
    // A registered courier, so that the availability route (once it exists) knows their city.
    const admin = await p.t.token('admin', { subject: 'ops' });
    const registered = await p.t.request({ method: 'POST', url: '/v1/couriers', token: admin, payload: { name: 'Rita', city: 'Porto' } });
    assert.equal(registered.statusCode, 201, registered.body);
    const riderToken = await p.t.token('courier', { subject: registered.json().id });
    const { page } = await openCourierPage(riderToken);
    await page.getByRole('button', { name: /taking deliveries/ }).click();
    const routeExists = p.t.platform.app.hasRoute({ method: 'POST', url: '/v1/couriers/me/availability' });
    if (routeExists) {
      await page.locator('#message', { hasText: 'You are available: new deliveries can be assigned to you.' }).waitFor(WAIT);
      // Stop: offline keeps the dispatch away, but staff may still assign them (decisions 0042, 0089);
      // before, the page promised "no new deliveries will be assigned".
      await page.getByRole('button', { name: 'Stop taking deliveries' }).click();
      await page.locator('#message', { hasText: 'You are offline: the dispatch will not offer you deliveries (restaurant staff may still ask you to take one).' }).waitFor(WAIT);
    } else await page.locator('#message.error', { hasText: 'Availability cannot be changed on this platform yet' }).waitFor(WAIT);
    await page.context().close();
  });

  test('the development login registers a new courier and customer, whom the platform then knows', async () => {
    const { page } = await signedInPage(browser, null);
    await page.goto(`${p.base}/dev-login`);
    await page.getByLabel('Role').selectOption('courier');
    await page.getByRole('button', { name: 'Get a token and sign in' }).click();
    await page.locator('#message.error', { hasText: 'A new courier needs a city' }).waitFor(WAIT);
    await page.getByLabel(/^City/).fill('Porto');
    await page.getByRole('button', { name: 'Get a token and sign in' }).click();
    await page.waitForURL(`${p.base}/courier`, WAIT);
    await page.locator('body[data-loaded="true"]').waitFor(WAIT);
    await page.getByRole('button', { name: /taking deliveries/ }).click();
    await page.locator('#message', { hasText: /available|offline/ }).waitFor(WAIT);
    assert.doesNotMatch(await page.locator('#message').innerText(), /not found/);
    const me = (path: string) => page.evaluate(`fetch(${JSON.stringify(path)}, { headers: { authorization: 'Bearer ' + window.sessionStorage.getItem('brigade.token') } }).then((r) => r.status)`);
    assert.equal(await me('/v1/couriers/me'), 200, 'the new courier is registered');

    await page.goto(`${p.base}/dev-login`);
    await page.getByLabel('Role').selectOption('customer');
    await page.getByRole('button', { name: 'Get a token and sign in' }).click();
    await page.locator('#message.ok', { hasText: /Signed in as customer [0-9a-f-]{36}/ }).waitFor(WAIT);
    assert.equal(await me('/v1/customers/me'), 200, 'the new customer is registered');
    await page.context().close();
  });

  test('the development login sends one request per sign-in: its button is disabled while it runs (before: a second click minted again)', async () => {
    const { page, errors } = await signedInPage(browser, null);
    let mints = 0;
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    await page.route('**/dev/tokens', async (route) => {
      mints++;
      await held;
      await route.continue();
    });
    await page.goto(`${p.base}/dev-login`);
    await page.getByLabel('Role').selectOption('staff');
    await page.getByLabel(/Restaurant id/).fill(r.rid);
    const submit = page.getByRole('button', { name: 'Get a token and sign in' });
    await submit.click();
    // The submit handler disables it before its first await: by the time the click returns.
    assert.equal(await submit.isDisabled(), true, 'disabled while the request runs');
    // Enter in a field submits the form again, unless its button is disabled.
    await page.getByLabel(/Restaurant id/).press('Enter');
    release();
    await page.waitForURL(`${p.base}/board/${r.rid}`, WAIT);
    assert.equal(mints, 1);
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  test('the development login shows a network failure in words and can be tried again (before: an unhandled rejection, nothing shown)', async () => {
    const { page, errors } = await signedInPage(browser, null);
    let failOne = true;
    await page.route('**/dev/tokens', (route) => {
      if (!failOne) return route.continue();
      failOne = false;
      return route.abort('connectionrefused');
    });
    await page.goto(`${p.base}/dev-login`);
    await page.getByLabel('Role').selectOption('staff');
    await page.getByLabel(/Restaurant id/).fill(r.rid);
    const submit = page.getByRole('button', { name: 'Get a token and sign in' });
    await submit.click();
    await Promise.race([
      page.locator('#message.error', { hasText: 'could not be reached' }).waitFor(WAIT),
      page.waitForEvent('pageerror', WAIT).then((error) => assert.fail(`the page's script failed instead: ${error.message}`)),
    ]);
    assert.deepEqual(errors, []);
    assert.equal(await submit.isDisabled(), false);
    await submit.click();
    await page.waitForURL(`${p.base}/board/${r.rid}`, WAIT);
    await page.context().close();
  });

  test('sign-in with a next that the URL parser turns into //host stays on the platform (before: /login?next=/.//evil.example/phish landed on http://evil.example/phish)', async () => {
    const { page, requested } = await signedInPage(browser, null);
    // Should the page leave, it gets an answer at once instead of a DNS failure.
    await page.route('http://evil.example/**', (route) => route.fulfill({ status: 200, contentType: 'text/plain', body: 'phished' }));
    await page.goto(`${p.base}/login?next=${encodeURIComponent('/.//evil.example/phish')}`);
    await page.getByLabel('Your access token').fill(r.staff);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL((url) => url.pathname !== '/login', WAIT);
    assert.equal(page.url(), `${p.base}/board/${r.rid}`);

    await page.goto(`${p.base}/dev-login?next=${encodeURIComponent('/board/..//evil.example/phish')}`);
    await page.getByLabel('Role').selectOption('staff');
    await page.getByLabel(/Restaurant id/).fill(r.rid);
    await page.getByRole('button', { name: 'Get a token and sign in' }).click();
    await page.waitForURL((url) => url.pathname !== '/dev-login', WAIT);
    assert.equal(page.url(), `${p.base}/board/${r.rid}`);
    assert.deepEqual(requested.filter((url) => new URL(url).host === 'evil.example'), []);
    await page.context().close();
  });

  test('sign-in: a pasted token opens the board; the development login mints one; a page without a token goes to sign-in', async () => {
    const { page } = await signedInPage(browser, null);
    await page.goto(`${p.base}/board/${r.rid}`);
    await page.waitForURL(`${p.base}/login?next=${encodeURIComponent(`/board/${r.rid}`)}`, WAIT);
    await page.getByLabel('Your access token').fill('not a token');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    assert.match(await page.locator('#message.error').innerText(), /not a Brigade token/);
    assert.equal(await page.getByLabel('Your access token').getAttribute('aria-invalid'), 'true');
    await page.screenshot({ path: path.join(SCREENSHOTS, 'login.png'), fullPage: true });
    await page.getByLabel('Your access token').fill(r.staff);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(`${p.base}/board/${r.rid}`, WAIT);
    await page.locator('#stream-status', { hasText: 'Live' }).waitFor(WAIT);

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/login\?next=/, WAIT);
    await page.goto(`${p.base}/dev-login`);
    await page.getByLabel('Role').selectOption('staff');
    await page.getByLabel(/Restaurant id/).fill(r.rid);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'dev-login.png'), fullPage: true });
    await page.getByRole('button', { name: 'Get a token and sign in' }).click();
    await page.waitForURL(`${p.base}/board/${r.rid}`, WAIT);
    await page.locator('#stream-status', { hasText: 'Live' }).waitFor(WAIT);
    const unlabelled = await page.evaluate(`[...document.querySelectorAll('input, select, textarea')].filter((e) => e.labels.length === 0).length`);
    assert.equal(unlabelled, 0);
    await page.context().close();
  });

  test('a sign-in pressed before the page\'s script has run sends nothing, and the token never goes into a URL (before: the form submitted itself as GET /login?token=<the token>); the development login likewise', async () => {
    const rider = await courier(p.t);
    const { page, requested, errors } = await signedInPage(browser, null);
    // A slow network: the pages' shared module arrives only once released.
    let release!: () => void;
    let released!: Promise<void>;
    const hold = () => (released = new Promise<void>((resolve) => (release = resolve)));
    hold();
    await page.route('**/web/common.js', async (route) => {
      await released;
      await route.continue();
    });
    await page.goto(`${p.base}/login?next=${encodeURIComponent('/courier')}`, { waitUntil: 'commit' });
    const submit = page.locator('#login button[type="submit"]');
    await submit.waitFor({ state: 'attached' });
    await page.evaluate(`document.getElementById('token').value = ${JSON.stringify(rider.token)}`);
    // The reader presses Sign in at once (force: a person's click, whatever the button's state).
    await submit.click({ force: true, noWaitAfter: true });
    await page.waitForTimeout(500);
    assert.equal(page.url(), `${p.base}/login?next=${encodeURIComponent('/courier')}`, 'the page did not submit itself');
    assert.equal(await submit.isDisabled(), true, 'the button is off until the script can sign in');
    assert.equal(await page.evaluate(`document.querySelector('#login [name]')`), null, 'no field of the sign-in form has a name a native submit would send');
    release();
    await page.locator('#login button[type="submit"]:enabled').waitFor(WAIT);
    await submit.click();
    await page.waitForURL(`${p.base}/courier`, WAIT);

    // The development login: the same, with its fields (role, ids) out of the URL.
    hold();
    await page.goto(`${p.base}/dev-login`, { waitUntil: 'commit' });
    const devSubmit = page.locator('#dev-login button[type="submit"]');
    await devSubmit.waitFor({ state: 'attached' });
    await devSubmit.click({ force: true, noWaitAfter: true });
    await page.waitForTimeout(500);
    assert.equal(page.url(), `${p.base}/dev-login`, 'the development login did not submit itself');
    release();
    await page.locator('#dev-login button[type="submit"]:enabled').waitFor(WAIT);
    assert.deepEqual(requested.filter((url) => url.includes(rider.token.slice(0, 40))), [], 'no request carried the token in its URL');
    assert.deepEqual(requested.filter((url) => /\/(?:login|dev-login)\?(?!next=)/.test(url)), [], 'no form was submitted natively');
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  test("a later sign-in takes the previous customer's orders off the page, whatever its answer (before: A's \"Your orders\" stayed under B's refusal, an admin's sign-in, or a non-token)", async () => {
    const a = (await order()).customer;
    // The sign-in lists the customer's order history, a projection: under load it may not hold the order
    // just placed, and the page would say "no orders yet" (found failing in a full run).
    await eventually('the order in the customer\'s history', async () => (await p.t.request({ url: '/v1/customers/me/orders', token: a.token })).json().orders as unknown[], (listed) => listed.length > 0);
    const { page, errors } = await signedInPage(browser, null);
    await page.goto(`${p.base}/login`);
    const input = page.getByLabel('Your access token');
    const signIn = () => page.getByRole('button', { name: 'Sign in', exact: true }).click();
    const orders = page.locator('#orders');
    // After A's sign-in lists A's orders: B's token, expired (refused by the platform); an admin's (no page
    // to go to); a text that is no token.
    const attempts = [
      ['an expired token', await p.t.platform.deps.tokens.sign({ role: 'customer', subject: randomUUID() }, -60), '#message.error', 'expired'],
      ["an admin's token", await p.t.token('admin', { subject: 'ops' }), '#message.ok', 'Signed in as admin.'],
      ['a text that is no token', 'not a token', '#message.error', 'not a Brigade token'],
    ] as const;
    for (const [what, token, shown, said] of attempts) {
      await input.fill(a.token);
      await signIn();
      await page.locator('#order-links a').first().waitFor(WAIT);
      assert.equal(await orders.isVisible(), true);
      await input.fill(token);
      await signIn();
      await page.locator(shown, { hasText: said }).waitFor(WAIT);
      assert.equal(await orders.isHidden(), true, `${what}: the orders are hidden`);
      assert.equal(await page.locator('#order-links li').count(), 0, `${what}: the list is empty`);
      assert.equal(await page.locator('#orders-more').isHidden(), true, `${what}: no "only the latest"`);
    }
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  test("a courier page opened with an unregistered courier's token says so, links to sign-in, and stops asking (before: the 404 every 5 s for ever, \"the page tries again\", the toggle on)", async () => {
    const unregistered = randomUUID();
    const { page, requested, errors } = await signedInPage(browser, await p.t.token('courier', { subject: unregistered }));
    await page.goto(`${p.base}/courier`);
    const link = page.locator('#message.error').getByRole('link', { name: "Sign in with a registered courier's token" });
    // The page's first read answers it (the directory is read directly, no projection in between).
    await link.waitFor({ timeout: 30_000 });
    assert.equal(await link.getAttribute('href'), `/login?next=${encodeURIComponent('/courier')}`);
    const said = await page.locator('#message').innerText();
    assert.match(said, new RegExp(`^Courier ${unregistered} is not registered; ask an admin to register the courier \\(POST /v1/couriers\\), then use a token for that courier\\. Sign in with a registered courier's token\\.$`));
    assert.equal(await page.locator('#availability').isDisabled(), true);
    await assertStopsAsking(page, requested);
    assert.deepEqual(errors, []);
    await page.context().close();
  });
});
