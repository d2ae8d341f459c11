/**
 * The systems of a benchmark in the order round `round` (1-based) runs them: the list rotated left by
 * `round - 1`, so no system always runs first (right after the set-up: `pgbench -i`, the migrations, a
 * fresh database's first checkpoint) or last, and PostgreSQL's checkpoints and the broker's
 * housekeeping fall on each alike over the rounds.
 *
 * @example
 * for (let round = 1; round <= ROUNDS; round++) for (const system of inTurns(systems, round)) await measure(system);
 */
export function inTurns<T>(items: readonly T[], round: number): T[] {
  if (items.length === 0) return [];
  const shift = (((round - 1) % items.length) + items.length) % items.length;
  return [...items.slice(shift), ...items.slice(0, shift)];
}
