import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page, Route } from 'playwright-core';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { finishOrder } from '../../src/services/delivery/operations/finishOrder.ts';
import { DISPATCH_FAILED_SUBJECT, dispatchAlertsHandler } from '../../src/services/ordering/index.ts';
import { ORDER_VIEWS } from '../../src/services/ordering/views/index.ts';
import { command, courier, customer, placeOrder, seedRestaurant, type SeededRestaurant } from '../services/ordering/support.ts';
import { eventually, FLOW_MS } from '../support/eventually.ts';
import { append, drain, newOrder, placed } from '../services/ordering/views/support.ts';
import { comparePositions } from '../../src/platform/projections/index.ts';
import type { GlobalPosition } from '../../src/platform/events/index.ts';
import { assertStopsAsking, launchChromium, requireChromium, SCREENSHOTS, signedInPage, startBrowserPlatform, waitForExpression, type BrowserPlatform } from './browser.ts';

const chromiumCheck = await requireChromium();
const skip = chromiumCheck.skip;
/**
 * What the pages show comes through the projectors, which read only below the cluster's oldest running
 * transaction: other test files' open transactions can hold them back, so waits get the flows' bound.
 */
const WAIT = { timeout: FLOW_MS };
/** How the pages name an order for people: the last 8 characters of its id. */
const short = (id: string) => id.slice(-8);

describe('web pages in headless Chromium', { skip }, () => {
  let p: BrowserPlatform;
  let browser: Browser;
  let r: SeededRestaurant;

  before(async () => {
    await mkdir(SCREENSHOTS, { recursive: true });
    p = await startBrowserPlatform();
    browser = await launchChromium();
    r = await seedRestaurant(p.t, 'Pages Pizzeria');
  });
  after(async () => {
    await browser?.close();
    await p?.close();
  });

  const order = async () => {
    const c = await customer(p.t);
    const placed = await placeOrder(p.t, c.token, { restaurantId: r.rid, deliveryAddress: 'Rua das Flores 1, Porto', lines: [{ itemId: r.pizza, quantity: 2, modifierIds: [r.large] }, { itemId: r.cola, quantity: 1 }] });
    assert.equal(placed.statusCode, 201, placed.body);
    return { id: placed.json().id as string, customer: c };
  };
  const card = (page: Page, status: string, orderId: string) => page.locator(`section[data-status="${status}"] li.card[data-order="${orderId}"]`);
  const openBoard = async () => {
    const { page, requested, errors } = await signedInPage(browser, r.staff);
    await page.goto(`${p.base}/board/${r.rid}`);
    await page.locator('#stream-status', { hasText: 'Live' }).waitFor(WAIT);
    await page.locator('body[data-loaded="true"]').waitFor(WAIT);
    return { page, requested, errors };
  };
  /** The courier page of the courier of `token`, once its first read is drawn. */
  const openCourierPage = async (token: string) => {
    const opened = await signedInPage(browser, token);
    await opened.page.goto(`${p.base}/courier`);
    await opened.page.locator('body[data-loaded="true"]').waitFor(WAIT);
    return opened;
  };
  /** Every request of the page went to the platform itself. */
  const onlyPlatform = (requested: string[]) => {
    assert.ok(requested.length > 0);
    for (const url of requested) assert.ok(url.startsWith(`${p.base}/`), `the page requested ${url}, outside the platform`);
  };

  test('the board receives a new order live (no reload), and its accept and ready buttons move it', async () => {
    const { page, requested, errors } = await openBoard();
    await page.evaluate('window.__sameDocument = 42');

    const { id } = await order();
    await card(page, 'placed', id).waitFor(WAIT);
    assert.equal(await page.evaluate('window.__sameDocument'), 42, 'the order arrived without a reload');
    assert.match(await page.locator('#updates').innerText(), new RegExp(`New order ${short(id)}: 2 × Margherita, 1 × Cola`));
    assert.match(await card(page, 'placed', id).innerText(), /waiting \d+:\d\d/);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'board.png'), fullPage: true });

    await page.getByRole('button', { name: `Accept order ${short(id)}` }).click();
    await card(page, 'accepted', id).waitFor(WAIT);
    assert.equal(await card(page, 'placed', id).count(), 0);
    await page.locator('#message', { hasText: /accepted/ }).waitFor(WAIT);
    const accepted = await p.t.request({ url: `/v1/orders/${id}`, token: r.staff });
    assert.equal(accepted.json().status, 'accepted');

    // Keyboard only: focus the ready button and press Enter.
    await page.getByRole('button', { name: `Mark order ${short(id)} ready` }).focus();
    await page.keyboard.press('Enter');
    await card(page, 'ready', id).waitFor(WAIT);
    const ready = await p.t.request({ url: `/v1/orders/${id}`, token: r.staff });
    assert.equal(ready.json().status, 'ready');
    assert.equal(ready.json().version, 3);
    assert.equal(await page.evaluate('window.__sameDocument'), 42);
    onlyPlatform(requested);
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  test('a board with more open orders than one page of the API shows every one (before: the API cut it at 500 with no way to the rest)', async () => {
    // 501 orders of a restaurant of their own, appended to its log and projected before the page opens.
    const rid = randomUUID();
    const pool = new pg.Pool({ connectionString: p.t.db.url, max: 8 });
    try {
      const orders = Array.from({ length: 501 }, () => newOrder(rid));
      let head: GlobalPosition = { transactionId: 0n, position: 0n };
      for (let i = 0; i < orders.length; i += 20) {
        for (const at of await Promise.all(orders.slice(i, i + 20).map((o) => append(pool, o, [placed(o)])))) if (comparePositions(at, head) > 0) head = at;
      }
      await drain(pool, ORDER_VIEWS.board, head);
    } finally {
      await pool.end();
    }
    const { page, requested, errors } = await signedInPage(browser, await p.t.token('staff', { restaurantId: rid, subject: randomUUID() }));
    await page.goto(`${p.base}/board/${rid}`);
    await page.locator('body[data-loaded="true"]').waitFor(WAIT);
    assert.equal(await page.locator('section[data-status="placed"] li.card').count(), 501);
    assert.ok(requested.some((url) => url.includes(`/v1/restaurants/${rid}/board?`) && url.includes('&before=')), 'the page followed next');
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  test('a button stays disabled while its command is on its way, through a redraw (before: a new order redrew it enabled, and a second click got a false 412)', async () => {
    const { page, errors } = await openBoard();
    const { id } = await order();
    await card(page, 'placed', id).waitFor(WAIT);
    // The accept takes a while to arrive; a new order redraws the board meanwhile.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let accepts = 0;
    await page.route(`**/v1/orders/${id}/accept`, async (route) => {
      accepts++;
      await held;
      await route.continue();
    });
    const accept = page.getByRole('button', { name: `Accept order ${short(id)}` });
    await accept.click();
    const { id: other } = await order();
    await card(page, 'placed', other).waitFor(WAIT);
    assert.equal(await accept.isDisabled(), true, 'the redraw kept the accept in flight disabled');
    release();
    await card(page, 'accepted', id).waitFor(WAIT);
    await page.locator('#message', { hasText: /accepted/ }).waitFor(WAIT);
    assert.equal(accepts, 1);
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  test('an accept with a stale version shows a clear 412 message, sends nothing, and shows the order as it is', async () => {
    const { page, errors } = await openBoard();
    const { id } = await order();
    await card(page, 'placed', id).waitFor(WAIT);
    assert.equal(await card(page, 'placed', id).getAttribute('data-version'), '1');

    // Force the page to be stale: stop the board projection, then accept the order in the background.
    await p.projector.pause(ORDER_VIEWS.board);
    try {
      const background = await command(p.t, r.staff, id, 'accept', 1, { etaMinutes: 20 });
      assert.equal(background.statusCode, 200, background.body);
      assert.equal(await card(page, 'placed', id).getAttribute('data-version'), '1', 'the board still shows version 1');

      await page.getByRole('button', { name: `Accept order ${short(id)}` }).click();
      const message = page.locator('#message.error');
      await message.waitFor(WAIT);
      const text = await message.innerText();
      assert.match(text, /changed by someone else/);
      assert.match(text, /you saw version 1; it is now version 2/);
      assert.equal(await message.getAttribute('role'), 'alert');
      await card(page, 'accepted', id).waitFor(WAIT);
      await page.screenshot({ path: path.join(SCREENSHOTS, 'board-412.png'), fullPage: true });
    } finally {
      p.projector.resume(ORDER_VIEWS.board);
    }
    const events = await p.t.request({ url: `/v1/orders/${id}/events`, token: r.staff });
    assert.deepEqual(events.json().events.map((e: { type: string }) => e.type), ['OrderPlaced', 'OrderAccepted'], 'the stale accept appended nothing');
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  test('a dispatch alert (no courier found) appears live on the card and in the alerts list, and leaves once a courier is assigned', async () => {
    const { page, errors } = await openBoard();
    const { id } = await order();
    await card(page, 'placed', id).waitFor(WAIT);
    await page.getByRole('button', { name: `Accept order ${short(id)}` }).click();
    await card(page, 'accepted', id).waitFor(WAIT);
    assert.equal(await page.locator('#alerts').isHidden(), true, 'no alerts, no alerts list');

    // Delivery's DispatchFailed, as the ordering consumer receives it from the broker.
    await dispatchAlertsHandler(p.t.platform.deps)({
      id: randomUUID(),
      subject: DISPATCH_FAILED_SUBJECT,
      key: id,
      headers: { tenant: r.rid } as never,
      payload: { alertId: randomUUID(), orderId: id, restaurantId: r.rid, city: 'Porto', attempts: 8, reason: 'no courier available in Porto after 8 attempts', failedAt: new Date().toISOString() },
      attempt: 1,
    });
    const onCard = card(page, 'accepted', id).locator('.dispatch-alert');
    await onCard.waitFor(WAIT);
    // What the board can do: assign a courier with the card's picker (decision 0089; before, the advice
    // sent staff to the API with an id they could not look up), or cancel.
    const advice = "Choose a courier of the restaurant's city in the picker on its card and press Assign (a busy courier takes it after their current order), or cancel it with the Cancel button.";
    const text = await onCard.innerText();
    assert.match(text, /^Dispatch alert: No courier found after 8 attempts \(since [^)]+\): no courier available in Porto after 8 attempts\. /);
    assert.equal(text.slice(text.indexOf('attempts. ') + 'attempts. '.length), advice);
    assert.equal(await card(page, 'accepted', id).getByRole('button', { name: `Cancel order ${short(id)}` }).count(), 1, 'the card has the Cancel button the alert names');
    const list = page.locator('#alerts');
    assert.equal(await list.isVisible(), true);
    assert.match(await list.innerText(), new RegExp(`Orders without a courier \\(1\\)[\\s\\S]*Order ${short(id)}: No courier found after 8 attempts`));
    assert.match(await page.locator('#updates').innerText(), new RegExp(`Order ${short(id)}: no courier found`));
    assert.equal(await card(page, 'accepted', id).getByRole('group', { name: `Assign a courier to order ${short(id)}` }).count(), 1, 'the card has the courier picker the alert names');

    const k = await courier(p.t);
    const version = (await p.t.request({ url: `/v1/orders/${id}`, token: r.staff })).json().version as number;
    assert.equal((await command(p.t, r.staff, id, 'assign-courier', version, { courierId: k.id })).statusCode, 200);
    await onCard.waitFor({ ...WAIT, state: 'detached' });
    await list.waitFor({ ...WAIT, state: 'hidden' });
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  test('staff pick a courier in the picker of a dispatch alert and assign them; a stale version is a 412 that sends nothing, and the card then shows the courier (before: no picker, the alert sent staff to the API)', async () => {
    const { page, requested, errors } = await openBoard();
    const { id } = await order();
    await card(page, 'placed', id).waitFor(WAIT);
    await page.getByRole('button', { name: `Accept order ${short(id)}` }).click();
    await card(page, 'accepted', id).waitFor(WAIT);
    // No alert, not ready: no picker.
    assert.equal(await card(page, 'accepted', id).locator('.picker').count(), 0);

    // A courier of the restaurant's city (registered in another case of its name), available.
    const admin = await p.t.token('admin', { subject: 'ops' });
    const made = await p.t.request({ method: 'POST', url: '/v1/couriers', token: admin, payload: { name: 'Marta Picker', city: 'porto' } });
    assert.equal(made.statusCode, 201, made.body);
    const courierId = made.json().id as string;
    const on = await p.t.request({ method: 'POST', url: '/v1/couriers/me/availability', token: await p.t.token('courier', { subject: courierId }), payload: { available: true } });
    assert.equal(on.statusCode, 200, on.body);

    await dispatchAlertsHandler(p.t.platform.deps)({
      id: randomUUID(),
      subject: DISPATCH_FAILED_SUBJECT,
      key: id,
      headers: { tenant: r.rid } as never,
      payload: { alertId: randomUUID(), orderId: id, restaurantId: r.rid, city: 'Porto', attempts: 8, reason: 'no courier available in Porto after 8 attempts', failedAt: new Date().toISOString() },
      attempt: 1,
    });
    const alerted = card(page, 'accepted', id);
    await alerted.locator('.dispatch-alert').waitFor(WAIT);
    const select = alerted.getByRole('combobox', { name: `Courier for order ${short(id)}` });
    await select.locator(`option[value="${courierId}"]`).waitFor({ ...WAIT, state: 'attached' });
    assert.match(await select.locator(`option[value="${courierId}"]`).innerText(), /^Marta Picker — available since /);
    assert.ok(requested.some((url) => url === `${p.base}/v1/restaurants/${r.rid}/couriers`), 'the board read the couriers staff may assign');

    // Assign with no courier chosen: said, nothing sent.
    const assigns: Array<{ ifMatch?: string; body: unknown }> = [];
    await page.route(`**/v1/orders/${id}/assign-courier`, async (route) => {
      assigns.push({ ifMatch: route.request().headers()['if-match'], body: route.request().postDataJSON() });
      await route.continue();
    });
    await alerted.getByRole('button', { name: `Assign the chosen courier to order ${short(id)}` }).click();
    await page.locator('#message.error', { hasText: `Order ${short(id)}: choose a courier in its list first.` }).waitFor(WAIT);
    assert.equal(assigns.length, 0);
    await select.selectOption(courierId);
    await page.locator('#message').waitFor({ ...WAIT, state: 'hidden' });
    await page.screenshot({ path: path.join(SCREENSHOTS, 'board-alert.png'), fullPage: true });

    // Stale: the order was marked ready meanwhile, which the paused board has not seen (it shows version 3).
    await p.projector.pause(ORDER_VIEWS.board);
    try {
      const ready = await command(p.t, r.staff, id, 'ready', 3);
      assert.equal(ready.statusCode, 200, ready.body);
      await alerted.getByRole('button', { name: `Assign the chosen courier to order ${short(id)}` }).click();
      const stale = page.locator('#message.error', { hasText: 'you saw version 3; it is now version 4' });
      await stale.waitFor(WAIT);
      assert.match(await stale.innerText(), /changed by someone else .* Nothing was sent\./);
      assert.deepEqual(assigns, [{ ifMatch: '"3"', body: { courierId } }]);
      // The board re-read the order: ready now, still without a courier, its picker keeping the choice.
      const readyCard = card(page, 'ready', id);
      await readyCard.waitFor(WAIT);
      const again = readyCard.getByRole('combobox', { name: `Courier for order ${short(id)}` });
      assert.equal(await again.inputValue(), courierId, 'the choice is kept through the redraw');
      await readyCard.getByRole('button', { name: `Assign the chosen courier to order ${short(id)}` }).click();
      await page.locator('#message.ok', { hasText: `Order ${short(id)}: Marta Picker assigned.` }).waitFor(WAIT);
      assert.deepEqual(assigns[1], { ifMatch: '"4"', body: { courierId } });
      // The card shows its courier, and neither alert nor picker.
      assert.equal(await readyCard.locator('.courier').innerText(), 'Courier: Marta Picker');
      assert.equal(await readyCard.locator('.picker').count(), 0);
      assert.equal(await readyCard.locator('.dispatch-alert').count(), 0);
      await page.locator('#alerts').waitFor({ ...WAIT, state: 'hidden' });
    } finally {
      p.projector.resume(ORDER_VIEWS.board);
    }
    // The view catches up (version 5) and the card stays as it is.
    await page.locator(`section[data-status="ready"] li.card[data-order="${id}"][data-version="5"] .courier`, { hasText: 'Courier: Marta Picker' }).waitFor(WAIT);
    const events = await p.t.request({ url: `/v1/orders/${id}/events`, token: r.staff });
    assert.deepEqual(events.json().events.map((e: { type: string }) => e.type), ['OrderPlaced', 'OrderAccepted', 'DispatchAlertRaised', 'OrderReady', 'CourierAssigned'], 'the stale assign appended nothing');
    const courierOf = (await p.t.request({ url: `/v1/orders/${id}`, token: r.staff })).json().courierId;
    assert.equal(courierOf, courierId);
    onlyPlatform(requested);
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  test('staff cancel an order from its card, after confirming; the button is disabled while the cancel is on its way (before: the board had no cancel)', async () => {
    const { page, errors } = await openBoard();
    const { id } = await order();
    await card(page, 'placed', id).waitFor(WAIT);
    const cancel = page.getByRole('button', { name: `Cancel order ${short(id)}` });
    assert.equal(await cancel.count(), 1, 'the card has a Cancel button');
    const cancels: Array<{ ifMatch?: string; body: unknown }> = [];
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let sent!: () => void;
    const cancelSeen = new Promise<void>((resolve) => (sent = resolve));
    await page.route(`**/v1/orders/${id}/cancel`, async (route) => {
      cancels.push({ ifMatch: route.request().headers()['if-match'], body: route.request().postDataJSON() });
      sent();
      await held;
      await route.continue();
    });
    // Dismissed: nothing is sent.
    const dialogs: string[] = [];
    page.once('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    await cancel.click();
    assert.equal(dialogs.length, 1);
    assert.match(dialogs[0]!, new RegExp(`Cancel order ${short(id)}\\?`));
    assert.equal(cancels.length, 0, 'a dismissed confirmation sends nothing');
    assert.equal(await cancel.isDisabled(), false);
    // Confirmed: sent once with the version shown; disabled until it answers.
    page.once('dialog', (dialog) => void dialog.accept());
    await cancel.click();
    await page.locator(`button[data-order="${id}"][data-action="cancel"]:disabled`).waitFor(WAIT);
    // The button is disabled before the request reaches the route: wait for the request itself.
    await cancelSeen;
    assert.equal(cancels.length, 1);
    assert.deepEqual(cancels[0], { ifMatch: '"1"', body: { reason: 'Cancelled by the restaurant' } });
    release();
    await card(page, 'placed', id).waitFor({ ...WAIT, state: 'detached' });
    await page.locator('#message.ok', { hasText: `Order ${short(id)}: cancelled.` }).waitFor(WAIT);
    const events = await p.t.request({ url: `/v1/orders/${id}/events`, token: r.staff });
    assert.deepEqual(events.json().events.map((e: { type: string }) => e.type), ['OrderPlaced', 'OrderCancelled']);
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  test('the courier picks up and delivers from the courier page, and the tracking page reaches delivered', async () => {
    const { id, customer: c } = await order();
    const rider = await courier(p.t);
    const tracking = await signedInPage(browser, c.token);
    await tracking.page.goto(`${p.base}/track/${id}`);
    await tracking.page.locator('body[data-status="placed"]').waitFor(WAIT);

    let version = 1;
    for (const [name, body] of [['accept', { etaMinutes: 15 }], ['ready', undefined], ['assign-courier', { courierId: rider.id }]] as const) {
      const res = await command(p.t, r.staff, id, name, version, body);
      assert.equal(res.statusCode, 200, res.body);
      version = res.json().version;
    }

    const courierPage = await signedInPage(browser, rider.token);
    await courierPage.page.goto(`${p.base}/courier`);
    const task = courierPage.page.locator(`li.card[data-order="${id}"]`);
    await courierPage.page.locator(`li.card[data-order="${id}"][data-status="ready"]`).waitFor(WAIT);
    assert.match(await task.innerText(), /Rua das Flores 1, Porto/);
    await courierPage.page.screenshot({ path: path.join(SCREENSHOTS, 'courier.png'), fullPage: true });
    await courierPage.page.getByRole('button', { name: `Picked up order ${short(id)}` }).click();
    await courierPage.page.locator(`li.card[data-order="${id}"][data-status="picked_up"]`).waitFor(WAIT);
    await courierPage.page.getByRole('button', { name: `Delivered order ${short(id)}` }).click();
    await courierPage.page.locator('#message.ok', { hasText: 'delivered' }).waitFor(WAIT);
    await task.waitFor({ state: 'detached', ...WAIT });

    await tracking.page.locator('body[data-status="delivered"]').waitFor(WAIT);
    assert.equal(await tracking.page.locator('#status').innerText(), 'Delivered');
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
    let version = 1;
    for (const [name, body] of [['accept', { etaMinutes: 15 }], ['ready', undefined], ['assign-courier', { courierId: rider.id }]] as const) {
      const res = await command(p.t, r.staff, id, name, version, body);
      assert.equal(res.statusCode, 200, res.body);
      version = res.json().version;
    }
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

  /** A token of `role` that the platform refuses after `seconds` (401 TOKEN_EXPIRED). */
  /**
   * A short-lived token's lifetime: long enough for the page to load and draw its first read on a
   * loaded CI machine before it expires (5–6 s was not: the first read was refused and nothing drawn).
   */
  const TOKEN_LIFETIME_S = 15;
  const shortLived = (role: 'staff' | 'courier', seconds: number, options: { subject: string; restaurantId?: string }) => p.t.platform.deps.tokens.sign({ role, ...options }, seconds);
  /** Accepts, readies (unless `stop` is 'accepted') and assigns an order to courier `courierId`, through the API. */
  const assignTo = async (id: string, courierId: string, stop: 'accepted' | 'ready' = 'ready') => {
    let version = 1;
    const steps = stop === 'ready' ? (['accept', 'ready', 'assign-courier'] as const) : (['accept', 'assign-courier'] as const);
    for (const name of steps) {
      const res = await command(p.t, r.staff, id, name, version, name === 'accept' ? { etaMinutes: 15 } : name === 'assign-courier' ? { courierId } : undefined);
      assert.equal(res.statusCode, 200, res.body);
      version = res.json().version;
    }
    return version;
  };
  /** A courier of Porto, available for deliveries. */
  const availableCourier = async () => {
    const k = await courier(p.t);
    const on = await p.t.request({ method: 'POST', url: '/v1/couriers/me/availability', token: k.token, payload: { available: true } });
    assert.equal(on.statusCode, 200, on.body);
    return k;
  };

  test('a board whose token expires offers a way to sign in again, marks its cards as no longer current and disables their buttons and picker (before: "Not connected", live-looking cards with enabled buttons, no way forward)', async () => {
    await availableCourier();
    const { id: newOne } = await order();
    const { id: ready } = await order();
    for (const [name, version] of [['accept', 1], ['ready', 2]] as const) assert.equal((await command(p.t, r.staff, ready, name, version, name === 'accept' ? { etaMinutes: 10 } : undefined)).statusCode, 200);
    const { page, errors } = await signedInPage(browser, await shortLived('staff', TOKEN_LIFETIME_S, { subject: randomUUID(), restaurantId: r.rid }));
    await page.goto(`${p.base}/board/${r.rid}`);
    await card(page, 'placed', newOne).waitFor(WAIT);
    await card(page, 'ready', ready).getByRole('combobox', { name: `Courier for order ${short(ready)}` }).waitFor(WAIT);
    // The platform ends the stream when the token expires; the reconnect is refused (401 TOKEN_EXPIRED).
    const signIn = page.locator('#message.error').getByRole('link', { name: 'Sign in again' });
    await signIn.waitFor(WAIT);
    assert.equal(await signIn.getAttribute('href'), `/login?next=${encodeURIComponent(`/board/${r.rid}`)}`);
    assert.match(await page.locator('#message').innerText(), /^The token has expired; ask for a new one\. Sign in again to go on\. The orders below are no longer kept current, and their buttons are off\.$/);
    assert.equal(await page.evaluate(`window.sessionStorage.getItem('brigade.token')`), null, 'the refused token is forgotten');
    assert.equal(await page.locator('#stream-status').innerText(), 'Signed out');
    for (const id of [newOne, ready]) {
      const c = page.locator(`li.card[data-order="${id}"]`);
      assert.match(await c.getAttribute('class') ?? '', /\bstale\b/);
      assert.match(await c.innerText(), /No longer current: sign in again to see this order as it is\./);
      assert.equal(await c.locator('button:enabled, select:enabled').count(), 0, 'no button or picker of a card is enabled');
    }
    assert.equal(await card(page, 'placed', newOne).getByRole('button', { name: `Accept order ${short(newOne)}` }).isDisabled(), true);
    assert.equal(await card(page, 'ready', ready).getByRole('combobox', { name: `Courier for order ${short(ready)}` }).isDisabled(), true);
    await signIn.click();
    await page.waitForURL(`${p.base}/login?next=${encodeURIComponent(`/board/${r.rid}`)}`, WAIT);
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  test("a command refused with 401 is handled as the stream's 401: the sign-in link in a sentence, the stream stopped, the cards disabled (before: \"Order …: The token has expired; ask for a new one Sign in again.\")", async () => {
    const { page, requested, errors } = await openBoard();
    const { id } = await order();
    await card(page, 'placed', id).waitFor(WAIT);
    await page.route(`**/v1/orders/${id}/accept`, (route) =>
      route.fulfill({ status: 401, contentType: 'application/problem+json', body: JSON.stringify({ status: 401, code: 'TOKEN_EXPIRED', detail: 'The token has expired; ask for a new one' }) }));
    await page.getByRole('button', { name: `Accept order ${short(id)}` }).click();
    const signIn = page.locator('#message.error').getByRole('link', { name: 'Sign in again' });
    await signIn.waitFor(WAIT);
    const text = await page.locator('#message').innerText();
    assert.doesNotMatch(text, /one Sign in/, 'proper sentences');
    assert.match(text, /^The token has expired; ask for a new one\. Sign in again to go on\./);
    assert.equal(await page.locator('#stream-status').innerText(), 'Signed out');
    assert.equal(await card(page, 'placed', id).locator('button:enabled').count(), 0);
    // Keyboard users are not left on a disabled button: focus is on the way forward.
    assert.equal(await page.evaluate(`document.activeElement?.textContent`), 'Sign in again');
    // The stream is stopped: a new order does not arrive, and nothing more is asked of the API.
    const asked = requested.length;
    await order();
    await new Promise((resolve) => setTimeout(resolve, 2500));
    assert.deepEqual(requested.slice(asked).filter((url) => url.includes('/v1/')), []);
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
    assert.match(await taskCard.locator('p.meta').first().innerText(), /Deliver to: address erased at the customer's request: ask the restaurant/);
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

  test('after Accept or Ready by keyboard, focus goes with the card to its next action (before: the card moved columns and focus fell to the page)', async () => {
    await availableCourier();
    const { page, errors } = await openBoard();
    const { id } = await order();
    await card(page, 'placed', id).waitFor(WAIT);
    const focused = () => page.evaluate(`(() => { const e = document.activeElement; const c = e?.closest('li.card'); return c ? { order: c.dataset.order, column: c.closest('section')?.dataset.status, action: e.dataset.action ?? null } : null; })()`);
    await page.getByRole('button', { name: `Accept order ${short(id)}` }).focus();
    await page.keyboard.press('Enter');
    await card(page, 'accepted', id).waitFor(WAIT);
    await waitForExpression(page, `document.activeElement?.dataset.action === 'ready' && document.activeElement.dataset.order === ${JSON.stringify(id)}`, WAIT.timeout);
    assert.deepEqual(await focused(), { order: id, column: 'accepted', action: 'ready' }, 'focus is on the moved card\'s Ready');

    await page.keyboard.press('Enter');
    await card(page, 'ready', id).getByRole('combobox', { name: `Courier for order ${short(id)}` }).waitFor(WAIT);
    await waitForExpression(page, `document.activeElement?.dataset.action === 'courier'`, WAIT.timeout);
    assert.deepEqual(await focused(), { order: id, column: 'ready', action: 'courier' }, "focus is on the moved card's courier picker");
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  /** A 503 as the platform answers one, for a read the test fails on purpose. */
  const unavailable = { status: 503, contentType: 'application/problem+json', body: JSON.stringify({ status: 503, code: 'DATABASE_UNAVAILABLE', detail: 'The database is not answering; try again shortly.' }) };

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

  test("a failed read of the board shows its error until the board is read again (the stream's next start), which takes it down", async () => {
    const { page, errors } = await signedInPage(browser, r.staff);
    // The first stream says where to read from and ends at once (the page reconnects after its retry);
    // the read it starts fails. The next stream and read are the platform's own.
    // The next stream waits until the error has been seen: under load it came 200 ms later and took the
    // error down before the test looked (a loaded CI run never saw it).
    let firstStream = true;
    let seen = () => {};
    const errorSeen = new Promise<void>((resolve) => (seen = resolve));
    await page.route(`**/v1/restaurants/${r.rid}/board/stream`, async (route) => {
      if (!firstStream) return errorSeen.then(() => route.continue());
      firstStream = false;
      return route.fulfill({ status: 200, contentType: 'text/event-stream', body: 'retry: 200\nevent: start\ndata: {"position":"0.0"}\n\n' });
    });
    let firstRead = true;
    await page.route((url) => url.pathname === `/v1/restaurants/${r.rid}/board`, (route) => {
      if (!firstRead) return route.continue();
      firstRead = false;
      return route.fulfill(unavailable);
    });
    await page.goto(`${p.base}/board/${r.rid}`);
    await page.locator('#message.error', { hasText: 'The database is not answering' }).waitFor(WAIT);
    seen();
    await page.locator('body[data-loaded="true"]').waitFor(WAIT);
    assert.equal(await page.locator('#message').innerText(), '');
    assert.equal(await page.locator('#message.error').count(), 0);
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  test('a failed board read is tried again while the stream stays up, and the board says it is not up to date until one works (before: empty, "Live", no retry)', async () => {
    const { id } = await order();
    const { page, errors } = await signedInPage(browser, r.staff);
    let reads = 0;
    await page.route((url) => url.pathname === `/v1/restaurants/${r.rid}/board`, (route) => (++reads === 1 ? route.fulfill(unavailable) : route.continue()));
    await page.goto(`${p.base}/board/${r.rid}`);
    await page.locator('#message.error', { hasText: 'The database is not answering' }).waitFor(WAIT);
    assert.match(await page.locator('#message').innerText(), /tries again in \d+ s/);
    assert.match(await page.locator('#stream-status').innerText(), /Not up to date/, 'the stream is up, the board is not');
    // The order open before the page opened comes with the read tried again; only then is the board live.
    await card(page, 'placed', id).waitFor(WAIT);
    await page.locator('#stream-status', { hasText: 'Live' }).waitFor(WAIT);
    assert.equal(await page.locator('#message.error').count(), 0);
    assert.ok(reads >= 2);
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  test("a board read refused with a Retry-After longer than the page's own back-off waits the server's time (before: capped at 30 s)", async () => {
    const { page, errors } = await signedInPage(browser, r.staff);
    await page.route((url) => url.pathname === `/v1/restaurants/${r.rid}/board`, (route) => route.fulfill({ ...unavailable, headers: { 'retry-after': '45' } }));
    await page.goto(`${p.base}/board/${r.rid}`);
    await page.locator('#message.error', { hasText: 'tries again in 45 s' }).waitFor(WAIT);
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  /**
   * A board whose stream must start afresh. With an order on the board view, the page's first stream
   * starts at `firstId(position of the order)` and ends; the second, resumed from that id, is held while
   * the order is cancelled behind the page's back (as a change in the old database during a move), then
   * answered by `resumed`; every later stream reaches the platform. Checks that the page read the board
   * anew and went live again without the finished order, and returns the Last-Event-IDs it sent.
   */
  const startAfresh = async (firstId: (position: string) => string, resumed: (route: Route) => Promise<void>, reason: string) => {
    const { id } = await order();
    const first = firstId((await p.t.request({ url: `/v1/orders/${id}`, token: r.staff })).json().position as string);
    /** Whether the board view holds the order open (the projector may lag behind a loaded cluster). */
    const onBoard = async () => ((await p.t.request({ url: `/v1/restaurants/${r.rid}/board`, token: r.staff })).json().orders as Array<{ orderId: string }>).some((o) => o.orderId === id);
    await eventually('the order on the board view', onBoard, (open) => open);
    const { page, errors } = await signedInPage(browser, r.staff);
    const lastEventIds: Array<string | undefined> = [];
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    await page.route(`**/v1/restaurants/${r.rid}/board/stream`, async (route) => {
      lastEventIds.push(route.request().headers()['last-event-id']);
      if (lastEventIds.length === 1) return route.fulfill({ status: 200, contentType: 'text/event-stream', body: `retry: 100\nid: ${first}\nevent: start\ndata: ${JSON.stringify({ position: first })}\n\n` });
      if (lastEventIds.length > 2) return route.continue();
      await released;
      return resumed(route);
    });
    await page.goto(`${p.base}/board/${r.rid}`);
    await card(page, 'placed', id).waitFor(WAIT);
    const cancelled = await command(p.t, r.staff, id, 'cancel', 1, { reason });
    assert.equal(cancelled.statusCode, 200, cancelled.body);
    await eventually('the cancelled order off the board view', onBoard, (open) => !open);
    const freshRead = page.waitForResponse((response) => new URL(response.url()).pathname === `/v1/restaurants/${r.rid}/board` && lastEventIds.length >= 3, WAIT);
    release();
    await freshRead;
    await page.locator('#stream-status', { hasText: 'Live' }).waitFor(WAIT);
    assert.equal(await card(page, 'placed', id).count(), 0, 'the fresh read replaced the board');
    assert.deepEqual(errors, []);
    await page.context().close();
    return { first, lastEventIds };
  };

  test('a stream that starts afresh (the restaurant moved: its event id cleared) reads the board anew, and an order finished meanwhile leaves (before: it stayed)', async () => {
    // The held stream ends as the platform ends one after a move: an `id` without a value.
    const moved = (route: Route) => route.fulfill({ status: 200, contentType: 'text/event-stream', body: ': the restaurant moved to another database: reconnect\nid\n\n' });
    const { first, lastEventIds } = await startAfresh((position) => position, moved, 'moved away');
    assert.deepEqual(lastEventIds, [undefined, first, undefined], 'the stream after the move starts afresh, without an empty Last-Event-ID');
  });

  test('a stream resumed with an id past the board\'s checkpoint (from a history the database lost: a failover, a restore) starts afresh and reads the board anew, and an order finished meanwhile leaves (before: the stream stayed silent under "Live" and the order stayed)', async () => {
    // An id the platform's database never reached (as one sent before a failover to a standby that lost
    // it); the held stream resumed from it goes to the platform itself, which clears it.
    const lost = (position: string) => `${BigInt(position.split('.')[0]!) + 1_000_000_000n}.1`;
    const { first, lastEventIds } = await startAfresh(lost, (route) => route.continue(), 'lost in a failover');
    assert.deepEqual(lastEventIds, [undefined, first, undefined], 'the platform cleared the unknown id: the page started afresh');
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
    await page.getByRole('button', { name: 'Sign in' }).click();
    await aSeen;
    await input.fill(b.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
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

  test("the board does not read the couriers again and again for a card's courier the list does not name (before: every 15 s for ever)", async () => {
    const own = await seedRestaurant(p.t, 'Unnamed Courier Grill');
    const k = await availableCourier();
    const c = await customer(p.t);
    const place = async () => {
      const placedOrder = await placeOrder(p.t, c.token, { restaurantId: own.rid, deliveryAddress: 'Rua das Flores 2, Porto', lines: [{ itemId: own.pizza, quantity: 1, modifierIds: [own.large] }] });
      assert.equal(placedOrder.statusCode, 201, placedOrder.body);
      return placedOrder.json().id as string;
    };
    const id = await place();
    let version = 1;
    for (const name of ['accept', 'ready', 'assign-courier'] as const) {
      const res = await command(p.t, own.staff, id, name, version, name === 'accept' ? { etaMinutes: 15 } : name === 'assign-courier' ? { courierId: k.id } : undefined);
      assert.equal(res.statusCode, 200, res.body);
      version = res.json().version;
    }
    const { page, errors } = await signedInPage(browser, own.staff);
    // The list does not name the assigned courier (as one the directory has no name for, or past the listed ones).
    let reads = 0;
    await page.route(`**/v1/restaurants/${own.rid}/couriers`, async (route) => {
      reads += 1;
      const response = await route.fetch();
      const body = await response.json();
      await route.fulfill({ response, json: { ...body, couriers: body.couriers.filter((x: { courierId: string }) => x.courierId !== k.id) } });
    });
    await page.goto(`${p.base}/board/${own.rid}`);
    await page.locator('#stream-status', { hasText: 'Live' }).waitFor(WAIT);
    await page.locator(`section[data-status="ready"] li.card[data-order="${id}"] .courier`, { hasText: `Courier: Courier …${short(k.id)}` }).waitFor(WAIT);
    await eventually('the first read of the couriers', async () => reads, (n) => n >= 1);
    assert.equal(reads, 1);
    // Past the list's 15 s, a redraw (a new order, from the stream) and the 15 s timer would read it again.
    await page.waitForTimeout(16_000);
    const other = await place();
    await card(page, 'placed', other).waitFor(WAIT);
    await page.waitForTimeout(4_000);
    assert.equal(reads, 1, 'the couriers were read once');
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
    if (routeExists) await page.locator('#message', { hasText: /available|offline/ }).waitFor(WAIT);
    else await page.locator('#message.error', { hasText: 'Availability cannot be changed on this platform yet' }).waitFor(WAIT);
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
    await page.getByRole('button', { name: 'Sign in' }).click();
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
    await page.getByRole('button', { name: 'Sign in' }).click();
    assert.match(await page.locator('#message.error').innerText(), /not a Brigade token/);
    assert.equal(await page.getByLabel('Your access token').getAttribute('aria-invalid'), 'true');
    await page.screenshot({ path: path.join(SCREENSHOTS, 'login.png'), fullPage: true });
    await page.getByLabel('Your access token').fill(r.staff);
    await page.getByRole('button', { name: 'Sign in' }).click();
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
    const { page, errors } = await signedInPage(browser, null);
    await page.goto(`${p.base}/login`);
    const input = page.getByLabel('Your access token');
    const signIn = () => page.getByRole('button', { name: 'Sign in' }).click();
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

  test('a courier picker is kept as it is when a read of the couriers brings the same list: an open choice and focus stay (before: every read drew it anew, which closed it and moved focus); a changed list is drawn', async () => {
    await availableCourier();
    const ready = async () => {
      const { id } = await order();
      for (const [name, version] of [['accept', 1], ['ready', 2]] as const) assert.equal((await command(p.t, r.staff, id, name, version, name === 'accept' ? { etaMinutes: 10 } : undefined)).statusCode, 200);
      return id;
    };
    const first = await ready();
    const { page, errors } = await openBoard();
    const select = `select[data-order="${first}"]`;
    await page.locator(`${select} option:not([value=""])`).first().waitFor({ ...WAIT, state: 'attached' });
    await page.focus(select);
    await page.keyboard.press('ArrowDown');
    const chosen = await page.locator(select).inputValue();
    assert.notEqual(chosen, '', 'a courier is chosen by keyboard');
    await page.evaluate(`{ document.querySelector('${select}').marked = true; window.focusins = 0; document.addEventListener('focusin', () => window.focusins++); }`);
    const couriersRead = () => page.waitForResponse((response) => new URL(response.url()).pathname === `/v1/restaurants/${r.rid}/couriers`, WAIT);
    // Another order becomes ready without a courier: its picker reads the list again (the same list).
    let read = couriersRead();
    const second = await ready();
    await card(page, 'ready', second).locator('.picker').waitFor(WAIT);
    await read;
    await page.waitForTimeout(300);
    assert.deepEqual(await page.evaluate(`(() => { const s = document.querySelector('${select}'); return { same: s.marked === true, focused: document.activeElement === s, value: s.value, focusins: window.focusins }; })()`),
      { same: true, focused: true, value: chosen, focusins: 0 }, 'the picker was left as it was');
    // A courier more: the next read draws the pickers with them, and keeps the choice and focus.
    const k = await availableCourier();
    read = couriersRead();
    await ready();
    await read;
    await page.locator(`${select} option[value="${k.id}"]`).waitFor({ ...WAIT, state: 'attached' });
    assert.equal(await page.locator(select).inputValue(), chosen);
    assert.equal(await page.evaluate(`document.activeElement?.matches('${select}') ?? false`), true);
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  test('an order past its ETA says so in words on its card, with a mark that is not colour alone, and is announced once (before: only its timer turned red)', async () => {
    const { id } = await order();
    assert.equal((await command(p.t, r.staff, id, 'accept', 1, { etaMinutes: 1 })).statusCode, 200);
    const { page, errors } = await openBoard();
    const accepted = card(page, 'accepted', id);
    await accepted.waitFor(WAIT);
    assert.doesNotMatch(await accepted.innerText(), /late by/);
    // Two minutes on: the page's clock says so (its timers keep running).
    await page.clock.setFixedTime(Date.now() + 120_000);
    // The page's own tick (every second) sees it: no projection in between.
    await page.locator('#updates', { hasText: `Order ${short(id)} is past its ETA.` }).waitFor({ timeout: 10_000 });
    assert.match(await accepted.locator('.meta').innerText(), /preparing \d+:\d\d · ETA 1 min · late by \d+:\d\d$/);
    assert.match(await accepted.ariaSnapshot(), /late by \d+:\d\d/, 'in the accessibility tree');
    assert.match(await accepted.getAttribute('class') ?? '', /\blate\b/);
    assert.equal(await page.evaluate(`getComputedStyle(document.querySelector('li.card[data-order="${id}"]')).borderLeftWidth`), '6px', 'a wide border beside the words');
    // Once: the ticks after it announce nothing more.
    await page.evaluate(`{ window.updates = 0; new MutationObserver(() => window.updates++).observe(document.getElementById('updates'), { childList: true, characterData: true, subtree: true }); }`);
    await page.waitForTimeout(2500);
    assert.equal(await page.evaluate('window.updates'), 0, 'announced once');
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
