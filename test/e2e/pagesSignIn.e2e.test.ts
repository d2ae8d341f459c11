import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { Browser, Page, Route } from 'playwright-core';
import { command, courier, customer, placeOrder, seedRestaurant, type SeededRestaurant } from '../services/ordering/support.ts';
import { eventually } from '../support/eventually.ts';
import { assertStopsAsking, requireChromium, signedInPage, type BrowserPlatform } from './browser.ts';
import { pagesFixture, short, WAIT } from './pagesFixture.ts';

const { skip } = await requireChromium();
/** For what the page does on its own within a read or two (no projection in between). */
const SOON = { timeout: 30_000 };

/**
 * Sign-in and the ways back to it: a customer's e-mail and password on /login, what sign-in says to an
 * admin and to the development login's staff without a restaurant, and the pages that stop at a token
 * that cannot read them (the board, tracking) or at a route this server does not serve (the board's
 * couriers), each with the next step.
 */
describe('web pages in headless Chromium: sign-in, and where a page that cannot go on sends you', { skip }, () => {
  const f = pagesFixture('Sign-in Pizzeria');
  const { order, card } = f;
  let p: BrowserPlatform;
  let browser: Browser;
  let r: SeededRestaurant;
  before(() => ({ p, browser, r } = f));

  /** A customer signed up with `password` (a real one: the password sign-in reads them), and an order of theirs. */
  const customerWithPassword = async (password: string) => {
    const email = `ana-${randomUUID()}@example.com`;
    const made = await p.t.request({ method: 'POST', url: '/v1/customers', payload: { name: 'Ana', email, address: 'Rua das Flores 1, Porto', password } });
    assert.equal(made.statusCode, 201, made.body);
    const token = made.json().token as string;
    const placed = await placeOrder(p.t, token, { restaurantId: r.rid, deliveryAddress: 'Rua das Flores 1, Porto', lines: [{ itemId: r.cola, quantity: 1 }] });
    assert.equal(placed.statusCode, 201, placed.body);
    return { id: made.json().id as string, email, token, orderId: placed.json().id as string };
  };
  /** The subject of the token this tab holds. */
  const tabSubject = async (page: Page) => page.evaluate(`JSON.parse(atob(window.sessionStorage.getItem('brigade.token').split('.')[1].replace(/-/g, '+').replace(/_/g, '/'))).sub`);

  test("a customer whose token a password change revoked follows the tracking page's link, signs in with e-mail and password, and is back on the order; a wrong password is said and its field marked (before: /login took only a pasted token)", async () => {
    const password = 'correct horse battery staple';
    const c = await customerWithPassword(password);
    // The password changed (on another device): every token given before is refused.
    const changed = await p.t.request({ method: 'PUT', url: '/v1/customers/me/password', token: c.token, payload: { password: `${password} 2`, currentPassword: password } });
    assert.equal(changed.statusCode, 200, changed.body);
    // The old token set once, as sign-in sets it (signedInPage's init script would set it again on every load).
    const { page, requested, errors } = await signedInPage(browser, null);
    await page.goto(`${p.base}/login`);
    await page.evaluate(`window.sessionStorage.setItem('brigade.token', ${JSON.stringify(c.token)})`);
    await page.goto(`${p.base}/track/${c.orderId}`);
    const again = page.locator('#message.error').getByRole('link', { name: 'Sign in again' });
    await again.waitFor(SOON);
    const said = await page.locator('#message').innerText();
    // The reason in words a customer can act on: no route of the API in it.
    assert.doesNotMatch(said, /\/v1\/|POST/);
    assert.match(said, /sign in again with that password/);
    await again.click();
    await page.waitForURL(`${p.base}/login?next=${encodeURIComponent(`/track/${c.orderId}`)}`, WAIT);

    const email = page.getByLabel('E-mail address');
    const secret = page.getByLabel('Password', { exact: true });
    assert.equal(await email.getAttribute('autocomplete'), 'email');
    assert.equal(await secret.getAttribute('autocomplete'), 'current-password');
    assert.equal(await secret.getAttribute('type'), 'password');
    const submit = page.getByRole('button', { name: 'Sign in with e-mail and password' });
    await email.fill(c.email);
    await secret.fill(password);
    await submit.click();
    await page.locator('#message.error', { hasText: 'The e-mail address or the password is not right' }).waitFor(SOON);
    assert.equal(await secret.getAttribute('aria-invalid'), 'true');
    assert.equal(await page.evaluate(`document.activeElement?.id`), 'password', 'focus on the password, to type it again');
    assert.equal(await secret.inputValue(), '', 'the wrong password is not kept in the field');
    assert.equal(new URL(page.url()).pathname, '/login');

    await secret.fill(`${password} 2`);
    await submit.click();
    await page.waitForURL(`${p.base}/track/${c.orderId}`, WAIT);
    await page.locator('#status', { hasText: 'New' }).waitFor(WAIT);
    assert.equal(await tabSubject(page), c.id);
    // The sign-in went out without the refused token (a bearer token sent along is checked, and refused).
    assert.ok(requested.some((url) => url.endsWith('/v1/customers/sign-in')));
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  test('the e-mail sign-in says what is missing before asking, says a 429 as a wait in minutes, and says so where the server has no password sign-in; without next it lists the orders (before: no such form)', async () => {
    const password = 'correct horse battery staple';
    const c = await customerWithPassword(password);
    const { page, requested, errors } = await signedInPage(browser, null);
    await page.goto(`${p.base}/login`);
    const email = page.getByLabel('E-mail address');
    const secret = page.getByLabel('Password', { exact: true });
    const submit = page.getByRole('button', { name: 'Sign in with e-mail and password' });
    await email.fill('not an address');
    await submit.click();
    await page.locator('#message.error', { hasText: 'Enter the e-mail address you signed up with' }).waitFor(SOON);
    assert.equal(await email.getAttribute('aria-invalid'), 'true');
    assert.equal(await page.evaluate(`document.activeElement?.id`), 'email');
    await email.fill(c.email);
    await submit.click();
    await page.locator('#message.error', { hasText: 'Enter your password' }).waitFor(SOON);
    assert.equal(await email.getAttribute('aria-invalid'), null);
    assert.equal(await secret.getAttribute('aria-invalid'), 'true');
    assert.equal(await page.evaluate(`document.activeElement?.id`), 'password');
    assert.deepEqual(requested.filter((url) => url.includes('/v1/')), [], 'nothing asked before the fields are filled');

    // Right: signed in, and the customer's orders listed (no next), once the orders view holds the order.
    await eventually('the order in the customer\'s orders view', () => p.t.request({ url: '/v1/customers/me/orders', token: c.token }), (res) =>
      (res.json().orders as Array<{ orderId: string }>).some((o) => o.orderId === c.orderId));
    await secret.fill(password);
    await submit.click();
    await page.locator('#message.ok', { hasText: 'Signed in. Choose an order to track.' }).waitFor(SOON);
    await page.locator(`#order-links a[href="/track/${c.orderId}"]`).waitFor(SOON);
    assert.equal(await tabSubject(page), c.id);

    // Too many failures for the address (made through the API): the page says how long to wait, in words.
    for (let i = 0; i < 5; i++) assert.equal((await p.t.request({ method: 'POST', url: '/v1/customers/sign-in', payload: { email: c.email, password: 'wrong' } })).statusCode, 401);
    await secret.fill(password);
    await submit.click();
    const tooMany = page.locator('#message.error', { hasText: 'Too many failed sign-ins' });
    await tooMany.waitFor(SOON);
    const waitSaid = await tooMany.innerText();
    assert.match(waitSaid, /Try again in about 1[45] minutes \(at \d/);
    assert.doesNotMatch(waitSaid, /Retry-After/);
    assert.equal(await page.locator('#orders').isHidden(), true, 'the orders of the sign-in before are off the page');

    // A server that does not serve the platform service has no password sign-in.
    await page.route('**/v1/customers/sign-in', (route) =>
      route.fulfill({ status: 404, contentType: 'application/problem+json', body: JSON.stringify({ status: 404, code: 'ROUTE_NOT_FOUND', detail: 'No route POST /v1/customers/sign-in; see /docs for the API.' }) }));
    await submit.click();
    await page.locator('#message.error', { hasText: 'This server does not offer signing in with a password' }).waitFor(SOON);
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  test("signed in with an admin's token, sign-in says where to go next (before: \"Signed in as admin.\" and nothing else)", async () => {
    const { page, errors } = await signedInPage(browser, null);
    await page.goto(`${p.base}/login`);
    await page.getByLabel('Your access token').fill(await p.t.token('admin', { subject: 'ops' }));
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    const said = page.locator('#message.ok', { hasText: 'Signed in as admin.' });
    await said.waitFor(SOON);
    assert.match(await said.innerText(), /\/board\/<restaurant id>.*brigade tenants list.*\/docs/);
    assert.equal(await said.getByRole('link', { name: '/docs' }).getAttribute('href'), '/docs');
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  test('a board opened with a token that cannot read it (a courier, the staff of another restaurant) says why and links to sign-in, and stops (before: the API\'s sentence alone, "restaurant … not found.")', async () => {
    const other = await seedRestaurant(p.t, 'Messages Other Grill');
    const rider = await courier(p.t);
    const board = `/board/${r.rid}`;
    for (const [token, linkText, sentence] of [
      [rider.token, 'sign in with a staff token of this restaurant', /^This needs the role staff or admin; your token is courier\. This board is for the restaurant's staff: sign in with a staff token of this restaurant\.$/],
      [other.staff, "Sign in with this restaurant's staff token", /^Your token is not for this restaurant \(or there is no restaurant [0-9a-f-]{36}\)\. Sign in with this restaurant's staff token\.$/],
    ] as const) {
      const { page, requested, errors } = await signedInPage(browser, token);
      const pauses: string[] = [];
      page.on('request', (request) => {
        if (new URL(request.url()).pathname.endsWith('/order-pause')) pauses.push(request.method());
      });
      await page.goto(`${p.base}${board}`);
      const link = page.locator('#message.error').getByRole('link', { name: linkText });
      await link.waitFor(SOON);
      assert.equal(await link.getAttribute('href'), `/login?next=${encodeURIComponent(board)}`);
      assert.match(await page.locator('#message').innerText(), sentence);
      assert.equal(await page.locator('#stream-status').innerText(), 'Not connected');
      // The pause control is off too, as the cards are (before: an enabled Pause that sent a PUT the API refused).
      for (const control of ['#pause-reason', '#pause-for', '#pause-orders', '#resume-orders']) {
        assert.equal(await page.locator(control).isDisabled(), true, `${control} is disabled`);
      }
      await page.locator('#pause-orders').click({ force: true });
      await assertStopsAsking(page, requested, 2000);
      assert.deepEqual(pauses, [], 'no pause was sent');
      assert.deepEqual(errors, []);
      await page.context().close();
    }
  });

  test("a tracking link opened with a token that cannot read the order (another customer's, a courier's) says so and links to sign-in as the customer who placed it (before: \"order … not found.\", nothing more)", async () => {
    const { id } = await order();
    const stranger = await customer(p.t);
    const rider = await courier(p.t);
    const track = `/track/${id}`;
    for (const token of [stranger.token, rider.token]) {
      const { page, errors } = await signedInPage(browser, token);
      await page.goto(`${p.base}${track}`);
      const link = page.locator('#message.error').getByRole('link', { name: 'Sign in as the customer who placed it' });
      await link.waitFor(SOON);
      assert.equal(await link.getAttribute('href'), `/login?next=${encodeURIComponent(track)}`);
      const said = await page.locator('#message').innerText();
      assert.match(said, new RegExp(`[Oo]rder ${short(id)}.* Sign in as the customer who placed it\\.$`));
      assert.doesNotMatch(said, new RegExp(id), 'the order named as everywhere on the pages');
      assert.equal(await page.locator('#status').innerText(), 'Unknown');
      assert.deepEqual(errors, []);
      await page.context().close();
    }
  });

  test('a board whose server does not serve delivery says couriers cannot be assigned here, and stops asking for them (before: its route-not-found sentence, read again every 15 s for ever)', async () => {
    const { page, requested, errors } = await signedInPage(browser, r.staff);
    const noRoute = (route: Route) =>
      route.fulfill({ status: 404, contentType: 'application/problem+json', body: JSON.stringify({ status: 404, code: 'ROUTE_NOT_FOUND', detail: `No route GET /v1/restaurants/${r.rid}/couriers; see /docs for the API.` }) });
    await page.route(`**/v1/restaurants/${r.rid}/couriers`, noRoute);
    /** An order accepted and ready, with no courier: its card has a courier picker. */
    const readyOrder = async () => {
      const { id } = await order();
      let version = 1;
      for (const [name, body] of [['accept', { etaMinutes: 15 }], ['ready', undefined]] as const) {
        const res = await command(p.t, r.staff, id, name, version, body);
        assert.equal(res.statusCode, 200, res.body);
        version = res.json().version;
      }
      return id;
    };
    const id = await readyOrder();
    await page.goto(`${p.base}/board/${r.rid}`);
    const picker = card(page, 'ready', id).locator('.picker');
    await picker.locator('text=Couriers cannot be assigned on this server').waitFor(WAIT);
    assert.doesNotMatch(await picker.innerText(), /tries again|No route/);
    const asked = () => requested.filter((url) => url.includes('/couriers')).length;
    assert.equal(asked(), 1);
    // A new card that needs a courier read the list at once before; now nothing is asked.
    const second = await readyOrder();
    await card(page, 'ready', second).locator('text=Couriers cannot be assigned on this server').waitFor(WAIT);
    await page.waitForTimeout(1000);
    assert.equal(asked(), 1, 'the couriers were not asked for again');
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  test("the development login with Staff and no restaurant id sends none, says the route's own words, and marks and focuses the field (before: \"body.restaurantId must match format uuid\")", async () => {
    const { page, errors } = await signedInPage(browser, null);
    const sent: unknown[] = [];
    page.on('request', (request) => {
      if (request.url().endsWith('/dev/tokens')) sent.push(request.postDataJSON());
    });
    await page.goto(`${p.base}/dev-login`);
    await page.getByLabel('Role').selectOption('staff');
    await page.getByRole('button', { name: 'Get a token and sign in' }).click();
    await page.locator('#message.error', { hasText: 'A staff token needs the restaurant id' }).waitFor(SOON);
    assert.doesNotMatch(await page.locator('#message').innerText(), /uuid|format/);
    assert.deepEqual(sent, [{ role: 'staff' }]);
    const field = page.getByLabel(/Restaurant id/);
    assert.equal(await field.getAttribute('aria-invalid'), 'true');
    assert.equal(await page.evaluate(`document.activeElement?.id`), 'restaurant');
    await field.fill(r.rid);
    await page.getByRole('button', { name: 'Get a token and sign in' }).click();
    await page.waitForURL(`${p.base}/board/${r.rid}`, WAIT);
    assert.deepEqual(errors, []);
    await page.context().close();
  });
});
