import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { FLOW_MS } from '../support/eventually.ts';
import { startTestPlatform, type TestPlatform } from '../support/platform.ts';
import { launchChromium, requireChromium } from './browser.ts';

const { skip } = await requireChromium();

/**
 * Swagger UI at /docs under its content security policy (`DOCS_SECURITY_HEADERS`), in headless
 * Chromium: it renders every operation with its problem answers, takes a token in its Authorize box
 * and sends it with "Try it out", and the browser reports no violation of the policy, no script
 * error and no failed request.
 */
describe('the API docs page in headless Chromium', { skip }, () => {
  let t: TestPlatform;
  let server: http.Server;
  let base: string;
  let browser: Browser;

  before(async () => {
    t = await startTestPlatform();
    server = http.createServer((req, res) => t.platform.app.routing(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
    await t?.close();
  });

  test('renders under its policy, and Try it out sends the token the Authorize box took', async () => {
    const page = await (await browser.newContext()).newPage();
    // Swagger UI draws some hundred operations from a 1 MB bundle: on a loaded CI machine (4 test files at
    // once, two of them browsers) that took longer than Playwright's 30 s default.
    page.setDefaultTimeout(FLOW_MS);
    const complaints: string[] = [];
    const requested: Array<{ url: string; authorization: string | undefined }> = [];
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') complaints.push(`console.${message.type()}: ${message.text()}`);
    });
    page.on('pageerror', (error) => complaints.push(`pageerror: ${error.message}`));
    page.on('request', (request) => requested.push({ url: request.url(), authorization: request.headers().authorization }));
    page.on('response', (response) => {
      if (response.status() >= 400) complaints.push(`${response.status()} ${response.url()}`);
    });

    const opened = await page.goto(`${base}/docs/`);
    assert.match((await opened?.allHeaders())?.['content-security-policy'] ?? '', /frame-ancestors 'none'/);
    await page
      .locator('.opblock')
      .first()
      .waitFor()
      .catch((error: Error) => {
        throw new Error(`Swagger UI drew no operation: ${error.message}\ncomplaints: ${complaints.join('; ') || 'none'}\nrequested: ${requested.map((r) => r.url).join(' ')}`);
      });
    const documented = (await t.request({ url: '/docs/json' })).json() as { paths: Record<string, Record<string, unknown>> };
    const operations = Object.values(documented.paths).reduce((n, ops) => n + Object.keys(ops).length, 0);
    assert.equal(await page.locator('.opblock').count(), operations, 'every operation is drawn');

    // An operation's answers: its 201 and its problems, with the shared schema.
    const place = page.locator('.opblock').filter({ has: page.locator('.opblock-summary-path[data-path="/v1/orders"]') });
    await place.locator('.opblock-summary').click();
    const codes = await place.locator('.responses-table .response-col_status').allInnerTexts();
    for (const code of ['200', '201', '400', '401', '409', '422']) assert.ok(codes.includes(code), `POST /v1/orders shows ${code}: ${codes.join(' ')}`);
    assert.ok((await place.locator('.responses-table').first().innerText()).includes('application/problem+json'));

    // The Authorize box, then Try it out with the token it took.
    const token = await t.token('customer', { subject: randomUUID() });
    await page.locator('button.authorize').first().click();
    await page.locator('.auth-container input').first().fill(token);
    await page.locator('.auth-btn-wrapper button.authorize').first().click();
    await page.locator('button.close-modal').first().click();
    const orders = page.locator('.opblock').filter({ has: page.locator('.opblock-summary-path[data-path="/v1/customers/me/orders"]') });
    await orders.locator('.opblock-summary').click();
    await orders.locator('.try-out__btn').click();
    await orders.locator('button.execute').click();
    await orders.locator('.live-responses-table .response-col_status', { hasText: '200' }).first().waitFor();
    const call = requested.find((r) => r.url === `${base}/v1/customers/me/orders`);
    assert.equal(call?.authorization, `Bearer ${token}`);

    for (const { url } of requested) assert.ok(url.startsWith(`${base}/`), `the page requested ${url}, outside the platform`);
    assert.deepEqual(complaints, []);
  });
});
