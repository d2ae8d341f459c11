import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { after, before } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { command, courier, customer, placeOrder, seedRestaurant, type SeededRestaurant } from '../services/ordering/support.ts';
import { FLOW_MS } from '../support/eventually.ts';
import { launchChromium, SCREENSHOTS, signedInPage, startBrowserPlatform, type BrowserPlatform } from './browser.ts';

/**
 * What the pages show comes through the projectors, which read only below the cluster's oldest running
 * transaction: other test files' open transactions can hold them back, so waits get the flows' bound.
 */
export const WAIT = { timeout: FLOW_MS };
/** How the pages name an order for people: the last 8 characters of its id. */
export const short = (id: string) => id.slice(-8);
/** A 503 as the platform answers one, for a read the test fails on purpose. */
export const unavailable = { status: 503, contentType: 'application/problem+json', body: JSON.stringify({ status: 503, code: 'DATABASE_UNAVAILABLE', detail: 'The database is not answering; try again shortly.' }) };
/**
 * A short-lived token's lifetime: long enough for the page to load and draw its first read on a
 * loaded CI machine before it expires (5–6 s was not: the first read was refused and nothing drawn).
 */
export const TOKEN_LIFETIME_S = 15;

/** A platform, a browser and a seeded restaurant for one file of page tests, with what its tests share. */
export interface PagesFixture {
  readonly p: BrowserPlatform;
  readonly browser: Browser;
  readonly r: SeededRestaurant;
  /** Places an order of the restaurant as a new customer. */
  order(): Promise<{ id: string; customer: Awaited<ReturnType<typeof customer>> }>;
  /** The card of `orderId` in the board's column of `status`. */
  card(page: Page, status: string, orderId: string): ReturnType<Page['locator']>;
  /** The restaurant's board, live and drawn. */
  openBoard(): ReturnType<typeof signedInPage>;
  /** The courier page of the courier of `token`, once its first read is drawn. */
  openCourierPage(token: string): ReturnType<typeof signedInPage>;
  /** Every request of the page went to the platform itself. */
  onlyPlatform(requested: string[]): void;
  /** A token of `role` that the platform refuses after `seconds` (401 TOKEN_EXPIRED). */
  shortLived(role: 'staff' | 'courier', seconds: number, options: { subject: string; restaurantId?: string }): Promise<string>;
  /** Accepts, readies (unless `stop` is 'accepted') and assigns an order to courier `courierId`, through the API. */
  assignTo(id: string, courierId: string, stop?: 'accepted' | 'ready'): Promise<number>;
  /** A courier of Porto, available for deliveries. */
  availableCourier(): Promise<Awaited<ReturnType<typeof courier>>>;
}

/**
 * Registers the file's `before` (a platform, Chromium, a restaurant named `restaurantName`) and `after`;
 * `p`, `browser` and `r` may be read once `before` has run, that is inside tests and later hooks.
 */
export function pagesFixture(restaurantName: string): PagesFixture {
  let started: { p: BrowserPlatform; browser: Browser; r: SeededRestaurant } | undefined;
  const get = () => {
    assert.ok(started, 'the pages fixture is read before its before hook ran');
    return started;
  };
  before(async () => {
    await mkdir(SCREENSHOTS, { recursive: true });
    const p = await startBrowserPlatform();
    const browser = await launchChromium();
    started = { p, browser, r: await seedRestaurant(p.t, restaurantName) };
  });
  after(async () => {
    await started?.browser.close();
    await started?.p.close();
  });
  const fixture: PagesFixture = {
    get p() {
      return get().p;
    },
    get browser() {
      return get().browser;
    },
    get r() {
      return get().r;
    },
    async order() {
      const { p, r } = get();
      const c = await customer(p.t);
      const placed = await placeOrder(p.t, c.token, { restaurantId: r.rid, deliveryAddress: 'Rua das Flores 1, Porto', lines: [{ itemId: r.pizza, quantity: 2, modifierIds: [r.large] }, { itemId: r.cola, quantity: 1 }] });
      assert.equal(placed.statusCode, 201, placed.body);
      return { id: placed.json().id as string, customer: c };
    },
    card: (page, status, orderId) => page.locator(`section[data-status="${status}"] li.card[data-order="${orderId}"]`),
    async openBoard() {
      const { p, browser, r } = get();
      const opened = await signedInPage(browser, r.staff);
      await opened.page.goto(`${p.base}/board/${r.rid}`);
      await opened.page.locator('#stream-status', { hasText: 'Live' }).waitFor(WAIT);
      await opened.page.locator('body[data-loaded="true"]').waitFor(WAIT);
      return opened;
    },
    async openCourierPage(token) {
      const { p, browser } = get();
      const opened = await signedInPage(browser, token);
      await opened.page.goto(`${p.base}/courier`);
      await opened.page.locator('body[data-loaded="true"]').waitFor(WAIT);
      return opened;
    },
    onlyPlatform(requested) {
      const { p } = get();
      assert.ok(requested.length > 0);
      for (const url of requested) assert.ok(url.startsWith(`${p.base}/`), `the page requested ${url}, outside the platform`);
    },
    shortLived: (role, seconds, options) => get().p.t.platform.deps.tokens.sign({ role, ...options }, seconds),
    async assignTo(id, courierId, stop = 'ready') {
      const { p, r } = get();
      let version = 1;
      const steps = stop === 'ready' ? (['accept', 'ready', 'assign-courier'] as const) : (['accept', 'assign-courier'] as const);
      for (const name of steps) {
        const res = await command(p.t, r.staff, id, name, version, name === 'accept' ? { etaMinutes: 15 } : name === 'assign-courier' ? { courierId } : undefined);
        assert.equal(res.statusCode, 200, res.body);
        version = res.json().version;
      }
      return version;
    },
    async availableCourier() {
      const { p } = get();
      const k = await courier(p.t);
      const on = await p.t.request({ method: 'POST', url: '/v1/couriers/me/availability', token: k.token, payload: { available: true } });
      assert.equal(on.statusCode, 200, on.body);
      return k;
    },
  };
  return fixture;
}
