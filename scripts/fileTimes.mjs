// @ts-check
/**
 * A node:test reporter for `scripts/test.ts`: at the end of the run, prints the test files that took
 * longest, as the sum of their top-level tests' durations (a file's start-up, its compile and its
 * database clone, is not counted), so that the CI log's tail says where the suite's time goes. Plain
 * JavaScript: the runner's process runs no TypeScript (it runs the compiled test files).
 */
import path from 'node:path';

/** How many of the longest files the closing table names. */
const SHOWN = 12;

/**
 * @param {AsyncIterable<import('node:test/reporters').TestEvent>} source
 * @returns {AsyncGenerator<string>}
 */
export default async function* fileTimes(source) {
  /** @type {Map<string, number>} */
  const ms = new Map();
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const { file, nesting, details } = event.data;
    if (file === undefined || nesting !== 0) continue;
    ms.set(file, (ms.get(file) ?? 0) + details.duration_ms);
  }
  if (ms.size === 0) return;
  const total = [...ms.values()].reduce((a, b) => a + b, 0);
  yield `\nlongest test files (seconds of their top-level tests; all ${ms.size} files: ${(total / 1000).toFixed(0)} s):\n`;
  for (const [file, t] of [...ms].sort((a, b) => b[1] - a[1]).slice(0, SHOWN)) yield `${(t / 1000).toFixed(0).padStart(6)}  ${sourceOf(file)}\n`;
}

/**
 * The test file's source, relative to the checkout: the runner runs the compiled mirror's `.js`
 * (`BRIGADE_TEST_MIRROR`, scripts/compileForTests.ts), whose layout is the checkout's.
 * @param {string} file
 */
function sourceOf(file) {
  const mirror = process.env.BRIGADE_TEST_MIRROR;
  if (mirror !== undefined && file.startsWith(mirror + path.sep)) return path.relative(mirror, file).replace(/\.js$/, '.ts');
  return path.relative(process.cwd(), file);
}
