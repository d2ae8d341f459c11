// @ts-check
/**
 * A node:test reporter for `scripts/test.ts`: at the end of the run, prints the test files that took
 * longest, as the sum of their top-level tests' durations (a file's start-up, its compile and its
 * database clone, is not counted), so that the CI log's tail says where the suite's time goes. Plain
 * JavaScript: node loads reporters before the `--import tsx` hooks that would compile TypeScript.
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
  for (const [file, t] of [...ms].sort((a, b) => b[1] - a[1]).slice(0, SHOWN)) yield `${(t / 1000).toFixed(0).padStart(6)}  ${path.relative(process.cwd(), file)}\n`;
}
