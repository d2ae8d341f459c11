/**
 * Which of the event-store benchmark's results issue 5's goals are judged on, and how a verdict reads.
 *
 * Issue 5: "Above it sit the metadata, the outbox and the projections; the goals hold with all of them
 * in place." So a goal verdict ("met" / "not met") is printed only for the modes that run everything
 * the product runs on a write (metadata, the outbox row, the relay, the three order-view projectors: in
 * process, or in a `brigade worker` of their own), with the product's settings and issue 5's 16 writers.
 * Every other mode, and every mode of a run that changes the relay, the committer or the projectors
 * through an environment override, prints its ratios "for reference", saying why.
 */

/** Every Brigade mode of the event-store benchmark, in the order it runs them by default. */
export const BRIGADE_MODES = [
  'appendAndCommit, no outbox',
  'append in unitOfWork',
  'appendAndCommit',
  'appendAndCommit, unmerged',
  'appendAndCommit + projectors',
  'appendAndCommit + projector worker',
  'order commands',
] as const;

/** One of {@link BRIGADE_MODES}. */
export type BrigadeMode = (typeof BRIGADE_MODES)[number];

/** The modes with metadata, outbox, relay and projectors all in place: the ones issue 5's goals are judged on. */
export const JUDGED_MODES: readonly string[] = Object.freeze(['appendAndCommit + projectors', 'appendAndCommit + projector worker']);

/** Issue 5's writer count. */
export const GOAL_WRITERS = 16;

/**
 * Overrides that make Brigade run otherwise than the product does (or measure it otherwise), with what
 * each changes. BENCH_SECONDS, BENCH_ROUNDS, BENCH_WARMUP_SECONDS, BENCH_MODES and BENCH_PEERS_DIR only
 * choose how long and what to run; BENCH_CLIENTS is judged apart (issue 5's 16 writers).
 */
const SETTING_OVERRIDES: Readonly<Record<string, string>> = Object.freeze({
  BENCH_NO_RELAY: 'the relay is off (the outbox rows pile up)',
  BENCH_BUSY_POLL_MS: "the relay's poll step is not the platform's",
  BENCH_IN_FLIGHT: "the group-commit batches in flight are not the platform's",
  BENCH_PROJECTOR_IDLE_MS: "the projectors' idle step is not the platform's",
  BENCH_PROJECTOR_BATCH: "the projectors' batch size is not the platform's",
  BENCH_PROJECTOR_TURNS: "the projectors' turns are not the platform's",
  BENCH_WORKER_NODE_ARGS: 'the worker process runs with extra node flags',
  BENCH_WORKER_NICE: 'the worker process is niced',
});

/** Every `BENCH_*` variable set in `env`, as `NAME=value`, sorted: what the run's header prints. */
export function benchOverrides(env: NodeJS.ProcessEnv): string[] {
  return Object.keys(env)
    .filter((name) => name.startsWith('BENCH_') && env[name] !== undefined)
    .sort()
    .map((name) => `${name}=${env[name]}`);
}

/** Why this run's figures cannot be judged against the goals at all (empty: they can), from its environment and writer count. */
export function runWithheld(env: NodeJS.ProcessEnv, writers: number): string[] {
  const reasons = Object.entries(SETTING_OVERRIDES)
    .filter(([name]) => env[name] !== undefined)
    .map(([name, what]) => `${name}: ${what}`);
  if (writers !== GOAL_WRITERS) reasons.push(`BENCH_CLIENTS: ${writers} writers, not issue 5's ${GOAL_WRITERS}`);
  return reasons;
}

/** Why mode `mode` gets no goal verdict in this run (empty: it gets one). */
export function verdictWithheld(mode: string, env: NodeJS.ProcessEnv, writers: number): string[] {
  const reasons = JUDGED_MODES.includes(mode) ? [] : ['not all of the outbox, the relay and the projectors run in it'];
  return [...reasons, ...runWithheld(env, writers)];
}

/**
 * A ratio, and its goal's verdict when `judged`: `2.06x Emmett's appends/s [rounds 1.97, 2.10] (goal >= 2: met)`.
 * Two decimals, or three where two would round onto the bound (a p99 ratio of 0.5014 is not "0.50": it misses <= 0.5).
 */
export function ratioWithGoal(x: number, what: string, rounds: string, op: '>=' | '<=', bound: number, judged: boolean): string {
  const shown = x.toFixed(2) === bound.toFixed(2) ? x.toFixed(3) : x.toFixed(2);
  const ratio = `${shown}x ${what} [rounds ${rounds}]`;
  if (!judged) return ratio;
  const met = op === '>=' ? x >= bound : x <= bound;
  return `${ratio} (goal ${op} ${bound}: ${met ? 'met' : 'not met'})`;
}
