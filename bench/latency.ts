/** `waits` (ms) as `mean M ms, p50 A, p90 B, p99 C, max D ms`, each to 0.1 ms. */
export function describeWaits(waits: readonly number[]): string {
  const sorted = [...waits].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!.toFixed(1);
  const mean = (waits.reduce((a, b) => a + b, 0) / waits.length).toFixed(1);
  return `mean ${mean} ms, p50 ${at(50)}, p90 ${at(90)}, p99 ${at(99)}, max ${sorted.at(-1)!.toFixed(1)} ms`;
}
