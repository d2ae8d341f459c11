import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { command, courier, customer, placeOrder, seedRestaurant, type SeededRestaurant } from '../services/ordering/support.ts';
import { FLOW_MS } from '../support/eventually.ts';
import { launchChromium, requireChromium, startBrowserPlatform, type BrowserPlatform } from './browser.ts';

const { skip } = await requireChromium();
const WAIT = { timeout: FLOW_MS };

/**
 * Signing out, then pressing Back, with the browser's back-forward cache on (as in a browser people
 * use; Playwright turns it off). A page kept in that cache comes back as it was left, without being
 * loaded, so neither the page's check for a token nor the server is asked: before, Back after "Sign
 * out" showed the courier's page with a customer's address, the board with its cards, the tracking page.
 */
describe('web pages after signing out, with the back-forward cache on', { skip }, () => {
  let p: BrowserPlatform;
  let browser: Browser;
  let r: SeededRestaurant;

  before(async () => {
    p = await startBrowserPlatform();
    browser = await launchChromium({ backForwardCache: true });
    r = await seedRestaurant(p.t, 'Back Button Bistro');
  });
  after(async () => {
    await browser?.close();
    await p?.close();
  });

  /** An order with this address, taken to a courier (its task shows the address); answers its id, the customer's and the courier's tokens. */
  const assignedOrder = async (address: string) => {
    const c = await customer(p.t);
    const placed = await placeOrder(p.t, c.token, { restaurantId: r.rid, deliveryAddress: address, lines: [{ itemId: r.cola, quantity: 1 }] });
    assert.equal(placed.statusCode, 201, placed.body);
    const id = placed.json().id as string;
    const k = await courier(p.t);
    let version = 1;
    for (const [name, body] of [['accept', { etaMinutes: 15 }], ['ready', undefined], ['assign-courier', { courierId: k.id }]] as const) {
      const res = await command(p.t, r.staff, id, name, version, body);
      assert.equal(res.statusCode, 200, res.body);
      version = res.json().version;
    }
    return { id, customerToken: c.token, courierToken: k.token };
  };

  /**
   * A tab signed in with `token` (set on /login, as the sign-in page does: not by an init script, which
   * would set it again at every load) showing `path` once `shown` is on it.
   */
  const signedInTab = async (token: string, path: string, shown: string) => {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${p.base}/login`);
    await page.evaluate(`window.sessionStorage.setItem('brigade.token', ${JSON.stringify(token)})`);
    await page.goto(`${p.base}${path}`);
    await page.locator('main', { hasText: shown }).waitFor(WAIT);
    return page;
  };

  /** Back, then a moment for a page restored from the cache to show itself (or to leave). */
  const back = async (page: Page) => {
    await page.goBack({ waitUntil: 'commit' });
    await new Promise((resolve) => setTimeout(resolve, 1500));
  };

  test('Back after Sign out does not show the page signed out of: the courier page and its address, the board and its cards, the tracking page', async () => {
    const { id, customerToken, courierToken } = await assignedOrder('Rua Secreta 99, 3 Esq, Porto');
    const short = id.slice(-8);
    for (const [token, path, shown] of [
      [courierToken, '/courier', 'Rua Secreta 99'],
      [r.staff, `/board/${r.rid}`, `Order ${short}`],
      [customerToken, `/track/${id}`, `Order ${short}`],
    ] as const) {
      const page = await signedInTab(token, path, shown);
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.waitForURL(/\/login\?next=/, WAIT);
      await back(page);
      assert.equal(new URL(page.url()).pathname, '/login', `${path}: Back stays on sign-in`);
      assert.doesNotMatch(await page.locator('body').innerText(), new RegExp(`Rua Secreta|${short}`), `${path}: nothing of the page signed out of`);
      assert.equal(await page.evaluate(`window.sessionStorage.getItem('brigade.token')`), null);
      await page.context().close();
    }
  });

  test('a page kept in the cache whose tab signed out elsewhere goes to sign-in when Back brings it again', async () => {
    const { id, courierToken } = await assignedOrder('Travessa Escondida 5, Porto');
    // The courier opens their page, then goes on to another page in the same tab and signs out there.
    const page = await signedInTab(courierToken, '/courier', 'Travessa Escondida 5');
    await page.goto(`${p.base}/track/${id}`);
    // A locator, not waitForFunction: a string predicate is evaluated with eval, which the pages' CSP refuses.
    await page.locator('#status').filter({ hasNotText: 'Loading…' }).waitFor(WAIT);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/login\?next=/, WAIT);
    await back(page);
    await page.waitForURL(/\/login\?next=%2Fcourier/, WAIT);
    assert.doesNotMatch(await page.locator('body').innerText(), /Travessa Escondida/);
    await page.context().close();
  });
});
