import assert from 'node:assert/strict';
import { access } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import Fastify from 'fastify';
import pg from 'pg';
import { chromium, type Browser, type Page } from 'playwright-core';
import { errorHandler } from '../../src/api/index.ts';
import { pagesPlugin } from '../../src/api/pages.ts';
import { runProjection, type RowProjection } from '../../src/platform/projections/index.ts';
import { ORDER_VIEWS } from '../../src/services/ordering/views/index.ts';
import { startTestPlatform, type TestPlatform } from '../support/platform.ts';
import { testEnv } from '../support/env.ts';

/** Debian's chromium, installed by `.ci/run`. */
export const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
/** Where the tests save a screenshot of each page. */
export const SCREENSHOTS = path.resolve(import.meta.dirname, '..', '..', 'docs', 'screenshots');

/**
 * Whether Chromium is installed: locally a missing one skips the browser tests with the reason; in
 * CI it fails them, because nothing may be skipped there (as `requireService`).
 */
export async function requireChromium(): Promise<{ skip: string | false }> {
  try {
    await access(CHROMIUM);
    return { skip: false };
  } catch {
    const reason = `${CHROMIUM} is missing; install Debian's chromium (apt-get install chromium) to run the browser tests`;
    if (testEnv.ci) throw new Error(`${reason} (CI is set, so this fails instead of skipping)`);
    return { skip: reason };
  }
}

/**
 * Headless Chromium driven by playwright-core. Playwright turns the back-forward cache off;
 * `backForwardCache` keeps it on, as in a browser people use (a page left is kept, and Back shows it
 * again as it was, without loading it).
 */
export function launchChromium({ backForwardCache = false }: { backForwardCache?: boolean } = {}): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS, ...(backForwardCache ? { ignoreDefaultArgs: ['--disable-back-forward-cache'] } : {}) });
}

/** A page of its own (its own sessionStorage) signed in with `token`, recording every URL it requests. */
export async function signedInPage(browser: Browser, token: string | null): Promise<{ page: Page; requested: string[]; errors: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const requested: string[] = [];
  const errors: string[] = [];
  page.on('request', (request) => requested.push(request.url()));
  page.on('pageerror', (error) => errors.push(error.message));
  if (token !== null) await page.addInitScript(`window.sessionStorage.setItem('brigade.token', ${JSON.stringify(token)});`);
  return { page, requested, errors };
}

/**
 * Asserts that the page asks the API nothing more (a courier's poll would be due every 5 s): `requested`
 * (from {@link signedInPage}) gains no `/v1/` URL in the `ms` after a moment for what was on its way.
 */
export async function assertStopsAsking(page: Page, requested: string[], ms = 6000): Promise<void> {
  await page.waitForTimeout(500);
  const asked = requested.length;
  await page.waitForTimeout(ms);
  assert.deepEqual(requested.slice(asked).filter((url) => url.includes('/v1/')), [], 'the page stopped polling');
}

/**
 * Waits until `expression`, evaluated in the page, is true (polled every 50 ms), or `timeout` ms pass;
 * answers whether it became true. Playwright's `waitForFunction` evaluates a string predicate with
 * `eval`, which the pages' Content Security Policy refuses (no 'unsafe-eval'); `page.evaluate` goes
 * through the debugger protocol, which the policy does not govern.
 */
export async function waitForExpression(page: Page, expression: string, timeout: number): Promise<boolean> {
  const until = Date.now() + timeout;
  for (;;) {
    if ((await page.evaluate(expression)) === true) return true;
    if (Date.now() >= until) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The order projections, each stoppable on its own (to make a view lag on purpose). */
export interface Projector {
  /** Stops one projection (its current batch finishes). */
  pause(projection: RowProjection): Promise<void>;
  /** Starts it again. */
  resume(projection: RowProjection): void;
  close(): Promise<void>;
}

function startProjector(url: string): Projector {
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  const running = new Map<RowProjection, { stop: AbortController; done: Promise<void> }>();
  const start = (projection: RowProjection) => {
    const stop = new AbortController();
    running.set(projection, { stop, done: runProjection(pool, projection, { idleMs: 10, lockRetryMs: 20 }).run(stop.signal) });
  };
  const pause = async (projection: RowProjection) => {
    const run = running.get(projection);
    if (run === undefined) return;
    running.delete(projection);
    run.stop.abort();
    await run.done;
  };
  for (const projection of ORDER_VIEWS.all) start(projection);
  return {
    pause,
    resume: start,
    close: async () => {
      for (const projection of [...running.keys()]) await pause(projection);
      await pool.end();
    },
  };
}

/** Paths the pages plugin answers (everything else is the API), and those of the development login. */
const PAGE_PATH = /^\/(?:$|\?|login|dev-login|dev\/|board\/|courier(?:$|[/?])|track\/|web\/)/;
const DEV_PATH = /^\/(?:dev-login|dev\/|web\/dev-login\.js)/;

/** The platform listening on a local port for the browser, with its pages and running projections. */
export interface BrowserPlatform {
  readonly t: TestPlatform;
  readonly base: string;
  readonly projector: Projector;
  close(): Promise<void>;
}

/**
 * Starts the whole platform on its own database, listening on 127.0.0.1, with the order projections
 * running. Requests go to the platform's app (`app.routing`, its own request handler), except what it
 * does not serve yet: the pages while `pagesPlugin` is not registered in buildApp, and the development
 * login (the test platform is not embedded, so it has none), which go to an app holding only
 * `pagesPlugin` with `devLogin`. One origin, as in production.
 */
export async function startBrowserPlatform(): Promise<BrowserPlatform> {
  const t = await startTestPlatform();
  const projector = startProjector(t.db.url);
  const app = t.platform.app;
  const hasPages = app.hasRoute({ method: 'GET', url: '/board/:rid' });
  const hasDevLogin = app.hasRoute({ method: 'GET', url: '/dev-login' });
  const front = Fastify({ logger: false });
  front.setErrorHandler(errorHandler);
  await front.register(pagesPlugin, { devLogin: true, mintToken: (request) => t.platform.deps.tokens.sign(request) });
  await front.ready();
  const toFront = (url: string) => (DEV_PATH.test(url) ? !hasDevLogin : !hasPages && PAGE_PATH.test(url));
  const server = http.createServer((req, res) => (toFront(req.url ?? '/') ? front.routing(req, res) : app.routing(req, res)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    t,
    base,
    projector,
    close: async () => {
      await projector.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await front.close();
      await t.close();
    },
  };
}
