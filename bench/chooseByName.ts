/**
 * The systems, modes or kinds a benchmark run asked for by name, in the benchmark's own order.
 * Nothing asked for means all of them. A name the benchmark does not know fails at once, listing the
 * names it does know: before this, a mistyped or renamed one was dropped without a word, and the run
 * went on for minutes without it (the event-store benchmark then failed at its replay with no Brigade
 * mode left).
 *
 * @param what  what the names stand for, for the message (e.g. `BENCH_MODES`, `systems`)
 * @param asked the names given (empty: all)
 * @param known every name the benchmark runs, in its order
 * @example
 * const modes = chooseByName('BENCH_MODES', process.env.BENCH_MODES?.split('|') ?? [], allModes);
 */
export function chooseByName<T extends string>(what: string, asked: readonly string[], known: readonly T[]): T[] {
  if (asked.length === 0) return [...known];
  const unknown = asked.filter((name) => !(known as readonly string[]).includes(name));
  if (unknown.length > 0) {
    const quoted = (names: readonly string[]) => names.map((name) => `'${name}'`).join(', ');
    throw new Error(`${what}: no ${unknown.length === 1 ? 'such name' : 'such names'} ${quoted(unknown)}; choose from ${quoted(known)}`);
  }
  return known.filter((name) => asked.includes(name));
}
